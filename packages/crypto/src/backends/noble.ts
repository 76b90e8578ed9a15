// Portable backend: noble (audited pure JS). Used where node:crypto is absent, and tested
// against the same vectors as the native backend.

import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hmac } from '@noble/hashes/hmac.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { sha3_256 } from '@noble/hashes/sha3.js';
import type { AeadName, Backend, HashName } from './types.js';

const HASHES = { sha256, sha384, sha512, 'sha3-256': sha3_256 } as const;

function aead(alg: AeadName, key: Uint8Array, nonce: Uint8Array, aad?: Uint8Array) {
  const a = aad && aad.length > 0 ? aad : undefined;
  return alg === 'aes-256-gcm' ? gcm(key, nonce, a) : chacha20poly1305(key, nonce, a);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function createNobleBackend(): Backend {
  return {
    name: 'noble',
    report: {
      aead: '@noble/ciphers',
      hash: '@noble/hashes',
      sha3: '@noble/hashes',
      hmac: '@noble/hashes',
      hkdf: '@noble/hashes HMAC',
      x25519: '@noble/curves',
      ed25519: '@noble/curves',
      scrypt: '@noble/hashes',
      random: 'crypto.getRandomValues',
    },
    aeadKey(_alg, key) {
      return Uint8Array.from(key);
    },
    aeadSeal(alg, key, nonce, parts, aad, headroom) {
      const plaintext = parts.length === 1 ? (parts[0] as Uint8Array) : concat(parts);
      const sealed = aead(alg, key as Uint8Array, nonce, aad).encrypt(plaintext);
      if (plaintext !== parts[0]) plaintext.fill(0);
      if (headroom === 0) return sealed;
      const out = new Uint8Array(headroom + sealed.length);
      out.set(sealed, headroom);
      return out;
    },
    aeadOpen(alg, key, nonce, sealed, aad) {
      try {
        return aead(alg, key as Uint8Array, nonce, aad).decrypt(sealed);
      } catch {
        return null;
      }
    },
    hash(alg: HashName | 'sha3-256', data) {
      return HASHES[alg](data);
    },
    hmac(alg: HashName, key, data) {
      return hmac(HASHES[alg], key, data);
    },
    x25519Public(sk) {
      return x25519.getPublicKey(sk);
    },
    x25519(sk, pk) {
      return nobleDh(sk, pk);
    },
    x25519Secret(sk) {
      // noble works on the raw scalar: keep a private copy, wiped by destroy().
      const key = Uint8Array.from(sk);
      let live = true;
      return {
        publicKey: x25519.getPublicKey(key),
        dh(pk: Uint8Array) {
          if (!live) throw new TypeError('X25519 secret was destroyed');
          return nobleDh(key, pk);
        },
        destroy() {
          live = false;
          key.fill(0);
        },
      };
    },
    ed25519Public(sk) {
      return ed25519.getPublicKey(sk);
    },
    ed25519Sign(sk, msg) {
      return ed25519.sign(msg, sk);
    },
    ed25519Verify(pk, msg, sig) {
      try {
        return ed25519.verify(sig, msg, pk, { zip215: false });
      } catch {
        return false;
      }
    },
    scrypt(passphrase, salt, N, r, p, dkLen) {
      return scrypt(passphrase, salt, { N, r, p, dkLen, maxmem: 256 * N * r + 1024 * 1024 });
    },
  };
}

function nobleDh(sk: Uint8Array, pk: Uint8Array): Uint8Array {
  try {
    return x25519.getSharedSecret(sk, pk);
  } catch {
    // noble throws on an all-zero result; the shared layer rejects it with a typed error.
    return new Uint8Array(32);
  }
}
