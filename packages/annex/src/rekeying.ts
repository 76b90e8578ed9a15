// Key epochs and their rotation (docs/protocol/annex.md section 6): when to offer a new epoch,
// the offer/accept exchange, simultaneous offers, and callers of `rekey()` waiting for the switch.
// The keys of each epoch and the switch itself are held by Session (session.ts).
import { hybridKem, hybridKemEphemeral } from '@yak/crypto';
import { REKEY_CONTROL_ENVELOPES } from './constants.js';
import type { AnnexCore } from './core.js';
import { TypeByte, X_CT, X_PK } from './envelope.js';
import { ChannelClosedError } from './errors.js';
import { deriveRekeyKeys } from './handshake.js';
import { RekeyPhase } from './payload.js';
import type { Session } from './session.js';

export class Rekeying {
  /** Callers of `rekey()` per session, woken on every epoch change and on teardown. */
  readonly #epochWaiters = new Map<Session, Set<() => void>>();

  /** Messages one send key may seal (section 6.1): the soft trigger plus rekeyHardMargin. */
  readonly hardLimit: number;
  /**
   * Envelopes a receiver accepts under one key, by sequence number span (section 6.1): the hard
   * bound plus the control envelopes that carry no message.
   */
  readonly recvLimit: number;

  constructor(readonly core: AnnexCore) {
    this.hardLimit = core.o.rekeyAfterMessages + core.o.rekeyHardMargin;
    this.recvLimit = this.hardLimit + REKEY_CONTROL_ENVELOPES;
  }

  /** `rekey()`: start a rekey unless one is in flight, and wait until this side switched epochs. */
  async rekeyNow(peer: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<{ epoch: number }> {
    const c = this.core;
    const s = c.sessions.get(peer);
    if (!c.usable(s)) throw new ChannelClosedError('no established channel with that node');
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
    if (!s.rekey) this.#start(s);
    await c.race(done, signal, timeoutMs, 'rekey');
    if (s.closed) throw new ChannelClosedError('channel closed during rekey');
    return { epoch: s.sendEpoch };
  }

  /** Offer a new epoch when the current key reached its message count or age (section 6). */
  maybeStart(s: Session): void {
    const c = this.core;
    if (s.rekey || !c.usable(s)) return;
    if (s.sentInEpoch >= c.o.rekeyAfterMessages || c.clock.now() - s.epochStartedAt >= c.o.rekeyIntervalMs) {
      this.#start(s);
    }
  }

  /**
   * Whether `s` must be torn down: its rekey went unanswered for rekeyTimeoutMs, or its current
   * keys are older than rekeyIntervalMs + rekeyTimeoutMs, the time bound of section 6.1.
   */
  timedOut(s: Session, now: number): boolean {
    const o = this.core.o;
    if (s.rekey !== undefined && now - s.rekey.startedAt >= o.rekeyTimeoutMs) return true;
    return now - s.epochStartedAt >= o.rekeyIntervalMs + o.rekeyTimeoutMs;
  }

  #start(s: Session): void {
    const c = this.core;
    if (s.sendEpoch >= 0xffff_ffff) return;
    const eph = hybridKemEphemeral();
    const epoch = s.sendEpoch + 1;
    s.rekey = { epoch, eph, startedAt: c.clock.now() };
    const inner = new Uint8Array(5 + X_PK);
    inner[0] = RekeyPhase.OFFER;
    new DataView(inner.buffer).setUint32(1, epoch);
    inner.set(eph.publicKey, 5);
    c.outbox.sealAndQueue(s, TypeByte.REKEY, inner, c.clock.now() + c.o.rekeyTimeoutMs).catch(() => {});
  }

  /** An authenticated `annex:rekey` plaintext: an offer to answer or the accept of our offer. */
  onRekey(s: Session, pt: Uint8Array): void {
    const c = this.core;
    if (!c.usable(s) || pt.length < 5) return c.reject('unexpected rekey');
    const phase = pt[0];
    const epoch = new DataView(pt.buffer, pt.byteOffset, pt.length).getUint32(1);
    const now = c.clock.now();
    if (phase === RekeyPhase.OFFER) {
      if (pt.length !== 5 + X_PK || epoch !== s.sendEpoch + 1) return c.reject('bad rekey offer');
      if (s.rekey) {
        // Both sides offered at once: the offer of the smaller node id wins (section 6).
        if (c.localId < s.peer) return;
        s.rekey.eph.destroy();
        s.rekey = undefined;
      }
      const pk = pt.slice(5);
      let enc: { cipherText: Uint8Array; sharedSecret: Uint8Array };
      try {
        enc = hybridKem.encapsulate(pk);
      } catch {
        return c.reject('bad rekey key');
      }
      const keys = deriveRekeyKeys(s.chain, enc.sharedSecret, s.id, epoch, pk, enc.cipherText);
      const inner = new Uint8Array(5 + X_CT);
      inner[0] = RekeyPhase.ACCEPT;
      new DataView(inner.buffer).setUint32(1, epoch);
      inner.set(enc.cipherText, 5);
      // The accept goes out under the old key, then this side sends under the new one; the
      // offerer switches when the accept arrives, so in-order delivery loses nothing.
      c.outbox.sealAndQueue(s, TypeByte.REKEY, inner, now + c.o.rekeyTimeoutMs).catch(() => {});
      s.advance(epoch, keys, now, c.o.rekeyGraceMs);
    } else if (phase === RekeyPhase.ACCEPT) {
      if (pt.length !== 5 + X_CT || !s.rekey || s.rekey.epoch !== epoch) return c.reject('unexpected rekey accept');
      const ct = pt.subarray(5);
      const r = s.rekey;
      let ss: Uint8Array;
      try {
        ss = r.eph.decapsulate(ct);
      } catch {
        return c.reject('bad rekey ciphertext');
      }
      const keys = deriveRekeyKeys(s.chain, ss, s.id, epoch, r.eph.publicKey, ct);
      r.eph.destroy();
      s.rekey = undefined;
      s.advance(epoch, keys, now, c.o.rekeyGraceMs);
    } else return c.reject('unknown rekey phase');
    c.counters.rekeys++;
    c.log.debug({ peer: s.peer, epoch }, 'annex rekeyed');
    this.#notify(s);
    // Sends held at the old key's hard bound go out under the new one, in call order (section 6.1).
    c.outbox.release(s);
  }

  /** `s` was replaced by a newer session (section 4.6): drop its offer and wake `rekey()` callers. */
  abandon(s: Session): void {
    if (s.rekey) {
      s.rekey.eph.destroy();
      s.rekey = undefined;
    }
    this.#notify(s);
  }

  /** `s` was torn down: wake its `rekey()` callers (they see it closed) and forget them. */
  forget(s: Session): void {
    this.#notify(s);
    this.#epochWaiters.delete(s);
  }

  #notify(s: Session): void {
    const set = this.#epochWaiters.get(s);
    if (set) for (const w of [...set]) w();
  }
}
