// Shared test helpers: an identity pool (ML-DSA keygen costs ~5-25 ms), meshes over the in-memory
// transport or loopback ws that are always stopped, a fake clock, an event-driven wait, and a
// small static router so multi-hop paths can be tested through MeshNetwork's public RouterFactory.
import { NodeIdentity } from '@yak/crypto';
import {
  type Clock,
  type EngineContext,
  type FrameKind,
  MemoryHub,
  MemoryTransport,
  MeshNetwork,
  type MeshNetworkOptions,
  type RouterEngine,
  type RouterFactory,
} from '@yak/mesh-core';
import { Annex, type AnnexMesh, type AnnexMessage, type AnnexOptions } from '../src/index.js';

const pool: NodeIdentity[] = [];

/** The i-th identity of this file's pool (created on first use). */
export function identity(i: number): NodeIdentity {
  while (pool.length <= i) pool.push(NodeIdentity.generate());
  return pool[i] as NodeIdentity;
}

/** Indices of pool identities sorted by node id (tests that need "lower id" and "higher id"). */
export function byNodeId(...idx: number[]): number[] {
  return [...idx].sort((a, b) => (identity(a).nodeId < identity(b).nodeId ? -1 : 1));
}

const live = new Set<{ stop(): Promise<void> | void }>();

/** Generous limits so bulk tests are not throttled by the mesh's defaults. */
const MESH_DEFAULTS: MeshNetworkOptions = {
  host: '127.0.0.1',
  wsPort: 0,
  reconnect: false,
  rateLimiter: {
    maxMessagesPerSecond: 1_000_000,
    maxGossipPerSecond: 1_000_000,
    maxHandshakesPerMinute: 10_000,
    maxConnectionsPerMinute: 10_000,
  },
  subnetDiversity: false,
  gossip: false,
};

/** A started mesh node on a MemoryHub (or loopback ws when `hub` is 'ws'). */
export async function meshNode(i: number, hub: MemoryHub | 'ws', opts: MeshNetworkOptions = {}): Promise<MeshNetwork> {
  const transport = hub === 'ws' ? undefined : new MemoryTransport({ hub });
  const m = new MeshNetwork(identity(i), { ...MESH_DEFAULTS, ...(transport ? { transport } : {}), ...opts });
  live.add(m);
  await m.start();
  return m;
}

/** An Annex that `stopAll` stops. */
export function annexFor(mesh: AnnexMesh, i: number, opts: Partial<AnnexOptions> = {}): Annex {
  const a = new Annex({ identity: identity(i), mesh, ...opts });
  live.add(a);
  return a;
}

export function track<T extends { stop(): Promise<void> | void }>(x: T): T {
  live.add(x);
  return x;
}

/** Stop annexes first, then meshes. */
export async function stopAll(): Promise<void> {
  const all = [...live];
  live.clear();
  await Promise.all(all.filter((x) => x instanceof Annex).map((x) => x.stop()));
  await Promise.all(all.filter((x) => !(x instanceof Annex)).map((x) => x.stop()));
}

/** Connect a to b and wait until both see the link. */
export async function link(a: MeshNetwork, b: MeshNetwork): Promise<void> {
  const ep = b.getPublicEndpoint();
  if (!ep) throw new Error('not listening');
  await a.connect(ep, { reconnect: false });
  await until(() => b.isConnectedTo(a.localId) && a.isConnectedTo(b.localId), 5000, 'link up');
}

/** Resolve when `pred()` holds, checking every few ms of real time; reject after `ms`. */
export async function until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A controllable clock: timers run only when the test advances time. */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void; every?: number }>();
  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.#timers.delete(h as number);
  }
  setInterval(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + ms, fn, every: Math.max(1, ms) });
    return id;
  }
  clearInterval(h: unknown): void {
    this.#timers.delete(h as number);
  }
  get pending(): number {
    return this.#timers.size;
  }
  /** Advance by `ms`, running due timers in time order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void; every?: number }] | undefined;
      for (const e of this.#timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      const [id, t] = next;
      this.#now = Math.max(this.#now, t.at);
      if (t.every) t.at += t.every;
      else this.#timers.delete(id);
      t.fn();
    }
    this.#now = end;
  }
}

/** Frame kind of the test router (routing range 0x20-0x2f of link-layer.ts). */
export const TEST_ROUTE_KIND = 0x2f;

/**
 * A minimal router for tests: frames carry origin and target; a node delivers frames addressed to
 * it and forwards others to the target if it is a neighbour, else to `nextHop[target]`. The
 * origin is not authenticated: exactly the untrusted relay ANNEX must not depend on.
 */
