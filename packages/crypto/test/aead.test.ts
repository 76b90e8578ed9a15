// AEAD security properties on every backend: any change to ciphertext, tag, AAD or nonce, a
// wrong key, truncation or extension is refused with CryptoError YAK_CRYPTO_AUTH; inputs are
// never modified; outputs are plain Uint8Arrays.
import { AEAD_KEY_LENGTH, AEAD_NONCE_LENGTH, AEAD_TAG_LENGTH, aes256gcm, chacha20poly1305, randomBytes } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { thrownCode } from './helpers/errors.js';
import { BACKENDS, hx, useBackend } from './helpers/vectors.js';

const ALGS = [
  { name: 'aes256gcm', make: aes256gcm },
  { name: 'chacha20poly1305', make: chacha20poly1305 },
] as const;

const authCode = (fn: () => unknown) => thrownCode(fn);

function flipped(a: Uint8Array, i: number, mask = 0x01): Uint8Array {
  const b = a.slice();
  b[i] = (b[i] as number) ^ mask;
  return b;
}

describe.each(BACKENDS)('AEAD properties on backend %s', (backendName) => {
  useBackend(backendName);

  describe.each(ALGS)('$name', ({ make }) => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const aad = randomBytes(24);
    const pt = randomBytes(77);
    const aead = make(key);
    const sealed = aead.seal(nonce, pt, aad);

    it('exports the sizes it uses', () => {
      expect([AEAD_KEY_LENGTH, AEAD_NONCE_LENGTH, AEAD_TAG_LENGTH]).toEqual([32, 12, 16]);
      expect(sealed).toHaveLength(pt.length + 16);
    });

    it('round-trips, with a plain Uint8Array result', () => {
      const out = aead.open(nonce, sealed, aad);
      expect(hx(out)).toBe(hx(pt));
      expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
      expect(Object.getPrototypeOf(sealed)).toBe(Uint8Array.prototype);
    });

    it('round-trips empty plaintext and empty/absent AAD', () => {
      const s = aead.seal(nonce, new Uint8Array(0));
      expect(s).toHaveLength(16);
      expect(aead.open(nonce, s)).toHaveLength(0);
      expect(aead.open(nonce, s, new Uint8Array(0))).toHaveLength(0);
    });

    it('refuses every single-byte change of ciphertext or tag', () => {
      for (let i = 0; i < sealed.length; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          expect(authCode(() => aead.open(nonce, flipped(sealed, i, mask), aad))).toBe('YAK_CRYPTO_AUTH');
        }
      }
    });

    it('refuses every single-byte change of the AAD', () => {
      for (let i = 0; i < aad.length; i++) expect(authCode(() => aead.open(nonce, sealed, flipped(aad, i)))).toBe('YAK_CRYPTO_AUTH');
    });

    it('refuses every single-byte change of the nonce', () => {
      for (let i = 0; i < nonce.length; i++) expect(authCode(() => aead.open(flipped(nonce, i), sealed, aad))).toBe('YAK_CRYPTO_AUTH');
    });

    it('refuses missing, added, truncated or extended AAD', () => {
      expect(authCode(() => aead.open(nonce, sealed))).toBe('YAK_CRYPTO_AUTH');
      expect(authCode(() => aead.open(nonce, sealed, aad.subarray(0, aad.length - 1)))).toBe('YAK_CRYPTO_AUTH');
      const longer = new Uint8Array(aad.length + 1);
      longer.set(aad);
      expect(authCode(() => aead.open(nonce, sealed, longer))).toBe('YAK_CRYPTO_AUTH');
      const noAad = aead.seal(nonce, pt);
      expect(authCode(() => aead.open(nonce, noAad, new Uint8Array([0])))).toBe('YAK_CRYPTO_AUTH');
    });

    it('refuses a wrong key (every single-bit change of the key, and a random key)', () => {
      for (let i = 0; i < key.length; i++) {
        expect(authCode(() => make(flipped(key, i)).open(nonce, sealed, aad))).toBe('YAK_CRYPTO_AUTH');
      }
      expect(authCode(() => make(randomBytes(32)).open(nonce, sealed, aad))).toBe('YAK_CRYPTO_AUTH');
    });

    it('refuses every truncation and an extension', () => {
      for (let n = 0; n < sealed.length; n++) {
        expect(authCode(() => aead.open(nonce, sealed.subarray(0, n), aad))).toBe('YAK_CRYPTO_AUTH');
        expect(authCode(() => aead.open(nonce, sealed.subarray(sealed.length - n), aad))).toBe('YAK_CRYPTO_AUTH');
      }
      const ext = new Uint8Array(sealed.length + 1);
      ext.set(sealed);
      expect(authCode(() => aead.open(nonce, ext, aad))).toBe('YAK_CRYPTO_AUTH');
    });

    it('does not modify its inputs and copies the key', () => {
      const k = randomBytes(32);
      const k0 = hx(k);
      const a = make(k);
      const p = randomBytes(40);
      const p0 = hx(p);
      const s = a.seal(nonce, p, aad);
      const s0 = hx(s);
      expect(hx(k)).toBe(k0);
      expect(hx(p)).toBe(p0);
      k.fill(0); // the AEAD holds its own copy
      expect(hx(a.open(nonce, s, aad))).toBe(p0);
      expect(hx(s)).toBe(s0);
    });

    it('accepts subarray views at any offset', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 15 }), fc.uint8Array({ maxLength: 300 }), (off, data) => {
          const buf = new Uint8Array(off + data.length + 16);
          buf.set(data, off);
          const view = buf.subarray(off, off + data.length);
          const s = aead.seal(nonce, view, aad);
          const sBuf = new Uint8Array(off + s.length);
          sBuf.set(s, off);
          expect(hx(aead.open(nonce, sBuf.subarray(off), aad))).toBe(hx(data));
        }),
        { numRuns: 50 },
      );
    });

    it('rejects wrong argument types with TypeError and wrong lengths with RangeError', () => {
      const bad: unknown[] = ['00'.repeat(32), Array.from(key), null, undefined, 42, new Uint16Array(16), key.buffer];
      for (const b of bad) expect(() => make(b as Uint8Array)).toThrow(TypeError);
      for (const n of [0, 16, 31, 33, 64]) expect(() => make(new Uint8Array(n))).toThrow(RangeError);
      for (const n of [0, 8, 11, 13, 16, 24]) {
        expect(() => aead.seal(new Uint8Array(n), pt)).toThrow(RangeError);
        expect(() => aead.open(new Uint8Array(n), sealed)).toThrow(RangeError);
      }
      expect(() => aead.seal('nonce' as unknown as Uint8Array, pt)).toThrow(TypeError);
      expect(() => aead.seal(nonce, 'text' as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => aead.seal(nonce, pt, 'aad' as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => aead.open(nonce, [1, 2] as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => aead.open(nonce, sealed, null as unknown as Uint8Array)).toThrow(TypeError);
    });

    it('never puts key bytes in an error', () => {
      const k = new Uint8Array(32).fill(0xab);
      try {
        make(k).open(nonce, sealed, aad);
      } catch (e) {
        const text = `${(e as Error).message} ${String(e)} ${JSON.stringify(e)}`;
        expect(text).not.toMatch(/abab|171,171/);
      }
    });
  });
});

