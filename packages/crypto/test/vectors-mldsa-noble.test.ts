// ML-DSA-65 dependency conformance: the vector cases our wrapper cannot express (published
// deterministic / fixed-rnd signature bytes, HashML-DSA pre-hash with all 12 ACVP hashes, the
// internal interface and external mu), checked once against @noble/post-quantum, the library
// our `mldsa65` wrapper calls. Backend-independent: ML-DSA never touches the backend.
import { sha224, sha256, sha384, sha512, sha512_224, sha512_256 } from '@noble/hashes/sha2.js';
import { sha3_224, sha3_256, sha3_384, sha3_512, shake128, shake256 } from '@noble/hashes/sha3.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { describe, expect, it } from 'vitest';
import { type AcvpFile, type AcvpSig, acvpSigGen, acvpSigVer, wpNoSeed, wpSeed } from './helpers/mldsa-vectors.js';
import { h, hx } from './helpers/vectors.js';

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
