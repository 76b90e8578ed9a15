// NAVR proof of work (seed 001 "Sybil Defense"; SPEC section 3): a challenge binds the peer's
// node id, its address and a fresh server nonce, carries its difficulty and expiry, and is
// authenticated with HMAC-SHA-256 under a per-instance secret. The peer finds a solution such
// that SHA-256(challenge bytes || solution) starts with `difficulty` zero bits. Challenges are
// one-time: the server keeps outstanding ones in a bounded map and removes each at its first
// verification attempt.
import { constantTimeEqual, fromBase64url, hmac, randomBytes, sha256, toBase64url, toHex } from '@yak/crypto';
import { NAVR_DEFAULTS } from './constants.js';
import { InvalidArgumentError, InvalidOptionsError, MalformedInputError, PowExhaustedError } from './errors.js';
import { normalizeIp } from './ip.js';
import { argInt, argString, type Clock, optClock, optInt, readOptions } from './options.js';

/** A NAVR challenge as sent to the peer and echoed back with its solution. */
export interface NavrChallenge {
  /** Format version, 1. */
  version: 1;
  /** Node id the challenge was issued to. */
  peerId: string;
  /** Address of the peer as seen by the server (IPs in canonical form). */
  peerAddress: string;
  /** 32 random bytes, base64url. */
  serverNonce: string;
  /** Required leading zero bits. */
  difficulty: number;
  /** Issue and expiry time, ms since the epoch. */
  issuedAt: number;
  expiresAt: number;
  /** HMAC-SHA-256 of the challenge bytes under the server secret, base64url. */
  mac: string;
}

/** Stable codes of a failed verification. */
export type NavrCode = 'malformed' | 'forged' | 'binding_mismatch' | 'expired' | 'unknown_or_used' | 'insufficient_work';

/** Result of {@link NAVR.verify}; frozen. Pass a valid one to `ReputationTracker.registerNode`. */
export interface NavrVerification {
  readonly valid: boolean;
  readonly code?: NavrCode;
  readonly reason?: string;
  /** On success: the peer the proof belongs to and the work it shows. */
  readonly peerId?: string;
  readonly difficulty?: number;
}

/** Options of {@link NAVR}; defaults in `NAVR_DEFAULTS`. */
export interface NavrOptions {
  /** Leading zero bits required (1..48). */
  difficulty?: number;
  challengeTtlMs?: number;
  /** Bound on outstanding challenges; the oldest is dropped (and becomes unverifiable) beyond it. */
  maxOutstanding?: number;
  /** HMAC key (at least 32 bytes); a fresh random one by default. */
  secret?: Uint8Array;
  now?: Clock;
}

/** Options of {@link solveNavrChallenge}. */
export interface NavrSolveOptions {
  /** Give up after this many hashes (default 2^(difficulty + 8), at least 2^20). */
  maxIterations?: number;
}

/** The peer binding `verify` checks the challenge against. */
export interface NavrExpectedBinding {
  peerId: string;
  peerAddress: string;
}

const DOMAIN = new TextEncoder().encode('yak/navr/challenge/v1\0');
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const MAX_FIELD = NAVR_DEFAULTS.maxFieldLength;
const NONCE_LEN = NAVR_DEFAULTS.serverNonceBytes;
const MAC_LEN = 32;

/** Verifications that succeeded, so the reputation tracker can tell real proofs from look-alikes. */
const verified = new WeakSet<NavrVerification>();

/** Internal: true for a successful verification made by a NAVR instance for `peerId`. */
export function isVerifiedNavrProof(v: unknown, peerId: string): boolean {
  return typeof v === 'object' && v !== null && verified.has(v as NavrVerification) && (v as NavrVerification).peerId === peerId;
}

/** An address in the form challenges carry: IPs canonical (IPv4-mapped IPv6 as IPv4), others as given. */
function canonicalAddress(addr: string): string {
  return normalizeIp(addr) ?? addr;
}

/**
 * The bytes a challenge authenticates and the proof of work hashes: a fixed binary layout
 * (house rule 5), never JSON. Layout: domain || version u8 || difficulty u8 || issuedAt u64 ||
 * expiresAt u64 || serverNonce (32) || len u16 || peerId UTF-8 || len u16 || peerAddress UTF-8.
 */
