/**
 * Typed errors of @yak/e2ee-mathison. Callers and tests branch on the class or on `code`, never
 * on message text. No message ever carries key material, plaintext or ciphertext
 * (SPEC section 2, "Errors"; issue: key custody).
 */

/** Every stable code this package throws. */
export type MeshCryptoErrorCode =
  | 'YAK_E2EE_NO_IDENTITY'
  | 'YAK_E2EE_KEY_DESTROYED'
  | 'YAK_E2EE_HANDSHAKE_MALFORMED'
  | 'YAK_E2EE_HANDSHAKE_MISMATCH'
  | 'YAK_E2EE_HANDSHAKE_AUTH'
  | 'YAK_E2EE_WRONG_IDENTITY'
  | 'YAK_E2EE_HANDSHAKE_TIMEOUT'
  | 'YAK_E2EE_HANDSHAKE_ABORTED'
  | 'YAK_E2EE_HANDSHAKE_TRANSPORT'
  | 'YAK_E2EE_MALFORMED'
  | 'YAK_E2EE_AUTH'
  | 'YAK_E2EE_REPLAY'
  | 'YAK_E2EE_OUT_OF_WINDOW'
  | 'YAK_E2EE_UNKNOWN_SESSION'
  | 'YAK_E2EE_SESSION_REVOKED'
  | 'YAK_E2EE_SESSION_EXHAUSTED'
  | 'YAK_E2EE_SESSION_LIMIT'
  | 'YAK_E2EE_CLOSED'
  | 'YAK_E2EE_ABORTED'
  | 'YAK_E2EE_STORAGE_PASSPHRASE'
  | 'YAK_E2EE_STORAGE_CORRUPT'
  | 'YAK_E2EE_STORAGE_NOT_FOUND'
  | 'YAK_E2EE_STORAGE_EXISTS'
  | 'YAK_E2EE_STORAGE_INSECURE'
  | 'YAK_E2EE_STORAGE_IO';

/** Base class of every error @yak/e2ee-mathison throws on bad data or bad state. */
export class MeshCryptoError extends Error {
  readonly code: MeshCryptoErrorCode;
  constructor(code: MeshCryptoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeshCryptoError';
    this.code = code;
  }
}

/** An operation needs an identity and none has been generated, loaded or given. */
export class NoIdentityError extends MeshCryptoError {
  constructor(message = 'no identity: call generateIdentityKeypair() or useIdentity() first') {
    super('YAK_E2EE_NO_IDENTITY', message);
    this.name = 'NoIdentityError';
  }
}

/** The identity private key was destroyed (`IdentityPrivateKey.destroy()`). */
export class KeyDestroyedError extends MeshCryptoError {
  constructor() {
    super('YAK_E2EE_KEY_DESTROYED', 'identity private key has been destroyed');
    this.name = 'KeyDestroyedError';
  }
}

/** The MeshCrypto instance was closed. */
export class ClosedError extends MeshCryptoError {
  constructor() {
    super('YAK_E2EE_CLOSED', 'MeshCrypto instance is closed');
    this.name = 'ClosedError';
  }
}

/** The caller's AbortSignal fired before a storage, rotation or revocation call finished. */
export class AbortedError extends MeshCryptoError {
  constructor() {
    super('YAK_E2EE_ABORTED', 'operation aborted');
    this.name = 'AbortedError';
  }
}

// ---------------------------------------------------------------------------------------------
// Handshake

type HandshakeCode = Extract<
  MeshCryptoErrorCode,
  | 'YAK_E2EE_HANDSHAKE_MALFORMED'
  | 'YAK_E2EE_HANDSHAKE_MISMATCH'
  | 'YAK_E2EE_HANDSHAKE_AUTH'
  | 'YAK_E2EE_WRONG_IDENTITY'
  | 'YAK_E2EE_HANDSHAKE_TIMEOUT'
  | 'YAK_E2EE_HANDSHAKE_ABORTED'
  | 'YAK_E2EE_HANDSHAKE_TRANSPORT'
