// ReputationTracker (seed 001 "Sybil Defense"): scores per peer, raised by good behaviour and
// lowered by bad, decaying exponentially back to the peer's baseline, mapped to the seed's four
// trust levels. Peers registered with a verified NAVR proof start at the neutral score; others
// start lower, so identities that did no work are suspicious until they behave.
import { REPUTATION_DEFAULTS } from './constants.js';
import { InvalidArgumentError, InvalidOptionsError } from './errors.js';
import { isVerifiedNavrProof, type NavrVerification } from './navr.js';
import { argNum, argString, type Clock, type Logger, optClock, optInt, optLogger, optNum, readOptions } from './options.js';

/** The seed's trust levels. */
export type TrustLevel = 'trusted' | 'normal' | 'suspicious' | 'banned';

/** Options of {@link ReputationTracker}; defaults in `REPUTATION_DEFAULTS`. */
export interface ReputationTrackerOptions {
  /** Baseline of a peer registered with a verified NAVR proof. */
  neutralScore?: number;
  /** Baseline of a peer registered (or first seen) without one. */
  unprovenScore?: number;
  trustedThreshold?: number;
  normalThreshold?: number;
  /** A score below this bans the peer. */
  banThreshold?: number;
  goodBehaviorReward?: number;
  badBehaviorPenalty?: number;
  /** Time for a deviation from the baseline to halve. */
  decayHalfLifeMs?: number;
  /** Minimum ban length once the score falls below `banThreshold`. */
  banDuration?: number;
  /** Bound on tracked peers (least recently updated evicted; bans kept separately). */
  maxNodes?: number;
  now?: Clock;
  logger?: Logger;
}

interface Node {
  score: number;
  baseline: number;
  at: number;
  proven: boolean;
}

const C = 'ReputationTracker';

/**
 * Reputation scores in [0, 100] with exponential decay toward each peer's baseline.
 *
 * `registerNode(peerId, proof)` takes the result of `NAVR.verify`; only a successful
 * verification made by a NAVR instance for the same peer counts as proof (a raw solution cannot
 * be checked here, so it is refused). Re-registering never resets a score.
 */
export class ReputationTracker {
  readonly #neutral: number;
  readonly #unproven: number;
  readonly #trusted: number;
  readonly #normal: number;
  readonly #banBelow: number;
  readonly #reward: number;
  readonly #penalty: number;
  readonly #halfLife: number;
  readonly #banDuration: number;
  readonly #maxNodes: number;
  readonly #now: Clock;
  readonly #log: Logger | undefined;
  readonly #nodes = new Map<string, Node>();
  readonly #bans = new Map<string, number>();
  #bansIssued = 0;
  #evictions = 0;

