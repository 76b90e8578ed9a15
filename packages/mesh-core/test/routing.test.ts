// Routing on the in-memory simulator: delivery across a line and a random graph, shortest
// routes, typed errors for unreachable targets, loop freedom and no count-to-infinity after link
// failures, hop limits, notices, bounds and lifecycle.
import { describe, expect, it } from 'vitest';
import { ROUTING_KIND } from '../src/routing/constants.js';
import { Router, UnreachableError } from '../src/routing/index.js';
import { SimClock } from './helpers/sim-clock.js';
import { fakeNodeId } from './helpers/sim-identities.js';
import { connectLine, connectRandom, SimNetwork } from './helpers/sim-network.js';
import { SimRandom } from './helpers/sim-random.js';
import { APP_KIND, findLoop, type RoutingSim, routingSim } from './helpers/sim-routing.js';

const enc = (s: string) => new TextEncoder().encode(s);

function expectShortestRoutes(sim: RoutingSim): void {
  for (const src of sim.ids) {
    const dist = sim.net.distances(src);
    const routes = new Map(
      sim
        .router(src)
        .routes()
        .map((r) => [r.target, r.hops]),
    );
    for (const [dst, d] of dist) {
      if (dst === src) continue;
      expect(routes.get(dst), `${src} -> ${dst}`).toBe(d);
    }
    expect(routes.size).toBe(dist.size - 1);
  }
}

describe('delivery', () => {
  it('routes across a line of 10 nodes, with the source as the sender seen at the end', () => {
    const sim = routingSim(10);
    connectLine(sim.net, sim.ids);
    sim.clock.advance(1_000);
    expectShortestRoutes(sim);
    expect(sim.router(0).send(sim.ids[9] as string, APP_KIND, enc('end to end'))).toBe(true);
    sim.clock.advance(100);
    expect(sim.inbox.get(sim.ids[9] as string)).toEqual([{ from: sim.ids[0], kind: APP_KIND, body: enc('end to end') }]);
    expect(
      sim
        .router(0)
        .routes()
        .find((r) => r.target === sim.ids[9]),
    ).toEqual({ target: sim.ids[9], nextHop: sim.ids[1], hops: 9 });
    const relayed = [...sim.routers.values()].reduce((a, r) => a + r.getStats().dataForwarded, 0);
    expect(relayed).toBe(8);
  });

  it('finds shortest routes on a random 80-node graph and delivers between every pair tried', () => {
    const sim = routingSim(80, {
      net: {
        delay: (() => {
          const rng = new SimRandom(3);
          return () => rng.range(1, 15);
        })(),
      },
    });
    connectRandom(sim.net, sim.ids, 2, new SimRandom(42));
    sim.clock.advance(2_000);
    expect(findLoop(sim)).toBeUndefined();
    expectShortestRoutes(sim);
    const rng = new SimRandom(9);
    const sent: [string, string, string][] = [];
    for (let i = 0; i < 200; i++) {
      const a = rng.pick(sim.ids);
      const b = rng.pick(sim.ids);
      if (a === b) continue;
      const tag = `m${i}`;
      sim.router(a).send(b, APP_KIND, enc(tag));
      sent.push([a, b, tag]);
    }
    sim.clock.advance(1_000);
    for (const [a, b, tag] of sent) {
      expect(sim.inbox.get(b)?.some((d) => d.from === a && new TextDecoder().decode(d.body) === tag)).toBe(true);
    }
  });

  it('delivers to handlers of the right kind only, and loops back a frame to itself', async () => {
    const sim = routingSim(3);
    connectLine(sim.net, sim.ids);
    sim.clock.advance(500);
    const other: string[] = [];
    sim.router(2).onDeliver(0x41, (from) => other.push(from));
    sim.router(0).send(sim.ids[2] as string, 0x41, enc('x'));
    sim.clock.advance(50);
    expect(other).toEqual([sim.ids[0]]);
    expect(sim.inbox.get(sim.ids[2] as string)).toEqual([]);
    sim.router(0).send(sim.ids[0] as string, APP_KIND, enc('me'));
    await Promise.resolve();
    expect(sim.inbox.get(sim.ids[0] as string)?.map((d) => d.from)).toEqual([sim.ids[0]]);
  });
});

