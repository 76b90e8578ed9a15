/**
 * @yak/e2ee-mathison: seed 003's `MeshCrypto` end-to-end encryption between two mesh peers
 * (SPEC section 3). An X25519 ephemeral handshake authenticated by Ed25519 identity signatures
 * over the full transcript (optionally hybrid: ML-KEM-768 and ML-DSA-65 as well), HKDF-SHA256
 * keys per direction, AES-256-GCM or ChaCha20-Poly1305 messages with a replay window, rotation,
 * revocation, and identity keys sealed at rest.
 * @packageDocumentation
 */

/** Package defaults, with their sources. */
export {
  DEFAULT_AEAD,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_EPOCH_SKIP,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MODE,
  DEFAULT_REPLAY_WINDOW,
  DEFAULT_ROTATE_EVERY,
  PROTOCOL_VERSION,
} from './constants.js';
/** Typed errors: branch on the class or `code`. */
export {
  AbortedError,
  AuthenticationError,
  ClosedError,
  DecryptError,
  HandshakeAbortedError,
  HandshakeAuthError,
  HandshakeError,
  HandshakeMalformedError,
  HandshakeMismatchError,
  HandshakeTimeoutError,
  HandshakeTransportError,
  KeyDestroyedError,
  MalformedMessageError,
  MeshCryptoError,
  type MeshCryptoErrorCode,
  NoIdentityError,
  OutOfWindowError,
  ReplayError,
  SessionError,
  SessionExhaustedError,
  SessionLimitError,
  SessionRevokedError,
  StorageCorruptError,
  StorageError,
  StorageExistsError,
  StorageInsecureError,
  StorageIOError,
  StorageNotFoundError,
  StoragePassphraseError,
  UnknownSessionError,
  WrongIdentityError,
} from './errors.js';
/** AEAD names accepted by the handshake. */
export type { AeadName } from './handshake.js';
/** Identity keys: `IdentityKeypair` (seed 003) with an opaque, non-extractable private key. */
export { type IdentityAlgorithm, type IdentityKeypair, IdentityPrivateKey, type Mode } from './identity.js';
/** Optional injected logger (pino shape). */
export type { Logger } from './logger.js';
/** The seed 003 interface and its implementation. */
export {
  type CallOptions,
  type CompleteHandshakeOptions,
  type HandshakeOptions,
  MeshCrypto,
  type MeshCryptoApi,
  type MeshCryptoOptions,
  type MeshCryptoStats,
} from './mesh-crypto.js';
/** Session handles and messages (seed 003 `SessionKeys`, `EncryptedMessage`). */
export { type EncryptedMessage, Session, type SessionInfo, type SessionKeys } from './session.js';
/** Identity storage, encrypted at rest. */
export {
  FileStorageAdapter,
  type FileStorageOptions,
  type LoadOptions,
  MemoryStorageAdapter,
  type SaveOptions,
  type SealingOptions,
  type StorageAdapter,
  type StorageCallOptions,
  sealIdentity,
  unsealIdentity,
} from './storage.js';
/** Handshake message plumbing. */
export { createHandshakePipe, type HandshakePipeEnd, type HandshakeTransport } from './transport.js';
