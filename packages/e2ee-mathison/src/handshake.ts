// Handshake messages, transcript and key schedule (seed 003 "Handshake Protocol"; issue
// "Required behaviour"; SPEC section 2 "Keys are derived, never reused raw" and "Encoding").
//
// Three messages, each canonical CBOR carried as an unpadded base64url string:
//   1 init      I -> R  version, mode, AEAD, nonce nI, identity pk I, X25519 ephemeral eI
//                       [hybrid: ephemeral ML-KEM-768 public key]
//   2 response  R -> I  nonce nR, identity pk R, X25519 ephemeral eR [hybrid: ML-KEM ciphertext],
//                       R's signature(s) over the transcript, R's key-confirmation MAC
//   3 finish    I -> R  I's signature(s) over the transcript, I's key-confirmation MAC
// Phase 1 of the seed (key exchange) is carried by messages 1 and 2; phase 2 (mutual
// authentication) by the signatures in 2 and 3. The seed has I sign before R; here R signs first
// so the exchange is three messages instead of four (SIGMA-style), with the same guarantees: each
// side signs the full transcript, including both identities, so nothing can be swapped.
import {
  type CborValue,
  concatBytes,
  constantTimeEqual,
  decode,
  encode,
  hkdf,
  hmac,
  mlkem768,
  sha256,
  utf8,
  wipe,
  x25519,
} from '@yak/crypto';
import { HANDSHAKE_NONCE_BYTES, MAX_HANDSHAKE_MESSAGE_BYTES, PROTOCOL_LABEL, PROTOCOL_VERSION, SESSION_ID_BYTES } from './constants.js';
import { b64u, b64uLength, unb64u } from './encoding.js';
import { HandshakeMalformedError, HandshakeMismatchError } from './errors.js';
import type { Mode } from './identity.js';

/** The AEADs of seed 003: AES-256-GCM (default) and ChaCha20-Poly1305. */
export type AeadName = 'aes-256-gcm' | 'chacha20-poly1305';
export const AEAD_NAMES: readonly AeadName[] = ['aes-256-gcm', 'chacha20-poly1305'];

const ED_SIG = 64;
const PQ_SIG = 3309;
const X_PK = 32;
const MAC = 32;
const KEM_PK = mlkem768.publicKeyLength;
const KEM_CT = mlkem768.cipherTextLength;
const IDENTITY_LENGTHS = [32, 32 + 1952];

export interface InitMessage {
  mode: Mode;
  aead: AeadName;
  nonce: Uint8Array;
  identity: Uint8Array;
  ephemeral: Uint8Array;
  kemPublicKey: Uint8Array | undefined;
}

export interface ResponseMessage {
  nonce: Uint8Array;
  identity: Uint8Array;
  ephemeral: Uint8Array;
  kemCipherText: Uint8Array | undefined;
  signature: Uint8Array;
  pqSignature: Uint8Array | undefined;
  confirm: Uint8Array;
}

export interface FinishMessage {
  signature: Uint8Array;
  pqSignature: Uint8Array | undefined;
  confirm: Uint8Array;
}

const MAX_CHARS = b64uLength(MAX_HANDSHAKE_MESSAGE_BYTES);

function toText(map: Record<string, CborValue>): string {
  const bytes = encode(map);
  if (bytes.length > MAX_HANDSHAKE_MESSAGE_BYTES) throw new RangeError('handshake message exceeds the size limit');
  return b64u(bytes);
}

/** Decode a handshake string into a map with exactly `keys`, checking type tag and version. */
function fromText(text: unknown, type: number, keys: readonly string[]): Record<string, unknown> {
  if (typeof text !== 'string') throw new HandshakeMalformedError('handshake message must be a string');
  const bytes = unb64u(text, MAX_CHARS);
  if (!bytes) throw new HandshakeMalformedError('handshake message is not canonical base64url or is too large');
  let doc: unknown;
  try {
    // A plain Uint8Array view, so decoded byte strings are copies (Buffer#slice would share memory).
    doc = decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), {
      maxDepth: 2,
      maxLength: MAX_HANDSHAKE_MESSAGE_BYTES,
      maxItems: 16,
    });
  } catch {
    throw new HandshakeMalformedError('handshake message is not canonical CBOR');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || doc instanceof Uint8Array) {
    throw new HandshakeMalformedError('handshake message is not a map');
  }
  const m = doc as Record<string, unknown>;
  // Version first: a peer on another version gets "mismatch", not "malformed".
  if (m.v !== PROTOCOL_VERSION) throw new HandshakeMismatchError(`unsupported protocol version`);
  if (m.t !== type) throw new HandshakeMalformedError(`expected handshake message type ${type}`);
  const present = Object.keys(m);
  if (present.length !== keys.length + 2 || !keys.every((k) => k in m)) {
    throw new HandshakeMalformedError('handshake message has missing or unknown fields');
  }
  return m;
}

