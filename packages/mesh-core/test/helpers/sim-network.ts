// In-memory fake of the link layer (src/link-layer.ts) for gossip and routing simulations: N
// links joined by virtual wires with a per-wire delay, all driven by one SimClock. Frames are
// copied on send, FIFO per wire, and dropped if the wire goes down before they arrive.
import type { FrameKind, LinkLayer, LinkPeer } from '../../src/link-layer.js';
import type { SimClock } from './sim-clock.js';
import type { SimRandom } from './sim-random.js';

type FrameHandler = (from: string, body: Uint8Array) => void;
type PeerHandler = (event: 'up' | 'down', peer: LinkPeer) => void;

/** Inspect or rewrite a frame in flight: return a replacement body, null to drop, undefined to pass. */
export type FrameTap = (from: string, to: string, kind: number, body: Uint8Array) => Uint8Array | null | undefined;

export interface SimNetworkOptions {
  /** One-way delay of a new wire in virtual ms (default 1). */
  delay?: number | ((a: string, b: string) => number);
}

export class SimNetwork {
  readonly clock: SimClock;
  readonly links = new Map<string, SimLink>();
  /** Delay of each wire, indexed both ways: a -> b -> ms. */
  readonly #wires = new Map<string, Map<string, number>>();
  readonly #delay: number | ((a: string, b: string) => number);
  /** Frames sent, per kind. */
  readonly framesByKind = new Map<number, number>();
  readonly bytesByKind = new Map<number, number>();
  tap: FrameTap | undefined;

  constructor(clock: SimClock, opts: SimNetworkOptions = {}) {
    this.clock = clock;
    this.#delay = opts.delay ?? 1;
  }

  addNode(id: string): SimLink {
    if (this.links.has(id)) throw new Error(`duplicate node ${id}`);
    const l = new SimLink(id, this);
    this.links.set(id, l);
    return l;
  }

  link(id: string): SimLink {
    const l = this.links.get(id);
    if (!l) throw new Error(`unknown node ${id}`);
    return l;
  }

  isConnected(a: string, b: string): boolean {
    return this.#wires.get(a)?.has(b) ?? false;
  }

  delayOf(a: string, b: string): number | undefined {
    return this.#wires.get(a)?.get(b);
  }

