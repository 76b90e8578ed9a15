/**
 * @yak/annex: end-to-end encrypted, mutually authenticated post-quantum channels between mesh
 * nodes (seed 000 "ANNEX", SPEC section 3). Protocol: docs/protocol/annex.md.
 * @packageDocumentation
 */

/** The channel manager and its option, result and event types. */
export {
  Annex,
  type AnnexInfo,
  type AnnexMesh,
  type AnnexMeshHandler,
  type AnnexMessage,
  type AnnexMessageHandler,
  type AnnexOptions,
  type AnnexSession,
  type AnnexStats,
  type CallOptions,
  type SendResult,
} from './annex.js';
/** Defaults with their sources. */
export { ANNEX_DEFAULTS, REKEY_CONTROL_ENVELOPES, REKEY_HARD_MARGIN, WIRE } from './constants.js';
/** The envelope codec (for tools, tests and traffic inspection). */
export {
  AnnexMessageType,
  type AnnexMessageTypeName,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  isAnnexEnvelope,
  type KeyExchangeEnvelope,
  type KeyResponseEnvelope,
  type NoticeEnvelope,
  type SealedEnvelope,
} from './envelope.js';
/** Errors: one base class, one subclass per condition, each with a stable `code`. */
export {
  AbortedError,
  AnnexError,
  type AnnexErrorCode,
  ChannelClosedError,
  CongestedError,
  HandshakeError,
  InvalidArgumentError,
  KeyExhaustedError,
  MalformedEnvelopeError,
  PayloadTooLargeError,
  SessionLimitError,
  StoppedError,
  TimeoutError,
  UnreachableError,
} from './errors.js';
/** Payload types accepted by `send` and delivered to handlers. */
export type { AnnexJson, AnnexPayload } from './payload.js';
/** Opt-in per-message signatures (`signEnvelopes: true`). */
export { type AnnexProof, PROOF_CONTEXT, verifyAnnexProof } from './proof.js';
