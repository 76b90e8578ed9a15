// Post-quantum primitives: ML-KEM-768 (FIPS 203), ML-DSA-65 (FIPS 204) and the X-Wing hybrid
// KEM (draft-connolly-cfrg-xwing-kem) with its X25519 half on the active (native) backend.

import { shake256 } from '@noble/hashes/sha3.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { abytes, aoptbytes } from './assert.js';
import { current } from './backend.js';
import type { X25519Secret } from './backends/types.js';
import { toHex } from './bytes.js';
import { CryptoError } from './errors.js';
import { type KeyPair, randomBytes, sha3_256, sha256 } from './primitives.js';

/** Result of an encapsulation. */
export interface Encapsulation {
  cipherText: Uint8Array;
  sharedSecret: Uint8Array;
}

/** The KEM shape shared by `mlkem768` and `hybridKem`. */
export interface Kem {
  readonly publicKeyLength: number;
  readonly secretKeyLength: number;
  readonly cipherTextLength: number;
  readonly sharedSecretLength: number;
  /** Deterministic when `seed` is given (for test vectors and key derivation). */
  generateKeyPair(seed?: Uint8Array): KeyPair;
  /** `randomness` fixes the encapsulation coins, for test vectors only. */
  encapsulate(publicKey: Uint8Array, randomness?: Uint8Array): Encapsulation;
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array;
}

function invalidKey(what: string, cause: unknown): CryptoError {
  return new CryptoError('YAK_CRYPTO_INVALID_KEY', `${what} rejected`, {
    cause: cause instanceof Error ? new Error(cause.message) : undefined,
  });
}

/** ML-KEM-768 (FIPS 203). The 64-byte seed is d || z (FIPS 203 section 6.1). */
export const mlkem768: Kem = {
  publicKeyLength: 1184,
  secretKeyLength: 2400,
  cipherTextLength: 1088,
  sharedSecretLength: 32,
  generateKeyPair(seed?: Uint8Array): KeyPair {
    aoptbytes(seed, 'seed');
    if (seed) abytes(seed, 'seed', 64);
    const s = seed ?? randomBytes(64);
    try {
      return ml_kem768.keygen(s);
    } finally {
      if (!seed) s.fill(0);
    }
  },
  encapsulate(publicKey: Uint8Array, randomness?: Uint8Array): Encapsulation {
    abytes(publicKey, 'publicKey', 1184);
    if (randomness !== undefined) abytes(randomness, 'randomness', 32);
    try {
      return ml_kem768.encapsulate(publicKey, randomness);
    } catch (e) {
      // FIPS 203 section 7.2 encapsulation key check (modulus check) failed.
      throw invalidKey('ML-KEM-768 public key', e);
    }
  },
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array {
    abytes(cipherText, 'cipherText', 1088);
    abytes(secretKey, 'secretKey', 2400);
    try {
      return ml_kem768.decapsulate(cipherText, secretKey);
    } catch (e) {
      // FIPS 203 section 7.3 decapsulation key check (hash check) failed.
      throw invalidKey('ML-KEM-768 secret key', e);
    }
  },
};

/** ML-DSA-65 (FIPS 204), hedged signing, optional context string (at most 255 bytes). */
export const mldsa65 = {
  publicKeyLength: 1952,
  secretKeyLength: 4032,
  signatureLength: 3309,
  /** Deterministic from a 32-byte seed (FIPS 204 section 6.1 xi) when given. */
  generateKeyPair(seed?: Uint8Array): KeyPair {
    if (seed !== undefined) abytes(seed, 'seed', 32);
    const s = seed ?? randomBytes(32);
    try {
      return ml_dsa65.keygen(s);
    } finally {
      if (!seed) s.fill(0);
    }
  },
  sign(secretKey: Uint8Array, msg: Uint8Array, context?: Uint8Array): Uint8Array {
    abytes(secretKey, 'secretKey', 4032);
    abytes(msg, 'msg');
    actx(context);
    try {
      return ml_dsa65.sign(msg, secretKey, context ? { context } : {});
    } catch (e) {
      // FIPS 204 section 7.2 skDecode: s1/s2 coefficients outside [-eta, eta] (a malformed key).
      throw invalidKey('ML-DSA-65 secret key', e);
    }
  },
  /** False for any invalid signature, key or context; never throws on bad data. */
  verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array, context?: Uint8Array): boolean {
    abytes(publicKey, 'publicKey');
    abytes(msg, 'msg');
    abytes(sig, 'sig');
    actx(context);
    if (publicKey.length !== 1952 || sig.length !== 3309) return false;
    try {
      return ml_dsa65.verify(sig, msg, publicKey, context ? { context } : {});
    } catch {
      return false;
    }
  },
} as const;

function actx(context: unknown): void {
  aoptbytes(context, 'context');
  if (context && (context as Uint8Array).length > 255) throw new RangeError('context must be at most 255 bytes');
}

