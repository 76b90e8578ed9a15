/**
 * Typed errors of @yak/annex (SPEC section 2, "Errors"). Callers branch on `code` or class, never
 * on message text. No message contains key material.
 */

/** Stable codes of {@link AnnexError}. */
export type AnnexErrorCode =
  | 'YAK_ANNEX_INVALID_ARGUMENT'
  | 'YAK_ANNEX_PAYLOAD_TOO_LARGE'
  | 'YAK_ANNEX_TIMEOUT'
  | 'YAK_ANNEX_ABORTED'
  | 'YAK_ANNEX_HANDSHAKE_FAILED'
  | 'YAK_ANNEX_CHANNEL_CLOSED'
  | 'YAK_ANNEX_UNREACHABLE'
  | 'YAK_ANNEX_TOO_MANY_SESSIONS'
  | 'YAK_ANNEX_STOPPED'
  | 'YAK_ANNEX_CONGESTED'
  | 'YAK_ANNEX_KEY_EXHAUSTED'
  | 'YAK_ANNEX_MALFORMED';

/** Base class of every error @yak/annex throws or rejects with. */
export class AnnexError extends Error {
  readonly code: AnnexErrorCode;
  constructor(code: AnnexErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AnnexError';
    this.code = code;
  }
}

/** An argument or option is out of range or of the wrong shape. */
export class InvalidArgumentError extends AnnexError {
  constructor(message: string) {
    super('YAK_ANNEX_INVALID_ARGUMENT', message);
    this.name = 'InvalidArgumentError';
  }
}

/** The payload encodes to more than `maxPayloadBytes`. */
export class PayloadTooLargeError extends AnnexError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super('YAK_ANNEX_PAYLOAD_TOO_LARGE', `payload encodes to ${size} bytes, limit ${limit}`);
    this.name = 'PayloadTooLargeError';
  }
}

/** An operation did not finish within its timeout. */
export class TimeoutError extends AnnexError {
  constructor(message: string) {
    super('YAK_ANNEX_TIMEOUT', message);
    this.name = 'TimeoutError';
  }
}

/** The caller's AbortSignal fired. */
export class AbortedError extends AnnexError {
  constructor(options?: { cause?: unknown }) {
    super('YAK_ANNEX_ABORTED', 'operation aborted', options);
    this.name = 'AbortedError';
  }
}

/** The peer's handshake messages did not verify (wrong identity, bad key confirmation). */
export class HandshakeError extends AnnexError {
  constructor(message: string) {
    super('YAK_ANNEX_HANDSHAKE_FAILED', message);
    this.name = 'HandshakeError';
  }
}

/** The channel was closed (locally or by the peer) while the operation waited for it. */
export class ChannelClosedError extends AnnexError {
  constructor(message: string) {
    super('YAK_ANNEX_CHANNEL_CLOSED', message);
    this.name = 'ChannelClosedError';
  }
}

/** The mesh has no route to the peer. */
export class UnreachableError extends AnnexError {
  constructor(nodeId: string, options?: { cause?: unknown }) {
    super('YAK_ANNEX_UNREACHABLE', `no route to ${nodeId}`, options);
    this.name = 'UnreachableError';
  }
}

/** `maxSessions` sessions (established or pending) already exist. */
export class SessionLimitError extends AnnexError {
  constructor(limit: number) {
    super('YAK_ANNEX_TOO_MANY_SESSIONS', `session limit ${limit} reached`);
    this.name = 'SessionLimitError';
  }
}

/** The Annex was stopped. */
export class StoppedError extends AnnexError {
  constructor() {
    super('YAK_ANNEX_STOPPED', 'annex stopped');
    this.name = 'StoppedError';
  }
}

/** Too many bytes are already queued for a peer whose mesh link is congested. */
export class CongestedError extends AnnexError {
  constructor(nodeId: string) {
    super('YAK_ANNEX_CONGESTED', `send queue to ${nodeId} is full`);
    this.name = 'CongestedError';
  }
}

/**
 * The send key reached its hard bound (annex.md section 6.1) and the send could not wait for the
 * new key: `reason` is 'queue_full' when too many sends are already held for the session, or
 * 'rekey_failed' when the rekey timed out and the session was torn down.
 */
export class KeyExhaustedError extends AnnexError {
  constructor(
    readonly reason: 'queue_full' | 'rekey_failed',
    nodeId: string,
  ) {
    super(
      'YAK_ANNEX_KEY_EXHAUSTED',
      reason === 'queue_full' ? `too many sends to ${nodeId} wait for a new key` : `rekey with ${nodeId} failed; the session was closed`,
    );
    this.name = 'KeyExhaustedError';
  }
}

/** Bytes that are not a well-formed annex envelope (thrown by the exported codec only). */
export class MalformedEnvelopeError extends AnnexError {
  constructor(message: string) {
    super('YAK_ANNEX_MALFORMED', message);
    this.name = 'MalformedEnvelopeError';
  }
}