>;

/** Base class of handshake failures. No session exists after one of these. */
export class HandshakeError extends MeshCryptoError {
  constructor(code: HandshakeCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'HandshakeError';
  }
}

/** A handshake message is not a well-formed message of the expected type. */
export class HandshakeMalformedError extends HandshakeError {
  constructor(message: string) {
    super('YAK_E2EE_HANDSHAKE_MALFORMED', message);
    this.name = 'HandshakeMalformedError';
  }
}

/** The peer speaks another protocol version, mode (classical/hybrid) or AEAD than we accept. */
export class HandshakeMismatchError extends HandshakeError {
  constructor(message: string) {
    super('YAK_E2EE_HANDSHAKE_MISMATCH', message);
    this.name = 'HandshakeMismatchError';
  }
}

/**
 * Phase 2 failed: a transcript signature or key-confirmation MAC did not verify. This is what a
 * man in the middle who substituted ephemeral keys runs into.
 */
export class HandshakeAuthError extends HandshakeError {
  constructor(message: string) {
    super('YAK_E2EE_HANDSHAKE_AUTH', message);
    this.name = 'HandshakeAuthError';
  }
}

/** The peer authenticated as an identity other than the one we expected. */
export class WrongIdentityError extends HandshakeError {
  constructor(message: string) {
    super('YAK_E2EE_WRONG_IDENTITY', message);
    this.name = 'WrongIdentityError';
  }
}

/** The peer did not answer within the handshake timeout. */
export class HandshakeTimeoutError extends HandshakeError {
  constructor(timeoutMs: number) {
    super('YAK_E2EE_HANDSHAKE_TIMEOUT', `handshake timed out after ${timeoutMs} ms`);
    this.name = 'HandshakeTimeoutError';
  }
}

/** The caller's AbortSignal fired (or the instance was closed) during the handshake. */
export class HandshakeAbortedError extends HandshakeError {
  constructor() {
    super('YAK_E2EE_HANDSHAKE_ABORTED', 'handshake aborted');
    this.name = 'HandshakeAbortedError';
  }
}

