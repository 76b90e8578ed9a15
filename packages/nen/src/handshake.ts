// Handshake, rekey and rotate messages and the key schedule (nen.md sections 3-4). Shared by the
// client and the server; portable (no Node-only APIs).
//
// Fixes against seed 004: the KEM secret is never an AEAD key (SPEC section 2, "Keys are derived,
// never reused raw"); no key is ever sent over the wire (the seed shipped the HMAC key); the
// server is authenticated by the client encapsulating to its published, signed KEM key and by a
// key-confirmation MAC over the whole transcript.
import { decode, encode, hkdfExpand, hkdfExtract, hmac, sha256, utf8, wipe } from '@yak/crypto';
import { CLIENT_NONCE_BYTES, KEY_BYTES, LABEL, MAC_BYTES, PROTOCOL_VERSION, SID_BYTES } from './constants.js';
import { NenHandshakeError, NenPayloadError } from './errors.js';
import { b64, encodeFlat, parseJsonObject, unb64 } from './wire.js';

const XWING_PK = 1216;
const XWING_CT = 1120;
const MLDSA_PK = 1952;
const MLDSA_SIG = 3309;

/** Client -> server, POST {base}handshake. */
export interface ClientHello {
  v: 1;
  /** Key id of the verified key configuration (keys and algorithms; see keyConfigId). */
  kc: Uint8Array;
  /** Ephemeral X-Wing public key (forward secrecy). */
  epk: Uint8Array;
  /** X-Wing ciphertext to the server's static key (server authentication). */
  ct: Uint8Array;
  /** Client random. */
  cn: Uint8Array;
  /** Client clock (ms); checked against the window only when the hello is signed. */
  ts: number;
  /** Optional client ML-DSA-65 public key and signature over the hello (seed 004 "opt. ML-DSA signature"). */
  ck?: Uint8Array;
  cs?: Uint8Array;
}

/** Server -> client. */
export interface ServerHello {
  v: 1;
  sid: Uint8Array;
  /** X-Wing ciphertext to the client's ephemeral key. */
  ect: Uint8Array;
  sn: Uint8Array;
  /** Server clock (ms), so the client can correct its request timestamps. */
  ts: number;
  /** Absolute expiry of the session (ms). */
  exp: number;
  /** Idle lifetime (ms). */
  idle: number;
  /** HMAC(confirm key, transcript hash): proof the server holds the static KEM secret. */
  confirm: Uint8Array;
}

const int = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

export function encodeClientHello(h: ClientHello): string {
  const o: Record<string, string | number> = { v: h.v, kc: b64(h.kc), epk: b64(h.epk), ct: b64(h.ct), cn: b64(h.cn), ts: h.ts };
  if (h.ck) o.ck = b64(h.ck);
  if (h.cs) o.cs = b64(h.cs);
  return JSON.stringify(o);
}

/** Strict parse; raises ISO-1001 (malformed) or ISO-1002 (version). */
export function decodeClientHello(text: string): ClientHello {
  const o = parseJsonObject(text, ['v', 'kc', 'epk', 'ct', 'cn', 'ts', 'ck', 'cs'], 'ISO-1001');
  if (o.v !== PROTOCOL_VERSION) throw new NenHandshakeError('ISO-1002');
  if (!int(o.ts)) throw new NenHandshakeError('ISO-1001', { message: 'ts must be a non-negative integer' });
  const h: ClientHello = {
    v: 1,
    kc: unb64(o.kc, 'ISO-1001', 32, 'kc'),
    epk: unb64(o.epk, 'ISO-1001', XWING_PK, 'epk'),
    ct: unb64(o.ct, 'ISO-1001', XWING_CT, 'ct'),
    cn: unb64(o.cn, 'ISO-1001', CLIENT_NONCE_BYTES, 'cn'),
    ts: o.ts,
  };
  if ((o.ck === undefined) !== (o.cs === undefined)) throw new NenHandshakeError('ISO-1001', { message: 'ck and cs go together' });
  if (o.ck !== undefined) {
    h.ck = unb64(o.ck, 'ISO-1001', MLDSA_PK, 'ck');
    h.cs = unb64(o.cs, 'ISO-1001', MLDSA_SIG, 'cs');
  }
  return h;
}

