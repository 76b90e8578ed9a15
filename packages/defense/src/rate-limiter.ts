// ConnectionRateLimiter (seed 001 "Rate Limiter"; SPEC section 3): sliding-window counters per
// IP and per node for connections, messages, handshakes and gossip; repeated violations ban the
// key for a while. Memory is bounded (SPEC section 2, "Resource bounds"): counters live in an
// approximate-LRU cache of at most `maxTrackedKeys` entries, bans in a separate bounded map so a
// flood of fresh keys evicts counters, never bans.
import { RATE_LIMIT_DEFAULTS } from './constants.js';
import { InvalidArgumentError } from './errors.js';
import { formatIp, networkAddress, parseIp } from './ip.js';
import { argInt, type Clock, isKey, type Logger, optClock, optInt, optLogger, readOptions } from './options.js';
import { TwoGenerationCache } from './two-generation-cache.js';

/** The four rate-limited actions. */
export type RateLimitCategory = 'connection' | 'message' | 'handshake' | 'gossip';

/** Stable codes of a denied check. */
export type RateLimitCode = 'banned' | 'rate_limited' | 'invalid_key';

/** Result of a rate-limit check (seed 001 shape `{ allowed, reason }`). */
export interface RateLimitResult {
  allowed: boolean;
  /** Stable machine-readable cause when denied. */
  code?: RateLimitCode;
  /** Human-readable cause when denied. */
  reason?: string;
  /** When denied: milliseconds until the same check could pass. */
  retryAfterMs?: number;
}

/** Options of {@link ConnectionRateLimiter}; defaults in `RATE_LIMIT_DEFAULTS`. */
export interface ConnectionRateLimiterOptions {
  maxConnectionsPerMinute?: number;
  maxMessagesPerSecond?: number;
  maxHandshakesPerMinute?: number;
  maxGossipPerSecond?: number;
  /** Denied checks within `violationWindowMs` that ban the key. */
  banThreshold?: number;
  /** Ban length in ms. */
  banDuration?: number;
  violationWindowMs?: number;
  /** Bound on keys with counters (>= 2; approximate LRU eviction, see TwoGenerationCache). */
  maxTrackedKeys?: number;
  /** Bound on banned keys; defaults to `maxTrackedKeys`. */
  maxBannedKeys?: number;
  /** IPv6 addresses are rate-limited per prefix of this length (default 64; 128 = per address). */
  ipv6PrefixLength?: number;
  now?: Clock;
  logger?: Logger;
}

/** Counters reported by {@link ConnectionRateLimiter.getStats}. */
export interface RateLimiterStats {
  trackedKeys: number;
  bannedKeys: number;
  allowed: Record<RateLimitCategory, number>;
  denied: Record<RateLimitCategory, number>;
  bansIssued: number;
  evictions: number;
}

/** Sliding-window counter: the previous fixed window's count weighted by its overlap. */
interface Window {
  start: number;
  prev: number;
  curr: number;
}

interface Entry {
  w: Partial<Record<RateLimitCategory, Window>>;
  violations: number;
  violationStart: number;
}

const MAX_KEY = RATE_LIMIT_DEFAULTS.maxKeyLength;
const ALLOWED: RateLimitResult = Object.freeze({ allowed: true });

const zero = (): Record<RateLimitCategory, number> => ({ connection: 0, message: 0, handshake: 0, gossip: 0 });

/**
 * Sliding-window rate limiter with automatic bans.
 *
 * Each check counts one event for its key and category. A check that would exceed the limit is
 * denied and counts a violation; `banThreshold` violations within `violationWindowMs` ban the
 * key for `banDuration`. A banned key is denied every check until the ban expires or
 * {@link ConnectionRateLimiter.unban} is called. IP keys are normalised (IPv4-mapped IPv6 to
 * IPv4, IPv6 to its /64 by default); other keys (node ids) are used as given.
 *
 * The window is the sliding-window counter approximation (previous window weighted by overlap),
 * which keeps three numbers per key and category instead of a timestamp log.
 */
