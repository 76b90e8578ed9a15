// The link handshake (docs/protocol/link.md sections 3-4): KEM-authenticated in the style of
// PQNoise IK/XX and KEMTLS. Both parties are authenticated by decapsulating a ciphertext sent to
// their static X-Wing key; forward secrecy comes from an encapsulation to the initiator's
// ephemeral X-Wing key. No per-handshake signatures: identity records are verified once and cached.
// Pure and synchronous: the caller moves the bytes.
import {
  aes256gcm,
  CryptoError,
  constantTimeEqual,
  decodeIdentityRecord,
  EncodingError,
  encodeIdentityRecord,
  type HybridKemDecapsulator,
  hkdf,
  hkdfExpand,
  hkdfExtract,
  hmac,
  hybridKem,
  hybridKemEphemeral,
  type IdentityRecord,
  NodeIdentity,
  sha256,
  utf8,
  wipe,
} from '@yak/crypto';
import { decodeNavrChallenge, encodeNavrChallenge, type NAVR, type NavrChallenge } from '@yak/defense';
import { LINK } from './constants.js';
import { Reader, WireError, Writer } from './wire.js';

/** First byte of every message on a link (link.md section 2). */
export const MsgType = {
  HELLO: 0x01,
  WELCOME: 0x02,
  FINISH: 0x03,
  CONFIRM: 0x04,
  REJECT: 0x05,
  CHALLENGE: 0x06,
  RECORD: 0x10,
} as const;

/** Reasons a handshake is refused, sent in REJECT (link.md section 3.6). */
export const RejectCode = {
  VERSION: 1,
  WRONG_NETWORK: 2,
  WRONG_FINGERPRINT: 3,
  STALE_RECORD: 4,
  RATE_LIMITED: 5,
  BAD_IDENTITY: 6,
  HANDSHAKE_FAILED: 7,
  BANNED: 8,
  TOO_MANY_PEERS: 9,
  DUPLICATE: 10,
  SELF: 11,
  SHUTTING_DOWN: 12,
  ADMISSION: 13,
} as const;
export type RejectCodeValue = (typeof RejectCode)[keyof typeof RejectCode];

const REJECT_NAMES: Record<number, string> = Object.fromEntries(Object.entries(RejectCode).map(([k, v]) => [v, k.toLowerCase()]));

/** Name of a reject code ('wrong_network', ...), 'unknown' for codes this version does not know. */
export function rejectName(code: number): string {
  return REJECT_NAMES[code] ?? 'unknown';
}

/** A handshake ended without a link. `remote` is true when the peer sent the REJECT. */
export class LinkReject extends Error {
  constructor(
    readonly code: number,
    readonly detail: string,
    readonly remote = false,
  ) {
    super(`${rejectName(code)}: ${detail}`);
    this.name = 'LinkReject';
  }
}

const X_PK = hybridKem.publicKeyLength; // 1216
const X_CT = hybridKem.cipherTextLength; // 1120
const MAC = 32;
const HASH = 32;
const MAX_RECORD = 8192;
const MAX_NET = 64;
const MAX_FP = 64;

const LABEL = utf8('yak/link/v1');
const INFO_ID = utf8('yak/link/v1 initiator identity');
// Epoch-0 traffic secrets; record keys are derived from them in record.ts (link.md section 6.1).
const INFO_I2R = utf8('yak/link/v1 traffic i2r');
const INFO_R2I = utf8('yak/link/v1 traffic r2i');
const INFO_CI = utf8('yak/link/v1 confirm i');
const INFO_CR = utf8('yak/link/v1 confirm r');
const INFO_RS = utf8('yak/link/v1 resumption secret');
const INFO_TID = utf8('yak/link/v1 ticket id');
const TID = 16;
const ZERO_NONCE = new Uint8Array(12);

/**
 * Parsed and verified identity records keyed by SHA-256 of their canonical bytes, so a known
 * peer's record costs one hash per handshake (bounded, oldest evicted first).
 */
export class RecordCache {
  readonly #m = new Map<string, IdentityRecord>();
  constructor(readonly max = 1024) {}

