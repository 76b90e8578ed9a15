// Session lifecycle per peer (docs/protocol/annex.md sections 4, 4.6 and 7): callers waiting for
// a channel, a completed handshake becoming the peer's channel, replacement with a grace period,
// and teardown that wipes keys and settles everything still waiting on the session.

import type { AnnexCore } from './core.js';
import { TypeByte } from './envelope.js';
import { ChannelClosedError, SessionLimitError } from './errors.js';
import { CloseReason } from './payload.js';
import type { Session } from './session.js';

interface Waiter {
  resolve(s: Session): void;
  reject(e: Error): void;
}

export class Channels {
  /** Callers of openChannel/send waiting for a handshake with the peer. */
  readonly #waiters = new Map<string, Set<Waiter>>();

  constructor(readonly core: AnnexCore) {}

  /** Established plus pending sessions, against `maxSessions`. */
  count(): number {
    const c = this.core;
    return c.sessions.size + c.handshakes.openingCount + c.handshakes.acceptingCount;
  }

  hasWaiters(peer: string): boolean {
    return this.#waiters.has(peer);
  }

  /** The usable session with `peer`, opening one (or joining the handshake under way) if needed. */
  async ensure(peer: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<Session> {
    const c = this.core;
    const s = c.sessions.get(peer);
    if (c.usable(s)) return s;
    if (!c.handshakes.isOpening(peer) && !c.sessions.has(peer) && this.count() >= c.o.maxSessions) {
      throw new SessionLimitError(c.o.maxSessions);
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
    // While the peer's own handshake with us is pending, wait for it instead of racing it (section 4.4).
    if (!c.handshakes.isOpening(peer) && !c.handshakes.isAccepting(peer)) c.handshakes.startOpening(peer, 0);
    try {
      // At the deadline, report why the handshake is stuck (no route, a peer that failed to verify).
      return await c.race(p, signal, timeoutMs, 'open', () => c.handshakes.lastError(peer));
    } finally {
      const ws = this.#waiters.get(peer);
      ws?.delete(waiter as Waiter);
      if (ws && ws.size === 0) this.#waiters.delete(peer);
    }
  }

  resolveWaiters(peer: string, s: Session): void {
    const set = this.#waiters.get(peer);
    if (!set) return;
    this.#waiters.delete(peer);
    for (const w of set) w.resolve(s);
  }

  rejectWaiters(peer: string, err: Error): void {
    const set = this.#waiters.get(peer);
    if (!set) return;
    this.#waiters.delete(peer);
    for (const w of set) w.reject(err);
  }

  rejectAllWaiters(err: Error): void {
    for (const peer of [...this.#waiters.keys()]) this.rejectWaiters(peer, err);
  }

  /** A session completed its handshake on this side (section 4): it becomes the peer's channel. */
  establish(s: Session): void {
    const c = this.core;
    s.established = true;
    s.finishBytes = undefined;
    c.counters.sessionsCreated++;
    const old = c.sessions.get(s.peer);
    if (old && old !== s) this.retire(old);
    c.sessions.set(s.peer, s);
    c.handshakes.settle(s);
    c.log.debug({ peer: s.peer, sessionId: s.idHex, role: s.role }, 'annex established');
    this.resolveWaiters(s.peer, s);
  }

  /** A newer session replaced `s` (section 4.6): it keeps receiving for the grace period, then is wiped. */
  retire(s: Session): void {
    s.retiredUntil = this.core.clock.now() + this.core.o.rekeyGraceMs;
    this.core.rekeys.abandon(s);
    // Held sends were never sealed; the replaced session will not get a new key for them.
    this.core.outbox.failHeld(s, new ChannelClosedError('channel replaced'));
  }

  /**
   * Tear `s` down: wipe its keys and settle every send and rekey waiting on it. Held sends
   * (section 6.1) reject with `heldError`, ChannelClosedError unless the caller names the cause.
   */
  drop(s: Session, heldError?: Error): void {
    const c = this.core;
    if (c.sessions.get(s.peer) === s) c.sessions.delete(s.peer);
    c.byId.delete(s.idHex);
    c.replay.remove(s.idHex);
    c.reassembly.release(s);
    c.outbox.failHeld(s, heldError ?? new ChannelClosedError('channel closed'));
    const queued = c.outbox.detach(s);
    s.destroy();
    for (const q of queued) q.done?.(new ChannelClosedError('channel closed'));
    c.rekeys.forget(s);
  }

  /** Send an authenticated close with `reason` (best effort) and tear the session down. */
  closeWith(s: Session, reason: number, heldError?: Error): void {
    const c = this.core;
    c.sessions.delete(s.peer);
    try {
      c.outbox.sendRaw(s.peer, c.outbox.seal(s, TypeByte.CLOSE, [Uint8Array.of(reason)]));
    } catch {
      // The session could not seal (no send key): nothing to tell.
    }
    this.drop(s, heldError);
  }

  /** closeChannel: cancel handshakes, tell the peer, wipe every session with it (section 7). */
  async close(peer: string, signal: AbortSignal | undefined, timeoutMs: number): Promise<boolean> {
    const c = this.core;
    let found = c.handshakes.cancelPeer(peer);
    this.rejectWaiters(peer, new ChannelClosedError('channel closed locally'));
    let notified: Promise<void> | undefined;
    const s = c.sessions.get(peer);
    if (s) {
      found = true;
      c.sessions.delete(peer);
      if (s.established && !s.closed) {
        notified = c.outbox.sealAndQueue(s, TypeByte.CLOSE, Uint8Array.of(CloseReason.CLOSED), c.clock.now() + timeoutMs);
      }
    }
    for (const r of [...c.byId.values()]) if (r.peer === peer && r !== s) this.drop(r);
    if (notified && s) {
      try {
        await c.race(notified, signal, timeoutMs, 'close');
      } finally {
        this.drop(s);
      }
    } else if (s) this.drop(s);
    return found;
  }
}
