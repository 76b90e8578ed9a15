// ANNEX (seed 000; SPEC section 3 @yak/annex): end-to-end encrypted, mutually authenticated
// point-to-point channels between mesh nodes, possibly several hops apart. The protocol is in
// docs/protocol/annex.md; section numbers below refer to it. This module is the public facade;
// the work is done by the components of core.ts, one concern per module:
//   channels.ts    session lifecycle per peer        handshakes.ts  handshake driving, notices
//   outbox.ts      sealing, batching, send queue     inbox.ts       receive path and delivery
//   rekeying.ts    key epochs and rotation           reassembly.ts  chunked messages
//   handlers.ts    message handler registry          stats.ts       counters and listings
import { isNodeId, NodeIdentity } from '@yak/crypto';
import { silentLogger, systemClock } from '@yak/mesh-core';
import { callTimeout } from './calls.js';
import { AnnexCore } from './core.js';
import { TypeByte } from './envelope.js';
import { ChannelClosedError, InvalidArgumentError, KeyExhaustedError, StoppedError } from './errors.js';
import { resolveOptions } from './options.js';
import { type AnnexPayload, CloseReason, encodePayload } from './payload.js';
import { sessionListing, sessionView, statsSnapshot } from './stats.js';
import type {
  AnnexInfo,
  AnnexMeshHandler,
  AnnexMessageHandler,
  AnnexOptions,
  AnnexSession,
  AnnexStats,
  CallOptions,
  SendResult,
} from './types.js';

