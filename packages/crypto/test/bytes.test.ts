// Byte codecs: hex, base64url, base32 (RFC 4648), UTF-8, integer encodings. Round trips against
// independent encoders, RFC 4648 section 10 vectors, and strict rejection of every alternative
// spelling (padding, whitespace, other alphabets, set trailing bits, look-alike characters).
import {
  concatBytes,
  EncodingError,
  fromBase32,
  fromBase64url,
  fromHex,
  fromUtf8,
  toBase32,
  toBase64url,
  toHex,
  u32be,
  u64be,
  utf8,
  wipe,
} from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { refBase32 } from './helpers/errors.js';

function decodeError(fn: () => unknown): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(EncodingError);
  expect((err as EncodingError).code).toBe('YAK_CRYPTO_DECODE');
}

const RFC4648 = ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'];

describe('hex', () => {
  it('round-trips and matches Buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const s = toHex(b);
        expect(s).toBe(Buffer.from(b).toString('hex'));
        expect(fromHex(s)).toEqual(b);
        expect(fromHex(s.toUpperCase())).toEqual(b);
      }),
    );
  });
  it('rejects odd length, non-hex digits, prefixes and whitespace', () => {
    for (const s of ['0', 'abc', 'zz', '0x00', ' 00', '00 ', '0g', '\u0660\u0661', 'ab\n']) decodeError(() => fromHex(s));
  });
});

describe('base64url', () => {
  it('matches RFC 4648 section 10 (unpadded, URL alphabet)', () => {
    expect(RFC4648.map((s) => toBase64url(utf8(s)))).toEqual(['', 'Zg', 'Zm8', 'Zm9v', 'Zm9vYg', 'Zm9vYmE', 'Zm9vYmFy']);
  });
  it('round-trips and matches Buffer base64url', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const s = toBase64url(b);
        expect(s).toBe(Buffer.from(b).toString('base64url'));
        expect(fromBase64url(s)).toEqual(b);
      }),
    );
  });
  it('rejects padding, the standard alphabet, whitespace, bad lengths and set trailing bits', () => {
    for (const s of ['Zg==', 'Zm8=', 'a+b/', '+/+/', 'Zm9v\n', ' Zm9v', 'Z', 'Zm9vY', 'Zh', 'Zm9', 'Zm9vYh', 'Zm8\u00e9', '\uff3a\uff47']) {
      decodeError(() => fromBase64url(s));
    }
    // 'Zh' would also decode to "f" by a lax decoder: exactly one spelling per byte string.
    expect(() => fromBase64url('Zg')).not.toThrow();
  });
  it('never decodes a string it would not produce', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ '.split('')) }),
        (s) => {
          let b: Uint8Array;
          try {
            b = fromBase64url(s);
          } catch (e) {
            expect(e).toBeInstanceOf(EncodingError);
            return;
          }
          expect(toBase64url(b)).toBe(s);
        },
      ),
    );
  });
});

describe('base32', () => {
  it('matches RFC 4648 section 10 (lowercase, unpadded)', () => {
    expect(RFC4648.map((s) => toBase32(utf8(s)))).toEqual(['', 'my', 'mzxq', 'mzxw6', 'mzxw6yq', 'mzxw6ytb', 'mzxw6ytboi']);
  });
  it('round-trips and matches a bit-by-bit reference', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const s = toBase32(b);
        expect(s).toBe(refBase32(b));
        expect(fromBase32(s)).toEqual(b);
        expect(fromBase32(s.toUpperCase())).toEqual(b);
      }),
    );
  });
  it('rejects padding, bad lengths, set trailing bits, digits 0/1/8/9 and look-alikes', () => {
    for (const s of [
      'my======',
      'm',
      'mzx',
      'mzxw6y',
      'mz',
      'mzxr',
      'mzxw7',
      'my0',
      'a1',
      '89',
      'm y',
      '\u212a\u212a',
      'my\u0131',
      'my\n',
    ]) {
      decodeError(() => fromBase32(s));
    }
  });
  it('never decodes a string it would not produce (up to ASCII case)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz234567018=AZ\u212a'.split('')) }), (s) => {
        let b: Uint8Array;
        try {
          b = fromBase32(s);
        } catch (e) {
          expect(e).toBeInstanceOf(EncodingError);
          return;
        }
        expect(toBase32(b)).toBe(s.toLowerCase());
      }),
    );
  });
});

describe('UTF-8', () => {
  it('round-trips well-formed strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        expect(fromUtf8(utf8(s))).toBe(s);
      }),
    );
  });
  it('rejects invalid sequences (stray continuation, overlong, surrogates, truncation, > U+10FFFF)', () => {
    for (const b of [[0xff], [0x80], [0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]]) {
      decodeError(() => fromUtf8(Uint8Array.from(b)));
    }
  });
});

describe('concatBytes, wipe, u32be, u64be', () => {
  it('concatenates into a fresh array', () => {
    const a = Uint8Array.from([1, 2]);
    const b = Uint8Array.from([3]);
    const c = concatBytes(a, new Uint8Array(0), b);
    expect(Array.from(c)).toEqual([1, 2, 3]);
    a[0] = 9;
    expect(c[0]).toBe(1);
    expect(concatBytes()).toHaveLength(0);
    expect(() => concatBytes(a, [1] as unknown as Uint8Array)).toThrow(TypeError);
  });
  it('wipes every given array and skips absent ones', () => {
    const a = Uint8Array.from([1, 2, 3]);
    const b = Uint8Array.from([4]);
    wipe(a, undefined, null, b);
    expect(Array.from(a)).toEqual([0, 0, 0]);
    expect(Array.from(b)).toEqual([0]);
  });
  it('encodes big-endian integers and refuses out-of-range values', () => {
    expect(toHex(u32be(0x01020304))).toBe('01020304');
    expect(toHex(u32be(0xffffffff))).toBe('ffffffff');
    expect(toHex(u64be(0x0102030405n))).toBe('0000000102030405');
    expect(toHex(u64be(Number.MAX_SAFE_INTEGER))).toBe('001fffffffffffff');
    expect(toHex(u64be(0xffffffffffffffffn))).toBe('ffffffffffffffff');
    for (const n of [-1, 2 ** 32]) expect(() => u32be(n)).toThrow(RangeError);
    for (const n of [1.5, Number.NaN, '1']) expect(() => u32be(n as number)).toThrow(TypeError);
    for (const n of [-1, -1n, 2n ** 64n]) expect(() => u64be(n)).toThrow(RangeError);
    for (const n of [1.5, '1', null]) expect(() => u64be(n as number)).toThrow(TypeError);
  });
  it('rejects non-byte and non-string arguments with TypeError', () => {
    for (const f of [toHex, toBase64url, toBase32, fromUtf8]) expect(() => f('ab' as unknown as Uint8Array)).toThrow(TypeError);
    for (const f of [fromHex, fromBase64url, fromBase32, utf8]) expect(() => f(new Uint8Array(2) as unknown as string)).toThrow(TypeError);
  });
});
