// ML-DSA-65 (FIPS 204) known-answer tests: Wycheproof sign (seed and expanded key) and verify,
// NIST ACVP keyGen, sigGen and sigVer subsets.
//
// Our `mldsa65` wrapper offers deterministic keygen from a 32-byte seed and pure (external
// interface) hedged signing with an optional context. Every case that maps onto that API runs
// through the wrapper on every backend:
//  - keygen vectors: exact keys;
//  - signing vectors: the published signature verifies with our `verify`, and a fresh hedged
//    signature from our `sign` (with the vector's key, message and context) verifies too. The
//    published bytes cannot be reproduced through a hedged signer;
//  - verification vectors: our `verify` gives the expected verdict.
// Cases our API does not offer (deterministic or fixed-`rnd` signing bytes, HashML-DSA
// pre-hashing, the internal interface and external mu) are checked once against
// @noble/post-quantum, the library our wrapper calls, in vectors-mldsa-noble.test.ts.
// Every published signature and verdict is checked; our own fresh signature (about 15 ms each)
// is made for a deterministic sample covering every group: the first message case of each
// group, every case with a context, and every fifth tcId.
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { CryptoError, mldsa65 } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { acvpKeyGen, acvpSigGen, acvpSigVer, ctxOf, isPure, wpNoSeed, wpSeed, wpVerify } from './helpers/mldsa-vectors.js';
import { BACKENDS, h, hx, useBackend } from './helpers/vectors.js';

/**
 * Which cases also get a fresh signature of ours (see the header): the first valid message case
 * of each group, every case with a context, and every fifth tcId.
 */
function sampleOwnSignatures<T extends { tcId: number; result: string; msg?: string; ctx?: string; gi: number }>(cases: T[]): Set<number> {
  const picked = new Set<number>();
  const groupsSeen = new Set<number>();
  for (const t of cases) {
    if (t.result !== 'valid' || t.msg === undefined) continue;
    if (!groupsSeen.has(t.gi) || t.ctx !== undefined || t.tcId % 5 === 0) picked.add(t.tcId);
    groupsSeen.add(t.gi);
  }
  return picked;
}

/** Our wrapper signs (hedged) and its own signature must verify, also against noble directly. */
function expectOwnSignatureVerifies(sk: Uint8Array, pk: Uint8Array, msg: Uint8Array, ctx: Uint8Array | undefined): void {
  const sig = mldsa65.sign(sk, msg, ctx);
  expect(sig).toHaveLength(3309);
  expect(mldsa65.verify(pk, msg, sig, ctx)).toBe(true);
  expect(ml_dsa65.verify(sig, msg, pk, ctx ? { context: ctx } : {})).toBe(true);
}

