// Wire formats shared by the client and the server (nen.md sections 5-6). Everything MACed or
// used as AAD is canonical CBOR (SPEC section 2, "Encoding"); the HTTP body keeps the seed's
// JSON shape `{ ct, n }` with base64url strings. Portable: no Node-only APIs here.
import { encode, fromBase64url, randomBytes, sha256, toBase64url, utf8 } from '@yak/crypto';
import { AEAD_NONCE_BYTES, LABEL } from './constants.js';
import { type NenErrorCode, nenError } from './errors.js';

/** Header names of the protocol (seed 004 plus X-Nen-Nonce, which the seed MACed but never sent). */
export const HEADER = {
  session: 'x-nen-session',
  timestamp: 'x-nen-timestamp',
  nonce: 'x-nen-nonce',
  signature: 'x-nen-signature',
  /** Envelope of a request whose method has no body (GET), as `n.ct`. */
  payload: 'x-nen-payload',
  /** Request asks for a framed (streamed) response. */
  stream: 'x-nen-stream',
} as const;

/** Content type of a framed encrypted stream (nen.md section 7). */
export const STREAM_CONTENT_TYPE = 'application/vnd.yak.nen-stream';

/** Methods whose envelope travels in the X-Nen-Payload header because fetch forbids a body. */
export function payloadInHeader(method: string): boolean {
  return method === 'GET';
}

/** Hop-by-hop and framing headers never copied into or out of an envelope (RFC 9110 section 7.6.1). */
const SKIP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'host',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
]);

const MAX_HEADERS = 128;
const MAX_HEADER_TEXT = 16 * 1024;

/** Application headers worth carrying inside an envelope. */
export function envelopeHeaders(headers: Headers): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  headers.forEach((value, name) => {
    const n = name.toLowerCase();
    if (SKIP_HEADERS.has(n) || n.startsWith('x-nen-')) return;
    out.push([n, value]);
  });
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}

function fail(code: NenErrorCode, message?: string): never {
  throw nenError(code, message !== undefined ? { message } : {});
}

// base64url on the hot path through native code: Node's Buffer when the runtime has one (looked
// up on globalThis, so the client still loads where it does not), else btoa/atob (browsers, edge
// runtimes), else the JavaScript codec of @yak/crypto. Several times faster than a JavaScript loop
// for kilobyte bodies. The decoder stays strict: alphabet, length and zero trailing bits are
// checked first, so each byte string has exactly one encoding (SPEC section 2, "Encoding").
interface NodeBufferLike {
  from(
    data: ArrayBufferLike,
    offset: number,
    length: number,
  ): { toString(enc: 'base64url'): string; write(s: string, offset: number, length: number, enc: 'base64url'): number };
}
const NodeBuffer = (globalThis as { Buffer?: NodeBufferLike }).Buffer;
const hasAtob = typeof globalThis.btoa === 'function' && typeof globalThis.atob === 'function';
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
const TAIL_MASK: Record<number, number> = { 2: 0x0f, 3: 0x03 };
const B64_VALUE = (c: number): number =>
  c >= 65 && c <= 90 ? c - 65 : c >= 97 && c <= 122 ? c - 71 : c >= 48 && c <= 57 ? c + 4 : c === 45 ? 62 : c === 95 ? 63 : -1;

/** base64url (no padding) of bytes. */
export function b64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
  return hasAtob ? b64ViaBtoa(bytes) : toBase64url(bytes);
}

/** @internal the btoa path (browsers, edge runtimes); exported for tests. */
export function b64ViaBtoa(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000) as unknown as number[]);
  return globalThis.btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Canonical base64url: alphabet (unless the caller has just tested it), length and zero tail bits. */
function checkB64(s: string, alphabetChecked = false): void {
  const rem = s.length % 4;
  if (rem === 1 || (!alphabetChecked && !B64URL_RE.test(s))) throw new RangeError('invalid base64url');
  const mask = TAIL_MASK[rem];
  if (mask !== undefined && (B64_VALUE(s.charCodeAt(s.length - 1)) & mask) !== 0) throw new RangeError('non-canonical base64url');
}

