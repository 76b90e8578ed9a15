// Defaults and fixed protocol values of @yak/e2ee-mathison, each with its source: seed 003
// ("Mesh E2EE"), SPEC section 2 (cross-cutting rules) or section 3 (@yak/e2ee-mathison).

/** Wire protocol version, carried in every handshake message and bound into the transcript. */
export const PROTOCOL_VERSION = 1;

/** Domain-separation prefix of every label this package hashes, signs or derives with. */
export const PROTOCOL_LABEL = 'yak/e2ee-mathison/v1';

/** Seed 003 "Replay Protection": accept counters within +-100 of the highest authenticated one. */
export const DEFAULT_REPLAY_WINDOW = 100;
/** Upper bound on a configured replay window, so the seen-set bitmap stays small. */
export const MAX_REPLAY_WINDOW = 65_536;

/** Seed 003 "Replay Protection" / SPEC section 3: rotate session keys every 1000 messages. */
export const DEFAULT_ROTATE_EVERY = 1000;

/**
 * How many epochs a receiver derives forward in one step (the sender rotated on demand this many
 * times without sending). Bounded so a message cannot make us run an unbounded key chain
 * (SPEC section 2, "Resource bounds").
 */
export const DEFAULT_MAX_EPOCH_SKIP = 8;

/**
 * Receive keys of earlier epochs kept for messages still in flight across a rotation
 * (SPEC section 2, "Rekeying": in-flight messages under the old key are accepted for a grace
 * period). They are also wiped as soon as the replay window has moved past them.
 */
export const RETAINED_EPOCHS = 2;

/** Epoch numbers are 32-bit on the wire (the nonce prefix). */
export const MAX_EPOCH = 0xffff_ffff;
/** Counters are the low 64 bits of the nonce; we stop at the largest exactly representable number. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** Largest plaintext one message may carry (SPEC section 2, "Resource bounds"). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Live sessions per MeshCrypto instance; new handshakes are refused beyond it. */
export const DEFAULT_MAX_SESSIONS = 1024;
/** Handshakes in progress per MeshCrypto instance. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;
/** Revoked session ids remembered so that use by id reports "revoked" rather than "unknown". */
export const REVOKED_IDS_REMEMBERED = 1024;

/** SPEC section 2, "Resource bounds": every wait has a timeout. A handshake is two round trips at most. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Handshake messages are at most a few KiB (the hybrid responder message is about 6.6 KiB). */
export const MAX_HANDSHAKE_MESSAGE_BYTES = 12 * 1024;
/** Messages queued per direction in {@link createHandshakePipe}. */
export const PIPE_QUEUE_LIMIT = 8;

/** Random contributions of each side to the session id (bytes). */
export const HANDSHAKE_NONCE_BYTES = 16;
/** Session ids are base64url of 16 bytes of a hash over both contributions. */
export const SESSION_ID_BYTES = 16;
/** Key ids are 'mk-' + base32 of 16 bytes of a hash over the identity public key. */
export const KEY_ID_PREFIX = 'mk-';
export const KEY_ID_HASH_BYTES = 16;

/** Seed 003 "Encryption (AEAD)": AES-256-GCM by default, ChaCha20-Poly1305 on request. */
export const DEFAULT_AEAD = 'aes-256-gcm';
/** Classical (X25519 + Ed25519, seed 003) unless hybrid is asked for (issue: "off by default"). */
export const DEFAULT_MODE = 'classical';

/** ML-DSA-65 context string for handshake signatures (FIPS 204 section 5.2, domain separation). */
export const MLDSA_CONTEXT = 'yak/e2ee-mathison/handshake/v1';

/**
 * scrypt cost for identity keys at rest: N = 2^17, r = 8, p = 1 (SPEC section 2, "Secrets at
 * rest"; the same figures as @yak/crypto's key store, from RFC 7914 section 2 and OWASP).
 * Tests may lower N to 2^14; lower is refused.
 */
export const SCRYPT_N = 2 ** 17;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
export const SCRYPT_MIN_N = 2 ** 14;
export const SCRYPT_MAX_N = 2 ** 22;
/** Largest sealed identity file we read (a hybrid identity seals to under 5 KiB). */
export const SEALED_IDENTITY_MAX_BYTES = 64 * 1024;