  /** Decode and verify `bytes` (ML-DSA once per record); throws IdentityError / WireError. */
  verify(bytes: Uint8Array, now: number): { record: IdentityRecord; hash: Uint8Array } {
    const hash = sha256(bytes);
    const key = hex(hash);
    let record = this.#m.get(key);
    if (record) {
      if (record.expiresAt !== undefined && record.expiresAt <= now) {
        this.#m.delete(key);
        NodeIdentity.verifyRecord(record, { now });
      }
      return { record, hash };
    }
    record = NodeIdentity.verifyRecord(decodeIdentityRecord(bytes), { now });
    if (this.#m.size >= this.max) this.#m.delete(this.#m.keys().next().value as string);
    this.#m.set(key, record);
    return { record, hash };
  }

  /** True when `bytes` is a record this cache verified (so no ML-DSA work would be spent). */
  has(bytes: Uint8Array): boolean {
    return this.#m.has(hex(sha256(bytes)));
  }

  get size(): number {
    return this.#m.size;
  }
}

/** A solved admission challenge attached to HELLO (link.md section 3.7). */
interface Proof {
  challenge: Uint8Array;
  solution: Uint8Array;
}

/** The optional HELLO extension after the mode fields, then the end of the message. */
function readProof(r: InstanceType<typeof Reader>): Proof | undefined {
  if (r.remaining === 0) return undefined;
  if (r.u8() !== EXT_ADMISSION) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'unknown HELLO extension');
  const challenge = r.vec16(1, MAX_CHALLENGE);
  const solution = r.vec8(1, 32);
  r.end();
  return { challenge, solution };
}

/** A NAVR solution (hex, as the solvers return it) as bytes. */
function fromHexSolution(s: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2}){1,32}$/.test(s)) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'bad admission solution');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] as number).toString(16).padStart(2, '0');
  return s;
}

/** Everything a handshake needs about the local node. */
export interface HandshakeConfig {
  identity: NodeIdentity;
  /** Canonical encoding of `identity.publicRecord()` and its SHA-256 (computed once per node). */
  recordBytes: Uint8Array;
  recordHash: Uint8Array;
  networkId: string;
  fingerprint: Uint8Array;
  records: RecordCache;
  /** Resumption tickets this node issued as responder, by ticket id (link.md section 4.3). */
  tickets: TicketStore;
  now(): number;
  /**
   * Admission proof of work for initiators whose record this node has not verified before
   * (link.md section 3.7, NAVR of seed 001): absent, nobody is challenged.
   */
  admission?: NAVR;
  /**
   * Most work (leading zero bits) this node spends on another node's challenge (link.md section
   * 3.7); default `LINK.maxAdmissionDifficulty`.
   */
  maxAdmissionDifficulty?: number;
}

/** Handshake modes (link.md section 4): first contact, cached record, or ticket resumption. */
export type HandshakeMode = 'first' | 'known' | 'resume';

/** A single-use resumption ticket: id on the wire, secret never. */
export interface Ticket {
  id: Uint8Array;
  secret: Uint8Array;
  peer: KnownPeer;
  expiresAt: number;
}

/**
 * Bounded map of tickets (oldest evicted first). `take` removes the ticket: a ticket
 * authenticates exactly one handshake, and every handshake issues the next one.
 */
export class TicketStore {
  readonly #m = new Map<string, Ticket>();
  constructor(readonly max: number) {}