// Short values (session ids, nonces, MACs: at most 64 characters) are decoded by a table
// lookup in JavaScript: the table rejects any character outside the alphabet, so no regular
// expression or Buffer wrapper is needed, and each call costs a fraction of a microsecond.
const SHORT_B64 = 64;
const B64_TABLE = new Int8Array(128).fill(-1);
for (let c = 0; c < 128; c++) B64_TABLE[c] = B64_VALUE(c);
const b64At = (s: string, i: number): number => {
  const c = s.charCodeAt(i);
  return c < 128 ? (B64_TABLE[c] as number) : -1;
};

function fromB64Short(s: string): Uint8Array {
  const len = s.length;
  const rem = len % 4;
  if (rem === 1) throw new RangeError('invalid base64url');
  const out = new Uint8Array((len * 3) >> 2);
  let o = 0;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const a = b64At(s, i);
    const b = b64At(s, i + 1);
    const c = b64At(s, i + 2);
    const d = b64At(s, i + 3);
    if ((a | b | c | d) < 0) throw new RangeError('invalid base64url');
    out[o++] = (a << 2) | (b >> 4);
    out[o++] = ((b & 0x0f) << 4) | (c >> 2);
    out[o++] = ((c & 0x03) << 6) | d;
  }
  if (rem >= 2) {
    const a = b64At(s, i);
    const b = b64At(s, i + 1);
    const c = rem === 3 ? b64At(s, i + 2) : 0;
    if ((a | b | c) < 0) throw new RangeError('invalid base64url');
    // Canonical: the bits past the last whole byte are zero (SPEC section 2, "Encoding").
    if (rem === 2 ? (b & 0x0f) !== 0 : (c & 0x03) !== 0) throw new RangeError('non-canonical base64url');
    out[o++] = (a << 2) | (b >> 4);
    if (rem === 3) out[o++] = ((b & 0x0f) << 4) | (c >> 2);
  }
  return out;
}

function fromB64(s: string, alphabetChecked = false): Uint8Array {
  if (s.length <= SHORT_B64) return fromB64Short(s);
  checkB64(s, alphabetChecked);
  if (NodeBuffer) {
    // Decoded straight into a buffer of the exact size (checkB64 made the length canonical), so
    // the caller owns it: no copy out of Node's shared pool.
    const n = Math.floor((s.length * 3) / 4);
    const out = new Uint8Array(n);
    if (n > 0 && NodeBuffer.from(out.buffer, 0, n).write(s, 0, n, 'base64url') !== n) throw new RangeError('invalid base64url');
    return out;
  }
  return hasAtob ? atobBytes(s) : fromBase64url(s);
}

