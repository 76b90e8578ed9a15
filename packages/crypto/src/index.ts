/**
 * @yak/crypto: the primitives every YAK package stands on (SPEC section 3).
 * @packageDocumentation
 */

export { availableBackends, type BackendReport, backend, selectBackend } from './backend.js';
export {
  concatBytes,
  fromBase32,
  fromBase64url,
  fromHex,
  fromUtf8,
  toBase32,
  toBase64url,
  toHex,
  u32be,
  u64be,
  utf8,
  wipe,
} from './bytes.js';
export { type CborValue, type DecodeOptions, decode, encode } from './cbor.js';
export { CryptoError, type CryptoErrorCode, EncodingError, IdentityError, KeyStoreError } from './errors.js';
export {
  decodeIdentityRecord,
  encodeIdentityRecord,
  type GenerateOptions,
  type IdentityRecord,
  isNodeId,
  NodeIdentity,
  nodeIdFromPublicKey,
  type VerifyRecordOptions,
} from './identity.js';
export { KeyStore, type KeyStoreOptions } from './keystore.js';
export {
  type Encapsulation,
  type HybridKemDecapsulator,
  hybridKem,
  hybridKemDecapsulator,
  hybridKemEphemeral,
  type Kem,
  mldsa65,
  mlkem768,
} from './pq.js';
export {
  AEAD_KEY_LENGTH,
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  type Aead,
  aes256gcm,
  chacha20poly1305,
  constantTimeEqual,
  ed25519,
  type HashName,
  hkdf,
  hkdfExpand,
  hkdfExtract,
  hmac,
  type KeyPair,
  randomBytes,
  sha3_256,
  sha256,
  sha384,
  sha512,
  x25519,
} from './primitives.js';
export type { SealOptions } from './sealed.js';
/** Bounds-checked reader and writer for fixed binary layouts (frames of every YAK protocol). */
export { ByteReader, ByteWriter } from './wire.js';
