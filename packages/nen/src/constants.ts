// Defaults of @yak/nen, each with the document it comes from. "seed 004" is the Nen design
// document in shared/seeds; "SPEC" is shared/SPEC.md; "nen.md" is docs/protocol/nen.md.

/** Protocol version carried in every handshake and key configuration (nen.md section 1). */
export const PROTOCOL_VERSION = 1;

/** Base path of the protocol routes (seed 004: `/api/nen/handshake`). */
export const DEFAULT_BASE_PATH = '/api/nen/';
/** Where the signed key configuration is published (nen.md section 2; RFC 8615 well-known URI). */
export const DEFAULT_KEY_CONFIG_PATH = '/.well-known/nen/key-config';

/** Accepted clock difference for request timestamps: 30 s either way (seed 004, SPEC @yak/nen). */
export const TIMESTAMP_WINDOW_MS = 30_000;
/**
 * How long a request nonce is remembered. A timestamp t is accepted while |now - t| <= window, so a
 * request stays replayable for at most 2 windows after it was made; one extra second covers
 * rounding in store TTLs (nen.md section 5).
 */
export const NONCE_TTL_MS = 2 * TIMESTAMP_WINDOW_MS + 1_000;

/** Absolute session lifetime, never extended by rekey or rotate (SPEC @yak/nen; 1 h like a TLS ticket). */
export const SESSION_ABSOLUTE_TTL_MS = 60 * 60_000;
/** Idle lifetime: a session unused this long is dead (OWASP session management: 15-30 min). */
export const SESSION_IDLE_TTL_MS = 15 * 60_000;
/** Extra time an expired record is kept so a late request gets "expired" rather than "unknown". */
export const SESSION_EXPIRED_GRACE_MS = 60_000;

/** Client rekey policy: after 5 min or 10,000 requests, whichever first (SPEC section 2, "Rekeying"). */
export const REKEY_AFTER_MS = 5 * 60_000;
export const REKEY_AFTER_MESSAGES = 10_000;

/** Validity of a signed key configuration, and when the server re-signs it (nen.md section 2). */
export const KEY_CONFIG_VALIDITY_MS = 30 * 24 * 60 * 60_000;
/** notBefore is set this far in the past to absorb client clock skew. */
export const KEY_CONFIG_BACKDATE_MS = 5 * 60_000;
/** Largest key configuration a client will read (keys + signature are about 6.5 KB). */
export const KEY_CONFIG_MAX_BYTES = 16 * 1024;

/** Request bodies larger than this are refused before any crypto (SPEC section 2, "Resource bounds"). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Buffered (non-streamed) responses larger than this are refused. */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** Largest handshake request: two X-Wing values plus an optional ML-DSA key and signature, as JSON. */
export const MAX_HANDSHAKE_BYTES = 16 * 1024;
/** Largest header-carried payload (GET/DELETE without a body carry the envelope in a header). */
export const MAX_HEADER_PAYLOAD_BYTES = 8 * 1024;

/** Plaintext bytes per stream frame (nen.md section 7). */
export const STREAM_FRAME_BYTES = 64 * 1024;

/** In-memory store bounds (SPEC section 2, "Resource bounds"). */
export const MEMORY_MAX_SESSIONS = 10_000;
export const MEMORY_MAX_NONCES = 200_000;

/**
 * Decoded sessions a server keeps in memory with their prepared keys (nen.md section 5, "Server
 * state"); the same bound as the in-memory store, so a memory-backed server holds each session once.
 */
export const SESSION_CACHE_MAX = MEMORY_MAX_SESSIONS;
/**
 * A cached session unused this long is wiped from the cache (nen.md section 5): keys of sessions
 * rekeyed, rotated or ended through another instance stay in this one at most this long. Twice
 * the timestamp window, so a steady client keeps its entry.
 */
export const SESSION_CACHE_IDLE_MS = 2 * TIMESTAMP_WINDOW_MS;

/** Default time limit of one client operation (house rule 4). */
export const CLIENT_TIMEOUT_MS = 30_000;

/** Sizes (bytes). Session ids and request nonces are 128-bit random values. */
export const SID_BYTES = 16;
export const REQUEST_NONCE_BYTES = 16;
export const CLIENT_NONCE_BYTES = 16;
export const MAC_BYTES = 32;
export const KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;

/** Domain-separation labels for HKDF, MACs, AADs and signatures (nen.md section 4). */
export const LABEL = {
  keyConfigContext: 'yak/nen/key-config/v1',
  clientAuthContext: 'yak/nen/client-auth/v1',
  clientAuth: 'yak/nen/v1 client-auth',
  keyId: 'yak/nen/v1 key-id',
  handshake: 'yak/nen/v1 handshake',
  rekey: 'yak/nen/v1 rekey',
  rotate: 'yak/nen/v1 rotate',
  c2sKey: 'yak/nen/v1 c2s key',
  s2cKey: 'yak/nen/v1 s2c key',
  c2sMac: 'yak/nen/v1 c2s mac',
  s2cMac: 'yak/nen/v1 s2c mac',
  confirm: 'yak/nen/v1 confirm',
  chain: 'yak/nen/v1 chain',
  request: 'yak/nen/v1 request',
  requestBody: 'yak/nen/v1 request-body',
  response: 'yak/nen/v1 response',
  error: 'yak/nen/v1 error',
  streamKey: 'yak/nen/v1 stream key',
  stream: 'yak/nen/v1 stream',
  session: 'yak/nen/v1 session-at-rest',
} as const;

/** Algorithms named in the key configuration (SPEC section 2, "Hybrid by default"). */
export const SUITE = {
  kem: 'X-Wing',
  aead: 'ChaCha20-Poly1305',
  kdf: 'HKDF-SHA256',
  mac: 'HMAC-SHA256',
  sig: 'ML-DSA-65',
} as const;
