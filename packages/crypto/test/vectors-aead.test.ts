// AEAD known-answer tests: Wycheproof AES-GCM and ChaCha20-Poly1305, RFC 8439 section 2.8.2,
// run against every backend. Our API is AES-256-GCM / ChaCha20-Poly1305 with a 96-bit nonce and
// a 128-bit tag; Wycheproof groups outside that are checked to be refused as argument errors.
import { aes256gcm, CryptoError, chacha20poly1305 } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { BACKENDS, h, hx, loadVectors, useBackend, type WycheproofCase, type WycheproofFile } from './helpers/vectors.js';

interface AeadCase extends WycheproofCase {
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
}
interface AeadGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: AeadCase[];
}

const gcmFile = loadVectors<WycheproofFile<AeadGroup>>('wycheproof/aes_gcm_test.json');
const chachaFile = loadVectors<WycheproofFile<AeadGroup>>('wycheproof/chacha20_poly1305_test.json');
const rfc8439 = loadVectors<{
  vectors: Array<{ name: string; key: string; nonce: string; aad: string; plaintext: string; ciphertext: string; tag: string }>;
}>('rfc/rfc8439_chacha20poly1305_aead.json');

const applies = (g: AeadGroup) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128;

const ALGS = [
  { name: 'aes256gcm', make: aes256gcm, file: gcmFile },
  { name: 'chacha20poly1305', make: chacha20poly1305, file: chachaFile },
] as const;

function expectAuthError(fn: () => unknown): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CryptoError);
  expect((err as CryptoError).code).toBe('YAK_CRYPTO_AUTH');
}

describe.each(BACKENDS)('AEAD vectors on backend %s', (backendName) => {
  useBackend(backendName);

  describe.each(ALGS)('Wycheproof $name', ({ make, file }) => {
    const cases = file.testGroups.filter(applies).flatMap((g) => g.tests);

    it('has the expected number of applicable cases', () => {
      expect(cases.length).toBeGreaterThan(40);
    });

    it.each(cases)('tcId $tcId ($result): $comment', (t) => {
      const aead = make(h(t.key));
      const sealed = h(t.ct + t.tag);
      const aad = h(t.aad);
      if (t.result === 'valid') {
        expect(hx(aead.seal(h(t.iv), h(t.msg), aad))).toBe(t.ct + t.tag);
        expect(hx(aead.open(h(t.iv), sealed, aad))).toBe(t.msg);
        if (aad.length === 0) {
          // An absent AAD and an empty AAD are the same input (RFC 5116 section 2.1).
          expect(hx(aead.seal(h(t.iv), h(t.msg)))).toBe(t.ct + t.tag);
          expect(hx(aead.open(h(t.iv), sealed))).toBe(t.msg);
        }
      } else {
        // AEAD groups have no 'acceptable' results; everything else must fail authentication.
        expect(t.result).toBe('invalid');
        expectAuthError(() => aead.open(h(t.iv), sealed, aad));
      }
    });

    // Groups our API does not offer: a wrong key or nonce size is an argument error, never a
    // silent truncation or padding.
    const other = file.testGroups.filter((g) => !applies(g));
    it.each(other.map((g) => ({ keySize: g.keySize, ivSize: g.ivSize, tagSize: g.tagSize, t: g.tests[0] as AeadCase })))(
      'refuses key $keySize bits / iv $ivSize bits with RangeError',
      ({ keySize, ivSize, t }) => {
        if (keySize !== 256) {
          expect(() => make(h(t.key))).toThrow(RangeError);
        } else {
          expect(ivSize).not.toBe(96);
          const aead = make(h(t.key));
          expect(() => aead.seal(h(t.iv), h(t.msg), h(t.aad))).toThrow(RangeError);
          expect(() => aead.open(h(t.iv), h(t.ct + t.tag), h(t.aad))).toThrow(RangeError);
        }
      },
    );
  });

  it.each(rfc8439.vectors)('$name (ChaCha20-Poly1305)', (v) => {
    const aead = chacha20poly1305(h(v.key));
    expect(hx(aead.seal(h(v.nonce), h(v.plaintext), h(v.aad)))).toBe(v.ciphertext + v.tag);
    expect(hx(aead.open(h(v.nonce), h(v.ciphertext + v.tag), h(v.aad)))).toBe(v.plaintext);
  });
});
