// In-memory transport: the same message-pipe contract as WebSockets, so simulations of hundreds
// of nodes run the real handshake, record layer and defenses without sockets (SPEC section 3).
import { type Clock, systemClock } from '../link-layer.js';
import type { DialOptions, ListenOptions, Transport, TransportConnection, TransportListener } from './types.js';

/** Options of {@link MemoryTransport}. */
export interface MemoryTransportOptions {
  /** The shared hub every simulated node of one network uses. */
  hub: MemoryHub;
  /** Simulated IP address of this node (default '127.0.0.1'); seen by peers as `remoteAddress`. */
  address?: string;
  /** One-way delivery latency in ms (default 0: next macrotask). Uses `clock` when > 0. */
  latencyMs?: number;
  clock?: Clock;
}

type Accept = (conn: MemoryConnection) => void;
interface Bound {
  accept: Accept;
  maxPayload: number;
  transport: MemoryTransport;
}

/** Registry of in-memory listeners, keyed by `host:port`. One per simulated network. */
export class MemoryHub {
  readonly #listeners = new Map<string, Bound>();
  #nextPort = 40_000;

  /** @internal */
  bind(host: string, port: number, bound: Bound): number {
    let p = port;
    if (p === 0) {
      do p = this.#nextPort++;
      while (this.#listeners.has(`${host}:${p}`));
    }
    const key = `${host}:${p}`;
    if (this.#listeners.has(key)) {
      const err = new Error(`address in use ${key}`) as Error & { code: string };
      err.code = 'EADDRINUSE';
      throw err;
    }
    this.#listeners.set(key, bound);
    return p;
  }

  /** @internal */
  unbind(host: string, port: number): void {
    this.#listeners.delete(`${host}:${port}`);
  }

  /** @internal */
  lookup(host: string, port: number): Bound | undefined {
    return this.#listeners.get(`${host}:${port}`) ?? this.#listeners.get(`0.0.0.0:${port}`);
  }

  /** Number of bound listeners. */
  get size(): number {
    return this.#listeners.size;
  }
}

const CLOSE = Symbol('close');
type Item = Uint8Array | { [CLOSE]: true; code: number; reason: string };

/** One end of an in-memory duplex pair. */
class MemoryConnection implements TransportConnection {
  onMessage: ((data: Uint8Array) => void) | undefined;
  onClose: ((code: number, reason: string) => void) | undefined;
  peer!: MemoryConnection;
  /** Accepted-connection set of the listener that owns this end, if any. */
  owner: Set<MemoryConnection> | undefined;
  #queue: Item[] = [];
  #buffered = 0;
  #scheduled = false;
  #closing = false;
  #closed = false;

  constructor(
    readonly remoteAddress: string,
    readonly maxPayload: number,
    private readonly transport: MemoryTransport,
  ) {}

  get bufferedAmount(): number {
    return this.#buffered;
  }

  send(data: Uint8Array): void {
    if (this.#closing || this.#closed) return;
    if (data.length > this.peer.maxPayload) {
      // Same outcome as ws: the receiver closes with 1009 (message too big).
      this.close(1009, 'message too big');
      return;
    }
    const copy = data.slice();
    this.#buffered += copy.length;
    this.transport.schedule(() => {
      this.#buffered -= copy.length;
      this.peer.#deliver(copy);
    });
  }

  close(code = 1000, reason = ''): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    // Messages already sent arrive before the close, as with a WebSocket close frame. This end
    // is finished at once, so a closing node never waits on simulated latency.
    this.transport.schedule(() => this.peer.#deliver({ [CLOSE]: true, code, reason }));
    this.#finish(code, reason);
  }

  #deliver(item: Item): void {
    if (this.#closed) return;
    this.#queue.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#drain());
    }
  }

  #drain(): void {
    this.#scheduled = false;
    const q = this.#queue;
    this.#queue = [];
    for (const item of q) {
      if (this.#closed) return;
      if (item instanceof Uint8Array) {
        if (!this.#closing) this.onMessage?.(item);
      } else {
        this.#closing = true;
        this.#finish(item.code, item.reason);
      }
    }
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.transport.release(this);
    const cb = this.onClose;
    this.onClose = undefined;
    this.onMessage = undefined;
    cb?.(code, reason);
  }
}

function parseMem(endpoint: string): { host: string; port: number } | undefined {
  const m = /^mem:\/\/([A-Za-z0-9._:-]{1,128}?):(\d{1,5})$/.exec(endpoint);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] as string, port };
}

