// Session stores (seed 004: in-memory, Redis, Upstash) behind one interface. A store keeps opaque
// record bytes plus two fields it must update atomically: the generation (compare-and-set for
// rekey/rotate) and last-seen (idle timeout). Replay protection lives here too, as one atomic
// "record this nonce if new" operation that expires with the timestamp window (SPEC @yak/nen).
import { MEMORY_MAX_NONCES, MEMORY_MAX_SESSIONS } from './constants.js';

/** What a store returns for a session id. */
export interface StoredSession {
  data: Uint8Array;
  gen: number;
  lastSeen: number;
}

/** Outcome of recording a request nonce. */
export type AdmitResult = 'ok' | 'replay' | 'full';

/** A replacement written by {@link SessionStore.replace}. */
export interface NextSession {
  sid: string;
  gen: number;
  data: Uint8Array;
}

/**
 * The storage contract. Every method is atomic with respect to the others for the same session.
 * TTLs are milliseconds from now; a store may drop an entry after its TTL.
 */
export interface SessionStore {
  /** Insert a new session; false when the id is taken. */
  create(sid: string, gen: number, data: Uint8Array, lastSeen: number, ttlMs: number): Promise<boolean>;
  get(sid: string): Promise<StoredSession | undefined>;
  /**
   * If `sid` exists with generation `expectedGen`, remove it and store `next` (whose id may differ,
   * for a rotation), keeping last-seen. False otherwise (gone, or changed concurrently).
   */
  replace(sid: string, expectedGen: number, next: NextSession, ttlMs: number): Promise<boolean>;
  delete(sid: string): Promise<boolean>;
  /**
   * Record `nonce` for `sid` if it was not seen within `nonceTtlMs` ('ok'), else 'replay'; on 'ok'
   * set last-seen to `now` and the session TTL to `sessionTtlMs`. 'full' when a bounded store
   * cannot remember another nonce (the request is refused rather than left replayable).
   */
  admit(sid: string, nonce: string, now: number, nonceTtlMs: number, sessionTtlMs: number): Promise<AdmitResult>;
  /** Release connections and memory. */
  close(): Promise<void>;
  /** Counters (SPEC section 2, "Observability"). */
  getStats(): Record<string, number>;
}

export interface MemorySessionStoreOptions {
  /** Most sessions kept; when full, expired ones go first, then the least recently used (default 10,000). */
  maxSessions?: number;
  /** Most nonces remembered; when full of live nonces, requests get ISO-5002 (default 200,000). */
  maxNonces?: number;
  /** Clock (ms), injectable for tests. */
  now?: () => number;
}

interface MemEntry {
  data: Uint8Array;
  gen: number;
  lastSeen: number;
  deadline: number;
}

/**
 * In-process store: bounded maps, no timers (expired entries are swept lazily on use). JavaScript
 * runs each method to completion, so every operation is atomic. One process only.
 */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, MemEntry>();
  // Nonce TTLs are equal, so insertion order is expiry order: sweeping from the head is enough.
  readonly #nonces = new Map<string, number>();
  readonly #maxSessions: number;
  readonly #maxNonces: number;
  readonly #now: () => number;
  readonly #stats = { created: 0, evicted: 0, expired: 0, replays: 0, nonceFull: 0 };

  constructor(opts: MemorySessionStoreOptions = {}) {
    this.#maxSessions = bound(opts.maxSessions ?? MEMORY_MAX_SESSIONS, 'maxSessions');
    this.#maxNonces = bound(opts.maxNonces ?? MEMORY_MAX_NONCES, 'maxNonces');
    this.#now = opts.now ?? Date.now;
  }

  async create(sid: string, gen: number, data: Uint8Array, lastSeen: number, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const cur = this.#live(sid, now);
    if (cur) return false;
    if (this.#sessions.size >= this.#maxSessions) this.#makeRoom(now);
    this.#sessions.set(sid, { data: Uint8Array.from(data), gen, lastSeen, deadline: now + ttlMs });
    this.#stats.created++;
    return true;
  }

  async get(sid: string): Promise<StoredSession | undefined> {
    const e = this.#live(sid, this.#now());
    return e ? { data: Uint8Array.from(e.data), gen: e.gen, lastSeen: e.lastSeen } : undefined;
  }

  async replace(sid: string, expectedGen: number, next: NextSession, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const e = this.#live(sid, now);
    if (!e || e.gen !== expectedGen) return false;
    if (next.sid !== sid && this.#live(next.sid, now)) return false;
    this.#sessions.delete(sid);
    e.data.fill(0);
    this.#sessions.set(next.sid, { data: Uint8Array.from(next.data), gen: next.gen, lastSeen: e.lastSeen, deadline: now + ttlMs });
    return true;
  }

  async delete(sid: string): Promise<boolean> {
    const e = this.#sessions.get(sid);
    if (!e) return false;
    e.data.fill(0);
    this.#sessions.delete(sid);
    return true;
  }

  async admit(sid: string, nonce: string, now: number, nonceTtlMs: number, sessionTtlMs: number): Promise<AdmitResult> {
    const clock = this.#now();
    this.#sweepNonces(clock, 8);
    const key = `${sid}\u0000${nonce}`;
    const seen = this.#nonces.get(key);
    if (seen !== undefined && seen > clock) {
      this.#stats.replays++;
      return 'replay';
    }
    if (this.#nonces.size >= this.#maxNonces) {
      this.#sweepNonces(clock, Number.POSITIVE_INFINITY);
      if (this.#nonces.size >= this.#maxNonces) {
        this.#stats.nonceFull++;
        return 'full';
      }
    }
    this.#nonces.delete(key);
    this.#nonces.set(key, clock + nonceTtlMs);
    const e = this.#sessions.get(sid);
    if (e) {
      e.lastSeen = Math.max(e.lastSeen, now);
      e.deadline = clock + sessionTtlMs;
      // Re-insert: Map order is the LRU order used for eviction.
      this.#sessions.delete(sid);
      this.#sessions.set(sid, e);
    }
    return 'ok';
  }

  async close(): Promise<void> {
    for (const e of this.#sessions.values()) e.data.fill(0);
    this.#sessions.clear();
    this.#nonces.clear();
  }

  getStats(): Record<string, number> {
    return { ...this.#stats, sessions: this.#sessions.size, nonces: this.#nonces.size };
  }

  #live(sid: string, now: number): MemEntry | undefined {
    const e = this.#sessions.get(sid);
    if (!e) return undefined;
    if (e.deadline <= now) {
      e.data.fill(0);
      this.#sessions.delete(sid);
      this.#stats.expired++;
      return undefined;
    }
    return e;
  }

  #makeRoom(now: number): void {
    for (const [sid, e] of this.#sessions) {
      if (e.deadline <= now) {
        e.data.fill(0);
        this.#sessions.delete(sid);
        this.#stats.expired++;
      }
    }
    while (this.#sessions.size >= this.#maxSessions) {
      const [sid, e] = this.#sessions.entries().next().value as [string, MemEntry];
      e.data.fill(0);
      this.#sessions.delete(sid);
      this.#stats.evicted++;
    }
  }

  #sweepNonces(now: number, max: number): void {
    let n = 0;
    for (const [k, exp] of this.#nonces) {
      if (exp > now || n >= max) break;
      this.#nonces.delete(k);
      n++;
    }
  }
}

function bound(n: number, name: string): number {
  if (!Number.isSafeInteger(n)) throw new TypeError(`${name} must be an integer`);
  if (n < 1) throw new RangeError(`${name} must be at least 1`);
  return n;
}
