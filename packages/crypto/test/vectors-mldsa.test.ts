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
// @noble/post-quantum, the library our wrapper calls, in the "dependency conformance" block.
import { sha224, sha256, sha384, sha512, sha512_224, sha512_256 } from '@noble/hashes/sha2.js';
import { sha3_224, sha3_256, sha3_384, sha3_512, shake128, shake256 } from '@noble/hashes/sha3.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { CryptoError, mldsa65 } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { BACKENDS, h, hx, loadVectors, useBackend, type WycheproofCase, type WycheproofFile } from './helpers/vectors.js';

interface SignCase extends WycheproofCase {
  msg?: string;
  ctx?: string;
  mu?: string;
  rnd?: string;
  sig: string;
}
interface SeedGroup {
  privateSeed: string;
  publicKey: string | null;
  tests: SignCase[];
}
interface NoSeedGroup {
  privateKey: string;
  publicKey: string | null;
  tests: SignCase[];
}
interface VerifyGroup {
  publicKey: string;
  tests: Array<WycheproofCase & { msg: string; ctx?: string; sig: string }>;
}
interface AcvpFile<P> {
  testGroups: Array<{
    tgId: number;
    parameterSet: string;
    deterministic?: boolean;
    signatureInterface?: 'external' | 'internal';
    preHash?: 'pure' | 'preHash';
    externalMu?: boolean;
    tests: P[];
  }>;
}
interface AcvpSig {
  tcId: number;
  message?: string;
  mu?: string;
  context?: string;
  hashAlg?: string;
  rnd?: string;
  sk?: string;
  pk?: string;
  signature?: string;
}

const wpSeed = loadVectors<WycheproofFile<SeedGroup>>('wycheproof/mldsa_65_sign_seed_test.json');
const wpNoSeed = loadVectors<WycheproofFile<NoSeedGroup>>('wycheproof/mldsa_65_sign_noseed_test.json');
const wpVerify = loadVectors<WycheproofFile<VerifyGroup>>('wycheproof/mldsa_65_verify_test.json');
const acvpKeyGen = join(
  loadVectors<AcvpFile<{ tcId: number; seed: string }>>('acvp/ML-DSA-keyGen-FIPS204/prompt.json'),
  loadVectors<AcvpFile<{ tcId: number; pk: string; sk: string }>>('acvp/ML-DSA-keyGen-FIPS204/expectedResults.json'),
);
const acvpSigGen = join(
  loadVectors<AcvpFile<AcvpSig>>('acvp/ML-DSA-sigGen-FIPS204/prompt.json'),
  loadVectors<AcvpFile<{ tcId: number; signature: string }>>('acvp/ML-DSA-sigGen-FIPS204/expectedResults.json'),
);
const acvpSigVer = join(
  loadVectors<AcvpFile<AcvpSig>>('acvp/ML-DSA-sigVer-FIPS204/prompt.json'),
  loadVectors<AcvpFile<{ tcId: number; testPassed: boolean }>>('acvp/ML-DSA-sigVer-FIPS204/expectedResults.json'),
);

function join<P extends { tcId: number }, E extends { tcId: number }>(prompt: AcvpFile<P>, expected: AcvpFile<E>) {
  return prompt.testGroups.flatMap((group) => {
    const eg = expected.testGroups.find((x) => x.tgId === group.tgId);
    if (!eg) throw new Error(`no expected results for tgId ${group.tgId}`);
    return group.tests.map((p) => {
      const e = eg.tests.find((x) => x.tcId === p.tcId);
      if (!e) throw new Error(`no expected result for tcId ${p.tcId}`);
      return { group, p, e, tgId: group.tgId, tcId: p.tcId };
    });
  });
}

const isPure = (g: AcvpFile<AcvpSig>['testGroups'][number]) => g.signatureInterface === 'external' && g.preHash === 'pure';
const ctxOf = (hex: string | undefined) => (hex === undefined ? undefined : h(hex));

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
      expectOwnSignatureVerifies(secretKey, publicKey, msg, ctx);
    });
  });

  describe('Wycheproof sign, expanded key form', () => {
    const cases = wpNoSeed.testGroups.flatMap((g, gi) => g.tests.map((t) => ({ ...t, g, gi })));
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
      expectOwnSignatureVerifies(sk, pk, msg, ctx);
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
    it('covers the deterministic and the randomized group', () => {
      expect(new Set(cases.map((c) => c.group.deterministic))).toEqual(new Set([true, false]));
    });
    it.each(cases)('tgId $tgId tcId $tcId', ({ p, e }) => {
      const sk = h(p.sk as string);
      // ACVP sigGen gives only the secret key; derive the public key with noble.
      const pk = ml_dsa65.getPublicKey(sk);
      const msg = h(p.message as string);
      const ctx = h(p.context ?? '');
      expect(mldsa65.verify(pk, msg, h(e.signature), ctx)).toBe(true);
      expectOwnSignatureVerifies(sk, pk, msg, ctx);
    });
  });

  describe('ACVP sigVer, external interface, pure', () => {
    it.each(acvpSigVer.filter((c) => isPure(c.group)))('tgId $tgId tcId $tcId', ({ p, e }) => {
      expect(mldsa65.verify(h(p.pk as string), h(p.message as string), h(p.signature as string), h(p.context ?? ''))).toBe(e.testPassed);
    });
  });
});

