// Byte helpers: hex, base64url, base32 (RFC 4648), UTF-8, concatenation, wiping.
import { abytes, aint, astring } from './assert.js';
import { EncodingError } from './errors.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  abytes(bytes, 'bytes');
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] as number];
  return s;
}

/** Bytes from hex (either case); throws EncodingError on odd length or a non-hex digit. */
export function fromHex(hex: string): Uint8Array {
  astring(hex, 'hex');
  if (hex.length % 2 !== 0) throw new EncodingError('YAK_CRYPTO_DECODE', 'hex string has odd length');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexVal(hex.charCodeAt(2 * i));
    const lo = hexVal(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new EncodingError('YAK_CRYPTO_DECODE', `invalid hex digit at ${2 * i}`);
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_REV = reverse(B64URL);

/** RFC 4648 section 5 base64url without padding. */
export function toBase64url(bytes: Uint8Array): string {
  abytes(bytes, 'bytes');
  let s = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    s += B64URL[n >> 18] + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  const rem = bytes.length - i;
  if (rem === 1) {
    const n = (bytes[i] as number) << 16;
    s += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]!;
  } else if (rem === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    s += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]!;
  }
  return s;
}

/**
 * Strict base64url decode: no padding, no whitespace, and the unused low bits of the last
 * character must be zero, so every byte string has exactly one encoding.
 */
export function fromBase64url(str: string): Uint8Array {
  astring(str, 'str');
  if (str.length % 4 === 1) throw new EncodingError('YAK_CRYPTO_DECODE', 'invalid base64url length');
  const out = new Uint8Array(Math.floor((str.length * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < str.length; i++) {
    const v = B64URL_REV[str.charCodeAt(i)] ?? -1;
    if (v < 0) throw new EncodingError('YAK_CRYPTO_DECODE', `invalid base64url character at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) {
    throw new EncodingError('YAK_CRYPTO_DECODE', 'non-canonical base64url (trailing bits set)');
  }
  return out;
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
const B32_REV = reverse(B32);

/** RFC 4648 section 6 base32, lowercase, no padding (the node id alphabet, SPEC section 2). */
export function toBase32(bytes: Uint8Array): string {
  abytes(bytes, 'bytes');
  let s = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    acc = ((acc << 8) | (bytes[i] as number)) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      s += B32[(acc >> bits) & 31];
    }
  }
  if (bits > 0) s += B32[(acc << (5 - bits)) & 31];
  return s;
}

/**
 * Strict base32 decode: RFC 4648 alphabet in either ASCII case, no padding, zero trailing bits.
 * Case folding is ASCII-only, so look-alikes such as U+212A (Kelvin sign) are refused.
 */
export function fromBase32(str: string): Uint8Array {
  astring(str, 'str');
  const rem = str.length % 8;
  if (rem === 1 || rem === 3 || rem === 6) throw new EncodingError('YAK_CRYPTO_DECODE', 'invalid base32 length');
  const out = new Uint8Array(Math.floor((str.length * 5) / 8));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    const v = B32_REV[c] ?? -1;
    if (v < 0) throw new EncodingError('YAK_CRYPTO_DECODE', `invalid base32 character at ${i}`);
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) {
    throw new EncodingError('YAK_CRYPTO_DECODE', 'non-canonical base32 (trailing bits set)');
  }
  return out;
}

function reverse(alphabet: string): Int16Array {
  const r = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) r[alphabet.charCodeAt(i)] = i;
  return r;
}

const enc = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the text, so fromUtf8(utf8(s)) === s for every well-formed s.
const dec = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 encode. */
export function utf8(str: string): Uint8Array {
  astring(str, 'str');
  return enc.encode(str);
}

/** Strict UTF-8 decode: invalid sequences throw EncodingError. */
export function fromUtf8(bytes: Uint8Array): string {
  abytes(bytes, 'bytes');
  try {
    return dec.decode(bytes);
  } catch {
    throw new EncodingError('YAK_CRYPTO_DECODE', 'invalid UTF-8');
  }
}

/** Concatenate byte arrays into a fresh array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (let i = 0; i < parts.length; i++) {
    abytes(parts[i], `parts[${i}]`);
    len += (parts[i] as Uint8Array).length;
  }
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Overwrite secrets with zeros (best effort in a garbage-collected runtime). */
export function wipe(...arrays: (Uint8Array | undefined | null)[]): void {
  for (const a of arrays) if (a) a.fill(0);
}

/** Big-endian unsigned 64-bit encoding of a non-negative safe integer or bigint below 2^64. */
export function u64be(n: number | bigint): Uint8Array {
  if (typeof n === 'number') aint(n, 'n', 0, Number.MAX_SAFE_INTEGER);
  else if (typeof n !== 'bigint') throw new TypeError('n must be a number or bigint');
  else if (n < 0n || n > 0xffffffffffffffffn) throw new RangeError('n must be in [0, 2^64 - 1]');
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/** Big-endian unsigned 32-bit encoding. */
export function u32be(n: number): Uint8Array {
  aint(n, 'n', 0, 0xffffffff);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}
