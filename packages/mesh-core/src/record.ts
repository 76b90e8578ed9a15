// The record layer (docs/protocol/link.md sections 5-6): after the handshake every message on a
// link is RECORD = 0x10 || seq (u64) || AES-256-GCM(key_dir, nonce = 0^32 || seq, aad = 0x10 || seq).
// Sequence numbers are per direction and key epoch, start at 0, and are checked against an
// RFC 6479 sliding window that is updated only after the record authenticates (SPEC section 2,
// "Replay"). Each direction has a traffic secret that ratchets forward on KEY_UPDATE (link.md
// section 6.1, after TLS 1.3 RFC 8446 section 7.2): the record key of an epoch is derived from
// its secret, and both are wiped as soon as the next epoch replaces them.
import { type Aead, aes256gcm, hmac, utf8, wipe } from '@yak/crypto';
import { SequenceTracker } from '@yak/defense';
import { LINK } from './constants.js';
import { MsgType } from './handshake.js';
import { readU64, writeU64 } from './wire.js';

/** Record header: type byte + 64-bit sequence number. */
export const RECORD_HEADER = 9;
const TAG = 16;
const SENDER = 'peer';

/** Labels of link.md section 6.1, each followed by HKDF-Expand's one-byte block counter. */
const KEY_BLOCK = expandBlock('yak/link/v1 record key');
const UPDATE_BLOCK = expandBlock('yak/link/v1 key update');

function expandBlock(label: string): Uint8Array {
  const l = utf8(label);
  const b = new Uint8Array(l.length + 1);
  b.set(l);
  b[l.length] = 1;
  return b;
}

/**
 * HKDF-Expand-SHA256(prk, info, 32) (RFC 5869 section 2.3). One output block is T(1) =
 * HMAC(prk, info || 0x01), so `block` is the label with the counter byte already appended.
 */
function expand32(prk: Uint8Array, block: Uint8Array): Uint8Array {
  return hmac('sha256', prk, block);
}

/** The AES-256-GCM key of the epoch whose traffic secret is `secret` (link.md section 6.1). */
export function recordKey(secret: Uint8Array): Uint8Array {
  return expand32(secret, KEY_BLOCK);
}

/** The traffic secret of the next epoch (link.md section 6.1). */
export function nextTrafficSecret(secret: Uint8Array): Uint8Array {
  return expand32(secret, UPDATE_BLOCK);
}

/** Why an inbound record was refused. */
export type OpenFailure = 'malformed' | 'auth' | 'replay' | 'old' | 'exhausted';

/** Limits of a {@link RecordLayer}; each defaults to its `LINK` constant. Tests shrink them. */
export interface RecordLayerOptions {
  /** Replay window in records (`LINK.replayWindow`). */
  windowSize?: number;
  /** Records sealed under one send key before it is updated (`LINK.keyUpdateAfterRecords`). */
  keyUpdateAfterRecords?: number;
  /** Age of a send key, in ms of `now`, after which it is updated (`LINK.keyUpdateAfterMs`). */
  keyUpdateAfterMs?: number;
  /** Highest key epoch per direction (`LINK.maxKeyEpoch`). */
  maxKeyEpoch?: number;
  /** Clock for the key age (the link's injected clock). */
  now?: () => number;
}

/** One direction's current epoch: its traffic secret and the AEAD prepared with its record key. */
interface Epoch {
  epoch: number;
  secret: Uint8Array;
  aead: Aead;
}

/** Takes ownership of `secret`: it is wiped when the epoch is retired. */
function openEpoch(secret: Uint8Array, epoch: number): Epoch {
  const key = recordKey(secret);
  try {
    return { epoch, secret, aead: aes256gcm(key) };
  } finally {
    // The prepared AEAD keeps its own copy, wiped by its destroy().
    wipe(key);
  }
}

function retire(e: Epoch): void {
  e.aead.destroy();
  wipe(e.secret);
}

function limit(v: number | undefined, dflt: number, name: string, max: number): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x < 1 || x > max) throw new RangeError(`${name} must be an integer in [1, ${max}]`);
  return x;
}

/** Both directions of an established link's record protection. */
export class RecordLayer {
  #send: Epoch;
  #recv: Epoch;
  #sendSeq = 0;
  #sendSince: number;
  #window: SequenceTracker;
  readonly #windowSize: number;
  readonly #afterRecords: number;
  readonly #afterMs: number;
  readonly #maxEpoch: number;
  readonly #now: () => number;
  readonly #nonce = new Uint8Array(12);
  readonly #header = new Uint8Array(RECORD_HEADER);
  readonly #rnonce = new Uint8Array(12);