function bytesField(m: Record<string, unknown>, key: string, ...lengths: number[]): Uint8Array {
  const v = m[key];
  if (!(v instanceof Uint8Array) || !lengths.includes(v.length))
    throw new HandshakeMalformedError(`field ${key} has the wrong type or length`);
  return v;
}

/** A byte field that must be present exactly when `present` (hybrid-only fields), else null. */
function optBytesField(m: Record<string, unknown>, key: string, present: boolean, length: number): Uint8Array | undefined {
  if (!present) {
    if (m[key] !== null) throw new HandshakeMalformedError(`field ${key} must be null in classical mode`);
    return undefined;
  }
  return bytesField(m, key, length);
}

export function encodeInit(msg: InitMessage): string {
  return toText({
    t: 1,
    v: PROTOCOL_VERSION,
    mode: msg.mode,
    aead: msg.aead,
    n: msg.nonce,
    id: msg.identity,
    e: msg.ephemeral,
    k: msg.kemPublicKey ?? null,
  });
}

export function decodeInit(text: unknown): InitMessage {
  const m = fromText(text, 1, ['mode', 'aead', 'n', 'id', 'e', 'k']);
  if (m.mode !== 'classical' && m.mode !== 'hybrid') throw new HandshakeMismatchError('unsupported handshake mode');
  if (typeof m.aead !== 'string' || !(AEAD_NAMES as readonly string[]).includes(m.aead))
    throw new HandshakeMismatchError('unsupported AEAD');
  const mode = m.mode;
  return {
    mode,
    aead: m.aead as AeadName,
    nonce: bytesField(m, 'n', HANDSHAKE_NONCE_BYTES),
    identity: bytesField(m, 'id', ...IDENTITY_LENGTHS),
    ephemeral: bytesField(m, 'e', X_PK),
    kemPublicKey: optBytesField(m, 'k', mode === 'hybrid', KEM_PK),
  };
}

export function encodeResponse(msg: ResponseMessage): string {
  return toText({
    t: 2,
    v: PROTOCOL_VERSION,
    n: msg.nonce,
    id: msg.identity,
    e: msg.ephemeral,
    c: msg.kemCipherText ?? null,
    s: msg.signature,
    q: msg.pqSignature ?? null,
    f: msg.confirm,
  });
}

export function decodeResponse(text: unknown, mode: Mode): ResponseMessage {
  const m = fromText(text, 2, ['n', 'id', 'e', 'c', 's', 'q', 'f']);
  const hybrid = mode === 'hybrid';
  return {
    nonce: bytesField(m, 'n', HANDSHAKE_NONCE_BYTES),
    identity: bytesField(m, 'id', ...IDENTITY_LENGTHS),
    ephemeral: bytesField(m, 'e', X_PK),
    kemCipherText: optBytesField(m, 'c', hybrid, KEM_CT),
    signature: bytesField(m, 's', ED_SIG),
    pqSignature: optBytesField(m, 'q', hybrid, PQ_SIG),
    confirm: bytesField(m, 'f', MAC),
  };
}

export function encodeFinish(msg: FinishMessage): string {
  return toText({ t: 3, v: PROTOCOL_VERSION, s: msg.signature, q: msg.pqSignature ?? null, f: msg.confirm });
}

export function decodeFinish(text: unknown, mode: Mode): FinishMessage {
  const m = fromText(text, 3, ['s', 'q', 'f']);
  return {
    signature: bytesField(m, 's', ED_SIG),
    pqSignature: optBytesField(m, 'q', mode === 'hybrid', PQ_SIG),
    confirm: bytesField(m, 'f', MAC),
  };
}

// ---------------------------------------------------------------------------------------------
// Transcript and keys

/** Every field both sides agree on once message 2 is through. */
export interface TranscriptFields {
  mode: Mode;
  aead: AeadName;
  initiatorNonce: Uint8Array;
  responderNonce: Uint8Array;
  initiatorIdentity: Uint8Array;
  responderIdentity: Uint8Array;
  initiatorEphemeral: Uint8Array;
  responderEphemeral: Uint8Array;
  kemPublicKey: Uint8Array | undefined;
  kemCipherText: Uint8Array | undefined;
}

export interface Transcript {
  /** Session id as carried in messages: unpadded base64url of 16 bytes. */
  sessionId: string;
  /** SHA-256 over the canonical encoding of every handshake field. */
  hash: Uint8Array;
}

/**
 * Session id from both sides' random nonces (neither side alone picks it), and the transcript
 * hash over protocol, version, mode, AEAD, session id, both nonces, both identity keys, both
 * ephemerals and (hybrid) the KEM public key and ciphertext (issue: "Transcript = hash over all
 * handshake fields").
 */
