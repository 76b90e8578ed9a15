// Handshake driving, both roles (docs/protocol/annex.md section 4), and restart notices (section
// 7). The key schedule itself is in handshake.ts; this module runs the per-peer state machine:
//   initiator: startOpening -> m1 -> (m2) onKeyResponse -> m3, retransmitted -> m4 establishes
//   responder: (m1) onKeyExchange -> m2, pending until (m3) onFinish -> m4, established
import {
  decodeIdentityRecord,
  type HybridKemDecapsulator,
  hybridKem,
  hybridKemEphemeral,
  type IdentityRecord,
  NodeIdentity,
  randomBytes,
  sha256,
  toHex,
  wipe,
} from '@yak/crypto';
import type { AnnexCore } from './core.js';
import {
  type DecodedSealed,
  encodeEnvelope,
  HS_FLAG_SIGN,
  type KeyExchangeEnvelope,
  type KeyResponseEnvelope,
  sealEnvelope,
  TypeByte,
} from './envelope.js';
import { type AnnexError, HandshakeError, TimeoutError, UnreachableError } from './errors.js';
import { deriveSessionKeys, nonceFor, transcriptHash } from './handshake.js';
import { InnerKind } from './payload.js';
import { Session } from './session.js';
import type { AnnexInfo } from './types.js';

/** Fresh handshakes after "unknown session" notices for one open (section 4.5). */
const MAX_OPEN_RESTARTS = 3;

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

export class Handshakes {
  readonly #opening = new Map<string, Opening>();
  readonly #openingById = new Map<string, Opening>();
  readonly #accepting = new Map<string, Accepting>();
  readonly #acceptingByPeer = new Map<string, string>();

  constructor(readonly core: AnnexCore) {}

  get openingCount(): number {
    return this.#opening.size;
  }

  get acceptingCount(): number {
    return this.#accepting.size;
  }

  isOpening(peer: string): boolean {
    return this.#opening.has(peer);
  }

  isAccepting(peer: string): boolean {
    return this.#acceptingByPeer.has(peer);
  }

  /** Why the open to `peer` is stuck, if a reason is known (no route, a peer that did not verify). */
  lastError(peer: string): AnnexError | undefined {
    return this.#opening.get(peer)?.lastError;
  }

