// A small, bounded key-value replication primitive over direct links (docs/protocol/link.md
// section 8, seed 001 sync_request / sync_response / replicate). Last-writer-wins registers with
// Lamport versions; pushes travel to neighbours and on while they change state; pulls page
// through a neighbour's store in key order.
import { type CborValue, decode, encode, isNodeId } from '@yak/crypto';
import { STORE_DEFAULTS } from './constants.js';
import { AbortedError, InvalidArgumentError, PayloadTooLargeError, StoreFullError, TimeoutError, UnreachableError } from './errors.js';
import type { Clock } from './link-layer.js';

/** Frame kinds of the store (0x30-0x3f, link-layer.ts). */
export const StoreKind = {
  SYNC_REQUEST: 0x30,
  SYNC_RESPONSE: 0x31,
  REPLICATE: 0x32,
} as const;

/** One replicated entry. `origin` is the node that wrote this version. */
export interface StoreEntry {
  key: string;
  value: Uint8Array;
  version: number;
  origin: string;
}

/** Options of the replicated store; defaults in `STORE_DEFAULTS`. */
export interface StoreOptions {
  maxEntries?: number;
  maxBytes?: number;
  maxValueBytes?: number;
  maxHops?: number;
  syncTimeoutMs?: number;
  /** Pull a neighbour's entries when a link comes up (default true). */
  syncOnConnect?: boolean;
}

export interface SyncOptions {
  /** Only keys starting with this prefix. */
  prefix?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** What the store needs from the network. */
export interface StoreHost {
  readonly localId: string;
  readonly clock: Clock;
  neighbours(): string[];
  sendFrame(peerId: string, kind: number, body: Uint8Array): boolean;
  misbehaved(peerId: string, reason: string): void;
  observe(kind: number, msg: object, from: string): void;
}

interface Pending {
  peer: string;
  prefix: string;
  applied: number;
  timer: unknown;
  resolve(n: number): void;
  reject(e: Error): void;
  cleanup(): void;
}

const enc = new TextEncoder();

function entrySize(e: StoreEntry): number {
  return e.key.length * 3 + e.value.length + e.origin.length + 16;
}

/** LWW order: higher version wins, then the larger origin id. */
function newer(a: StoreEntry, b: StoreEntry | undefined): boolean {
  if (!b) return true;
  if (a.version !== b.version) return a.version > b.version;
  return a.origin > b.origin;
}

/**
 * Bounded last-writer-wins key-value store replicated between neighbours.
 *
 * - `put` writes locally with a Lamport version above every version seen, then pushes the entry
 *   to every neighbour (`replicate`). A node that accepts a pushed entry (it is newer than what it
 *   holds) forwards it to its other neighbours, up to `maxHops`; an entry that changes nothing
 *   stops there, so a change crosses each link at most once per direction.
 * - `sync(peer)` pulls a neighbour's entries page by page in key order (`sync_request` /
 *   `sync_response`); received entries merge by the same rule.
 * - Bounds: at most `maxEntries` keys and `maxBytes` of data; new keys beyond them are refused
 *   (locally with `StoreFullError`, remotely by dropping them). Values at most `maxValueBytes`.
 *
 * Entries are authenticated hop by hop (each link is), not end to end: `origin` is what the
 * forwarding neighbour reports. Values that need origin authenticity must be signed by the
 * application.
 */
export class ReplicatedStore {
  readonly #host: StoreHost;
  readonly #entries = new Map<string, StoreEntry>();
  readonly #pending = new Map<number, Pending>();
  readonly #changeHandlers = new Set<(entry: StoreEntry, from: string | undefined) => void>();
  readonly #o: Required<StoreOptions>;
  #bytes = 0;
  #lamport = 0;
  #nextId = 1;
  readonly stats = { applied: 0, rejected: 0, dropped: 0, pushesSent: 0, syncsServed: 0 };

