// Session state after a handshake: per-direction keys with epochs (rotation), deterministic
// nonces, the AAD layout, the replay window, and the SessionKeys handle the seed's API hands out.
//
// Nonces (issue: "12-byte nonces never reused under one key"; SPEC section 2 "Randomness and
// nonces"): nonce = epoch (u32 BE) || counter (u64 BE). Keys differ per direction and per epoch,
// and the counter only grows within a direction, so a (key, nonce) pair never repeats. Random
// nonces (the seed's example) would only make repeats unlikely; counters make them impossible.
//
// AAD (issue: "AAD = session_id + counter (+ direction)"), a fixed binary layout:
//   "yak/e2ee-mathison/v1 msg" || len(session_id) (u8) || session_id (ASCII) || counter (u64 BE)
//   || direction (u8: 0 initiator->responder, 1 responder->initiator) || epoch (u32 BE)
import { inspect } from 'node:util';
import { type Aead, aes256gcm, chacha20poly1305, utf8 } from '@yak/crypto';
import { MAX_COUNTER, MAX_EPOCH, PROTOCOL_LABEL, RETAINED_EPOCHS } from './constants.js';
import { b64u, b64uLength, unb64u } from './encoding.js';
import {
  AuthenticationError,
  MalformedMessageError,
  OutOfWindowError,
  SessionExhaustedError,
  SessionRevokedError,
  UnknownSessionError,
} from './errors.js';
import { type AeadName, type Direction, type DirectionKeys, type Role, rotateKeys, wipeKeys } from './handshake.js';
import type { Mode, PublicIdentity } from './identity.js';
import type { LogFn } from './logger.js';
import { ReplayWindow } from './replay.js';

/**
 * Seed 003 `EncryptedMessage`. Binary fields are unpadded base64url (RFC 4648 section 5).
 * `mac` is the 16-byte AEAD tag; `nonce` is epoch (4 bytes) || counter (8 bytes).
 */
export interface EncryptedMessage {
  session_id: string;
  nonce: string;
  ciphertext: string;
  mac: string;
  counter: number;
}

/**
 * Seed 003 `SessionKeys`, as seen from one side: `encryptKey` and `macKey` are this side's
 * current sending keys (the receiving keys stay inside the instance), `counter` the next
 * outgoing counter. The buffers are the live keys: they are zeroed in place on rotation,
 * revocation and close. Reading any field of a revoked session throws SessionRevokedError.
 */
export interface SessionKeys {
  readonly session_id: string;
  /** AEAD key for messages this side sends (current epoch). */
  readonly encryptKey: Buffer;
  /** HMAC-SHA256 key of this side's direction: key confirmation in the handshake (see README). */
  readonly macKey: Buffer;
  /** Next counter this side will send. */
  readonly counter: number;
}

/** Non-secret facts about a session, for logs, tests and dashboards. */
export interface SessionInfo {
  session_id: string;
  role: Role;
  mode: Mode;
  aead: AeadName;
  peer_key_id: string;
  peerPublicKey: string;
  sendEpoch: number;
  sendCounter: number;
  receiveEpoch: number;
  /** Highest authenticated incoming counter, -1 before the first message. */
  receiveHighest: number;
  /** Receive epochs whose keys are still held (the current one and in-flight grace). */
  receiveEpochsHeld: number[];
  revoked: boolean;
}

export interface SessionConfig {
  rotateEvery: number;
  replayWindow: number;
  maxEpochSkip: number;
  maxMessageBytes: number;
}

/** Counters shared with the owning MeshCrypto's getStats(). */
export interface SessionCounters {
  sendRotations: number;
  receiveRotations: number;
}

interface SendState {
  epoch: number;
  keys: DirectionKeys;
  counter: number;
  sentInEpoch: number;
  /** Set when the epoch counter is spent: no more sending on this session. */
  exhausted: boolean;
}

interface ReceiveEpoch {
  epoch: number;
  keys: DirectionKeys;
  /** Lowest counter authenticated under this epoch (Infinity before the first). */
  firstSeen: number;
}

const AAD_LABEL = utf8(`${PROTOCOL_LABEL} msg`);
const NONCE_CHARS = b64uLength(12);
const TAG_CHARS = b64uLength(16);

function aeadFor(name: AeadName, key: Uint8Array): Aead {
  return name === 'aes-256-gcm' ? aes256gcm(key) : chacha20poly1305(key);
}