/**
 * A transport whose endpoints are `mem://<address>:<port>` on a shared {@link MemoryHub}.
 * Messages are copied, delivered in order, after `latencyMs` (or on the next macrotask).
 */
export class MemoryTransport implements Transport {
  readonly scheme = 'mem';
  readonly hub: MemoryHub;
  readonly address: string;
  readonly #latency: number;
  readonly #clock: Clock;
  readonly #open = new Set<MemoryConnection>();
  #immediate: (() => void)[] = [];
  #immediateHandle: ReturnType<typeof setImmediate> | undefined;
  #timers = new Set<unknown>();

  constructor(opts: MemoryTransportOptions) {
    if (!(opts?.hub instanceof MemoryHub)) throw new TypeError('hub must be a MemoryHub');
    this.hub = opts.hub;
    this.address = opts.address ?? '127.0.0.1';
    this.#latency = opts.latencyMs ?? 0;
    if (!Number.isFinite(this.#latency) || this.#latency < 0) throw new RangeError('latencyMs must be >= 0');
    this.#clock = opts.clock ?? systemClock;
  }

  /** @internal run `fn` after the configured latency, in order. */
  schedule(fn: () => void): void {
    if (this.#latency > 0) {
      const h = this.#clock.setTimeout(() => {
        this.#timers.delete(h);
        fn();
      }, this.#latency);
      this.#timers.add(h);
      return;
    }
    this.#immediate.push(fn);
    if (this.#immediateHandle === undefined) {
      this.#immediateHandle = setImmediate(() => {
        this.#immediateHandle = undefined;
        const batch = this.#immediate;
        this.#immediate = [];
        for (const f of batch) f();
      });
    }
  }

  /** @internal */
  release(c: MemoryConnection): void {
    this.#open.delete(c);
    c.owner?.delete(c);
  }

  openConnections(): number {
    return this.#open.size;
  }

  async listen(opts: ListenOptions, onConnection: (conn: TransportConnection) => void): Promise<TransportListener> {
    const host = opts.host === '0.0.0.0' || opts.host === '::' ? this.address : opts.host;
    const accepted = new Set<MemoryConnection>();
    const port = this.hub.bind(host, opts.port, {
      accept: (conn) => {
        this.#open.add(conn);
        accepted.add(conn);
        conn.owner = accepted;
        onConnection(conn);
      },
      maxPayload: opts.maxPayload,
      transport: this,
    });
    return {
      port,
      host,
      close: async () => {
        this.hub.unbind(host, port);
        for (const c of [...accepted]) c.close(1001, 'server closing');
      },
    };
  }

  async dial(endpoint: string, opts: DialOptions): Promise<TransportConnection> {
    if (opts.signal?.aborted) throw Object.assign(new Error('aborted'), { code: 'ABORT_ERR' });
    const target = parseMem(endpoint);
    if (!target) throw Object.assign(new Error(`not a mem:// endpoint: ${endpoint.slice(0, 64)}`), { code: 'EINVAL' });
    const l = this.hub.lookup(target.host, target.port);
    if (!l) throw Object.assign(new Error(`connection refused ${target.host}:${target.port}`), { code: 'ECONNREFUSED' });
    const client = new MemoryConnection(target.host, opts.maxPayload, this);
    const server = new MemoryConnection(this.address, l.maxPayload, l.transport);
    client.peer = server;
    server.peer = client;
    this.#open.add(client);
    l.accept(server);
    return client;
  }

  /** Cancel pending deliveries (used by tests after stopping every node). */
  dispose(): void {
    for (const h of this.#timers) this.#clock.clearTimeout(h);
    this.#timers.clear();
    if (this.#immediateHandle !== undefined) clearImmediate(this.#immediateHandle);
    this.#immediateHandle = undefined;
    this.#immediate = [];
  }
}
