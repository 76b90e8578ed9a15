// Canonical encoding for everything YAK signs or hashes (SPEC section 2, "Encoding"):
// deterministically encoded CBOR (RFC 8949 section 4.2.1, "core deterministic encoding").
// Supported: null, booleans, integers (safe numbers and bigint in the 64-bit CBOR range), byte
// strings, text strings, arrays and maps with text keys. Floats, tags, undefined and indefinite
// lengths are not: a value has exactly one encoding and the decoder accepts only that encoding.
import { abytes } from './assert.js';
import { EncodingError } from './errors.js';

/** A value the canonical encoding can carry. */
export type CborValue = null | boolean | number | bigint | string | Uint8Array | CborValue[] | { [key: string]: CborValue | undefined };

export interface DecodeOptions {
  /** Maximum nesting depth (default 32). */
  maxDepth?: number;
  /** Maximum input length in bytes (default 16 MiB). */
  maxLength?: number;
  /** Maximum number of items in one array or map (default 65536). */
  maxItems?: number;
}

const MAX_DEPTH = 32;
const MAX_LENGTH = 16 * 1024 * 1024;
const MAX_ITEMS = 65536;
const U64_MAX = (1n << 64n) - 1n;

const textEncoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF as text instead of silently dropping it (one value, one encoding).
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// With the u flag a surrogate pair is one code point, so only unpaired surrogates match.
const LONE_SURROGATE = /\p{Surrogate}/u;

class Writer {
  buf = new Uint8Array(256);
  len = 0;
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  // Shortest head for major type `mt` and argument `n` (RFC 8949 section 4.2.1, preferred serialization).
  head(mt: number, n: number | bigint): void {
    const m = mt << 5;
    if (typeof n === 'number' && n < 24) return this.byte(m | n);
    const v = BigInt(n);
    if (v < 0x100n) {
      this.byte(m | 24);
      this.byte(Number(v));
    } else if (v < 0x10000n) {
      this.byte(m | 25);
      this.byte(Number(v >> 8n));
      this.byte(Number(v & 0xffn));
    } else if (v < 0x100000000n) {
      this.byte(m | 26);
      this.ensure(4);
      new DataView(this.buf.buffer).setUint32(this.len, Number(v));
      this.len += 4;
    } else {
      this.byte(m | 27);
      this.ensure(8);
      new DataView(this.buf.buffer).setBigUint64(this.len, v);
      this.len += 8;
    }
  }
}

/** Encode a value canonically. Throws `EncodingError` (YAK_CRYPTO_ENCODE) on unsupported values. */
export function encode(value: CborValue): Uint8Array {
  const w = new Writer();
  write(w, value, 0);
  return w.buf.slice(0, w.len);
}

function write(w: Writer, v: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new EncodingError('YAK_CRYPTO_ENCODE', 'value nested too deeply');
  if (v === null) return w.byte(0xf6);
  if (v === false) return w.byte(0xf4);
  if (v === true) return w.byte(0xf5);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new EncodingError('YAK_CRYPTO_ENCODE', 'only safe integers are encodable (no floats)');
    return v >= 0 ? w.head(0, v) : w.head(1, -1 - v);
  }
  if (typeof v === 'bigint') {
    if (v >= 0n) {
      if (v > U64_MAX) throw new EncodingError('YAK_CRYPTO_ENCODE', 'integer out of 64-bit range');
      return w.head(0, v);
    }
    const n = -1n - v;
    if (n > U64_MAX) throw new EncodingError('YAK_CRYPTO_ENCODE', 'integer out of 64-bit range');
    return w.head(1, n);
  }
  if (typeof v === 'string') {
    // A lone surrogate would be replaced by U+FFFD, so two different strings would share one
    // encoding; refuse it instead (RFC 8949 section 3.1: text strings are valid UTF-8).
    if (LONE_SURROGATE.test(v)) throw new EncodingError('YAK_CRYPTO_ENCODE', 'string is not well-formed Unicode (lone surrogate)');
    const b = textEncoder.encode(v);
    w.head(3, b.length);
    return w.bytes(b);
  }
  if (v instanceof Uint8Array) {
    w.head(2, v.length);
    return w.bytes(v);
  }
  if (Array.isArray(v)) {
    w.head(4, v.length);
    for (const item of v) write(w, item, depth + 1);
    return;
  }
  if (typeof v === 'object' && isPlainObject(v)) {
    const entries: Array<[Uint8Array, unknown]> = [];
    for (const k of Object.keys(v)) {
      const val = (v as Record<string, unknown>)[k];
      if (val === undefined) continue;
      const kw = new Writer();
      write(kw, k, depth + 1);
      entries.push([kw.buf.slice(0, kw.len), val]);
    }
    // Map keys sorted by the bytewise lexicographic order of their encodings (section 4.2.1).
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    w.head(5, entries.length);
    for (const [k, val] of entries) {
      w.bytes(k);
      write(w, val, depth + 1);
    }
    return;
  }
  throw new EncodingError('YAK_CRYPTO_ENCODE', `unsupported value of type ${typeof v}`);
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/**
 * Decode canonical CBOR. Rejects (EncodingError YAK_CRYPTO_DECODE): trailing bytes, truncation,
 * non-shortest integer or length heads, indefinite lengths, floats, tags, unsorted or duplicate
 * map keys, non-text map keys, invalid UTF-8, and inputs over the size, depth or item limits.
 */