  put(key: string, t: Ticket): void {
    const old = this.#m.get(key);
    if (old) wipe(old.secret);
    this.#m.delete(key);
    if (this.#m.size >= this.max) {
      const k = this.#m.keys().next().value as string;
      wipe(this.#m.get(k)?.secret);
      this.#m.delete(k);
    }
    this.#m.set(key, t);
  }

  take(key: string, now: number): Ticket | undefined {
    const t = this.#m.get(key);
    if (!t) return undefined;
    this.#m.delete(key);
    if (t.expiresAt <= now) {
      wipe(t.secret);
      return undefined;
    }
    return t;
  }

  peek(key: string): Ticket | undefined {
    return this.#m.get(key);
  }

  delete(key: string): void {
    wipe(this.#m.get(key)?.secret);
    this.#m.delete(key);
  }

  clear(): void {
    for (const t of this.#m.values()) wipe(t.secret);
    this.#m.clear();
  }

  get size(): number {
    return this.#m.size;
  }
}

/** Hex of a ticket id, the key of responder-side ticket stores. */
export function ticketKey(id: Uint8Array): string {
  return hex(id);
}

/**
 * A completed handshake: the verified peer and the two directional traffic secrets of epoch 0.
 * Record keys are derived from them and they ratchet forward on KEY_UPDATE (link.md section 6.1);
 * whoever takes them (the RecordLayer) owns and wipes them.
 */
export interface HandshakeResult {
  peer: IdentityRecord;
  /** SHA-256 of the peer record's canonical bytes. */
  peerRecordHash: Uint8Array;
  sendSecret: Uint8Array;
  recvSecret: Uint8Array;
  mode: HandshakeMode;
  transcriptHash: Uint8Array;
  /** The next resumption ticket's id and secret, shared by both sides. */
  resumption: { id: Uint8Array; secret: Uint8Array };
}

/** What to do after a received message: bytes to send, and the result once the link is up. */
export interface Step {
  send?: Uint8Array;
  done?: HandshakeResult;
  /**
   * The responder asked for proof of work (CHALLENGE, link.md section 3.7): solve `challenge`
   * (off the hot path) and send `respond(solution)`, the HELLO again with the proof attached.
   */
  admission?: { challenge: NavrChallenge; respond(solution: string): Uint8Array };
}

/** HELLO extension carrying a solved admission challenge (link.md section 3.7). */
const EXT_ADMISSION = 1;
/** Largest encoded NAVR challenge accepted on the wire. */
const MAX_CHALLENGE = 2048;

/**
 * A peer met before: its verified record and the SHA-256 of the record's canonical bytes
 * (link.md section 4.1). The hash, not the 6.6 KB of bytes, is what later handshakes need.
 */
export interface KnownPeer {
  record: IdentityRecord;
  hash: Uint8Array;
}

/** A known record that expired since it was verified is refused like an invalid one. */
function checkExpiry(record: IdentityRecord, now: number): void {
  if (record.expiresAt !== undefined && record.expiresAt <= now) throw new LinkReject(RejectCode.BAD_IDENTITY, 'YAK_IDENTITY_EXPIRED');
}

interface Keys {
  i2r: Uint8Array;
  r2i: Uint8Array;
  ci: Uint8Array;
  cr: Uint8Array;
  rs: Uint8Array;
  tid: Uint8Array;
  th: Uint8Array;
}

/** TH = SHA-256(label || for each part: u32 length || part || recordHash_I || recordHash_R). */
function transcript(parts: Uint8Array[], rhI: Uint8Array, rhR: Uint8Array): Uint8Array {
  const w = new Writer().raw(LABEL);
  for (const p of parts) w.u32(p.length).raw(p);
  return sha256(w.raw(rhI).raw(rhR).finish());
}

/** ikm = the shared secrets concatenated in protocol order; salt = TH; one label per output. */
function schedule(secrets: Uint8Array[], th: Uint8Array): Keys {
  const ikm = new Uint8Array(secrets.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of secrets) {
    ikm.set(x, o);
    o += x.length;
  }
  // Each output is HKDF(ikm, salt = TH, info = its label); they share one extraction
  // (RFC 5869: HKDF = Expand(Extract(salt, ikm), info, L)), so it is done once.
  const prk = hkdfExtract('sha256', ikm, th);
  try {
    return {
      i2r: hkdfExpand('sha256', prk, INFO_I2R, 32),
      r2i: hkdfExpand('sha256', prk, INFO_R2I, 32),
      ci: hkdfExpand('sha256', prk, INFO_CI, 32),
      cr: hkdfExpand('sha256', prk, INFO_CR, 32),
      rs: hkdfExpand('sha256', prk, INFO_RS, 32),
      tid: hkdfExpand('sha256', prk, INFO_TID, 16),
      th,
    };
  } finally {
    wipe(prk, ikm, ...secrets);
  }
}

function identityKey(ssR: Uint8Array, prefix: Uint8Array): Uint8Array {
  return hkdf('sha256', ssR, sha256(new Writer().raw(LABEL).raw(prefix).finish()), INFO_ID, 32);
}

function checkMac(key: Uint8Array, th: Uint8Array, mac: Uint8Array): boolean {
  return constantTimeEqual(hmac('sha256', key, th), mac);
}

/** Convert any failure inside a handshake step into a LinkReject with a code. */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LinkReject) throw e;
    if (e instanceof EncodingError) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, `malformed message (${e.message})`);
    if (e instanceof CryptoError) {
      const bad = e.code.startsWith('YAK_IDENTITY_');
      throw new LinkReject(bad ? RejectCode.BAD_IDENTITY : RejectCode.HANDSHAKE_FAILED, bad ? e.code : 'key exchange failed');
    }
    if (e instanceof RangeError || e instanceof TypeError) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'malformed value');
    throw e;
  }
}

