/**
 * `@yak/nen/client`: the Nen client alone, for browsers and edge runtimes (web APIs only:
 * fetch, WebCrypto, web streams). See the package entry for the server.
 * @packageDocumentation
 */

/** The client. */
export {
  createNenClient,
  NenClient,
  type NenClientIdentity,
  type NenClientOptions,
  type NenClientStats,
  type NenSessionInfo,
} from './client-core.js';
/** Errors the client throws. */
export {
  isNenErrorCode,
  NEN_ERRORS,
  NenAuthError,
  NenError,
  type NenErrorCode,
  NenHandshakeError,
  NenPayloadError,
  NenReplayError,
  NenServiceError,
  NenSessionError,
  NenStreamError,
} from './errors.js';
/** Session facts returned by `status()`. */
export type { SessionStatus } from './handshake.js';
/** Key configuration decoding and verification (for pinning). */
export { decodeKeyConfig, type KeyConfig, type KeyConfigPin, verifyKeyConfig } from './keyconfig.js';
