// Replay defense (seed 001 "Replay Defense"; SPEC section 2 "Replay"): a nonce registry, a
// timestamp window and per-sender RFC 6479 sequence windows.
import { randomBytes, toBase64url, toHex } from '@yak/crypto';
import { NONCE_DEFAULTS, SEQUENCE_DEFAULTS, TIMESTAMP_DEFAULTS } from './constants.js';
import { InvalidOptionsError } from './errors.js';
import { type Clock, isKey, optClock, optInt, readOptions } from './options.js';

/** Stable codes of a rejected nonce, timestamp or sequence number. */
export type ReplayCode = 'malformed' | 'replay' | 'expired' | 'future' | 'too_old' | 'capacity';

/** Result of a replay check (seed 001 shape `{ valid, reason }`). */
export interface ReplayResult {
  valid: boolean;
  code?: ReplayCode;
  reason?: string;
}

const OK: ReplayResult = Object.freeze({ valid: true });
const bad = (code: ReplayCode, reason: string): ReplayResult => ({ valid: false, code, reason });
const REPLAY = Object.freeze(bad('replay', 'sequence already received'));
const TOO_OLD = Object.freeze(bad('too_old', 'sequence is behind the window'));

/** Options of {@link NonceRegistry}; defaults in `NONCE_DEFAULTS`. */
export interface NonceRegistryOptions {
  /** How long a seen nonce is remembered, in ms. */
  maxAge?: number;
  /** Bound on remembered nonces. */
  maxSize?: number;
  /** Bytes of randomness in a generated nonce (8..64). */
  nonceBytes?: number;
  /** Text encoding of generated nonces. */
  encoding?: 'hex' | 'base64url';
  now?: Clock;
}

const NONCE_CHARS = /^[A-Za-z0-9_-]+$/;

/**
 * Remembers nonces seen within `maxAge` and rejects any second use.
 *
 * Full registry: fail closed. When `maxSize` live nonces are remembered, new nonces are rejected
 * (`capacity`) until old ones expire; no live nonce is ever evicted, because an evicted nonce
 * could be replayed. Size `maxSize` above the nonce rate you accept per `maxAge` (rate-limit
 * peers first) and keep one registry per authenticated peer where a peer could fill a shared one.
 *
 * A nonce is remembered only for `maxAge`: pass the message timestamp to
 * {@link NonceRegistry.validate} (or check it with a {@link TimestampValidator} whose `maxAge`
 * is at most this one) so a message older than the memory is rejected as `expired`.
 */
export class NonceRegistry {
  readonly #maxAge: number;
  readonly #maxSize: number;
  readonly #bytes: number;
  readonly #encoding: 'hex' | 'base64url';
  readonly #now: Clock;
  /**
   * nonce -> time it may be forgotten. Insertion order is nearly expiry order, so expiry pops
   * from the front; an entry kept longer (future timestamp) only delays later ones, never drops one early.
   */
  readonly #seen = new Map<string, number>();
  #replays = 0;
  #rejectedFull = 0;

  constructor(options?: NonceRegistryOptions) {
    const C = 'NonceRegistry';
    const o = readOptions(options, C);
    const d = NONCE_DEFAULTS;
    this.#maxAge = optInt(o, C, 'maxAge', d.maxAge, 1);
    this.#maxSize = optInt(o, C, 'maxSize', d.maxSize, 1);
    this.#bytes = optInt(o, C, 'nonceBytes', d.nonceBytes, 8, 64);
    const enc = o.encoding ?? d.encoding;
    if (enc !== 'hex' && enc !== 'base64url') throw new InvalidOptionsError(`${C}: encoding must be 'hex' or 'base64url'`);
    this.#encoding = enc;
    this.#now = optClock(o, C);
  }