/** The handshake transport failed to send or receive. */
export class HandshakeTransportError extends HandshakeError {
  constructor(cause: unknown) {
    super('YAK_E2EE_HANDSHAKE_TRANSPORT', 'handshake transport failed', { cause });
    this.name = 'HandshakeTransportError';
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

type DecryptCode = Extract<MeshCryptoErrorCode, 'YAK_E2EE_MALFORMED' | 'YAK_E2EE_AUTH' | 'YAK_E2EE_REPLAY' | 'YAK_E2EE_OUT_OF_WINDOW'>;

/** Base class of message rejections. A rejected message never changes session state. */
export class DecryptError extends MeshCryptoError {
  constructor(code: DecryptCode, message: string) {
    super(code, message);
    this.name = 'DecryptError';
  }
}

/** The message is not a well-formed EncryptedMessage (types, lengths, encoding, nonce layout). */
export class MalformedMessageError extends DecryptError {
  constructor(message: string) {
    super('YAK_E2EE_MALFORMED', message);
    this.name = 'MalformedMessageError';
  }
}

/** AEAD authentication failed: the message was modified or not made with this session's key. */
export class AuthenticationError extends DecryptError {
  constructor() {
    super('YAK_E2EE_AUTH', 'message authentication failed');
    this.name = 'AuthenticationError';
  }
}

/** The counter was already accepted once (seen-set). */
export class ReplayError extends DecryptError {
  constructor(counter: number) {
    super('YAK_E2EE_REPLAY', `counter ${counter} was already received`);
    this.name = 'ReplayError';
  }
}

/** The counter (or key epoch) is outside the replay window. */
export class OutOfWindowError extends DecryptError {
  constructor(message: string) {
    super('YAK_E2EE_OUT_OF_WINDOW', message);
    this.name = 'OutOfWindowError';
  }
}

// ---------------------------------------------------------------------------------------------
// Sessions

type SessionCode = Extract<
  MeshCryptoErrorCode,
  'YAK_E2EE_UNKNOWN_SESSION' | 'YAK_E2EE_SESSION_REVOKED' | 'YAK_E2EE_SESSION_EXHAUSTED' | 'YAK_E2EE_SESSION_LIMIT'
>;

/** Base class of session-state failures. */
export class SessionError extends MeshCryptoError {
  constructor(code: SessionCode, message: string) {
    super(code, message);
    this.name = 'SessionError';
  }
}

/** No such session in this instance (or a message for another session). */
export class UnknownSessionError extends SessionError {
  constructor(message = 'unknown session') {
    super('YAK_E2EE_UNKNOWN_SESSION', message);
    this.name = 'UnknownSessionError';
  }
}

/** The session was revoked (or its instance closed); its keys are gone. */
export class SessionRevokedError extends SessionError {
  constructor() {
    super('YAK_E2EE_SESSION_REVOKED', 'session has been revoked');
    this.name = 'SessionRevokedError';
  }
}

/** The session ran out of counters or epochs; run a new handshake. */
export class SessionExhaustedError extends SessionError {
  constructor(message: string) {
    super('YAK_E2EE_SESSION_EXHAUSTED', message);
    this.name = 'SessionExhaustedError';
  }
}

/** Too many live sessions or handshakes in progress. */
export class SessionLimitError extends SessionError {
  constructor(message: string) {
    super('YAK_E2EE_SESSION_LIMIT', message);
    this.name = 'SessionLimitError';
  }
}

// ---------------------------------------------------------------------------------------------
// Storage

type StorageCode = Extract<MeshCryptoErrorCode, `YAK_E2EE_STORAGE_${string}`>;

/** Base class of identity storage failures. */
export class StorageError extends MeshCryptoError {
  constructor(code: StorageCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'StorageError';
  }
}

/** The passphrase does not open the sealed identity. */
export class StoragePassphraseError extends StorageError {
  constructor() {
    super('YAK_E2EE_STORAGE_PASSPHRASE', 'wrong passphrase');
    this.name = 'StoragePassphraseError';
  }
}

/** The sealed identity is damaged, truncated or not a sealed identity at all. */
export class StorageCorruptError extends StorageError {
  constructor(why: string) {
    super('YAK_E2EE_STORAGE_CORRUPT', `sealed identity is corrupted: ${why}`);
    this.name = 'StorageCorruptError';
  }
}

/** No identity stored under that key id. */
export class StorageNotFoundError extends StorageError {
  constructor(keyId: string) {
    super('YAK_E2EE_STORAGE_NOT_FOUND', `no identity stored under ${keyId}`);
    this.name = 'StorageNotFoundError';
  }
}

/** An identity is already stored under that key id and overwrite was not asked for. */
export class StorageExistsError extends StorageError {
  constructor(keyId: string) {
    super('YAK_E2EE_STORAGE_EXISTS', `an identity is already stored under ${keyId}`);
    this.name = 'StorageExistsError';
  }
}

/** The key file can be read by other users (mode is not 0600) and insecure files were not allowed. */
export class StorageInsecureError extends StorageError {
  constructor(mode: number) {
    super('YAK_E2EE_STORAGE_INSECURE', `identity file mode ${mode.toString(8)} is readable by others; expected 600`);
    this.name = 'StorageInsecureError';
  }
}

/** File system failure; the cause is the underlying error. */
export class StorageIOError extends StorageError {
  constructor(what: string, cause: unknown) {
    super('YAK_E2EE_STORAGE_IO', `storage I/O failed: ${what}`, { cause });
    this.name = 'StorageIOError';
  }
}