function layout(
  version: number,
  difficulty: number,
  issuedAt: number,
  expiresAt: number,
  nonce: Uint8Array,
  peerId: string,
  addr: string,
): Uint8Array {
  const id = enc.encode(peerId);
  const ad = enc.encode(addr);
  const out = new Uint8Array(DOMAIN.length + 2 + 16 + NONCE_LEN + 2 + id.length + 2 + ad.length);
  const dv = new DataView(out.buffer);
  let o = 0;
  out.set(DOMAIN, o);
  o += DOMAIN.length;
  out[o++] = version;
  out[o++] = difficulty;
  dv.setBigUint64(o, BigInt(issuedAt));
  o += 8;
  dv.setBigUint64(o, BigInt(expiresAt));
  o += 8;
  out.set(nonce, o);
  o += NONCE_LEN;
  dv.setUint16(o, id.length);
  o += 2;
  out.set(id, o);
  o += id.length;
  dv.setUint16(o, ad.length);
  o += 2;
  out.set(ad, o);
  return out;
}

function isField(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_FIELD;
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function b64(v: unknown, len: number): Uint8Array | undefined {
  if (typeof v !== 'string' || v.length > 2 * len) return undefined;
  try {
    const b = fromBase64url(v);
    return b.length === len ? b : undefined;
  } catch {
    return undefined;
  }
}

/** Checks every field of an untrusted challenge; returns its authenticated bytes or undefined. */
function challengeBytes(ch: unknown): Uint8Array | undefined {
  return parseChallenge(ch)?.bytes;
}

function parseChallenge(ch: unknown): { bytes: Uint8Array; nonce: Uint8Array; mac: Uint8Array } | undefined {
  if (ch === null || typeof ch !== 'object') return undefined;
  const c = ch as Record<string, unknown>;
  if (c.version !== 1 || !isField(c.peerId) || !isField(c.peerAddress) || !isTime(c.issuedAt) || !isTime(c.expiresAt)) return undefined;
  const d = c.difficulty;
  if (typeof d !== 'number' || !Number.isInteger(d) || d < NAVR_DEFAULTS.minDifficulty || d > NAVR_DEFAULTS.maxDifficulty) return undefined;
  const nonce = b64(c.serverNonce, NONCE_LEN);
  const mac = b64(c.mac, MAC_LEN);
  if (!nonce || !mac) return undefined;
  return { bytes: layout(1, d, c.issuedAt, c.expiresAt, nonce, c.peerId, c.peerAddress), nonce, mac };
}

function solutionBytes(s: unknown): Uint8Array | undefined {
  if (s instanceof Uint8Array) return s.length >= 1 && s.length <= NAVR_DEFAULTS.maxSolutionBytes ? s : undefined;
  if (
    typeof s !== 'string' ||
    s.length < 2 ||
    s.length > 2 * NAVR_DEFAULTS.maxSolutionBytes ||
    s.length % 2 !== 0 ||
    !/^[0-9a-fA-F]+$/.test(s)
  )
    return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Number of leading zero bits of `h`, counted up to `limit`. */
function leadingZeroBits(h: Uint8Array, limit: number): number {
  let n = 0;
  for (let i = 0; i < h.length && n < limit; i++) {
    const b = h[i] as number;
    if (b === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(b) - 24;
  }
  return n;
}

function hashWithSolution(bytes: Uint8Array, solution: Uint8Array): Uint8Array {
  const buf = new Uint8Array(bytes.length + solution.length);
  buf.set(bytes, 0);
  buf.set(solution, bytes.length);
  return sha256(buf);
}

/**
 * Finds a solution to a NAVR challenge (the peer's side): an 8-byte counter, hex, such that
 * SHA-256(challenge bytes || counter) has at least `difficulty` leading zero bits. Expected
 * cost 2^difficulty hashes. Throws {@link MalformedInputError} for a malformed challenge and
 * {@link PowExhaustedError} when `maxIterations` run out.
 */
export function solveNavrChallenge(challenge: NavrChallenge, options: NavrSolveOptions = {}): string {
  const search = searcher(challenge, options.maxIterations);
  const found = search.run(search.max);
  if (found !== undefined) return found;
  throw new PowExhaustedError(`NAVR: no solution within ${search.max} iterations`);
}

/** Options of {@link solveNavrChallengeAsync}. */
export interface NavrSolveAsyncOptions extends NavrSolveOptions {
  /** Stops the search; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Hashes per slice between yields to the event loop (default 4096). */
  sliceIterations?: number;
}

/**
 * {@link solveNavrChallenge} in slices that yield to the event loop between them, so a node
 * solving a challenge keeps serving its other links; same solutions, same budget.
 */
export async function solveNavrChallengeAsync(challenge: NavrChallenge, options: NavrSolveAsyncOptions = {}): Promise<string> {
  const search = searcher(challenge, options.maxIterations);
  const slice = options.sliceIterations === undefined ? 4096 : argInt(options.sliceIterations, 'NAVR', 'sliceIterations', 1);
  const signal = options.signal;
  while (search.next < search.max) {
    signal?.throwIfAborted();
    const found = search.run(Math.min(search.max, search.next + slice));
    if (found !== undefined) return found;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new PowExhaustedError(`NAVR: no solution within ${search.max} iterations`);
}

/**
 * The solution search both solvers share: candidate i is the 8-byte big-endian counter i, tried
 * in order; `run(to)` tries candidates up to `to` (exclusive) and returns the first solution.
 */
function searcher(challenge: NavrChallenge, maxIterations: number | undefined) {
  const bytes = challengeBytes(challenge);
  if (!bytes) throw new MalformedInputError('NAVR: malformed challenge');
  const d = challenge.difficulty;
  const max = maxIterations === undefined ? Math.max(2 ** 20, 2 ** Math.min(d + 8, 52)) : argInt(maxIterations, 'NAVR', 'maxIterations', 1);
  const buf = new Uint8Array(bytes.length + 8);
  buf.set(bytes, 0);
  const dv = new DataView(buf.buffer, bytes.length, 8);
  const state = {
    max,
    next: 0,
    run(to: number): string | undefined {
      for (let i = state.next; i < to; i++) {
        dv.setUint32(0, Math.floor(i / 2 ** 32));
        dv.setUint32(4, i >>> 0);
        if (leadingZeroBits(sha256(buf), d) >= d) {
          state.next = i + 1;
          return toHex(buf.subarray(bytes.length));
        }
      }
      state.next = to;
      return undefined;
    },
  };
  return state;
}

/** Fixed binary encoding of a challenge: the authenticated bytes followed by the 32-byte MAC. */
export function encodeNavrChallenge(challenge: NavrChallenge): Uint8Array {
  const p = parseChallenge(challenge);
  if (!p) throw new MalformedInputError('NAVR: malformed challenge');
  const out = new Uint8Array(p.bytes.length + MAC_LEN);
  out.set(p.bytes, 0);
  out.set(p.mac, p.bytes.length);
  return out;
}

/** Inverse of {@link encodeNavrChallenge}; throws {@link MalformedInputError} on any defect, including trailing bytes. */
export function decodeNavrChallenge(bytes: Uint8Array): NavrChallenge {
  if (!(bytes instanceof Uint8Array)) throw new MalformedInputError('NAVR: challenge must be a Uint8Array');
  const fixed = DOMAIN.length + 2 + 16 + NONCE_LEN;
  if (bytes.length < fixed + 4 + MAC_LEN || bytes.length > fixed + 4 + 2 * 4 * MAX_FIELD + MAC_LEN)
    throw new MalformedInputError('NAVR: challenge has a bad length');
  for (let i = 0; i < DOMAIN.length; i++) if (bytes[i] !== DOMAIN[i]) throw new MalformedInputError('NAVR: not a NAVR challenge');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = DOMAIN.length;
  const version = bytes[o++] as number;
  const difficulty = bytes[o++] as number;
  const issued = dv.getBigUint64(o);
  const expires = dv.getBigUint64(o + 8);
  o += 16;
  const nonce = bytes.subarray(o, o + NONCE_LEN);
  o += NONCE_LEN;
  const idLen = dv.getUint16(o);
  o += 2;
  if (o + idLen + 2 > bytes.length) throw new MalformedInputError('NAVR: truncated challenge');
  const id = bytes.subarray(o, o + idLen);
  o += idLen;
  const adLen = dv.getUint16(o);
  o += 2;
  if (o + adLen + MAC_LEN !== bytes.length) throw new MalformedInputError('NAVR: challenge length does not match its fields');
  const ad = bytes.subarray(o, o + adLen);
  o += adLen;
  let peerId: string;
  let peerAddress: string;
  try {
    peerId = dec.decode(id);
    peerAddress = dec.decode(ad);
  } catch {
    throw new MalformedInputError('NAVR: challenge text is not UTF-8');
  }
  if (issued > BigInt(Number.MAX_SAFE_INTEGER) || expires > BigInt(Number.MAX_SAFE_INTEGER))
    throw new MalformedInputError('NAVR: challenge time out of range');
  const ch = {
    version,
    peerId,
    peerAddress,
    serverNonce: toBase64url(nonce),
    difficulty,
    issuedAt: Number(issued),
    expiresAt: Number(expires),
    mac: toBase64url(bytes.subarray(o)),
  } as NavrChallenge;
  // Re-check the fields (version, difficulty range, lengths) and that re-encoding is identical.
  const again = challengeBytes(ch);
  if (!again || again.length + MAC_LEN !== bytes.length) throw new MalformedInputError('NAVR: challenge fields out of range');
  return ch;
}

function fail(code: NavrCode, reason: string): NavrVerification {
  return Object.freeze({ valid: false, code, reason });
}

/**
 * NAVR proof-of-work gate for new peers (seed 001). `createChallenge` issues a challenge bound to
 * a peer id and address; `verify` accepts a solution once, from that peer at that address,
 * before expiry, with the required work. `verify` never throws on challenge or solution input.
 */
export class NAVR {
  readonly #difficulty: number;
  readonly #ttl: number;
  readonly #maxOutstanding: number;
  readonly #secret: Uint8Array;
  readonly #now: Clock;
  /** serverNonce -> expiresAt, insertion (= issue) order. */
  readonly #outstanding = new Map<string, number>();
  #issued = 0;
  #verified = 0;
  #rejected = 0;
  #dropped = 0;

  constructor(options?: NavrOptions) {
    const C = 'NAVR';
    const o = readOptions(options, C);
    const d = NAVR_DEFAULTS;
    this.#difficulty = optInt(o, C, 'difficulty', d.difficulty, d.minDifficulty, d.maxDifficulty);
    this.#ttl = optInt(o, C, 'challengeTtlMs', d.challengeTtlMs, 1);
    this.#maxOutstanding = optInt(o, C, 'maxOutstanding', d.maxOutstanding, 1);
    if (o.secret !== undefined && (!(o.secret instanceof Uint8Array) || o.secret.length < d.secretBytes)) {
      throw new InvalidOptionsError(`${C}: secret must be a Uint8Array of at least ${d.secretBytes} bytes`);
    }
    this.#secret = o.secret ? Uint8Array.from(o.secret as Uint8Array) : randomBytes(d.secretBytes);
    this.#now = optClock(o, C);
  }

  get difficulty(): number {
    return this.#difficulty;
  }

  /**
   * Issues a challenge for `peerId` connecting from `peerAddress`. `options.difficulty`
   * overrides the default for this challenge (e.g. more work for a suspicious subnet).
   */
  createChallenge(peerId: string, peerAddress: string, options?: { difficulty?: number }): NavrChallenge {
    const C = 'NAVR';
    argString(peerId, C, 'peerId', MAX_FIELD);
    argString(peerAddress, C, 'peerAddress', MAX_FIELD);
    const addr = canonicalAddress(peerAddress);
    const difficulty =
      options?.difficulty === undefined
        ? this.#difficulty
        : argInt(options.difficulty, C, 'difficulty', NAVR_DEFAULTS.minDifficulty, NAVR_DEFAULTS.maxDifficulty);
    const now = Math.floor(this.#now());
    if (!isTime(now)) throw new InvalidArgumentError(`${C}: the clock returned an invalid time`);
    const nonce = randomBytes(NONCE_LEN);
    const expiresAt = now + this.#ttl;
    const mac = hmac('sha256', this.#secret, layout(1, difficulty, now, expiresAt, nonce, peerId, addr));
    const serverNonce = toBase64url(nonce);
    this.#track(serverNonce, expiresAt, now);
    this.#issued++;
    return { version: 1, peerId, peerAddress: addr, serverNonce, difficulty, issuedAt: now, expiresAt, mac: toBase64url(mac) };
  }

  /** Finds a solution (for peers and tests); see {@link solveNavrChallenge}. */
  solve(challenge: NavrChallenge, options?: NavrSolveOptions): string {
    return solveNavrChallenge(challenge, options);
  }

  /**
   * Verifies a solution. `expected` is the peer as the server sees it now: the challenge must
   * have been issued to that node id at that address. A challenge is consumed by the first
   * attempt that reaches the work check, successful or not.
   */
  verify(challenge: NavrChallenge, solution: string | Uint8Array, expected: NavrExpectedBinding): NavrVerification {
    if (expected === null || typeof expected !== 'object')
      throw new InvalidArgumentError('NAVR: verify needs the expected { peerId, peerAddress }');
    argString(expected.peerId, 'NAVR', 'expected.peerId', MAX_FIELD);
    argString(expected.peerAddress, 'NAVR', 'expected.peerAddress', MAX_FIELD);
    const r = this.#verify(challenge, solution, expected);
    if (r.valid) {
      this.#verified++;
      verified.add(r);
    } else this.#rejected++;
    return r;
  }

  getStats(): { outstanding: number; maxOutstanding: number; issued: number; verified: number; rejected: number; dropped: number } {
    return {
      outstanding: this.#outstanding.size,
      maxOutstanding: this.#maxOutstanding,
      issued: this.#issued,
      verified: this.#verified,
      rejected: this.#rejected,
      dropped: this.#dropped,
    };
  }

  #verify(challenge: NavrChallenge, solution: string | Uint8Array, expected: NavrExpectedBinding): NavrVerification {
    let parsed: ReturnType<typeof parseChallenge>;
    try {
      parsed = parseChallenge(challenge);
    } catch {
      parsed = undefined;
    }
    if (!parsed) return fail('malformed', 'malformed challenge');
    const { bytes, nonce, mac } = parsed;
    const sol = solutionBytes(solution);
    if (!sol) return fail('malformed', 'solution must be 1-32 bytes (hex or Uint8Array)');
    if (!constantTimeEqual(mac, hmac('sha256', this.#secret, bytes))) return fail('forged', 'challenge was not issued by this server');
    if (challenge.peerId !== expected.peerId || challenge.peerAddress !== canonicalAddress(expected.peerAddress)) {
      return fail('binding_mismatch', 'challenge was issued to another peer or address');
    }
    const now = this.#now();
    if (!(now < challenge.expiresAt)) return fail('expired', 'challenge expired');
    // Keyed by the canonical encoding, so another spelling of the same nonce finds nothing new.
    if (!this.#outstanding.delete(toBase64url(nonce))) return fail('unknown_or_used', 'challenge already used or no longer tracked');
    if (leadingZeroBits(hashWithSolution(bytes, sol), challenge.difficulty) < challenge.difficulty) {
      return fail('insufficient_work', 'solution does not meet the difficulty');
    }
    return Object.freeze({ valid: true, peerId: challenge.peerId, difficulty: challenge.difficulty });
  }

  #track(nonce: string, expiresAt: number, now: number): void {
    for (const [n, exp] of this.#outstanding) {
      if (exp > now) break;
      this.#outstanding.delete(n);
    }
    if (this.#outstanding.size >= this.#maxOutstanding) {
      this.#outstanding.delete(this.#outstanding.keys().next().value as string);
      this.#dropped++;
    }
    this.#outstanding.set(nonce, expiresAt);
  }
}
