// ANNEX (seed 000; SPEC section 3 @yak/annex): end-to-end encrypted, mutually authenticated
// point-to-point channels between mesh nodes, possibly several hops apart. The protocol is in
// docs/protocol/annex.md; section numbers below refer to it.
import {
  decodeIdentityRecord,
  encodeIdentityRecord,
  type HybridKemDecapsulator,
  hybridKem,
  hybridKemEphemeral,
  type IdentityRecord,
  isNodeId,
  NodeIdentity,
  randomBytes,
  sha256,
  toHex,
  wipe,
} from '@yak/crypto';
import { ConnectionRateLimiter, SafeJsonParser, SequenceTracker } from '@yak/defense';
import { type Clock, type Logger, silentLogger, systemClock } from '@yak/mesh-core';
import { ANNEX_DEFAULTS, WIRE } from './constants.js';
import {
  type DecodedEnvelope,
  type DecodedSealed,
  decodeEnvelope,
  encodeEnvelope,
  HS_FLAG_SIGN,
  type KeyExchangeEnvelope,
  type KeyResponseEnvelope,
  sealEnvelope,
  TypeByte,
  X_CT,
  X_PK,
} from './envelope.js';
import {
  AbortedError,
  type AnnexError,
  ChannelClosedError,
  CongestedError,
  HandshakeError,
  InvalidArgumentError,
  SessionLimitError,
  StoppedError,
  TimeoutError,
  UnreachableError,
} from './errors.js';
import { deriveRekeyKeys, deriveSessionKeys, nonceFor, transcriptHash } from './handshake.js';
import {
  type AnnexPayload,
  BatchPlaintext,
  bodyLength,
  CloseReason,
  chunkParts,
  decodeBatch,
  decodeBody,
  decodeChunk,
  decodePayload,
  encodeBodyHead,
  encodePayload,
  InnerKind,
  type MessageBody,
  RekeyPhase,
} from './payload.js';
import { type AnnexProof, PROOF_CONTEXT, proofMessage } from './proof.js';
import { Session } from './session.js';

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

interface Waiter {
  resolve(s: Session): void;
  reject(e: Error): void;
}

/** An outbound handshake (we are the initiator). */
interface Opening {
  peer: string;
  id: Uint8Array;
  idHex: string;
  eph: HybridKemDecapsulator;
  m1: Uint8Array;
  m2: Uint8Array | undefined;
  session: Session | undefined;
  startedAt: number;
  timer: unknown;
  retryDelay: number;
  restarts: number;
  lastError: AnnexError | undefined;
}

/** An inbound handshake waiting for the finishing envelope (we are the responder). */
interface Accepting {
  peer: string;
  id: Uint8Array;
  idHex: string;
  record: IdentityRecord;
  m1: Uint8Array;
  m1Hash: string;
  m2: Uint8Array;
  ssE: Uint8Array;
  ssI: Uint8Array;
  signed: boolean;
  expiresAt: number;
}

interface Resolved {
  rekeyIntervalMs: number;
  rekeyAfterMessages: number;
  rekeyGraceMs: number;
  rekeyTimeoutMs: number;
  handshakeTimeoutMs: number;
  handshakeRetryMs: number;
  idleTimeoutMs: number;
  maxPayloadBytes: number;
  chunkBytes: number;
  maxSessions: number;
  maxPendingHandshakes: number;
  handshakesPerMinute: number;
  maxReassemblyBytes: number;
  reassemblyTimeoutMs: number;
  sendTimeoutMs: number;
  maxClockSkewMs: number;
  sweepIntervalMs: number;
  signEnvelopes: boolean;
}

const MAX_OPEN_RESTARTS = 3;
/** Message bodies up to this size are batched (chosen: small messages are where per-envelope cost dominates). */
const BATCH_SMALL_BODY = 16 * 1024;
/** A batch is sealed once it holds this much (chosen: the link layer's batch size). */
const BATCH_BYTES = 64 * 1024;
const MAX_FLUSH_DELAY_MS = 50;
/** Largest envelope accepted from the mesh: the biggest chunk plus headers and a finishing ct. */
const MAX_ENVELOPE_BYTES = WIRE.maxChunkBytes + 64 * 1024;

/**
 * End-to-end encrypted channels to other mesh nodes (seed 000 "ANNEX").
 *
 * A channel is opened by a KEM-authenticated hybrid (X25519 + ML-KEM-768) handshake that proves
 * both identities; messages then travel in AES-256-GCM envelopes with the session id, epoch and
 * sequence number in the associated data, checked against a sliding replay window. Keys are
 * rotated by a fresh hybrid exchange every `rekeyIntervalMs` or `rekeyAfterMessages`. Relays on
 * the route see only ciphertext. Call {@link Annex.stop} when done.
 */
export class Annex {
  readonly identity: NodeIdentity;
  readonly localId: string;
  readonly #mesh: AnnexMesh;
  readonly #o: Resolved;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #recordBytes: Uint8Array;
  readonly #json: SafeJsonParser;
  readonly #replay: SequenceTracker;
  readonly #limiter: ConnectionRateLimiter;
  readonly #onMesh: AnnexMeshHandler;

