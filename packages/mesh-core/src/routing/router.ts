// Multi-hop routing over the link layer: a distance-vector protocol with per-destination
// sequence numbers and Babel's feasibility condition (RFC 8966 sections 2.4, 3.5), which keeps
// routes loop-free at all times, including right after a link fails, so there is no
// count-to-infinity. Protocol: docs/protocol/routing.md.
import { isNodeId } from '@yak/crypto';
import { InvalidArgumentError, NotRunningError, PayloadTooLargeError, UnreachableError } from '../errors.js';
import { BoundedMap } from '../gossip/bounded.js';
import { type Clock, type LinkLayer, type Logger, silentLogger, systemClock } from '../link-layer.js';
import {
  decodeData,
  decodeSeqRequest,
  decodeUnreachable,
  decodeUpdate,
  encodeData,
  encodeSeqRequest,
  encodeUnreachable,
  encodeUpdate,
  type RouteAdvert,
  TTL_OFFSET,
} from './codec.js';
import { METRIC_INFINITY, ROUTING_DEFAULTS, ROUTING_KIND, UNREACHABLE_REASON } from './constants.js';

/** What the router needs of a node identity; a `NodeIdentity` from @yak/crypto fits. */
export interface RouterIdentity {
  readonly nodeId: string;
}

export interface RouterOptions {
  link: LinkLayer;
  identity: RouterIdentity;
  clock?: Clock;
  logger?: Logger;
  /** Hop limit: largest usable metric and initial ttl of routed frames (default 32, max 255). */
  maxHops?: number;
  /** Full-table advertisement interval (default 15,000 ms). */
  updateIntervalMs?: number;
  /** Route lifetime without refresh (default 52,500 ms). */
  routeExpiryMs?: number;
  /** Lifetime of a feasibility distance (default 180,000 ms). */
  sourceExpiryMs?: number;
  /** Coalescing delay of triggered updates (default 10 ms). */
  triggerDelayMs?: number;
  /** Destinations kept (default 4,096). */
  maxRoutes?: number;
  /** Largest routed body (default 512 KiB minus 256 bytes). */
  maxBodyBytes?: number;
}

/** One selected route, as listed by {@link Router.routes}. */
export interface RouteInfo {
  target: string;
  nextHop: string;
  hops: number;
}

/** A notice that a frame this node sent could not be delivered. */
export interface UnreachableInfo {
  target: string;
  /** The node that dropped it. */
  reporter: string;
  reason: 'no-route' | 'hop-limit';
}

/** Counters of one router (SPEC section 2, "Observability"). */
export interface RouterStats {
  routes: number;
  neighbours: number;
  updatesSent: number;
  updatesReceived: number;
  dataSent: number;
  dataForwarded: number;
  dataDelivered: number;
  droppedNoRoute: number;
  droppedHopLimit: number;
  /** Own frames that came back (a transient loop). */
  droppedLoop: number;
  sendFailures: number;
  invalidFrames: number;
  seqRequestsSent: number;
  seqRequestsReceived: number;
  seqRequestsForwarded: number;
  unreachableSent: number;
  unreachableReceived: number;
  /** Advertisements ignored because the table was full. */
  tableFull: number;
  handlerErrors: number;
}

type Counter = Exclude<keyof RouterStats, 'routes' | 'neighbours'>;

interface Advertised {
  seq: number;
  metric: number;
  expiresAt: number;
}

interface Selected {
  nextHop: string;
  seq: number;
  /** Our metric: the neighbour's plus one. */
  metric: number;
}

interface Dest {
  /** What each neighbour advertised for this destination. */
  routes: Map<string, Advertised>;
  selected: Selected | undefined;
  /** Feasibility distance: the best (seq, metric) this node advertised (Babel section 3.5.1). */
  fd: Advertised | undefined;
  seqRequestedAt: number;
}

type DeliverHandler = (from: string, body: Uint8Array) => void;

function intOpt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

/**
 * Routes frames to nodes that are not direct neighbours. {@link Router.send} picks the next hop
 * from a table learned from neighbours' advertisements; frames are relayed hop by hop and
 * delivered to {@link Router.onDeliver} handlers at the destination.
 */