export class ConnectionRateLimiter {
  readonly #limits: Record<RateLimitCategory, { max: number; windowMs: number }>;
  readonly #banThreshold: number;
  readonly #banDuration: number;
  readonly #violationWindow: number;
  readonly #maxBans: number;
  readonly #v6Prefix: number;
  readonly #now: Clock;
  readonly #log: Logger | undefined;
  readonly #entries: TwoGenerationCache<string, Entry>;
  readonly #bans = new Map<string, number>();
  readonly #allowed = zero();
  readonly #denied = zero();
  #bansIssued = 0;

  constructor(options?: ConnectionRateLimiterOptions) {
    const C = 'ConnectionRateLimiter';
    const o = readOptions(options, C);
    const d = RATE_LIMIT_DEFAULTS;
    this.#limits = {
      connection: { max: optInt(o, C, 'maxConnectionsPerMinute', d.maxConnectionsPerMinute, 1), windowMs: 60_000 },
      message: { max: optInt(o, C, 'maxMessagesPerSecond', d.maxMessagesPerSecond, 1), windowMs: 1_000 },
      handshake: { max: optInt(o, C, 'maxHandshakesPerMinute', d.maxHandshakesPerMinute, 1), windowMs: 60_000 },
      gossip: { max: optInt(o, C, 'maxGossipPerSecond', d.maxGossipPerSecond, 1), windowMs: 1_000 },
    };
    this.#banThreshold = optInt(o, C, 'banThreshold', d.banThreshold, 1);
    this.#banDuration = optInt(o, C, 'banDuration', d.banDuration, 1);
    this.#violationWindow = optInt(o, C, 'violationWindowMs', d.violationWindowMs, 1);
    const maxKeys = optInt(o, C, 'maxTrackedKeys', d.maxTrackedKeys, 2);
    this.#entries = new TwoGenerationCache(maxKeys);
    this.#maxBans = optInt(o, C, 'maxBannedKeys', maxKeys, 1);
    this.#v6Prefix = optInt(o, C, 'ipv6PrefixLength', d.ipv6PrefixLength, 1, 128);
    this.#now = optClock(o, C);
    this.#log = optLogger(o, C);
  }

  /** Counts a new connection from `ip` (default limit 10 per minute). */
  checkConnection(ip: string): RateLimitResult {
    return this.#check(ip, 'connection');
  }

  /** Counts a message from a node id or IP (default limit 50 per second). */
  checkMessage(nodeIdOrIp: string): RateLimitResult {
    return this.#check(nodeIdOrIp, 'message');
  }

  /** Counts a handshake attempt from `ip` (default limit 5 per minute). */
  checkHandshake(ip: string): RateLimitResult {
    return this.#check(ip, 'handshake');
  }

  /** Counts a gossip message relayed by `nodeId` (default limit 25 per second). */
  checkGossip(nodeId: string): RateLimitResult {
    return this.#check(nodeId, 'gossip');
  }

  /** True while `key` is banned. Invalid keys are reported as not banned. */
  isBanned(key: string): boolean {
    const k = this.#key(key);
    return k !== undefined && this.#banRemaining(k, this.#now()) > 0;
  }

  /** Bans `key` for `ms` (default `banDuration`), replacing any shorter ban. */
  ban(key: string, ms?: number): void {
    const k = this.#key(key);
    if (k === undefined)
      throw new InvalidArgumentError(`ConnectionRateLimiter: key must be a non-empty string of at most ${MAX_KEY} characters`);
    const dur = ms === undefined ? this.#banDuration : argInt(ms, 'ConnectionRateLimiter', 'ms', 1);
    this.#ban(k, this.#now() + dur, 'manual');
  }

  /** Lifts a ban and forgets the key's violations. */
  unban(key: string): void {
    const k = this.#key(key);
    if (k === undefined) return;
    this.#bans.delete(k);
    const e = this.#entries.get(k);
    if (e) e.violations = 0;
  }

  /** Forgets every counter and ban. */
  clear(): void {
    this.#entries.clear();
    this.#bans.clear();
  }

  getStats(): RateLimiterStats {
    return {
      trackedKeys: this.#entries.size,
      bannedKeys: this.#bans.size,
      allowed: { ...this.#allowed },
      denied: { ...this.#denied },
      bansIssued: this.#bansIssued,
      evictions: this.#entries.evictions,
    };
  }

  #key(raw: unknown): string | undefined {
    if (!isKey(raw, MAX_KEY)) return undefined;
    // Every IP key is itself a canonical address, and any string that is an address is
    // normalised, so a claimed node id can never name an IP's counters or ban.
    const p = parseIp(raw);
    if (!p) return raw;
    if (p.version === 4) return raw.includes(':') ? formatIp(p) : raw;
    return networkAddress(p, this.#v6Prefix);
  }

  #banRemaining(k: string, now: number): number {
    const until = this.#bans.get(k);
    if (until === undefined) return 0;
    if (until <= now) {
      this.#bans.delete(k);
      return 0;
    }
    return until - now;
  }

  #ban(k: string, until: number, why: string): void {
    const prev = this.#bans.get(k);
    if (prev !== undefined && prev >= until) return;
    this.#bans.delete(k);
    if (this.#bans.size >= this.#maxBans) {
      // Insertion order is roughly expiry order: drop expired bans from the front, then the
      // oldest live one. Amortised O(1), so a ban flood costs no scans.
      const now = this.#now();
      for (const [bk, bu] of this.#bans) {
        if (bu > now) break;
        this.#bans.delete(bk);
      }
      if (this.#bans.size >= this.#maxBans) this.#bans.delete(this.#bans.keys().next().value as string);
    }
    this.#bans.set(k, until);
    this.#bansIssued++;
    this.#log?.warn?.({ key: k, until, why }, 'rate limiter ban');
  }

  #check(raw: string, cat: RateLimitCategory): RateLimitResult {
    const k = this.#key(raw);
    if (k === undefined) {
      this.#denied[cat]++;
      return {
        allowed: false,
        code: 'invalid_key',
        reason: `key must be a non-empty string of at most ${MAX_KEY} characters`,
        retryAfterMs: 0,
      };
    }
    const now = this.#now();
    const banLeft = this.#banRemaining(k, now);
    if (banLeft > 0) {
      this.#denied[cat]++;
      return { allowed: false, code: 'banned', reason: 'key is banned', retryAfterMs: banLeft };
    }
    let e = this.#entries.get(k);
    if (!e) {
      e = { w: {}, violations: 0, violationStart: 0 };
      this.#entries.set(k, e);
    }

    const { max, windowMs } = this.#limits[cat];
    let w = e.w[cat];
    if (!w) {
      w = { start: now - (now % windowMs), prev: 0, curr: 0 };
      e.w[cat] = w;
    }
    const elapsedWindows = Math.floor((now - w.start) / windowMs);
    if (elapsedWindows === 1) {
      w.prev = w.curr;
      w.curr = 0;
      w.start += windowMs;
    } else if (elapsedWindows > 1 || elapsedWindows < 0) {
      // Idle for two windows or more (or the clock stepped back): nothing carries over.
      w.prev = 0;
      w.curr = 0;
      w.start = now - (now % windowMs);
    }
    const t = now - w.start;
    const estimate = w.prev * ((windowMs - t) / windowMs) + w.curr;
    if (estimate + 1 <= max) {
      w.curr++;
      this.#allowed[cat]++;
      return ALLOWED;
    }

    this.#denied[cat]++;
    if (now - e.violationStart > this.#violationWindow) {
      e.violations = 0;
      e.violationStart = now;
    }
    e.violations++;
    if (e.violations >= this.#banThreshold) {
      e.violations = 0;
      this.#ban(k, now + this.#banDuration, cat);
      return { allowed: false, code: 'banned', reason: `${cat} rate exceeded; key banned`, retryAfterMs: this.#banDuration };
    }
    return { allowed: false, code: 'rate_limited', reason: `${cat} rate exceeded`, retryAfterMs: retryAfter(w, max, windowMs, t) };
  }
}

/** Time until the sliding estimate allows one more event. */
function retryAfter(w: Window, max: number, windowMs: number, t: number): number {
  const room = max - 1;
  if (w.curr <= room && w.prev > 0) {
    // prev * (windowMs - t') / windowMs + curr <= room, solved for t' within this window.
    const tNeeded = windowMs * (1 - (room - w.curr) / w.prev);
    if (tNeeded <= windowMs) return Math.max(1, Math.ceil(tNeeded - t));
  }
  // Next window: curr becomes prev; need curr * (windowMs - t') / windowMs <= room.
  const tNext = w.curr > 0 ? windowMs * (1 - room / w.curr) : 0;
  return Math.max(1, Math.ceil(windowMs - t + Math.max(0, tNext)));
}