// --- Dependency conformance: @noble/post-quantum for what our wrapper does not expose ---------

// HashML-DSA pre-hash OIDs (FIPS 204 section 5.4, 2.16.840.1.101.3.4.2.x) and digests. SHAKE128
// and SHAKE256 produce 256 and 512 bits here (FIPS 204 section 5.4.1).
const PREHASH: Record<string, { oid: number; hash: (m: Uint8Array) => Uint8Array }> = {
  'SHA2-256': { oid: 0x01, hash: sha256 },
  'SHA2-384': { oid: 0x02, hash: sha384 },
  'SHA2-512': { oid: 0x03, hash: sha512 },
  'SHA2-224': { oid: 0x04, hash: sha224 },
  'SHA2-512/224': { oid: 0x05, hash: sha512_224 },
  'SHA2-512/256': { oid: 0x06, hash: sha512_256 },
  'SHA3-224': { oid: 0x07, hash: sha3_224 },
  'SHA3-256': { oid: 0x08, hash: sha3_256 },
  'SHA3-384': { oid: 0x09, hash: sha3_384 },
  'SHA3-512': { oid: 0x0a, hash: sha3_512 },
  'SHAKE-128': { oid: 0x0b, hash: (m) => shake128(m, { dkLen: 32 }) },
  'SHAKE-256': { oid: 0x0c, hash: (m) => shake256(m, { dkLen: 64 }) },
};

/** M' of FIPS 204 algorithms 2/4 (pure: 0 || |ctx| || ctx || M; pre-hash: 1 || |ctx| || ctx || OID || PH(M)). */
function formatMessage(p: AcvpSig, preHash: boolean): Uint8Array {
  const ctx = h(p.context ?? '');
  const msg = h(p.message as string);
  if (!preHash) return Uint8Array.from([0, ctx.length, ...ctx, ...msg]);
  const ph = PREHASH[p.hashAlg as string];
  if (!ph) throw new Error(`unknown hashAlg ${p.hashAlg}`);
  const oid = [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, ph.oid];
  return Uint8Array.from([1, ctx.length, ...ctx, ...oid, ...ph.hash(msg)]);
}

/** The input of ML-DSA.Sign_internal / Verify_internal for an ACVP case, and whether it is mu. */
function internalInput(group: AcvpFile<AcvpSig>['testGroups'][number], p: AcvpSig): { input: Uint8Array; externalMu: boolean } {
  if (group.signatureInterface === 'internal') {
    return group.externalMu ? { input: h(p.mu as string), externalMu: true } : { input: h(p.message as string), externalMu: false };
  }
  return { input: formatMessage(p, group.preHash === 'preHash'), externalMu: false };
}

describe('ML-DSA-65 dependency conformance (@noble/post-quantum, backend-independent)', () => {
  const signCases = [
    ...wpSeed.testGroups
      .filter((g) => g.privateSeed.length === 64)
      .flatMap((g) => g.tests.map((t) => ({ ...t, sk: ml_dsa65.keygen(h(g.privateSeed)).secretKey, file: 'seed' }))),
    ...wpNoSeed.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, sk: h(g.privateKey), file: 'noseed' }))),
  ].filter((t) => t.result === 'valid');

  it.each(signCases)('Wycheproof sign ($file) tcId $tcId reproduces the published signature', (t) => {
    // Wycheproof signing is deterministic unless the case carries `rnd`.
    const extraEntropy = t.rnd ? h(t.rnd) : (false as const);
    const sig =
      t.msg === undefined
        ? ml_dsa65.internal.sign(h(t.mu as string), t.sk, { externalMu: true, extraEntropy })
        : ml_dsa65.sign(h(t.msg), t.sk, { extraEntropy, ...(t.ctx !== undefined ? { context: h(t.ctx) } : {}) });
    expect(hx(sig)).toBe(t.sig);
  });

  it.each(acvpSigGen)('ACVP sigGen tgId $tgId tcId $tcId', ({ group, p, e }) => {
    const { input, externalMu } = internalInput(group, p);
    const extraEntropy = group.deterministic ? (false as const) : h(p.rnd as string);
    expect(hx(ml_dsa65.internal.sign(input, h(p.sk as string), { externalMu, extraEntropy }))).toBe(e.signature.toLowerCase());
  });

  it.each(acvpSigVer)('ACVP sigVer tgId $tgId tcId $tcId', ({ group, p, e }) => {
    const { input, externalMu } = internalInput(group, p);
    expect(ml_dsa65.internal.verify(h(p.signature as string), input, h(p.pk as string), { externalMu })).toBe(e.testPassed);
  });
});
