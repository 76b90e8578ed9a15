// Annex envelopes on the wire (docs/protocol/annex.md section 2). Every annex message travels as
// the raw bytes of one mesh direct message (`sendTo` with a Uint8Array), framed by a 4-byte prefix
// ("YAX" + version) and a type byte, then a fixed layout per type. Everything is bounds-checked;
// trailing bytes are rejected.
import { type Aead, EncodingError, hybridKem } from '@yak/crypto';
import { WIRE } from './constants.js';
import { MalformedEnvelopeError } from './errors.js';
import { Reader, WireError, Writer } from './wire.js';

/** The seed 000 message type names ("Internal Message Types"). */
export const AnnexMessageType = {
  KEY_EXCHANGE: 'annex:key_exchange',
  KEY_RESPONSE: 'annex:key_response',
  ENCRYPTED: 'annex:encrypted',
  REKEY: 'annex:rekey',
  CLOSE: 'annex:close',
} as const;
export type AnnexMessageTypeName = (typeof AnnexMessageType)[keyof typeof AnnexMessageType];

/** Type byte of each message type. */
export const TypeByte = { KEY_EXCHANGE: 1, KEY_RESPONSE: 2, ENCRYPTED: 3, REKEY: 4, CLOSE: 5 } as const;

const NAME_OF: Record<number, AnnexMessageTypeName> = {
  1: AnnexMessageType.KEY_EXCHANGE,
  2: AnnexMessageType.KEY_RESPONSE,
  3: AnnexMessageType.ENCRYPTED,
  4: AnnexMessageType.REKEY,
  5: AnnexMessageType.CLOSE,
};
const BYTE_OF: Record<AnnexMessageTypeName, number> = {
  'annex:key_exchange': 1,
  'annex:key_response': 2,
  'annex:encrypted': 3,
  'annex:rekey': 4,
  'annex:close': 5,
};

export const SESSION_ID_BYTES = 16;
export const X_PK = hybridKem.publicKeyLength;
export const X_CT = hybridKem.cipherTextLength;
const TAG = 16;
const PREFIX = 5;
/** Prefix + session id + epoch (u32) + sequence (u64) + flags (u8). */
export const SEALED_HEADER = PREFIX + SESSION_ID_BYTES + 4 + 8 + 1;

/** Handshake flag: the sender wants per-message ML-DSA-65 signatures in this session. */
export const HS_FLAG_SIGN = 0x01;
/** Sealed-envelope flag: the header carries the initiator's encapsulation to the responder (message 3). */
export const ENV_FLAG_FINISH = 0x01;
/** Close flag: an unauthenticated "unknown session" notice (annex.md section 7), no sealed body. */
export const CLOSE_FLAG_NOTICE = 0x80;

/** Message 1: the initiator's identity record and ephemeral X-Wing key. */
export interface KeyExchangeEnvelope {
  type: 'annex:key_exchange';
  sessionId: Uint8Array;
  flags: number;
  /** Canonical bytes of the initiator's identity record. */
  record: Uint8Array;
  ephemeralKey: Uint8Array;
}

/** Message 2: the responder's identity record and two encapsulations. */
export interface KeyResponseEnvelope {
  type: 'annex:key_response';
  sessionId: Uint8Array;
  flags: number;
  record: Uint8Array;
  /** Encapsulation to the initiator's ephemeral key (forward secrecy). */
  ctEphemeral: Uint8Array;
  /** Encapsulation to the initiator's static KEM key (authenticates the initiator). */
  ctStatic: Uint8Array;
}

/** An AEAD envelope: data and handshake confirmation (encrypted), rekey, or authenticated close. */
export interface SealedEnvelope {
  type: 'annex:encrypted' | 'annex:rekey' | 'annex:close';
  sessionId: Uint8Array;
  epoch: number;
  seq: number;
  flags: number;
  /** Message 3 only: encapsulation to the responder's static KEM key. */
  finish?: Uint8Array;
  /** AES-256-GCM ciphertext and tag. */
  sealed: Uint8Array;
}

/** An unauthenticated hint that the sender has no session with this id. */
export interface NoticeEnvelope {
  type: 'annex:close';
  notice: true;
  sessionId: Uint8Array;
}

