// Application payloads and the plaintext inside encrypted envelopes (docs/protocol/annex.md
// section 5). A payload is bytes, a string or a JSON value; it is encoded once into a message
// body, which travels in one envelope or, when larger than the chunk size, in numbered chunks.
import type { SafeJsonParser } from '@yak/defense';
import { InvalidArgumentError, PayloadTooLargeError } from './errors.js';
import { Reader, WireError, Writer } from './wire.js';

/** A payload as `send` accepts it and handlers receive it. */
export type AnnexPayload = Uint8Array | string | AnnexJson;
/** Any JSON value (objects, arrays, strings, numbers, booleans, null). */
export type AnnexJson = null | boolean | number | string | AnnexJson[] | { [key: string]: AnnexJson };

export const PayloadType = { BYTES: 0, STRING: 1, JSON: 2 } as const;

/** First byte of the plaintext of an `annex:encrypted` envelope. */
export const InnerKind = {
  /** Handshake message 3 (initiator key confirmation). Empty. */
  FINISH: 0,
  /** Handshake message 4 (responder key confirmation). Empty. */
  CONFIRM: 1,
  /** A whole message body. */
  DATA: 2,
  /** One chunk of a message body. */
  CHUNK: 3,
  /** Several whole message bodies: u16 count, then u32 length and body for each. */
  BATCH: 4,
} as const;

/** Inner plaintext of `annex:rekey`. */
export const RekeyPhase = { OFFER: 1, ACCEPT: 2 } as const;

/** Reason byte inside an authenticated `annex:close`. */
export const CloseReason = { CLOSED: 0, EXPIRED: 1, REKEY_FAILED: 2, STOPPING: 3, REPLACED: 4 } as const;

/** ML-DSA-65 signature length (FIPS 204). */
export const SIG_BYTES = 3309;
/** timestamp u64 + payload type u8 + signature length u16. */
const BODY_HEADER = 11;
/** kind u8 + message id u32 + index u32 + count u32 + total length u32. */
export const CHUNK_HEADER = 17;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Encode a payload; throws TypeError for unsupported values, PayloadTooLargeError above `max`. */
export function encodePayload(payload: unknown, max: number): { type: number; bytes: Uint8Array } {
  if (payload instanceof Uint8Array) {
    if (payload.length > max) throw new PayloadTooLargeError(payload.length, max);
    return { type: PayloadType.BYTES, bytes: payload };
  }
  if (typeof payload === 'string') {
    // UTF-8 is at most 3 bytes per UTF-16 unit: refuse huge strings before encoding them.
    if (payload.length > max) throw new PayloadTooLargeError(payload.length, max);
    const bytes = enc.encode(payload);
    if (bytes.length > max) throw new PayloadTooLargeError(bytes.length, max);
    return { type: PayloadType.STRING, bytes };
  }
  if (payload === undefined || typeof payload === 'function' || typeof payload === 'symbol' || typeof payload === 'bigint') {
    throw new TypeError('payload must be a Uint8Array, a string or a JSON value');
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(payload);
  } catch {
    throw new TypeError('payload must be JSON-serialisable');
  }
  if (json === undefined) throw new TypeError('payload must be JSON-serialisable');
  if (json.length > max) throw new PayloadTooLargeError(json.length, max);
  const bytes = enc.encode(json);
  if (bytes.length > max) throw new PayloadTooLargeError(bytes.length, max);
  return { type: PayloadType.JSON, bytes };
}

/** Decode a payload; undefined when malformed (invalid UTF-8, unsafe or invalid JSON). */
export function decodePayload(type: number, bytes: Uint8Array, json: SafeJsonParser): AnnexPayload | undefined {
  switch (type) {
    case PayloadType.BYTES:
      // A view into the freshly decrypted plaintext, which nothing else references: no copy.
      return bytes;
    case PayloadType.STRING:
      try {
        return dec.decode(bytes);
      } catch {
        return undefined;
      }
    case PayloadType.JSON: {
      const r = json.parse(bytes);
      return r.success ? (r.data as AnnexJson) : undefined;
    }
    default:
      return undefined;
  }
}

/** A message body: timestamp, payload type, optional signature, payload. */
export interface MessageBody {
  timestamp: number;
  type: number;
  signature?: Uint8Array;
  payload: Uint8Array;
}

export function bodyLength(payloadLength: number, signed: boolean): number {
  return BODY_HEADER + (signed ? SIG_BYTES : 0) + payloadLength;
}

function writeBodyHead(w: Writer, b: Omit<MessageBody, 'payload'>, prefix: number): Writer {
  const sig = b.signature;
  for (let i = 0; i < prefix; i++) w.u8(0);
  w.u53(b.timestamp)
    .u8(b.type)
    .u16(sig ? sig.length : 0);
  if (sig) w.raw(sig);
  return w;
}

/**
 * The bytes of a body before its payload (timestamp, payload type, signature), after `prefix`
 * bytes of space for a kind byte. Sealed together with the payload as separate AEAD parts, so the
 * payload is never copied into a plaintext buffer (section 5.3).
 */
export function encodeBodyHead(b: Omit<MessageBody, 'payload'>, prefix: number): Uint8Array {
  const n = prefix + BODY_HEADER + (b.signature ? b.signature.length : 0);
  return writeBodyHead(new Writer(n), b, prefix).finish();
}