/** Write `counter` as u64 BE at `at` (counters stay below 2^53). */
function putU64(out: Uint8Array, at: number, counter: number): void {
  const hi = Math.floor(counter / 0x1_0000_0000);
  const lo = counter >>> 0;
  out[at] = hi >>> 24;
  out[at + 1] = (hi >>> 16) & 255;
  out[at + 2] = (hi >>> 8) & 255;
  out[at + 3] = hi & 255;
  out[at + 4] = lo >>> 24;
  out[at + 5] = (lo >>> 16) & 255;
  out[at + 6] = (lo >>> 8) & 255;
  out[at + 7] = lo & 255;
}

function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 255;
  out[at + 2] = (v >>> 8) & 255;
  out[at + 3] = v & 255;
}

function nonceFor(epoch: number, counter: number): Uint8Array {
  const n = new Uint8Array(12);
  putU32(n, 0, epoch);
  putU64(n, 4, counter);
  return n;
}

const handles = new WeakMap<Session, SessionState>();

export class SessionState {
  readonly sessionId: string;
  readonly role: Role;
  readonly mode: Mode;
  readonly aead: AeadName;
  readonly peer: PublicIdentity;
  readonly handle: Session;
  revoked = false;
  private readonly transcriptHash: Uint8Array;
  private readonly sendDir: Direction;
  private readonly recvDir: Direction;
  private readonly send: SendState;
  private readonly recvEpochs: ReceiveEpoch[];
  private readonly window: ReplayWindow;
  private readonly aadHead: Uint8Array;
  // One prepared Aead per live key buffer (the send key and the receive epochs still open): key
  // setup is not repeated per message, and each Aead is destroyed (its key copy wiped) together
  // with the buffer it was made from.
  readonly #aeads = new Map<Uint8Array, Aead>();