  /** Current session per peer (established, possibly stale). */
  readonly #sessions = new Map<string, Session>();
  /** Every session by id: current, awaiting confirmation (initiator), retired in grace. */
  readonly #byId = new Map<string, Session>();
  readonly #opening = new Map<string, Opening>();
  readonly #openingById = new Map<string, Opening>();
  readonly #accepting = new Map<string, Accepting>();
  readonly #acceptingByPeer = new Map<string, string>();
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #epochWaiters = new Map<Session, Set<() => void>>();
  readonly #handlers = new Map<string, AnnexMessageHandler>();
  #handlerSeq = 0;
  #reassemblyBytes = 0;
  #sweepTimer: unknown;
  #stopped = false;
  readonly #stats = {
    sessionsCreated: 0,
    messagesEncrypted: 0,
    messagesDecrypted: 0,
    handshakesFailed: 0,
    replaysBlocked: 0,
    envelopesRejected: 0,
    rekeys: 0,
  };

  constructor(options: AnnexOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const { identity, mesh } = options;
    if (!(identity instanceof NodeIdentity)) throw new TypeError('identity must be a NodeIdentity');
    if (mesh === null || typeof mesh !== 'object' || typeof mesh.sendTo !== 'function' || typeof mesh.on !== 'function') {
      throw new TypeError('mesh must provide sendTo, on and off (a MeshNetwork)');
    }
    if (typeof mesh.off !== 'function') throw new TypeError('mesh must provide off');
    if (mesh.localId !== undefined && mesh.localId !== identity.nodeId) {
      throw new InvalidArgumentError('identity is not the identity of the mesh node');
    }
    const d = ANNEX_DEFAULTS;
    const int = (name: keyof Resolved, min: number, max: number): number => {
      const v = (options as unknown as Record<string, unknown>)[name];
      if (v === undefined) return d[name] as number;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
        throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
      }
      return v;
    };
    const DAY = 86_400_000;
    this.#o = {
      rekeyIntervalMs: int('rekeyIntervalMs', 1, 30 * DAY),
      rekeyAfterMessages: int('rekeyAfterMessages', 1, 2 ** 40),
      rekeyGraceMs: int('rekeyGraceMs', 0, DAY),
      rekeyTimeoutMs: int('rekeyTimeoutMs', 1, DAY),
      handshakeTimeoutMs: int('handshakeTimeoutMs', 1, DAY),
      handshakeRetryMs: int('handshakeRetryMs', 1, DAY),
      idleTimeoutMs: int('idleTimeoutMs', 1, 365 * DAY),
      maxPayloadBytes: int('maxPayloadBytes', 1, 1024 * 1024 * 1024),
      chunkBytes: int('chunkBytes', 64, WIRE.maxChunkBytes),
      maxSessions: int('maxSessions', 1, 1_000_000),
      maxPendingHandshakes: int('maxPendingHandshakes', 1, 1_000_000),
      handshakesPerMinute: int('handshakesPerMinute', 1, 1_000_000),
      maxReassemblyBytes: int('maxReassemblyBytes', 1, 2 ** 40),
      reassemblyTimeoutMs: int('reassemblyTimeoutMs', 1, DAY),
      sendTimeoutMs: int('sendTimeoutMs', 1, DAY),
      maxClockSkewMs: int('maxClockSkewMs', 0, 365 * DAY),
      sweepIntervalMs: int('sweepIntervalMs', 1, 3_600_000),
      signEnvelopes: options.signEnvelopes ?? d.signEnvelopes,
    };
    if (typeof this.#o.signEnvelopes !== 'boolean') throw new InvalidArgumentError('signEnvelopes must be a boolean');
    this.identity = identity;
    this.localId = identity.nodeId;
    this.#mesh = mesh;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    this.#recordBytes = encodeIdentityRecord(identity.publicRecord());
    this.#json = new SafeJsonParser({ maxSize: this.#o.maxPayloadBytes, maxStringLength: this.#o.maxPayloadBytes });
    this.#replay = new SequenceTracker({
      windowSize: WIRE.replayWindow,
      maxSenders: 2 * this.#o.maxSessions + this.#o.maxPendingHandshakes + 16,
    });
    // Per-peer budgets: 'handshake' counts key_exchange messages and restart notices we act on,
    // 'connection' (per minute) counts "unknown session" notices we send (section 7).
    this.#limiter = new ConnectionRateLimiter({
      maxHandshakesPerMinute: this.#o.handshakesPerMinute,
      maxConnectionsPerMinute: ANNEX_DEFAULTS.noticesPerMinute,
      banThreshold: Number.MAX_SAFE_INTEGER,
      maxTrackedKeys: Math.max(1024, this.#o.maxSessions * 2),
      now: () => this.#clock.now(),
    });
    this.#onMesh = (msg, _peer, from) => this.#receive(msg, from);
    mesh.on('message', this.#onMesh);
    this.#sweepTimer = this.#clock.setInterval(() => this.#sweep(), this.#o.sweepIntervalMs);
  }

  // ------------------------------------------------------------------ public API (seed 000)

  /**
   * Establish a channel with `remoteNodeId` (or return the existing one). Rejects with
   * `TimeoutError`, `HandshakeError` (the peer's handshake did not verify), `UnreachableError`,
   * `AbortedError`, `SessionLimitError`, `ChannelClosedError` or `StoppedError`.
   */
  async openChannel(remoteNodeId: string, opts: CallOptions = {}): Promise<AnnexSession> {
    this.#checkPeer(remoteNodeId);
    const timeoutMs = this.#timeout(opts, this.#o.handshakeTimeoutMs);
    const s = await this.#ensureSession(remoteNodeId, opts.signal, timeoutMs);
    return this.#sessionInfo(s);
  }

  /**
   * Encrypt and send `payload` (bytes, a string or a JSON value) to `remoteNodeId`, opening a
   * channel if needed. Payloads above `chunkBytes` travel in chunks; above `maxPayloadBytes` they
   * are refused with `PayloadTooLargeError` before anything is sent. Resolves once every envelope
   * was handed to the mesh.
   */
  async send(remoteNodeId: string, payload: AnnexPayload, opts: CallOptions = {}): Promise<SendResult> {
    this.#checkPeer(remoteNodeId);
    const timeoutMs = this.#timeout(opts, this.#o.sendTimeoutMs);
    const encoded = encodePayload(payload, this.#o.maxPayloadBytes);
    const deadline = this.#clock.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      // An established channel is used in this task, without a microtask hop through the opener.
      const cur = this.#sessions.get(remoteNodeId);
      const s = this.#usable(cur) ? cur : await this.#ensureSession(remoteNodeId, opts.signal, Math.max(1, deadline - this.#clock.now()));
      // The session can close between the handshake and this task; open again once.
      if (s.closed || s.stale || s.retiredUntil !== undefined) {
        if (attempt < 1) continue;
        throw new ChannelClosedError('channel closed while sending');
      }
      return this.#sendOn(s, encoded, opts.signal, deadline);
    }
  }

  /** Register a handler for decrypted messages; returns its id for {@link Annex.offMessage}. */
  onMessage(handler: AnnexMessageHandler): string {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    if (this.#handlers.size >= ANNEX_DEFAULTS.maxHandlers) throw new InvalidArgumentError('too many message handlers');
    const id = `annex-handler-${++this.#handlerSeq}`;
    this.#handlers.set(id, handler);
    return id;
  }

  /** Remove a handler; returns whether it was registered. */
  offMessage(handlerId: string): boolean {
    return this.#handlers.delete(handlerId);
  }

  /**
   * Close the channel with `remoteNodeId`: the peer is told (in an authenticated close), the
   * session keys are wiped, and pending opens to that peer are rejected with `ChannelClosedError`.
   * Resolves to whether there was anything to close.
   */
  async closeChannel(remoteNodeId: string, opts: CallOptions = {}): Promise<boolean> {
    this.#checkPeer(remoteNodeId);
    const timeoutMs = this.#timeout(opts, this.#o.sendTimeoutMs);
    let found = false;
    const op = this.#opening.get(remoteNodeId);
    if (op) {
      found = true;
      this.#cancelOpening(op);
    }
    const accId = this.#acceptingByPeer.get(remoteNodeId);
    if (accId) {
      found = true;
      this.#dropAccepting(this.#accepting.get(accId) as Accepting);
    }
    this.#rejectWaiters(remoteNodeId, new ChannelClosedError('channel closed locally'));
    let notified: Promise<void> | undefined;
    const s = this.#sessions.get(remoteNodeId);
    if (s) {
      found = true;
      this.#sessions.delete(remoteNodeId);
      if (s.established && !s.closed) {
        notified = this.#sealAndQueue(s, TypeByte.CLOSE, Uint8Array.of(CloseReason.CLOSED), this.#clock.now() + timeoutMs);
      }
    }
    for (const r of [...this.#byId.values()]) if (r.peer === remoteNodeId && r !== s) this.#dropSession(r);
    if (notified && s) {
      try {
        await this.#race(notified, opts.signal, timeoutMs, 'close');
      } finally {
        this.#dropSession(s);
      }
    } else if (s) this.#dropSession(s);
    return found;
  }

  /** Counters (seed 000 `getStats`). */
  getStats(): AnnexStats {
    let active = 0;
    for (const s of this.#sessions.values()) if (s.established && !s.closed) active++;
    return {
      sessionsCreated: this.#stats.sessionsCreated,
      messagesEncrypted: this.#stats.messagesEncrypted,
      messagesDecrypted: this.#stats.messagesDecrypted,
      handshakesFailed: this.#stats.handshakesFailed,
      replaysBlocked: this.#stats.replaysBlocked,
      activeSessions: active,
      pendingHandshakes: this.#opening.size + this.#accepting.size,
      envelopesRejected: this.#stats.envelopesRejected,
      rekeys: this.#stats.rekeys,
    };
  }

  /** Sessions and handshakes in progress (seed 000 `listAnnexes`). */
  listAnnexes(): AnnexInfo[] {
    const now = this.#clock.now();
    const out: AnnexInfo[] = [];
    for (const s of this.#sessions.values()) out.push(this.#info(s, now));
    for (const op of this.#opening.values()) {
      if (this.#sessions.has(op.peer)) continue;
      out.push({
        nodeId: op.peer,
        sessionId: op.idHex,
        established: false,
        createdAt: op.startedAt,
        lastActivity: op.startedAt,
        messageCount: 0,
        isExpired: false,
      });
    }
    return out;
  }

  /**
   * Rotate the keys of the channel with `remoteNodeId` now (the automatic rotation runs on time
   * and message count). Resolves with the new epoch once both sides switched.
   */
  async rekey(remoteNodeId: string, opts: CallOptions = {}): Promise<{ epoch: number }> {
    this.#checkPeer(remoteNodeId);
    const timeoutMs = this.#timeout(opts, this.#o.rekeyTimeoutMs);
    const s = this.#sessions.get(remoteNodeId);
    if (!this.#usable(s)) throw new ChannelClosedError('no established channel with that node');
    const from = s.sendEpoch;
    const done = new Promise<void>((resolve) => {
      let set = this.#epochWaiters.get(s);
      if (!set) {
        set = new Set();
        this.#epochWaiters.set(s, set);
      }
      const w = () => {
        if (s.sendEpoch > from || s.closed) {
          set.delete(w);
          resolve();
        }
      };
      set.add(w);
    });
    if (!s.rekey) this.#startRekey(s);
    await this.#race(done, opts.signal, timeoutMs, 'rekey');
    if (s.closed) throw new ChannelClosedError('channel closed during rekey');
    return { epoch: s.sendEpoch };
  }

  /** Stop: tell peers, wipe every key, reject pending calls with `StoppedError`, clear timers. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#clock.clearInterval(this.#sweepTimer);
    this.#mesh.off('message', this.#onMesh);
    for (const s of this.#sessions.values()) {
      if (!s.established || s.closed) continue;
      try {
        const env = this.#seal(s, TypeByte.CLOSE, [Uint8Array.of(CloseReason.STOPPING)]);
        this.#mesh.sendTo(s.peer, env);
      } catch {
        // Best effort: the peer's idle timer or a restart notice cleans up otherwise.
      }
    }
    for (const op of [...this.#opening.values()]) this.#cancelOpening(op);
    for (const a of [...this.#accepting.values()]) this.#dropAccepting(a);
    for (const s of [...this.#byId.values()]) this.#dropSession(s);
    this.#sessions.clear();
    for (const peer of [...this.#waiters.keys()]) this.#rejectWaiters(peer, new StoppedError());
    this.#handlers.clear();
  }

  // ------------------------------------------------------------------ sessions

  #checkPeer(nodeId: string): void {
    if (this.#stopped) throw new StoppedError();
    if (!isNodeId(nodeId)) throw new InvalidArgumentError('remoteNodeId is not a node id');
    if (nodeId === this.localId) throw new InvalidArgumentError('cannot open a channel to this node itself');
  }

  #timeout(opts: CallOptions, def: number): number {
    if (opts === null || typeof opts !== 'object') throw new TypeError('options must be an object');
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
    const t = opts.timeoutMs ?? def;
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1) throw new InvalidArgumentError('timeoutMs must be a positive integer');
    if (opts.signal?.aborted) throw new AbortedError({ cause: opts.signal.reason });
    return t;
  }

  #usable(s: Session | undefined): s is Session {
    return s?.established === true && !s.closed && !s.stale && s.retiredUntil === undefined;
  }

  async #ensureSession(peer: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<Session> {
    const s = this.#sessions.get(peer);
    if (this.#usable(s)) return s;
    if (!this.#opening.has(peer) && !this.#sessions.has(peer) && this.#sessionCount() >= this.#o.maxSessions) {
      throw new SessionLimitError(this.#o.maxSessions);
    }
    let waiter: Waiter | undefined;
    const p = new Promise<Session>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    let set = this.#waiters.get(peer);
    if (!set) {
      set = new Set();
      this.#waiters.set(peer, set);
    }
    set.add(waiter as Waiter);
    // While the peer's own handshake with us is pending, wait for it instead of racing it.
    if (!this.#opening.has(peer) && !this.#acceptingByPeer.has(peer)) this.#startOpening(peer, 0);
    try {
      // At the deadline, report why the handshake is stuck (no route, a peer that failed to verify).
      return await this.#race(p, signal, timeoutMs, 'open', () => this.#opening.get(peer)?.lastError);
    } finally {
      const ws = this.#waiters.get(peer);
      ws?.delete(waiter as Waiter);
      if (ws && ws.size === 0) this.#waiters.delete(peer);
    }
  }

  #sessionCount(): number {
    return this.#sessions.size + this.#opening.size + this.#accepting.size;
  }

  /** Await `p` with an abort signal and a timeout on the injected clock; cleans up in finally. */
  async #race<T>(
    p: Promise<T>,
    signal: AbortSignal | undefined,
    timeoutMs: number,
    what: string,
    cause?: () => AnnexError | undefined,
  ): Promise<T> {
    let timer: unknown;
    let onAbort: (() => void) | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => reject(cause?.() ?? new TimeoutError(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      if (signal) {
        onAbort = () => reject(new AbortedError({ cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
    try {
      return await Promise.race([p, guard]);
    } finally {
      this.#clock.clearTimeout(timer);
      if (signal && onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  #resolveWaiters(peer: string, s: Session): void {
    const set = this.#waiters.get(peer);
    if (!set) return;
    this.#waiters.delete(peer);
    for (const w of set) w.resolve(s);
  }

  #rejectWaiters(peer: string, err: Error): void {
    const set = this.#waiters.get(peer);
    if (!set) return;
    this.#waiters.delete(peer);
    for (const w of set) w.reject(err);
  }

  #info(s: Session, now: number): AnnexInfo {
    return {
      nodeId: s.peer,
      sessionId: s.idHex,
      established: s.established && !s.closed,
      createdAt: s.createdAt,
      lastActivity: s.lastActivity,
      messageCount: s.messageCount,
      isExpired: s.closed || now - s.lastActivity >= this.#o.idleTimeoutMs,
    };
  }

  #sessionInfo(s: Session): AnnexSession {
    return { ...this.#info(s, this.#clock.now()), role: s.role, epoch: s.sendEpoch, signed: s.signed };
  }

  /** A session completed its handshake on this side (section 4): it becomes the peer's channel. */
  #establish(s: Session): void {
    s.established = true;
    s.finishBytes = undefined;
    this.#stats.sessionsCreated++;
    const old = this.#sessions.get(s.peer);
    if (old && old !== s) this.#retire(old);
    this.#sessions.set(s.peer, s);
    const op = this.#opening.get(s.peer);
    if (op) {
      if (op.session === s) {
        this.#clock.clearTimeout(op.timer);
        this.#opening.delete(op.peer);
        this.#openingById.delete(op.idHex);
      } else this.#cancelOpening(op);
    }
    const accId = this.#acceptingByPeer.get(s.peer);
    if (accId !== undefined && accId !== s.idHex) this.#dropAccepting(this.#accepting.get(accId) as Accepting);
    this.#log.debug({ peer: s.peer, sessionId: s.idHex, role: s.role }, 'annex established');
    this.#resolveWaiters(s.peer, s);
  }

  /** A newer session replaced `s`: it keeps receiving for the grace period, then is wiped. */
  #retire(s: Session): void {
    s.retiredUntil = this.#clock.now() + this.#o.rekeyGraceMs;
    if (s.rekey) {
      s.rekey.eph.destroy();
      s.rekey = undefined;
    }
    this.#notifyEpoch(s);
  }

  #dropSession(s: Session): void {
    if (this.#sessions.get(s.peer) === s) this.#sessions.delete(s.peer);
    this.#byId.delete(s.idHex);
    this.#replay.remove(s.idHex);
    for (const p of s.partial.values()) this.#reassemblyBytes -= p.total;
    if (s.flushTimer !== undefined) this.#clock.clearTimeout(s.flushTimer);
    s.flushTimer = undefined;
    if (s.batch) {
      const waiters = s.batch.waiters;
      s.batch = undefined;
      for (const w of waiters) w(new ChannelClosedError('channel closed'));
    }
    const queued = s.queue.splice(0);
    s.queuedBytes = 0;
    s.destroy();
    for (const q of queued) q.done?.(new ChannelClosedError('channel closed'));
    this.#notifyEpoch(s);
    this.#epochWaiters.delete(s);
  }

  #notifyEpoch(s: Session): void {
    const set = this.#epochWaiters.get(s);
    if (set) for (const w of [...set]) w();
  }

  // ------------------------------------------------------------------ handshake: initiator

  #startOpening(peer: string, restarts: number): void {
    const id = randomBytes(16);
    const eph = hybridKemEphemeral();
    const m1 = encodeEnvelope({
      type: 'annex:key_exchange',
      sessionId: id,
      flags: this.#o.signEnvelopes ? HS_FLAG_SIGN : 0,
      record: this.#recordBytes,
      ephemeralKey: eph.publicKey,
    });
    const op: Opening = {
      peer,
      id,
      idHex: toHex(id),
      eph,
      m1,
      m2: undefined,
      session: undefined,
      startedAt: this.#clock.now(),
      timer: undefined,
      retryDelay: this.#o.handshakeRetryMs,
      restarts,
      lastError: undefined,
    };
    this.#opening.set(peer, op);
    this.#openingById.set(op.idHex, op);
    this.#sendHandshake(op, m1);
    this.#armRetry(op);
  }

  #armRetry(op: Opening): void {
    const left = op.startedAt + this.#o.handshakeTimeoutMs - this.#clock.now();
    op.timer = this.#clock.setTimeout(() => this.#retry(op), Math.max(1, Math.min(op.retryDelay, left)));
  }

  /** Retransmit the last handshake message (a lost key_response or confirmation), or give up. */
  #retry(op: Opening): void {
    if (this.#opening.get(op.peer) !== op) return;
    if (this.#clock.now() - op.startedAt >= this.#o.handshakeTimeoutMs) {
      this.#failOpening(op, op.lastError ?? new TimeoutError('handshake timed out'));
      return;
    }
    this.#sendHandshake(op, op.session?.finishBytes ?? op.m1);
    op.retryDelay *= 2;
    this.#armRetry(op);
  }

  #sendHandshake(op: Opening, bytes: Uint8Array): void {
    try {
      // Congestion (false) is handled like loss: the retry timer sends again.
      this.#mesh.sendTo(op.peer, bytes);
    } catch (e) {
      op.lastError = new UnreachableError(op.peer, { cause: e });
    }
  }

  #failOpening(op: Opening, err: AnnexError): void {
    this.#cancelOpening(op);
    this.#stats.handshakesFailed++;
    this.#log.debug({ peer: op.peer, code: err.code }, 'annex handshake failed');
    // Waiters stay if the peer's own handshake with us is still under way.
    if (!this.#acceptingByPeer.has(op.peer)) this.#rejectWaiters(op.peer, err);
  }

  #cancelOpening(op: Opening): void {
    this.#clock.clearTimeout(op.timer);
    if (this.#opening.get(op.peer) === op) this.#opening.delete(op.peer);
    this.#openingById.delete(op.idHex);
    op.eph.destroy();
    if (op.session && !op.session.established) this.#dropSession(op.session);
  }

  /** Message 2 at the initiator (section 4.2). */
  #onKeyResponse(env: KeyResponseEnvelope, bytes: Uint8Array, from: string): void {
    const op = this.#openingById.get(toHex(env.sessionId));
    if (!op || op.peer !== from) return this.#reject('unexpected key_response');
    if (op.m2) {
      // Our key_exchange was retransmitted and answered twice: the answer must be the same.
      if (bytesEqual(op.m2, bytes) && op.session?.finishBytes) this.#sendHandshake(op, op.session.finishBytes);
      else this.#reject('conflicting key_response');
      return;
    }
    let record: IdentityRecord;
    try {
      record = this.#verifyRecord(env.record);
    } catch {
      op.lastError = new HandshakeError('responder identity record does not verify');
      return this.#reject('bad responder record');
    }
    // The responder must be the node we asked for, and the node the mesh says sent this.
    if (record.nodeId !== op.peer || record.nodeId !== from) {
      op.lastError = new HandshakeError('responder is not the intended peer');
      return this.#reject('key_response from another identity');
    }
    let ssE: Uint8Array;
    let ssI: Uint8Array;
    let enc: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    try {
      ssE = op.eph.decapsulate(env.ctEphemeral);
      ssI = this.identity.kemDecapsulate(env.ctStatic);
      enc = hybridKem.encapsulate(record.kemPublicKey);
    } catch {
      op.lastError = new HandshakeError('key exchange failed');
      return this.#reject('key_response does not decapsulate');
    }
    const m2 = bytes.slice();
    const keys = deriveSessionKeys(ssE, ssI, enc.sharedSecret, transcriptHash(op.m1, m2, enc.cipherText));
    op.eph.destroy();
    const signed = this.#o.signEnvelopes || (env.flags & HS_FLAG_SIGN) !== 0;
    const s = new Session(op.id, op.peer, record, 'initiator', signed, keys, this.#clock.now());
    op.m2 = m2;
    op.session = s;
    this.#byId.set(s.idHex, s);
    // Message 3: the encapsulation to the responder's static key rides in the header of the
    // first sealed envelope, whose tag proves the initiator derived the keys (section 4.3).
    const send = s.current.send as NonNullable<typeof s.current.send>;
    s.finishBytes = sealEnvelope(send, nonceFor(0, 0), TypeByte.ENCRYPTED, s.id, 0, 0, [Uint8Array.of(InnerKind.FINISH)], enc.cipherText);
    s.nextSeq = 1;
    this.#clock.clearTimeout(op.timer);
    op.retryDelay = this.#o.handshakeRetryMs;
    this.#sendHandshake(op, s.finishBytes);
    this.#armRetry(op);
  }

  // ------------------------------------------------------------------ handshake: responder

  /** Message 1 at the responder (section 4.1). */
  #onKeyExchange(env: KeyExchangeEnvelope, bytes: Uint8Array, from: string): void {
    const idHex = toHex(env.sessionId);
    const existing = this.#accepting.get(idHex);
    if (existing) {
      // A retransmitted key_exchange (our key_response was lost): answer with the same bytes.
      if (existing.peer === from && existing.m1Hash === toHex(sha256(bytes))) this.#sendRaw(from, existing.m2);
      else this.#reject('session id in use');
      return;
    }
    if (this.#byId.has(idHex) || this.#openingById.has(idHex)) return this.#reject('session id in use');
    if (!this.#limiter.checkHandshake(from).allowed) return this.#reject('handshake rate limit');
    let record: IdentityRecord;
    try {
      record = this.#verifyRecord(env.record);
    } catch {
      this.#stats.handshakesFailed++;
      return this.#reject('bad initiator record');
    }
    if (record.nodeId !== from) {
      this.#stats.handshakesFailed++;
      return this.#reject('key_exchange record is not the sender');
    }
    // Both sides opened at once: the handshake started by the smaller node id wins (section 4.4).
    const mine = this.#opening.get(from);
    if (mine) {
      if (this.localId < from) return;
      this.#cancelOpening(mine);
    }
    const prev = this.#acceptingByPeer.get(from);
    if (prev !== undefined) this.#dropAccepting(this.#accepting.get(prev) as Accepting);
    if (this.#accepting.size >= this.#o.maxPendingHandshakes) return this.#reject('too many pending handshakes');
    if (!this.#sessions.has(from) && this.#sessionCount() >= this.#o.maxSessions) return this.#reject('session limit');
    let e: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    let i: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    try {
      e = hybridKem.encapsulate(env.ephemeralKey);
      i = hybridKem.encapsulate(record.kemPublicKey);
    } catch {
      this.#stats.handshakesFailed++;
      return this.#reject('bad ephemeral key');
    }
    const flags = this.#o.signEnvelopes ? HS_FLAG_SIGN : 0;
    const m2 = encodeEnvelope({
      type: 'annex:key_response',
      sessionId: env.sessionId,
      flags,
      record: this.#recordBytes,
      ctEphemeral: e.cipherText,
      ctStatic: i.cipherText,
    });
    const acc: Accepting = {
      peer: from,
      id: env.sessionId.slice(),
      idHex,
      record,
      m1: bytes.slice(),
      m1Hash: toHex(sha256(bytes)),
      m2,
      ssE: e.sharedSecret,
      ssI: i.sharedSecret,
      signed: this.#o.signEnvelopes || (env.flags & HS_FLAG_SIGN) !== 0,
      expiresAt: this.#clock.now() + this.#o.handshakeTimeoutMs,
    };
    this.#accepting.set(idHex, acc);
    this.#acceptingByPeer.set(from, idHex);
    this.#sendRaw(from, m2);
  }

  #dropAccepting(a: Accepting): void {
    wipe(a.ssE, a.ssI);
    this.#accepting.delete(a.idHex);
    if (this.#acceptingByPeer.get(a.peer) === a.idHex) this.#acceptingByPeer.delete(a.peer);
  }

  /** Message 3 at the responder (section 4.3): authenticates the initiator, completes the session. */
  #onFinish(env: DecodedSealed, bytes: Uint8Array, from: string): void {
    const idHex = toHex(env.sessionId);
    const acc = this.#accepting.get(idHex);
    if (!acc) {
      const s = this.#byId.get(idHex);
      // Our confirmation was lost and the initiator sent message 3 again.
      if (s && s.role === 'responder' && s.peer === from && s.finishHash === toHex(sha256(bytes)) && s.confirmBytes) {
        this.#sendRaw(from, s.confirmBytes);
        return;
      }
      if (!s) this.#notice(from, env.sessionId);
      return this.#reject('unexpected finish');
    }
    if (acc.peer !== from || env.epoch !== 0 || env.seq !== 0) return this.#reject('finish from the wrong sender');
    let s: Session;
    try {
      const ssR = this.identity.kemDecapsulate(env.finish as Uint8Array);
      const keys = deriveSessionKeys(acc.ssE.slice(), acc.ssI.slice(), ssR, transcriptHash(acc.m1, acc.m2, env.finish as Uint8Array));
      s = new Session(acc.id, acc.peer, acc.record, 'responder', acc.signed, keys, this.#clock.now());
    } catch {
      return this.#reject('finish does not decapsulate');
    }
    let pt: Uint8Array;
    try {
      pt = (s.epochs.get(0) as NonNullable<ReturnType<typeof s.epochs.get>>).recv.open(nonceFor(0, 0), env.sealed, env.header);
    } catch {
      s.destroy();
      // Keep the pending handshake: a relay can inject garbage but not stop the real message 3.
      return this.#reject('finish does not authenticate');
    }
    if (pt.length !== 1 || pt[0] !== InnerKind.FINISH) {
      s.destroy();
      return this.#reject('finish has the wrong content');
    }
    this.#dropAccepting(acc);
    this.#replay.commit(idHex, 0);
    this.#byId.set(idHex, s);
    s.finishHash = toHex(sha256(bytes));
    s.established = true;
    // Message 4: the first envelope sealed by the responder proves it holds its static key.
    s.confirmBytes = this.#seal(s, TypeByte.ENCRYPTED, [Uint8Array.of(InnerKind.CONFIRM)]);
    this.#establish(s);
    this.#queue(s, s.confirmBytes, undefined, this.#clock.now() + this.#o.sendTimeoutMs);
  }

  #verifyRecord(bytes: Uint8Array): IdentityRecord {
    // verifyRecord caches verified records, so a known peer costs a hash, not an ML-DSA verify.
    return NodeIdentity.verifyRecord(decodeIdentityRecord(bytes), { now: this.#clock.now() });
  }

  // ------------------------------------------------------------------ sealed envelopes

  /**
   * Seal the concatenation of `parts` as the next envelope of `s` under its current send key: one
   * allocation for the whole envelope, no copy of the parts (section 5.3).
   */
  #seal(s: Session, type: number, parts: readonly Uint8Array[]): Uint8Array {
    // Messages waiting in a batch were sent first: their envelope must precede this one.
    if (s.batch) this.#flushBatch(s);
    const ep = s.current;
    if (!ep.send) throw new ChannelClosedError('session cannot send');
    const seq = s.nextSeq++;
    const env = sealEnvelope(ep.send, nonceFor(ep.epoch, seq), type, s.id, ep.epoch, seq, parts);
    s.sentInEpoch++;
    return env;
  }

  #sealAndQueue(s: Session, type: number, inner: Uint8Array, deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let env: Uint8Array;
      try {
        env = this.#seal(s, type, [inner]);
      } catch (e) {
        reject(e);
        return;
      }
      this.#queue(s, env, (err) => (err ? reject(err) : resolve()), deadline);
    });
  }

  async #sendOn(
    s: Session,
    encoded: { type: number; bytes: Uint8Array },
    signal: AbortSignal | undefined,
    deadline: number,
  ): Promise<SendResult> {
    const now = this.#clock.now();
    const b: { timestamp: number; type: number; payload: Uint8Array; signature?: Uint8Array } = {
      timestamp: now,
      type: encoded.type,
      payload: encoded.bytes,
    };
    if (s.signed) {
      const msg = proofMessage({
        signer: this.localId,
        recipient: s.peer,
        sessionId: s.idHex,
        timestamp: now,
        payloadType: encoded.type,
        payloadHash: sha256(encoded.bytes),
      });
      b.signature = this.identity.sign(msg, PROOF_CONTEXT);
    }
    const bodyLen = bodyLength(encoded.bytes.length, s.signed);
    if (bodyLen <= BATCH_SMALL_BODY) return this.#sendBatched(s, b, bodyLen, signal, deadline, now);
    // Anything queued in a batch goes first, so envelopes keep the order of the send calls.
    this.#flushBatch(s);
    // Larger payloads are sealed straight from the caller's buffer, as a part after the body head:
    // every envelope is sealed before this call returns, so the payload is only read meanwhile.
    let inners: Uint8Array[][];
    if (bodyLen <= this.#o.chunkBytes) {
      const head = encodeBodyHead(b, 1);
      head[0] = InnerKind.DATA;
      inners = [[head, encoded.bytes]];
    } else {
      inners = chunkParts([encodeBodyHead(b, 0), encoded.bytes], this.#o.chunkBytes, s.nextMessageId++ >>> 0);
    }
    if (s.closed) throw new ChannelClosedError('channel closed');
    const sequence = s.nextSeq;
    let pending = inners.length;
    let failed: Error | undefined;
    const done = new Promise<void>((resolve, reject) => {
      const cb = (err?: Error) => {
        if (err && !failed) {
          failed = err;
          reject(err);
        }
        if (--pending === 0 && !failed) resolve();
      };
      for (const inner of inners) {
        let env: Uint8Array;
        try {
          env = this.#seal(s, TypeByte.ENCRYPTED, inner);
        } catch (e) {
          cb(e as Error);
          continue;
        }
        this.#queue(s, env, cb, deadline);
      }
    });
    if (failed) {
      done.catch(() => {});
      throw failed;
    }
    this.#stats.messagesEncrypted++;
    s.messageCount++;
    s.lastActivity = now;
    this.#maybeRekey(s);
    // Usually every envelope was handed to the mesh synchronously: no timer needed.
    if (pending > 0) await this.#race(done, signal, Math.max(1, deadline - now), 'send');
    return { sent: true, sessionId: s.idHex, sequence };
  }

  /**
   * Small messages sent in the same tick share one envelope (section 5.2, BATCH), as the link
   * layer batches frames: one AEAD operation and one mesh frame for many messages. The batch is
   * sealed at the end of the current microtask, or earlier when it fills up or when any other
   * envelope of the session is sealed.
   */
  async #sendBatched(
    s: Session,
    body: MessageBody,
    bodyLen: number,
    signal: AbortSignal | undefined,
    deadline: number,
    now: number,
  ): Promise<SendResult> {
    if (s.batch && !s.batch.plaintext.fits(bodyLen)) this.#flushBatch(s);
    let batch = s.batch;
    if (!batch) {
      const created = { plaintext: new BatchPlaintext(bodyLen, BATCH_BYTES), waiters: [] as ((r: number | Error) => void)[], deadline };
      batch = created;
      s.batch = created;
      queueMicrotask(() => {
        if (s.batch === created) this.#flushBatch(s);
      });
    }
    const result = new Promise<number>((resolve, reject) => {
      (batch as NonNullable<typeof batch>).waiters.push((r) => (typeof r === 'number' ? resolve(r) : reject(r)));
    });
    batch.plaintext.add(body);
    batch.deadline = Math.min(batch.deadline, deadline);
    this.#stats.messagesEncrypted++;
    s.messageCount++;
    s.lastActivity = now;
    // The mesh queue enforces the deadline; only an abort needs watching here.
    const sequence = signal ? await this.#race(result, signal, Math.max(1, deadline - now), 'send') : await result;
    return { sent: true, sessionId: s.idHex, sequence };
  }

  /** Seal the pending batch of `s` (if any) and hand it to the mesh. */
  #flushBatch(s: Session): void {
    const batch = s.batch;
    if (!batch) return;
    s.batch = undefined;
    const settle = (r: number | Error) => {
      for (const w of batch.waiters) w(r);
    };
    if (s.closed) return settle(new ChannelClosedError('channel closed'));
    let env: Uint8Array;
    try {
      env = this.#seal(s, TypeByte.ENCRYPTED, batch.plaintext.parts());
    } catch (e) {
      return settle(e as Error);
    }
    const seq = s.nextSeq - 1;
    // Rekeying counts messages (seed 000: every 10,000 messages), not envelopes.
    s.sentInEpoch += batch.plaintext.count - 1;
    this.#queue(s, env, (err) => settle(err ?? seq), batch.deadline);
    this.#maybeRekey(s);
  }

  /**
   * Hand an envelope to the mesh in sequence order. A congested link (sendTo false) queues it and
   * retries with backoff; the queue is bounded (section 5).
   */
  #queue(s: Session, env: Uint8Array, done: ((err?: Error) => void) | undefined, deadline: number): void {
    if (s.queue.length === 0) {
      const r = this.#trySend(s.peer, env);
      if (r !== 'busy') {
        done?.(r === 'ok' ? undefined : r);
        return;
      }
    }
    if (s.queuedBytes + env.length > 2 * this.#o.maxPayloadBytes + 2 * WIRE.maxChunkBytes) {
      done?.(new CongestedError(s.peer));
      return;
    }
    s.queue.push(done ? { bytes: env, done, deadline } : { bytes: env, deadline });
    s.queuedBytes += env.length;
    if (s.flushTimer === undefined) {
      s.flushDelay = 1;
      s.flushTimer = this.#clock.setTimeout(() => this.#flush(s), s.flushDelay);
    }
  }

  #flush(s: Session): void {
    s.flushTimer = undefined;
    while (s.queue.length > 0) {
      const head = s.queue[0] as (typeof s.queue)[number];
      if (this.#clock.now() > head.deadline) {
        s.queue.shift();
        s.queuedBytes -= head.bytes.length;
        head.done?.(new TimeoutError('mesh link stayed congested'));
        continue;
      }
      const r = this.#trySend(s.peer, head.bytes);
      if (r === 'busy') {
        s.flushDelay = Math.min(MAX_FLUSH_DELAY_MS, s.flushDelay * 2);
        s.flushTimer = this.#clock.setTimeout(() => this.#flush(s), s.flushDelay);
        return;
      }
      s.queue.shift();
      s.queuedBytes -= head.bytes.length;
      s.flushDelay = 1;
      head.done?.(r === 'ok' ? undefined : r);
    }
  }

  #trySend(peer: string, bytes: Uint8Array): 'ok' | 'busy' | AnnexError {
    try {
      return this.#mesh.sendTo(peer, bytes) ? 'ok' : 'busy';
    } catch (e) {
      return new UnreachableError(peer, { cause: e });
    }
  }

  #sendRaw(peer: string, bytes: Uint8Array): void {
    try {
      this.#mesh.sendTo(peer, bytes);
    } catch (e) {
      this.#log.debug({ peer, err: (e as { code?: string }).code }, 'annex send failed');
    }
  }

  // ------------------------------------------------------------------ receive

  #receive(msg: { payload?: unknown } | undefined, from: string): void {
    const bytes = msg?.payload;
    if (!(bytes instanceof Uint8Array) || bytes.length < 5 || bytes[0] !== 0x59 || bytes[1] !== 0x41 || bytes[2] !== 0x58) return;
    if (this.#stopped || typeof from !== 'string' || from === this.localId || !isNodeId(from)) return;
    try {
      if (bytes.length > MAX_ENVELOPE_BYTES) return this.#reject('envelope too large');
      let env: DecodedEnvelope;
      try {
        env = decodeEnvelope(bytes);
      } catch {
        return this.#reject('malformed envelope');
      }
      switch (env.type) {
        case 'annex:key_exchange':
          return this.#onKeyExchange(env, bytes, from);
        case 'annex:key_response':
          return this.#onKeyResponse(env, bytes, from);
        default:
          if ('notice' in env) return this.#onNotice(toHex(env.sessionId), from);
          if (env.finish) return this.#onFinish(env, bytes, from);
          return this.#onSealed(env, from);
      }
    } catch (e) {
      // Nothing a peer sends may crash the node (SPEC section 2, "Errors").
      this.#log.warn({ peer: from, err: e instanceof Error ? e.name : 'error' }, 'annex envelope handling failed');
      this.#reject('internal');
    }
  }

  #reject(reason: string): void {
    this.#stats.envelopesRejected++;
    this.#log.debug({ reason }, 'annex envelope rejected');
  }

  #onSealed(env: DecodedSealed, from: string): void {
    const idHex = toHex(env.sessionId);
    const now = this.#clock.now();
    const s = this.#byId.get(idHex);
    if (!s || s.closed || (s.retiredUntil !== undefined && s.retiredUntil <= now)) {
      // Tell the sender we have no such session (we may have restarted), unless it is a close.
      if (!s && env.type !== 'annex:close') this.#notice(from, env.sessionId);
      return this.#reject('unknown session');
    }
    if (s.peer !== from) return this.#reject('envelope from a node that is not the session peer');
    const ep = s.epochs.get(env.epoch);
    if (!ep || (ep.retireAt !== undefined && ep.retireAt <= now)) return this.#reject('no key for epoch');
    const verdict = this.#replay.check(idHex, env.seq);
    if (!verdict.valid) {
      if (verdict.code === 'replay' || verdict.code === 'too_old') {
        this.#stats.replaysBlocked++;
        return;
      }
      return this.#reject('replay window');
    }
    let pt: Uint8Array;
    try {
      pt = ep.recv.open(nonceFor(env.epoch, env.seq), env.sealed, env.header);
    } catch {
      return this.#reject('envelope does not authenticate');
    }
    // The window moves only after authentication (SPEC section 2, "Replay").
    this.#replay.commit(idHex, env.seq);
    s.lastActivity = now;
    if (s.role === 'initiator' && !s.established) {
      // Any envelope sealed by the responder under the new keys is its key confirmation.
      if (env.epoch !== 0) return this.#reject('envelope before confirmation');
      this.#establish(s);
    }
    switch (env.type) {
      case 'annex:encrypted':
        return this.#onInner(s, pt);
      case 'annex:rekey':
        return this.#onRekey(s, pt);
      case 'annex:close':
        if (pt.length !== 1) return this.#reject('malformed close');
        this.#log.debug({ peer: s.peer, reason: pt[0] }, 'annex closed by peer');
        this.#dropSession(s);
        return;
    }
  }

  #onInner(s: Session, pt: Uint8Array): void {
    switch (pt[0]) {
      case InnerKind.CONFIRM:
        if (pt.length !== 1) this.#reject('malformed confirm');
        return;
      case InnerKind.DATA:
        return this.#deliver(s, pt.subarray(1));
      case InnerKind.CHUNK:
        return this.#onChunk(s, pt);
      case InnerKind.BATCH:
        return this.#onBatch(s, pt);
      default:
        return this.#reject('unknown inner kind');
    }
  }

  #deliver(s: Session, bodyBytes: Uint8Array): void {
    let body: ReturnType<typeof decodeBody>;
    try {
      body = decodeBody(bodyBytes);
    } catch {
      return this.#reject('malformed message body');
    }
    if (body.payload.length > this.#o.maxPayloadBytes) return this.#reject('payload too large');
    const skew = this.#o.maxClockSkewMs;
    if (skew > 0 && Math.abs(this.#clock.now() - body.timestamp) > skew) return this.#reject('timestamp outside the window');
    let proof: AnnexProof | undefined;
    if (s.signed && !body.signature) return this.#reject('unsigned message in a signed session');
    if (body.signature) {
      const p = {
        signer: s.peer,
        recipient: this.localId,
        sessionId: s.idHex,
        timestamp: body.timestamp,
        payloadType: body.type,
        payloadHash: sha256(body.payload),
      };
      const sig = body.signature.slice();
      if (!NodeIdentity.verify(s.peerRecord.signPublicKey, proofMessage(p), sig, PROOF_CONTEXT)) {
        return this.#reject('message signature does not verify');
      }
      proof = { ...p, signPublicKey: s.peerRecord.signPublicKey.slice(), signature: sig };
    }
    const payload = decodePayload(body.type, body.payload, this.#json);
    if (payload === undefined) return this.#reject('malformed payload');
    this.#stats.messagesDecrypted++;
    s.messageCount++;
    const message: AnnexMessage = { from: s.peer, sessionId: s.idHex, payload, timestamp: body.timestamp };
    if (proof) message.proof = proof;
    for (const h of [...this.#handlers.values()]) {
      try {
        h(message);
      } catch (e) {
        this.#log.error({ err: e instanceof Error ? e.message : String(e) }, 'annex message handler threw');
      }
    }
  }

  /** Several small message bodies in one envelope; parsed whole before any is delivered. */
  #onBatch(s: Session, pt: Uint8Array): void {
    let bodies: Uint8Array[];
    try {
      bodies = decodeBatch(pt);
    } catch {
      return this.#reject('malformed batch');
    }
    for (const body of bodies) {
      if (s.closed) return;
      this.#deliver(s, body);
    }
  }

  /** Reassemble a chunked message (section 5.2), within per-session and global byte budgets. */
  #onChunk(s: Session, pt: Uint8Array): void {
    let c: ReturnType<typeof decodeChunk>;
    try {
      c = decodeChunk(pt);
    } catch {
      return this.#reject('malformed chunk');
    }
    const { messageId, index, count, total } = c.header;
    if (total > bodyLength(this.#o.maxPayloadBytes, true) || count > total) return this.#reject('chunked message too large');
    let p = s.partial.get(messageId);
    if (!p) {
      while (s.partial.size >= ANNEX_DEFAULTS.maxPartialMessagesPerSession) {
        const [oldest, op] = s.partial.entries().next().value as [number, { total: number }];
        s.partial.delete(oldest);
        s.partialBytes -= op.total;
        this.#reassemblyBytes -= op.total;
      }
      if (this.#reassemblyBytes + total > this.#o.maxReassemblyBytes) return this.#reject('reassembly budget exhausted');
      p = { count, total, received: 0, bytes: 0, parts: new Array(count), startedAt: this.#clock.now() };
      s.partial.set(messageId, p);
      s.partialBytes += total;
      this.#reassemblyBytes += total;
    }
    const drop = (why: string) => {
      s.partial.delete(messageId);
      s.partialBytes -= (p as { total: number }).total;
      this.#reassemblyBytes -= (p as { total: number }).total;
      this.#reject(why);
    };
    if (p.count !== count || p.total !== total) return drop('inconsistent chunk header');
    if (p.parts[index] !== undefined) return drop('duplicate chunk');
    if (p.bytes + c.data.length > p.total) return drop('chunks exceed the announced length');
    p.parts[index] = c.data;
    p.received++;
    p.bytes += c.data.length;
    if (p.received < p.count) return;
    s.partial.delete(messageId);
    s.partialBytes -= p.total;
    this.#reassemblyBytes -= p.total;
    if (p.bytes !== p.total) return this.#reject('chunks do not add up to the announced length');
    const body = new Uint8Array(p.total);
    let o = 0;
    for (const part of p.parts as Uint8Array[]) {
      body.set(part, o);
      o += part.length;
    }
    this.#deliver(s, body);
  }

  // ------------------------------------------------------------------ rekey (section 6)

  #maybeRekey(s: Session): void {
    if (s.rekey || !this.#usable(s)) return;
    if (s.sentInEpoch >= this.#o.rekeyAfterMessages || this.#clock.now() - s.epochStartedAt >= this.#o.rekeyIntervalMs) {
      this.#startRekey(s);
    }
  }

  #startRekey(s: Session): void {
    if (s.sendEpoch >= 0xffff_ffff) return;
    const eph = hybridKemEphemeral();
    const epoch = s.sendEpoch + 1;
    s.rekey = { epoch, eph, startedAt: this.#clock.now() };
    const inner = new Uint8Array(5 + X_PK);
    inner[0] = RekeyPhase.OFFER;
    new DataView(inner.buffer).setUint32(1, epoch);
    inner.set(eph.publicKey, 5);
    this.#sealAndQueue(s, TypeByte.REKEY, inner, this.#clock.now() + this.#o.rekeyTimeoutMs).catch(() => {});
  }

  #onRekey(s: Session, pt: Uint8Array): void {
    if (!this.#usable(s) || pt.length < 5) return this.#reject('unexpected rekey');
    const phase = pt[0];
    const epoch = new DataView(pt.buffer, pt.byteOffset, pt.length).getUint32(1);
    const now = this.#clock.now();
    if (phase === RekeyPhase.OFFER) {
      if (pt.length !== 5 + X_PK || epoch !== s.sendEpoch + 1) return this.#reject('bad rekey offer');
      if (s.rekey) {
        // Both sides offered at once: the offer of the smaller node id wins (section 6).
        if (this.localId < s.peer) return;
        s.rekey.eph.destroy();
        s.rekey = undefined;
      }
      const pk = pt.slice(5);
      let enc: { cipherText: Uint8Array; sharedSecret: Uint8Array };
      try {
        enc = hybridKem.encapsulate(pk);
      } catch {
        return this.#reject('bad rekey key');
      }
      const keys = deriveRekeyKeys(s.chain, enc.sharedSecret, s.id, epoch, pk, enc.cipherText);
      const inner = new Uint8Array(5 + X_CT);
      inner[0] = RekeyPhase.ACCEPT;
      new DataView(inner.buffer).setUint32(1, epoch);
      inner.set(enc.cipherText, 5);
      // The accept goes out under the old key, then this side sends under the new one; the
      // offerer switches when the accept arrives, so in-order delivery loses nothing.
      this.#sealAndQueue(s, TypeByte.REKEY, inner, now + this.#o.rekeyTimeoutMs).catch(() => {});
      s.advance(epoch, keys, now, this.#o.rekeyGraceMs);
    } else if (phase === RekeyPhase.ACCEPT) {
      if (pt.length !== 5 + X_CT || !s.rekey || s.rekey.epoch !== epoch) return this.#reject('unexpected rekey accept');
      const ct = pt.subarray(5);
      const r = s.rekey;
      let ss: Uint8Array;
      try {
        ss = r.eph.decapsulate(ct);
      } catch {
        return this.#reject('bad rekey ciphertext');
      }
      const keys = deriveRekeyKeys(s.chain, ss, s.id, epoch, r.eph.publicKey, ct);
      r.eph.destroy();
      s.rekey = undefined;
      s.advance(epoch, keys, now, this.#o.rekeyGraceMs);
    } else return this.#reject('unknown rekey phase');
    this.#stats.rekeys++;
    this.#log.debug({ peer: s.peer, epoch }, 'annex rekeyed');
    this.#notifyEpoch(s);
  }

  // ------------------------------------------------------------------ restart notices (section 7)

  #notice(to: string, sessionId: Uint8Array): void {
    if (!this.#limiter.checkConnection(to).allowed) return;
    this.#sendRaw(to, encodeEnvelope({ type: 'annex:close', notice: true, sessionId }));
  }

  /**
   * The peer says it has no session with this id. The hint is unauthenticated, so it never closes
   * anything: it only triggers a fresh handshake, which succeeds only with the real peer.
   */
  #onNotice(idHex: string, from: string): void {
    const s = this.#byId.get(idHex);
    if (!s || s.peer !== from || s.closed) return this.#reject('notice for an unknown session');
    const op = this.#opening.get(from);
    if (!s.established) {
      // The responder lost our handshake (restart between messages 2 and 3): start over.
      if (op && op.session === s && op.restarts < MAX_OPEN_RESTARTS) {
        this.#cancelOpening(op);
        this.#startOpening(from, op.restarts + 1);
      }
      return;
    }
    if (this.#sessions.get(from) !== s || s.stale) return;
    if (!this.#limiter.checkHandshake(`notice:${from}`).allowed) return this.#reject('notice rate limit');
    s.stale = true;
    if (!op && !this.#acceptingByPeer.has(from)) this.#startOpening(from, 0);
  }

  // ------------------------------------------------------------------ housekeeping

  #sweep(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    for (const a of [...this.#accepting.values()]) {
      if (a.expiresAt <= now) {
        this.#dropAccepting(a);
        this.#stats.handshakesFailed++;
        // Callers were waiting for the peer's handshake; open one ourselves.
        if (this.#waiters.has(a.peer) && !this.#opening.has(a.peer)) this.#startOpening(a.peer, 0);
      }
    }
    for (const s of [...this.#byId.values()]) {
      if (s.retiredUntil !== undefined && s.retiredUntil <= now) {
        this.#dropSession(s);
        continue;
      }
      s.expireEpochs(now);
      for (const [id, p] of [...s.partial]) {
        if (now - p.startedAt >= this.#o.reassemblyTimeoutMs) {
          s.partial.delete(id);
          s.partialBytes -= p.total;
          this.#reassemblyBytes -= p.total;
        }
      }
      if (!s.established || this.#sessions.get(s.peer) !== s) continue;
      if (now - s.lastActivity >= this.#o.idleTimeoutMs) {
        this.#closeWith(s, CloseReason.EXPIRED);
        continue;
      }
      if (s.rekey && now - s.rekey.startedAt >= this.#o.rekeyTimeoutMs) {
        // An unanswered rekey leaves the two sides unsure which key the other uses: start over.
        this.#closeWith(s, CloseReason.REKEY_FAILED);
        continue;
      }
      this.#maybeRekey(s);
    }
  }

  #closeWith(s: Session, reason: number): void {
    this.#sessions.delete(s.peer);
    try {
      this.#sendRaw(s.peer, this.#seal(s, TypeByte.CLOSE, [Uint8Array.of(reason)]));
    } catch {
      // The session could not seal (no send key): nothing to tell.
    }
    this.#dropSession(s);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
