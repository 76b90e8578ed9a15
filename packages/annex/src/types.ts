// Public option, result and event types of the Annex (seed 000 "ANNEX"; SPEC section 3). They
// are re-exported from annex.ts and index.ts; the protocol is docs/protocol/annex.md.
import type { NodeIdentity } from '@yak/crypto';
import type { Clock, Logger } from '@yak/mesh-core';
import type { AnnexPayload } from './payload.js';
import type { AnnexProof } from './proof.js';

/**
 * The subset of `MeshNetwork` (@yak/mesh-core) ANNEX uses. `sendTo` with a Uint8Array carries the
 * bytes unchanged (to a neighbour or routed); `on('message')` reports direct messages with the
 * sender's node id. Any object with this shape works, which keeps ANNEX testable over fakes.
 */
export interface AnnexMesh {
  /**
   * Returns false when the link is congested (the message was not queued); throws when there is
   * no route. Must not keep a reference to `message` after returning (MeshNetwork copies it into
   * its frame at once): ANNEX reuses the buffer for the next envelope.
   */
  sendTo(nodeId: string, message: Uint8Array): boolean;
  on(event: 'message', handler: AnnexMeshHandler): unknown;
  off(event: 'message', handler: AnnexMeshHandler): unknown;
  /** This node's id, when the mesh knows it; checked against the identity. */
  readonly localId?: string;
}

/** Handler shape of `mesh.on('message')`: `(msg: DirectMessage, peer, fromNodeId)`. */
export type AnnexMeshHandler = (msg: { payload?: unknown } | undefined, peer: unknown, fromNodeId: string) => void;

/** Constructor options (seed 000: `new Annex({ identity, mesh })`; the rest are SPEC additions). */
export interface AnnexOptions {
  identity: NodeIdentity;
  mesh: AnnexMesh;
  /** Rekey after this long on one key (default 5 min). */
  rekeyIntervalMs?: number;
  /** Rekey after this many messages sent on one key (default 10,000). */
  rekeyAfterMessages?: number;
  /**
   * Messages one send key may seal beyond `rekeyAfterMessages` while its rekey is in flight; past
   * it sends wait for the new key, and a receiver drops envelopes past its own bound (default
   * 65,536; both peers must use the same value, annex.md section 6.1).
   */
  rekeyHardMargin?: number;
  /** Old receive keys stay valid this long after a rekey (default 10 s). */
  rekeyGraceMs?: number;
  /** A rekey unanswered this long closes the session (default 30 s). */
  rekeyTimeoutMs?: number;
  /** Default timeout of openChannel (default 10 s). */
  handshakeTimeoutMs?: number;
  /** First handshake retransmission delay; doubles (default 1 s). */
  handshakeRetryMs?: number;
  /** Sessions idle this long expire (default 10 min). */
  idleTimeoutMs?: number;
  /** Largest payload (default 16 MiB). */
  maxPayloadBytes?: number;
  /** Payload bytes per envelope; larger payloads are chunked (default 256 KiB, at most 448 KiB). */
  chunkBytes?: number;
  /** Established plus pending sessions (default 1024). */
  maxSessions?: number;
  /** Inbound handshakes awaiting completion (default 256). */
  maxPendingHandshakes?: number;
  /** Handshakes one peer may start per minute (default 30). */
  handshakesPerMinute?: number;
  /** Bytes of partially received chunked messages, all sessions together (default 64 MiB). */
  maxReassemblyBytes?: number;
  /** Incomplete chunked messages are dropped after this (default 60 s). */
  reassemblyTimeoutMs?: number;
  /** Default timeout of send and closeChannel (default 30 s). */
  sendTimeoutMs?: number;
  /** Reject envelopes whose timestamp is further from our clock; 0 disables (default 10 min). */
  maxClockSkewMs?: number;
  /** Housekeeping period (default 1 s). */
  sweepIntervalMs?: number;
  /** Sign every message with ML-DSA-65 for transferable proof; either side may ask (default false). */
  signEnvelopes?: boolean;
  clock?: Clock;
  logger?: Logger;
}

/** A session as returned by `openChannel` and listed by `listAnnexes` (seed 000). */
export interface AnnexInfo {
  nodeId: string;
  sessionId: string;
  established: boolean;
  createdAt: number;
  lastActivity: number;
  messageCount: number;
  isExpired: boolean;
}

/** What `openChannel` resolves to: the session's public state. */
export interface AnnexSession extends AnnexInfo {
  role: 'initiator' | 'responder';
  /** Current key epoch (0 after the handshake, +1 per rekey). */
  epoch: number;
  /** Whether messages in this session carry ML-DSA-65 signatures. */
  signed: boolean;
}

/** What a message handler receives (seed 000 "Handler Receives"). */
export interface AnnexMessage {
  from: string;
  sessionId: string;
  payload: AnnexPayload;
  /** The sender's clock when it sent the message (ms). */
  timestamp: number;
  /** In signed sessions: a proof a third party can check with `verifyAnnexProof`. */
  proof?: AnnexProof;
}

export type AnnexMessageHandler = (message: AnnexMessage) => void;

/** What `send` resolves to (seed 000). `sequence` is the envelope sequence number of the message. */
export interface SendResult {
  sent: true;
  sessionId: string;
  sequence: number;
}

/** Counters (seed 000 `getStats`, plus envelopesRejected and rekeys). */
export interface AnnexStats {
  sessionsCreated: number;
  messagesEncrypted: number;
  messagesDecrypted: number;
  handshakesFailed: number;
  replaysBlocked: number;
  activeSessions: number;
  pendingHandshakes: number;
  /** Envelopes dropped as malformed, unauthenticated, misaddressed or out of policy. */
  envelopesRejected: number;
  /** Completed rekeys. */
  rekeys: number;
}

/** Options of every async call (SPEC section 2, "Resource bounds"). */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}
