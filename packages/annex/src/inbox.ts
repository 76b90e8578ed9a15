// The receive path (docs/protocol/annex.md sections 2, 5 and 6.1): dispatch by envelope type,
// session lookup, replay window, the per-key bound, authentication, then the plaintext kinds of
// section 5.2. Nothing a peer sends can throw out of here (SPEC section 2, "Errors").
import { isNodeId, NodeIdentity, sha256, toHex } from '@yak/crypto';
import { WIRE } from './constants.js';
import type { AnnexCore } from './core.js';
import { type DecodedEnvelope, type DecodedSealed, decodeEnvelope } from './envelope.js';
import { nonceFor } from './handshake.js';
import { decodeBatch, decodeBody, decodePayload, InnerKind } from './payload.js';
import { type AnnexProof, PROOF_CONTEXT, proofMessage } from './proof.js';
import type { Session } from './session.js';
import type { AnnexMessage } from './types.js';

/** Largest envelope accepted from the mesh: the biggest chunk plus headers and a finishing ct. */
const MAX_ENVELOPE_BYTES = WIRE.maxChunkBytes + 64 * 1024;

export class Inbox {
  constructor(readonly core: AnnexCore) {}

  /** A direct message from the mesh; anything not starting with the annex magic is ignored (section 2). */
  receive(msg: { payload?: unknown } | undefined, from: string): void {
    const c = this.core;
    const bytes = msg?.payload;
    if (!(bytes instanceof Uint8Array) || bytes.length < 5 || bytes[0] !== 0x59 || bytes[1] !== 0x41 || bytes[2] !== 0x58) return;
    if (c.stopped || typeof from !== 'string' || from === c.localId || !isNodeId(from)) return;
    try {
      if (bytes.length > MAX_ENVELOPE_BYTES) return c.reject('envelope too large');
      let env: DecodedEnvelope;
      try {
        env = decodeEnvelope(bytes);
      } catch {
        return c.reject('malformed envelope');
      }
      switch (env.type) {
        case 'annex:key_exchange':
          return c.handshakes.onKeyExchange(env, bytes, from);
        case 'annex:key_response':
          return c.handshakes.onKeyResponse(env, bytes, from);
        default:
          if ('notice' in env) return c.handshakes.onNotice(toHex(env.sessionId), from);
          if (env.finish) return c.handshakes.onFinish(env, bytes, from);
          return this.#onSealed(env, from);
      }
    } catch (e) {
      // Nothing a peer sends may crash the node (SPEC section 2, "Errors").
      c.log.warn({ peer: from, err: e instanceof Error ? e.name : 'error' }, 'annex envelope handling failed');
      c.reject('internal');
    }
  }

