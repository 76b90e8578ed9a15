// ML-KEM-768 (FIPS 203) and X-Wing known-answer tests: Wycheproof (4 files), NIST ACVP keyGen and
// encapDecap subsets, and the X-Wing draft vectors, through our `mlkem768` and `hybridKem`
// wrappers, on every backend.
import { CryptoError, hybridKem, mlkem768 } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { BACKENDS, h, hx, loadVectors, useBackend, type WycheproofCase, type WycheproofFile } from './helpers/vectors.js';

interface KemCase extends WycheproofCase {
  seed: string;
  ek?: string;
  c: string;
  K: string;
}
interface EncapsCase extends WycheproofCase {
  ek: string;
  m: string;
  c: string;
  K: string;
}
interface KeygenCase extends WycheproofCase {
  seed: string;
  ek: string;
  dk: string;
}
interface DecapsCase extends WycheproofCase {
  dk: string;
  c: string;
  ek: string;
  K?: string;
}
interface AcvpFile<P> {
  testGroups: Array<{ tgId: number; parameterSet: string; function?: string; tests: P[] }>;
}

const wpKem = loadVectors<WycheproofFile<{ tests: KemCase[] }>>('wycheproof/mlkem_768_test.json');
const wpEncaps = loadVectors<WycheproofFile<{ tests: EncapsCase[] }>>('wycheproof/mlkem_768_encaps_test.json');
const wpKeygen = loadVectors<WycheproofFile<{ tests: KeygenCase[] }>>('wycheproof/mlkem_768_keygen_seed_test.json');
const wpDecaps = loadVectors<WycheproofFile<{ tests: DecapsCase[] }>>('wycheproof/mlkem_768_semi_expanded_decaps_test.json');
const acvpKeyGen = {
  prompt: loadVectors<AcvpFile<{ tcId: number; d: string; z: string }>>('acvp/ML-KEM-keyGen-FIPS203/prompt.json'),
  expected: loadVectors<AcvpFile<{ tcId: number; ek: string; dk: string }>>('acvp/ML-KEM-keyGen-FIPS203/expectedResults.json'),
};
const acvpEncDec = {
  prompt: loadVectors<AcvpFile<{ tcId: number; ek?: string; dk?: string; m?: string; c?: string }>>(
    'acvp/ML-KEM-encapDecap-FIPS203/prompt.json',
  ),
  expected: loadVectors<AcvpFile<{ tcId: number; c?: string; k?: string; testPassed?: boolean }>>(
    'acvp/ML-KEM-encapDecap-FIPS203/expectedResults.json',
  ),
};
const xwing =
  loadVectors<Array<{ seed: string; sk: string; pk: string; eseed: string; ct: string; ss: string }>>('xwing/test-vectors.json');

const all = <T>(f: { testGroups: Array<{ tests: T[] }> }): T[] => f.testGroups.flatMap((g) => g.tests);

/** Join ACVP prompt and expected results on (tgId, tcId), keeping the group header. */
function joinAcvp<P extends { tcId: number }, E extends { tcId: number }>(
  prompt: AcvpFile<P>,
  expected: AcvpFile<E>,
): Array<{ group: AcvpFile<P>['testGroups'][number]; p: P; e: E }> {
  return prompt.testGroups.flatMap((group) => {
    const eg = expected.testGroups.find((x) => x.tgId === group.tgId);
    if (!eg) throw new Error(`no expected results for tgId ${group.tgId}`);
    return group.tests.map((p) => {
      const e = eg.tests.find((x) => x.tcId === p.tcId);
      if (!e) throw new Error(`no expected result for tcId ${p.tcId}`);
      return { group, p, e };
    });
  });
}

function invalidKey(fn: () => unknown): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CryptoError);
  expect((err as CryptoError).code).toBe('YAK_CRYPTO_INVALID_KEY');
}

/** A well-formed ciphertext for key checks that only need some input of the right length. */
const SOME_CT = new Uint8Array(1088);

