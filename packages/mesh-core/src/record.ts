// The record layer (docs/protocol/link.md section 5): after the handshake every message on a
// link is RECORD = 0x10 || seq (u64) || AES-256-GCM(key_dir, nonce = 0^32 || seq, aad = 0x10 || seq).
// Sequence numbers are per direction, start at 0, and are checked against an RFC 6479 sliding
// window that is updated only after the record authenticates (SPEC section 2, "Replay").
import { type Aead, aes256gcm, wipe } from '@yak/crypto';
import { SequenceTracker } from '@yak/defense';
import { LINK } from './constants.js';
import { MsgType } from './handshake.js';
import { readU64, writeU64 } from './wire.js';

/** Record header: type byte + 64-bit sequence number. */
export const RECORD_HEADER = 9;
const TAG = 16;
const SENDER = 'peer';

/** Why an inbound record was refused. */
export type OpenFailure = 'malformed' | 'auth' | 'replay' | 'old' | 'exhausted';

/** Both directions of an established link's record protection. */
export class RecordLayer {
  #send: Aead;
  #recv: Aead;
  #sendKey: Uint8Array;
  #recvKey: Uint8Array;
  #sendSeq = 0;
  readonly #window: SequenceTracker;
  readonly #nonce = new Uint8Array(12);
  readonly #header = new Uint8Array(RECORD_HEADER);
  readonly #rnonce = new Uint8Array(12);

  constructor(sendKey: Uint8Array, recvKey: Uint8Array, windowSize?: number) {
    this.#sendKey = sendKey;
    this.#recvKey = recvKey;
    this.#send = aes256gcm(sendKey);
    this.#recv = aes256gcm(recvKey);
    // One tracker per link and direction: the "sender" is the peer's send direction.
    this.#window = new SequenceTracker({ windowSize: windowSize ?? LINK.replayWindow, maxSenders: 1 });
  }

  /** Records sent under the current key. */
  get sent(): number {
    return this.#sendSeq;
  }

  /** True when the send key reached its record limit (link.md section 6). */
  get exhausted(): boolean {
    return this.#sendSeq >= LINK.maxRecordsPerKey;
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
    const out = this.#send.sealParts(this.#nonce, parts, header, RECORD_HEADER);
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
      pt = this.#recv.open(this.#rnonce, record.subarray(RECORD_HEADER), record.subarray(0, RECORD_HEADER));
    } catch {
      return 'auth';
    }
    this.#window.commit(SENDER, seq);
    return pt;
  }

  /** Zero the keys (SPEC section 2: session keys are zeroed on close). */
  destroy(): void {
    wipe(this.#sendKey, this.#recvKey);
    const dead = aes256gcm(new Uint8Array(32));
    this.#send = dead;
    this.#recv = dead;
  }
}