export type Envelope = KeyExchangeEnvelope | KeyResponseEnvelope | SealedEnvelope | NoticeEnvelope;

/** Whether `bytes` start with the annex prefix (magic and a version this code speaks). */
export function isAnnexEnvelope(bytes: unknown): bytes is Uint8Array {
  return (
    bytes instanceof Uint8Array &&
    bytes.length >= PREFIX &&
    bytes[0] === WIRE.magic[0] &&
    bytes[1] === WIRE.magic[1] &&
    bytes[2] === WIRE.magic[2] &&
    bytes[3] === WIRE.version
  );
}

function prefix(w: Writer, type: number): Writer {
  return w.u8(WIRE.magic[0]).u8(WIRE.magic[1]).u8(WIRE.magic[2]).u8(WIRE.version).u8(type);
}

function checkLen(name: string, b: Uint8Array, n: number): void {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (b.length !== n) throw new RangeError(`${name} must be ${n} bytes`);
}

function checkSeqEpoch(epoch: number, seq: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > 0xffff_ffff) throw new RangeError('epoch must be a u32');
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError('seq must be a non-negative safe integer');
}

/**
 * The header of a sealed envelope: everything before the ciphertext. It is the AEAD's associated
 * data, so session id, epoch, sequence, type and the finishing encapsulation are all authenticated.
 */
export function sealedHeader(type: number, sessionId: Uint8Array, epoch: number, seq: number, finish?: Uint8Array): Uint8Array {
  const w = new Writer(SEALED_HEADER + (finish ? X_CT : 0));
  prefix(w, type)
    .raw(sessionId)
    .u32(epoch)
    .u53(seq)
    .u8(finish ? ENV_FLAG_FINISH : 0);
  if (finish) w.raw(finish);
  return w.finish();
}

/**
 * Seal the concatenation of `parts` as one sealed envelope in one allocation: the AEAD leaves
 * room for the header in front of ciphertext and tag, and the header is written there (section
 * 2). Neither the plaintext nor the ciphertext is copied on the way.
 */
export function sealEnvelope(
  aead: Aead,
  nonce: Uint8Array,
  type: number,
  sessionId: Uint8Array,
  epoch: number,
  seq: number,
  parts: readonly Uint8Array[],
  finish?: Uint8Array,
): Uint8Array {
  const header = sealedHeader(type, sessionId, epoch, seq, finish);
  const out = aead.sealParts(nonce, parts, header, header.length);
  out.set(header, 0);
  return out;
}

/** Encode any envelope (the hot path seals with {@link sealEnvelope}). */
export function encodeEnvelope(env: Envelope): Uint8Array {
  if (env === null || typeof env !== 'object') throw new TypeError('envelope must be an object');
  checkLen('sessionId', env.sessionId, SESSION_ID_BYTES);
  switch (env.type) {
    case 'annex:key_exchange': {
      checkFlags(env.flags, HS_FLAG_SIGN);
      checkRecord(env.record);
      checkLen('ephemeralKey', env.ephemeralKey, X_PK);
      const w = new Writer(PREFIX + SESSION_ID_BYTES + 1 + 2 + env.record.length + X_PK);
      return prefix(w, TypeByte.KEY_EXCHANGE).raw(env.sessionId).u8(env.flags).vec16(env.record).raw(env.ephemeralKey).finish();
    }
    case 'annex:key_response': {
      checkFlags(env.flags, HS_FLAG_SIGN);
      checkRecord(env.record);
      checkLen('ctEphemeral', env.ctEphemeral, X_CT);
      checkLen('ctStatic', env.ctStatic, X_CT);
      const w = new Writer(PREFIX + SESSION_ID_BYTES + 1 + 2 + env.record.length + 2 * X_CT);
      return prefix(w, TypeByte.KEY_RESPONSE)
        .raw(env.sessionId)
        .u8(env.flags)
        .vec16(env.record)
        .raw(env.ctEphemeral)
        .raw(env.ctStatic)
        .finish();
    }
    case 'annex:encrypted':
    case 'annex:rekey':
    case 'annex:close': {
      if ('notice' in env) {
        if (env.notice !== true || env.type !== 'annex:close') throw new TypeError('notice must be true on annex:close');
        const w = new Writer(PREFIX + SESSION_ID_BYTES + 1);
        return prefix(w, TypeByte.CLOSE).raw(env.sessionId).u8(CLOSE_FLAG_NOTICE).finish();
      }
      checkSeqEpoch(env.epoch, env.seq);
      if (!(env.sealed instanceof Uint8Array)) throw new TypeError('sealed must be a Uint8Array');
      if (env.sealed.length < TAG) throw new RangeError(`sealed must be at least ${TAG} bytes`);
      if (env.finish !== undefined) {
        if (env.type !== 'annex:encrypted') throw new TypeError('finish is only carried by annex:encrypted');
        checkLen('finish', env.finish, X_CT);
      }
      const flags = env.finish ? ENV_FLAG_FINISH : 0;
      if (env.flags !== flags) throw new RangeError('flags must match the fields present');
      const h = sealedHeader(BYTE_OF[env.type], env.sessionId, env.epoch, env.seq, env.finish);
      const out = new Uint8Array(h.length + env.sealed.length);
      out.set(h, 0);
      out.set(env.sealed, h.length);
      return out;
    }
    default:
      throw new TypeError('unknown envelope type');
  }
}