describe.each(BACKENDS)('AEAD destroy (%s backend)', (backendName) => {
  useBackend(backendName);
  for (const { name, make } of ALGS) {
    it(`${name}: destroy() makes seal and open fail and leaves the caller's key untouched`, () => {
      const key = randomBytes(AEAD_KEY_LENGTH);
      const keyCopy = key.slice();
      const nonce = randomBytes(AEAD_NONCE_LENGTH);
      const aead = make(key);
      const sealed = aead.seal(nonce, new Uint8Array([1, 2, 3]));
      aead.destroy();
      expect(() => aead.seal(nonce, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'YAK_CRYPTO_INVALID_KEY' }));
      expect(() => aead.open(nonce, sealed)).toThrow(expect.objectContaining({ code: 'YAK_CRYPTO_INVALID_KEY' }));
      expect(key).toEqual(keyCopy);
      expect(make(key).open(nonce, sealed)).toEqual(new Uint8Array([1, 2, 3]));
    });
  }
});

describe.each(BACKENDS)('AEAD sealParts (%s backend)', (backendName) => {
  useBackend(backendName);
  for (const { name, make } of ALGS) {
    it(`${name}: sealParts(parts, aad, headroom) = headroom zeros || seal(concat(parts), aad)`, () => {
      const key = randomBytes(AEAD_KEY_LENGTH);
      const aead = make(key);
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }),
          fc.uint8Array({ maxLength: 40 }),
          fc.integer({ min: 0, max: 64 }),
          (parts, aad, headroom) => {
            const nonce = randomBytes(AEAD_NONCE_LENGTH);
            const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
            let o = 0;
            for (const p of parts) {
              joined.set(p, o);
              o += p.length;
            }
            const out = aead.sealParts(nonce, parts, aad, headroom);
            expect(out.length).toBe(headroom + joined.length + AEAD_TAG_LENGTH);
            expect(out.subarray(0, headroom).every((b) => b === 0)).toBe(true);
            expect(out.subarray(headroom)).toEqual(aead.seal(nonce, joined, aad));
            expect(aead.open(nonce, out.subarray(headroom), aad)).toEqual(joined);
          },
        ),
        { numRuns: 50 },
      );
    });

    it(`${name}: sealParts handles parts larger than the internal chunk and rejects bad arguments`, () => {
      const aead = make(randomBytes(AEAD_KEY_LENGTH));
      const nonce = randomBytes(AEAD_NONCE_LENGTH);
      const big = randomBytes(200_000);
      const head = randomBytes(7);
      const out = aead.sealParts(nonce, [head, big], undefined, 3);
      const pt = aead.open(nonce, out.subarray(3));
      expect(pt.subarray(0, 7)).toEqual(head);
      expect(pt.subarray(7)).toEqual(big);
      expect(() => aead.sealParts(nonce, 'x' as unknown as Uint8Array[])).toThrow(TypeError);
      expect(() => aead.sealParts(nonce, [new Uint8Array(1), 'x' as unknown as Uint8Array])).toThrow(TypeError);
      expect(() => aead.sealParts(nonce, [], undefined, -1)).toThrow(RangeError);
    });
  }
});