export function encodeServerHello(h: ServerHello): string {
  return JSON.stringify({
    v: h.v,
    sid: b64(h.sid),
    ect: b64(h.ect),
    sn: b64(h.sn),
    ts: h.ts,
    exp: h.exp,
    idle: h.idle,
    confirm: b64(h.confirm),
  });
}

/** Strict parse on the client; a malformed answer is a failed key confirmation (ISO-1104). */
export function decodeServerHello(text: string): ServerHello {
  const o = parseJsonObject(text, ['v', 'sid', 'ect', 'sn', 'ts', 'exp', 'idle', 'confirm'], 'ISO-1104');
  if (o.v !== PROTOCOL_VERSION) throw new NenHandshakeError('ISO-1002');
  if (!int(o.ts) || !int(o.exp) || !int(o.idle)) throw new NenHandshakeError('ISO-1104', { message: 'bad times' });
  return {
    v: 1,
    sid: unb64(o.sid, 'ISO-1104', SID_BYTES, 'sid'),
    ect: unb64(o.ect, 'ISO-1104', XWING_CT, 'ect'),
    sn: unb64(o.sn, 'ISO-1104', CLIENT_NONCE_BYTES, 'sn'),
    ts: o.ts,
    exp: o.exp,
    idle: o.idle,
    confirm: unb64(o.confirm, 'ISO-1104', MAC_BYTES, 'confirm'),
  };
}

/** What a client signs to authenticate (bound to the server's config and to this exchange). */
export function clientAuthMessage(h: ClientHello): Uint8Array {
  if (!h.ck) throw new TypeError('hello has no client key');
  return encodeFlat([LABEL.clientAuth, h.kc, h.epk, h.ct, h.cn, h.ts, h.ck]);
}

export const CLIENT_AUTH_CONTEXT = utf8(LABEL.clientAuthContext);

/** Transcript hash over every handshake field except the confirmation itself. */
export function handshakeTranscript(c: ClientHello, s: Omit<ServerHello, 'confirm'>): Uint8Array {
  return sha256(
    encodeFlat([LABEL.handshake, c.v, c.kc, c.epk, c.ct, c.cn, c.ts, c.ck ?? null, c.cs ?? null, s.sid, s.ect, s.sn, s.ts, s.exp, s.idle]),
  );
}

/** Per-direction, per-purpose session keys (SPEC section 2). */
export interface SessionKeys {
  c2sKey: Uint8Array;
  s2cKey: Uint8Array;
  c2sMac: Uint8Array;
  s2cMac: Uint8Array;
  /** Secret the next rekey or rotation chains from. */
  chain: Uint8Array;
}

/**
 * HKDF-SHA256 with the transcript hash as salt and one label per key (nen.md section 4).
 * Returns the keys and the confirmation key (used once, then wiped by the caller).
 */
export function deriveKeys(ikm: Uint8Array, transcript: Uint8Array): { keys: SessionKeys; confirmKey: Uint8Array } {
  // Each key is HKDF(ikm, salt = transcript, info = label) (nen.md section 4); the six share
  // one extraction, so it is done once (RFC 5869: HKDF = Expand(Extract(salt, ikm), info, L)).
  const prk = hkdfExtract('sha256', ikm, transcript);
  try {
    const k = (label: string) => hkdfExpand('sha256', prk, utf8(label), KEY_BYTES);
    return {
      keys: {
        c2sKey: k(LABEL.c2sKey),
        s2cKey: k(LABEL.s2cKey),
        c2sMac: k(LABEL.c2sMac),
        s2cMac: k(LABEL.s2cMac),
        chain: k(LABEL.chain),
      },
      confirmKey: k(LABEL.confirm),
    };
  } finally {
    wipe(prk);
  }
}

export function confirmTag(confirmKey: Uint8Array, transcript: Uint8Array): Uint8Array {
  return hmac('sha256', confirmKey, transcript);
}

export function wipeKeys(k: SessionKeys | undefined): void {
  if (k) wipe(k.c2sKey, k.s2cKey, k.c2sMac, k.s2cMac, k.chain);
}

/** Rekey transcript: a fresh X-Wing exchange chained to the previous keys. */
export function rekeyTranscript(
  sid: Uint8Array,
  oldGen: number,
  newGen: number,
  epk: Uint8Array,
  ect: Uint8Array,
  requestMac: Uint8Array,
): Uint8Array {
  return sha256(encodeFlat([LABEL.rekey, sid, oldGen, newGen, epk, ect, requestMac]));
}

