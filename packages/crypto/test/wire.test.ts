import { ByteReader, ByteWriter, EncodingError } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { thrownCode } from './helpers/errors.js';

const decodeCode = (fn: () => unknown) => thrownCode(fn, EncodingError);

describe('ByteWriter / ByteReader', () => {
  it('round-trip every field type, fixed-size and growing writers alike', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.maxSafeNat(),
        fc.uint8Array({ maxLength: 255 }),
        fc.uint8Array({ maxLength: 1000 }),
        fc.uint8Array({ maxLength: 50 }),
        (a, b, c, d, v8, v16, raw) => {
          const size = 1 + 2 + 4 + 8 + 1 + v8.length + 2 + v16.length + raw.length;
          const write = (w: ByteWriter) => w.u8(a).u16(b).u32(c).u53(d).vec8(v8).vec16(v16).raw(raw).finish();
          const fixed = write(new ByteWriter(size));
          const grown = write(new ByteWriter());
          expect(grown).toEqual(fixed);
          const r = new ByteReader(fixed);
          expect([r.u8(), r.u16(), r.u32(), r.u53()]).toEqual([a, b, c, d]);
          expect(r.vec8()).toEqual(v8);
          expect(r.vec16()).toEqual(v16);
          expect(r.rest()).toEqual(raw);
          r.end();
        },
      ),
    );
  });

  it('every truncation of a valid frame is refused with YAK_CRYPTO_DECODE', () => {
    const frame = new ByteWriter()
      .u8(1)
      .u16(2)
      .u32(3)
      .u53(2 ** 40)
      .vec16(new Uint8Array(9))
      .finish();
    for (let n = 0; n < frame.length; n++) {
      const r = new ByteReader(frame.subarray(0, n));
      expect(decodeCode(() => [r.u8(), r.u16(), r.u32(), r.u53(), r.vec16()])).toBe('YAK_CRYPTO_DECODE');
    }
  });

  it('refuses trailing bytes, out-of-range lengths and integers above 2^53 - 1', () => {
    const r = new ByteReader(new Uint8Array([1, 2]));
    r.u8();
    expect(decodeCode(() => r.end())).toBe('YAK_CRYPTO_DECODE');
    expect(decodeCode(() => new ByteReader(new Uint8Array([5, 1, 2, 3, 4, 5])).vec8(0, 4))).toBe('YAK_CRYPTO_DECODE');
    expect(decodeCode(() => new ByteReader(new Uint8Array(8).fill(0xff)).u53())).toBe('YAK_CRYPTO_DECODE');
    expect(decodeCode(() => new ByteReader(new Uint8Array(2)).bytes(-1))).toBe('YAK_CRYPTO_DECODE');
  });

  it('a fixed writer refuses overflow and a size mismatch; into writes in place', () => {
    expect(() => new ByteWriter(1).u16(1)).toThrow(RangeError);
    expect(() => new ByteWriter(3).u16(1).finish()).toThrow(RangeError);
    expect(() => new ByteWriter(2, new Uint8Array(1))).toThrow(RangeError);
    const target = new Uint8Array(6);
    const out = new ByteWriter(4, target.subarray(2)).u32(0x01020304).finish();
    expect(Array.from(target)).toEqual([0, 0, 1, 2, 3, 4]);
    expect(out.buffer).toBe(target.buffer);
    expect(() => new ByteWriter().u53(-1)).toThrow(RangeError);
    expect(() => new ByteWriter().vec8(new Uint8Array(256))).toThrow(RangeError);
  });

  it('reading random bytes with any sequence of reads throws only EncodingError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 12 }), (bytes, ops) => {
        const r = new ByteReader(bytes);
        try {
          for (const op of ops)
            [() => r.u8(), () => r.u16(), () => r.u32(), () => r.u53(), () => r.vec8(), () => r.vec16(), () => r.end()][op]?.();
        } catch (e) {
          expect(e).toBeInstanceOf(EncodingError);
        }
      }),
    );
  });
});
