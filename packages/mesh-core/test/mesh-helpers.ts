// Shared test helpers: a pool of identities generated once per test file (ML-DSA keygen and the
// record signature cost ~15-25 ms each), networks that are always stopped, and a wait helper
// driven by events rather than sleeps.
import { NodeIdentity } from '@yak/crypto';
import { type HandshakeConfig, localRecord, RecordCache, TicketStore } from '../src/handshake.js';
import {
  BOUNDS,
  type DialOptions,
  LINK,
  type ListenOptions,
  type MemoryHub,
  MemoryTransport,
  MeshNetwork,
  type MeshNetworkOptions,
  type Transport,
  type TransportConnection,
  type TransportListener,
} from '../src/index.js';
import { Link, type LinkHost, LinkKind } from '../src/link.js';

const pool: NodeIdentity[] = [];

/** The i-th identity of this file's pool (created on first use, reused across tests). */
export function identity(i: number): NodeIdentity {
  while (pool.length <= i) pool.push(NodeIdentity.generate());
  return pool[i] as NodeIdentity;
}

const live = new Set<MeshNetwork>();

/** A started network on loopback with an ephemeral port (stopped by `stopAll`). */
export async function node(i: number, opts: MeshNetworkOptions = {}): Promise<MeshNetwork> {
  const m = new MeshNetwork(identity(i), { wsPort: 0, host: '127.0.0.1', ...opts });
  live.add(m);
  await m.start();
  return m;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((m) => m.stop()));
  live.clear();
}

/** Resolve when `pred()` holds, checking after every macrotask; reject after `ms`. */
export async function until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolve with the args of the next `type` event on `m`. */
export function next(m: MeshNetwork, type: string): Promise<unknown[]> {
  return new Promise((resolve) => {
    const h = (...args: unknown[]) => {
      m.off(type, h);
      resolve(args);
    };
    m.on(type, h);
  });
}

/** The endpoint of a started network. */
export function ep(m: MeshNetwork): string {
  const e = m.getPublicEndpoint();
  if (!e) throw new Error('not listening');
  return e;
}

/** A manual clock: timers fire only on `advance`. Counts live timers for leak checks. */
export class FakeClock {
  #now = 1_700_000_000_000;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; fn: () => void; every?: number }>();

  now = (): number => this.#now;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.#timers.delete(h as number);
  };
  setInterval = (fn: () => void, ms: number): unknown => {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + ms, fn, every: ms });
    return id;
  };
  clearInterval = (h: unknown): void => {
    this.#timers.delete(h as number);
  };

  /** Live timers and intervals. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Move time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Number.POSITIVE_INFINITY;
      for (const [id, t] of this.#timers) if (t.at <= end && t.at < nextAt) [nextId, nextAt] = [id, t.at];
      if (nextId < 0) break;
      const t = this.#timers.get(nextId) as { at: number; fn: () => void; every?: number };
      this.#now = Math.max(this.#now, t.at);
      if (t.every) t.at += t.every;
      else this.#timers.delete(nextId);
      t.fn();
    }
    this.#now = end;
  }
}

/** Let queued macrotasks (in-memory deliveries, socket I/O) run. */
export function tick(n = 1): Promise<void> {
  return n <= 0 ? Promise.resolve() : new Promise((r) => setImmediate(() => tick(n - 1).then(r)));
}

/**
 * Wraps a transport so a test can see and rewrite every message a node sends (a man in the
 * middle on its own connections). `onSend` returns the bytes to send instead, an array of
 * messages to send in their place (duplicates), or null to drop.
 */
export class TapTransport implements Transport {
  readonly scheme: string;
  onSend: ((data: Uint8Array, conn: TransportConnection) => Uint8Array | Uint8Array[] | null) | undefined;
  /** Every connection this transport opened or accepted. */
  readonly conns: TransportConnection[] = [];
  constructor(readonly inner: Transport) {
    this.scheme = inner.scheme;
  }
  #wrap(c: TransportConnection): TransportConnection {
    const send = c.send.bind(c);
    c.send = (data: Uint8Array) => {
      const out = this.onSend ? this.onSend(data, c) : data;
      if (out === null) return;
      for (const m of Array.isArray(out) ? out : [out]) send(m);
    };
    this.conns.push(c);
    if (this.conns.length > 1000) this.conns.shift();
    return c;
  }
  listen(opts: ListenOptions, onConnection: (conn: TransportConnection) => void): Promise<TransportListener> {
    return this.inner.listen(opts, (c) => onConnection(this.#wrap(c)));
  }
  async dial(endpoint: string, opts: DialOptions): Promise<TransportConnection> {
    return this.#wrap(await this.inner.dial(endpoint, opts));
  }
  openConnections(): number {
    return this.inner.openConnections();
  }
}

/** A started network on an in-memory hub (stopped by `stopAll`). */
export async function memNode(hub: MemoryHub, i: number, opts: MeshNetworkOptions = {}, address = '127.0.0.1'): Promise<MeshNetwork> {
  const m = new MeshNetwork(identity(i), { wsPort: 0, transport: new MemoryTransport({ hub, address }), ...opts });
  live.add(m);
  await m.start();
  return m;
}

/** Track a network created by the test so `stopAll` stops it. */
export function own(m: MeshNetwork): MeshNetwork {
  live.add(m);
  return m;
}

/**
 * Handshake settings of `id` as a MeshNetwork with default options would have them (network
 * 'yakmesh', empty fingerprint), for driving the state machines by hand; `over` replaces fields.
 */
export function handshakeConfig(id: NodeIdentity, over: Partial<HandshakeConfig> = {}): HandshakeConfig {
  const r = localRecord(id);
  return {
    identity: id,
    recordBytes: r.bytes,
    recordHash: r.hash,
    networkId: 'yakmesh',
    fingerprint: new Uint8Array(0),
    records: new RecordCache(),
    tickets: new TicketStore(64),
    now: () => Date.now(),
    ...over,
  };
}

/**
 * An authenticated neighbour of `target` that says whatever it likes in PEERS frames: a real
 * handshake from identity `id` at `address`, then hand-made frames (`advertise` splits entries
 * into frames of at most `BOUNDS.peersPerFrame` lines, the frame limit; `raw` sends one body).
 */
export async function advertiser(hub: MemoryHub, target: MeshNetwork, id: NodeIdentity, address: string) {
  const t = new MemoryTransport({ hub, address });
  const conn = await t.dial(ep(target), { maxPayload: LINK.maxRecordBytes, timeoutMs: 1000 });
  const host: LinkHost = {
    handshake: handshakeConfig(id),
    clock: new FakeClock(),
    handshakeTimeoutMs: 10_000,
    peerCheck: () => undefined,
    onUp: () => {},
    onFrame: () => {},
    onClose: () => {},
    onViolation: () => {},
  };
  const link = new Link(host, conn, { initiator: true });
  await link.ready;
  for (let i = 0; i < 50 && !target.isConnectedTo(id.nodeId); i++) await tick();
  return {
    link,
    advertise(entries: [string, string][]) {
      for (let i = 0; i < entries.length; i += BOUNDS.peersPerFrame) {
        const lines = entries.slice(i, i + BOUNDS.peersPerFrame).map(([n, e]) => `${n} ${e}`);
        link.send(LinkKind.PEERS, new TextEncoder().encode(lines.join('\n')));
      }
    },
    raw(body: Uint8Array) {
      link.send(LinkKind.PEERS, body);
    },
  };
}