describe('unreachable targets', () => {
  it('throws UnreachableError (YAK_MESH_UNREACHABLE) for an unknown node', () => {
    const sim = routingSim(3);
    connectLine(sim.net, sim.ids);
    sim.clock.advance(500);
    const stranger = fakeNodeId(999, 'route');
    let err: unknown;
    try {
      sim.router(0).send(stranger, APP_KIND, enc('?'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err).toMatchObject({ code: 'YAK_MESH_UNREACHABLE', target: stranger });
    expect(sim.router(0).hasRoute(stranger)).toBe(false);
  });

  it('throws once a partition has propagated, and routes again after it heals', () => {
    const sim = routingSim(6);
    connectLine(sim.net, sim.ids);
    sim.clock.advance(500);
    sim.net.disconnect(sim.ids[2] as string, sim.ids[3] as string);
    sim.clock.advance(500);
    expect(() => sim.router(0).send(sim.ids[5] as string, APP_KIND, enc('x'))).toThrow(
      expect.objectContaining({ code: 'YAK_MESH_UNREACHABLE' }),
    );
    expect(
      sim
        .router(0)
        .routes()
        .map((r) => r.target)
        .sort(),
    ).toEqual([sim.ids[1], sim.ids[2]].sort());
    sim.net.connect(sim.ids[2] as string, sim.ids[3] as string);
    sim.clock.advance(2_000);
    expectShortestRoutes(sim);
    expect(sim.router(0).send(sim.ids[5] as string, APP_KIND, enc('back'))).toBe(true);
  });

  it('tells the sender when a relay has lost the route while the frame was in flight', () => {
    const sim = routingSim(4, { net: { delay: 5 } });
    connectLine(sim.net, sim.ids);
    sim.clock.advance(500);
    const notices: unknown[] = [];
    sim.router(0).onUnreachable((n) => notices.push(n));
    sim.router(0).send(sim.ids[3] as string, APP_KIND, enc('late'));
    sim.clock.advance(6);
    sim.net.disconnect(sim.ids[2] as string, sim.ids[3] as string);
    sim.clock.advance(100);
    expect(sim.inbox.get(sim.ids[3] as string)).toEqual([]);
    expect(notices).toEqual([{ target: sim.ids[3], reporter: sim.ids[2], reason: 'no-route' }]);
  });
});

describe('loop freedom after link failures', () => {
  it('line A-B-C: cutting B-C never loops A and B through each other (no count-to-infinity)', () => {
    const sim = routingSim(3, { net: { delay: 2 } });
    connectLine(sim.net, sim.ids);
    sim.clock.advance(1_000);
    const before = [...sim.routers.values()].reduce((a, r) => a + r.getStats().updatesSent, 0);
    sim.net.disconnect(sim.ids[1] as string, sim.ids[2] as string);
    // Check the invariant after every single event.
    const until = sim.clock.now() + 2_000;
    while (sim.clock.step(until)) expect(findLoop(sim)).toBeUndefined();
    const updates = [...sim.routers.values()].reduce((a, r) => a + r.getStats().updatesSent, 0) - before;
    expect(updates).toBeLessThan(10);
    expect(sim.router(0).hasRoute(sim.ids[2] as string)).toBe(false);
    expect(sim.router(1).hasRoute(sim.ids[2] as string)).toBe(false);
  });

  it('ring of 10: a failed link is routed around without a loop at any step', () => {
    const sim = routingSim(10, { net: { delay: 3 } });
    connectLine(sim.net, sim.ids);
    sim.net.connect(sim.ids[9] as string, sim.ids[0] as string);
    sim.clock.advance(1_000);
    expectShortestRoutes(sim);
    sim.net.disconnect(sim.ids[4] as string, sim.ids[5] as string);
    const until = sim.clock.now() + 3_000;
    while (sim.clock.step(until)) expect(findLoop(sim)).toBeUndefined();
    expectShortestRoutes(sim);
    sim.router(4).send(sim.ids[5] as string, APP_KIND, enc('around'));
    sim.clock.advance(200);
    expect(sim.inbox.get(sim.ids[5] as string)).toHaveLength(1);
  });

  it('random 40-node graph: 15 successive link failures stay loop-free and reconverge to shortest paths', () => {
    const sim = routingSim(40, { net: { delay: 2 } });
    const rng = new SimRandom(123);
    connectRandom(sim.net, sim.ids, 2, rng);
    sim.clock.advance(1_000);
    for (let k = 0; k < 15; k++) {
      const edges = sim.net.edges();
      const [a, b] = edges[rng.int(edges.length)] as [string, string];
      sim.net.disconnect(a, b);
      if (!sim.net.isGraphConnected()) {
        sim.net.connect(a, b);
        continue;
      }
      for (let t = 0; t < 40; t++) {
        sim.clock.advance(5);
        expect(findLoop(sim)).toBeUndefined();
      }
    }
    sim.clock.advance(3_000);
    expect(findLoop(sim)).toBeUndefined();
    expectShortestRoutes(sim);
  });
});

describe('hop limit and bounds', () => {
  it('routes longer than maxHops do not exist', () => {
    const sim = routingSim(7, { router: { maxHops: 3 } });
    connectLine(sim.net, sim.ids);
    sim.clock.advance(1_000);
    expect(sim.router(0).hasRoute(sim.ids[3] as string)).toBe(true);
    expect(sim.router(0).hasRoute(sim.ids[4] as string)).toBe(false);
    expect(() => sim.router(0).send(sim.ids[4] as string, APP_KIND, enc('far'))).toThrow(UnreachableError);
    for (const r of sim.routers.values()) for (const route of r.routes()) expect(route.hops).toBeLessThanOrEqual(3);
  });

  it('a routed frame with no ttl left is dropped and its sender told', () => {
    const sim = routingSim(4);
    connectLine(sim.net, sim.ids);
    sim.clock.advance(500);
    const notices: unknown[] = [];
    sim.router(0).onUnreachable((n) => notices.push(n));
    const [a, b, , d] = sim.ids as [string, string, string, string];
    // A frame from A to D arriving at B with ttl 1 (as if it had crossed 31 links already).
    const frame = Uint8Array.from([1, 1, APP_KIND, a.length, ...enc(a), d.length, ...enc(d), 0, 0, 0, 1, 7]);
    sim.net.link(b).deliver(a, ROUTING_KIND.data, frame);
    sim.clock.advance(100);
    expect(sim.inbox.get(d)).toEqual([]);
    expect(sim.router(1).getStats().droppedHopLimit).toBe(1);
    expect(notices).toEqual([{ target: d, reporter: b, reason: 'hop-limit' }]);
  });

  it('a neighbour advertising 10,000 destinations fills the table only to maxRoutes', async () => {
    const { encodeUpdate } = await import('../src/routing/codec.js');
    const sim = routingSim(2, { router: { maxRoutes: 500 } });
    connectLine(sim.net, sim.ids);
    sim.clock.advance(100);
    for (let i = 0; i < 10_000; i += 250) {
      const adverts = Array.from({ length: 250 }, (_, j) => ({ dest: fakeNodeId(i + j, 'flood'), seq: 1, metric: 1 }));
      sim.net.link(sim.ids[1] as string).deliver(sim.ids[0] as string, ROUTING_KIND.update, encodeUpdate(adverts));
    }
    const s = sim.router(1).getStats();
    expect(s.routes).toBeLessThanOrEqual(501);
    expect(s.tableFull).toBeGreaterThan(9_000);
  });

  it('routes expire when a neighbour stops advertising them', () => {
    const sim = routingSim(3, { router: { updateIntervalMs: 1_000, routeExpiryMs: 3_500 } });
    connectLine(sim.net, sim.ids);
    sim.clock.advance(500);
    expect(sim.router(0).hasRoute(sim.ids[2] as string)).toBe(true);
    sim.router(1).stop();
    sim.clock.advance(5_000);
    expect(sim.router(0).hasRoute(sim.ids[2] as string)).toBe(false);
    expect(sim.router(0).hasRoute(sim.ids[1] as string)).toBe(true);
  });

  it('refuses sequence numbers far in the future', async () => {
    const { encodeUpdate } = await import('../src/routing/codec.js');
    const sim = routingSim(2);
    connectLine(sim.net, sim.ids);
    sim.clock.advance(100);
    const dest = fakeNodeId(5, 'x');
    sim.net
      .link(sim.ids[1] as string)
      .deliver(sim.ids[0] as string, ROUTING_KIND.update, encodeUpdate([{ dest, seq: sim.clock.now() + 86_400_000, metric: 1 }]));
    expect(sim.router(1).hasRoute(dest)).toBe(false);
    expect(sim.router(1).getStats().invalidFrames).toBe(1);
  });

  it('a restarted node is reachable again (its new sequence number is newer)', () => {
    const sim = routingSim(5);
    connectLine(sim.net, sim.ids);
    sim.clock.advance(1_000);
    sim.restart(4);
    sim.clock.advance(1_000);
    sim.router(0).send(sim.ids[4] as string, APP_KIND, enc('welcome back'));
    sim.clock.advance(100);
    expect(sim.inbox.get(sim.ids[4] as string)).toHaveLength(1);
  });
});

describe('lifecycle and arguments', () => {
  it('send checks state and arguments with typed errors', () => {
    const clock = new SimClock();
    const net = new SimNetwork(clock);
    const id = fakeNodeId(0, 'args');
    const r = new Router({ link: net.addNode(id), identity: { nodeId: id }, clock });
    expect(() => r.send(fakeNodeId(1, 'args'), 1, enc('x'))).toThrow(expect.objectContaining({ code: 'YAK_MESH_NOT_STARTED' }));
    r.start();
    expect(() => r.send('not-a-node', 1, enc('x'))).toThrow(expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }));
    expect(() => r.send(fakeNodeId(1, 'args'), 256, enc('x'))).toThrow(expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }));
    expect(() => r.send(fakeNodeId(1, 'args'), 1, 'x' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }),
    );
    expect(() => r.send(fakeNodeId(1, 'args'), 1, new Uint8Array(600 * 1024))).toThrow(
      expect.objectContaining({ code: 'YAK_MESH_PAYLOAD_TOO_LARGE' }),
    );
    expect(() => r.onDeliver(-1, () => {})).toThrow(expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }));
    r.stop();
    expect(() => r.send(fakeNodeId(1, 'args'), 1, enc('x'))).toThrow(expect.objectContaining({ code: 'YAK_MESH_STOPPED' }));
    expect(() => new Router({ link: net.addNode(fakeNodeId(2, 'args')), identity: { nodeId: id } })).toThrow(
      expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }),
    );
  });

  it('stop() leaves no timers and no subscriptions', () => {
    const sim = routingSim(4);
    connectLine(sim.net, sim.ids);
    sim.clock.advance(500);
    for (const r of sim.routers.values()) r.stop();
    sim.clock.run(1_000);
    expect(sim.clock.pending).toBe(0);
    for (const id of sim.ids) expect(sim.net.link(id).subscriptions).toBe(0);
  });

  it('isolates throwing deliver handlers', () => {
    const sim = routingSim(2);
    connectLine(sim.net, sim.ids);
    sim.clock.advance(100);
    sim.router(1).onDeliver(APP_KIND, () => {
      throw new Error('bug');
    });
    sim.router(0).send(sim.ids[1] as string, APP_KIND, enc('x'));
    sim.clock.advance(10);
    expect(sim.inbox.get(sim.ids[1] as string)).toHaveLength(1);
    expect(sim.router(1).getStats().handlerErrors).toBe(1);
  });
});