  #aeadFor(key: Uint8Array): Aead {
    let a = this.#aeads.get(key);
    if (!a) {
      a = aeadFor(this.aead, key);
      this.#aeads.set(key, a);
    }
    return a;
  }

  #wipe(keys: DirectionKeys): void {
    this.#aeads.get(keys.enc)?.destroy();
    this.#aeads.delete(keys.enc);
    wipeKeys(keys);
  }

  constructor(
    init: {
      sessionId: string;
      role: Role;
      mode: Mode;
      aead: AeadName;
      peer: PublicIdentity;
      transcriptHash: Uint8Array;
      keys: [DirectionKeys, DirectionKeys];
    },
    private readonly config: SessionConfig,
    private readonly counters: SessionCounters,
    private readonly log: LogFn,
    readonly owner: object,
  ) {
    this.sessionId = init.sessionId;
    this.role = init.role;
    this.mode = init.mode;
    this.aead = init.aead;
    this.peer = init.peer;
    this.transcriptHash = init.transcriptHash;
    this.sendDir = init.role === 'initiator' ? 0 : 1;
    this.recvDir = init.role === 'initiator' ? 1 : 0;
    this.send = { epoch: 0, keys: init.keys[this.sendDir], counter: 0, sentInEpoch: 0, exhausted: false };
    this.recvEpochs = [{ epoch: 0, keys: init.keys[this.recvDir], firstSeen: Number.POSITIVE_INFINITY }];
    this.window = new ReplayWindow(config.replayWindow);
    const sid = utf8(this.sessionId);
    this.aadHead = new Uint8Array(AAD_LABEL.length + 1 + sid.length);
    this.aadHead.set(AAD_LABEL, 0);
    this.aadHead[AAD_LABEL.length] = sid.length;
    this.aadHead.set(sid, AAD_LABEL.length + 1);
    this.handle = new Session();
    handles.set(this.handle, this);
  }

  private aad(direction: Direction, epoch: number, counter: number): Uint8Array {
    const h = this.aadHead.length;
    const a = new Uint8Array(h + 13);
    a.set(this.aadHead, 0);
    putU64(a, h, counter);
    a[h + 8] = direction;
    putU32(a, h + 9, epoch);
    return a;
  }

  assertLive(): void {
    if (this.revoked) throw new SessionRevokedError();
  }

  get sendKeys(): DirectionKeys {
    this.assertLive();
    return this.send.keys;
  }

  get sendCounter(): number {
    this.assertLive();
    return this.send.counter;
  }

  get sendEpoch(): number {
    return this.send.epoch;
  }

  info(): SessionInfo {
    const current = this.recvEpochs[this.recvEpochs.length - 1] as ReceiveEpoch;
    return {
      session_id: this.sessionId,
      role: this.role,
      mode: this.mode,
      aead: this.aead,
      peer_key_id: this.peer.keyId,
      peerPublicKey: this.peer.text,
      sendEpoch: this.send.epoch,
      sendCounter: this.send.counter,
      receiveEpoch: current.epoch,
      receiveHighest: this.window.highest,
      receiveEpochsHeld: this.recvEpochs.map((e) => e.epoch),
      revoked: this.revoked,
    };
  }

  encrypt(plaintext: unknown): EncryptedMessage {
    this.assertLive();
    if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Buffer or Uint8Array');
    if (plaintext.length > this.config.maxMessageBytes) {
      throw new RangeError(`plaintext must be at most ${this.config.maxMessageBytes} bytes, got ${plaintext.length}`);
    }
    const s = this.send;
    if (s.exhausted || s.counter > MAX_COUNTER) throw new SessionExhaustedError('no counters or epochs left; run a new handshake');
    const counter = s.counter;
    const nonce = nonceFor(s.epoch, counter);
    const sealed = this.#aeadFor(s.keys.enc).seal(nonce, plaintext, this.aad(this.sendDir, s.epoch, counter));
    s.counter++;
    s.sentInEpoch++;
    const cut = sealed.length - 16;
    const msg: EncryptedMessage = {
      session_id: this.sessionId,
      nonce: b64u(nonce),
      ciphertext: b64u(sealed.subarray(0, cut)),
      mac: b64u(sealed.subarray(cut)),
      counter,
    };
    // Rotate right after the last message of an epoch so its key is wiped at once (seed 003:
    // "Rotate session keys every N messages").
    if (s.sentInEpoch >= this.config.rotateEvery) this.rotateSend('count');
    return msg;
  }

  /** Move the sending direction to the next epoch; the old keys are zeroed. */
  rotateSend(reason: 'count' | 'demand'): void {
    this.assertLive();
    const s = this.send;
    if (s.epoch >= MAX_EPOCH) {
      s.exhausted = true;
      return;
    }
    const next = rotateKeys(s.keys, this.transcriptHash, this.sendDir, s.epoch + 1);
    this.#wipe(s.keys);
    s.keys = next;
    s.epoch++;
    s.sentInEpoch = 0;
    this.counters.sendRotations++;
    this.log('info', { session_id: this.sessionId, direction: 'send', epoch: s.epoch, reason }, 'session key rotated');
  }

  decrypt(message: unknown): Buffer {
    this.assertLive();
    if (typeof message !== 'object' || message === null) throw new MalformedMessageError('message must be an EncryptedMessage object');
    const { session_id, nonce, ciphertext, mac, counter } = message as Record<string, unknown>;
    if (typeof session_id !== 'string') throw new MalformedMessageError('session_id must be a string');
    if (session_id !== this.sessionId) throw new UnknownSessionError('message belongs to another session');
    if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0) {
      throw new MalformedMessageError('counter must be a non-negative safe integer');
    }
    const n = unb64u(nonce, NONCE_CHARS);
    if (n?.length !== 12) throw new MalformedMessageError('nonce must be 12 bytes of unpadded base64url');
    const epoch = n.readUInt32BE(0);
    if (n.readUInt32BE(4) * 0x1_0000_0000 + n.readUInt32BE(8) !== counter) {
      throw new MalformedMessageError('nonce does not carry the counter');
    }
    // Ciphertext and tag are decoded straight into one ct || tag buffer for the AEAD.
    const ctLen = typeof ciphertext === 'string' ? Math.floor((ciphertext.length * 3) / 4) : -1;
    if (ctLen < 0 || ctLen > this.config.maxMessageBytes)
      throw new MalformedMessageError('ciphertext must be a string within the size limit');
    if (typeof mac !== 'string' || mac.length !== TAG_CHARS) throw new MalformedMessageError('mac must be 16 bytes of unpadded base64url');
    const sealed = Buffer.allocUnsafe(ctLen + 16);
    if (
      sealed.write(ciphertext as string, 0, 'base64url') !== ctLen ||
      sealed.toString('base64url', 0, ctLen) !== ciphertext ||
      sealed.write(mac, ctLen, 'base64url') !== 16 ||
      sealed.toString('base64url', ctLen) !== mac
    ) {
      throw new MalformedMessageError('ciphertext and mac must be canonical unpadded base64url');
    }

    const rejection = this.window.check(counter);
    if (rejection) throw rejection;

    // Pick the key of the message's epoch; a newer epoch is derived provisionally and kept only
    // if the message authenticates, so a forged nonce cannot move our keys.
    const current = this.recvEpochs[this.recvEpochs.length - 1] as ReceiveEpoch;
    let target: ReceiveEpoch | undefined;
    let fresh: ReceiveEpoch[] | undefined;
    if (epoch <= current.epoch) {
      target = this.recvEpochs.find((e) => e.epoch === epoch);
      if (!target) throw new OutOfWindowError(`keys of epoch ${epoch} are no longer held`);
    } else {
      if (epoch - current.epoch > this.config.maxEpochSkip) throw new OutOfWindowError(`epoch ${epoch} is too far ahead`);
      fresh = [];
      let prev = current;
      for (let e = current.epoch + 1; e <= epoch; e++) {
        prev = { epoch: e, keys: rotateKeys(prev.keys, this.transcriptHash, this.recvDir, e), firstSeen: Number.POSITIVE_INFINITY };
        fresh.push(prev);
      }
      target = prev;
    }

    let plaintext: Uint8Array;
    try {
      plaintext = this.#aeadFor(target.keys.enc).open(n, sealed, this.aad(this.recvDir, epoch, counter));
    } catch {
      if (fresh) for (const f of fresh) this.#wipe(f.keys);
      throw new AuthenticationError();
    }

    // Authenticated: only now does any state move.
    this.window.commit(counter);
    if (fresh) {
      this.recvEpochs.push(...fresh);
      this.counters.receiveRotations += fresh.length;
      this.log('info', { session_id: this.sessionId, direction: 'receive', epoch }, 'session key rotated');
    }
    if (counter < target.firstSeen) target.firstSeen = counter;
    this.pruneReceiveEpochs();
    return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.length);
  }

  /**
   * Drop old receive epochs: once the window's lower edge has passed the first counter seen in a
   * newer epoch, no message of the older epoch can be accepted any more; beyond RETAINED_EPOCHS
   * old epochs the oldest goes regardless.
   */
  private pruneReceiveEpochs(): void {
    const lowest = this.window.lowest();
    let minNewer = Number.POSITIVE_INFINITY;
    for (let i = this.recvEpochs.length - 1; i >= 0; i--) {
      const e = this.recvEpochs[i] as ReceiveEpoch;
      const old = i < this.recvEpochs.length - 1;
      if (old && (lowest >= minNewer || this.recvEpochs.length - 1 - i > RETAINED_EPOCHS)) {
        for (const gone of this.recvEpochs.splice(0, i + 1)) this.#wipe(gone.keys);
        return;
      }
      if (e.firstSeen < minNewer) minNewer = e.firstSeen;
    }
  }

  /** Zero every key and mark the session unusable. */
  revoke(): void {
    if (this.revoked) return;
    this.revoked = true;
    this.#wipe(this.send.keys);
    for (const e of this.recvEpochs.splice(0)) this.#wipe(e.keys);
    this.transcriptHash.fill(0);
  }
}