  constructor(options?: ReputationTrackerOptions) {
    const o = readOptions(options, C);
    const d = REPUTATION_DEFAULTS;
    const lo = d.minScore;
    const hi = d.maxScore;
    this.#neutral = optNum(o, C, 'neutralScore', d.neutralScore, lo, hi);
    this.#unproven = optNum(o, C, 'unprovenScore', d.unprovenScore, lo, hi);
    this.#trusted = optNum(o, C, 'trustedThreshold', d.trustedThreshold, lo, hi);
    this.#normal = optNum(o, C, 'normalThreshold', d.normalThreshold, lo, hi);
    this.#banBelow = optNum(o, C, 'banThreshold', d.banThreshold, lo, hi);
    if (!(this.#banBelow <= this.#normal && this.#normal <= this.#trusted)) {
      throw new InvalidOptionsError(`${C}: thresholds must satisfy banThreshold <= normalThreshold <= trustedThreshold`);
    }
    this.#reward = optNum(o, C, 'goodBehaviorReward', d.goodBehaviorReward, 0, hi);
    this.#penalty = optNum(o, C, 'badBehaviorPenalty', d.badBehaviorPenalty, 0, hi);
    this.#halfLife = optInt(o, C, 'decayHalfLifeMs', d.decayHalfLifeMs, 1);
    this.#banDuration = optInt(o, C, 'banDuration', d.banDuration, 0);
    this.#maxNodes = optInt(o, C, 'maxNodes', d.maxNodes, 1);
    this.#now = optClock(o, C);
    this.#log = optLogger(o, C);
  }

  /**
   * Registers a peer. `proof` is the `NAVR.verify` result for this peer: a successful one sets
   * the baseline to neutral; a failed one or none leaves the peer unproven.
   */
  registerNode(peerId: string, proof?: NavrVerification): TrustLevel {
    argString(peerId, C, 'peerId', 512);
    if (proof !== undefined && (proof === null || typeof proof !== 'object' || typeof (proof as { valid?: unknown }).valid !== 'boolean')) {
      throw new InvalidArgumentError(`${C}: proof must be the result of NAVR.verify`);
    }
    const proven = proof !== undefined && isVerifiedNavrProof(proof, peerId);
    const now = this.#now();
    const n = this.#get(peerId, now, proven);
    if (proven && !n.proven) {
      // Proof arriving later lifts the baseline and credits the difference once.
      n.score = clamp(n.score + (this.#neutral - n.baseline));
      n.baseline = this.#neutral;
      n.proven = true;
    }
    return this.#level(peerId, n.score, now);
  }

  /** Raises a peer's score by `weight` rewards (default 1). Unknown peers are registered unproven. */
  reportGoodBehavior(peerId: string, weight = 1): number {
    argString(peerId, C, 'peerId', 512);
    argNum(weight, C, 'weight', 0, REPUTATION_DEFAULTS.maxSeverity);
    const now = this.#now();
    const n = this.#get(peerId, now, false);
    n.score = clamp(n.score + this.#reward * weight);
    return n.score;
  }

  /** Lowers a peer's score by `severity` penalties (default 1, at most 10); may ban it. */
  reportBadBehavior(peerId: string, severity = 1): number {
    argString(peerId, C, 'peerId', 512);
    argNum(severity, C, 'severity', 0, REPUTATION_DEFAULTS.maxSeverity);
    const now = this.#now();
    const n = this.#get(peerId, now, false);
    n.score = clamp(n.score - this.#penalty * severity);
    if (n.score < this.#banBelow) this.#ban(peerId, now);
    return n.score;
  }

  /** Current (decayed) score; the unproven baseline for an unknown peer. */
  getScore(peerId: string): number {
    const n = this.#nodes.get(peerId);
    return n ? this.#decayed(n, this.#now()) : this.#unproven;
  }

  /** Trust level from the current score and any active ban. */
  getTrustLevel(peerId: string): TrustLevel {
    const now = this.#now();
    const n = this.#nodes.get(peerId);
    return this.#level(peerId, n ? this.#decayed(n, now) : this.#unproven, now);
  }

  /** True while a peer is banned. */
  isBanned(peerId: string): boolean {
    return this.getTrustLevel(peerId) === 'banned';
  }

  /** Forgets a peer's score (an active ban stays until it expires). */
  removeNode(peerId: string): boolean {
    return this.#nodes.delete(peerId);
  }

  getStats(): { nodes: number; bannedNodes: number; bansIssued: number; evictions: number; levels: Record<TrustLevel, number> } {
    const now = this.#now();
    const levels: Record<TrustLevel, number> = { trusted: 0, normal: 0, suspicious: 0, banned: 0 };
    for (const [id, n] of this.#nodes) levels[this.#level(id, this.#decayed(n, now), now)]++;
    return { nodes: this.#nodes.size, bannedNodes: this.#bans.size, bansIssued: this.#bansIssued, evictions: this.#evictions, levels };
  }

  #decayed(n: Node, now: number): number {
    const dt = now - n.at;
    if (!(dt > 0)) return n.score;
    return n.baseline + (n.score - n.baseline) * 2 ** (-dt / this.#halfLife);
  }

  /** The peer's entry with its score decayed to `now`, created if absent; marks it recently used. */
  #get(peerId: string, now: number, proven: boolean): Node {
    let n = this.#nodes.get(peerId);
    if (n) {
      n.score = this.#decayed(n, now);
      n.at = now;
      this.#nodes.delete(peerId);
    } else {
      const baseline = proven ? this.#neutral : this.#unproven;
      n = { score: baseline, baseline, at: now, proven };
      if (this.#nodes.size >= this.#maxNodes) {
        this.#nodes.delete(this.#nodes.keys().next().value as string);
        this.#evictions++;
      }
    }
    this.#nodes.set(peerId, n);
    return n;
  }

  #ban(peerId: string, now: number): void {
    this.#bans.delete(peerId);
    for (const [id, until] of this.#bans) {
      if (until > now) break;
      this.#bans.delete(id);
    }
    if (this.#bans.size >= this.#maxNodes) this.#bans.delete(this.#bans.keys().next().value as string);
    this.#bans.set(peerId, now + this.#banDuration);
    this.#bansIssued++;
    this.#log?.warn?.({ peerId }, 'reputation ban');
  }

  #level(peerId: string, score: number, now: number): TrustLevel {
    const until = this.#bans.get(peerId);
    if (until !== undefined) {
      if (until > now) return 'banned';
      this.#bans.delete(peerId);
    }
    if (score < this.#banBelow) return 'banned';
    if (score >= this.#trusted) return 'trusted';
    if (score >= this.#normal) return 'normal';
    return 'suspicious';
  }
}

function clamp(x: number): number {
  return Math.min(REPUTATION_DEFAULTS.maxScore, Math.max(REPUTATION_DEFAULTS.minScore, x));
}