/** Encode a REJECT message. */
export function encodeReject(code: number, detail: string): Uint8Array {
  let d = utf8(detail);
  if (d.length > 200) d = d.subarray(0, 200);
  return new Writer().u8(MsgType.REJECT).u8(code).vec8(d).finish();
}

/** Decode a REJECT message (lossy on the text: invalid UTF-8 is replaced). */
export function decodeReject(msg: Uint8Array): LinkReject {
  return guard(() => {
    const r = new Reader(msg);
    if (r.u8() !== MsgType.REJECT) throw new WireError('not a reject');
    const code = r.u8();
    const text = new TextDecoder('utf-8', { fatal: false }).decode(r.vec8(0, 200));
    r.end();
    return new LinkReject(code, text, true);
  });
}

function expectType(msg: Uint8Array, type: number): void {
  if (msg.length === 0) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'empty message');
  if (msg[0] === MsgType.REJECT && type !== MsgType.REJECT) throw decodeReject(msg);
  if (msg[0] !== type) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, `unexpected message type ${msg[0]}`);
}

/** How the initiator opens: a ticket (resume), a cached record (known), or neither (first contact). */
export interface InitiatorOptions {
  known?: KnownPeer;
  ticket?: Ticket;
  expectedNodeId?: string;
}

/**
 * The initiator side. With a ticket the handshake is a 1-RTT resumption (link.md section 4.3);
 * with a cached record of the responder it is the 1-RTT known-peer mode (section 4.1);
 * otherwise first contact (section 4.2).
 */
/** A handshake message followed by its key-confirmation MAC over the transcript hash. */
function withConfirmation(body: Uint8Array, macKey: Uint8Array, th: Uint8Array): Uint8Array {
  return new Writer(body.length + MAC)
    .raw(body)
    .raw(hmac('sha256', macKey, th))
    .finish();
}

export class Initiator {
  readonly mode: HandshakeMode;
  #eph: HybridKemDecapsulator | undefined;
  #m1: Uint8Array | undefined;
  #ssR: Uint8Array | undefined;
  #peer: KnownPeer | undefined;
  #peerHash: Uint8Array | undefined;
  #ticket: Ticket | undefined;
  #keys: Keys | undefined;
  #state: 'init' | 'hello' | 'finish' | 'done' | 'failed' = 'init';
  #challenged = false;
  private readonly expectedNodeId: string | undefined;

  constructor(
    private readonly cfg: HandshakeConfig,
    opts: InitiatorOptions = {},
  ) {
    this.expectedNodeId = opts.expectedNodeId;
    this.#ticket = opts.ticket;
    this.#peer = opts.ticket?.peer ?? opts.known;
    this.mode = opts.ticket ? 'resume' : opts.known ? 'known' : 'first';
  }