/** Find the state behind a handle (undefined for anything that is not one of ours). */
export function stateOf(handle: unknown): SessionState | undefined {
  return typeof handle === 'object' && handle !== null ? handles.get(handle as Session) : undefined;
}

/**
 * The SessionKeys object handed to callers: a live view of one session. Key getters return the
 * current sending keys; serialisation (JSON, util.inspect) shows ids and counters only.
 */
export class Session implements SessionKeys {
  private get state(): SessionState {
    const s = handles.get(this);
    if (!s) throw new UnknownSessionError();
    return s;
  }
  get session_id(): string {
    return this.state.sessionId;
  }
  get encryptKey(): Buffer {
    return this.state.sendKeys.enc;
  }
  get macKey(): Buffer {
    return this.state.sendKeys.mac;
  }
  get counter(): number {
    return this.state.sendCounter;
  }
  /** Current sending epoch (rotations so far). */
  get epoch(): number {
    return this.state.sendEpoch;
  }
  get role(): Role {
    return this.state.role;
  }
  get mode(): Mode {
    return this.state.mode;
  }
  get aead(): AeadName {
    return this.state.aead;
  }
  /** Key id of the authenticated peer. */
  get peer_key_id(): string {
    return this.state.peer.keyId;
  }
  /** Identity public key the peer proved possession of in the handshake. */
  get peerPublicKey(): string {
    return this.state.peer.text;
  }
  get revoked(): boolean {
    return this.state.revoked;
  }
  toJSON(): Record<string, unknown> {
    const s = this.state;
    return { session_id: s.sessionId, role: s.role, mode: s.mode, aead: s.aead, peer_key_id: s.peer.keyId, revoked: s.revoked };
  }
  [inspect.custom](): string {
    const s = this.state;
    return `SessionKeys { session_id: '${s.sessionId}', role: '${s.role}', peer_key_id: '${s.peer.keyId}', revoked: ${s.revoked} }`;
  }
}