  constructor(host: StoreHost, opts: StoreOptions = {}) {
    this.#host = host;
    const d = STORE_DEFAULTS;
    this.#o = {
      maxEntries: opts.maxEntries ?? d.maxEntries,
      maxBytes: opts.maxBytes ?? d.maxBytes,
      maxValueBytes: opts.maxValueBytes ?? d.maxValueBytes,
      maxHops: opts.maxHops ?? d.maxHops,
      syncTimeoutMs: opts.syncTimeoutMs ?? d.syncTimeoutMs,
      syncOnConnect: opts.syncOnConnect ?? true,
    };
    for (const k of ['maxEntries', 'maxBytes', 'maxValueBytes', 'maxHops', 'syncTimeoutMs'] as const) {
      const v = this.#o[k];
      if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`store.${k} must be a positive integer`);
    }
    if (this.#o.maxValueBytes > STORE_DEFAULTS.maxFrameBytes - 1024) {
      throw new InvalidArgumentError(`store.maxValueBytes must be at most ${STORE_DEFAULTS.maxFrameBytes - 1024}`);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get syncOnConnect(): boolean {
    return this.#o.syncOnConnect;
  }

  get(key: string): Uint8Array | undefined {
    return this.#entries.get(key)?.value;
  }

  entry(key: string): StoreEntry | undefined {
    const e = this.#entries.get(key);
    return e ? { ...e } : undefined;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** Write `value` under `key` and push it to every neighbour. Returns the stored entry. */
  put(key: string, value: Uint8Array): StoreEntry {
    this.#checkKey(key);
    if (!(value instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array');
    if (value.length > this.#o.maxValueBytes) throw new PayloadTooLargeError(`value exceeds ${this.#o.maxValueBytes} bytes`);
    const prev = this.#entries.get(key);
    const e: StoreEntry = {
      key,
      value: value.slice(),
      version: Math.max(prev?.version ?? 0, this.#lamport) + 1,
      origin: this.#host.localId,
    };
    if (!this.#fits(e, prev)) throw new StoreFullError('store is full');
    this.#set(e, prev);
    this.#notify(e, undefined);
    this.#push([e], 0, undefined);
    return { ...e };
  }

  /** Subscribe to applied changes (local and remote); returns an unsubscribe function. */
  onChange(handler: (entry: StoreEntry, from: string | undefined) => void): () => void {
    this.#changeHandlers.add(handler);
    return () => this.#changeHandlers.delete(handler);
  }

  /**
   * Pull every entry (or those under `prefix`) from a neighbour, merging as pages arrive.
   * Resolves to the number of entries that changed local state.
   */
  sync(peerId: string, opts: SyncOptions = {}): Promise<number> {
    const prefix = opts.prefix ?? '';
    if (typeof prefix !== 'string' || enc.encode(prefix).length > STORE_DEFAULTS.maxKeyLength)
      return Promise.reject(new InvalidArgumentError('bad prefix'));
    if (!this.#host.neighbours().includes(peerId)) return Promise.reject(new UnreachableError(peerId, 'sync needs a direct link'));
    if (this.#pending.size >= STORE_DEFAULTS.maxPendingSyncs) return Promise.reject(new TimeoutError('too many syncs in flight'));
    if (opts.signal?.aborted) return Promise.reject(new AbortedError());
    return new Promise<number>((resolve, reject) => {
      const id = this.#nextId++ >>> 0;
      const onAbort = () => p.reject(new AbortedError());
      const p: Pending = {
        peer: peerId,
        prefix,
        applied: 0,
        timer: this.#host.clock.setTimeout(() => p.reject(new TimeoutError('sync timed out')), opts.timeoutMs ?? this.#o.syncTimeoutMs),
        cleanup: () => {
          this.#host.clock.clearTimeout(p.timer);
          this.#pending.delete(id);
          opts.signal?.removeEventListener('abort', onAbort);
        },
        resolve: (n) => {
          p.cleanup();
          resolve(n);
        },
        reject: (e) => {
          p.cleanup();
          reject(e);
        },
      };
      this.#pending.set(id, p);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.#request(id, p, '');
    });
  }

  #request(id: number, p: Pending, after: string): void {
    const body = encode({ id, prefix: p.prefix, after });
    if (!this.#host.sendFrame(p.peer, StoreKind.SYNC_REQUEST, body)) p.reject(new UnreachableError(p.peer, 'link closed or congested'));
  }

  /** @internal a neighbour's link went down: fail its syncs. */
  peerDown(peerId: string): void {
    for (const p of [...this.#pending.values()]) if (p.peer === peerId) p.reject(new UnreachableError(peerId, 'link closed during sync'));
  }

  /** @internal cancel everything (network stop). */
  close(): void {
    for (const p of [...this.#pending.values()]) p.reject(new AbortedError('network stopped'));
  }

  /** @internal handle a store frame from a neighbour. Returns false when the frame is malformed. */
  handleFrame(from: string, kind: number, body: Uint8Array): boolean {
    let msg: Record<string, CborValue>;
    try {
      const v = decode(body, { maxDepth: 4, maxLength: STORE_DEFAULTS.maxFrameBytes + 16 * 1024 });
      if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return false;
      msg = v as Record<string, CborValue>;
    } catch {
      return false;
    }
    if (kind === StoreKind.SYNC_REQUEST) return this.#serve(from, msg);
    if (kind === StoreKind.SYNC_RESPONSE) return this.#response(from, msg);
    if (kind === StoreKind.REPLICATE) return this.#replicate(from, msg);
    return false;
  }

  #serve(from: string, m: Record<string, CborValue>): boolean {
    const { id, prefix, after } = m;
    if (!isU32(id) || typeof prefix !== 'string' || typeof after !== 'string' || Object.keys(m).length !== 3) return false;
    if (prefix.length > STORE_DEFAULTS.maxKeyLength || after.length > STORE_DEFAULTS.maxKeyLength) return false;
    this.#host.observe(StoreKind.SYNC_REQUEST, { type: 'sync_request', prefix, after }, from);
    const keys = [...this.#entries.keys()].filter((k) => k > after && k.startsWith(prefix)).sort();
    const out: CborValue[] = [];
    let bytes = 0;
    let i = 0;
    for (; i < keys.length && out.length < STORE_DEFAULTS.maxEntriesPerFrame; i++) {
      const e = this.#entries.get(keys[i] as string) as StoreEntry;
      const sz = entrySize(e);
      if (out.length > 0 && bytes + sz > STORE_DEFAULTS.maxFrameBytes) break;
      bytes += sz;
      out.push([e.key, e.value, e.version, e.origin]);
    }
    this.stats.syncsServed++;
    this.#host.sendFrame(from, StoreKind.SYNC_RESPONSE, encode({ id, entries: out, more: i < keys.length }));
    return true;
  }

  #response(from: string, m: Record<string, CborValue>): boolean {
    const { id, entries, more } = m;
    if (!isU32(id) || typeof more !== 'boolean' || Object.keys(m).length !== 3) return false;
    const parsed = this.#parseEntries(entries);
    if (!parsed) return false;
    const p = this.#pending.get(id);
    // A response nobody asked for (late, or from another peer) is ignored, not applied.
    if (!p || p.peer !== from) return true;
    this.#host.observe(StoreKind.SYNC_RESPONSE, { type: 'sync_response', entries: parsed.length, more }, from);
    const changed = this.#apply(parsed, from);
    p.applied += changed.length;
    if (changed.length) this.#push(changed, 1, from);
    const last = parsed[parsed.length - 1];
    if (more && last) this.#request(id, p, last.key);
    else p.resolve(p.applied);
    return true;
  }

  #replicate(from: string, m: Record<string, CborValue>): boolean {
    const { hops, entries } = m;
    if (!Number.isSafeInteger(hops) || (hops as number) < 0 || (hops as number) > 255 || Object.keys(m).length !== 2) return false;
    const parsed = this.#parseEntries(entries);
    if (!parsed) return false;
    this.#host.observe(StoreKind.REPLICATE, { type: 'replicate', entries: parsed.length, hops }, from);
    const changed = this.#apply(parsed, from);
    if (changed.length && (hops as number) + 1 < this.#o.maxHops) this.#push(changed, (hops as number) + 1, from);
    return true;
  }

  #parseEntries(v: CborValue | undefined): StoreEntry[] | undefined {
    if (!Array.isArray(v) || v.length > STORE_DEFAULTS.maxEntriesPerFrame) return undefined;
    const out: StoreEntry[] = [];
    for (const item of v) {
      if (!Array.isArray(item) || item.length !== 4) return undefined;
      const [key, value, version, origin] = item;
      if (typeof key !== 'string' || key.length === 0 || enc.encode(key).length > STORE_DEFAULTS.maxKeyLength) return undefined;
      if (!(value instanceof Uint8Array) || value.length > this.#o.maxValueBytes) return undefined;
      if (!Number.isSafeInteger(version) || (version as number) < 1) return undefined;
      if (!isNodeId(origin)) return undefined;
      out.push({ key, value, version: version as number, origin });
    }
    return out;
  }

  #apply(entries: StoreEntry[], from: string): StoreEntry[] {
    const changed: StoreEntry[] = [];
    for (const e of entries) {
      this.#lamport = Math.max(this.#lamport, e.version);
      const prev = this.#entries.get(e.key);
      if (!newer(e, prev)) continue;
      if (!this.#fits(e, prev)) {
        this.stats.dropped++;
        continue;
      }
      const copy = { ...e, value: e.value.slice() };
      this.#set(copy, prev);
      this.stats.applied++;
      changed.push(copy);
      this.#notify(copy, from);
    }
    return changed;
  }

  #fits(e: StoreEntry, prev: StoreEntry | undefined): boolean {
    if (!prev && this.#entries.size >= this.#o.maxEntries) return false;
    return this.#bytes - (prev ? entrySize(prev) : 0) + entrySize(e) <= this.#o.maxBytes;
  }

  #set(e: StoreEntry, prev: StoreEntry | undefined): void {
    if (prev) this.#bytes -= entrySize(prev);
    this.#bytes += entrySize(e);
    this.#entries.set(e.key, e);
    this.#lamport = Math.max(this.#lamport, e.version);
  }

  #push(entries: StoreEntry[], hops: number, except: string | undefined): void {
    const peers = this.#host.neighbours().filter((p) => p !== except);
    if (peers.length === 0) return;
    // Split into frames within the per-frame bounds.
    let batch: CborValue[] = [];
    let bytes = 0;
    const flush = () => {
      if (!batch.length) return;
      const body = encode({ hops, entries: batch });
      for (const p of peers) if (this.#host.sendFrame(p, StoreKind.REPLICATE, body)) this.stats.pushesSent++;
      batch = [];
      bytes = 0;
    };
    for (const e of entries) {
      const sz = entrySize(e);
      if (batch.length >= STORE_DEFAULTS.maxEntriesPerFrame || (batch.length > 0 && bytes + sz > STORE_DEFAULTS.maxFrameBytes)) flush();
      batch.push([e.key, e.value, e.version, e.origin]);
      bytes += sz;
    }
    flush();
  }

  #notify(e: StoreEntry, from: string | undefined): void {
    for (const h of this.#changeHandlers) {
      try {
        h({ ...e }, from);
      } catch {
        // A subscriber's bug must not break replication.
      }
    }
  }

  #checkKey(key: string): void {
    if (typeof key !== 'string') throw new TypeError('key must be a string');
    const n = enc.encode(key).length;
    if (n === 0 || n > STORE_DEFAULTS.maxKeyLength) throw new RangeError(`key must be 1..${STORE_DEFAULTS.maxKeyLength} bytes`);
  }

  getStats(): { entries: number; bytes: number; pendingSyncs: number } & ReplicatedStore['stats'] {
    return { entries: this.#entries.size, bytes: this.#bytes, pendingSyncs: this.#pending.size, ...this.stats };
  }
}

function isU32(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
}
