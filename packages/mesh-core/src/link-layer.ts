// The contract between the link layer (authenticated encrypted links to direct neighbours) and
// the protocols that run over it (gossip, routing, sync). Gossip and routing are written and
// tested against this interface alone, with an in-memory fake; MeshNetwork provides the real one.

/** A directly connected, authenticated neighbour. */
export interface LinkPeer {
  /** Verified node id (derived from the peer's ML-DSA key, SPEC section 2). */
  nodeId: string;
  /** Measured or estimated round-trip time in ms, if known. */
  rttMs?: number;
}

/**
 * Frame kinds carried inside an authenticated link. Each protocol owns a range:
 * 0x00-0x0f link control (ping/pong/close), 0x10-0x1f gossip, 0x20-0x2f routing,
 * 0x30-0x3f sync/replicate, 0x40-0xff application/upper layers (annex, beacon, ...).
 */
export type FrameKind = number;

export interface LinkLayer {
  /** This node's id. */
  readonly localId: string;
  /** Currently connected neighbours. */
  peers(): LinkPeer[];
  /**
   * Send one frame to a neighbour over its encrypted link. Returns false if the peer is not
   * connected or its send queue is full (backpressure); never throws for those cases.
   */
  send(peerId: string, kind: FrameKind, body: Uint8Array): boolean;
  /** Subscribe to frames of one kind from neighbours; returns an unsubscribe function. */
  onFrame(kind: FrameKind, handler: (from: string, body: Uint8Array) => void): () => void;
  /** Subscribe to neighbour up/down events; returns an unsubscribe function. */
  onPeer(handler: (event: 'up' | 'down', peer: LinkPeer) => void): () => void;
  /** Report a misbehaving neighbour (bad frame, forged gossip): lowers reputation, may ban. */
  reportMisbehavior(peerId: string, reason: string, severity?: number): void;
}

/** Injectable clock and timers, so time-based behaviour is testable with a fake clock. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** The real clock. Timers are unref'd so they never keep a process alive on their own. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => {
    const t = setInterval(fn, ms);
    t.unref?.();
    return t;
  },
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

/** Optional pino-compatible logger; silent by default (SPEC section 2, "Observability"). */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