function atobBytes(s: string): Uint8Array {
  const bin = globalThis.atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** @internal the strict atob path (browsers, edge runtimes); exported for tests. */
export function fromB64ViaAtob(s: string): Uint8Array {
  checkB64(s);
  return atobBytes(s);
}

/** Strict base64url decode; a failure (or a wrong length) raises `code`. */
export function unb64(s: unknown, code: NenErrorCode, length?: number, what = 'field', alphabetChecked = false): Uint8Array {
  if (typeof s !== 'string') fail(code, `${what} must be a base64url string`);
  let out: Uint8Array;
  try {
    out = fromB64(s, alphabetChecked);
  } catch {
    fail(code, `${what} is not canonical base64url`);
  }
  if (length !== undefined && out.length !== length) fail(code, `${what} must be ${length} bytes`);
  return out;
}

/** Parse a JSON object with exactly the allowed keys; anything else raises `code`. */
export function parseJsonObject(text: string, allowed: readonly string[], code: NenErrorCode): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    fail(code, 'body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(code, 'body must be a JSON object');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) fail(code, `unexpected field ${k}`);
  return v as Record<string, unknown>;
}

/** An AEAD output on the wire. */
export interface SealedPayload {
  /** 12-byte AEAD nonce (the seed's `n`). */
  n: Uint8Array;
  /** ciphertext || tag (the seed's `ct`). */
  ct: Uint8Array;
}

/** The seed's body shape: `{"ct":"<base64url>","n":"<base64url>"}`. */
export function encodeSealedBody(p: SealedPayload): string {
  return `{"ct":"${b64(p.ct)}","n":"${b64(p.n)}"}`;
}

const SEALED_HEAD = '{"ct":"';
const SEALED_MID = '","n":"';

/** Parse `{ ct, n }`; malformed input raises ISO-4002. */
export function decodeSealedBody(text: string): SealedPayload {
  // The exact form encodeSealedBody writes is split without JSON.parse; when both parts are plain
  // base64url this is the same result JSON.parse would give. Anything else takes the general path.
  if (text.startsWith(SEALED_HEAD) && text.endsWith('"}')) {
    const mid = text.indexOf(SEALED_MID, SEALED_HEAD.length);
    if (mid > 0) {
      const ct = text.slice(SEALED_HEAD.length, mid);
      const n = text.slice(mid + SEALED_MID.length, text.length - 2);
      if (B64URL_RE.test(ct) && B64URL_RE.test(n)) return sealedPayload(ct, n, true);
    }
  }
  const o = parseJsonObject(text, ['ct', 'n'], 'ISO-4002');
  return sealedPayload(o.ct, o.n, false);
}

function sealedPayload(ctText: unknown, nText: unknown, alphabetChecked: boolean): SealedPayload {
  const n = unb64(nText, 'ISO-4002', AEAD_NONCE_BYTES, 'n', alphabetChecked);
  const ct = unb64(ctText, 'ISO-4002', undefined, 'ct', alphabetChecked);
  if (ct.length < 16) fail('ISO-4002', 'ct shorter than the AEAD tag');
  return { n, ct };
}

/** Header form `n.ct` for methods without a body. */
export function encodeSealedHeader(p: SealedPayload): string {
  return `${b64(p.n)}.${b64(p.ct)}`;
}

export function decodeSealedHeader(text: string): SealedPayload {
  const dot = text.indexOf('.');
  if (dot < 0) fail('ISO-4002', 'payload header must be n.ct');
  const n = unb64(text.slice(0, dot), 'ISO-4002', AEAD_NONCE_BYTES, 'n');
  const ct = unb64(text.slice(dot + 1), 'ISO-4002', undefined, 'ct');
  if (ct.length < 16) fail('ISO-4002', 'ct shorter than the AEAD tag');
  return { n, ct };
}

/** Fields covered by a request MAC (nen.md section 5). */
export interface RequestMacFields {
  sid: Uint8Array;
  method: string;
  /** Path and query exactly as sent: `/api/x?a=1`. */
  target: string;
  timestamp: number;
  nonce: Uint8Array;
  /** The bytes that carry the envelope (body, or the X-Nen-Payload header value). */
  payload: Uint8Array;
}

/**
 * Canonical CBOR of a flat array of ASCII strings, byte strings, non-negative safe integers and null:
 * byte for byte what `encode` of @yak/crypto produces (shortest heads, RFC 8949 section 4.2.1),
 * without its general machinery, for the MAC and AAD inputs built on every message. Any other
 * value goes to `encode` itself.
 */
export function encodeFlat(items: ReadonlyArray<string | Uint8Array | number | null>): Uint8Array {
  let size = 1;
  for (const it of items) {
    if (it === null) size += 1;
    else if (typeof it === 'string') {
      for (let i = 0; i < it.length; i++) if (it.charCodeAt(i) > 0x7f) return encode(items as Array<string | Uint8Array | number | null>);
      size += 9 + it.length;
    } else if (it instanceof Uint8Array) size += 9 + it.length;
    else if (Number.isSafeInteger(it) && it >= 0) size += 9;
    else return encode(items as Array<string | Uint8Array | number | null>);
  }
  if (items.length >= 24) return encode(items as Array<string | Uint8Array | number | null>);
  const out = new Uint8Array(size);
  out[0] = 0x80 | items.length;
  let o = 1;
  for (const it of items) {
    if (it === null) out[o++] = 0xf6;
    else if (typeof it === 'number') o = cborHead(out, o, 0, it);
    else if (typeof it === 'string') {
      o = cborHead(out, o, 3, it.length);
      for (let i = 0; i < it.length; i++) out[o++] = it.charCodeAt(i);
    } else {
      o = cborHead(out, o, 2, it.length);
      out.set(it, o);
      o += it.length;
    }
  }
  return out.subarray(0, o);
}

/** Shortest CBOR head for major type `major` and argument `n` at `o`; returns the next offset. */
function cborHead(out: Uint8Array, o: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[o] = m | n;
    return o + 1;
  }
  if (n < 0x100) {
    out[o] = m | 24;
    out[o + 1] = n;
    return o + 2;
  }
  if (n < 0x10000) {
    out[o] = m | 25;
    out[o + 1] = n >>> 8;
    out[o + 2] = n & 0xff;
    return o + 3;
  }
  if (n < 0x100000000) {
    out[o] = m | 26;
    out[o + 1] = n >>> 24;
    out[o + 2] = (n >>> 16) & 0xff;
    out[o + 3] = (n >>> 8) & 0xff;
    out[o + 4] = n & 0xff;
    return o + 5;
  }
  out[o] = m | 27;
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  out[o + 1] = hi >>> 24;
  out[o + 2] = (hi >>> 16) & 0xff;
  out[o + 3] = (hi >>> 8) & 0xff;
  out[o + 4] = hi & 0xff;
  out[o + 5] = lo >>> 24;
  out[o + 6] = (lo >>> 16) & 0xff;
  out[o + 7] = (lo >>> 8) & 0xff;
  out[o + 8] = lo & 0xff;
  return o + 9;
}

