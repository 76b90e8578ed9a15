/**
 * @yak/nen: stateless post-quantum encryption for HTTP APIs (SPEC section 3, @yak/nen).
 *
 * A server publishes an ML-DSA-65-signed key configuration; clients pin it, run a hybrid
 * X25519 + ML-KEM-768 (X-Wing) handshake, and exchange requests and responses encrypted and
 * authenticated with per-direction keys. Node `http`/Express and Hono adapters live in the
 * `@yak/nen/node` and `@yak/nen/hono` entry points; `@yak/nen/client` is the client alone.
 * @packageDocumentation
 */

/** Client: `createNenClient({ baseUrl, serverKey })` then `fetch`, `stream`, `rekey`, `rotate`, `status`, `terminate`. */
export {
  createNenClient,
  NenClient,
  type NenClientIdentity,
  type NenClientOptions,
  type NenClientStats,
  type NenSessionInfo,
} from './client-core.js';
/** Defaults and their sources. */
export {
  DEFAULT_BASE_PATH,
  DEFAULT_KEY_CONFIG_PATH,
  NONCE_TTL_MS,
  SESSION_ABSOLUTE_TTL_MS,
  SESSION_IDLE_TTL_MS,
  TIMESTAMP_WINDOW_MS,
} from './constants.js';
/** The error catalogue (ISO codes of seed 004 plus the rest) and error classes. */
export {
  isNenErrorCode,
  NEN_ERRORS,
  NenAuthError,
  NenError,
  type NenErrorCode,
  type NenErrorOptions,
  NenHandshakeError,
  NenPayloadError,
  NenReplayError,
  NenServiceError,
  NenSessionError,
  NenStreamError,
} from './errors.js';
/** Session facts returned by `status()`. */
export type { SessionStatus } from './handshake.js';
/** Signed key configuration: sign (server), encode/decode (wire), verify (client). */
export {
  decodeKeyConfig,
  encodeKeyConfig,
  type KeyConfig,
  type KeyConfigPin,
  type KeyConfigSigner,
  keyConfigId,
  signKeyConfig,
  verifyKeyConfig,
} from './keyconfig.js';
/** Redis and Upstash session stores. */
export {
  createUpstashStore,
  type IoredisLike,
  ioredisExec,
  type RedisExec,
  RedisSessionStore,
  type RedisSessionStoreOptions,
  type UpstashOptions,
  upstashExec,
} from './redis.js';
/** Server: `createNenServer({ identity })` giving `handle`, `withNen`, `unwrap`. */
export {
  createNenServer,
  type NenClientInfo,
  type NenContext,
  type NenHandler,
  type NenLogger,
  type NenServer,
  type NenServerIdentity,
  type NenServerOptions,
  type NenServerStats,
  type NenUnwrapResult,
} from './server.js';
/** Session store interface and the bounded in-memory store. */
export {
  type AdmitResult,
  MemorySessionStore,
  type MemorySessionStoreOptions,
  type NextSession,
  type SessionStore,
  type StoredSession,
} from './store.js';
/** Header names and the stream content type (for CORS configuration and proxies). */
export { HEADER as NEN_HEADERS, STREAM_CONTENT_TYPE } from './wire.js';
