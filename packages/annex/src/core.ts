// The shared state of one Annex (docs/protocol/annex.md): options, clock, logger, the session
// tables and the components acting on them. Each concern lives in its own module and reaches the
// others through this object, which the Annex facade builds and owns. Internal: not exported
// from index.ts.
import { encodeIdentityRecord, type NodeIdentity } from '@yak/crypto';
import { ConnectionRateLimiter, SafeJsonParser, SequenceTracker } from '@yak/defense';
import type { Clock, Logger } from '@yak/mesh-core';
import { race } from './calls.js';
import { Channels } from './channels.js';
import { ANNEX_DEFAULTS, WIRE } from './constants.js';
import type { AnnexError } from './errors.js';
import { HandlerRegistry } from './handlers.js';
import { Handshakes } from './handshakes.js';
import { Inbox } from './inbox.js';
import type { Resolved } from './options.js';
import { Outbox } from './outbox.js';
import { Reassembly } from './reassembly.js';
import { Rekeying } from './rekeying.js';
import type { Session } from './session.js';
import { type Counters, newCounters } from './stats.js';
import type { AnnexMesh } from './types.js';

export class AnnexCore {
  readonly localId: string;
  readonly recordBytes: Uint8Array;
  readonly json: SafeJsonParser;
  /** Sliding replay window per session id (section 5.1). */
  readonly replay: SequenceTracker;
  readonly limiter: ConnectionRateLimiter;
  readonly counters: Counters = newCounters();
  /** Current session per peer (established, possibly stale). */
  readonly sessions = new Map<string, Session>();
  /** Every session by id: current, awaiting confirmation (initiator), retired in grace. */
  readonly byId = new Map<string, Session>();
  stopped = false;

  /** Session lifecycle: opening on demand, establishing, retiring, dropping (sections 4, 4.6, 7). */
  readonly channels: Channels;
  /** Both sides of the handshake and restart notices (sections 4, 7). */
  readonly handshakes: Handshakes;
  /** Sealing, batching and the congestion queue (sections 5.2, 5.3). */
  readonly outbox: Outbox;
  /** Receive path: decode, authenticate, replay check, deliver (sections 2, 5.1, 5.2). */
  readonly inbox: Inbox;
  /** Chunked messages being reassembled (section 5.2). */
  readonly reassembly: Reassembly;
  /** Key epochs and their rotation (section 6). */
  readonly rekeys: Rekeying;
  readonly handlers: HandlerRegistry;

  constructor(
    readonly identity: NodeIdentity,
    readonly mesh: AnnexMesh,
    readonly o: Resolved,
    readonly clock: Clock,
    readonly log: Logger,
  ) {
    this.localId = identity.nodeId;
    this.recordBytes = encodeIdentityRecord(identity.publicRecord());
    this.json = new SafeJsonParser({ maxSize: o.maxPayloadBytes, maxStringLength: o.maxPayloadBytes });
    this.replay = new SequenceTracker({
      windowSize: WIRE.replayWindow,
      maxSenders: 2 * o.maxSessions + o.maxPendingHandshakes + 16,
    });
    // Per-peer budgets: 'handshake' counts key_exchange messages and restart notices we act on,
    // 'connection' (per minute) counts "unknown session" notices we send (section 7).
    this.limiter = new ConnectionRateLimiter({
      maxHandshakesPerMinute: o.handshakesPerMinute,
      maxConnectionsPerMinute: ANNEX_DEFAULTS.noticesPerMinute,
      banThreshold: Number.MAX_SAFE_INTEGER,
      maxTrackedKeys: Math.max(1024, o.maxSessions * 2),
      now: () => this.clock.now(),
    });
    this.channels = new Channels(this);
    this.handshakes = new Handshakes(this);
    this.outbox = new Outbox(this);
    this.inbox = new Inbox(this);
    this.reassembly = new Reassembly(this);
    this.rekeys = new Rekeying(this);
    this.handlers = new HandlerRegistry(log);
  }

  /** Count and log a dropped envelope (`envelopesRejected`); never throws. */
  reject(reason: string): void {
    this.counters.envelopesRejected++;
    this.log.debug({ reason }, 'annex envelope rejected');
  }

  /** Established, open, not replaced and not known to be stale: may carry new messages. */
  usable(s: Session | undefined): s is Session {
    return s?.established === true && !s.closed && !s.stale && s.retiredUntil === undefined;
  }

  race<T>(
    p: Promise<T>,
    signal: AbortSignal | undefined,
    timeoutMs: number,
    what: string,
    cause?: () => AnnexError | undefined,
  ): Promise<T> {
    return race(this.clock, p, signal, timeoutMs, what, cause);
  }
}