// X-Wing (draft-connolly-cfrg-xwing-kem, section 5). The label is "\.//^\" (ASCII).
const XWING_LABEL = Uint8Array.from([0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);

interface XWingExpanded {
  skM: Uint8Array;
  /** sk_X loaded once into the backend (its public key and every DH come from it). */
  x: X25519Secret;
  pkM: Uint8Array;
  pkX: Uint8Array;
}

// expandDecapsulationKey: SHAKE256(sk, 96) -> ML-KEM seed (d || z) and the X25519 secret.
function expand(sk: Uint8Array): XWingExpanded {
  const expanded = shake256(sk, { dkLen: 96 });
  const { publicKey: pkM, secretKey: skM } = ml_kem768.keygen(expanded.subarray(0, 64));
  // The backend keeps its own copy of sk_X (a KeyObject, or noble's wiped-on-destroy copy), so
  // the one read out of the SHAKE output is wiped with it at once.
  let x: X25519Secret;
  try {
    x = current().x25519Secret(expanded.subarray(64, 96));
  } finally {
    expanded.fill(0);
  }
  return { skM, x, pkM, pkX: x.publicKey };
}

function wipeExpanded(e: XWingExpanded): void {
  e.skM.fill(0);
  e.x.destroy();
}

function isZero32(a: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i] as number;
  return acc === 0;
}

// Combiner: SHA3-256(ss_M || ss_X || ct_X || pk_X || label).
function combine(ssM: Uint8Array, ssX: Uint8Array, ctX: Uint8Array, pkX: Uint8Array): Uint8Array {
  const buf = new Uint8Array(32 * 4 + XWING_LABEL.length);
  buf.set(ssM, 0);
  buf.set(ssX, 32);
  buf.set(ctX, 64);
  buf.set(pkX, 96);
  buf.set(XWING_LABEL, 128);
  const ss = sha3_256(buf);
  buf.fill(0);
  return ss;
}

// Encapsulations to the same ML-KEM public key (a known peer's static key) reuse its prepared
// public matrix: noble's prepare() caches only public data (the packed key, the expanded matrix
// and H(ek)) and halves the cost of each later encapsulation. A key is prepared on its second
// use, so one-shot ephemeral keys cost nothing extra. Bounded; oldest entry evicted first.
const PREPARED_MAX = 256;
interface PreparedKey {
  encapsulate(m?: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array };
  clean(): void;
}
const prepared = new Map<string, PreparedKey | null>();

function pkKey(pk: Uint8Array): string {
  return toHex(sha256(pk));
}

function encapsulateMlkem(pkM: Uint8Array, m: Uint8Array): { cipherText: Uint8Array; sharedSecret: Uint8Array } {
  const k = pkKey(pkM);
  const hit = prepared.get(k);
  if (hit) {
    // Refresh recency.
    prepared.delete(k);
    prepared.set(k, hit);
    return hit.encapsulate(m);
  }
  if (hit === null) {
    const p = ml_kem768.prepare(pkM) as unknown as PreparedKey;
    prepared.delete(k);
    prepared.set(k, p);
    return p.encapsulate(m);
  }
  const out = ml_kem768.encapsulate(pkM, m);
  if (prepared.size >= PREPARED_MAX) {
    const oldest = prepared.keys().next().value as string;
    prepared.get(oldest)?.clean();
    prepared.delete(oldest);
  }
  prepared.set(k, null);
  return out;
}

/** An X-Wing secret key expanded once, for repeated or delayed decapsulation. */
export interface HybridKemDecapsulator {
  /** The X-Wing public key (1216 bytes). */
  readonly publicKey: Uint8Array;
  /** Same result as `hybridKem.decapsulate(cipherText, secretKey)`. */
  decapsulate(cipherText: Uint8Array): Uint8Array;
  /** Wipe the expanded secret key; later calls throw `YAK_CRYPTO_INVALID_KEY`. */
  destroy(): void;
}

/**
 * Expand an X-Wing secret key once (SHAKE-256, ML-KEM key generation, the X25519 public key and
 * ML-KEM's public matrix) so each decapsulation skips that work: for a node's static key, and for
 * an ephemeral key generated with {@link hybridKemEphemeral}. Same results as
 * `hybridKem.decapsulate`; the prepared matrix is public data (FIPS 203 section 7.3's re-encryption
 * uses it), the expanded secret is wiped by `destroy()`.
 */