/** A whole body in one buffer, after `prefix` bytes of space (batched small messages). */
export function encodeBody(b: MessageBody, prefix: number): Uint8Array {
  const n = prefix + bodyLength(b.payload.length, b.signature !== undefined);
  return writeBodyHead(new Writer(n), b, prefix).raw(b.payload).finish();
}

export function decodeBody(bytes: Uint8Array): MessageBody {
  const r = new Reader(bytes);
  const timestamp = r.u53();
  const type = r.u8();
  if (type > PayloadType.JSON) throw new WireError('unknown payload type');
  const sigLen = r.u16();
  if (sigLen !== 0 && sigLen !== SIG_BYTES) throw new WireError('bad signature length');
  const body: MessageBody = { timestamp, type, payload: new Uint8Array(0) };
  if (sigLen) body.signature = r.bytes(sigLen);
  body.payload = r.rest();
  return body;
}

/** A chunk header as carried after the CHUNK kind byte. */
export interface ChunkHeader {
  messageId: number;
  index: number;
  count: number;
  total: number;
}

export function decodeChunk(pt: Uint8Array): { header: ChunkHeader; data: Uint8Array } {
  const r = new Reader(pt);
  r.u8();
  const header = { messageId: r.u32(), index: r.u32(), count: r.u32(), total: r.u32() };
  const data = r.rest();
  if (header.count < 2 || header.index >= header.count || data.length === 0 || header.total < header.count) {
    throw new WireError('bad chunk header');
  }
  return { header, data };
}

/**
 * Split a body, given as consecutive parts, into the plaintexts of its chunks: each a list of
 * parts (chunk header, then views into the body parts) of at most `chunkBytes` body bytes, for
 * `Aead.sealParts`. No body byte is copied.
 */
export function chunkParts(body: readonly Uint8Array[], chunkBytes: number, messageId: number): Uint8Array[][] {
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) throw new InvalidArgumentError('chunkBytes must be a positive integer');
  let total = 0;
  for (const p of body) total += p.length;
  const count = Math.ceil(total / chunkBytes);
  const out: Uint8Array[][] = [];
  let part = 0;
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const header = new Writer(CHUNK_HEADER).u8(InnerKind.CHUNK).u32(messageId).u32(i).u32(count).u32(total).finish();
    const chunk: Uint8Array[] = [header];
    let need = Math.min(chunkBytes, total - i * chunkBytes);
    while (need > 0) {
      const p = body[part] as Uint8Array;
      const take = Math.min(need, p.length - offset);
      if (take > 0) chunk.push(p.subarray(offset, offset + take));
      need -= take;
      offset += take;
      if (offset === p.length) {
        part++;
        offset = 0;
      }
    }
    out.push(chunk);
  }
  return out;
}

/** BATCH plaintext: kind, u16 count (at least 2), then u32 length and body for each. */
export function encodeBatch(bodies: Uint8Array[]): Uint8Array {
  if (bodies.length < 2 || bodies.length > 0xffff) throw new RangeError('a batch holds 2..65535 bodies');
  let n = 3;
  for (const b of bodies) n += 4 + b.length;
  const w = new Writer(n);
  w.u8(InnerKind.BATCH).u16(bodies.length);
  for (const b of bodies) w.u32(b.length).raw(b);
  return w.finish();
}

/**
 * The plaintext of the envelope that carries small messages sent in one tick (section 5.2), built
 * in place: each body is written once, straight after its length, into one growing buffer. With
 * one body it is sealed as DATA, with several as BATCH (same bytes as {@link encodeBatch}).
 */
export class BatchPlaintext {
  #buf: Uint8Array;
  /** Bytes used, kind and count included. */
  bytes = 3;
  count = 0;

  constructor(
    firstBody: number,
    readonly max: number,
  ) {
    this.#buf = new Uint8Array(Math.min(max, Math.max(4096, 4 * (7 + firstBody))));
  }

  /** Whether a body of `bodyLen` bytes still fits under `max`. */
  fits(bodyLen: number): boolean {
    return this.bytes + 4 + bodyLen <= this.max;
  }

  add(b: MessageBody): void {
    if (this.count === 0xffff) throw new RangeError('a batch holds at most 65535 bodies');
    const len = bodyLength(b.payload.length, b.signature !== undefined);
    const need = this.bytes + 4 + len;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, Math.min(this.max, 4 * this.#buf.length)));
      grown.set(this.#buf.subarray(0, this.bytes));
      this.#buf = grown;
    }
    const w = new Writer(4 + len, this.#buf.subarray(this.bytes, need));
    writeBodyHead(w.u32(len), b, 0).raw(b.payload).finish();
    this.bytes = need;
    this.count++;
  }

  /** The plaintext as AEAD parts; valid until the next `add`. */
  parts(): Uint8Array[] {
    if (this.count === 1) return [DATA_KIND, this.#buf.subarray(7, this.bytes)];
    this.#buf[0] = InnerKind.BATCH;
    this.#buf[1] = this.count >>> 8;
    this.#buf[2] = this.count & 0xff;
    return [this.#buf.subarray(0, this.bytes)];
  }
}

const DATA_KIND = Uint8Array.of(InnerKind.DATA);

/** Parse a BATCH plaintext into views of its bodies; throws WireError when malformed. */
export function decodeBatch(pt: Uint8Array): Uint8Array[] {
  const r = new Reader(pt);
  if (r.u8() !== InnerKind.BATCH) throw new WireError('not a batch');
  const count = r.u16();
  if (count < 2) throw new WireError('batch of fewer than two messages');
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(r.bytes(r.u32()));
  r.end();
  return out;
}