  #setWire(a: string, b: string, d: number | undefined): void {
    let m = this.#wires.get(a);
    if (!m) {
      m = new Map();
      this.#wires.set(a, m);
    }
    if (d === undefined) m.delete(b);
    else m.set(b, d);
  }

  /** Join two nodes; both see 'up'. No-op if already joined. */
  connect(a: string, b: string, delay?: number): void {
    if (a === b) throw new Error('self link');
    if (this.isConnected(a, b)) return;
    const d = delay ?? (typeof this.#delay === 'function' ? this.#delay(a, b) : this.#delay);
    this.#setWire(a, b, d);
    this.#setWire(b, a, d);
    this.link(a).emitPeer('up', b);
    this.link(b).emitPeer('up', a);
  }

  disconnect(a: string, b: string): void {
    if (!this.isConnected(a, b)) return;
    this.#setWire(a, b, undefined);
    this.#setWire(b, a, undefined);
    this.link(a).emitPeer('down', b);
    this.link(b).emitPeer('down', a);
  }

  /** Cut every wire of a node (a crash as its neighbours see it). */
  isolate(id: string): void {
    for (const p of this.link(id).peerIds()) this.disconnect(id, p);
  }

  edges(): [string, string][] {
    const out: [string, string][] = [];
    for (const [a, m] of this.#wires) for (const b of m.keys()) if (a < b) out.push([a, b]);
    return out;
  }

  neighbours(id: string): string[] {
    return this.link(id).peerIds();
  }

  transmit(from: string, to: string, kind: number, body: Uint8Array): boolean {
    const d = this.delayOf(from, to);
    if (d === undefined) return false;
    this.framesByKind.set(kind, (this.framesByKind.get(kind) ?? 0) + 1);
    this.bytesByKind.set(kind, (this.bytesByKind.get(kind) ?? 0) + body.length);
    let copy: Uint8Array | null | undefined = body.slice();
    if (this.tap) {
      const t = this.tap(from, to, kind, copy);
      if (t === null) return true;
      if (t !== undefined) copy = t;
    }
    const frame = copy;
    this.clock.setTimeout(() => {
      if (this.isConnected(from, to)) this.link(to).deliver(from, kind, frame);
    }, d);
    return true;
  }

  /** Shortest-path hop counts from `src` (BFS), for checking routes and hop counts. */
  distances(src: string): Map<string, number> {
    const dist = new Map<string, number>([[src, 0]]);
    const queue = [src];
    for (let i = 0; i < queue.length; i++) {
      const u = queue[i] as string;
      for (const v of this.neighbours(u)) {
        if (dist.has(v)) continue;
        dist.set(v, (dist.get(u) as number) + 1);
        queue.push(v);
      }
    }
    return dist;
  }

  isGraphConnected(): boolean {
    const first = this.links.keys().next();
    if (first.done) return true;
    return this.distances(first.value).size === this.links.size;
  }
}

export class SimLink implements LinkLayer {
  readonly localId: string;
  readonly #net: SimNetwork;
  readonly #peers = new Set<string>();
  readonly #frameHandlers = new Map<number, Set<FrameHandler>>();
  readonly #peerHandlers = new Set<PeerHandler>();
  /** Misbehaviour reports this node made, newest last (capped). */
  readonly reports: { peer: string; reason: string; severity: number | undefined }[] = [];
  /** Frames received per kind. */
  readonly received = new Map<number, number>();

  constructor(id: string, net: SimNetwork) {
    this.localId = id;
    this.#net = net;
  }

  peers(): LinkPeer[] {
    return [...this.#peers].map((nodeId) => ({ nodeId }));
  }

  peerIds(): string[] {
    return [...this.#peers];
  }

  send(peerId: string, kind: FrameKind, body: Uint8Array): boolean {
    if (!Number.isInteger(kind) || kind < 0 || kind > 0xff) throw new RangeError('kind must be a byte');
    if (!(body instanceof Uint8Array)) throw new TypeError('body must be bytes');
    if (!this.#peers.has(peerId)) return false;
    return this.#net.transmit(this.localId, peerId, kind, body);
  }

  onFrame(kind: FrameKind, handler: FrameHandler): () => void {
    let s = this.#frameHandlers.get(kind);
    if (!s) {
      s = new Set();
      this.#frameHandlers.set(kind, s);
    }
    const set = s;
    set.add(handler);
    return () => {
      set.delete(handler);
    };
  }

  onPeer(handler: PeerHandler): () => void {
    this.#peerHandlers.add(handler);
    return () => {
      this.#peerHandlers.delete(handler);
    };
  }

  reportMisbehavior(peerId: string, reason: string, severity?: number): void {
    if (this.reports.length >= 10_000) this.reports.shift();
    this.reports.push({ peer: peerId, reason, severity });
  }

  /** Number of handlers subscribed (frames and peer events); 0 after every protocol stopped. */
  get subscriptions(): number {
    let n = this.#peerHandlers.size;
    for (const s of this.#frameHandlers.values()) n += s.size;
    return n;
  }

  emitPeer(event: 'up' | 'down', peer: string): void {
    if (event === 'up') this.#peers.add(peer);
    else this.#peers.delete(peer);
    for (const h of [...this.#peerHandlers]) h(event, { nodeId: peer });
  }

  /** Hand a frame to this node's handlers now, as if `from` had sent it (adversarial tests). */
  deliver(from: string, kind: number, body: Uint8Array): void {
    this.received.set(kind, (this.received.get(kind) ?? 0) + 1);
    const set = this.#frameHandlers.get(kind);
    if (!set) return;
    for (const h of [...set]) h(from, body);
  }
}

/** A line 0 - 1 - ... - (n-1). */
export function connectLine(net: SimNetwork, ids: readonly string[]): void {
  for (let i = 1; i < ids.length; i++) net.connect(ids[i - 1] as string, ids[i] as string);
}

/**
 * Every node dials `dials` distinct random others (so degrees average about 2 x dials), then
 * components are joined so the graph is connected.
 */
export function connectRandom(net: SimNetwork, ids: readonly string[], dials: number, rng: SimRandom): void {
  for (const a of ids) {
    let made = 0;
    let tries = 0;
    while (made < dials && tries < dials * 20) {
      tries++;
      const b = rng.pick(ids);
      if (b === a || net.isConnected(a, b)) continue;
      net.connect(a, b);
      made++;
    }
  }
  // Join components: link each unreached node to a random reached one.
  for (;;) {
    const reached = net.distances(ids[0] as string);
    const out = ids.find((id) => !reached.has(id));
    if (out === undefined) return;
    const inside = [...reached.keys()];
    net.connect(out, rng.pick(inside));
  }
}