export function staticRouter(nextHop: Record<string, string> = {}, tap?: (body: Uint8Array) => Uint8Array | null): RouterFactory {
  return (ctx: EngineContext): RouterEngine => {
    const delivers = new Map<FrameKind, (from: string, body: Uint8Array) => void>();
    let off: (() => void) | undefined;
    const dec = new TextDecoder();
    const forward = (target: string, f: Uint8Array): boolean => {
      const peers = ctx.link.peers().map((p) => p.nodeId);
      const hop = peers.includes(target) ? target : nextHop[target];
      return hop !== undefined && peers.includes(hop) && ctx.link.send(hop, TEST_ROUTE_KIND, f);
    };
    return {
      start() {
        off = ctx.link.onFrame(TEST_ROUTE_KIND, (_from, f) => {
          if (f.length < 3) return;
          const ol = f[0] as number;
          const tl = f[1] as number;
          const origin = dec.decode(f.subarray(3, 3 + ol));
          const target = dec.decode(f.subarray(3 + ol, 3 + ol + tl));
          if (target === ctx.link.localId) {
            delivers.get(f[2] as number)?.(origin, f.subarray(3 + ol + tl));
            return;
          }
          const out = tap ? tap(f) : f;
          if (out) forward(target, out);
        });
      },
      stop() {
        off?.();
      },
      send(target: string, kind: FrameKind, body: Uint8Array): boolean {
        return forward(target, routeFrame(ctx.link.localId, target, kind, body));
      },
      onDeliver(kind: FrameKind, handler: (from: string, body: Uint8Array) => void) {
        delivers.set(kind, handler);
      },
      getStats() {
        return {};
      },
    };
  };
}

/** A test-router frame, as a relay could forge it (any origin). */
export function routeFrame(origin: string, target: string, kind: number, body: Uint8Array): Uint8Array {
  const enc = new TextEncoder();
  const o = enc.encode(origin);
  const t = enc.encode(target);
  const out = new Uint8Array(3 + o.length + t.length + body.length);
  out[0] = o.length;
  out[1] = t.length;
  out[2] = kind;
  out.set(o, 3);
  out.set(t, 3 + o.length);
  out.set(body, 3 + o.length + t.length);
  return out;
}

/** Origin and target of a test-router frame. */
export function frameEnds(f: Uint8Array): { origin: string; target: string } {
  const dec = new TextDecoder();
  const ol = f[0] as number;
  const tl = f[1] as number;
  return { origin: dec.decode(f.subarray(3, 3 + ol)), target: dec.decode(f.subarray(3 + ol, 3 + ol + tl)) };
}

/** Deliver raw annex bytes to `to` as if the mesh carried them from `from` (a forging router). */
export function inject(to: MeshNetwork, from: string, bytes: Uint8Array): void {
  to.emit('message', { type: 'direct', from, payload: bytes }, undefined, from);
}

/** Offset of the routed body (the mesh payload) inside a test-router frame. */
export function routedBodyOffset(f: Uint8Array): number {
  return 3 + (f[0] as number) + (f[1] as number);
}

/**
 * An AnnexMesh wrapper over a real mesh that lets a test drop, inspect or rewrite outgoing
 * annex envelopes (lost messages, a man in the middle at the sender's edge).
 */
export class TapMesh implements AnnexMesh {
  /** Return a replacement, null to drop, undefined to pass. */
  tap: ((to: string, bytes: Uint8Array) => Uint8Array | null | undefined) | undefined;
  readonly sent: { to: string; bytes: Uint8Array }[] = [];
  /** How often the mesh answered false (link congested). */
  busy = 0;
  constructor(readonly inner: MeshNetwork) {}
  get localId(): string {
    return this.inner.localId;
  }
  sendTo(nodeId: string, message: Uint8Array): boolean {
    this.sent.push({ to: nodeId, bytes: message.slice() });
    const r = this.tap?.(nodeId, message);
    if (r === null) return true;
    const ok = this.inner.sendTo(nodeId, r ?? message);
    if (!ok) this.busy++;
    return ok;
  }
  on(event: 'message', handler: Parameters<AnnexMesh['on']>[1]): this {
    this.inner.on(event, handler);
    return this;
  }
  off(event: 'message', handler: Parameters<AnnexMesh['off']>[1]): this {
    this.inner.off(event, handler);
    return this;
  }
}

/**
 * Two linked in-memory nodes, each with an Annex behind a TapMesh (so tests can record, drop or
 * replace envelopes), and the messages each side's handler received.
 */
export async function tappedPair(optsA: Partial<AnnexOptions> = {}, optsB: Partial<AnnexOptions> = {}) {
  const hub = new MemoryHub();
  const a = await meshNode(0, hub);
  const b = await meshNode(1, hub);
  await link(a, b);
  const ta = new TapMesh(a);
  const tb = new TapMesh(b);
  const xa = annexFor(ta, 0, optsA);
  const xb = annexFor(tb, 1, optsB);
  const inA: AnnexMessage[] = [];
  const inB: AnnexMessage[] = [];
  xa.onMessage((m) => inA.push(m));
  xb.onMessage((m) => inB.push(m));
  return { hub, a, b, ta, tb, xa, xb, inA, inB };
}
