/**
 * Typed errors of @yak/crypto. Tests and callers branch on `code`, never on message text.
 * No message ever contains key material (SPEC section 2, "Errors").
 */

/** Stable codes of {@link CryptoError}. */
export type CryptoErrorCode =
  | 'YAK_CRYPTO_AUTH'
  | 'YAK_CRYPTO_INVALID_KEY'
  | 'YAK_CRYPTO_ZERO_SHARED_SECRET'
  | 'YAK_CRYPTO_DECODE'
  | 'YAK_CRYPTO_ENCODE'
  | 'YAK_CRYPTO_BACKEND'
  | 'YAK_IDENTITY_INVALID'
  | 'YAK_IDENTITY_BAD_SIGNATURE'
  | 'YAK_IDENTITY_NODE_ID_MISMATCH'
  | 'YAK_IDENTITY_EXPIRED'
  | 'YAK_IDENTITY_DESTROYED'
  | 'YAK_KEYSTORE_PASSPHRASE'
  | 'YAK_KEYSTORE_CORRUPT'
  | 'YAK_KEYSTORE_IO'
  | 'YAK_KEYSTORE_NOT_FOUND'
  | 'YAK_KEYSTORE_EXISTS'
  | 'YAK_KEYSTORE_INSECURE';

/** Base class of every error @yak/crypto throws on bad data (as opposed to bad argument types). */
export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CryptoError';
    this.code = code;
  }
}

/** Identity records and node ids that do not verify. */
export class IdentityError extends CryptoError {
  constructor(code: Extract<CryptoErrorCode, `YAK_IDENTITY_${string}`>, message: string) {
    super(code, message);
    this.name = 'IdentityError';
  }
}

/** Key store failures: wrong passphrase, corrupted file, I/O. */
export class KeyStoreError extends CryptoError {
  constructor(code: Extract<CryptoErrorCode, `YAK_KEYSTORE_${string}`>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'KeyStoreError';
  }
}

/** Canonical encoding failures (CBOR decode/encode). */
export class EncodingError extends CryptoError {
  constructor(code: 'YAK_CRYPTO_DECODE' | 'YAK_CRYPTO_ENCODE', message: string) {
    super(code, message);
    this.name = 'EncodingError';
  }
}