export type {
  AnnexInfo,
  AnnexMesh,
  AnnexMeshHandler,
  AnnexMessage,
  AnnexMessageHandler,
  AnnexOptions,
  AnnexSession,
  AnnexStats,
  CallOptions,
  SendResult,
} from './types.js';

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
  readonly #core: AnnexCore;
  readonly #onMesh: AnnexMeshHandler;
  #sweepTimer: unknown;

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
    const o = resolveOptions(options);
    this.identity = identity;
    this.localId = identity.nodeId;
    const core = new AnnexCore(identity, mesh, o, options.clock ?? systemClock, options.logger ?? silentLogger);
    this.#core = core;
    this.#onMesh = (msg, _peer, from) => core.inbox.receive(msg, from);
    mesh.on('message', this.#onMesh);
    this.#sweepTimer = core.clock.setInterval(() => this.#sweep(), o.sweepIntervalMs);
  }

  // ------------------------------------------------------------------ public API (seed 000)

  /**
   * Establish a channel with `remoteNodeId` (or return the existing one). Rejects with
   * `TimeoutError`, `HandshakeError` (the peer's handshake did not verify), `UnreachableError`,
   * `AbortedError`, `SessionLimitError`, `ChannelClosedError` or `StoppedError`.
   */
  async openChannel(remoteNodeId: string, opts: CallOptions = {}): Promise<AnnexSession> {
    this.#checkPeer(remoteNodeId);
    const c = this.#core;
    const timeoutMs = callTimeout(opts, c.o.handshakeTimeoutMs);
    const s = await c.channels.ensure(remoteNodeId, opts.signal, timeoutMs);
    return sessionView(s, c.clock.now(), c.o.idleTimeoutMs);
  }

  /**
   * Encrypt and send `payload` (bytes, a string or a JSON value) to `remoteNodeId`, opening a
   * channel if needed. Payloads above `chunkBytes` travel in chunks; above `maxPayloadBytes` they
   * are refused with `PayloadTooLargeError` before anything is sent. Resolves once every envelope
   * was handed to the mesh.
   */
  async send(remoteNodeId: string, payload: AnnexPayload, opts: CallOptions = {}): Promise<SendResult> {
    this.#checkPeer(remoteNodeId);
    const c = this.#core;
    const timeoutMs = callTimeout(opts, c.o.sendTimeoutMs);
    const encoded = encodePayload(payload, c.o.maxPayloadBytes);
    const deadline = c.clock.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      // An established channel is used in this task, without a microtask hop through the opener.
      const cur = c.sessions.get(remoteNodeId);
      const s = c.usable(cur) ? cur : await c.channels.ensure(remoteNodeId, opts.signal, Math.max(1, deadline - c.clock.now()));
      // The session can close between the handshake and this task; open again once.
      if (s.closed || s.stale || s.retiredUntil !== undefined) {
        if (attempt < 1) continue;
        throw new ChannelClosedError('channel closed while sending');
      }
      return c.outbox.send(s, encoded, opts.signal, deadline);
    }
  }

  /** Register a handler for decrypted messages; returns its id for {@link Annex.offMessage}. */
  onMessage(handler: AnnexMessageHandler): string {
    return this.#core.handlers.add(handler);
  }

  /** Remove a handler; returns whether it was registered. */
  offMessage(handlerId: string): boolean {
    return this.#core.handlers.remove(handlerId);
  }

  /**
   * Close the channel with `remoteNodeId`: the peer is told (in an authenticated close), the
   * session keys are wiped, and pending opens to that peer are rejected with `ChannelClosedError`.
   * Resolves to whether there was anything to close.
   */
  async closeChannel(remoteNodeId: string, opts: CallOptions = {}): Promise<boolean> {
    this.#checkPeer(remoteNodeId);
    const timeoutMs = callTimeout(opts, this.#core.o.sendTimeoutMs);
    return this.#core.channels.close(remoteNodeId, opts.signal, timeoutMs);
  }

  /** Counters (seed 000 `getStats`). */
  getStats(): AnnexStats {
    const c = this.#core;
    let active = 0;
    for (const s of c.sessions.values()) if (s.established && !s.closed) active++;
    return statsSnapshot(c.counters, active, c.handshakes.openingCount + c.handshakes.acceptingCount);
  }

  /** Sessions and handshakes in progress (seed 000 `listAnnexes`). */
  listAnnexes(): AnnexInfo[] {
    const c = this.#core;
    const now = c.clock.now();
    const out: AnnexInfo[] = [];
    for (const s of c.sessions.values()) out.push(sessionListing(s, now, c.o.idleTimeoutMs));
    out.push(...c.handshakes.listOpenings());
    return out;
  }

  /**
   * Rotate the keys of the channel with `remoteNodeId` now (the automatic rotation runs on time
   * and message count). Resolves with the new epoch once both sides switched.
   */
  async rekey(remoteNodeId: string, opts: CallOptions = {}): Promise<{ epoch: number }> {
    this.#checkPeer(remoteNodeId);
    const timeoutMs = callTimeout(opts, this.#core.o.rekeyTimeoutMs);
    return this.#core.rekeys.rekeyNow(remoteNodeId, opts.signal, timeoutMs);
  }

  /** Stop: tell peers, wipe every key, reject pending calls with `StoppedError`, clear timers. */
  async stop(): Promise<void> {
    const c = this.#core;
    if (c.stopped) return;
    c.stopped = true;
    c.clock.clearInterval(this.#sweepTimer);
    c.mesh.off('message', this.#onMesh);
    for (const s of c.sessions.values()) {
      if (!s.established || s.closed) continue;
      try {
        const env = c.outbox.seal(s, TypeByte.CLOSE, [Uint8Array.of(CloseReason.STOPPING)]);
        c.mesh.sendTo(s.peer, env);
      } catch {
        // Best effort: the peer's idle timer or a restart notice cleans up otherwise.
      }
    }
    c.handshakes.cancelAll();
    for (const s of [...c.byId.values()]) c.channels.drop(s);
    c.sessions.clear();
    c.channels.rejectAllWaiters(new StoppedError());
    c.handlers.clear();
  }

  #checkPeer(nodeId: string): void {
    if (this.#core.stopped) throw new StoppedError();
    if (!isNodeId(nodeId)) throw new InvalidArgumentError('remoteNodeId is not a node id');
    if (nodeId === this.localId) throw new InvalidArgumentError('cannot open a channel to this node itself');
  }

  /** Housekeeping every sweepIntervalMs: expiries, grace periods, time-based and failed rekeys. */
  #sweep(): void {
    const c = this.#core;
    if (c.stopped) return;
    const now = c.clock.now();
    c.handshakes.sweep(now);
    for (const s of [...c.byId.values()]) {
      if (s.retiredUntil !== undefined && s.retiredUntil <= now) {
        c.channels.drop(s);
        continue;
      }
      s.expireEpochs(now);
      c.reassembly.expire(s, now);
      if (!s.established || c.sessions.get(s.peer) !== s) continue;
      if (now - s.lastActivity >= c.o.idleTimeoutMs) {
        c.channels.closeWith(s, CloseReason.EXPIRED);
        continue;
      }
      if (c.rekeys.timedOut(s, now)) {
        // An unanswered rekey leaves the two sides unsure which key the other uses, and a key may
        // not outlive its time bound: start over (section 6.1). Held sends fail with a typed error.
        c.channels.closeWith(s, CloseReason.REKEY_FAILED, new KeyExhaustedError('rekey_failed', s.peer));
        continue;
      }
      c.rekeys.maybeStart(s);
    }
  }
}