export function hybridKemDecapsulator(secretKey: Uint8Array): HybridKemDecapsulator {
  abytes(secretKey, 'secretKey', 32);
  const e = expand(secretKey);
  const prepared = ml_kem768.prepare(e.pkM);
  const publicKey = new Uint8Array(1216);
  publicKey.set(e.pkM, 0);
  publicKey.set(e.pkX, 1184);
  let destroyed = false;
  return {
    publicKey,
    decapsulate(cipherText: Uint8Array): Uint8Array {
      abytes(cipherText, 'cipherText', 1120);
      if (destroyed) throw new CryptoError('YAK_CRYPTO_INVALID_KEY', 'decapsulator was destroyed');
      return decapsExpanded(cipherText, e, prepared.decapsulate);
    },
    destroy() {
      destroyed = true;
      wipeExpanded(e);
      prepared.clean();
    },
  };
}

/** A fresh ephemeral X-Wing key pair held only as a decapsulator (one expansion, not two). */
export function hybridKemEphemeral(): HybridKemDecapsulator {
  const sk = randomBytes(32);
  try {
    return hybridKemDecapsulator(sk);
  } finally {
    sk.fill(0);
  }
}

/** @internal kept for NodeIdentity. */
export const xwingDecapsulator = hybridKemDecapsulator;

function decapsExpanded(
  cipherText: Uint8Array,
  e: XWingExpanded,
  mlkemDecaps: (ct: Uint8Array, sk: Uint8Array) => Uint8Array = ml_kem768.decapsulate,
): Uint8Array {
  const ctX = cipherText.subarray(1088);
  const ssM = mlkemDecaps(cipherText.subarray(0, 1088), e.skM);
  const ssX = e.x.dh(ctX);
  if (isZero32(ssX)) {
    ssM.fill(0);
    throw new CryptoError('YAK_CRYPTO_ZERO_SHARED_SECRET', 'X-Wing X25519 half produced the all-zero shared secret');
  }
  const ss = combine(ssM, ssX, ctX, e.pkX);
  ssM.fill(0);
  ssX.fill(0);
  return ss;
}

/**
 * X-Wing hybrid KEM: X25519 + ML-KEM-768 (SPEC section 2, "Hybrid by default"). Secret keys are
 * the 32-byte seed; public keys are pk_M || pk_X (1216 bytes); ciphertexts ct_M || ct_X (1120).
 * Interoperable with other X-Wing implementations (checked against the draft's vectors and
 * against noble's `ml_kem768_x25519`).
 */
export const hybridKem: Kem = {
  publicKeyLength: 1216,
  secretKeyLength: 32,
  cipherTextLength: 1120,
  sharedSecretLength: 32,
  generateKeyPair(seed?: Uint8Array): KeyPair {
    if (seed !== undefined) abytes(seed, 'seed', 32);
    const sk = seed ? Uint8Array.from(seed) : randomBytes(32);
    const e = expand(sk);
    const publicKey = new Uint8Array(1216);
    publicKey.set(e.pkM, 0);
    publicKey.set(e.pkX, 1184);
    wipeExpanded(e);
    return { publicKey, secretKey: sk };
  },
  encapsulate(publicKey: Uint8Array, randomness?: Uint8Array): Encapsulation {
    abytes(publicKey, 'publicKey', 1216);
    if (randomness !== undefined) abytes(randomness, 'randomness', 64);
    const eseed = randomness ?? randomBytes(64);
    const pkM = publicKey.subarray(0, 1184);
    const pkX = publicKey.subarray(1184);
    const ekX = eseed.slice(32, 64);
    let ctX: Uint8Array;
    let ssX: Uint8Array;
    let m: { cipherText: Uint8Array; sharedSecret: Uint8Array };
    // The ephemeral X25519 key is loaded once for its public key (ct_X) and the DH.
    let ex: X25519Secret | undefined;
    try {
      ex = current().x25519Secret(ekX);
      ctX = ex.publicKey;
      ssX = ex.dh(pkX);
      if (isZero32(ssX)) throw new CryptoError('YAK_CRYPTO_ZERO_SHARED_SECRET', 'X-Wing X25519 half produced the all-zero shared secret');
      try {
        m = encapsulateMlkem(pkM, eseed.subarray(0, 32));
      } catch (e) {
        throw invalidKey('X-Wing ML-KEM-768 public key', e);
      }
    } finally {
      // The ephemeral secrets are wiped on every path (caller-supplied test randomness is theirs).
      ex?.destroy();
      ekX.fill(0);
      if (!randomness) eseed.fill(0);
    }
    const sharedSecret = combine(m.sharedSecret, ssX, ctX, pkX);
    m.sharedSecret.fill(0);
    ssX.fill(0);
    const cipherText = new Uint8Array(1120);
    cipherText.set(m.cipherText, 0);
    cipherText.set(ctX, 1088);
    return { cipherText, sharedSecret };
  },
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Uint8Array {
    abytes(cipherText, 'cipherText', 1120);
    abytes(secretKey, 'secretKey', 32);
    const e = expand(secretKey);
    try {
      return decapsExpanded(cipherText, e);
    } finally {
      wipeExpanded(e);
    }
  },
};
