// Per-session state (docs/protocol/annex.md sections 5-6): the directional keys of each epoch,
// sequence numbers, the pending rekey and partial chunked messages. Owned by Annex.
import { type Aead, aes256gcm, type HybridKemDecapsulator, type IdentityRecord, toHex, wipe } from '@yak/crypto';
import { WIRE } from './constants.js';
import type { SessionKeys } from './handshake.js';
import type { BatchPlaintext } from './payload.js';

/** Keys of one epoch. `send` is dropped when the epoch stops being the sending one. */
export interface Epoch {
  epoch: number;
  send: Aead | undefined;
  recv: Aead;
  /** When a retired epoch's receive key is wiped (undefined while current). */
  retireAt: number | undefined;
  /**
   * Lowest and highest sequence number authenticated under the receive key: the span a receiver
   * holds against the hard bound (annex.md section 6.1). Undefined until the first envelope.
   */
  recvLo: number | undefined;
  recvHi: number | undefined;
}

/**
 * A send waiting for a new send key (annex.md section 6.1). `pump` seals what the current key
 * still allows and reports whether the whole message is sealed; `fail` rejects the send.
 */
export interface HeldSend {
  pump(): boolean;
  fail(err: Error): void;
  bytes: number;
}

export interface Partial {
  count: number;
  total: number;
  received: number;
  bytes: number;
  parts: (Uint8Array | undefined)[];
  startedAt: number;
}

export type Role = 'initiator' | 'responder';

export class Session {
  readonly idHex: string;
  established = false;
  closed = false;
  /** A peer reported it has no such session (it restarted): a fresh handshake is under way. */
  stale = false;
  /** Replaced by a newer session with the same peer; receive-only until `retiredUntil`. */
  retiredUntil: number | undefined;
  createdAt: number;
  lastActivity: number;
  messageCount = 0;
  nextSeq = 0;
  sendEpoch = 0;
  /** Messages sealed under the current send key (a batch counts each message, a chunk counts one). */
  sentInEpoch = 0;
  epochStartedAt: number;
  readonly epochs = new Map<number, Epoch>();
  chain: Uint8Array;
  rekey: { epoch: number; eph: HybridKemDecapsulator; startedAt: number } | undefined;
  nextMessageId = 0;
  readonly partial = new Map<number, Partial>();
  partialBytes = 0;
  /** Initiator: the finishing envelope, resent until the responder confirms. */
  finishBytes: Uint8Array | undefined;
  /** Responder: hash of the finishing envelope and the confirming reply, to answer retransmissions. */
  finishHash: string | undefined;
  confirmBytes: Uint8Array | undefined;
  /** Small messages waiting to be sealed together at the end of the tick (annex.md section 5.2). */
  batch: { plaintext: BatchPlaintext; waiters: ((r: number | Error) => void)[]; deadline: number } | undefined;
  /** Envelopes waiting for a congested mesh link, in sequence order. */
  readonly queue: { bytes: Uint8Array; done?: (err?: Error) => void; deadline: number }[] = [];
  queuedBytes = 0;
  flushTimer: unknown;
  flushDelay = 0;
  /** Sends waiting for a new key, in call order (annex.md section 6.1); bounded by maxHeldSends. */
  readonly held: HeldSend[] = [];
  heldBytes = 0;

  constructor(
    readonly id: Uint8Array,
    readonly peer: string,
    readonly peerRecord: IdentityRecord,
    readonly role: Role,
    readonly signed: boolean,
    keys: SessionKeys,
    now: number,
  ) {
    this.idHex = toHex(id);
    this.createdAt = now;
    this.lastActivity = now;
    this.epochStartedAt = now;
    this.chain = keys.chain;
    this.#install(0, keys);
  }

  #install(epoch: number, keys: SessionKeys): void {
    const sendKey = this.role === 'initiator' ? keys.i2r : keys.r2i;
    const recvKey = this.role === 'initiator' ? keys.r2i : keys.i2r;
    const e: Epoch = {
      epoch,
      send: aes256gcm(sendKey),
      recv: aes256gcm(recvKey),
      retireAt: undefined,
      recvLo: undefined,
      recvHi: undefined,
    };
    // The Aead objects keep their own copies (wiped by destroy()); ours are not needed.
    wipe(sendKey, recvKey);
    this.epochs.set(epoch, e);
  }

  get current(): Epoch {
    return this.epochs.get(this.sendEpoch) as Epoch;
  }

  /**
   * Switch to the keys of `epoch` (a completed rekey): the old send key is wiped now, the old
   * receive key after the grace period, the old chain key now (annex.md section 6).
   */
  advance(epoch: number, keys: SessionKeys, now: number, graceMs: number): void {
    const old = this.current;
    old.send?.destroy();
    old.send = undefined;
    old.retireAt = now + graceMs;
    wipe(this.chain);
    this.chain = keys.chain;
    this.#install(epoch, keys);
    this.sendEpoch = epoch;
    this.sentInEpoch = 0;
    this.epochStartedAt = now;
    // Bound retired epochs even under back-to-back rekeys.
    const retired = [...this.epochs.values()].filter((e) => e.retireAt !== undefined).sort((a, b) => a.epoch - b.epoch);
    while (retired.length > WIRE.maxRetiredEpochs) this.#drop(retired.shift() as Epoch);
  }

  /** Wipe receive keys whose grace period ended. */
  expireEpochs(now: number): void {
    for (const e of [...this.epochs.values()]) if (e.retireAt !== undefined && e.retireAt <= now) this.#drop(e);
  }

  #drop(e: Epoch): void {
    // destroy() wipes the Aead's key copy and drops the backend's prepared key.
    e.send?.destroy();
    e.recv.destroy();
    this.epochs.delete(e.epoch);
  }

  /** Wipe every key of the session (SPEC section 2: session keys are zeroed on close). */
  destroy(): void {
    this.closed = true;
    for (const e of [...this.epochs.values()]) this.#drop(e);
    wipe(this.chain);
    this.rekey?.eph.destroy();
    this.rekey = undefined;
    this.partial.clear();
    this.partialBytes = 0;
    this.finishBytes = undefined;
    this.confirmBytes = undefined;
  }
}
