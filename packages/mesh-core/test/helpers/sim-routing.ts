// Routers on a simulated network, with a loop checker over the whole network's next hops.
import { Router, type RouterOptions } from '../../src/routing/index.js';
import { SimClock } from './sim-clock.js';
import { fakeNodeId } from './sim-identities.js';
import { SimNetwork, type SimNetworkOptions } from './sim-network.js';

export const APP_KIND = 0x40;

export interface Delivery {
  from: string;
  kind: number;
  body: Uint8Array;
}

export interface RoutingSim {
  clock: SimClock;
  net: SimNetwork;
  ids: string[];
  routers: Map<string, Router>;
  inbox: Map<string, Delivery[]>;
  router(i: number | string): Router;
  /** Replace a node's router with a fresh one (a restart). */
  restart(i: number | string): void;
}

export function routingSim(n: number, opts: { net?: SimNetworkOptions; router?: Partial<RouterOptions>; set?: string } = {}): RoutingSim {
  const clock = new SimClock();
  const net = new SimNetwork(clock, opts.net);
  const ids = Array.from({ length: n }, (_, i) => fakeNodeId(i, opts.set ?? 'route'));
  const routers = new Map<string, Router>();
  const inbox = new Map<string, Delivery[]>();
  const make = (id: string) => {
    const r = new Router({ link: net.link(id), identity: { nodeId: id }, clock, ...opts.router });
    r.onDeliver(APP_KIND, (from, body) => inbox.get(id)?.push({ from, kind: APP_KIND, body }));
    r.start();
    routers.set(id, r);
  };
  for (const id of ids) {
    net.addNode(id);
    inbox.set(id, []);
    make(id);
  }
  const key = (i: number | string) => (typeof i === 'number' ? (ids[i] as string) : i);
  return {
    clock,
    net,
    ids,
    routers,
    inbox,
    router: (i) => routers.get(key(i)) as Router,
    restart(i) {
      routers.get(key(i))?.stop();
      make(key(i));
    },
  };
}

/**
 * Follow next hops from every node towards every destination; returns the first loop found
 * (as the list of nodes on it) or undefined. Also checks that no route claims more than
 * `maxHops` hops.
 */
export function findLoop(sim: RoutingSim, maxHops = 32): string[] | undefined {
  const next = new Map<string, Map<string, { nextHop: string; hops: number }>>();
  for (const [id, r] of sim.routers) {
    const m = new Map<string, { nextHop: string; hops: number }>();
    for (const route of r.routes()) {
      if (route.hops > maxHops) return [id, route.target, `hops=${route.hops}`];
      m.set(route.target, route);
    }
    next.set(id, m);
  }
  for (const dst of sim.ids) {
    for (const src of sim.ids) {
      const path = [src];
      const seen = new Set([src]);
      let cur = src;
      while (cur !== dst) {
        const hop = next.get(cur)?.get(dst)?.nextHop;
        if (hop === undefined) break;
        if (seen.has(hop)) return [...path, hop];
        seen.add(hop);
        path.push(hop);
        cur = hop;
      }
    }
  }
  return undefined;
}