// Nonces are public values, so they are drawn from a pool filled by the system RNG in 4 KiB
// steps: one RNG call per ~150 messages instead of two or three per message.
const POOL_BYTES = 4096;
let pool: Uint8Array = new Uint8Array(0);
let poolAt = 0;

/** `n` fresh random bytes for a public nonce (never for keys). */
export function nonceBytes(n: number): Uint8Array {
  if (n > POOL_BYTES) return randomBytes(n);
  if (poolAt + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  // Each byte is handed out once (the offset only moves forward).
  const out = pool.slice(poolAt, poolAt + n);
  poolAt += n;
  return out;
}

/**
 * MAC input: CBOR [label, sid, method, target, timestamp, nonce, SHA-256(payload)]. Unlike the
 * seed's `METHOD\nPATH\nTIMESTAMP\nNONCE`, it covers the query, the session and the body.
 */
export function requestMacInput(f: RequestMacFields): Uint8Array {
  return encodeFlat([LABEL.request, f.sid, f.method, f.target, f.timestamp, f.nonce, sha256(f.payload)]);
}

/** AAD of a request envelope: binds the ciphertext to the request line and headers too. */
export function requestAad(f: Omit<RequestMacFields, 'payload'>): Uint8Array {
  return encodeFlat([LABEL.requestBody, f.sid, f.method, f.target, f.timestamp, f.nonce]);
}

/** AAD of a response: bound to the request's MAC, so it answers exactly one request. */
export function responseAad(sid: Uint8Array, requestMac: Uint8Array): Uint8Array {
  return encodeFlat([LABEL.response, sid, requestMac]);
}

/** MAC input of an error response (nen.md section 8). */
export function errorMacInput(sid: Uint8Array, requestMac: Uint8Array, status: number, code: string): Uint8Array {
  return encodeFlat([LABEL.error, sid, requestMac, status, code]);
}

/** Inner request: application headers and body, encrypted together. */
export interface RequestEnvelope {
  headers: Array<[string, string]>;
  body: Uint8Array;
}

/** Inner response: status, headers and body, encrypted together. */
export interface ResponseEnvelope extends RequestEnvelope {
  status: number;
}

// Envelopes use a fixed binary layout (SPEC section 2 allows CBOR or a fixed layout): they are
// on every request and response, and the layout is several times cheaper than CBOR for kilobyte
// bodies (nen.md section 5):
//   kind (1: request, 2: response) || [u16be status] || u16be header count ||
//   count x (u8 name length || name || u16be value length || value) || body
const ENV_REQUEST = 1;
const ENV_RESPONSE = 2;
const textEnc = new TextEncoder();
const textDec = new TextDecoder('utf-8', { fatal: true });
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const HEADER_VALUE_BAD = /[\r\n\0]/;

const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
};