  /** Listing entries of outbound handshakes to peers without a session yet (listAnnexes). */
  listOpenings(): AnnexInfo[] {
    const out: AnnexInfo[] = [];
    for (const op of this.#opening.values()) {
      if (this.core.sessions.has(op.peer)) continue;
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

  /** `s` was established: its own handshake is done, any other one with the peer is obsolete. */
  settle(s: Session): void {
    const op = this.#opening.get(s.peer);
    if (op) {
      if (op.session === s) {
        this.core.clock.clearTimeout(op.timer);
        this.#opening.delete(op.peer);
        this.#openingById.delete(op.idHex);
      } else this.#cancelOpening(op);
    }
    const accId = this.#acceptingByPeer.get(s.peer);
    if (accId !== undefined && accId !== s.idHex) this.#dropAccepting(this.#accepting.get(accId) as Accepting);
  }

  /** Cancel every handshake with `peer` (closeChannel); returns whether there was one. */
  cancelPeer(peer: string): boolean {
    let found = false;
    const op = this.#opening.get(peer);
    if (op) {
      found = true;
      this.#cancelOpening(op);
    }
    const accId = this.#acceptingByPeer.get(peer);
    if (accId) {
      found = true;
      this.#dropAccepting(this.#accepting.get(accId) as Accepting);
    }
    return found;
  }

  /** Cancel every handshake (stop). */
  cancelAll(): void {
    for (const op of [...this.#opening.values()]) this.#cancelOpening(op);
    for (const a of [...this.#accepting.values()]) this.#dropAccepting(a);
  }

  /** Expire pending inbound handshakes (section 4.1: kept at most handshakeTimeoutMs). */
  sweep(now: number): void {
    const c = this.core;
    for (const a of [...this.#accepting.values()]) {
      if (a.expiresAt <= now) {
        this.#dropAccepting(a);
        c.counters.handshakesFailed++;
        // Callers were waiting for the peer's handshake; open one ourselves.
        if (c.channels.hasWaiters(a.peer) && !this.#opening.has(a.peer)) this.startOpening(a.peer, 0);
      }
    }
  }

  // ------------------------------------------------------------------ initiator (sections 4.1-4.3, 4.5)

  startOpening(peer: string, restarts: number): void {
    const c = this.core;
    const id = randomBytes(16);
    const eph = hybridKemEphemeral();
    const m1 = encodeEnvelope({
      type: 'annex:key_exchange',
      sessionId: id,
      flags: c.o.signEnvelopes ? HS_FLAG_SIGN : 0,
      record: c.recordBytes,
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
      startedAt: c.clock.now(),
      timer: undefined,
      retryDelay: c.o.handshakeRetryMs,
      restarts,
      lastError: undefined,
    };
    this.#opening.set(peer, op);
    this.#openingById.set(op.idHex, op);
    this.#sendHandshake(op, m1);
    this.#armRetry(op);
  }

  #armRetry(op: Opening): void {
    const c = this.core;
    const left = op.startedAt + c.o.handshakeTimeoutMs - c.clock.now();
    op.timer = c.clock.setTimeout(() => this.#retry(op), Math.max(1, Math.min(op.retryDelay, left)));
  }

  /** Retransmit the last handshake message (a lost key_response or confirmation), or give up. */
  #retry(op: Opening): void {
    if (this.#opening.get(op.peer) !== op) return;
    if (this.core.clock.now() - op.startedAt >= this.core.o.handshakeTimeoutMs) {
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
      this.core.mesh.sendTo(op.peer, bytes);
    } catch (e) {
      op.lastError = new UnreachableError(op.peer, { cause: e });
    }
  }

  #failOpening(op: Opening, err: AnnexError): void {
    this.#cancelOpening(op);
    this.core.counters.handshakesFailed++;
    this.core.log.debug({ peer: op.peer, code: err.code }, 'annex handshake failed');
    // Waiters stay if the peer's own handshake with us is still under way.
    if (!this.#acceptingByPeer.has(op.peer)) this.core.channels.rejectWaiters(op.peer, err);
  }

  #cancelOpening(op: Opening): void {
    this.core.clock.clearTimeout(op.timer);
    if (this.#opening.get(op.peer) === op) this.#opening.delete(op.peer);
    this.#openingById.delete(op.idHex);
    op.eph.destroy();
    if (op.session && !op.session.established) this.core.channels.drop(op.session);
  }

  /** Message 2 at the initiator (section 4.2). */
  onKeyResponse(env: KeyResponseEnvelope, bytes: Uint8Array, from: string): void {
    const c = this.core;
    const op = this.#openingById.get(toHex(env.sessionId));
    if (!op || op.peer !== from) return c.reject('unexpected key_response');
    if (op.m2) {
      // Our key_exchange was retransmitted and answered twice: the answer must be the same.
      if (bytesEqual(op.m2, bytes) && op.session?.finishBytes) this.#sendHandshake(op, op.session.finishBytes);
      else c.reject('conflicting key_response');
      return;
    }
    let record: IdentityRecord;
    try {
      record = this.#verifyRecord(env.record);
    } catch {
      op.lastError = new HandshakeError('responder identity record does not verify');
      return c.reject('bad responder record');
    }
    // The responder must be the node we asked for, and the node the mesh says sent this.
    if (record.nodeId !== op.peer || record.nodeId !== from) {
      op.lastError = new HandshakeError('responder is not the intended peer');
      return c.reject('key_response from another identity');
    }
    let ssE: Uint8Array;
    let ssI: Uint8Array;
    let enc: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    try {
      ssE = op.eph.decapsulate(env.ctEphemeral);
      ssI = c.identity.kemDecapsulate(env.ctStatic);
      enc = hybridKem.encapsulate(record.kemPublicKey);
    } catch {
      op.lastError = new HandshakeError('key exchange failed');
      return c.reject('key_response does not decapsulate');
    }
    const m2 = bytes.slice();
    const keys = deriveSessionKeys(ssE, ssI, enc.sharedSecret, transcriptHash(op.m1, m2, enc.cipherText));
    op.eph.destroy();
    const signed = c.o.signEnvelopes || (env.flags & HS_FLAG_SIGN) !== 0;
    const s = new Session(op.id, op.peer, record, 'initiator', signed, keys, c.clock.now());
    op.m2 = m2;
    op.session = s;
    c.byId.set(s.idHex, s);
    // Message 3: the encapsulation to the responder's static key rides in the header of the
    // first sealed envelope, whose tag proves the initiator derived the keys (section 4.3).
    const send = s.current.send as NonNullable<typeof s.current.send>;
    s.finishBytes = sealEnvelope(send, nonceFor(0, 0), TypeByte.ENCRYPTED, s.id, 0, 0, [Uint8Array.of(InnerKind.FINISH)], enc.cipherText);
    s.nextSeq = 1;
    c.clock.clearTimeout(op.timer);
    op.retryDelay = c.o.handshakeRetryMs;
    this.#sendHandshake(op, s.finishBytes);
    this.#armRetry(op);
  }

  // ------------------------------------------------------------------ responder (sections 4.1, 4.3, 4.4)

  /** Message 1 at the responder (section 4.1). */
  onKeyExchange(env: KeyExchangeEnvelope, bytes: Uint8Array, from: string): void {
    const c = this.core;
    const idHex = toHex(env.sessionId);
    const existing = this.#accepting.get(idHex);
    if (existing) {
      // A retransmitted key_exchange (our key_response was lost): answer with the same bytes.
      if (existing.peer === from && existing.m1Hash === toHex(sha256(bytes))) c.outbox.sendRaw(from, existing.m2);
      else c.reject('session id in use');
      return;
    }
    if (c.byId.has(idHex) || this.#openingById.has(idHex)) return c.reject('session id in use');
    if (!c.limiter.checkHandshake(from).allowed) return c.reject('handshake rate limit');
    let record: IdentityRecord;
    try {
      record = this.#verifyRecord(env.record);
    } catch {
      c.counters.handshakesFailed++;
      return c.reject('bad initiator record');
    }
    if (record.nodeId !== from) {
      c.counters.handshakesFailed++;
      return c.reject('key_exchange record is not the sender');
    }
    // Both sides opened at once: the handshake started by the smaller node id wins (section 4.4).
    const mine = this.#opening.get(from);
    if (mine) {
      if (c.localId < from) return;
      this.#cancelOpening(mine);
    }
    const prev = this.#acceptingByPeer.get(from);
    if (prev !== undefined) this.#dropAccepting(this.#accepting.get(prev) as Accepting);
    if (this.#accepting.size >= c.o.maxPendingHandshakes) return c.reject('too many pending handshakes');
    if (!c.sessions.has(from) && c.channels.count() >= c.o.maxSessions) return c.reject('session limit');
    let e: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    let i: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    try {
      e = hybridKem.encapsulate(env.ephemeralKey);
      i = hybridKem.encapsulate(record.kemPublicKey);
    } catch {
      c.counters.handshakesFailed++;
      return c.reject('bad ephemeral key');
    }
    const flags = c.o.signEnvelopes ? HS_FLAG_SIGN : 0;
    const m2 = encodeEnvelope({
      type: 'annex:key_response',
      sessionId: env.sessionId,
      flags,
      record: c.recordBytes,
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
      signed: c.o.signEnvelopes || (env.flags & HS_FLAG_SIGN) !== 0,
      expiresAt: c.clock.now() + c.o.handshakeTimeoutMs,
    };
    this.#accepting.set(idHex, acc);
    this.#acceptingByPeer.set(from, idHex);
    c.outbox.sendRaw(from, m2);
  }

  #dropAccepting(a: Accepting): void {
    wipe(a.ssE, a.ssI);
    this.#accepting.delete(a.idHex);
    if (this.#acceptingByPeer.get(a.peer) === a.idHex) this.#acceptingByPeer.delete(a.peer);
  }

  /** Message 3 at the responder (section 4.3): authenticates the initiator, completes the session. */
  onFinish(env: DecodedSealed, bytes: Uint8Array, from: string): void {
    const c = this.core;
    const idHex = toHex(env.sessionId);
    const acc = this.#accepting.get(idHex);
    if (!acc) {
      const s = c.byId.get(idHex);
      // Our confirmation was lost and the initiator sent message 3 again.
      if (s && s.role === 'responder' && s.peer === from && s.finishHash === toHex(sha256(bytes)) && s.confirmBytes) {
        c.outbox.sendRaw(from, s.confirmBytes);
        return;
      }
      if (!s) this.notice(from, env.sessionId);
      return c.reject('unexpected finish');
    }
    if (acc.peer !== from || env.epoch !== 0 || env.seq !== 0) return c.reject('finish from the wrong sender');
    let s: Session;
    try {
      const ssR = c.identity.kemDecapsulate(env.finish as Uint8Array);
      const keys = deriveSessionKeys(acc.ssE.slice(), acc.ssI.slice(), ssR, transcriptHash(acc.m1, acc.m2, env.finish as Uint8Array));
      s = new Session(acc.id, acc.peer, acc.record, 'responder', acc.signed, keys, c.clock.now());
    } catch {
      return c.reject('finish does not decapsulate');
    }
    let pt: Uint8Array;
    try {
      pt = (s.epochs.get(0) as NonNullable<ReturnType<typeof s.epochs.get>>).recv.open(nonceFor(0, 0), env.sealed, env.header);
    } catch {
      s.destroy();
      // Keep the pending handshake: a relay can inject garbage but not stop the real message 3.
      return c.reject('finish does not authenticate');
    }
    if (pt.length !== 1 || pt[0] !== InnerKind.FINISH) {
      s.destroy();
      return c.reject('finish has the wrong content');
    }
    this.#dropAccepting(acc);
    c.replay.commit(idHex, 0);
    // The finishing envelope is the first of the initiator's key (section 6.1 counts it).
    const ep0 = s.epochs.get(0) as NonNullable<ReturnType<typeof s.epochs.get>>;
    ep0.recvLo = 0;
    ep0.recvHi = 0;
    c.byId.set(idHex, s);
    s.finishHash = toHex(sha256(bytes));
    s.established = true;
    // Message 4: the first envelope sealed by the responder proves it holds its static key.
    s.confirmBytes = c.outbox.seal(s, TypeByte.ENCRYPTED, [Uint8Array.of(InnerKind.CONFIRM)]);
    c.channels.establish(s);
    c.outbox.queue(s, s.confirmBytes, undefined, c.clock.now() + c.o.sendTimeoutMs);
  }

  #verifyRecord(bytes: Uint8Array): IdentityRecord {
    // verifyRecord caches verified records, so a known peer costs a hash, not an ML-DSA verify.
    return NodeIdentity.verifyRecord(decodeIdentityRecord(bytes), { now: this.core.clock.now() });
  }

  // ------------------------------------------------------------------ restart notices (section 7)

  /** Tell `to` we have no session `sessionId` (rate-limited per peer). */
  notice(to: string, sessionId: Uint8Array): void {
    if (!this.core.limiter.checkConnection(to).allowed) return;
    this.core.outbox.sendRaw(to, encodeEnvelope({ type: 'annex:close', notice: true, sessionId }));
  }

  /**
   * The peer says it has no session with this id. The hint is unauthenticated, so it never closes
   * anything: it only triggers a fresh handshake, which succeeds only with the real peer.
   */
  onNotice(idHex: string, from: string): void {
    const c = this.core;
    const s = c.byId.get(idHex);
    if (!s || s.peer !== from || s.closed) return c.reject('notice for an unknown session');
    const op = this.#opening.get(from);
    if (!s.established) {
      // The responder lost our handshake (restart between messages 2 and 3): start over.
      if (op && op.session === s && op.restarts < MAX_OPEN_RESTARTS) {
        this.#cancelOpening(op);
        this.startOpening(from, op.restarts + 1);
      }
      return;
    }
    if (c.sessions.get(from) !== s || s.stale) return;
    if (!c.limiter.checkHandshake(`notice:${from}`).allowed) return c.reject('notice rate limit');
    s.stale = true;
    if (!op && !this.#acceptingByPeer.has(from)) this.startOpening(from, 0);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