  /**
   * `sendSecret` and `recvSecret` are the epoch-0 traffic secrets from the handshake (link.md
   * section 4). The layer takes ownership of both buffers and zeroes them when they are replaced
   * by a key update or on {@link RecordLayer.destroy}.
   */
  constructor(sendSecret: Uint8Array, recvSecret: Uint8Array, opts: RecordLayerOptions = {}) {
    if (!(sendSecret instanceof Uint8Array) || !(recvSecret instanceof Uint8Array))
      throw new TypeError('traffic secrets must be Uint8Array');
    if (sendSecret.length !== 32) throw new RangeError('sendSecret must be 32 bytes');
    if (recvSecret.length !== 32) throw new RangeError('recvSecret must be 32 bytes');
    this.#windowSize = opts.windowSize ?? LINK.replayWindow;
    this.#afterRecords = limit(opts.keyUpdateAfterRecords, LINK.keyUpdateAfterRecords, 'keyUpdateAfterRecords', LINK.maxRecordsPerKey);
    this.#afterMs = limit(opts.keyUpdateAfterMs, LINK.keyUpdateAfterMs, 'keyUpdateAfterMs', Number.MAX_SAFE_INTEGER);
    this.#maxEpoch = limit(opts.maxKeyEpoch, LINK.maxKeyEpoch, 'maxKeyEpoch', LINK.maxKeyEpoch);
    this.#now = opts.now ?? Date.now;
    this.#window = this.#newWindow();
    this.#send = openEpoch(sendSecret, 0);
    this.#recv = openEpoch(recvSecret, 0);
    this.#sendSince = this.#now();
  }

  // One tracker per link, direction and epoch: the "sender" is the peer's send direction.
  #newWindow(): SequenceTracker {
    return new SequenceTracker({ windowSize: this.#windowSize, maxSenders: 1 });
  }

  /** Records sent under the current send key. */
  get sent(): number {
    return this.#sendSeq;
  }

  /** Epoch of the current send key (0 after the handshake). */
  get sendEpoch(): number {
    return this.#send.epoch;
  }

  /** Epoch of the current receive key. */
  get recvEpoch(): number {
    return this.#recv.epoch;
  }

  /** True when the send key reached the hard record limit (link.md section 6). */
  get exhausted(): boolean {
    return this.#sendSeq >= LINK.maxRecordsPerKey;
  }

  /**
   * True when the next record should carry KEY_UPDATE (link.md section 6.1): it would be the
   * `keyUpdateAfterRecords`-th record under the current key, or the key is `keyUpdateAfterMs` old.
   */
  get keyUpdateDue(): boolean {
    return this.#sendSeq + 1 >= this.#afterRecords || this.#now() - this.#sendSince >= this.#afterMs;
  }

  /** False once the send epoch is at `maxKeyEpoch`: epochs never wrap (link.md section 6.1). */
  get canUpdateSend(): boolean {
    return this.#send.epoch < this.#maxEpoch;
  }

  /**
   * Switch the send direction to the next epoch, after the record carrying KEY_UPDATE was sealed:
   * the old secret and key are wiped and the sequence number restarts at 0. Returns the new epoch.
   */
  updateSend(): number {
    if (!this.canUpdateSend) throw new RangeError('send key epoch limit reached');
    this.#send = this.#advance(this.#send);
    this.#sendSeq = 0;
    this.#sendSince = this.#now();
    return this.#send.epoch;
  }

  /**
   * Switch the receive direction to `epoch`, after a record carrying KEY_UPDATE(epoch)
   * authenticated. Only the next epoch is accepted; anything else returns false and changes
   * nothing. The replay window starts afresh: sequence numbers restart under the new key.
   */
  updateRecv(epoch: number): boolean {
    if (epoch !== this.#recv.epoch + 1 || epoch > this.#maxEpoch) return false;
    this.#recv = this.#advance(this.#recv);
    this.#window = this.#newWindow();
    return true;
  }

  #advance(e: Epoch): Epoch {
    const next = nextTrafficSecret(e.secret);
    retire(e);
    return openEpoch(next, e.epoch + 1);
  }

  /** Seal one record around `plaintext`. */
  seal(plaintext: Uint8Array): Uint8Array {
    return this.sealParts([plaintext]);
  }

  /**
   * Seal one record around the concatenation of `parts`. The AEAD encrypts the parts in place of
   * a concatenation and leaves room for the record header, so the record comes from a single
   * allocation with no plaintext or ciphertext copy on our side.
   */
  sealParts(parts: readonly Uint8Array[]): Uint8Array {
    const seq = this.#sendSeq++;
    const header = this.#header;
    header[0] = MsgType.RECORD;
    writeU64(header, 1, seq);
    writeU64(this.#nonce, 4, seq);
    const out = this.#send.aead.sealParts(this.#nonce, parts, header, RECORD_HEADER);
    out.set(header, 0);
    return out;
  }

  /** Authenticate and decrypt one record; the replay window moves only on success. */
  open(record: Uint8Array): Uint8Array | OpenFailure {
    if (record.length < RECORD_HEADER + TAG || record[0] !== MsgType.RECORD) return 'malformed';
    const seq = readU64(record, 1);
    if (seq < 0 || seq >= LINK.maxRecordsPerKey) return 'exhausted';
    const state = this.#window.check(SENDER, seq);
    if (!state.valid) return state.code === 'replay' ? 'replay' : 'old';
    writeU64(this.#rnonce, 4, seq);
    let pt: Uint8Array;
    try {
      pt = this.#recv.aead.open(this.#rnonce, record.subarray(RECORD_HEADER), record.subarray(0, RECORD_HEADER));
    } catch {
      return 'auth';
    }
    this.#window.commit(SENDER, seq);
    return pt;
  }

  /** Zero the secrets and keys (SPEC section 2: session keys are zeroed on close). */
  destroy(): void {
    retire(this.#send);
    retire(this.#recv);
  }
}
