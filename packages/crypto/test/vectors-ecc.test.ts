// X25519 and Ed25519 known-answer tests: Wycheproof, RFC 7748 section 5.2 and 6.1, RFC 8032
// section 7.1, run against every backend.
import { CryptoError, ed25519, x25519 } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { BACKENDS, h, hx, loadVectors, useBackend, type WycheproofCase, type WycheproofFile } from './helpers/vectors.js';

interface XdhCase extends WycheproofCase {
  public: string;
  private: string;
  shared: string;
}
interface EddsaCase extends WycheproofCase {
  msg: string;
  sig: string;
}

const x25519File = loadVectors<WycheproofFile<{ curve: string; tests: XdhCase[] }>>('wycheproof/x25519_test.json');
const ed25519File = loadVectors<WycheproofFile<{ publicKey: { pk: string }; tests: EddsaCase[] }>>('wycheproof/ed25519_test.json');
const rfc7748 = loadVectors<{
  section_5_2: Array<{ function: string; scalar: string; u: string; output: string }>;
  section_5_2_iterated: Array<{ function: string; k: string; u: string; iterations: number; result: string }>;
  section_6_1: { alicePrivate: string; alicePublic: string; bobPrivate: string; bobPublic: string; shared: string };
}>('rfc/rfc7748_x25519_x448.json');
const rfc8032 = loadVectors<{
  vectors: Array<{ name: string; secretKey: string; publicKey: string; message: string; signature: string }>;
}>('rfc/rfc8032_ed25519.json');

const ZERO32 = '00'.repeat(32);

function zeroSharedError(fn: () => unknown): CryptoError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CryptoError);
    expect((e as CryptoError).code).toBe('YAK_CRYPTO_ZERO_SHARED_SECRET');
    return e as CryptoError;
  }
  throw new Error('expected YAK_CRYPTO_ZERO_SHARED_SECRET');
}

describe.each(BACKENDS)('ECC vectors on backend %s', (backendName) => {
  useBackend(backendName);

  describe('Wycheproof X25519', () => {
    const cases = x25519File.testGroups.filter((g) => g.curve === 'curve25519').flatMap((g) => g.tests);
    it('covers the low-order points', () => {
      expect(cases.filter((t) => t.shared === ZERO32).length).toBeGreaterThanOrEqual(30);
    });
    // Policy for 'acceptable' (twist points, non-canonical u, low-order points): compute the RFC
    // 7748 function like a 'valid' case (the top bit of u is masked, non-canonical u reduced),
    // except that an all-zero output is always refused (SPEC section 2, "Hybrid by default").
    it.each(cases)('tcId $tcId ($result): $comment', (t) => {
      if (t.shared === ZERO32) {
        zeroSharedError(() => x25519.sharedSecret(h(t.private), h(t.public)));
      } else {
        expect(hx(x25519.sharedSecret(h(t.private), h(t.public)))).toBe(t.shared);
      }
    });
  });

  describe('RFC 7748', () => {
    it.each(rfc7748.section_5_2.filter((v) => v.function === 'X25519'))('section 5.2 single call, u=$u', (v) => {
      expect(hx(x25519.sharedSecret(h(v.scalar), h(v.u)))).toBe(v.output);
    });
    // The 1,000,000-iteration vector takes minutes in pure JS and is left out (test/vectors/README.md).
    it.each(rfc7748.section_5_2_iterated.filter((v) => v.function === 'X25519' && v.iterations <= 1000))(
      'section 5.2 iterated $iterations times',
      (v) => {
        let k = h(v.k);
        let u = h(v.u);
        for (let i = 0; i < v.iterations; i++) {
          const next = x25519.sharedSecret(k, u);
          u = k;
          k = next;
        }
        expect(hx(k)).toBe(v.result);
      },
    );
    it('section 6.1 Diffie-Hellman', () => {
      const v = rfc7748.section_6_1;
      expect(hx(x25519.getPublicKey(h(v.alicePrivate)))).toBe(v.alicePublic);
      expect(hx(x25519.getPublicKey(h(v.bobPrivate)))).toBe(v.bobPublic);
      expect(hx(x25519.sharedSecret(h(v.alicePrivate), h(v.bobPublic)))).toBe(v.shared);
      expect(hx(x25519.sharedSecret(h(v.bobPrivate), h(v.alicePublic)))).toBe(v.shared);
    });
  });

  describe('Wycheproof Ed25519 (verify)', () => {
    const cases = ed25519File.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, pk: g.publicKey.pk })));
    // Ed25519 files have no 'acceptable' results: strict RFC 8032 verification.
    it.each(cases)('tcId $tcId ($result): $comment', (t) => {
      expect(ed25519.verify(h(t.pk), h(t.msg), h(t.sig))).toBe(t.result === 'valid');
    });
  });

  it.each(rfc8032.vectors)('$name', (v) => {
    expect(hx(ed25519.getPublicKey(h(v.secretKey)))).toBe(v.publicKey);
    expect(hx(ed25519.sign(h(v.secretKey), h(v.message)))).toBe(v.signature);
    expect(ed25519.verify(h(v.publicKey), h(v.message), h(v.signature))).toBe(true);
    const bad = h(v.signature);
    bad[0] = (bad[0] as number) ^ 1;
    expect(ed25519.verify(h(v.publicKey), h(v.message), bad)).toBe(false);
  });
});
