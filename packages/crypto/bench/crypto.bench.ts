// @yak/crypto benchmarks (SPEC section 4): each candidate is measured interleaved with its
// baseline in the same run (compareOps), and the ratio is what matters.
// Many short interleaved rounds (median of 9-41 pairs; ML-DSA signing, whose hedged rejection
// sampling makes single signatures vary in cost, gets longer rounds) keep the ratios stable on a shared
// 2-core machine where absolute figures drift with load.
//  (a) AEAD seal+open through our API vs raw node:crypto cipher calls.
//  (b) X-Wing encapsulate+decapsulate vs noble's ml_kem768_x25519.
//  (c) ML-DSA-65 sign and verify through our wrapper vs noble's ml_dsa65 called directly.
//  (d) NodeIdentity.verifyRecord with the verified-record cache vs without (information).
import * as nc from 'node:crypto';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { aes256gcm, backend, chacha20poly1305, hybridKem, mldsa65, NodeIdentity, randomBytes, utf8 } from '@yak/crypto';
import { compareOps, record } from '../../../tools/bench/harness.js';

const PKG = '@yak/crypto';
process.stdout.write(`backend: ${backend().name}\n`);

// --- (a) AEAD -------------------------------------------------------------------------------
type NodeAead = 'aes-256-gcm' | 'chacha20-poly1305';

/**
 * The same job done with node:crypto directly, in the idiomatic way: seal to one
 * `ciphertext || tag` buffer (the sealed format every caller needs on the wire), then split it,
 * check the tag and decrypt.
 */
function rawSealOpen(alg: NodeAead, key: Uint8Array, nonce: Uint8Array, pt: Uint8Array): Uint8Array {
  const c = nc.createCipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  const sealed = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  const d = nc.createDecipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  const out = d.update(sealed.subarray(0, sealed.length - 16));
  d.final();
  return out;
}

/** Lower bound: node:crypto keeping ciphertext and tag apart (no sealed buffer at all). */
function rawSplitSealOpen(alg: NodeAead, key: Uint8Array, nonce: Uint8Array, pt: Uint8Array): Uint8Array {
  const c = nc.createCipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  const ct = c.update(pt);
  c.final();
  const tag = c.getAuthTag();
  const d = nc.createDecipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  d.setAuthTag(tag);
  const out = d.update(ct);
  d.final();
  return out;
}

function benchAead(name: string, alg: NodeAead, make: typeof aes256gcm, size: number, goal?: string): void {
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const pt = randomBytes(size);
  const aead = make(key);
  const r = compareOps(
    () => aead.open(nonce, aead.seal(nonce, pt)),
    () => rawSealOpen(alg, key, nonce, pt),
    { timeMs: size >= 1 << 20 ? 160 : 120, samples: 41, warmupMs: 20 },
  );
  const label = size >= 1 << 20 ? `${size >> 20} MiB` : size >= 1024 ? `${size >> 10} KiB` : `${size} B`;
  const mbps = (ops: number) => (ops * size) / 1e6;
  record({
    package: PKG,
    name: `${name} seal+open ${label}`,
    unit: 'MB/s',
    value: mbps(r.candidate),
    baseline: `node:crypto ${alg} raw calls, same ct||tag output`,
    baselineValue: mbps(r.baseline),
    ...(goal ? { goal } : {}),
  });
  if (size < 16 * 1024) return;
  const split = compareOps(
    () => aead.open(nonce, aead.seal(nonce, pt)),
    () => rawSplitSealOpen(alg, key, nonce, pt),
    { timeMs: size >= 1 << 20 ? 160 : 120, samples: 11, warmupMs: 20 },
  );
  record({
    package: PKG,
    name: `${name} seal+open ${label} (vs split output)`,
    unit: 'MB/s',
    value: mbps(split.candidate),
    baseline: `node:crypto ${alg} raw calls, ciphertext and tag kept apart`,
    baselineValue: mbps(split.baseline),
    notes: 'information: the raw side never builds the sealed buffer, so this bounds the cost of our output format',
  });
}

benchAead('aes256gcm', 'aes-256-gcm', aes256gcm, 256);
benchAead('aes256gcm', 'aes-256-gcm', aes256gcm, 16 * 1024, '>= 0.9');
benchAead('aes256gcm', 'aes-256-gcm', aes256gcm, 1024 * 1024, '>= 0.9');
benchAead('chacha20poly1305', 'chacha20-poly1305', chacha20poly1305, 16 * 1024, '>= 0.9');

// --- (b) hybrid KEM -------------------------------------------------------------------------
{
  const ours = hybridKem.generateKeyPair();
  const noble = ml_kem768_x25519.keygen();
  const r = compareOps(
    () => hybridKem.decapsulate(hybridKem.encapsulate(ours.publicKey).cipherText, ours.secretKey),
    () => ml_kem768_x25519.decapsulate(ml_kem768_x25519.encapsulate(noble.publicKey).cipherText, noble.secretKey),
    { timeMs: 200, samples: 15, warmupMs: 20 },
  );
  record({
    package: PKG,
    name: 'hybridKem (X-Wing) encapsulate+decapsulate',
    unit: 'ops/s',
    value: r.candidate,
    baseline: '@noble/post-quantum ml_kem768_x25519',
    baselineValue: r.baseline,
    goal: '>= 1.5',
  });
}

// --- (c) ML-DSA-65 --------------------------------------------------------------------------
{
  const { publicKey, secretKey } = mldsa65.generateKeyPair();
  const msg = randomBytes(256);
  const ctx = utf8('yak/bench/v1');
  const sign = compareOps(
    () => mldsa65.sign(secretKey, msg, ctx),
    () => ml_dsa65.sign(msg, secretKey, { context: ctx }),
    { timeMs: 600, samples: 15, warmupMs: 50 },
  );
  record({
    package: PKG,
    name: 'mldsa65 sign',
    unit: 'ops/s',
    value: sign.candidate,
    baseline: '@noble/post-quantum ml_dsa65.sign',
    baselineValue: sign.baseline,
    goal: '>= 0.95',
  });
  const sig = mldsa65.sign(secretKey, msg, ctx);
  const verify = compareOps(
    () => mldsa65.verify(publicKey, msg, sig, ctx),
    () => ml_dsa65.verify(sig, msg, publicKey, { context: ctx }),
    { timeMs: 150, samples: 15, warmupMs: 20 },
  );
  record({
    package: PKG,
    name: 'mldsa65 verify',
    unit: 'ops/s',
    value: verify.candidate,
    baseline: '@noble/post-quantum ml_dsa65.verify',
    baselineValue: verify.baseline,
    goal: '>= 0.95',
  });
}

// --- (d) verified-record cache --------------------------------------------------------------
{
  const rec = NodeIdentity.generate().publicRecord();
  NodeIdentity.verifyRecord(rec);
  const r = compareOps(
    () => NodeIdentity.verifyRecord(rec),
    () => NodeIdentity.verifyRecord(rec, { cache: false }),
    { timeMs: 100, samples: 9, warmupMs: 20 },
  );
  record({
    package: PKG,
    name: 'NodeIdentity.verifyRecord cached',
    unit: 'ops/s',
    value: r.candidate,
    baseline: 'verifyRecord uncached ({ cache: false })',
    baselineValue: r.baseline,
    notes: 'information: a cache hit costs a canonical encoding and a SHA-256 instead of ML-DSA-65 verification',
  });
}
