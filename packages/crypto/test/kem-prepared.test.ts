// Prepared X-Wing paths (expanded decapsulators, cached encapsulation matrices) give exactly the
// results of the plain paths, on every backend, and keep refusing what the plain paths refuse.
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { CryptoError, hybridKem, hybridKemDecapsulator, hybridKemEphemeral, randomBytes } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { current } from '../src/backend.js';
import { BACKENDS, useBackend } from './helpers/vectors.js';

describe.each(BACKENDS)('prepared X-Wing (%s backend)', (backendName) => {
  useBackend(backendName);

  it("a decapsulator has the key pair's public key and decapsulates like hybridKem.decapsulate, repeatedly", () => {
    const kp = hybridKem.generateKeyPair();
    const d = hybridKemDecapsulator(kp.secretKey);
    expect(d.publicKey).toEqual(kp.publicKey);
    for (let i = 0; i < 3; i++) {
      const { cipherText, sharedSecret } = hybridKem.encapsulate(kp.publicKey);
      expect(d.decapsulate(cipherText)).toEqual(sharedSecret);
      expect(d.decapsulate(cipherText)).toEqual(hybridKem.decapsulate(cipherText, kp.secretKey));
    }
    // Implicit rejection (FIPS 203): a tampered ciphertext gives the same wrong secret both ways.
    const bad = hybridKem.encapsulate(kp.publicKey).cipherText;
    bad[5] = (bad[5] as number) ^ 1;
    expect(d.decapsulate(bad)).toEqual(hybridKem.decapsulate(bad, kp.secretKey));
    d.destroy();
    expect(() => d.decapsulate(bad)).toThrow(CryptoError);
  });

  it('a loaded X25519 secret gives the same public key and DH as the one-shot calls, and refuses use after destroy()', () => {
    const b = current();
    for (let i = 0; i < 8; i++) {
      const sk = randomBytes(32);
      const peer = b.x25519Public(randomBytes(32));
      const x = b.x25519Secret(sk);
      expect(x.publicKey).toEqual(b.x25519Public(sk));
      expect(x.dh(peer)).toEqual(b.x25519(sk, peer));
      expect(x.dh(peer)).toEqual(b.x25519(sk, peer));
      // A low-order point gives the all-zero secret, as the one-shot call does (the caller rejects it).
      expect(x.dh(new Uint8Array(32))).toEqual(new Uint8Array(32));
      x.destroy();
      expect(() => x.dh(peer)).toThrow(TypeError);
    }
  });

  it('an ephemeral decapsulator interoperates with noble ml_kem768_x25519 encapsulation', () => {
    const d = hybridKemEphemeral();
    const { cipherText, sharedSecret } = ml_kem768_x25519.encapsulate(d.publicKey);
    expect(d.decapsulate(cipherText)).toEqual(sharedSecret);
    d.destroy();
  });

  it('repeated encapsulations to one key (the cached, prepared path) match decapsulation and stay random', () => {
    const kp = hybridKem.generateKeyPair();
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const { cipherText, sharedSecret } = hybridKem.encapsulate(kp.publicKey);
      expect(hybridKem.decapsulate(cipherText, kp.secretKey)).toEqual(sharedSecret);
      seen.add(Buffer.from(cipherText).toString('hex'));
    }
    expect(seen.size).toBe(5);
    // With fixed randomness the prepared path is deterministic and equals noble's.
    const coins = randomBytes(64);
    const a = hybridKem.encapsulate(kp.publicKey, coins);
    const b = hybridKem.encapsulate(kp.publicKey, coins);
    expect(a).toEqual(b);
  });

  it('encapsulations to several keys, interleaved, each match their decapsulation', () => {
    const keys = Array.from({ length: 4 }, () => hybridKem.generateKeyPair());
    for (let round = 0; round < 3; round++) {
      for (const kp of keys) {
        const { cipherText, sharedSecret } = hybridKem.encapsulate(kp.publicKey);
        expect(hybridKem.decapsulate(cipherText, kp.secretKey)).toEqual(sharedSecret);
      }
    }
  });
});
