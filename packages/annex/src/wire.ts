// Fixed binary layouts (SPEC section 2, "Encoding"): a bounds-checked reader that rejects short
// input and trailing bytes, and a single-allocation writer. Internal to the package.

/** Malformed bytes from the network; the codec turns it into a MalformedEnvelopeError. */
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
    this.#o += 4;
    return (b[o] as number) * 0x1000000 + (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number));
  }

  /** A u64 that must be a safe integer (2^53 - 1 at most). */
  u53(): number {
    const hi = this.u32();
    const lo = this.u32();
    if (hi > 0x1f_ffff) throw new WireError('integer out of range');
    return hi * 0x1_0000_0000 + lo;
  }

  /** Exactly `n` bytes, as a view (no copy). */
  bytes(n: number): Uint8Array {
    if (!Number.isInteger(n) || n < 0 || this.#o + n > this.buf.length) throw new WireError('truncated');
    const v = this.buf.subarray(this.#o, this.#o + n);
    this.#o += n;
    return v;
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

/** Writes into one buffer of a size known up front. */
export class Writer {
  readonly buf: Uint8Array;
  #o = 0;
  /** Writes `size` bytes into `into` when given (a reused buffer at least that large), else a new one. */
  constructor(size: number, into?: Uint8Array) {
    this.buf = into ? into.subarray(0, size) : new Uint8Array(size);
    if (this.buf.length !== size) throw new RangeError('buffer too small');
  }

  get offset(): number {
    return this.#o;
  }

  u8(v: number): this {
    this.buf[this.#o++] = v;
    return this;
  }

  u16(v: number): this {
    this.buf[this.#o++] = v >>> 8;
    this.buf[this.#o++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.buf[this.#o++] = v >>> 24;
    this.buf[this.#o++] = (v >>> 16) & 0xff;
    this.buf[this.#o++] = (v >>> 8) & 0xff;
    this.buf[this.#o++] = v & 0xff;
    return this;
  }

  u53(v: number): this {
    return this.u32(Math.floor(v / 0x1_0000_0000)).u32(v >>> 0);
  }

  raw(b: Uint8Array): this {
    this.buf.set(b, this.#o);
    this.#o += b.length;
    return this;
  }

  vec16(b: Uint8Array): this {
    return this.u16(b.length).raw(b);
  }

  /** The written bytes; throws if the size estimate was wrong (a bug, never input-dependent). */
  finish(): Uint8Array {
    if (this.#o !== this.buf.length) throw new Error(`writer size mismatch: ${this.#o} of ${this.buf.length}`);
    return this.buf;
  }
}