export function decode(bytes: Uint8Array, opts: DecodeOptions = {}): CborValue {
  abytes(bytes, 'bytes');
  const maxLength = opts.maxLength ?? MAX_LENGTH;
  if (bytes.length > maxLength) throw new EncodingError('YAK_CRYPTO_DECODE', `input of ${bytes.length} bytes exceeds ${maxLength}`);
  const r = new Reader(bytes, opts.maxDepth ?? MAX_DEPTH, opts.maxItems ?? MAX_ITEMS);
  const v = r.item(0);
  if (r.pos !== bytes.length) throw new EncodingError('YAK_CRYPTO_DECODE', 'trailing bytes after value');
  return v;
}

class Reader {
  pos = 0;
  private readonly view: DataView;
  constructor(
    private readonly b: Uint8Array,
    private readonly maxDepth: number,
    private readonly maxItems: number,
  ) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  private fail(msg: string): never {
    throw new EncodingError('YAK_CRYPTO_DECODE', `${msg} at offset ${this.pos}`);
  }
  private need(n: number): void {
    if (this.pos + n > this.b.length) this.fail('truncated input');
  }
  // Reads a head's argument; enforces the shortest form.
  private arg(info: number): bigint {
    if (info < 24) return BigInt(info);
    let v: bigint;
    let min: bigint;
    if (info === 24) {
      this.need(1);
      v = BigInt(this.b[this.pos] as number);
      this.pos += 1;
      min = 24n;
    } else if (info === 25) {
      this.need(2);
      v = BigInt(this.view.getUint16(this.pos));
      this.pos += 2;
      min = 0x100n;
    } else if (info === 26) {
      this.need(4);
      v = BigInt(this.view.getUint32(this.pos));
      this.pos += 4;
      min = 0x10000n;
    } else if (info === 27) {
      this.need(8);
      v = this.view.getBigUint64(this.pos);
      this.pos += 8;
      min = 0x100000000n;
    } else {
      this.fail(info === 31 ? 'indefinite length not allowed' : 'reserved additional information');
    }
    if (v < min) this.fail('non-canonical (not shortest) head');
    return v;
  }
  private length(info: number): number {
    const n = this.arg(info);
    // Every byte, array item or map entry takes at least one input byte.
    if (n > BigInt(this.b.length - this.pos)) this.fail('length exceeds input');
    return Number(n);
  }
  item(depth: number): CborValue {
    if (depth > this.maxDepth) this.fail('nesting exceeds maxDepth');
    this.need(1);
    const ib = this.b[this.pos++] as number;
    const mt = ib >> 5;
    const info = ib & 31;
    switch (mt) {
      case 0: {
        const v = this.arg(info);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 1: {
        const v = -1n - this.arg(info);
        return v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
      }
      case 2: {
        const n = this.length(info);
        this.need(n);
        const out = this.b.slice(this.pos, this.pos + n);
        this.pos += n;
        return out;
      }
      case 3: {
        const n = this.length(info);
        this.need(n);
        let s: string;
        try {
          s = textDecoder.decode(this.b.subarray(this.pos, this.pos + n));
        } catch {
          this.fail('invalid UTF-8 in text string');
        }
        this.pos += n;
        return s;
      }
      case 4: {
        const n = this.length(info);
        if (n > this.maxItems) this.fail('array exceeds maxItems');
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.length(info);
        if (n > this.maxItems) this.fail('map exceeds maxItems');
        const entries: Array<[string, CborValue]> = [];
        let prevKey: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const start = this.pos;
          this.need(1);
          if ((this.b[this.pos] as number) >> 5 !== 3) this.fail('map key is not a text string');
          const k = this.item(depth + 1) as string;
          const kb = this.b.subarray(start, this.pos);
          if (prevKey && compareBytes(prevKey, kb) >= 0) this.fail('map keys unsorted or duplicated');
          prevKey = kb;
          entries.push([k, this.item(depth + 1)]);
        }
        // fromEntries defines own data properties, so a "__proto__" key cannot pollute prototypes.
        return Object.fromEntries(entries);
      }
      case 7: {
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        return this.fail('unsupported simple value or float');
      }
      default:
        return this.fail('tags are not allowed');
    }
  }
}