function encodeEnvelope(kind: number, status: number, headers: Array<[string, string]>, body: Uint8Array): Uint8Array {
  if (headers.length > MAX_HEADERS) throw new RangeError(`at most ${MAX_HEADERS} headers`);
  // Header text is almost always ASCII, written here character by character; anything else is
  // encoded as UTF-8 first. Each entry is [name, value] as strings or bytes.
  const parts: Array<string | Uint8Array> = [];
  let size = 0;
  for (const [k, v] of headers) {
    const kb = isAscii(k) ? k : textEnc.encode(k);
    const vb = isAscii(v) ? v : textEnc.encode(v);
    if (kb.length > 255 || vb.length > 0xffff) throw new RangeError('header too large');
    parts.push(kb, vb);
    size += 3 + kb.length + vb.length;
  }
  const head = kind === ENV_RESPONSE ? 5 : 3;
  const out = new Uint8Array(head + size + body.length);
  out[0] = kind;
  if (kind === ENV_RESPONSE) {
    out[1] = status >>> 8;
    out[2] = status & 0xff;
  }
  out[head - 2] = headers.length >>> 8;
  out[head - 1] = headers.length & 0xff;
  let o = head;
  const put = (x: string | Uint8Array) => {
    if (typeof x === 'string') for (let j = 0; j < x.length; j++) out[o++] = x.charCodeAt(j);
    else {
      out.set(x, o);
      o += x.length;
    }
  };
  for (let i = 0; i < parts.length; i += 2) {
    const kb = parts[i] as string | Uint8Array;
    const vb = parts[i + 1] as string | Uint8Array;
    out[o++] = kb.length;
    put(kb);
    out[o++] = vb.length >>> 8;
    out[o++] = vb.length & 0xff;
    put(vb);
  }
  out.set(body, o);
  return out;
}

function decodeEnvelope(bytes: Uint8Array, kind: number): ResponseEnvelope {
  const bad = (why: string): never => fail('ISO-4004', `envelope: ${why}`);
  const head = kind === ENV_RESPONSE ? 5 : 3;
  if (bytes.length < head || bytes[0] !== kind) bad('kind');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const status = kind === ENV_RESPONSE ? dv.getUint16(1) : 200;
  if (status < 200 || status > 599) bad('status');
  const count = dv.getUint16(head - 2);
  if (count > MAX_HEADERS) bad('too many headers');
  const headers: Array<[string, string]> = [];
  let o = head;
  let total = 0;
  for (let i = 0; i < count; i++) {
    if (o + 1 > bytes.length) bad('truncated');
    const kl = bytes[o] as number;
    if (o + 1 + kl + 2 > bytes.length) bad('truncated');
    const vl = dv.getUint16(o + 1 + kl);
    if (o + 3 + kl + vl > bytes.length) bad('truncated');
    total += kl + vl;
    if (total > MAX_HEADER_TEXT) bad('headers too large');
    let k = '';
    let v = '';
    try {
      k = textDec.decode(bytes.subarray(o + 1, o + 1 + kl));
      v = textDec.decode(bytes.subarray(o + 3 + kl, o + 3 + kl + vl));
    } catch {
      bad('header is not UTF-8');
    }
    if (!HEADER_NAME_RE.test(k)) bad('bad header name');
    if (HEADER_VALUE_BAD.test(v)) bad('bad header value');
    headers.push([k, v]);
    o += 3 + kl + vl;
  }
  return { status, headers, body: bytes.subarray(o) };
}

export function encodeRequestEnvelope(e: RequestEnvelope): Uint8Array {
  return encodeEnvelope(ENV_REQUEST, 0, e.headers, e.body);
}

export function decodeRequestEnvelope(bytes: Uint8Array): RequestEnvelope {
  const { headers, body } = decodeEnvelope(bytes, ENV_REQUEST);
  return { headers, body };
}

export function encodeResponseEnvelope(e: ResponseEnvelope): Uint8Array {
  if (!Number.isInteger(e.status) || e.status < 200 || e.status > 599) throw new RangeError('status must be 200..599');
  return encodeEnvelope(ENV_RESPONSE, e.status, e.headers, e.body);
}

export function decodeResponseEnvelope(bytes: Uint8Array): ResponseEnvelope {
  return decodeEnvelope(bytes, ENV_RESPONSE);
}

/** Body of an error response (nen.md section 8). */
export interface ErrorBody {
  code: string;
  reason: string;
  message: string;
}

export function encodeErrorBody(e: ErrorBody): string {
  return JSON.stringify({ error: { code: e.code, reason: e.reason, message: e.message } });
}

/** Parse an error body; undefined when it is not one. */
export function decodeErrorBody(text: string): ErrorBody | undefined {
  try {
    const v = JSON.parse(text) as { error?: { code?: unknown; reason?: unknown; message?: unknown } };
    const e = v?.error;
    if (!e || typeof e.code !== 'string' || typeof e.reason !== 'string' || typeof e.message !== 'string') return undefined;
    return { code: e.code, reason: e.reason, message: e.message };
  } catch {
    return undefined;
  }
}

/** UTF-8 bytes of a string (re-exported for the codecs above). */
export { utf8 };
