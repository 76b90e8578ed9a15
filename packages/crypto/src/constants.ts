// Defaults of @yak/crypto, with their sources.

/** Domain separation prefix of node ids (SPEC section 2, "Identity"). */
export const NODE_ID_LABEL = 'yak/node-id/v1';
/** Node id: 'node-' + base32(first 20 bytes of the hash) (SPEC section 2). */
export const NODE_ID_PREFIX = 'node-';
export const NODE_ID_HASH_BYTES = 20;
/** ML-DSA context string for identity records (FIPS 204 section 5.2 ctx, for domain separation). */
export const IDENTITY_RECORD_CONTEXT = 'yak/identity-record/v1';
/** Maximum encoded size of an identity record: 1952 + 1216 + 3309 bytes of keys and signature plus fields. */
export const IDENTITY_RECORD_MAX_BYTES = 8192;
/** Verified identity records cached (by hash of their encoding) so a record is verified once. */
export const VERIFIED_RECORD_CACHE_SIZE = 4096;

/**
 * scrypt cost for secrets at rest: N = 2^17, r = 8, p = 1 (128 MiB, RFC 7914 section 2 and
 * OWASP's password storage guidance). Tests may lower N to 2^14; lower is refused.
 */
export const SCRYPT_N = 2 ** 17;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
export const SCRYPT_MIN_N = 2 ** 14;
export const SCRYPT_MAX_N = 2 ** 22;
/** Upper bound on a sealed file we will read (a key store of a few thousand identities). */
export const SEALED_MAX_BYTES = 16 * 1024 * 1024;