export function transcript(f: TranscriptFields): Transcript {
  const sid = sha256(concatBytes(utf8(`${PROTOCOL_LABEL} session-id`), f.initiatorNonce, f.responderNonce)).slice(0, SESSION_ID_BYTES);
  const hash = sha256(
    encode({
      p: PROTOCOL_LABEL,
      v: PROTOCOL_VERSION,
      mode: f.mode,
      aead: f.aead,
      sid,
      nI: f.initiatorNonce,
      nR: f.responderNonce,
      idI: f.initiatorIdentity,
      idR: f.responderIdentity,
      eI: f.initiatorEphemeral,
      eR: f.responderEphemeral,
      k: f.kemPublicKey ?? null,
      c: f.kemCipherText ?? null,
    }),
  );
  return { sessionId: b64u(sid), hash };
}

export type Role = 'initiator' | 'responder';

/** What each role signs: the transcript hash under a label naming the signer's role, so a
 * responder signature can never be replayed as an initiator signature. */
export function signatureInput(role: Role, transcriptHash: Uint8Array): Uint8Array {
  return encode({ p: `${PROTOCOL_LABEL} handshake-signature`, role, th: transcriptHash });
}

/** One direction's keys for one epoch. `chain` derives the next epoch and never leaves the package. */
export interface DirectionKeys {
  enc: Buffer;
  mac: Buffer;
  chain: Buffer;
}

/** Index 0: initiator -> responder; 1: responder -> initiator. */
export type Direction = 0 | 1;
const DIRECTION_LABEL = ['i2r', 'r2i'] as const;

function derive(ikm: Uint8Array, salt: Uint8Array, label: string, epoch?: number): Buffer {
  const info =
    epoch === undefined
      ? utf8(label)
      : concatBytes(utf8(label), new Uint8Array([epoch >>> 24, (epoch >>> 16) & 255, (epoch >>> 8) & 255, epoch & 255]));
  const out = hkdf('sha256', ikm, salt, info, 32);
  return Buffer.from(out.buffer, out.byteOffset, out.length);
}

/**
 * Epoch-0 keys of both directions: HKDF-SHA256 with the transcript hash as salt and a distinct
 * label per direction and purpose (SPEC section 2; issue "Phase 1").
 */
export function sessionKeys(sharedSecret: Uint8Array, transcriptHash: Uint8Array): [DirectionKeys, DirectionKeys] {
  const one = (d: Direction): DirectionKeys => ({
    enc: derive(sharedSecret, transcriptHash, `${PROTOCOL_LABEL} ${DIRECTION_LABEL[d]} enc`),
    mac: derive(sharedSecret, transcriptHash, `${PROTOCOL_LABEL} ${DIRECTION_LABEL[d]} mac`),
    chain: derive(sharedSecret, transcriptHash, `${PROTOCOL_LABEL} ${DIRECTION_LABEL[d]} chain`),
  });
  return [one(0), one(1)];
}

/** Keys of epoch `nextEpoch` from the previous epoch's chain key (one-way: old keys stay secret). */
export function rotateKeys(prev: DirectionKeys, transcriptHash: Uint8Array, d: Direction, nextEpoch: number): DirectionKeys {
  const l = `${PROTOCOL_LABEL} ${DIRECTION_LABEL[d]} rotate`;
  return {
    enc: derive(prev.chain, transcriptHash, `${l} enc`, nextEpoch),
    mac: derive(prev.chain, transcriptHash, `${l} mac`, nextEpoch),
    chain: derive(prev.chain, transcriptHash, `${l} chain`, nextEpoch),
  };
}

export function wipeKeys(k: DirectionKeys | undefined): void {
  if (k) wipe(k.enc, k.mac, k.chain);
}

/**
 * Key confirmation: HMAC-SHA256 under the sender's direction `macKey` over the transcript hash.
 * This is the macKey's job in the handshake (the AEAD tag authenticates messages afterwards).
 */
export function confirmation(role: Role, macKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  return hmac('sha256', macKey, concatBytes(utf8(`${PROTOCOL_LABEL} finished ${role}`), transcriptHash));
}

export function confirmationValid(role: Role, macKey: Uint8Array, transcriptHash: Uint8Array, received: Uint8Array): boolean {
  return constantTimeEqual(confirmation(role, macKey, transcriptHash), received);
}

/** X25519 with the all-zero output (low-order peer key, RFC 7748 section 6.1) mapped to a handshake error. */
export function dh(secretKey: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  try {
    return x25519.sharedSecret(secretKey, peerPublic);
  } catch {
    throw new HandshakeMalformedError('peer ephemeral key is a low-order point');
  }
}
