// Fixed binary layouts (SPEC section 2, "Encoding"): the shared bounds-checked reader and
// writer, plus in-place 64-bit helpers for the record header.
import { EncodingError } from '@yak/crypto';

/**
 * A malformed layout found by this package's own decoders (unknown type, bad flags). An
 * EncodingError, like the truncation and trailing-byte errors of the shared reader, so callers
 * turn both into a protocol failure with one `instanceof EncodingError` check.
 */
export class WireError extends EncodingError {
  constructor(message: string) {
    super('YAK_CRYPTO_DECODE', message);
    this.name = 'WireError';
  }
}

// The bounds-checked reader and writer shared by every YAK package (@yak/crypto).
export { ByteReader as Reader, ByteWriter as Writer } from '@yak/crypto';

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