  /** The HELLO message. */
  hello(): Uint8Array {
    if (this.#state !== 'init') throw new Error('hello() called twice');
    const c = this.cfg;
    this.#eph = hybridKemEphemeral();
    const modeByte = this.mode === 'resume' ? 2 : this.mode === 'known' ? 1 : 0;
    const w = new Writer()
      .u8(MsgType.HELLO)
      .u8(LINK.version)
      .u8(modeByte)
      .vec8(utf8(c.networkId))
      .vec8(c.fingerprint)
      .raw(this.#eph.publicKey);
    if (this.#peer) this.#peerHash = this.#peer.hash;
    if (this.mode === 'resume') {
      this.#m1 = w.raw((this.#ticket as Ticket).id).finish();
    } else if (this.mode === 'known') {
      const { cipherText, sharedSecret } = hybridKem.encapsulate((this.#peer as KnownPeer).record.kemPublicKey);
      this.#ssR = sharedSecret;
      w.raw(this.#peerHash as Uint8Array).raw(cipherText);
      const prefix = w.finish();
      const kId = identityKey(sharedSecret, prefix);
      const enc = aes256gcm(kId).seal(ZERO_NONCE, c.recordBytes, prefix);
      wipe(kId);
      this.#m1 = new Writer().raw(prefix).vec16(enc).finish();
    } else {
      this.#m1 = w.vec16(c.recordBytes).finish();
    }
    this.#state = 'hello';
    return this.#m1;
  }

  /** Process WELCOME (then CONFIRM in first-contact mode). Throws LinkReject on any failure. */
  receive(msg: Uint8Array): Step {
    try {
      if (this.#state === 'hello') {
        if (msg[0] === MsgType.CHALLENGE) return guard(() => this.#challenge(msg));
        return guard(() => (this.mode === 'first' ? this.#welcomeFirst(msg) : this.#welcomeOneRtt(msg)));
      }
      if (this.#state === 'finish') return guard(() => this.#confirm(msg));
      throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'unexpected message');
    } catch (e) {
      this.#fail();
      throw e;
    }
  }

  /**
   * CHALLENGE (link.md section 3.7): accepted once, for this node, within our work limit. The
   * answer is the same HELLO with the solved challenge appended; the transcript then covers it.
   */
  #challenge(msg: Uint8Array): Step {
    if (this.#challenged || this.mode === 'resume') throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'unexpected challenge');
    this.#challenged = true;
    const r = new Reader(msg);
    r.u8();
    const bytes = r.vec16(1, MAX_CHALLENGE);
    r.end();
    const challenge = decodeNavrChallenge(bytes);
    if (challenge.peerId !== this.cfg.identity.nodeId) throw new LinkReject(RejectCode.ADMISSION, 'challenge issued to another node');
    const limit = this.cfg.maxAdmissionDifficulty ?? LINK.maxAdmissionDifficulty;
    if (challenge.difficulty > limit) {
      throw new LinkReject(RejectCode.ADMISSION, `challenge of ${challenge.difficulty} bits exceeds the limit of ${limit}`);
    }
    const base = this.#m1 as Uint8Array;
    return {
      admission: {
        challenge,
        respond: (solution: string) => {
          const sol = fromHexSolution(solution);
          this.#m1 = new Writer().raw(base).u8(EXT_ADMISSION).vec16(bytes).vec8(sol).finish();
          return this.#m1;
        },
      },
    };
  }

  /** WELCOME of the known-peer and resume modes: key confirmation by the responder, then FINISH. */
  #welcomeOneRtt(msg: Uint8Array): Step {
    expectType(msg, MsgType.WELCOME);
    const resume = this.mode === 'resume';
    const r = new Reader(msg);
    r.u8();
    if (r.u8() !== (resume ? 2 : 1)) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'mode mismatch');
    const ctE = r.bytes(X_CT);
    const ctI = resume ? undefined : r.bytes(X_CT);
    const body = msg.subarray(0, r.offset);
    const macR = r.bytes(MAC);
    r.end();
    const peer = this.#peer as KnownPeer;
    // The record may have expired since it was cached.
    checkExpiry(peer.record, this.cfg.now());
    const ssE = (this.#eph as HybridKemDecapsulator).decapsulate(ctE);
    const th = transcript([this.#m1 as Uint8Array, body], this.cfg.recordHash, this.#peerHash as Uint8Array);
    const secrets = resume
      ? [ssE, (this.#ticket as Ticket).secret]
      : [ssE, this.cfg.identity.kemDecapsulate(ctI as Uint8Array), this.#ssR as Uint8Array];
    const k = schedule(secrets, th);
    if (!checkMac(k.cr, th, macR)) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'responder key confirmation failed');
    const finish = new Writer()
      .u8(MsgType.FINISH)
      .u8(resume ? 2 : 1)
      .raw(hmac('sha256', k.ci, th))
      .finish();
    return { send: finish, done: this.#finishWith(k, peer) };
  }

  #welcomeFirst(msg: Uint8Array): Step {
    expectType(msg, MsgType.WELCOME);
    const r = new Reader(msg);
    r.u8();
    if (r.u8() !== 0) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'mode mismatch');
    const ctE = r.bytes(X_CT);
    const ctI = r.bytes(X_CT);
    const recBytes = r.vec16(1, MAX_RECORD);
    r.end();
    const { record, hash } = this.cfg.records.verify(recBytes, this.cfg.now());
    if (this.expectedNodeId !== undefined && record.nodeId !== this.expectedNodeId) {
      throw new LinkReject(RejectCode.BAD_IDENTITY, 'responder is not the expected node');
    }
    if (record.nodeId === this.cfg.identity.nodeId) throw new LinkReject(RejectCode.SELF, 'connected to self');
    this.#peer = { record, hash };
    this.#peerHash = hash;
    const ssE = (this.#eph as HybridKemDecapsulator).decapsulate(ctE);
    const ssI = this.cfg.identity.kemDecapsulate(ctI);
    const { cipherText, sharedSecret } = hybridKem.encapsulate(record.kemPublicKey);
    const m3body = new Writer().u8(MsgType.FINISH).u8(0).raw(cipherText).finish();
    const th = transcript([this.#m1 as Uint8Array, msg, m3body], this.cfg.recordHash, hash);
    const k = schedule([ssE, ssI, sharedSecret], th);
    this.#keys = k;
    this.#state = 'finish';
    return { send: withConfirmation(m3body, k.ci, th) };
  }

  #confirm(msg: Uint8Array): Step {
    expectType(msg, MsgType.CONFIRM);
    const r = new Reader(msg);
    r.u8();
    const macR = r.bytes(MAC);
    r.end();
    const k = this.#keys as Keys;
    if (!checkMac(k.cr, k.th, macR)) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'responder key confirmation failed');
    return { done: this.#finishWith(k, this.#peer as KnownPeer) };
  }

  #finishWith(k: Keys, peer: KnownPeer): HandshakeResult {
    wipe(k.ci, k.cr);
    this.#keys = undefined;
    this.#wipeEph();
    this.#state = 'done';
    return {
      peer: peer.record,
      peerRecordHash: peer.hash,
      sendSecret: k.i2r,
      recvSecret: k.r2i,
      mode: this.mode,
      transcriptHash: k.th,
      resumption: { id: k.tid, secret: k.rs },
    };
  }

  #wipeEph(): void {
    this.#eph?.destroy();
    if (this.#ssR) wipe(this.#ssR);
    if (this.#ticket) wipe(this.#ticket.secret);
    this.#eph = undefined;
    this.#ssR = undefined;
    this.#ticket = undefined;
  }

  #fail(): void {
    this.#state = 'failed';
    if (this.#keys) wipe(this.#keys.i2r, this.#keys.r2i, this.#keys.ci, this.#keys.cr, this.#keys.rs);
    this.#keys = undefined;
    this.#wipeEph();
  }

  /** Wipe secrets of an abandoned handshake. */
  destroy(): void {
    if (this.#state !== 'done') this.#fail();
  }
}

/** Checks the responder runs once the initiator's identity is known; return a reject code to refuse. */
export type PeerCheck = (record: IdentityRecord) => { code: RejectCodeValue; detail: string } | undefined;

/** The responder side. */
export class Responder {
  #state: 'hello' | 'finish' | 'done' | 'failed' = 'hello';
  #mode: HandshakeMode = 'first';
  #m1: Uint8Array | undefined;
  #m2: Uint8Array | undefined;
  #peer: KnownPeer | undefined;
  #peerHash: Uint8Array | undefined;
  #ssE: Uint8Array | undefined;
  #ssI: Uint8Array | undefined;
  #keys: Keys | undefined;
  #challenged = false;

  /** `address` is the initiator's address as the transport sees it (admission binds to it). */
  constructor(
    private readonly cfg: HandshakeConfig,
    private readonly check: PeerCheck = () => undefined,
    private readonly address = '',
  ) {}

  /** The initiator's identity, once HELLO was processed. */
  get peer(): IdentityRecord | undefined {
    return this.#peer?.record;
  }

  receive(msg: Uint8Array): Step {
    try {
      if (this.#state === 'hello') return guard(() => this.#hello(msg));
      if (this.#state === 'finish') return guard(() => this.#finish(msg));
      throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'unexpected message');
    } catch (e) {
      this.#fail();
      throw e;
    }
  }

  #hello(msg: Uint8Array): Step {
    const c = this.cfg;
    expectType(msg, MsgType.HELLO);
    const r = new Reader(msg);
    r.u8();
    const version = r.u8();
    if (version !== LINK.version) throw new LinkReject(RejectCode.VERSION, `unsupported version ${version}`);
    const mode = r.u8();
    if (mode > 2) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'unknown mode');
    const net = r.vec8(1, MAX_NET);
    const fp = r.vec8(0, MAX_FP);
    const ephPk = r.bytes(X_PK);
    if (!constantTimeEqual(net, utf8(c.networkId))) throw new LinkReject(RejectCode.WRONG_NETWORK, 'network id differs');
    if (!constantTimeEqual(fp, c.fingerprint)) throw new LinkReject(RejectCode.WRONG_FINGERPRINT, 'network fingerprint differs');
    if (mode === 2) return this.#helloResume(msg, r, ephPk);
    let ssR: Uint8Array | undefined;
    let recBytes: Uint8Array;
    let proof: Proof | undefined;
    if (mode === 1) {
      const rh = r.bytes(HASH);
      const ctR = r.bytes(X_CT);
      const prefix = msg.subarray(0, r.offset);
      const enc = r.vec16(17, MAX_RECORD + 16);
      proof = readProof(r);
      if (!constantTimeEqual(rh, c.recordHash)) throw new LinkReject(RejectCode.STALE_RECORD, 'responder record changed');
      ssR = c.identity.kemDecapsulate(ctR);
      const kId = identityKey(ssR, prefix);
      try {
        recBytes = aes256gcm(kId).open(ZERO_NONCE, enc, prefix);
      } catch {
        wipe(ssR);
        throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'initiator identity does not decrypt');
      } finally {
        wipe(kId);
      }
    } else {
      recBytes = r.vec16(1, MAX_RECORD);
      proof = readProof(r);
    }
    let verified: { record: IdentityRecord; hash: Uint8Array };
    try {
      if (c.admission && !c.records.has(recBytes)) {
        const challenge = this.#admit0(c.admission, recBytes, proof);
        if (challenge) {
          wipe(ssR);
          return { send: challenge };
        }
      }
      verified = c.records.verify(recBytes, c.now());
      this.#admit(verified.record);
    } catch (e) {
      wipe(ssR);
      throw e;
    }
    const { record, hash } = verified;
    this.#peer = { record, hash };
    this.#peerHash = hash;
    this.#m1 = msg;
    const e = hybridKem.encapsulate(ephPk);
    const i = hybridKem.encapsulate(record.kemPublicKey);
    if (mode === 1) {
      this.#mode = 'known';
      const body = new Writer().u8(MsgType.WELCOME).u8(1).raw(e.cipherText).raw(i.cipherText).finish();
      const th = transcript([msg, body], hash, c.recordHash);
      const k = schedule([e.sharedSecret, i.sharedSecret, ssR as Uint8Array], th);
      this.#keys = k;
      this.#state = 'finish';
      return { send: withConfirmation(body, k.cr, th) };
    }
    this.#ssE = e.sharedSecret;
    this.#ssI = i.sharedSecret;
    this.#m2 = new Writer().u8(MsgType.WELCOME).u8(0).raw(e.cipherText).raw(i.cipherText).vec16(c.recordBytes).finish();
    this.#state = 'finish';
    return { send: this.#m2 };
  }

  /**
   * Admission of a stranger (link.md section 3.7), before any ML-DSA work on its record: without
   * a proof, the CHALLENGE to send (once per connection); with one, nothing, or a REJECT. The
   * challenge binds the node id the record claims; verifying the record later proves the claim.
   */
  #admit0(navr: NAVR, recBytes: Uint8Array, proof: Proof | undefined): Uint8Array | undefined {
    const peerId = decodeIdentityRecord(recBytes).nodeId;
    const expected = { peerId, peerAddress: this.address || 'unknown' };
    if (!proof) {
      if (this.#challenged) throw new LinkReject(RejectCode.ADMISSION, 'proof of work required');
      this.#challenged = true;
      const challenge = encodeNavrChallenge(navr.createChallenge(expected.peerId, expected.peerAddress));
      return new Writer().u8(MsgType.CHALLENGE).vec16(challenge).finish();
    }
    let challenge: NavrChallenge;
    try {
      challenge = decodeNavrChallenge(proof.challenge);
    } catch {
      throw new LinkReject(RejectCode.ADMISSION, 'malformed admission proof');
    }
    const v = navr.verify(challenge, proof.solution, expected);
    if (!v.valid) throw new LinkReject(RejectCode.ADMISSION, `admission proof refused (${v.code})`);
    return undefined;
  }

  /** HELLO with a ticket (link.md section 4.3): the ticket names and authenticates the initiator. */
  #helloResume(msg: Uint8Array, r: Reader, ephPk: Uint8Array): Step {
    const c = this.cfg;
    const tid = r.bytes(TID);
    r.end();
    const t = c.tickets.take(ticketKey(tid), c.now());
    if (!t) throw new LinkReject(RejectCode.STALE_RECORD, 'unknown or expired ticket');
    try {
      // The initiator's record may have expired or been banned since the ticket was issued.
      checkExpiry(t.peer.record, c.now());
      this.#admit(t.peer.record);
    } catch (e) {
      wipe(t.secret);
      throw e;
    }
    this.#mode = 'resume';
    this.#peer = t.peer;
    this.#peerHash = t.peer.hash;
    const e = hybridKem.encapsulate(ephPk);
    const body = new Writer().u8(MsgType.WELCOME).u8(2).raw(e.cipherText).finish();
    const th = transcript([msg, body], this.#peerHash, c.recordHash);
    const k = schedule([e.sharedSecret, t.secret], th);
    this.#keys = k;
    this.#state = 'finish';
    return { send: withConfirmation(body, k.cr, th) };
  }

  #admit(record: IdentityRecord): void {
    if (record.nodeId === this.cfg.identity.nodeId) throw new LinkReject(RejectCode.SELF, 'connected to self');
    const refusal = this.check(record);
    if (refusal) throw new LinkReject(refusal.code, refusal.detail);
  }

  #finish(msg: Uint8Array): Step {
    expectType(msg, MsgType.FINISH);
    const r = new Reader(msg);
    r.u8();
    const mode = r.u8();
    if (this.#mode !== 'first') {
      if (mode !== (this.#mode === 'resume' ? 2 : 1)) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'mode mismatch');
      const macI = r.bytes(MAC);
      r.end();
      const k = this.#keys as Keys;
      if (!checkMac(k.ci, k.th, macI)) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'initiator key confirmation failed');
      return { done: this.#finishWith(k) };
    }
    if (mode !== 0) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'mode mismatch');
    const ctR = r.bytes(X_CT);
    const m3body = msg.subarray(0, r.offset);
    const macI = r.bytes(MAC);
    r.end();
    const ssR = this.cfg.identity.kemDecapsulate(ctR);
    const th = transcript([this.#m1 as Uint8Array, this.#m2 as Uint8Array, m3body], this.#peerHash as Uint8Array, this.cfg.recordHash);
    const k = schedule([this.#ssE as Uint8Array, this.#ssI as Uint8Array, ssR], th);
    this.#ssE = undefined;
    this.#ssI = undefined;
    this.#keys = k;
    if (!checkMac(k.ci, th, macI)) throw new LinkReject(RejectCode.HANDSHAKE_FAILED, 'initiator key confirmation failed');
    const confirm = new Writer()
      .u8(MsgType.CONFIRM)
      .raw(hmac('sha256', k.cr, th))
      .finish();
    return { send: confirm, done: this.#finishWith(k) };
  }

  #finishWith(k: Keys): HandshakeResult {
    wipe(k.ci, k.cr);
    this.#keys = undefined;
    this.#state = 'done';
    this.#m1 = undefined;
    this.#m2 = undefined;
    const peer = this.#peer as KnownPeer;
    return {
      peer: peer.record,
      peerRecordHash: peer.hash,
      sendSecret: k.r2i,
      recvSecret: k.i2r,
      mode: this.#mode,
      transcriptHash: k.th,
      resumption: { id: k.tid, secret: k.rs },
    };
  }

  #fail(): void {
    this.#state = 'failed';
    if (this.#keys) wipe(this.#keys.i2r, this.#keys.r2i, this.#keys.ci, this.#keys.cr, this.#keys.rs);
    wipe(this.#ssE, this.#ssI);
    this.#keys = undefined;
    this.#ssE = undefined;
    this.#ssI = undefined;
    this.#m1 = undefined;
    this.#m2 = undefined;
  }

  destroy(): void {
    if (this.#state !== 'done') this.#fail();
  }
}

/** Canonical bytes and hash of the local identity record (once per node). */
export function localRecord(identity: NodeIdentity): { bytes: Uint8Array; hash: Uint8Array } {
  const bytes = encodeIdentityRecord(identity.publicRecord());
  return { bytes, hash: sha256(bytes) };
}