describe.each(BACKENDS)('ML-DSA-65 vectors through our wrapper on backend %s', (backendName) => {
  useBackend(backendName);

  describe('Wycheproof sign, seed form', () => {
    const cases = wpSeed.testGroups.flatMap((g, gi) => g.tests.map((t) => ({ ...t, g, gi })));
    const own = sampleOwnSignatures(cases);
    it.each(cases)('group $gi tcId $tcId ($result): $comment', (t) => {
      const seed = h(t.g.privateSeed);
      if (seed.length !== 32) {
        expect(t.result).toBe('invalid');
        expect(() => mldsa65.generateKeyPair(seed)).toThrow(RangeError);
        return;
      }
      const { publicKey, secretKey } = mldsa65.generateKeyPair(seed);
      expect(hx(publicKey)).toBe(t.g.publicKey);
      if (t.msg === undefined) return; // external-mu case: dependency conformance block
      const msg = h(t.msg);
      const ctx = ctxOf(t.ctx);
      if (t.result === 'invalid') {
        expect(t.flags).toContain('InvalidContext');
        expect(() => mldsa65.sign(secretKey, msg, ctx)).toThrow(RangeError);
        return;
      }
      expect(mldsa65.verify(publicKey, msg, h(t.sig), ctx)).toBe(true);
      if (own.has(t.tcId)) expectOwnSignatureVerifies(secretKey, publicKey, msg, ctx);
    });
  });

  describe('Wycheproof sign, expanded key form', () => {
    const cases = wpNoSeed.testGroups.flatMap((g, gi) => g.tests.map((t) => ({ ...t, g, gi })));
    const own = sampleOwnSignatures(cases);
    it.each(cases)('group $gi tcId $tcId ($result): $comment', (t) => {
      const sk = h(t.g.privateKey);
      if (t.msg === undefined) return; // external-mu case: dependency conformance block
      const msg = h(t.msg);
      const ctx = ctxOf(t.ctx);
      if (t.result === 'invalid') {
        if (t.flags.includes('IncorrectPrivateKeyLength') || t.flags.includes('InvalidContext')) {
          expect(() => mldsa65.sign(sk, msg, ctx)).toThrow(RangeError);
        } else {
          // s1/s2 coefficients out of range: a malformed key, reported as such.
          expect(t.flags).toContain('InvalidPrivateKey');
          let err: unknown;
          try {
            mldsa65.sign(sk, msg, ctx);
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(CryptoError);
          expect((err as CryptoError).code).toBe('YAK_CRYPTO_INVALID_KEY');
        }
        return;
      }
      const pk = h(t.g.publicKey as string);
      expect(mldsa65.verify(pk, msg, h(t.sig), ctx)).toBe(true);
      if (own.has(t.tcId)) expectOwnSignatureVerifies(sk, pk, msg, ctx);
    });
  });

  describe('Wycheproof verify', () => {
    const cases = wpVerify.testGroups.flatMap((g, gi) => g.tests.map((t) => ({ ...t, pk: g.publicKey, gi })));
    it.each(cases)('group $gi tcId $tcId ($result): $comment', (t) => {
      const ctx = ctxOf(t.ctx);
      if (ctx && ctx.length > 255) {
        // A context over 255 bytes is an argument error in our API (FIPS 204 section 5.2).
        expect(t.result).toBe('invalid');
        expect(() => mldsa65.verify(h(t.pk), h(t.msg), h(t.sig), ctx)).toThrow(RangeError);
        return;
      }
      // Wrong key or signature lengths are invalid data, so verify answers false, never throws.
      expect(mldsa65.verify(h(t.pk), h(t.msg), h(t.sig), ctx)).toBe(t.result === 'valid');
    });
  });

  describe('ACVP keyGen', () => {
    it.each(acvpKeyGen)('tcId $tcId', ({ group, p, e }) => {
      expect(group.parameterSet).toBe('ML-DSA-65');
      const kp = mldsa65.generateKeyPair(h(p.seed));
      expect(hx(kp.publicKey)).toBe(e.pk.toLowerCase());
      expect(hx(kp.secretKey)).toBe(e.sk.toLowerCase());
    });
  });

  describe('ACVP sigGen, external interface, pure', () => {
    const cases = acvpSigGen.filter((c) => isPure(c.group));
    it('covers the deterministic and the randomized group, with own signatures in both', () => {
      expect(new Set(cases.map((c) => c.group.deterministic))).toEqual(new Set([true, false]));
      expect(new Set(cases.filter((c) => c.tcId % 3 === 0).map((c) => c.group.deterministic))).toEqual(new Set([true, false]));
    });
    it.each(cases)('tgId $tgId tcId $tcId', ({ p, e }) => {
      const sk = h(p.sk as string);
      const ownSample = p.tcId % 3 === 0;
      // ACVP sigGen gives only the secret key; derive the public key with noble.
      const pk = ml_dsa65.getPublicKey(sk);
      const msg = h(p.message as string);
      const ctx = h(p.context ?? '');
      expect(mldsa65.verify(pk, msg, h(e.signature), ctx)).toBe(true);
      if (ownSample) expectOwnSignatureVerifies(sk, pk, msg, ctx);
    });
  });

  describe('ACVP sigVer, external interface, pure', () => {
    it.each(acvpSigVer.filter((c) => isPure(c.group)))('tgId $tgId tcId $tcId', ({ p, e }) => {
      expect(mldsa65.verify(h(p.pk as string), h(p.message as string), h(p.signature as string), h(p.context ?? ''))).toBe(e.testPassed);
    });
  });
});
