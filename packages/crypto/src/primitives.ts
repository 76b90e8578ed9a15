// Symmetric primitives, hashes, X25519 and Ed25519 behind one small API (SPEC section 3,
// @yak/crypto). Synchronous and pure on Uint8Array; the active backend does the work.
import { abytes, aint, aoptbytes } from './assert.js';
import { current } from './backend.js';
import type { AeadKey, AeadName, Backend, HashName } from './backends/types.js';
import { CryptoError } from './errors.js';

export type { HashName } from './backends/types.js';

/** An AEAD bound to one key. `seal` returns ciphertext || 16-byte tag. */
export interface Aead {
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * Seal the concatenation of `parts` without concatenating them first. The result starts with
   * `headroom` zero bytes (room for a caller's header, written in place), then ciphertext || tag:
   * a framing layer gets its whole frame from one allocation and no extra copy.
   */
  sealParts(nonce: Uint8Array, parts: readonly Uint8Array[], aad?: Uint8Array, headroom?: number): Uint8Array;
  /** Throws `CryptoError` `YAK_CRYPTO_AUTH` on any authentication failure. */
  open(nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * Wipe this object's copy of the key and drop the backend's prepared key. Later calls throw
   * `CryptoError` `YAK_CRYPTO_INVALID_KEY`. (A native KeyObject is freed by the GC, not zeroed.)
   */
  destroy(): void;
}

/** AEAD key, nonce and tag sizes in bytes. */
export const AEAD_KEY_LENGTH = 32;
export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;

function makeAead(alg: AeadName, key: Uint8Array): Aead {
  abytes(key, 'key', AEAD_KEY_LENGTH);
  const k = Uint8Array.from(key);
  // The key prepared by the backend in use; prepared again if selectBackend() switched it.
  let prepared: { backend: Backend; key: AeadKey } | undefined;
  let destroyed = false;
  const keyFor = (b: Backend): AeadKey => {
    if (destroyed) throw new CryptoError('YAK_CRYPTO_INVALID_KEY', 'AEAD key was destroyed');
    if (prepared?.backend !== b) prepared = { backend: b, key: b.aeadKey(alg, k) };
    return prepared.key;
  };
  return {
    seal(nonce, plaintext, aad) {
      abytes(nonce, 'nonce', AEAD_NONCE_LENGTH);
      abytes(plaintext, 'plaintext');
      aoptbytes(aad, 'aad');
      const b = current();
      return b.aeadSeal(alg, keyFor(b), nonce, [plaintext], aad, 0);
    },
    sealParts(nonce, parts, aad, headroom = 0) {
      abytes(nonce, 'nonce', AEAD_NONCE_LENGTH);
      if (!Array.isArray(parts)) throw new TypeError('parts must be an array of Uint8Array');
      for (let i = 0; i < parts.length; i++) abytes(parts[i], `parts[${i}]`);
      aoptbytes(aad, 'aad');
      aint(headroom, 'headroom', 0, 1 << 20);
      const b = current();
      return b.aeadSeal(alg, keyFor(b), nonce, parts, aad, headroom);
    },
    open(nonce, sealed, aad) {
      abytes(nonce, 'nonce', AEAD_NONCE_LENGTH);
      abytes(sealed, 'sealed');
      aoptbytes(aad, 'aad');
      if (sealed.length < AEAD_TAG_LENGTH) throw new CryptoError('YAK_CRYPTO_AUTH', 'sealed input shorter than the tag');
      const b = current();
      const pt = b.aeadOpen(alg, keyFor(b), nonce, sealed, aad);
      if (pt === null) throw new CryptoError('YAK_CRYPTO_AUTH', `${alg} authentication failed`);
      return pt;
    },
    destroy() {
      destroyed = true;
      k.fill(0);
      if (prepared?.key instanceof Uint8Array) prepared.key.fill(0);
      prepared = undefined;
    },
  };
}

/** AES-256-GCM (NIST SP 800-38D) with a 96-bit nonce and 128-bit tag. */
export function aes256gcm(key: Uint8Array): Aead {
  return makeAead('aes-256-gcm', key);
}

/** ChaCha20-Poly1305 (RFC 8439). */
export function chacha20poly1305(key: Uint8Array): Aead {
  return makeAead('chacha20-poly1305', key);
}

const HASH_LEN: Record<HashName, number> = { sha256: 32, sha384: 48, sha512: 64 };

function ahash(hash: unknown): asserts hash is HashName {
  if (hash !== 'sha256' && hash !== 'sha384' && hash !== 'sha512') {
    throw new TypeError(`hash must be 'sha256', 'sha384' or 'sha512'`);
  }
}

/** HMAC (RFC 2104). */
export function hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
  ahash(hash);
  abytes(key, 'key');
  abytes(data, 'data');
  return current().hmac(hash, key, data);
}

/**
 * HKDF (RFC 5869): extract then expand. An absent or empty salt means HashLen zero bytes
 * (section 2.2). `length` is at most 255 * HashLen.
 */
export function hkdf(
  hash: HashName,
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array | undefined,
  length: number,
): Uint8Array {
  ahash(hash);
  abytes(ikm, 'ikm');
  aoptbytes(salt, 'salt');
  aoptbytes(info, 'info');
  aint(length, 'length', 0, 255 * HASH_LEN[hash]);
  const prk = hkdfExtract(hash, ikm, salt);
  try {
    return expand(hash, prk, info, length);
  } finally {
    prk.fill(0);
  }
}

/**
 * HKDF-Extract (RFC 5869 section 2.2): PRK = HMAC-Hash(salt, IKM), an absent or empty salt
 * meaning HashLen zero bytes. With {@link hkdfExpand}, several keys from one input cost one
 * extraction, not one each: `hkdf(h, ikm, salt, info, L)` equals
 * `hkdfExpand(h, hkdfExtract(h, ikm, salt), info, L)`. The PRK is secret: wipe it after use.
 */
export function hkdfExtract(hash: HashName, ikm: Uint8Array, salt: Uint8Array | undefined): Uint8Array {
  ahash(hash);
  const hl = HASH_LEN[hash];
  abytes(ikm, 'ikm');
  aoptbytes(salt, 'salt');
  return current().hmac(hash, salt && salt.length > 0 ? salt : new Uint8Array(hl), ikm);
}

/**
 * HKDF-Expand (RFC 5869 section 2.3): `length` bytes (at most 255 * HashLen) from a PRK of at
 * least HashLen bytes.
 */
export function hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array | undefined, length: number): Uint8Array {
  ahash(hash);
  const hl = HASH_LEN[hash];
  abytes(prk, 'prk');
  if (prk.length < hl) throw new RangeError(`prk must be at least ${hl} bytes, got ${prk.length}`);
  aoptbytes(info, 'info');
  aint(length, 'length', 0, 255 * hl);
  return expand(hash, prk, info, length);
}

