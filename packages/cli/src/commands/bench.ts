import { aes256gcm, hybridKem, mldsa65, NodeIdentity, randomBytes } from '@yak/crypto';

function rate(fn: () => void, ms = 300): number {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    fn();
    n++;
  }
  return (n * 1000) / (performance.now() - t0);
}

/** `yak bench`: a quick look at this machine's primitive speeds (the full suite is `pnpm bench`). */
export function quickBench(): Array<[string, string]> {
  const key = randomBytes(32);
  const aead = aes256gcm(key);
  const nonce = randomBytes(12);
  const mib = randomBytes(1 << 20);
  const kp = hybridKem.generateKeyPair();
  const sig = mldsa65.generateKeyPair();
  const msg = randomBytes(256);
  const s = mldsa65.sign(sig.secretKey, msg);
  const id = NodeIdentity.generate();
  const rows: Array<[string, string]> = [
    ['AES-256-GCM seal 1 MiB', `${rate(() => aead.seal(nonce, mib)).toFixed(0)} MiB/s`],
    ['X-Wing encapsulate', `${rate(() => hybridKem.encapsulate(kp.publicKey)).toFixed(0)} ops/s`],
    [
      'X-Wing decapsulate (cached static key)',
      `${rate(() => id.kemDecapsulate(hybridKem.encapsulate(id.kemPublicKey).cipherText)).toFixed(0)} ops/s (incl. encaps)`,
    ],
    ['ML-DSA-65 sign', `${rate(() => mldsa65.sign(sig.secretKey, msg)).toFixed(0)} ops/s`],
    ['ML-DSA-65 verify', `${rate(() => mldsa65.verify(sig.publicKey, msg, s)).toFixed(0)} ops/s`],
  ];
  id.destroy();
  return rows;
}
