/**
 * Typed errors of @yak/mesh-core (SPEC section 2, "Errors"). Callers branch on `code` or class,
 * never on message text. No message contains key material.
 */

/** Stable codes of {@link MeshError}. */
export type MeshErrorCode =
  | 'YAK_MESH_HANDSHAKE_FAILED'
  | 'YAK_MESH_WRONG_NETWORK'
  | 'YAK_MESH_WRONG_FINGERPRINT'
  | 'YAK_MESH_IDENTITY_MISMATCH'
  | 'YAK_MESH_REJECTED'
  | 'YAK_MESH_UNREACHABLE'
  | 'YAK_MESH_TIMEOUT'
  | 'YAK_MESH_ABORTED'
  | 'YAK_MESH_CONNECTION_FAILED'
  | 'YAK_MESH_PORT_UNAVAILABLE'
  | 'YAK_MESH_NOT_STARTED'
  | 'YAK_MESH_STOPPED'
  | 'YAK_MESH_INVALID_ARGUMENT'
  | 'YAK_MESH_PAYLOAD_TOO_LARGE'
  | 'YAK_MESH_STORE_FULL';

/** Base class of every error @yak/mesh-core throws or rejects with. */
export class MeshError extends Error {
  readonly code: MeshErrorCode;
  constructor(code: MeshErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeshError';
    this.code = code;
  }
}

/** The link handshake failed (bad message, failed key confirmation, closed mid-way). */
export class HandshakeError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('YAK_MESH_HANDSHAKE_FAILED', message, options);
    this.name = 'HandshakeError';
  }
}

/** The peer belongs to another network id (seed 001 "Code Proof Verification"). */
export class WrongNetworkError extends MeshError {
  constructor(message: string) {
    super('YAK_MESH_WRONG_NETWORK', message);
    this.name = 'WrongNetworkError';
  }
}

/** The peer runs a different codebase (its network fingerprint differs). */
export class WrongFingerprintError extends MeshError {
  constructor(message: string) {
    super('YAK_MESH_WRONG_FINGERPRINT', message);
    this.name = 'WrongFingerprintError';
  }
}

/** The peer's identity does not verify: its node id does not match its key, or it is not the expected node. */
export class IdentityMismatchError extends MeshError {
  constructor(message: string) {
    super('YAK_MESH_IDENTITY_MISMATCH', message);
    this.name = 'IdentityMismatchError';
  }
}

/** The peer refused the link: rate limited, banned, full, or a duplicate link. */
export class RejectedError extends MeshError {
  /** Machine-readable cause sent by the peer (see `RejectCode` in docs/protocol/link.md). */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super('YAK_MESH_REJECTED', message);
    this.name = 'RejectedError';
    this.reason = reason;
  }
}

/** No link and no route to the target node. */
export class UnreachableError extends MeshError {
  readonly target: string;
  constructor(target: string, message = `no route to ${target}`) {
    super('YAK_MESH_UNREACHABLE', message);
    this.name = 'UnreachableError';
    this.target = target;
  }
}

/** An operation did not complete in time. */
export class TimeoutError extends MeshError {
  constructor(message: string) {
    super('YAK_MESH_TIMEOUT', message);
    this.name = 'TimeoutError';
  }
}

/** An operation was cancelled through its AbortSignal. */
export class AbortedError extends MeshError {
  constructor(message = 'operation aborted') {
    super('YAK_MESH_ABORTED', message);
    this.name = 'AbortedError';
  }
}

/** The transport could not reach the endpoint or the connection dropped. */
export class ConnectionError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('YAK_MESH_CONNECTION_FAILED', message, options);
    this.name = 'ConnectionError';
  }
}

/** No port in `[wsPort, wsPort + portRetries]` could be bound. */
export class PortUnavailableError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('YAK_MESH_PORT_UNAVAILABLE', message, options);
    this.name = 'PortUnavailableError';
  }
}

/** The network is not started, or was stopped. */
export class NotRunningError extends MeshError {
  constructor(code: 'YAK_MESH_NOT_STARTED' | 'YAK_MESH_STOPPED', message: string) {
    super(code, message);
    this.name = 'NotRunningError';
  }
}

/** A local caller passed a bad argument (wrong type, malformed endpoint, bad option). */
export class InvalidArgumentError extends MeshError {
  constructor(message: string) {
    super('YAK_MESH_INVALID_ARGUMENT', message);
    this.name = 'InvalidArgumentError';
  }
}

/** A message is larger than a frame may carry. */
export class PayloadTooLargeError extends MeshError {
  constructor(message: string) {
    super('YAK_MESH_PAYLOAD_TOO_LARGE', message);
    this.name = 'PayloadTooLargeError';
  }
}

/** The replicated store is at its entry or byte bound and the key is new. */
export class StoreFullError extends MeshError {
  constructor(message: string) {
    super('YAK_MESH_STORE_FULL', message);
    this.name = 'StoreFullError';
  }
}
