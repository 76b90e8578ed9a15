// Server-side session records and their canonical encoding for the store (nen.md section 5).
// Records hold secret keys; with `sessionEncryptionKey` they are sealed (AES-256-GCM, AAD = label
// and session id) before they leave the process, which matters for shared stores (Redis, Upstash).
import {
  type Aead,
  aes256gcm,
  chacha20poly1305,
  concatBytes,
  constantTimeEqual,
  decode,
  encode,
  randomBytes,
  utf8,
  wipe,
} from '@yak/crypto';
import { KEY_BYTES, LABEL, SID_BYTES } from './constants.js';
import { NenServiceError } from './errors.js';
import { type SessionKeys, wipeKeys } from './handshake.js';

export interface SessionRecord {
  sid: Uint8Array;
  /** Generation: +1 on every rekey and rotation. */
  gen: number;
  createdAt: number;
  /** Absolute expiry, fixed at the handshake; rekey and rotate copy it unchanged. */
  expiresAt: number;
  idleTtlMs: number;
  keys: SessionKeys;
  /** When the keys were last replaced (handshake or rekey). */
  keyedAt: number;
  clientKey: Uint8Array | null;
  clientId: string | null;
}

const VERSION = 1;

export function encodeRecord(r: SessionRecord, sealKey?: Uint8Array): Uint8Array {
  const plain = encode({
    v: VERSION,
    gen: r.gen,
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    idleTtlMs: r.idleTtlMs,
    keyedAt: r.keyedAt,
    k: [r.keys.c2sKey, r.keys.s2cKey, r.keys.c2sMac, r.keys.s2cMac, r.keys.chain],
    ck: r.clientKey,
    cid: r.clientId,
  });
  if (!sealKey) return plain;
  const n = randomBytes(12);
  const sealed = aes256gcm(sealKey).seal(n, plain, concatBytes(utf8(LABEL.session), r.sid));
  wipe(plain);
  return concatBytes(n, sealed);
}

function corrupt(why: string): NenServiceError {
  return new NenServiceError('ISO-9001', { message: `stored session is unreadable (${why})` });
}

export function decodeRecord(sid: Uint8Array, data: Uint8Array, sealKey?: Uint8Array): SessionRecord {
  let plain = data;
  if (sealKey) {
    if (data.length < 12 + 16) throw corrupt('short');
    try {
      plain = aes256gcm(sealKey).open(data.subarray(0, 12), data.subarray(12), concatBytes(utf8(LABEL.session), sid));
    } catch {
      throw corrupt('seal');
    }
  }
  let v: unknown;
  try {
    v = decode(plain, { maxDepth: 2, maxLength: 16 * 1024 });
  } catch {
    throw corrupt('encoding');
  } finally {
    if (sealKey) wipe(plain);
  }
  const o = v as Record<string, unknown>;
  const int = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  if (typeof o !== 'object' || o === null || o.v !== VERSION) throw corrupt('version');
  if (!int(o.gen) || !int(o.createdAt) || !int(o.expiresAt) || !int(o.idleTtlMs) || !int(o.keyedAt)) throw corrupt('fields');
  const k = o.k as unknown[];
  if (!Array.isArray(k) || k.length !== 5 || !k.every((x) => x instanceof Uint8Array && x.length === KEY_BYTES)) throw corrupt('keys');
  if (o.ck !== null && !(o.ck instanceof Uint8Array)) throw corrupt('client key');
  if (o.cid !== null && typeof o.cid !== 'string') throw corrupt('client id');
  if (sid.length !== SID_BYTES) throw corrupt('sid');
  const [c2sKey, s2cKey, c2sMac, s2cMac, chain] = k as Uint8Array[];
  return {
    sid,
    gen: o.gen as number,
    createdAt: o.createdAt as number,
    expiresAt: o.expiresAt as number,
    idleTtlMs: o.idleTtlMs as number,
    keyedAt: o.keyedAt as number,
    keys: { c2sKey: c2sKey!, s2cKey: s2cKey!, c2sMac: c2sMac!, s2cMac: s2cMac!, chain: chain! },
    clientKey: (o.ck as Uint8Array | null) ?? null,
    clientId: (o.cid as string | null) ?? null,
  };
}

