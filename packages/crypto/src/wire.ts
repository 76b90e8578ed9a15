// Fixed binary layouts (SPEC section 2, "Encoding": a fixed binary layout is one of the two
// canonical encodings). One bounds-checked reader and one writer for every package's frames:
// the reader rejects truncation and (with end()) trailing bytes; both are big-endian.
import { EncodingError } from './errors.js';

function malformed(why: string): EncodingError {
  return new EncodingError('YAK_CRYPTO_DECODE', why);
}

/** Reads a fixed layout from bytes; every read is bounds-checked. Views, never copies. */
export class ByteReader {
  #o = 0;
  constructor(readonly buf: Uint8Array) {
    if (!(buf instanceof Uint8Array)) throw new TypeError('buf must be a Uint8Array');
  }

  get offset(): number {
    return this.#o;
  }

  get remaining(): number {
    return this.buf.length - this.#o;
  }

  u8(): number {
    if (this.#o + 1 > this.buf.length) throw malformed('truncated');
    return this.buf[this.#o++] as number;
  }

  u16(): number {
    if (this.#o + 2 > this.buf.length) throw malformed('truncated');
    const b = this.buf;
    const v = ((b[this.#o] as number) << 8) | (b[this.#o + 1] as number);
    this.#o += 2;
    return v;
  }

  u32(): number {
    if (this.#o + 4 > this.buf.length) throw malformed('truncated');
    const b = this.buf;
    const o = this.#o;
    this.#o += 4;
    return ((b[o] as number) * 0x1000000 + (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number))) >>> 0;
  }

  /** A 64-bit unsigned integer that must be a safe integer (at most 2^53 - 1). */
  u53(): number {
    const hi = this.u32();
    const lo = this.u32();
    if (hi > 0x1f_ffff) throw malformed('integer out of range');
    return hi * 0x1_0000_0000 + lo;
  }

  /** Exactly `n` bytes, as a view. */
  bytes(n: number): Uint8Array {
    if (!Number.isInteger(n) || n < 0 || this.#o + n > this.buf.length) throw malformed('truncated');
    const v = this.buf.subarray(this.#o, this.#o + n);
    this.#o += n;
    return v;
  }

  /** u8 length then that many bytes; the length must be within [min, max]. */
  vec8(min = 0, max = 0xff): Uint8Array {
    const n = this.u8();
    if (n < min || n > max) throw malformed('length out of range');
    return this.bytes(n);
  }

  /** u16 length then that many bytes; the length must be within [min, max]. */
  vec16(min = 0, max = 0xffff): Uint8Array {
    const n = this.u16();
    if (n < min || n > max) throw malformed('length out of range');
    return this.bytes(n);
  }

  /** Everything not read yet. */
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /** Reject trailing bytes (SPEC section 2: decoders reject trailing bytes). */
  end(): void {
    if (this.#o !== this.buf.length) throw malformed('trailing bytes');
  }
}

/**
 * Writes a fixed layout. Give the exact size when it is known (one allocation, and `finish()`
 * returns that buffer itself), or `into` to write into a caller's buffer; without either it
 * grows as needed.
 */
export class ByteWriter {
  #buf: Uint8Array;
  #o = 0;
  readonly #fixed: boolean;

  constructor(size?: number, into?: Uint8Array) {
    if (into !== undefined) {
      if (size === undefined || into.length < size) throw new RangeError('into is smaller than size');
      this.#buf = into.subarray(0, size);
      this.#fixed = true;
    } else {
      this.#buf = new Uint8Array(size ?? 64);
      this.#fixed = size !== undefined;
    }
  }

  get offset(): number {
    return this.#o;
  }

  #room(n: number): void {
    if (this.#o + n <= this.#buf.length) return;
    if (this.#fixed) throw new RangeError(`writer overflow: ${this.#o + n} > ${this.#buf.length}`);
    let size = this.#buf.length * 2;
    while (size < this.#o + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#o));
    this.#buf = next;
  }

  u8(v: number): this {
    this.#room(1);
    this.#buf[this.#o++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.#room(2);
    this.#buf[this.#o++] = (v >>> 8) & 0xff;
    this.#buf[this.#o++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.#room(4);
    const b = this.#buf;
    b[this.#o++] = v >>> 24;
    b[this.#o++] = (v >>> 16) & 0xff;
    b[this.#o++] = (v >>> 8) & 0xff;
    b[this.#o++] = v & 0xff;
    return this;
  }

  /** A safe integer as 64-bit big-endian. */
  u53(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError('u53 value must be a non-negative safe integer');
    return this.u32(Math.floor(v / 0x1_0000_0000)).u32(v >>> 0);
  }

  raw(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#o);
    this.#o += b.length;
    return this;
  }

  vec8(b: Uint8Array): this {
    if (b.length > 0xff) throw new RangeError('vec8 value longer than 255 bytes');
    return this.u8(b.length).raw(b);
  }

  vec16(b: Uint8Array): this {
    if (b.length > 0xffff) throw new RangeError('vec16 value longer than 65535 bytes');
    return this.u16(b.length).raw(b);
  }

  /**
   * The written bytes. A writer of fixed size must be filled exactly (a size mismatch is a bug
   * in the caller's layout arithmetic, never input-dependent); a growing one returns a copy of
   * exactly what was written.
   */
  finish(): Uint8Array {
    if (this.#fixed) {
      if (this.#o !== this.#buf.length) throw new RangeError(`writer size mismatch: ${this.#o} of ${this.#buf.length}`);
      return this.#buf;
    }
    return this.#buf.slice(0, this.#o);
  }
}