  /** Section 5.1: session, sender, epoch key, replay window, then authentication. */
  #onSealed(env: DecodedSealed, from: string): void {
    const c = this.core;
    const idHex = toHex(env.sessionId);
    const now = c.clock.now();
    const s = c.byId.get(idHex);
    if (!s || s.closed || (s.retiredUntil !== undefined && s.retiredUntil <= now)) {
      // Tell the sender we have no such session (we may have restarted), unless it is a close.
      if (!s && env.type !== 'annex:close') c.handshakes.notice(from, env.sessionId);
      return c.reject('unknown session');
    }
    if (s.peer !== from) return c.reject('envelope from a node that is not the session peer');
    const ep = s.epochs.get(env.epoch);
    if (!ep || (ep.retireAt !== undefined && ep.retireAt <= now)) return c.reject('no key for epoch');
    const verdict = c.replay.check(idHex, env.seq);
    if (!verdict.valid) {
      if (verdict.code === 'replay' || verdict.code === 'too_old') {
        c.counters.replaysBlocked++;
        return;
      }
      return c.reject('replay window');
    }
    // Section 6.1: a key seals a bounded number of envelopes, and honest sequence numbers under
    // one key are consecutive, so a span beyond the bound means the peer kept using the key.
    const lo = Math.min(ep.recvLo ?? env.seq, env.seq);
    const hi = Math.max(ep.recvHi ?? env.seq, env.seq);
    if (hi - lo >= c.rekeys.recvLimit) return c.reject('key used past its hard bound');
    let pt: Uint8Array;
    try {
      pt = ep.recv.open(nonceFor(env.epoch, env.seq), env.sealed, env.header);
    } catch {
      return c.reject('envelope does not authenticate');
    }
    // The window moves only after authentication (SPEC section 2, "Replay").
    c.replay.commit(idHex, env.seq);
    ep.recvLo = lo;
    ep.recvHi = hi;
    s.lastActivity = now;
    if (s.role === 'initiator' && !s.established) {
      // Any envelope sealed by the responder under the new keys is its key confirmation.
      if (env.epoch !== 0) return c.reject('envelope before confirmation');
      c.channels.establish(s);
    }
    switch (env.type) {
      case 'annex:encrypted':
        return this.#onInner(s, pt);
      case 'annex:rekey':
        return c.rekeys.onRekey(s, pt);
      case 'annex:close':
        if (pt.length !== 1) return c.reject('malformed close');
        c.log.debug({ peer: s.peer, reason: pt[0] }, 'annex closed by peer');
        c.channels.drop(s);
        return;
    }
  }

  #onInner(s: Session, pt: Uint8Array): void {
    const c = this.core;
    switch (pt[0]) {
      case InnerKind.CONFIRM:
        if (pt.length !== 1) c.reject('malformed confirm');
        return;
      case InnerKind.DATA:
        return this.deliver(s, pt.subarray(1));
      case InnerKind.CHUNK:
        return c.reassembly.onChunk(s, pt);
      case InnerKind.BATCH:
        return this.#onBatch(s, pt);
      default:
        return c.reject('unknown inner kind');
    }
  }

  /** Decode, check (size, clock skew, signature) and hand one message body to the handlers. */
  deliver(s: Session, bodyBytes: Uint8Array): void {
    const c = this.core;
    let body: ReturnType<typeof decodeBody>;
    try {
      body = decodeBody(bodyBytes);
    } catch {
      return c.reject('malformed message body');
    }
    if (body.payload.length > c.o.maxPayloadBytes) return c.reject('payload too large');
    const skew = c.o.maxClockSkewMs;
    if (skew > 0 && Math.abs(c.clock.now() - body.timestamp) > skew) return c.reject('timestamp outside the window');
    let proof: AnnexProof | undefined;
    if (s.signed && !body.signature) return c.reject('unsigned message in a signed session');
    if (body.signature) {
      const p = {
        signer: s.peer,
        recipient: c.localId,
        sessionId: s.idHex,
        timestamp: body.timestamp,
        payloadType: body.type,
        payloadHash: sha256(body.payload),
      };
      const sig = body.signature.slice();
      if (!NodeIdentity.verify(s.peerRecord.signPublicKey, proofMessage(p), sig, PROOF_CONTEXT)) {
        return c.reject('message signature does not verify');
      }
      proof = { ...p, signPublicKey: s.peerRecord.signPublicKey.slice(), signature: sig };
    }
    const payload = decodePayload(body.type, body.payload, c.json);
    if (payload === undefined) return c.reject('malformed payload');
    c.counters.messagesDecrypted++;
    s.messageCount++;
    const message: AnnexMessage = { from: s.peer, sessionId: s.idHex, payload, timestamp: body.timestamp };
    if (proof) message.proof = proof;
    c.handlers.dispatch(message);
  }

  /** Several small message bodies in one envelope; parsed whole before any is delivered. */
  #onBatch(s: Session, pt: Uint8Array): void {
    let bodies: Uint8Array[];
    try {
      bodies = decodeBatch(pt);
    } catch {
      return this.core.reject('malformed batch');
    }
    for (const body of bodies) {
      if (s.closed) return;
      this.deliver(s, body);
    }
  }
}