/** A decoded session held in memory with its prepared AEADs, shared by the requests in flight. */
export interface CachedSession {
  /** The stored bytes it was decoded from: a hit needs exactly these bytes in the store. */
  readonly data: Uint8Array;
  readonly record: SessionRecord;
  /** AEADs with the key prepared once (c2s opens requests, s2c seals responses). */
  readonly c2s: Aead;
  readonly s2c: Aead;
}

interface CacheEntry extends CachedSession {
  users: number;
  dead: boolean;
  usedAt: number;
}

/**
 * Bounded LRU of decoded sessions (nen.md section 5, "Server state"). Decoding a record and
 * preparing its keys on every request cost more than the request's own cryptography. The store
 * stays the authority: every request still reads it, and an entry is used only when the stored
 * generation and bytes are identical, so a rekey, rotation or termination on any instance is
 * seen at once. An entry's keys are wiped when it is evicted, replaced or unused for `idleMs`
 * (so keys of a session rekeyed or ended through another instance do not linger here), once no
 * request in flight still uses it.
 */
export class SessionCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #max: number;
  readonly #idleMs: number;
  readonly #now: () => number;

  constructor(max: number, idleMs: number, now: () => number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('session cache size must be a positive integer');
    if (!Number.isSafeInteger(idleMs) || idleMs < 1) throw new RangeError('session cache idle time must be a positive integer');
    this.#max = max;
    this.#idleMs = idleMs;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Acquire the entry decoded from exactly `data`; a stale entry is dropped. Call release() after. */
  acquire(sid: string, gen: number, data: Uint8Array): CachedSession | undefined {
    const t = this.sweep();
    const e = this.#entries.get(sid);
    if (!e) return undefined;
    if (e.record.gen !== gen || !constantTimeEqual(e.data, data)) {
      this.drop(sid);
      return undefined;
    }
    // Re-insert: Map order is the LRU order used for eviction.
    this.#entries.delete(sid);
    this.#entries.set(sid, e);
    e.usedAt = t;
    e.users++;
    return e;
  }

  /** Insert a freshly decoded record (taking over its keys), acquired once. */
  insert(sid: string, data: Uint8Array, record: SessionRecord): CachedSession {
    const t = this.sweep();
    this.drop(sid);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.drop(oldest);
    }
    const e: CacheEntry = {
      // A copy: some stores hand out their own buffer, and destroy() zeroes this one.
      data: Uint8Array.from(data),
      record,
      c2s: chacha20poly1305(record.keys.c2sKey),
      s2c: chacha20poly1305(record.keys.s2cKey),
      users: 1,
      dead: false,
      usedAt: t,
    };
    this.#entries.set(sid, e);
    return e;
  }

  release(s: CachedSession): void {
    const e = s as CacheEntry;
    e.users--;
    if (e.dead && e.users <= 0) destroy(e);
  }

  /** Forget a session (replaced, terminated or evicted); its keys are wiped once unused. */
  drop(sid: string): void {
    const e = this.#entries.get(sid);
    if (!e) return;
    this.#entries.delete(sid);
    e.dead = true;
    if (e.users <= 0) destroy(e);
  }

  /** Drop entries unused for the idle time; Map order is use order, so stop at the first fresh one. */
  sweep(): number {
    const t = this.#now();
    for (const [sid, e] of this.#entries) {
      if (e.usedAt + this.#idleMs > t) break;
      this.drop(sid);
    }
    return t;
  }

  clear(): void {
    for (const sid of [...this.#entries.keys()]) this.drop(sid);
  }
}

function destroy(e: CacheEntry): void {
  wipeKeys(e.record.keys);
  e.c2s.destroy();
  e.s2c.destroy();
  e.data.fill(0);
}
