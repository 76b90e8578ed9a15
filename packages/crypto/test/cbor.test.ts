// Canonical CBOR (RFC 8949 section 4.2.1 core deterministic encoding, restricted to the types of
// SPEC section 2 "Encoding"): round trips, exactly one accepted encoding per value, limits, and
// decoder fuzzing (any input either decodes or throws EncodingError YAK_CRYPTO_DECODE).
import { type CborValue, decode, EncodingError, encode, fromHex, toHex } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const U64 = (1n << 64n) - 1n;

/** Values as the decoder returns them: bigints in the safe range come back as numbers. */
const { value: cborValue } = fc.letrec<{ value: CborValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.integer({ min: -30, max: 30 }),
    fc.oneof(
      fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER) + 1n, max: U64 }),
      fc.bigInt({ min: -U64 - 1n, max: BigInt(Number.MIN_SAFE_INTEGER) - 1n }),
    ),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 8 }), tie('value'), { maxKeys: 5 }),
  ),
}));

function decodeCode(bytes: Uint8Array, opts?: Parameters<typeof decode>[1]): string | undefined {
  try {
    decode(bytes, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(EncodingError);
    return (e as EncodingError).code;
  }
  return undefined;
}

function encodeCode(v: unknown): string | undefined {
  try {
    encode(v as CborValue);
  } catch (e) {
    expect(e).toBeInstanceOf(EncodingError);
    return (e as EncodingError).code;
  }
  return undefined;
}

describe('canonical CBOR encode/decode', () => {
  it('round-trips every supported value, and re-encoding is byte-identical', () => {
    fc.assert(
      fc.property(cborValue, (v) => {
        const bytes = encode(v);
        const back = decode(bytes);
        expect(back).toEqual(v);
        expect(toHex(encode(back))).toBe(toHex(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('matches RFC 8949 appendix A for the supported types', () => {
    const cases: Array<[CborValue, string]> = [
      [0, '00'],
      [23, '17'],
      [24, '1818'],
      [100, '1864'],
      [1000, '1903e8'],
      [1000000, '1a000f4240'],
      [1000000000000, '1b000000e8d4a51000'],
      [18446744073709551615n, '1bffffffffffffffff'],
      [-18446744073709551616n, '3bffffffffffffffff'],
      [-1, '20'],
      [-1000, '3903e7'],
      [false, 'f4'],
      [true, 'f5'],
      [null, 'f6'],
      [new Uint8Array(0), '40'],
      [Uint8Array.from([1, 2, 3, 4]), '4401020304'],
      ['', '60'],
      ['IETF', '6449455446'],
      ['\u00fc', '62c3bc'],
      ['\ud800\udd51', '64f0908591'],
      [[], '80'],
      [[1, [2, 3], [4, 5]], '8301820203820405'],
      [{}, 'a0'],
      [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
    ];
    for (const [v, hex] of cases) {
      expect(toHex(encode(v))).toBe(hex);
      expect(decode(fromHex(hex))).toEqual(v);
    }
  });

  it('sorts map keys by their encoded bytes (shorter first), whatever the insertion order', () => {
    expect(toHex(encode({ aa: 1, b: 2, a: 3 }))).toBe('a3616103616202626161' + '01');
    expect(toHex(encode({ b: 1, a: 2 }))).toBe(toHex(encode({ a: 2, b: 1 })));
    // Integer-like keys are ordered first by JS objects; the encoding does not care.
    expect(toHex(encode({ b: 1, 10: 2, 2: 3 }))).toBe('a3613203616201623130' + '02');
  });

  it('skips undefined object members (absent optional fields)', () => {
    expect(toHex(encode({ a: 1, b: undefined }))).toBe(toHex(encode({ a: 1 })));
  });

  it('decodes from subarray views at any offset', () => {
    const enc = encode({ x: [1, 2n ** 60n, 'y'], z: Uint8Array.from([9]) });
    for (let off = 0; off < 9; off++) {
      const buf = new Uint8Array(off + enc.length + 3);
      buf.set(enc, off);
      expect(decode(buf.subarray(off, off + enc.length))).toEqual(decode(enc));
    }
  });

  it('keeps "__proto__" as data and never touches prototypes', () => {
    const bytes = encode(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as CborValue);
    const v = decode(bytes) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.hasOwn(v, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(toHex(encode(v as CborValue))).toBe(toHex(bytes));
  });

  it('refuses values outside the canonical subset with EncodingError YAK_CRYPTO_ENCODE', () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    const bad: unknown[] = [
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      -(2 ** 53),
      U64 + 1n,
      -U64 - 2n,
      undefined,
      [undefined],
      () => 1,
      Symbol('s'),
      new Map(),
      new Date(0),
      new Uint16Array(2),
      new (class Point {
        x = 1;
      })(),
      '\ud800',
      'a\udc00',
      { ['\udfff']: 1 },
      cyclic,
      deep,
    ];
    for (const v of bad) expect(encodeCode(v)).toBe('YAK_CRYPTO_ENCODE');
  });

  it('encodes -0 as 0 (integers have no sign of zero)', () => {
    expect(toHex(encode(-0))).toBe('00');
  });
});

describe('canonical CBOR decoder rejects every non-canonical or unsupported form', () => {
  const rejected: Array<[string, string]> = [
    ['1805', 'integer 5 in a 1-byte head'],
    ['190017', 'integer 23 in a 2-byte head'],
    ['1900ff', 'integer 255 in a 2-byte head'],
    ['1a0000ffff', 'integer in a 4-byte head that fits 2'],
    ['1b00000000ffffffff', 'integer in an 8-byte head that fits 4'],
    ['3800', 'negative integer -1 in a 1-byte head'],
    ['5801aa', 'byte string length in a 1-byte head'],
    ['7801' + '61', 'text string length in a 1-byte head'],
    ['9800', 'array length in a 1-byte head'],
    ['b800', 'map length in a 1-byte head'],
    ['a2616201616102', 'unsorted map keys'],
    ['a2626161016162' + '02', 'longer key before shorter key'],
    ['a2616101616102', 'duplicate map keys'],
    ['a10102', 'integer map key'],
    ['a1410102', 'byte-string map key'],
    ['5f4101ff', 'indefinite byte string'],
    ['7f6161ff', 'indefinite text string'],
    ['9f01ff', 'indefinite array'],
    ['bf616101ff', 'indefinite map'],
    ['ff', 'break outside indefinite item'],
    ['f90000', 'half float'],
    ['fa00000000', 'single float'],
    ['fb0000000000000000', 'double float'],
    ['f7', 'undefined'],
    ['f0', 'simple value 16'],
    ['f820', 'simple value 32'],
    ['c074323031332d30332d32315432303a30343a30305a', 'tag 0'],
    ['c249010000000000000000', 'bignum tag 2'],
    ['d8184101', 'tag 24'],
    ['1c', 'reserved additional information 28'],
    ['0100', 'trailing bytes'],
    ['8101' + '00', 'trailing bytes after an array'],
    ['62c328', 'invalid UTF-8'],
    ['63eda080', 'UTF-8 encoded surrogate'],
    ['62c0af', 'overlong UTF-8'],
    ['', 'empty input'],
    ['19', 'truncated head'],
    ['4401', 'truncated byte string'],
    ['82010203', 'an extra item after a complete array'],
    ['83010203'.slice(0, 6), 'truncated array'],
    ['5affffffff', 'length far beyond the input'],
    ['9bffffffffffffffff', 'array length 2^64-1'],
  ];
  it.each(rejected)('%s (%s)', (hex) => {
    expect(decodeCode(fromHex(hex))).toBe('YAK_CRYPTO_DECODE');
  });

  it('accepts a leading U+FEFF as text (no silent BOM stripping)', () => {
    expect(decode(fromHex('63efbbbf'))).toBe('\ufeff');
    expect(toHex(encode('\ufeffa'))).toBe('64efbbbf61');
  });

  it('enforces maxDepth, maxLength and maxItems', () => {
    let v: CborValue = 0;
    for (let i = 0; i < 32; i++) v = [v];
    const atLimit = encode(v);
    expect(decode(atLimit)).toEqual(v);
    expect(decodeCode(fromHex('81'.repeat(33) + '00'))).toBe('YAK_CRYPTO_DECODE');
    expect(decodeCode(fromHex('818100'), { maxDepth: 1 })).toBe('YAK_CRYPTO_DECODE');
    expect(decode(fromHex('8100'), { maxDepth: 1 })).toEqual([0]);
    expect(decodeCode(new Uint8Array(11).fill(0x40).subarray(0, 1), { maxLength: 0 })).toBe('YAK_CRYPTO_DECODE');
    expect(decodeCode(encode(new Uint8Array(100)), { maxLength: 101 })).toBe('YAK_CRYPTO_DECODE');
    expect(decode(encode(new Uint8Array(100)), { maxLength: 102 })).toHaveLength(100);
    expect(decodeCode(encode([1, 2, 3]), { maxItems: 2 })).toBe('YAK_CRYPTO_DECODE');
    expect(decodeCode(encode({ a: 1, b: 2, c: 3 }), { maxItems: 2 })).toBe('YAK_CRYPTO_DECODE');
    // Deep nesting far past the limit fails cleanly (no stack overflow).
    expect(decodeCode(new Uint8Array(200_000).fill(0x81))).toBe('YAK_CRYPTO_DECODE');
  });

  it('rejects a non-Uint8Array argument with TypeError', () => {
    expect(() => decode('a0' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => decode([0xa0] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('decoder fuzzing', () => {
  /** Any outcome but EncodingError is a bug; a success must be the one canonical encoding. */
  function check(bytes: Uint8Array): void {
    let v: CborValue;
    try {
      v = decode(bytes);
    } catch (e) {
      expect(e).toBeInstanceOf(EncodingError);
      expect((e as EncodingError).code).toBe('YAK_CRYPTO_DECODE');
      return;
    }
    expect(toHex(encode(v))).toBe(toHex(bytes));
  }

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), check), { numRuns: 5000 });
  });

  it('random bytes with a plausible first byte (maps, arrays, strings)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0x81, 0x82, 0xa1, 0xa2, 0x42, 0x62, 0x98, 0xb8, 0x1b, 0x3b),
        fc.uint8Array({ maxLength: 40 }),
        (first, rest) => check(Uint8Array.from([first, ...rest])),
      ),
      { numRuns: 3000 },
    );
  });

  it('mutations of valid encodings (byte flips, truncation, insertion)', () => {
    fc.assert(
      fc.property(cborValue, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), (v, pos, mask, cut) => {
        const enc = encode(v);
        const flip = enc.slice();
        if (flip.length > 0) flip[pos % flip.length] = (flip[pos % flip.length] as number) ^ mask;
        check(flip);
        check(enc.subarray(0, cut % (enc.length + 1)));
        const ins = new Uint8Array(enc.length + 1);
        const at = pos % (enc.length + 1);
        ins.set(enc.subarray(0, at));
        ins[at] = mask;
        ins.set(enc.subarray(at), at + 1);
        check(ins);
      }),
      { numRuns: 1500 },
    );
  });
});
