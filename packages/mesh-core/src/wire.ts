// Fixed binary layouts (SPEC section 2, "Encoding"): a bounds-checked reader that rejects
// short input and trailing bytes, and a writer. Every decoder in the package uses these.

/** Malformed bytes from the network. Internal: callers turn it into a protocol failure. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export class Reader {
  #o = 0;
  constructor(readonly buf: Uint8Array) {}

  get offset(): number {
    return this.#o;
  }

  get remaining(): number {
    return this.buf.length - this.#o;
  }

  u8(): number {
    if (this.#o + 1 > this.buf.length) throw new WireError('truncated');
    return this.buf[this.#o++] as number;
  }

  u16(): number {
    if (this.#o + 2 > this.buf.length) throw new WireError('truncated');
    const b = this.buf;
    const v = ((b[this.#o] as number) << 8) | (b[this.#o + 1] as number);
    this.#o += 2;
    return v;
  }

  u32(): number {
    if (this.#o + 4 > this.buf.length) throw new WireError('truncated');
    const b = this.buf;
    const o = this.#o;
    const v = ((b[o] as number) * 0x1000000 + (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number))) >>> 0;
    this.#o += 4;
    return v;
  }

  /** Exactly `n` bytes, as a view (no copy). */
  bytes(n: number): Uint8Array {
    if (!Number.isInteger(n) || n < 0 || this.#o + n > this.buf.length) throw new WireError('truncated');
    const v = this.buf.subarray(this.#o, this.#o + n);
    this.#o += n;
    return v;
  }

  /** u8 length then bytes, length within [min, max]. */
  vec8(min: number, max: number): Uint8Array {
    const n = this.u8();
    if (n < min || n > max) throw new WireError('length out of range');
    return this.bytes(n);
  }

  /** u16 length then bytes, length within [min, max]. */
  vec16(min: number, max: number): Uint8Array {
    const n = this.u16();
    if (n < min || n > max) throw new WireError('length out of range');
    return this.bytes(n);
  }

  /** Everything not read yet. */
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }

  /** Reject trailing bytes (SPEC section 2: decoders reject trailing bytes). */
  end(): void {
    if (this.#o !== this.buf.length) throw new WireError('trailing bytes');
  }
}

export class Writer {
  #parts: Uint8Array[] = [];
  #len = 0;

  u8(v: number): this {
    return this.raw(Uint8Array.of(v & 0xff));
  }

  u16(v: number): this {
    return this.raw(Uint8Array.of((v >>> 8) & 0xff, v & 0xff));
  }

  u32(v: number): this {
    return this.raw(Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
  }

  raw(b: Uint8Array): this {
    this.#parts.push(b);
    this.#len += b.length;
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

  get length(): number {
    return this.#len;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#len);
    let o = 0;
    for (const p of this.#parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** Write a 64-bit big-endian unsigned safe integer at `off`. */
export function writeU64(buf: Uint8Array, off: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  const lo = v >>> 0;
  buf[off] = hi >>> 24;
  buf[off + 1] = (hi >>> 16) & 0xff;
  buf[off + 2] = (hi >>> 8) & 0xff;
  buf[off + 3] = hi & 0xff;
  buf[off + 4] = lo >>> 24;
  buf[off + 5] = (lo >>> 16) & 0xff;
  buf[off + 6] = (lo >>> 8) & 0xff;
  buf[off + 7] = lo & 0xff;
}

/** Read a 64-bit big-endian unsigned integer; values above 2^53 - 1 return -1 (never valid here). */
export function readU64(buf: Uint8Array, off: number): number {
  const hi =
    (((buf[off] as number) << 24) | ((buf[off + 1] as number) << 16) | ((buf[off + 2] as number) << 8) | (buf[off + 3] as number)) >>> 0;
  const lo =
    (((buf[off + 4] as number) << 24) | ((buf[off + 5] as number) << 16) | ((buf[off + 6] as number) << 8) | (buf[off + 7] as number)) >>>
    0;
  if (hi > 0x1f_ffff) return -1;
  return hi * 0x1_0000_0000 + lo;
}
