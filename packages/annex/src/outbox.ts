// The send path (docs/protocol/annex.md sections 5.1-5.3): sealing under the current send key,
// batching small messages of one tick, chunking large ones, and the per-session queue that
// holds envelopes in sequence order while a mesh link is congested. Section 6.1: a send key
// seals at most a hard bound of messages; sends beyond it are held, in call order, until the
// rekey installs the next key.
import { sha256 } from '@yak/crypto';
import { ANNEX_DEFAULTS, WIRE } from './constants.js';
import type { AnnexCore } from './core.js';
import { sealEnvelope, TypeByte } from './envelope.js';
import { type AnnexError, ChannelClosedError, CongestedError, KeyExhaustedError, TimeoutError, UnreachableError } from './errors.js';
import { nonceFor } from './handshake.js';
import { BatchPlaintext, bodyLength, chunkParts, encodeBodyHead, InnerKind, type MessageBody } from './payload.js';
import { PROOF_CONTEXT, proofMessage } from './proof.js';
import type { HeldSend, Session } from './session.js';
import type { SendResult } from './types.js';

/** Message bodies up to this size are batched (chosen: small messages are where per-envelope cost dominates). */
const BATCH_SMALL_BODY = 16 * 1024;
/** A batch is sealed once it holds this much (chosen: the link layer's batch size). */
const BATCH_BYTES = 64 * 1024;
/** Longest backoff between retries of a congested link (section 5.3). */
const MAX_FLUSH_DELAY_MS = 50;

/** An envelope waiting for a congested link. */
export type Queued = Session['queue'][number];

/** An encoded payload (payload.ts `encodePayload`). */
export type Encoded = { type: number; bytes: Uint8Array };

export class Outbox {
  constructor(readonly core: AnnexCore) {}

  /**
   * Seal the concatenation of `parts` as the next envelope of `s` under its current send key: one
   * allocation for the whole envelope, no copy of the parts (section 5.3). `messages` is what the
   * envelope counts against the key's message bound: 0 for handshake, rekey and close envelopes.
   */
  seal(s: Session, type: number, parts: readonly Uint8Array[], messages = 0): Uint8Array {
    // Messages waiting in a batch were sent first: their envelope must precede this one.
    if (s.batch) this.flushBatch(s);
    const ep = s.current;
    if (!ep.send) throw new ChannelClosedError('session cannot send');
    const seq = s.nextSeq++;
    const env = sealEnvelope(ep.send, nonceFor(ep.epoch, seq), type, s.id, ep.epoch, seq, parts);
    s.sentInEpoch += messages;
    return env;
  }