export class Router {
  readonly #link: LinkLayer;
  readonly #self: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #maxHops: number;
  readonly #updateIntervalMs: number;
  readonly #routeExpiryMs: number;
  readonly #sourceExpiryMs: number;
  readonly #triggerDelayMs: number;
  readonly #maxRoutes: number;
  readonly #maxBody: number;

  readonly #table = new Map<string, Dest>();
  readonly #neighbours = new Set<string>();
  readonly #handlers = new Map<number, Set<DeliverHandler>>();
  readonly #unreachableHandlers = new Set<(info: UnreachableInfo) => void>();
  readonly #recentRequests: BoundedMap<string, number>;
  readonly #pending = new Set<string>();
  #pendingSelf = false;
  #triggerTimer: unknown;
  #retryTimer: unknown;
  /** Destinations with known but unfeasible routes, and the requests left to send for each. */
  readonly #starving = new Map<string, number>();
  #interval: unknown;
  #unsubscribe: (() => void)[] = [];
  #state: 'idle' | 'running' | 'stopped' = 'idle';
  #seq: number;
  #noticeWindow = 0;
  #noticeCount = 0;
  readonly #c: Record<Counter, number> = {
    updatesSent: 0,
    updatesReceived: 0,
    dataSent: 0,
    dataForwarded: 0,
    dataDelivered: 0,
    droppedNoRoute: 0,
    droppedHopLimit: 0,
    droppedLoop: 0,
    sendFailures: 0,
    invalidFrames: 0,
    seqRequestsSent: 0,
    seqRequestsReceived: 0,
    seqRequestsForwarded: 0,
    unreachableSent: 0,
    unreachableReceived: 0,
    tableFull: 0,
    handlerErrors: 0,
  };

  constructor(opts: RouterOptions) {
    if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('options must be an object');
    const { link, identity } = opts;
    if (typeof link !== 'object' || link === null || typeof link.send !== 'function')
      throw new InvalidArgumentError('link must be a LinkLayer');
    if (typeof identity !== 'object' || identity === null || identity.nodeId !== link.localId) {
      throw new InvalidArgumentError('identity.nodeId must equal link.localId');
    }
    const d = ROUTING_DEFAULTS;
    this.#link = link;
    this.#self = identity.nodeId;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger ?? silentLogger;
    this.#maxHops = intOpt(opts.maxHops ?? d.maxHops, 'maxHops', 1, 255);
    this.#updateIntervalMs = intOpt(opts.updateIntervalMs ?? d.updateIntervalMs, 'updateIntervalMs', 1, 2 ** 31 - 1);
    this.#routeExpiryMs = intOpt(opts.routeExpiryMs ?? d.routeExpiryMs, 'routeExpiryMs', 1, Number.MAX_SAFE_INTEGER);
    this.#sourceExpiryMs = intOpt(opts.sourceExpiryMs ?? d.sourceExpiryMs, 'sourceExpiryMs', 1, Number.MAX_SAFE_INTEGER);
    this.#triggerDelayMs = intOpt(opts.triggerDelayMs ?? d.triggerDelayMs, 'triggerDelayMs', 0, 60_000);
    this.#maxRoutes = intOpt(opts.maxRoutes ?? d.maxRoutes, 'maxRoutes', 1, 1_000_000);
    this.#maxBody = intOpt(opts.maxBodyBytes ?? d.maxBodyBytes, 'maxBodyBytes', 0, d.maxBodyBytes);
    this.#recentRequests = new BoundedMap(d.seqRequestCacheSize);
    this.#seq = Math.floor(this.#clock.now());
  }

  /** Subscribe to the link layer and advertise to current neighbours. Idempotent. */
  start(): void {
    if (this.#state === 'running') return;
    this.#state = 'running';
    const l = this.#link;
    this.#unsubscribe = [
      l.onFrame(ROUTING_KIND.update, (from, body) => this.#guard(from, () => this.#onUpdate(from, body))),
      l.onFrame(ROUTING_KIND.data, (from, body) => this.#guard(from, () => this.#onData(from, body))),
      l.onFrame(ROUTING_KIND.unreachable, (from, body) => this.#guard(from, () => this.#onUnreachable(from, body))),
      l.onFrame(ROUTING_KIND.seqRequest, (from, body) => this.#guard(from, () => this.#onSeqRequest(from, body))),
      l.onPeer((event, peer) => this.#guard(peer.nodeId, () => (event === 'up' ? this.#peerUp(peer.nodeId) : this.#peerDown(peer.nodeId)))),
    ];
    this.#interval = this.#clock.setInterval(() => this.#guard(this.#self, () => this.#periodic()), this.#updateIntervalMs);
    for (const p of l.peers()) this.#peerUp(p.nodeId);
  }

  /** Unsubscribe, cancel every timer and forget every route. The router can be started again. */
  stop(): void {
    if (this.#state !== 'running') return;
    this.#state = 'stopped';
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
    this.#clock.clearInterval(this.#interval);
    this.#interval = undefined;
    if (this.#triggerTimer !== undefined) this.#clock.clearTimeout(this.#triggerTimer);
    this.#triggerTimer = undefined;
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#starving.clear();
    this.#table.clear();
    this.#neighbours.clear();
    this.#pending.clear();
    this.#pendingSelf = false;
    this.#recentRequests.clear();
  }

  /**
   * Send `body` to `target` under upper-layer `kind` (0-255). A direct neighbour is reached over
   * its link, any other node along the selected route. Returns false if the first hop refused
   * the frame (its send queue is full); a frame to this node itself is delivered locally.
   * @throws UnreachableError (code YAK_MESH_UNREACHABLE) when there is no link and no route
   * @throws NotRunningError before `start()` or after `stop()`
   * @throws InvalidArgumentError for a malformed target, kind or body
   * @throws PayloadTooLargeError above `maxBodyBytes`
   */
  send(target: string, kind: number, body: Uint8Array): boolean {
    if (this.#state !== 'running') {
      throw new NotRunningError(this.#state === 'idle' ? 'YAK_MESH_NOT_STARTED' : 'YAK_MESH_STOPPED', 'router is not running');
    }
    if (!isNodeId(target)) throw new InvalidArgumentError('target must be a node id');
    this.#checkKind(kind);
    if (!(body instanceof Uint8Array)) throw new InvalidArgumentError('body must be a Uint8Array');
    if (body.length > this.#maxBody) throw new PayloadTooLargeError(`body exceeds ${this.#maxBody} bytes`);
    if (target === this.#self) {
      const copy = body.slice();
      queueMicrotask(() => this.#deliver(kind, this.#self, copy));
      return true;
    }
    const next = this.#nextHop(target);
    if (next === undefined) throw new UnreachableError(target);
    const frame = encodeData({ ttl: this.#maxHops, kind, src: this.#self, dst: target, body });
    if (!this.#link.send(next, ROUTING_KIND.data, frame)) {
      this.#c.sendFailures++;
      return false;
    }
    this.#c.dataSent++;
    return true;
  }

  /** True when `target` is a neighbour or has a selected route. */
  hasRoute(target: string): boolean {
    return target === this.#self || this.#nextHop(target) !== undefined;
  }

  /** Receive routed frames of upper-layer `kind` addressed to this node; returns an unsubscribe function. */
  onDeliver(kind: number, handler: (from: string, body: Uint8Array) => void): () => void {
    this.#checkKind(kind);
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    let set = this.#handlers.get(kind);
    if (!set) {
      set = new Set();
      this.#handlers.set(kind, set);
    }
    const s = set;
    s.add(handler);
    return () => {
      s.delete(handler);
    };
  }

  /** Learn that a frame this node sent was dropped on the way (no route, or hop limit). */
  onUnreachable(handler: (info: UnreachableInfo) => void): () => void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    this.#unreachableHandlers.add(handler);
    return () => {
      this.#unreachableHandlers.delete(handler);
    };
  }

  /** Every reachable node with its next hop and distance, neighbours included. */
  routes(): RouteInfo[] {
    const out: RouteInfo[] = [];
    for (const n of this.#neighbours) out.push({ target: n, nextHop: n, hops: 1 });
    for (const [target, d] of this.#table) {
      if (d.selected && !this.#neighbours.has(target)) out.push({ target, nextHop: d.selected.nextHop, hops: d.selected.metric });
    }
    return out;
  }

  getStats(): RouterStats {
    let routes = 0;
    for (const [t, d] of this.#table) if (d.selected && !this.#neighbours.has(t)) routes++;
    return { ...this.#c, routes: routes + this.#neighbours.size, neighbours: this.#neighbours.size };
  }

  #checkKind(kind: unknown): asserts kind is number {
    if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > 0xff) {
      throw new InvalidArgumentError('kind must be an integer in [0, 255]');
    }
  }

  #nextHop(target: string): string | undefined {
    if (this.#neighbours.has(target)) return target;
    const sel = this.#table.get(target)?.selected;
    return sel && this.#neighbours.has(sel.nextHop) ? sel.nextHop : undefined;
  }

  #guard(from: string, fn: () => void): void {
    if (this.#state !== 'running') return;
    try {
      fn();
    } catch (e) {
      this.#c.invalidFrames++;
      this.#log.error({ peer: from, err: (e as Error)?.name }, 'routing: handler failed');
    }
  }

  #invalid(from: string, reason: string): void {
    this.#c.invalidFrames++;
    this.#log.debug({ peer: from, reason }, 'routing: invalid frame');
    this.#link.reportMisbehavior(from, `routing: ${reason}`, 2);
  }

  #send(peer: string, kind: number, body: Uint8Array, counter: Counter): boolean {
    if (this.#link.send(peer, kind, body)) {
      this.#c[counter]++;
      return true;
    }
    this.#c.sendFailures++;
    return false;
  }

  // --- neighbours and advertisements -------------------------------------------------------

  #peerUp(peer: string): void {
    if (peer === this.#self) return;
    this.#neighbours.add(peer);
    this.#sendTable([peer]);
  }

  #peerDown(peer: string): void {
    if (!this.#neighbours.delete(peer)) return;
    for (const [dest, d] of this.#table) if (d.routes.delete(peer) || d.selected?.nextHop === peer) this.#reselect(dest, d);
  }

  // Every selected route, every recent retraction and our own entry, to the given neighbours.
  #sendTable(peers: Iterable<string>): void {
    const now = this.#clock.now();
    const adverts: RouteAdvert[] = [{ dest: this.#self, seq: this.#seq, metric: 0 }];
    for (const [dest, d] of this.#table) {
      const a = this.#advert(dest, d, now);
      if (a) adverts.push(a);
    }
    this.#broadcast(adverts, peers);
  }

  #broadcast(adverts: RouteAdvert[], peers: Iterable<string>): void {
    const max = ROUTING_DEFAULTS.maxEntriesPerUpdate;
    const frames: Uint8Array[] = [];
    for (let i = 0; i < adverts.length; i += max) frames.push(encodeUpdate(adverts.slice(i, i + max)));
    for (const p of peers) for (const f of frames) this.#send(p, ROUTING_KIND.update, f, 'updatesSent');
  }

  /**
   * What we advertise for `dest`: the selected route, or a retraction while its feasibility
   * distance is remembered. Advertising a route lowers (or renews) the feasibility distance
   * (Babel section 3.7.3), which is what later keeps neighbours' stale routes from looping back.
   */
  #advert(dest: string, d: Dest, now: number): RouteAdvert | undefined {
    const sel = d.selected;
    if (sel && this.#neighbours.has(sel.nextHop)) {
      const fd = d.fd;
      if (!fd || fd.expiresAt <= now || sel.seq > fd.seq || (sel.seq === fd.seq && sel.metric < fd.metric)) {
        d.fd = { seq: sel.seq, metric: sel.metric, expiresAt: now + this.#sourceExpiryMs };
      } else if (sel.seq === fd.seq && sel.metric === fd.metric) fd.expiresAt = now + this.#sourceExpiryMs;
      return { dest, seq: sel.seq, metric: sel.metric };
    }
    if (d.fd && d.fd.expiresAt > now) return { dest, seq: d.fd.seq, metric: METRIC_INFINITY };
    return undefined;
  }

  #trigger(dest: string | undefined): void {
    if (dest === undefined) this.#pendingSelf = true;
    else this.#pending.add(dest);
    if (this.#triggerTimer !== undefined || this.#state !== 'running') return;
    this.#triggerTimer = this.#clock.setTimeout(() => {
      this.#triggerTimer = undefined;
      this.#guard(this.#self, () => this.#flushTriggered());
    }, this.#triggerDelayMs);
  }

  #flushTriggered(): void {
    const now = this.#clock.now();
    const adverts: RouteAdvert[] = [];
    if (this.#pendingSelf) adverts.push({ dest: this.#self, seq: this.#seq, metric: 0 });
    for (const dest of this.#pending) {
      const d = this.#table.get(dest);
      if (!d) continue;
      const a = this.#advert(dest, d, now);
      if (a) adverts.push(a);
    }
    this.#pending.clear();
    this.#pendingSelf = false;
    if (adverts.length > 0) this.#broadcast(adverts, this.#neighbours);
  }

  #periodic(): void {
    const now = this.#clock.now();
    for (const [dest, d] of this.#table) {
      let changed = false;
      for (const [n, r] of d.routes) {
        if (r.expiresAt <= now) {
          d.routes.delete(n);
          changed = true;
        }
      }
      if (changed) this.#reselect(dest, d);
      if (!d.selected && d.routes.size === 0 && (!d.fd || d.fd.expiresAt <= now)) this.#table.delete(dest);
    }
    for (const [k, until] of this.#recentRequests.entries()) if (until <= now) this.#recentRequests.delete(k);
    this.#sendTable(this.#neighbours);
  }

  #onUpdate(from: string, body: Uint8Array): void {
    this.#c.updatesReceived++;
    const dec = decodeUpdate(body);
    if (!dec.ok) return this.#invalid(from, dec.reason);
    if (!this.#neighbours.has(from)) return;
    const now = this.#clock.now();
    const maxSeq = now + ROUTING_DEFAULTS.maxSeqAheadMs;
    for (const a of dec.value) {
      if (a.seq > maxSeq) {
        this.#invalid(from, 'sequence number far in the future');
        continue;
      }
      if (a.dest === this.#self) {
        // A neighbour holds a newer sequence number for us than we do (we restarted with a slow
        // clock): jump past it so our own advertisements are feasible again.
        if (a.seq > this.#seq) this.#bumpSeq(a.seq + 1);
        continue;
      }
      let d = this.#table.get(a.dest);
      const retract = a.metric === METRIC_INFINITY || a.metric + 1 > this.#maxHops;
      if (!d) {
        if (retract) continue;
        if (this.#table.size >= this.#maxRoutes) {
          this.#c.tableFull++;
          continue;
        }
        d = { routes: new Map(), selected: undefined, fd: undefined, seqRequestedAt: Number.NEGATIVE_INFINITY };
        this.#table.set(a.dest, d);
      }
      if (retract) d.routes.delete(from);
      else d.routes.set(from, { seq: a.seq, metric: a.metric, expiresAt: now + this.#routeExpiryMs });
      this.#reselect(a.dest, d);
    }
  }

  #feasible(d: Dest, r: Advertised, now: number): boolean {
    const fd = d.fd;
    return !fd || fd.expiresAt <= now || r.seq > fd.seq || (r.seq === fd.seq && r.metric < fd.metric);
  }

  /**
   * Route selection (Babel section 3.6): the smallest metric among feasible routes through live
   * neighbours, preferring the current next hop on ties (stability). With no feasible route the
   * destination is retracted and a newer sequence number is requested from it (section 3.8),
   * instead of accepting an unfeasible route that could point back through this node.
   */
  #reselect(dest: string, d: Dest): void {
    const now = this.#clock.now();
    const prev = d.selected;
    let best: Selected | undefined;
    for (const [n, r] of d.routes) {
      if (!this.#neighbours.has(n) || r.expiresAt <= now || r.metric + 1 > this.#maxHops) continue;
      if (!this.#feasible(d, r, now)) continue;
      const cand: Selected = { nextHop: n, seq: r.seq, metric: r.metric + 1 };
      if (!best || better(cand, best, prev?.nextHop)) best = cand;
    }
    d.selected = best;
    const changed =
      !prev !== !best || (prev && best && (prev.nextHop !== best.nextHop || prev.metric !== best.metric || prev.seq !== best.seq));
    if (changed) this.#trigger(dest);
    if (!best && d.routes.size > 0) this.#requestSeq(dest, d, now);
  }

  // A starving destination (routes known, none feasible) asks for a newer sequence number, and
  // asks again every interval while it starves, a few times (Babel section 3.8.2.1 resends too).
  #requestSeq(dest: string, d: Dest, now: number): void {
    if (!this.#starving.has(dest)) {
      if (this.#starving.size >= this.#maxRoutes) return;
      this.#starving.set(dest, ROUTING_DEFAULTS.seqRequestRetries);
      this.#armRetry();
    }
    if (now - d.seqRequestedAt < ROUTING_DEFAULTS.seqRequestIntervalMs) return;
    d.seqRequestedAt = now;
    const frame = encodeSeqRequest({ dest, seq: (d.fd?.seq ?? 0) + 1, hops: this.#maxHops });
    for (const n of d.routes.keys()) if (this.#neighbours.has(n)) this.#send(n, ROUTING_KIND.seqRequest, frame, 'seqRequestsSent');
  }

  #armRetry(): void {
    if (this.#retryTimer !== undefined || this.#state !== 'running') return;
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#guard(this.#self, () => this.#retryStarving());
    }, ROUTING_DEFAULTS.seqRequestIntervalMs);
  }

  #retryStarving(): void {
    const now = this.#clock.now();
    for (const [dest, left] of this.#starving) {
      const d = this.#table.get(dest);
      if (!d || d.selected || d.routes.size === 0 || left <= 0) {
        this.#starving.delete(dest);
        continue;
      }
      this.#starving.set(dest, left - 1);
      this.#requestSeq(dest, d, now);
    }
    if (this.#starving.size > 0) this.#armRetry();
  }

  #bumpSeq(atLeast: number): void {
    this.#seq = Math.max(this.#seq + 1, atLeast, Math.floor(this.#clock.now()));
    this.#trigger(undefined);
  }

  // Babel section 3.8.1.2: answer from our own route if it is new enough, else forward toward
  // the destination, never back to the requester, with a hop budget and duplicate suppression.
  #onSeqRequest(from: string, body: Uint8Array): void {
    this.#c.seqRequestsReceived++;
    const dec = decodeSeqRequest(body);
    if (!dec.ok) return this.#invalid(from, dec.reason);
    const { dest, seq, hops } = dec.value;
    const now = this.#clock.now();
    if (seq > now + ROUTING_DEFAULTS.maxSeqAheadMs) return this.#invalid(from, 'sequence number far in the future');
    if (dest === this.#self) {
      if (seq > this.#seq) this.#bumpSeq(seq);
      else this.#trigger(undefined);
      return;
    }
    const d = this.#table.get(dest);
    if (!d) return;
    if (d.selected && d.selected.seq >= seq) {
      this.#trigger(dest);
      return;
    }
    if (hops <= 1) return;
    const key = `${dest}\u0000${seq}`;
    const seen = this.#recentRequests.get(key);
    if (seen !== undefined && seen > now) return;
    let via = d.selected?.nextHop;
    if (via === undefined || via === from) {
      via = undefined;
      let bestMetric = Number.POSITIVE_INFINITY;
      for (const [n, r] of d.routes) {
        if (n !== from && this.#neighbours.has(n) && r.metric < bestMetric) {
          via = n;
          bestMetric = r.metric;
        }
      }
    }
    if (via === undefined || via === from) return;
    this.#recentRequests.set(key, now + ROUTING_DEFAULTS.seqRequestMemoryMs);
    this.#send(via, ROUTING_KIND.seqRequest, encodeSeqRequest({ dest, seq, hops: hops - 1 }), 'seqRequestsForwarded');
  }

  // --- routed frames ----------------------------------------------------------------------

  #onData(from: string, body: Uint8Array): void {
    const dec = decodeData(body, this.#maxBody);
    if (!dec.ok) return this.#invalid(from, dec.reason);
    const f = dec.value;
    if (f.dst === this.#self) {
      this.#c.dataDelivered++;
      this.#deliver(f.kind, f.src, f.body.slice());
      return;
    }
    if (f.src === this.#self) {
      // Our own frame came back: a loop formed while it was in flight. Drop it.
      this.#c.droppedLoop++;
      return;
    }
    this.#relay(ROUTING_KIND.data, body, f.ttl, f.dst, f.src);
  }

  #onUnreachable(from: string, body: Uint8Array): void {
    const dec = decodeUnreachable(body);
    if (!dec.ok) return this.#invalid(from, dec.reason);
    const f = dec.value;
    if (f.dst === this.#self) {
      this.#c.unreachableReceived++;
      const info: UnreachableInfo = {
        target: f.target,
        reporter: f.reporter,
        reason: f.reason === UNREACHABLE_REASON.hopLimit ? 'hop-limit' : 'no-route',
      };
      for (const h of this.#unreachableHandlers) {
        try {
          h(info);
        } catch (e) {
          this.#c.handlerErrors++;
          this.#log.warn({ err: (e as Error)?.name }, 'routing: unreachable handler threw');
        }
      }
      return;
    }
    this.#relay(ROUTING_KIND.unreachable, body, f.ttl, f.dst, undefined);
  }

  /**
   * Forward a routed frame one hop: decrement its ttl in a copy and send it to the next hop. A
   * frame that cannot go on is dropped, and the sender of a DATA frame is told (never the sender
   * of a notice, so notices cannot loop or amplify).
   */
  #relay(kind: number, body: Uint8Array, ttl: number, dst: string, notify: string | undefined): void {
    if (ttl <= 1) {
      this.#c.droppedHopLimit++;
      if (notify) this.#notice(notify, dst, UNREACHABLE_REASON.hopLimit);
      return;
    }
    const next = this.#nextHop(dst);
    if (next === undefined) {
      this.#c.droppedNoRoute++;
      if (notify) this.#notice(notify, dst, UNREACHABLE_REASON.noRoute);
      return;
    }
    const copy = body.slice();
    copy[TTL_OFFSET] = ttl - 1;
    this.#send(next, kind, copy, kind === ROUTING_KIND.data ? 'dataForwarded' : 'unreachableSent');
  }

  #notice(to: string, target: string, reason: number): void {
    const now = this.#clock.now();
    const window = Math.floor(now / 1000);
    if (window !== this.#noticeWindow) {
      this.#noticeWindow = window;
      this.#noticeCount = 0;
    }
    if (this.#noticeCount >= ROUTING_DEFAULTS.maxNoticesPerSecond) return;
    const next = this.#nextHop(to);
    if (next === undefined) return;
    this.#noticeCount++;
    const frame = encodeUnreachable({ ttl: this.#maxHops, reason, reporter: this.#self, dst: to, target });
    this.#send(next, ROUTING_KIND.unreachable, frame, 'unreachableSent');
  }

  #deliver(kind: number, src: string, body: Uint8Array): void {
    const set = this.#handlers.get(kind);
    if (!set) return;
    for (const h of set) {
      try {
        h(src, body);
      } catch (e) {
        this.#c.handlerErrors++;
        this.#log.warn({ err: (e as Error)?.name, kind }, 'routing: deliver handler threw');
      }
    }
  }
}

/** Route preference: lower metric, then the current next hop (stability), then newer, then id order. */
function better(a: Selected, b: Selected, current: string | undefined): boolean {
  if (a.metric !== b.metric) return a.metric < b.metric;
  if ((a.nextHop === current) !== (b.nextHop === current)) return a.nextHop === current;
  if (a.seq !== b.seq) return a.seq > b.seq;
  return a.nextHop < b.nextHop;
}
