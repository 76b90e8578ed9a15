// The Nen error catalogue (SPEC @yak/nen; nen.md section 8). Seed 004 named five codes
// (ISO-3001, 3002, 3003, 4001, 5001); the rest complete the catalogue in the same numbering:
// 1xxx handshake and key configuration, 2xxx sessions, 3xxx request authentication, 4xxx
// payloads and responses, 5xxx replay, 6xxx streams, 7xxx routing, 9xxx internal.
// Codes and reasons are stable; messages are for humans and never carry key material.

/** Every entry of the catalogue: ISO code -> HTTP status and stable reason. */
export const NEN_ERRORS = {
  'ISO-1001': { status: 400, reason: 'YAK_NEN_HANDSHAKE_MALFORMED', message: 'handshake message is malformed' },
  'ISO-1002': { status: 400, reason: 'YAK_NEN_UNSUPPORTED_VERSION', message: 'unsupported protocol version or algorithm' },
  'ISO-1003': { status: 409, reason: 'YAK_NEN_KEY_CONFIG_UNKNOWN', message: 'handshake names another server key' },
  'ISO-1004': { status: 400, reason: 'YAK_NEN_HANDSHAKE_KEM', message: 'key encapsulation failed' },
  'ISO-1005': { status: 401, reason: 'YAK_NEN_CLIENT_AUTH_REQUIRED', message: 'client authentication required' },
  'ISO-1006': { status: 401, reason: 'YAK_NEN_CLIENT_AUTH_FAILED', message: 'client signature does not verify' },
  'ISO-1007': { status: 403, reason: 'YAK_NEN_CLIENT_FORBIDDEN', message: 'client key not authorized' },
  'ISO-1101': { status: 502, reason: 'YAK_NEN_KEY_CONFIG_SIGNATURE', message: 'key configuration signature does not verify' },
  'ISO-1102': { status: 502, reason: 'YAK_NEN_KEY_CONFIG_MISMATCH', message: 'key configuration is not signed by the pinned server key' },
  'ISO-1103': { status: 502, reason: 'YAK_NEN_KEY_CONFIG_EXPIRED', message: 'key configuration is expired or not yet valid' },
  'ISO-1104': { status: 502, reason: 'YAK_NEN_KEY_CONFIRMATION', message: 'server key confirmation failed' },
  'ISO-1105': { status: 502, reason: 'YAK_NEN_KEY_CONFIG_MALFORMED', message: 'key configuration is malformed' },
  'ISO-2001': { status: 401, reason: 'YAK_NEN_SESSION_MISSING', message: 'session header missing or malformed' },
  'ISO-2002': { status: 401, reason: 'YAK_NEN_SESSION_UNKNOWN', message: 'session unknown or terminated' },
  'ISO-2003': { status: 401, reason: 'YAK_NEN_SESSION_EXPIRED', message: 'session reached its absolute lifetime' },
  'ISO-2004': { status: 401, reason: 'YAK_NEN_SESSION_IDLE', message: 'session idle for too long' },
  'ISO-2005': { status: 503, reason: 'YAK_NEN_STORE_UNAVAILABLE', message: 'session store unavailable' },
  'ISO-2007': { status: 409, reason: 'YAK_NEN_SESSION_CONFLICT', message: 'session changed concurrently' },
  'ISO-3001': { status: 401, reason: 'YAK_NEN_SIGNATURE_MISSING', message: 'request signature missing' },
  'ISO-3002': { status: 401, reason: 'YAK_NEN_SIGNATURE_INVALID', message: 'request signature invalid' },
  'ISO-3003': { status: 401, reason: 'YAK_NEN_TIMESTAMP', message: 'timestamp missing or outside the accepted window' },
  'ISO-3004': { status: 400, reason: 'YAK_NEN_NONCE_MALFORMED', message: 'request nonce missing or malformed' },
  'ISO-4001': { status: 400, reason: 'YAK_NEN_DECRYPT', message: 'payload decryption failed' },
  'ISO-4002': { status: 400, reason: 'YAK_NEN_BODY_MALFORMED', message: 'encrypted body is malformed' },
  'ISO-4003': { status: 413, reason: 'YAK_NEN_BODY_TOO_LARGE', message: 'body too large' },
  'ISO-4004': { status: 400, reason: 'YAK_NEN_ENVELOPE_MALFORMED', message: 'decrypted envelope is malformed' },
  'ISO-4005': { status: 500, reason: 'YAK_NEN_RESPONSE_TOO_LARGE', message: 'response too large to buffer' },
  'ISO-4101': { status: 502, reason: 'YAK_NEN_RESPONSE_AUTH', message: 'response failed authentication' },
  'ISO-4102': { status: 502, reason: 'YAK_NEN_RESPONSE_UNPROTECTED', message: 'response is not protected by the session' },
  'ISO-5001': { status: 409, reason: 'YAK_NEN_REPLAY', message: 'nonce already used' },
  'ISO-5002': { status: 503, reason: 'YAK_NEN_REPLAY_CACHE_FULL', message: 'replay cache full' },
  'ISO-6001': { status: 502, reason: 'YAK_NEN_STREAM_FRAME', message: 'stream frame failed authentication' },
  'ISO-6002': { status: 502, reason: 'YAK_NEN_STREAM_TRUNCATED', message: 'stream ended without its final frame' },
  'ISO-6003': { status: 502, reason: 'YAK_NEN_STREAM_ABORTED', message: 'stream aborted by the server' },
  'ISO-7001': { status: 404, reason: 'YAK_NEN_ROUTE', message: 'no such protocol route' },
  'ISO-7002': { status: 405, reason: 'YAK_NEN_METHOD', message: 'method not allowed' },
  'ISO-9001': { status: 500, reason: 'YAK_NEN_INTERNAL', message: 'internal error' },
  'ISO-9002': { status: 504, reason: 'YAK_NEN_TIMEOUT', message: 'operation timed out or was aborted' },
  'ISO-9003': { status: 502, reason: 'YAK_NEN_TRANSPORT', message: 'transport failure' },
} as const;

