// Counters and the public views of sessions (seed 000 `getStats`, `listAnnexes`, the result of
// `openChannel`).
import type { Session } from './session.js';
import type { AnnexInfo, AnnexSession, AnnexStats } from './types.js';

/** Monotonic counters; the gauges of AnnexStats are computed from the session tables. */
export interface Counters {
  sessionsCreated: number;
  messagesEncrypted: number;
  messagesDecrypted: number;
  handshakesFailed: number;
  replaysBlocked: number;
  envelopesRejected: number;
  rekeys: number;
}

export function newCounters(): Counters {
  return {
    sessionsCreated: 0,
    messagesEncrypted: 0,
    messagesDecrypted: 0,
    handshakesFailed: 0,
    replaysBlocked: 0,
    envelopesRejected: 0,
    rekeys: 0,
  };
}

/** The listing entry of a session; idle past `idleTimeoutMs` counts as expired. */
export function sessionListing(s: Session, now: number, idleTimeoutMs: number): AnnexInfo {
  return {
    nodeId: s.peer,
    sessionId: s.idHex,
    established: s.established && !s.closed,
    createdAt: s.createdAt,
    lastActivity: s.lastActivity,
    messageCount: s.messageCount,
    isExpired: s.closed || now - s.lastActivity >= idleTimeoutMs,
  };
}

export function sessionView(s: Session, now: number, idleTimeoutMs: number): AnnexSession {
  return { ...sessionListing(s, now, idleTimeoutMs), role: s.role, epoch: s.sendEpoch, signed: s.signed };
}

/** The public counters, in the order of seed 000 `getStats`. */
export function statsSnapshot(c: Counters, activeSessions: number, pendingHandshakes: number): AnnexStats {
  return {
    sessionsCreated: c.sessionsCreated,
    messagesEncrypted: c.messagesEncrypted,
    messagesDecrypted: c.messagesDecrypted,
    handshakesFailed: c.handshakesFailed,
    replaysBlocked: c.replaysBlocked,
    activeSessions,
    pendingHandshakes,
    envelopesRejected: c.envelopesRejected,
    rekeys: c.rekeys,
  };
}
