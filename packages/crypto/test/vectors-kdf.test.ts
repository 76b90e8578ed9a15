// HKDF and HMAC known-answer tests: Wycheproof HKDF-SHA-256/384/512 and HMAC-SHA-256,
// RFC 5869 appendix A, run against every backend.
import { type HashName, hkdf, hkdfExpand, hkdfExtract, hmac } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { BACKENDS, h, hx, loadVectors, useBackend, type WycheproofCase, type WycheproofFile } from './helpers/vectors.js';

interface HkdfCase extends WycheproofCase {
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
}
interface MacCase extends WycheproofCase {
  key: string;
  msg: string;
  tag: string;
}

const HKDF_FILES: Array<{ hash: HashName; file: string }> = [
  { hash: 'sha256', file: 'wycheproof/hkdf_sha256_test.json' },
  { hash: 'sha384', file: 'wycheproof/hkdf_sha384_test.json' },
  { hash: 'sha512', file: 'wycheproof/hkdf_sha512_test.json' },
];
const hmacFile = loadVectors<WycheproofFile<{ keySize: number; tagSize: number; tests: MacCase[] }>>('wycheproof/hmac_sha256_test.json');
const rfc5869 = loadVectors<{
  vectors: Array<{ name: string; ikm: string; salt: string; info: string; L: number; prk: string; okm: string }>;
}>('rfc/rfc5869_hkdf_sha256.json');

describe.each(BACKENDS)('KDF/MAC vectors on backend %s', (backendName) => {
  useBackend(backendName);

  describe.each(HKDF_FILES)('Wycheproof HKDF-$hash', ({ hash, file }) => {
    const cases = loadVectors<WycheproofFile<{ tests: HkdfCase[] }>>(file).testGroups.flatMap((g) => g.tests);
    it.each(cases)('tcId $tcId ($result): $comment', (t) => {
      if (t.result === 'valid') {
        // Wycheproof's empty salt means "not provided", which RFC 5869 section 2.2 defines as
        // HashLen zero bytes; both spellings must give the same key.
        expect(hx(hkdf(hash, h(t.ikm), h(t.salt), h(t.info), t.size))).toBe(t.okm);
        if (t.salt === '') expect(hx(hkdf(hash, h(t.ikm), undefined, h(t.info), t.size))).toBe(t.okm);
      } else {
        // The only invalid cases ask for more than 255 * HashLen bytes: an argument error.
        expect(t.flags).toContain('SizeTooLarge');
        expect(() => hkdf(hash, h(t.ikm), h(t.salt), h(t.info), t.size)).toThrow(RangeError);
      }
    });
  });

  it.each(rfc5869.vectors)('$name', (v) => {
    expect(hx(hkdf('sha256', h(v.ikm), h(v.salt), h(v.info), v.L))).toBe(v.okm);
    // PRK = HMAC-Hash(salt, IKM) (RFC 5869 section 2.2); empty salt = HashLen zeros.
    const salt = v.salt === '' ? new Uint8Array(32) : h(v.salt);
    expect(hx(hmac('sha256', salt, h(v.ikm)))).toBe(v.prk);
    // The two steps on their own give the RFC's PRK and OKM.
    const prk = hkdfExtract('sha256', h(v.ikm), v.salt === '' ? undefined : h(v.salt));
    expect(hx(prk)).toBe(v.prk);
    expect(hx(hkdfExpand('sha256', prk, h(v.info), v.L))).toBe(v.okm);
  });

  it('hkdfExpand refuses a short PRK, an over-long output and a wrong hash, naming the argument', () => {
    const prk = new Uint8Array(32);
    expect(() => hkdfExpand('sha256', new Uint8Array(31), undefined, 32)).toThrow(RangeError);
    expect(() => hkdfExpand('sha256', prk, undefined, 255 * 32 + 1)).toThrow(RangeError);
    expect(() => hkdfExpand('md5' as HashName, prk, undefined, 32)).toThrow(TypeError);
    expect(() => hkdfExpand('sha256', 'prk' as unknown as Uint8Array, undefined, 32)).toThrow(/prk/);
    expect(() => hkdfExtract('sha256', 'ikm' as unknown as Uint8Array, undefined)).toThrow(/ikm/);
  });

  describe('Wycheproof HMAC-SHA-256', () => {
    const cases = hmacFile.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, tagBytes: g.tagSize / 8 })));
    it.each(cases)('tcId $tcId ($result, $tagBytes-byte tag): $comment', (t) => {
      // Truncated-tag groups compare the leftmost tagSize bits (RFC 2104 section 5).
      const mac = hx(hmac('sha256', h(t.key), h(t.msg)).subarray(0, t.tagBytes));
      if (t.result === 'valid') expect(mac).toBe(t.tag);
      else expect(mac).not.toBe(t.tag);
    });
  });
});