/** A code of the catalogue. */
export type NenErrorCode = keyof typeof NEN_ERRORS;

/** True when `code` is in the catalogue. */
export function isNenErrorCode(code: unknown): code is NenErrorCode {
  return typeof code === 'string' && Object.hasOwn(NEN_ERRORS, code);
}

export interface NenErrorOptions {
  /** True when the error came from the server and its MAC verified with the session keys. */
  authenticated?: boolean;
  cause?: unknown;
  /** Override of the catalogue message (still without key material). */
  message?: string;
}

/** Base class of every Nen protocol error. `code` is the ISO code, `reason` its YAK_NEN_* name. */
export class NenError extends Error {
  readonly code: NenErrorCode;
  readonly reason: string;
  readonly status: number;
  readonly authenticated: boolean;
  constructor(code: NenErrorCode, opts: NenErrorOptions = {}) {
    const entry = NEN_ERRORS[code];
    super(opts.message ?? entry.message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'NenError';
    this.code = code;
    this.reason = entry.reason;
    this.status = entry.status;
    this.authenticated = opts.authenticated ?? false;
  }
}

/** 1xxx: handshake and key configuration. */
export class NenHandshakeError extends NenError {
  override readonly name = 'NenHandshakeError';
}
/** 2xxx: session missing, unknown, expired, store failures. */
export class NenSessionError extends NenError {
  override readonly name = 'NenSessionError';
}
/** 3xxx: request authentication (signature, timestamp, nonce). */
export class NenAuthError extends NenError {
  override readonly name = 'NenAuthError';
}
/** 4xxx: payload, decryption and response protection. */
export class NenPayloadError extends NenError {
  override readonly name = 'NenPayloadError';
}
/** 5xxx: replay. */
export class NenReplayError extends NenError {
  override readonly name = 'NenReplayError';
}
/** 6xxx: streams. */
export class NenStreamError extends NenError {
  override readonly name = 'NenStreamError';
}
/** 7xxx and 9xxx: routing, timeouts, transport, internal. */
export class NenServiceError extends NenError {
  override readonly name = 'NenServiceError';
}

/** Build the error of the right subclass for a code. */
export function nenError(code: NenErrorCode, opts: NenErrorOptions = {}): NenError {
  switch (code[4]) {
    case '1':
      return new NenHandshakeError(code, opts);
    case '2':
      return new NenSessionError(code, opts);
    case '3':
      return new NenAuthError(code, opts);
    case '4':
      return new NenPayloadError(code, opts);
    case '5':
      return new NenReplayError(code, opts);
    case '6':
      return new NenStreamError(code, opts);
    default:
      return new NenServiceError(code, opts);
  }
}
