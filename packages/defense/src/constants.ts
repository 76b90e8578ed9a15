/**
 * Defaults of @yak/defense, each with the document it comes from. "seed 001" is
 * ../shared/seeds/001 ("Security Modules"); "SPEC" is ../shared/SPEC.md. Values the sources do
 * not fix are marked "chosen" with the reason.
 */

/** Rate limiter defaults (seed 001, "Rate Limiter" example). */
export const RATE_LIMIT_DEFAULTS = {
  maxConnectionsPerMinute: 10,
  maxMessagesPerSecond: 50,
  maxHandshakesPerMinute: 5,
  /** Chosen: the seed names gossip storms but gives no number; half the message rate. */
  maxGossipPerSecond: 25,
  banThreshold: 5,
  /** 5 minutes (seed 001). */
  banDuration: 300_000,
  /** Chosen: violations older than this stop counting toward `banThreshold`. */
  violationWindowMs: 60_000,
  /** Chosen: bound on tracked counters (SPEC section 2, "Resource bounds"); about 2 MB. */
  maxTrackedKeys: 10_000,
  /** Chosen: one host owns a whole IPv6 /64 (RFC 4291 interface identifiers), so rate by /64. */
  ipv6PrefixLength: 64,
  /** Chosen: keys longer than this are refused so a claimed node id cannot be used to allocate. */
  maxKeyLength: 256,
} as const;

/** One KiB. */
const KiB = 1024;

/** Maximum raw message size per type (seed 001, "Message Validator"; SPEC section 3). */
export const MESSAGE_SIZE_LIMITS = {
  gossip: 64 * KiB,
  handshake: 8 * KiB,
  listing: 128 * KiB,
  data: 512 * KiB,
} as const;

/** Safe JSON parser defaults (chosen; SPEC section 3 asks for depth/array/string limits). */
export const SAFE_JSON_DEFAULTS = {
  maxDepth: 32,
  maxArrayLength: 10_000,
  /** Largest message type (`data`, 512 KiB) so any accepted message's strings fit. */
  maxStringLength: 512 * KiB,
  /** Per object. */
  maxKeys: 1_000,
  /** Bytes of UTF-8; the largest message type (`data`). */
  maxSize: 512 * KiB,
} as const;

/** Keys dropped by the safe JSON parser: assigning them can reach a prototype. */
export const FORBIDDEN_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** Nonce registry defaults. */
export const NONCE_DEFAULTS = {
  /** 1 hour (seed 001, "Replay Defense" example). */
  maxAge: 3_600_000,
  /** Chosen: bound on remembered nonces (SPEC section 2, "Resource bounds"). */
  maxSize: 100_000,
  /** Chosen: 128 bits from the CSPRNG makes collisions negligible. */
  nonceBytes: 16,
  encoding: 'base64url',
  /** Chosen: accepted nonce lengths on the wire (8 hex chars is 32 bits, 128 chars is 96 bytes in hex). */
  minNonceLength: 8,
  maxNonceLength: 128,
} as const;

/** Timestamp validator defaults. */
export const TIMESTAMP_DEFAULTS = {
  /** 10 minutes (seed 001, "Replay Defense" example). */
  maxAge: 600_000,
  /** Chosen: tolerated clock skew into the future. */
  maxFutureSkew: 30_000,
} as const;

/** Sequence tracker defaults (SPEC section 2, "Replay": RFC 6479 window of at least 1024). */
export const SEQUENCE_DEFAULTS = {
  windowSize: 2048,
  minWindowSize: 1024,
  /** Chosen: 10k senders with a 2048 window (a 4096-bit ring each, 512 bytes) is about 5 MB. */
  maxSenders: 10_000,
} as const;

/** NAVR proof-of-work defaults. */
export const NAVR_DEFAULTS = {
  /** Leading zero bits (seed 001, "Sybil Defense" example). */
  difficulty: 16,
  minDifficulty: 1,
  /** Chosen: beyond 48 bits no peer could answer in JavaScript. */
  maxDifficulty: 48,
  /** Chosen: one minute to solve about 2^16 hashes is generous on slow devices. */
  challengeTtlMs: 60_000,
  /** Chosen: bound on outstanding challenges (SPEC section 2, "Resource bounds"). */
  maxOutstanding: 10_000,
  serverNonceBytes: 32,
  secretBytes: 32,
  /** Chosen: peer ids and addresses longer than this are refused. */
  maxFieldLength: 512,
  /** Chosen: solutions are 1..32 bytes. */
  maxSolutionBytes: 32,
} as const;

/** Reputation defaults (chosen; seed 001 names only the four levels). */
export const REPUTATION_DEFAULTS = {
  /** Score of a node registered with a verified NAVR proof; decay pulls scores back here. */
  neutralScore: 50,
  /** Score of a node registered without a proof (Sybil defense: unproven peers start low). */
  unprovenScore: 30,
  minScore: 0,
  maxScore: 100,
  trustedThreshold: 75,
  /** At or above: normal; below: suspicious. */
  normalThreshold: 40,
  /** Below: banned. */
  banThreshold: 10,
  goodBehaviorReward: 1,
  badBehaviorPenalty: 10,
  /** One hour: half of a deviation from the baseline is forgiven per hour. */
  decayHalfLifeMs: 3_600_000,
  /** One hour ban once a score falls below `banThreshold`. */
  banDuration: 3_600_000,
  maxNodes: 10_000,
  maxSeverity: 10,
} as const;

/** Subnet diversity defaults. */
export const SUBNET_DEFAULTS = {
  /** Seed 001, "Sybil Defense" example. */
  maxPerSubnet: 3,
  /** SPEC section 3: IPv4 /24, IPv6 /64. */
  ipv4PrefixLength: 24,
  ipv6PrefixLength: 64,
  /** Chosen: loopback peers are local processes (demos run many nodes on 127.0.0.1). */
  exemptLoopback: true,
  /** Chosen: bound on distinct subnets with live connections. */
  maxSubnets: 10_000,
} as const;