/** Rotate transcript: new session id, keys ratcheted one-way from the chain secret. */
export function rotateTranscript(
  oldSid: Uint8Array,
  newSid: Uint8Array,
  oldGen: number,
  newGen: number,
  requestMac: Uint8Array,
): Uint8Array {
  return sha256(encodeFlat([LABEL.rotate, oldSid, newSid, oldGen, newGen, requestMac]));
}

// Control-message bodies travel inside the normal encrypted envelope as canonical CBOR.

function decodeCborMap(bytes: Uint8Array, keys: string[]): Record<string, unknown> {
  let v: unknown;
  try {
    v = decode(bytes, { maxDepth: 1, maxLength: 8192 });
  } catch {
    throw new NenPayloadError('ISO-4004', { message: 'control body is not canonical CBOR' });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    throw new NenPayloadError('ISO-4004', { message: 'control body is not a map' });
  }
  const o = v as Record<string, unknown>;
  if (Object.keys(o).length !== keys.length || !keys.every((k) => Object.hasOwn(o, k))) {
    throw new NenPayloadError('ISO-4004', { message: 'control body fields' });
  }
  return o;
}

function bytesField(o: Record<string, unknown>, k: string, len: number): Uint8Array {
  const v = o[k];
  if (!(v instanceof Uint8Array) || v.length !== len) throw new NenPayloadError('ISO-4004', { message: `bad ${k}` });
  return v;
}

export const encodeRekeyRequest = (epk: Uint8Array): Uint8Array => encode({ epk });
export const decodeRekeyRequest = (b: Uint8Array): { epk: Uint8Array } => ({ epk: bytesField(decodeCborMap(b, ['epk']), 'epk', XWING_PK) });

export interface RekeyAnswer {
  ect: Uint8Array;
  gen: number;
  confirm: Uint8Array;
}
export const encodeRekeyAnswer = (a: RekeyAnswer): Uint8Array => encode({ ect: a.ect, gen: a.gen, confirm: a.confirm });
export function decodeRekeyAnswer(b: Uint8Array): RekeyAnswer {
  const o = decodeCborMap(b, ['ect', 'gen', 'confirm']);
  if (!int(o.gen)) throw new NenPayloadError('ISO-4004', { message: 'bad gen' });
  return { ect: bytesField(o, 'ect', XWING_CT), gen: o.gen, confirm: bytesField(o, 'confirm', MAC_BYTES) };
}

export interface RotateAnswer {
  sid: Uint8Array;
  gen: number;
  confirm: Uint8Array;
}
export const encodeRotateAnswer = (a: RotateAnswer): Uint8Array => encode({ sid: a.sid, gen: a.gen, confirm: a.confirm });
export function decodeRotateAnswer(b: Uint8Array): RotateAnswer {
  const o = decodeCborMap(b, ['sid', 'gen', 'confirm']);
  if (!int(o.gen)) throw new NenPayloadError('ISO-4004', { message: 'bad gen' });
  return { sid: bytesField(o, 'sid', SID_BYTES), gen: o.gen, confirm: bytesField(o, 'confirm', MAC_BYTES) };
}

/** Session facts the status route reports (and terminate echoes). */
export interface SessionStatus {
  sid: string;
  gen: number;
  createdAt: number;
  expiresAt: number;
  idleTtlMs: number;
  lastSeen: number;
  clientId: string | null;
}
export const encodeStatus = (s: SessionStatus): Uint8Array =>
  encode({
    sid: s.sid,
    gen: s.gen,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    idleTtlMs: s.idleTtlMs,
    lastSeen: s.lastSeen,
    clientId: s.clientId,
  });
export function decodeStatus(b: Uint8Array): SessionStatus {
  const o = decodeCborMap(b, ['sid', 'gen', 'createdAt', 'expiresAt', 'idleTtlMs', 'lastSeen', 'clientId']);
  if (typeof o.sid !== 'string' || !int(o.gen) || !int(o.createdAt) || !int(o.expiresAt) || !int(o.idleTtlMs) || !int(o.lastSeen)) {
    throw new NenPayloadError('ISO-4004', { message: 'bad status' });
  }
  if (o.clientId !== null && typeof o.clientId !== 'string') throw new NenPayloadError('ISO-4004', { message: 'bad clientId' });
  return o as unknown as SessionStatus;
}