  sealAndQueue(s: Session, type: number, inner: Uint8Array, deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let env: Uint8Array;
      try {
        env = this.seal(s, type, [inner]);
      } catch (e) {
        reject(e);
        return;
      }
      this.queue(s, env, (err) => (err ? reject(err) : resolve()), deadline);
    });
  }

  /**
   * Messages the current send key may still seal (section 6.1): the hard bound minus what it
   * sealed and what waits in the open batch; none once the key is older than
   * rekeyIntervalMs + rekeyTimeoutMs.
   */
  room(s: Session): number {
    const c = this.core;
    if (c.clock.now() - s.epochStartedAt >= c.o.rekeyIntervalMs + c.o.rekeyTimeoutMs) return 0;
    return c.rekeys.hardLimit - s.sentInEpoch - (s.batch ? s.batch.plaintext.count : 0);
  }

  /**
   * Send one encoded payload on the established session `s`: at once when the key has room for
   * all its envelopes and no earlier send is held, else held until the next key (section 6.1).
   */
  send(s: Session, encoded: Encoded, signal: AbortSignal | undefined, deadline: number): Promise<SendResult> {
    const chunkBytes = this.core.o.chunkBytes;
    const bodyLen = bodyLength(encoded.bytes.length, s.signed);
    const units = bodyLen <= BATCH_SMALL_BODY || bodyLen <= chunkBytes ? 1 : Math.ceil(bodyLen / chunkBytes);
    if (s.held.length === 0 && this.room(s) >= units) return this.#sendNow(s, encoded, bodyLen, signal, deadline);
    return this.#hold(s, encoded, bodyLen, signal, deadline);
  }

  /** The body of a message sealed now: timestamp, payload type and, in signed sessions, the signature (section 5.4). */
  #body(s: Session, encoded: Encoded, now: number): MessageBody {
    const c = this.core;
    const b: MessageBody = { timestamp: now, type: encoded.type, payload: encoded.bytes };
    if (s.signed) {
      const msg = proofMessage({
        signer: c.localId,
        recipient: s.peer,
        sessionId: s.idHex,
        timestamp: now,
        payloadType: encoded.type,
        payloadHash: sha256(encoded.bytes),
      });
      b.signature = c.identity.sign(msg, PROOF_CONTEXT);
    }
    return b;
  }

  async #sendNow(s: Session, encoded: Encoded, bodyLen: number, signal: AbortSignal | undefined, deadline: number): Promise<SendResult> {
    const c = this.core;
    const now = c.clock.now();
    const b = this.#body(s, encoded, now);
    if (bodyLen <= BATCH_SMALL_BODY) return this.#sendBatched(s, b, bodyLen, signal, deadline, now);
    // Anything queued in a batch goes first, so envelopes keep the order of the send calls.
    this.flushBatch(s);
    // Larger payloads are sealed straight from the caller's buffer, as a part after the body head:
    // every envelope is sealed before this call returns, so the payload is only read meanwhile.
    let inners: Uint8Array[][];
    if (bodyLen <= c.o.chunkBytes) {
      const head = encodeBodyHead(b, 1);
      head[0] = InnerKind.DATA;
      inners = [[head, encoded.bytes]];
    } else {
      inners = chunkParts([encodeBodyHead(b, 0), encoded.bytes], c.o.chunkBytes, s.nextMessageId++ >>> 0);
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
          env = this.seal(s, TypeByte.ENCRYPTED, inner, 1);
        } catch (e) {
          cb(e as Error);
          continue;
        }
        this.queue(s, env, cb, deadline);
      }
    });
    if (failed) {
      done.catch(() => {});
      throw failed;
    }
    c.counters.messagesEncrypted++;
    s.messageCount++;
    s.lastActivity = now;
    c.rekeys.maybeStart(s);
    // Usually every envelope was handed to the mesh synchronously: no timer needed.
    if (pending > 0) await c.race(done, signal, Math.max(1, deadline - now), 'send');
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
    const c = this.core;
    if (s.batch && !s.batch.plaintext.fits(bodyLen)) this.flushBatch(s);
    let batch = s.batch;
    if (!batch) {
      const created = { plaintext: new BatchPlaintext(bodyLen, BATCH_BYTES), waiters: [] as ((r: number | Error) => void)[], deadline };
      batch = created;
      s.batch = created;
      queueMicrotask(() => {
        if (s.batch === created) this.flushBatch(s);
      });
    }
    const result = new Promise<number>((resolve, reject) => {
      (batch as NonNullable<typeof batch>).waiters.push((r) => (typeof r === 'number' ? resolve(r) : reject(r)));
    });
    batch.plaintext.add(body);
    batch.deadline = Math.min(batch.deadline, deadline);
    c.counters.messagesEncrypted++;
    s.messageCount++;
    s.lastActivity = now;
    // The mesh queue enforces the deadline; only an abort needs watching here.
    const sequence = signal ? await c.race(result, signal, Math.max(1, deadline - now), 'send') : await result;
    return { sent: true, sessionId: s.idHex, sequence };
  }

  /** Seal the pending batch of `s` (if any) and hand it to the mesh. */
  flushBatch(s: Session): void {
    const batch = s.batch;
    if (!batch) return;
    s.batch = undefined;
    const settle = (r: number | Error) => {
      for (const w of batch.waiters) w(r);
    };
    if (s.closed) return settle(new ChannelClosedError('channel closed'));
    let env: Uint8Array;
    try {
      // Rekeying counts messages (seed 000: every 10,000 messages), not envelopes.
      env = this.seal(s, TypeByte.ENCRYPTED, batch.plaintext.parts(), batch.plaintext.count);
    } catch (e) {
      return settle(e as Error);
    }
    const seq = s.nextSeq - 1;
    this.queue(s, env, (err) => settle(err ?? seq), batch.deadline);
    this.core.rekeys.maybeStart(s);
  }

  /**
   * Hold a send until the next key has room (section 6.1). The hold is bounded (maxHeldSends
   * sends, twice maxPayloadBytes of payload) and ends with the send's deadline or abort; the
   * payload is read when the send is sealed, as while a channel is opening (section 5.3).
   */
  async #hold(s: Session, encoded: Encoded, bodyLen: number, signal: AbortSignal | undefined, deadline: number): Promise<SendResult> {
    const c = this.core;
    const bytes = encoded.bytes.length;
    if (s.held.length >= ANNEX_DEFAULTS.maxHeldSends || s.heldBytes + bytes > 2 * c.o.maxPayloadBytes) {
      throw new KeyExhaustedError('queue_full', s.peer);
    }
    let resolve: (r: SendResult) => void = () => {};
    let reject: (e: Error) => void = () => {};
    const result = new Promise<SendResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const whole = bodyLen <= BATCH_SMALL_BODY || bodyLen <= c.o.chunkBytes;
    const job: HeldSend = {
      bytes,
      fail: (e) => reject(e),
      pump: whole
        ? () => {
            if (this.room(s) < 1) return false;
            // The caller's signal is watched below; the deadline still bounds the mesh queue.
            this.#sendNow(s, encoded, bodyLen, undefined, deadline).then(resolve, reject);
            return true;
          }
        : this.#chunkPump(s, encoded, deadline, resolve, reject),
    };
    s.held.push(job);
    s.heldBytes += bytes;
    // A chunked message may start under the room left; anything else waits for the next key.
    this.release(s);
    try {
      return await c.race(result, signal, Math.max(1, deadline - c.clock.now()), 'send');
    } finally {
      const i = s.held.indexOf(job);
      if (i >= 0) {
        s.held.splice(i, 1);
        s.heldBytes -= bytes;
      }
    }
  }

  /**
   * The pump of a held chunked message: seals chunks while the key has room and resumes under the
   * next key. Chunks of one message may span keys: reassembly is per session (section 5.2).
   */
  #chunkPump(s: Session, encoded: Encoded, deadline: number, resolve: (r: SendResult) => void, reject: (e: Error) => void): () => boolean {
    const c = this.core;
    let inners: Uint8Array[][] | undefined;
    let next = 0;
    let sequence = 0;
    let pending = 0;
    let sealedAll = false;
    let failed = false;
    const cb = (err?: Error) => {
      if (failed) return;
      if (err) {
        failed = true;
        reject(err);
        return;
      }
      if (--pending === 0 && sealedAll) resolve({ sent: true, sessionId: s.idHex, sequence });
    };
    return () => {
      if (failed) return true;
      if (this.room(s) < 1) return false;
      if (!inners) {
        if (s.closed) {
          cb(new ChannelClosedError('channel closed'));
          return true;
        }
        this.flushBatch(s);
        const head = encodeBodyHead(this.#body(s, encoded, c.clock.now()), 0);
        inners = chunkParts([head, encoded.bytes], c.o.chunkBytes, s.nextMessageId++ >>> 0);
        sequence = s.nextSeq;
        pending = inners.length;
      }
      while (next < inners.length && this.room(s) >= 1) {
        let env: Uint8Array;
        try {
          env = this.seal(s, TypeByte.ENCRYPTED, inners[next++] as Uint8Array[], 1);
        } catch (e) {
          cb(e as Error);
          return true;
        }
        this.queue(s, env, cb, deadline);
        if (failed) return true;
      }
      if (next < inners.length) return false;
      sealedAll = true;
      c.counters.messagesEncrypted++;
      s.messageCount++;
      s.lastActivity = c.clock.now();
      c.rekeys.maybeStart(s);
      if (pending === 0) resolve({ sent: true, sessionId: s.idHex, sequence });
      return true;
    };
  }

  /** A new key is in place (or room was left): seal held sends in call order while it has room. */
  release(s: Session): void {
    while (s.held.length > 0) {
      const job = s.held[0] as HeldSend;
      if (!job.pump()) break;
      s.held.shift();
      s.heldBytes -= job.bytes;
    }
    // Still holding: make sure a rekey is on its way (section 6).
    if (s.held.length > 0) this.core.rekeys.maybeStart(s);
  }

  /** Reject every held send of `s` (teardown, replacement). */
  failHeld(s: Session, err: Error): void {
    const jobs = s.held.splice(0);
    s.heldBytes = 0;
    for (const j of jobs) j.fail(err);
  }

  /**
   * Hand an envelope to the mesh in sequence order. A congested link (sendTo false) queues it and
   * retries with backoff; the queue is bounded (section 5.3).
   */
  queue(s: Session, env: Uint8Array, done: ((err?: Error) => void) | undefined, deadline: number): void {
    const c = this.core;
    if (s.queue.length === 0) {
      const r = this.#trySend(s.peer, env);
      if (r !== 'busy') {
        done?.(r === 'ok' ? undefined : r);
        return;
      }
    }
    if (s.queuedBytes + env.length > 2 * c.o.maxPayloadBytes + 2 * WIRE.maxChunkBytes) {
      done?.(new CongestedError(s.peer));
      return;
    }
    s.queue.push(done ? { bytes: env, done, deadline } : { bytes: env, deadline });
    s.queuedBytes += env.length;
    if (s.flushTimer === undefined) {
      s.flushDelay = 1;
      s.flushTimer = c.clock.setTimeout(() => this.#flush(s), s.flushDelay);
    }
  }

  #flush(s: Session): void {
    const c = this.core;
    s.flushTimer = undefined;
    while (s.queue.length > 0) {
      const head = s.queue[0] as Queued;
      if (c.clock.now() > head.deadline) {
        s.queue.shift();
        s.queuedBytes -= head.bytes.length;
        head.done?.(new TimeoutError('mesh link stayed congested'));
        continue;
      }
      const r = this.#trySend(s.peer, head.bytes);
      if (r === 'busy') {
        s.flushDelay = Math.min(MAX_FLUSH_DELAY_MS, s.flushDelay * 2);
        s.flushTimer = c.clock.setTimeout(() => this.#flush(s), s.flushDelay);
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
      return this.core.mesh.sendTo(peer, bytes) ? 'ok' : 'busy';
    } catch (e) {
      return new UnreachableError(peer, { cause: e });
    }
  }

  /** Best-effort send outside the session queue (handshake messages, notices, closes). */
  sendRaw(peer: string, bytes: Uint8Array): void {
    try {
      this.core.mesh.sendTo(peer, bytes);
    } catch (e) {
      this.core.log.debug({ peer, err: (e as { code?: string }).code }, 'annex send failed');
    }
  }

  /**
   * Detach the send state of a session being torn down: stop its flush timer, fail its pending
   * batch, and return the queued envelopes for the caller to settle after the keys are wiped.
   */
  detach(s: Session): Queued[] {
    if (s.flushTimer !== undefined) this.core.clock.clearTimeout(s.flushTimer);
    s.flushTimer = undefined;
    if (s.batch) {
      const waiters = s.batch.waiters;
      s.batch = undefined;
      for (const w of waiters) w(new ChannelClosedError('channel closed'));
    }
    const queued = s.queue.splice(0);
    s.queuedBytes = 0;
    return queued;
  }
}
