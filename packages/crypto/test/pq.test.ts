// ML-KEM-768, X-Wing (hybridKem) and ML-DSA-65 behaviour: round trips, deterministic key
// generation, implicit rejection, the all-zero X25519 half, context separation, tampering and
// argument errors.
import { hybridKem, type Kem, mldsa65, mlkem768, randomBytes, utf8 } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { thrownCode } from './helpers/errors.js';
import { BACKENDS, h, hx, useBackend } from './helpers/vectors.js';

const code = (fn: () => unknown) => thrownCode(fn);

const KEMS: Array<{ name: string; kem: Kem; seedLen: number; randLen: number; sizes: [number, number, number] }> = [
  { name: 'mlkem768', kem: mlkem768, seedLen: 64, randLen: 32, sizes: [1184, 2400, 1088] },
  { name: 'hybridKem', kem: hybridKem, seedLen: 32, randLen: 64, sizes: [1216, 32, 1120] },
];

describe.each(BACKENDS)('KEMs on backend %s', (backendName) => {
  useBackend(backendName);

  describe.each(KEMS)('$name', ({ kem, seedLen, randLen, sizes }) => {
    const kp = kem.generateKeyPair();

    it('has the documented sizes', () => {
      expect([kem.publicKeyLength, kem.secretKeyLength, kem.cipherTextLength, kem.sharedSecretLength]).toEqual([...sizes, 32]);
      expect(kp.publicKey).toHaveLength(sizes[0]);
      expect(kp.secretKey).toHaveLength(sizes[1]);
    });

    it('round-trips, with fresh randomness each time', () => {
      const a = kem.encapsulate(kp.publicKey);
      const b = kem.encapsulate(kp.publicKey);
      expect(a.cipherText).toHaveLength(sizes[2]);
      expect(hx(kem.decapsulate(a.cipherText, kp.secretKey))).toBe(hx(a.sharedSecret));
      expect(hx(a.cipherText)).not.toBe(hx(b.cipherText));
      expect(hx(a.sharedSecret)).not.toBe(hx(b.sharedSecret));
    });

    it('derives keys deterministically from a seed and encapsulates deterministically from fixed randomness', () => {
      const seed = randomBytes(seedLen);
      expect(hx(kem.generateKeyPair(seed).publicKey)).toBe(hx(kem.generateKeyPair(seed).publicKey));
      expect(hx(kem.generateKeyPair(seed).publicKey)).not.toBe(hx(kem.generateKeyPair(randomBytes(seedLen)).publicKey));
      const r = randomBytes(randLen);
      expect(hx(kem.encapsulate(kp.publicKey, r).cipherText)).toBe(hx(kem.encapsulate(kp.publicKey, r).cipherText));
    });

    it('gives an unrelated secret (no error) for a tampered ciphertext or the wrong key', () => {
      const { cipherText, sharedSecret } = kem.encapsulate(kp.publicKey);
      // ML-KEM implicit rejection (FIPS 203 section 6.3): positions in ct_M, and in ct_X for X-Wing.
      for (const i of [0, 500, 1087, cipherText.length - 1]) {
        const bad = cipherText.slice();
        bad[i] = (bad[i] as number) ^ 0x01;
        let ss: Uint8Array | undefined;
        const c = code(() => {
          ss = kem.decapsulate(bad, kp.secretKey);
        });
        // Flipping the last X25519 byte can only hit a low-order point by astronomically bad luck.
        expect(c).toBeUndefined();
        expect(hx(ss as Uint8Array)).not.toBe(hx(sharedSecret));
      }
      expect(hx(kem.decapsulate(cipherText, kem.generateKeyPair().secretKey))).not.toBe(hx(sharedSecret));
    });

    it('argument errors: TypeError for non-bytes, RangeError for wrong lengths', () => {
      const { cipherText } = kem.encapsulate(kp.publicKey);
      expect(() => kem.generateKeyPair(new Uint8Array(seedLen - 1))).toThrow(RangeError);
      expect(() => kem.generateKeyPair('seed' as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => kem.encapsulate(kp.publicKey.subarray(1))).toThrow(RangeError);
      expect(() => kem.encapsulate(kp.publicKey, new Uint8Array(randLen + 1))).toThrow(RangeError);
      expect(() => kem.encapsulate(Array.from(kp.publicKey) as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => kem.decapsulate(cipherText.subarray(1), kp.secretKey)).toThrow(RangeError);
      expect(() => kem.decapsulate(cipherText, kp.secretKey.subarray(1))).toThrow(RangeError);
      expect(() => kem.decapsulate(cipherText, null as unknown as Uint8Array)).toThrow(TypeError);
    });
  });

  describe('hybridKem (X-Wing) X25519 half', () => {
    const lowOrder = [h('00'.repeat(32)), h('01'.padEnd(64, '0')), h('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')];

    it('decapsulation refuses a low-order ct_X with YAK_CRYPTO_ZERO_SHARED_SECRET', () => {
      const kp = hybridKem.generateKeyPair();
      const { cipherText } = hybridKem.encapsulate(kp.publicKey);
      for (const p of lowOrder) {
        const bad = cipherText.slice();
        bad.set(p, 1088);
        expect(code(() => hybridKem.decapsulate(bad, kp.secretKey))).toBe('YAK_CRYPTO_ZERO_SHARED_SECRET');
      }
    });

    it('encapsulation refuses a public key whose pk_X is low-order', () => {
      const kp = hybridKem.generateKeyPair();
      for (const p of lowOrder) {
        const bad = kp.publicKey.slice();
        bad.set(p, 1184);
        expect(code(() => hybridKem.encapsulate(bad))).toBe('YAK_CRYPTO_ZERO_SHARED_SECRET');
      }
    });

    it('binds both halves: swapping in another key pair half changes the secret', () => {
      const a = hybridKem.generateKeyPair();
      const b = hybridKem.generateKeyPair();
      const { cipherText, sharedSecret } = hybridKem.encapsulate(a.publicKey);
      const mixed = cipherText.slice();
      mixed.set(hybridKem.encapsulate(b.publicKey).cipherText.subarray(1088), 1088);
      expect(hx(hybridKem.decapsulate(mixed, a.secretKey))).not.toBe(hx(sharedSecret));
    });
  });

  it('mlkem768.encapsulate refuses a public key that fails the FIPS 203 modulus check', () => {
    const pk = mlkem768.generateKeyPair().publicKey.slice();
    pk[0] = 0xff;
    pk[1] = 0xff; // first 12-bit coefficient 0xfff >= q = 3329
    expect(code(() => mlkem768.encapsulate(pk))).toBe('YAK_CRYPTO_INVALID_KEY');
  });
});

// ML-DSA does not touch the backend (noble in every runtime before native ML-DSA), so these run once.
describe('mldsa65', () => {
  const seed = randomBytes(32);
  const { publicKey, secretKey } = mldsa65.generateKeyPair(seed);
  const msg = utf8('identity record');
  const ctx = utf8('yak/test/v1');
  const sig = mldsa65.sign(secretKey, msg, ctx);

  it('has the FIPS 204 ML-DSA-65 sizes and deterministic keygen from a seed', () => {
    expect([mldsa65.publicKeyLength, mldsa65.secretKeyLength, mldsa65.signatureLength]).toEqual([1952, 4032, 3309]);
    expect(publicKey).toHaveLength(1952);
    expect(secretKey).toHaveLength(4032);
    expect(sig).toHaveLength(3309);
    expect(hx(mldsa65.generateKeyPair(seed).publicKey)).toBe(hx(publicKey));
    expect(hx(mldsa65.generateKeyPair().publicKey)).not.toBe(hx(publicKey));
  });

  it('verifies its signatures and hedges (two signatures of one message differ)', () => {
    expect(mldsa65.verify(publicKey, msg, sig, ctx)).toBe(true);
    expect(hx(mldsa65.sign(secretKey, msg, ctx))).not.toBe(hx(sig));
  });

  it('separates contexts; an empty context equals no context (FIPS 204 section 5.2)', () => {
    expect(mldsa65.verify(publicKey, msg, sig)).toBe(false);
    expect(mldsa65.verify(publicKey, msg, sig, utf8('yak/test/v2'))).toBe(false);
    const plain = mldsa65.sign(secretKey, msg);
    expect(mldsa65.verify(publicKey, msg, plain, new Uint8Array(0))).toBe(true);
    expect(mldsa65.verify(publicKey, msg, plain, ctx)).toBe(false);
    expect(mldsa65.verify(publicKey, msg, mldsa65.sign(secretKey, msg, new Uint8Array(0)))).toBe(true);
  });

  it('refuses tampered signatures, messages and other keys', () => {
    for (let i = 0; i < sig.length; i += 47) {
      const bad = sig.slice();
      bad[i] = (bad[i] as number) ^ 0x01;
      expect(mldsa65.verify(publicKey, msg, bad, ctx)).toBe(false);
    }
    expect(mldsa65.verify(publicKey, utf8('identity recorD'), sig, ctx)).toBe(false);
    expect(mldsa65.verify(mldsa65.generateKeyPair().publicKey, msg, sig, ctx)).toBe(false);
  });

  it('verify answers false, never throws, for malformed keys and signatures', () => {
    expect(mldsa65.verify(publicKey.subarray(1), msg, sig, ctx)).toBe(false);
    expect(mldsa65.verify(publicKey, msg, sig.subarray(1), ctx)).toBe(false);
    expect(mldsa65.verify(new Uint8Array(1952).fill(0xff), msg, sig, ctx)).toBe(false);
    expect(mldsa65.verify(publicKey, msg, new Uint8Array(3309).fill(0xff), ctx)).toBe(false);
    expect(mldsa65.verify(new Uint8Array(0), msg, new Uint8Array(0))).toBe(false);
  });

  it('argument errors: TypeError for non-bytes, RangeError for wrong lengths and long contexts', () => {
    expect(() => mldsa65.generateKeyPair(new Uint8Array(31))).toThrow(RangeError);
    expect(() => mldsa65.generateKeyPair('s' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => mldsa65.sign(secretKey.subarray(1), msg)).toThrow(RangeError);
    expect(() => mldsa65.sign(secretKey, 'm' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => mldsa65.sign(secretKey, msg, new Uint8Array(256))).toThrow(RangeError);
    expect(mldsa65.sign(secretKey, msg, new Uint8Array(255))).toHaveLength(3309);
    expect(() => mldsa65.sign(secretKey, msg, 'ctx' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => mldsa65.verify(publicKey, msg, sig, new Uint8Array(256))).toThrow(RangeError);
    expect(() => mldsa65.verify('pk' as unknown as Uint8Array, msg, sig)).toThrow(TypeError);
  });
});
