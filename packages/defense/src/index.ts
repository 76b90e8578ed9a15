/**
 * @yak/defense: the seed 001 security modules (SPEC section 3) — rate limiting, message size and
 * structure validation, safe JSON, replay defense and Sybil defense. Checks of untrusted input
 * return `{ allowed|valid, code, reason }` and never throw; bad options and bad local arguments
 * throw a {@link DefenseError}.
 * @packageDocumentation
 */

/** Defaults with their sources. */
export {
  FORBIDDEN_KEYS,
  MESSAGE_SIZE_LIMITS,
  NAVR_DEFAULTS,
  NONCE_DEFAULTS,
  RATE_LIMIT_DEFAULTS,
  REPUTATION_DEFAULTS,
  SAFE_JSON_DEFAULTS,
  SEQUENCE_DEFAULTS,
  SUBNET_DEFAULTS,
  TIMESTAMP_DEFAULTS,
} from './constants.js';
/** Errors: one base class, one subclass per condition, each with a stable `code`. */
export {
  DefenseError,
  type DefenseErrorCode,
  InvalidArgumentError,
  InvalidOptionsError,
  MalformedInputError,
  PowExhaustedError,
} from './errors.js';
/** IP address helpers used by the limiter and subnet checks. */
export { normalizeIp } from './ip.js';
/** Per-type size limits and schemas (seed 001 "Message Validator"). */
export {
  DEFAULT_SCHEMAS,
  type FieldRule,
  type FieldType,
  type MessageSchema,
  type MessageTypeDefinition,
  MessageValidator,
  type MessageValidatorOptions,
  type ValidationCode,
  type ValidationResult,
} from './message-validator.js';
/** NAVR proof of work (seed 001 "Sybil Defense"). */
export {
  decodeNavrChallenge,
  encodeNavrChallenge,
  NAVR,
  type NavrChallenge,
  type NavrCode,
  type NavrExpectedBinding,
  type NavrOptions,
  type NavrSolveAsyncOptions,
  type NavrSolveOptions,
  type NavrVerification,
  solveNavrChallenge,
  solveNavrChallengeAsync,
} from './navr.js';
/** Injectable clock and logger shapes shared by every class. */
export type { Clock, Logger } from './options.js';
/** Sliding-window rate limiter with bans (seed 001 "Rate Limiter"). */
export {
  ConnectionRateLimiter,
  type ConnectionRateLimiterOptions,
  type RateLimitCategory,
  type RateLimitCode,
  type RateLimiterStats,
  type RateLimitResult,
} from './rate-limiter.js';
/** Replay defense (seed 001 "Replay Defense"; SPEC section 2 "Replay"). */
export {
  NonceRegistry,
  type NonceRegistryOptions,
  type ReplayCode,
  type ReplayResult,
  SequenceTracker,
  type SequenceTrackerOptions,
  TimestampValidator,
  type TimestampValidatorOptions,
} from './replay-defense.js';

/** Reputation with decay (seed 001 "Sybil Defense"). */
export { ReputationTracker, type ReputationTrackerOptions, type TrustLevel } from './reputation.js';
/** Bounded JSON parsing without prototype pollution. */
export { type JsonValue, type SafeJsonErrorCode, SafeJsonParser, type SafeJsonParserOptions, type SafeJsonResult } from './safe-json.js';
/** Subnet diversity limits (seed 001 "Sybil Defense"). */
export { type SubnetCode, SubnetDiversity, type SubnetDiversityOptions, type SubnetResult } from './subnet-diversity.js';