function checkFlags(flags: number, allowed: number): void {
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xff || (flags & ~allowed) !== 0) throw new RangeError('unknown flags');
}

function checkRecord(record: Uint8Array): void {
  if (!(record instanceof Uint8Array)) throw new TypeError('record must be a Uint8Array');
  if (record.length < 1 || record.length > WIRE.maxRecordBytes) throw new RangeError(`record must be 1..${WIRE.maxRecordBytes} bytes`);
}

/** A decoded sealed envelope with the header bytes the AEAD authenticates. */
export interface DecodedSealed extends SealedEnvelope {
  header: Uint8Array;
}
export type DecodedEnvelope = KeyExchangeEnvelope | KeyResponseEnvelope | DecodedSealed | NoticeEnvelope;

/**
 * Decode an envelope, checking every length and flag; views into `bytes` (no copies). Throws
 * {@link MalformedEnvelopeError} for anything malformed, including trailing bytes.
 */
export function decodeEnvelope(bytes: Uint8Array, maxBytes = Number.MAX_SAFE_INTEGER): DecodedEnvelope {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  if (!isAnnexEnvelope(bytes)) throw new MalformedEnvelopeError('not an annex envelope');
  if (bytes.length > maxBytes) throw new MalformedEnvelopeError('envelope too large');
  try {
    const r = new Reader(bytes);
    r.bytes(4);
    const t = r.u8();
    const type = NAME_OF[t];
    if (type === undefined) throw new WireError('unknown type');
    const sessionId = r.bytes(SESSION_ID_BYTES);
    if (type === 'annex:key_exchange' || type === 'annex:key_response') {
      const flags = r.u8();
      if ((flags & ~HS_FLAG_SIGN) !== 0) throw new WireError('unknown flags');
      const record = r.vec16(1, WIRE.maxRecordBytes);
      if (type === 'annex:key_exchange') {
        const ephemeralKey = r.bytes(X_PK);
        r.end();
        return { type, sessionId, flags, record, ephemeralKey };
      }
      const ctEphemeral = r.bytes(X_CT);
      const ctStatic = r.bytes(X_CT);
      r.end();
      return { type, sessionId, flags, record, ctEphemeral, ctStatic };
    }
    if (type === 'annex:close' && r.remaining === 1) {
      if (r.u8() !== CLOSE_FLAG_NOTICE) throw new WireError('bad notice');
      return { type, notice: true, sessionId };
    }
    const epoch = r.u32();
    const seq = r.u53();
    const flags = r.u8();
    let finish: Uint8Array | undefined;
    if (flags === ENV_FLAG_FINISH && type === 'annex:encrypted') finish = r.bytes(X_CT);
    else if (flags !== 0) throw new WireError('unknown flags');
    const header = bytes.subarray(0, r.offset);
    if (r.remaining < TAG) throw new WireError('truncated');
    const sealed = r.rest();
    const env: DecodedSealed = { type, sessionId, epoch, seq, flags, sealed, header };
    if (finish) env.finish = finish;
    return env;
  } catch (e) {
    if (e instanceof EncodingError) throw new MalformedEnvelopeError(`malformed envelope (${e.message})`);
    throw e;
  }
}