function expand(hash: HashName, prk: Uint8Array, info: Uint8Array | undefined, length: number): Uint8Array {
  const hl = HASH_LEN[hash];
  const b = current();
  const out = new Uint8Array(length);
  const inf = info ?? new Uint8Array(0);
  const block = new Uint8Array(hl + inf.length + 1);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 0, o = 0; o < length; i++) {
    // T(i) = HMAC(PRK, T(i-1) || info || i)
    block.set(t, 0);
    block.set(inf, t.length);
    block[t.length + inf.length] = i + 1;
    const next = b.hmac(hash, prk, block.subarray(0, t.length + inf.length + 1));
    t.fill(0);
    t = next;
    out.set(t.subarray(0, Math.min(hl, length - o)), o);
    o += hl;
  }
  t.fill(0);
  block.fill(0);
  return out;
}

/** SHA-256 (FIPS 180-4). */
export function sha256(data: Uint8Array): Uint8Array {
  abytes(data, 'data');
  return current().hash('sha256', data);
}

/** SHA-384 (FIPS 180-4). */
export function sha384(data: Uint8Array): Uint8Array {
  abytes(data, 'data');
  return current().hash('sha384', data);
}

/** SHA-512 (FIPS 180-4). */
export function sha512(data: Uint8Array): Uint8Array {
  abytes(data, 'data');
  return current().hash('sha512', data);
}

/** SHA3-256 (FIPS 202). */
export function sha3_256(data: Uint8Array): Uint8Array {
  abytes(data, 'data');
  return current().hash('sha3-256', data);
}

/** `n` bytes from the platform CSPRNG (crypto.getRandomValues). */
export function randomBytes(n: number): Uint8Array {
  aint(n, 'n', 0, 2 ** 30);
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call (WebCrypto spec).
  for (let o = 0; o < n; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

/** Compare two byte arrays in time independent of their contents (not of their lengths). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  abytes(a, 'a');
  abytes(b, 'b');
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** A key pair as raw bytes. */
export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

function isZero(a: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i] as number;
  return acc === 0;
}

/** X25519 (RFC 7748). */
export const x25519 = {
  publicKeyLength: 32,
  secretKeyLength: 32,
  generateKeyPair(): KeyPair {
    const secretKey = randomBytes(32);
    return { publicKey: current().x25519Public(secretKey), secretKey };
  },
  getPublicKey(secretKey: Uint8Array): Uint8Array {
    abytes(secretKey, 'secretKey', 32);
    return current().x25519Public(secretKey);
  },
  /** Rejects an all-zero result (low-order public key, RFC 7748 section 6.1) with YAK_CRYPTO_ZERO_SHARED_SECRET. */
  sharedSecret(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
    abytes(secretKey, 'secretKey', 32);
    abytes(publicKey, 'publicKey', 32);
    const ss = current().x25519(secretKey, publicKey);
    if (isZero(ss)) throw new CryptoError('YAK_CRYPTO_ZERO_SHARED_SECRET', 'X25519 produced the all-zero shared secret');
    return ss;
  },
} as const;

/** Ed25519 (RFC 8032), pure mode. */
export const ed25519 = {
  publicKeyLength: 32,
  secretKeyLength: 32,
  signatureLength: 64,
  generateKeyPair(): KeyPair {
    const secretKey = randomBytes(32);
    return { publicKey: current().ed25519Public(secretKey), secretKey };
  },
  getPublicKey(secretKey: Uint8Array): Uint8Array {
    abytes(secretKey, 'secretKey', 32);
    return current().ed25519Public(secretKey);
  },
  sign(secretKey: Uint8Array, msg: Uint8Array): Uint8Array {
    abytes(secretKey, 'secretKey', 32);
    abytes(msg, 'msg');
    return current().ed25519Sign(secretKey, msg);
  },
  /** False for any invalid signature, key or length; never throws on bad data. */
  verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
    abytes(publicKey, 'publicKey');
    abytes(msg, 'msg');
    abytes(sig, 'sig');
    if (publicKey.length !== 32 || sig.length !== 64) return false;
    return current().ed25519Verify(publicKey, msg, sig);
  },
} as const;

/** Internal: scrypt through the active backend. */
export function scryptKdf(passphrase: Uint8Array, salt: Uint8Array, N: number, r: number, p: number, dkLen: number): Uint8Array {
  return current().scrypt(passphrase, salt, N, r, p, dkLen);
}
