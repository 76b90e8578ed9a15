// ML-DSA-65 vector files (Wycheproof and ACVP subsets), typed and joined, shared by
// vectors-mldsa.test.ts (our wrapper) and vectors-mldsa-noble.test.ts (dependency conformance).
import { h, loadVectors, type WycheproofCase, type WycheproofFile } from './vectors.js';

export interface SignCase extends WycheproofCase {
  msg?: string;
  ctx?: string;
  mu?: string;
  rnd?: string;
  sig: string;
}
export interface SeedGroup {
  privateSeed: string;
  publicKey: string | null;
  tests: SignCase[];
}
export interface NoSeedGroup {
  privateKey: string;
  publicKey: string | null;
  tests: SignCase[];
}
export interface VerifyGroup {
  publicKey: string;
  tests: Array<WycheproofCase & { msg: string; ctx?: string; sig: string }>;
}
export interface AcvpFile<P> {
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
export interface AcvpSig {
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

export const wpSeed = loadVectors<WycheproofFile<SeedGroup>>('wycheproof/mldsa_65_sign_seed_test.json');
export const wpNoSeed = loadVectors<WycheproofFile<NoSeedGroup>>('wycheproof/mldsa_65_sign_noseed_test.json');
export const wpVerify = loadVectors<WycheproofFile<VerifyGroup>>('wycheproof/mldsa_65_verify_test.json');
export const acvpKeyGen = join(
  loadVectors<AcvpFile<{ tcId: number; seed: string }>>('acvp/ML-DSA-keyGen-FIPS204/prompt.json'),
  loadVectors<AcvpFile<{ tcId: number; pk: string; sk: string }>>('acvp/ML-DSA-keyGen-FIPS204/expectedResults.json'),
);
export const acvpSigGen = join(
  loadVectors<AcvpFile<AcvpSig>>('acvp/ML-DSA-sigGen-FIPS204/prompt.json'),
  loadVectors<AcvpFile<{ tcId: number; signature: string }>>('acvp/ML-DSA-sigGen-FIPS204/expectedResults.json'),
);
export const acvpSigVer = join(
  loadVectors<AcvpFile<AcvpSig>>('acvp/ML-DSA-sigVer-FIPS204/prompt.json'),
  loadVectors<AcvpFile<{ tcId: number; testPassed: boolean }>>('acvp/ML-DSA-sigVer-FIPS204/expectedResults.json'),
);

export function join<P extends { tcId: number }, E extends { tcId: number }>(prompt: AcvpFile<P>, expected: AcvpFile<E>) {
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

export const isPure = (g: AcvpFile<AcvpSig>['testGroups'][number]) => g.signatureInterface === 'external' && g.preHash === 'pure';
export const ctxOf = (hex: string | undefined) => (hex === undefined ? undefined : h(hex));