  /** A fresh nonce from the CSPRNG (not recorded: it is for an outgoing message). */
  generate(): string {
    const b = randomBytes(this.#bytes);
    return this.#encoding === 'hex' ? toHex(b) : toBase64url(b);
  }

  /**
   * Accepts a nonce once. `timestamp` (ms since the epoch), when given, must be less than
   * `maxAge` old (an older nonce may already have been forgotten) and at most `maxAge` ahead.
   */
  validate(nonce: string, timestamp?: number): ReplayResult {
    if (
      typeof nonce !== 'string' ||
      nonce.length < NONCE_DEFAULTS.minNonceLength ||
      nonce.length > NONCE_DEFAULTS.maxNonceLength ||
      !NONCE_CHARS.test(nonce)
    ) {
      return bad('malformed', 'nonce must be 8-128 base64url or hex characters');
    }
    const now = this.#now();
    let keepUntil = now + this.#maxAge;
    if (timestamp !== undefined) {
      if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) return bad('malformed', 'timestamp must be a finite number');
      // Accept only while a nonce seen with this timestamp is certain to be remembered: it is
      // kept until max(seen, timestamp) + maxAge, and accepted while now < timestamp + maxAge.
      if (now - timestamp >= this.#maxAge) return bad('expired', 'message is older than the nonce memory');
      if (timestamp - now > this.#maxAge) return bad('future', 'timestamp is too far in the future');
      keepUntil = Math.max(now, timestamp) + this.#maxAge;
    }
    this.#expire(now);
    if (this.#seen.has(nonce)) {
      this.#replays++;
      return bad('replay', 'nonce already used');
    }
    if (this.#seen.size >= this.#maxSize) {
      this.#rejectedFull++;
      return bad('capacity', 'nonce registry is full');
    }
    this.#seen.set(nonce, keepUntil);
    return OK;
  }

  /** True when `nonce` is remembered as used. */
  has(nonce: string): boolean {
    this.#expire(this.#now());
    return typeof nonce === 'string' && this.#seen.has(nonce);
  }

  get size(): number {
    return this.#seen.size;
  }

  getStats(): { size: number; maxSize: number; replaysRejected: number; rejectedFull: number } {
    return { size: this.#seen.size, maxSize: this.#maxSize, replaysRejected: this.#replays, rejectedFull: this.#rejectedFull };
  }

  #expire(now: number): void {
    for (const [n, until] of this.#seen) {
      if (now < until) break;
      this.#seen.delete(n);
    }
  }
}

/** Options of {@link TimestampValidator}; defaults in `TIMESTAMP_DEFAULTS`. */
export interface TimestampValidatorOptions {
  /** Oldest accepted age in ms. */
  maxAge?: number;
  /** Furthest accepted time ahead of the local clock in ms. */
  maxFutureSkew?: number;
  now?: Clock;
}

/** Accepts timestamps (ms since the epoch) within `[now - maxAge, now + maxFutureSkew]`. */
export class TimestampValidator {
  readonly #maxAge: number;
  readonly #skew: number;
  readonly #now: Clock;

  constructor(options?: TimestampValidatorOptions) {
    const C = 'TimestampValidator';
    const o = readOptions(options, C);
    this.#maxAge = optInt(o, C, 'maxAge', TIMESTAMP_DEFAULTS.maxAge, 0);
    this.#skew = optInt(o, C, 'maxFutureSkew', TIMESTAMP_DEFAULTS.maxFutureSkew, 0);
    this.#now = optClock(o, C);
  }

  get maxAge(): number {
    return this.#maxAge;
  }

  validate(timestamp: number): ReplayResult {
    if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0)
      return bad('malformed', 'timestamp must be a finite non-negative number');
    const now = this.#now();
    if (timestamp < now - this.#maxAge) return bad('expired', 'timestamp is too old');
    if (timestamp > now + this.#skew) return bad('future', 'timestamp is too far in the future');
    return OK;
  }
}

function badInput(senderId: unknown, seq: unknown): ReplayResult | undefined {
  if (!isKey(senderId, 256)) return bad('malformed', 'senderId must be a non-empty string of at most 256 characters');
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return bad('malformed', 'sequence must be a safe integer >= 0');
  return undefined;
}

/** Options of {@link SequenceTracker}; defaults in `SEQUENCE_DEFAULTS`. */
export interface SequenceTrackerOptions {
  /** Window in sequence numbers: a multiple of 32, at least 1024 (SPEC section 2). */
  windowSize?: number;
  /** Bound on tracked senders. */
  maxSenders?: number;
}

interface SenderWindow {
  /** Highest accepted sequence number, -1 before the first. */
  top: number;
  /** Ring of 32-bit blocks (RFC 6479 section 2): a power of two above windowSize / 32, so at least one spare block. */
  bits: Uint32Array;
}

/**
 * Per-sender anti-replay window after RFC 6479: a ring bitmap of blocks so advancing the window
 * clears whole blocks instead of shifting bits. Sequence numbers are safe integers >= 0.
 *
 * Accepts a number once if it is above the highest seen, or within `windowSize` below it and not
 * seen before. Use {@link SequenceTracker.check} before authenticating a frame and
 * {@link SequenceTracker.commit} after, so forged frames cannot advance the window (SPEC
 * section 2: "updated only after authentication succeeds").
 *
 * Full tracker: fail closed. Forgetting a sender would let its old frames be replayed, so when
 * `maxSenders` are tracked a new sender is rejected (`capacity`) until
 * {@link SequenceTracker.remove} releases one (call it when a session's keys are discarded).
 */
export class SequenceTracker {
  readonly #window: number;
  readonly #blocks: number;
  readonly #mask: number;
  readonly #maxSenders: number;
  readonly #senders = new Map<string, SenderWindow>();
  #replays = 0;
  #tooOld = 0;

  constructor(options?: SequenceTrackerOptions) {
    const C = 'SequenceTracker';
    const o = readOptions(options, C);
    const w = optInt(o, C, 'windowSize', SEQUENCE_DEFAULTS.windowSize, SEQUENCE_DEFAULTS.minWindowSize, 1 << 20);
    if (w % 32 !== 0) throw new InvalidOptionsError(`${C}: windowSize must be a multiple of 32`);
    this.#window = w;
    // Ring size: the next power of two above windowSize / 32, so the ring index is a mask.
    let blocks = 1;
    while (blocks < w / 32 + 1) blocks *= 2;
    this.#blocks = blocks;
    this.#mask = blocks - 1;
    this.#maxSenders = optInt(o, C, 'maxSenders', SEQUENCE_DEFAULTS.maxSenders, 1);
  }

  get windowSize(): number {
    return this.#window;
  }

  /** Whether `seq` from `senderId` would be accepted; changes nothing. */
  check(senderId: string, seq: number): ReplayResult {
    const bad0 = badInput(senderId, seq);
    if (bad0) return bad0;
    const s = this.#senders.get(senderId);
    if (!s) return this.#senders.size >= this.#maxSenders ? bad('capacity', 'too many senders tracked') : OK;
    return this.#judge(s, seq);
  }

  /** Records `seq` as received if it is acceptable; returns the same verdict as `check`. */
  commit(senderId: string, seq: number): ReplayResult {
    let s = this.#senders.get(senderId);
    if (s === undefined || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
      // Slow path: validation and new senders.
      const r = this.check(senderId, seq);
      if (!r.valid) return r;
      if (!s) {
        s = { top: -1, bits: new Uint32Array(this.#blocks) };
        this.#senders.set(senderId, s);
      }
    }
    const mask = this.#mask;
    const block = Math.floor(seq / 32);
    const bit = 1 << (seq & 31);
    if (seq <= s.top) {
      if (seq <= s.top - this.#window) {
        this.#tooOld++;
        return TOO_OLD;
      }
      const word = s.bits[block & mask] as number;
      if (word & bit) {
        this.#replays++;
        return REPLAY;
      }
      s.bits[block & mask] = word | bit;
      return OK;
    }
    const from = s.top < 0 ? -1 : Math.floor(s.top / 32);
    // Clear the blocks the window moves into (all of them after a jump of a whole ring).
    const n = Math.min(block - from, this.#blocks);
    for (let i = 1; i <= n; i++) s.bits[(from + i) & mask] = 0;
    s.top = seq;
    s.bits[block & mask] = (s.bits[block & mask] as number) | bit;
    return OK;
  }

  /** `check` then `commit`: for callers whose frames are already authenticated. */
  validate(senderId: string, seq: number): ReplayResult {
    return this.commit(senderId, seq);
  }

  /** Forgets a sender (when its session ends and its keys are gone). */
  remove(senderId: string): boolean {
    return this.#senders.delete(senderId);
  }

  /** Highest accepted sequence number of a sender, or undefined. */
  highest(senderId: string): number | undefined {
    const s = this.#senders.get(senderId);
    return s && s.top >= 0 ? s.top : undefined;
  }

  getStats(): { senders: number; maxSenders: number; windowSize: number; replaysRejected: number; tooOldRejected: number } {
    return {
      senders: this.#senders.size,
      maxSenders: this.#maxSenders,
      windowSize: this.#window,
      replaysRejected: this.#replays,
      tooOldRejected: this.#tooOld,
    };
  }

  #judge(s: SenderWindow, seq: number): ReplayResult {
    if (seq > s.top) return OK;
    if (seq <= s.top - this.#window) {
      this.#tooOld++;
      return TOO_OLD;
    }
    const b = Math.floor(seq / 32) & this.#mask;
    if (((s.bits[b] as number) >>> (seq & 31)) & 1) {
      this.#replays++;
      return REPLAY;
    }
    return OK;
  }
}