describe.each(BACKENDS)('KEM vectors on backend %s', (backendName) => {
  useBackend(backendName);

  describe('Wycheproof ML-KEM-768 (seed -> keys, decapsulate)', () => {
    it.each(all(wpKem))('tcId $tcId ($result): $comment', (t) => {
      const seed = h(t.seed);
      if (seed.length !== 64) {
        expect(t.result).toBe('invalid');
        expect(() => mlkem768.generateKeyPair(seed)).toThrow(RangeError);
        return;
      }
      const { publicKey, secretKey } = mlkem768.generateKeyPair(seed);
      if (t.ek) expect(hx(publicKey)).toBe(t.ek);
      const c = h(t.c);
      if (t.result === 'valid') {
        // Includes implicit-rejection cases (random / bit-flipped ciphertexts): K is the
        // pseudorandom rejection key of FIPS 203 section 6.3, not an error.
        expect(hx(mlkem768.decapsulate(c, secretKey))).toBe(t.K);
      } else {
        expect(c.length).not.toBe(1088);
        expect(() => mlkem768.decapsulate(c, secretKey)).toThrow(RangeError);
      }
    });
  });

  describe('Wycheproof ML-KEM-768 encapsulation', () => {
    it.each(all(wpEncaps))('tcId $tcId ($result): $comment', (t) => {
      const ek = h(t.ek);
      if (t.result === 'valid') {
        const r = mlkem768.encapsulate(ek, h(t.m));
        expect(hx(r.cipherText)).toBe(t.c);
        expect(hx(r.sharedSecret)).toBe(t.K);
      } else if (ek.length !== 1184) {
        expect(() => mlkem768.encapsulate(ek, h(t.m))).toThrow(RangeError);
      } else {
        // FIPS 203 section 7.2 modulus check.
        invalidKey(() => mlkem768.encapsulate(ek, h(t.m)));
      }
    });
  });

  describe('Wycheproof ML-KEM-768 keygen from seed', () => {
    it.each(all(wpKeygen))('tcId $tcId: $comment', (t) => {
      const kp = mlkem768.generateKeyPair(h(t.seed));
      expect(hx(kp.publicKey)).toBe(t.ek);
      expect(hx(kp.secretKey)).toBe(t.dk);
    });
  });

  describe('Wycheproof ML-KEM-768 decapsulation-key validation', () => {
    it.each(all(wpDecaps))('tcId $tcId ($result): $comment', (t) => {
      const dk = h(t.dk);
      const c = h(t.c);
      if (t.result === 'valid') {
        expect(hx(mlkem768.decapsulate(c, dk))).toBe(t.K);
      } else if (dk.length !== 2400 || c.length !== 1088) {
        expect(() => mlkem768.decapsulate(c, dk)).toThrow(RangeError);
      } else {
        // FIPS 203 section 7.3 hash check on the decapsulation key.
        invalidKey(() => mlkem768.decapsulate(c, dk));
      }
    });
  });

  describe('ACVP ML-KEM-768 keyGen', () => {
    it.each(joinAcvp(acvpKeyGen.prompt, acvpKeyGen.expected))('tcId $p.tcId', ({ group, p, e }) => {
      expect(group.parameterSet).toBe('ML-KEM-768');
      const kp = mlkem768.generateKeyPair(h(p.d + p.z));
      expect(hx(kp.publicKey)).toBe(e.ek.toLowerCase());
      expect(hx(kp.secretKey)).toBe(e.dk.toLowerCase());
    });
  });

  describe('ACVP ML-KEM-768 encapDecap', () => {
    const cases = joinAcvp(acvpEncDec.prompt, acvpEncDec.expected);
    it('covers all four functions', () => {
      expect(new Set(cases.map((c) => c.group.function))).toEqual(
        new Set(['encapsulation', 'decapsulation', 'decapsulationKeyCheck', 'encapsulationKeyCheck']),
      );
    });
    it.each(cases)('$group.function tcId $p.tcId', ({ group, p, e }) => {
      expect(group.parameterSet).toBe('ML-KEM-768');
      switch (group.function) {
        case 'encapsulation': {
          const r = mlkem768.encapsulate(h(p.ek as string), h(p.m as string));
          expect(hx(r.cipherText)).toBe((e.c as string).toLowerCase());
          expect(hx(r.sharedSecret)).toBe((e.k as string).toLowerCase());
          break;
        }
        case 'decapsulation':
          expect(hx(mlkem768.decapsulate(h(p.c as string), h(p.dk as string)))).toBe((e.k as string).toLowerCase());
          break;
        case 'decapsulationKeyCheck':
          if (e.testPassed) expect(mlkem768.decapsulate(SOME_CT, h(p.dk as string))).toHaveLength(32);
          else invalidKey(() => mlkem768.decapsulate(SOME_CT, h(p.dk as string)));
          break;
        case 'encapsulationKeyCheck':
          if (e.testPassed) expect(mlkem768.encapsulate(h(p.ek as string)).cipherText).toHaveLength(1088);
          else invalidKey(() => mlkem768.encapsulate(h(p.ek as string)));
          break;
        default:
          throw new Error(`unexpected ACVP function ${group.function}`);
      }
    });
  });

  describe('X-Wing draft vectors (hybridKem)', () => {
    it.each(xwing.map((v, i) => ({ ...v, i })))('vector $i', (v) => {
      const kp = hybridKem.generateKeyPair(h(v.seed));
      expect(hx(kp.secretKey)).toBe(v.sk);
      expect(hx(kp.publicKey)).toBe(v.pk);
      const enc = hybridKem.encapsulate(h(v.pk), h(v.eseed));
      expect(hx(enc.cipherText)).toBe(v.ct);
      expect(hx(enc.sharedSecret)).toBe(v.ss);
      expect(hx(hybridKem.decapsulate(h(v.ct), h(v.sk)))).toBe(v.ss);
    });
  });
});
