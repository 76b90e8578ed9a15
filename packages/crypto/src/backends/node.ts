// Native backend: OpenSSL through node:crypto (SPEC section 2: 20-50x faster than pure JS).
// Loaded with process.getBuiltinModule so the package still imports where node:crypto is absent.
import type * as NodeCrypto from 'node:crypto';
import { sha3_256 as nobleSha3 } from '@noble/hashes/sha3.js';
import type { AeadName, Backend, HashName } from './types.js';

// DER prefixes that wrap a raw 32-byte key as PKCS#8 / SPKI (RFC 8410 section 7 and 4).
const PKCS8_X25519 = hex('302e020100300506032b656e04220420');
const PKCS8_ED25519 = hex('302e020100300506032b657004220420');
const SPKI_X25519 = hex('302a300506032b656e032100');
const SPKI_ED25519 = hex('302a300506032b6570032100');

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g) as string[], (b) => Number.parseInt(b, 16));
}

function loadNodeCrypto(): typeof NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return proc?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined;
  } catch {
    return undefined;
  }
}

type Okp = 'X25519' | 'Ed25519';

/** Plaintext chunk for AEAD sealing (see aeadSeal). */
const SEAL_CHUNK = 64 * 1024;

function b64url(raw: Uint8Array): string {
  return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url');
}

function fromB64url(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64url'));
}

/** Whether OKP JWK import works here and gives the RFC 7748 section 6.1 public key. */
function jwkImportWorks(c: typeof NodeCrypto): boolean {
  try {
    const sk = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const key = c.createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(sk), x: '' }, format: 'jwk' });
    const x = (c.createPublicKey(key).export({ format: 'jwk' }) as { x?: string }).x;
    return (
      typeof x === 'string' &&
      Buffer.from(x, 'base64url').toString('hex') === '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'
    );
  } catch {
    return false;
  }
}

/** Copy a Buffer into a fresh, unpooled Uint8Array and wipe the source. */
function own(buf: Uint8Array): Uint8Array {
  const out = new Uint8Array(buf.length);
  out.set(buf);
  buf.fill(0);
  return out;
}

/** View a Buffer as a plain Uint8Array without copying (for non-secret outputs). */
function view(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

export function createNodeBackend(): Backend | undefined {
  const c = loadNodeCrypto();
  if (!c || typeof c.createCipheriv !== 'function') return undefined;
  const ciphers = new Set(c.getCiphers());
  if (!ciphers.has('aes-256-gcm') || !ciphers.has('chacha20-poly1305')) return undefined;
  const hashes = new Set(c.getHashes());
  const hasSha3 = hashes.has('sha3-256');
  const oneShot = typeof (c as { hash?: unknown }).hash === 'function';

  // Raw X25519/Ed25519 keys enter OpenSSL as JWK when the runtime allows it: node imports an
  // OKP JWK with EVP_PKEY_new_raw_*_key, about ten times faster than running OpenSSL 3's
  // PKCS#8/SPKI decoders on a DER wrapper, which dominated every X25519 and Ed25519 call. The
  // price is a transient base64url string of the secret that cannot be wiped (the noble backend
  // holds the same secret as an unwipeable bigint). A self-test at load decides; DER is the
  // fallback.
  const useJwk = jwkImportWorks(c);

  function wrap(prefix: Uint8Array, raw: Uint8Array): Buffer {
    const der = Buffer.allocUnsafe(prefix.length + raw.length);
    der.set(prefix);
    der.set(raw, prefix.length);
    return der;
  }
  function privKey(crv: Okp, raw: Uint8Array): NodeCrypto.KeyObject {
    if (useJwk) return c!.createPrivateKey({ key: { kty: 'OKP', crv, d: b64url(raw), x: '' }, format: 'jwk' });
    const der = wrap(crv === 'X25519' ? PKCS8_X25519 : PKCS8_ED25519, raw);
    try {
      return c!.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0);
    }
  }
  function pubKey(crv: Okp, raw: Uint8Array): NodeCrypto.KeyObject {
    if (useJwk) return c!.createPublicKey({ key: { kty: 'OKP', crv, x: b64url(raw) }, format: 'jwk' });
    return c!.createPublicKey({ key: wrap(crv === 'X25519' ? SPKI_X25519 : SPKI_ED25519, raw), format: 'der', type: 'spki' });
  }
  function dh(privateKey: NodeCrypto.KeyObject, pk: Uint8Array): Uint8Array {
    try {
      return own(c!.diffieHellman({ privateKey, publicKey: pubKey('X25519', pk) }));
    } catch {
      // OpenSSL refuses to return an all-zero shared secret (RFC 7748 section 6.1 check);
      // report it as such so the shared rejection path handles both backends alike.
      return new Uint8Array(32);
    }
  }
  function rawPublic(key: NodeCrypto.KeyObject): Uint8Array {
    if (useJwk) return fromB64url((key.export({ format: 'jwk' }) as { x: string }).x);
    const der = key.export({ format: 'der', type: 'spki' });
    return new Uint8Array(der.subarray(der.length - 32));
  }

  const report = {
    aead: 'node:crypto (OpenSSL)',
    hash: 'node:crypto (OpenSSL)',
    sha3: hasSha3 ? 'node:crypto (OpenSSL)' : '@noble/hashes',
    hmac: 'node:crypto (OpenSSL)',
    hkdf: 'node:crypto HMAC (OpenSSL)',
    x25519: 'node:crypto (OpenSSL)',
    ed25519: 'node:crypto (OpenSSL)',
    scrypt: 'node:crypto (OpenSSL)',
    random: 'node:crypto webcrypto getRandomValues',
  } as const;

  return {
    name: 'node',
    report,
    aeadKey(_alg, key) {
      // A secret KeyObject keeps the key inside OpenSSL and makes createCipheriv cheaper than
      // passing raw bytes on every call.
      return c.createSecretKey(key);
    },
    aeadSeal(alg: AeadName, key, nonce, parts, aad, headroom) {
      const cipher = c.createCipheriv(alg as 'aes-256-gcm', key as NodeCrypto.KeyObject, nonce, { authTagLength: 16 });
      if (aad && aad.length > 0) cipher.setAAD(aad);
      let n = 0;
      for (const p of parts) n += p.length;
      // Unpooled, so the result's .buffer holds nothing but header room, ciphertext and tag.
      const out = new Uint8Array(Buffer.allocUnsafeSlow(headroom + n + 16).buffer, 0, headroom + n + 16);
      out.fill(0, 0, headroom);
      let o = headroom;
      for (const p of parts) {
        // node:crypto cannot encrypt into our buffer, so each chunk is copied once; chunks small
        // enough to stay in cache make that copy nearly free next to one cold 1 MiB copy.
        for (let i = 0; i < p.length; i += SEAL_CHUNK) {
          const ct = cipher.update(p.length <= SEAL_CHUNK ? p : p.subarray(i, Math.min(p.length, i + SEAL_CHUNK)));
          out.set(ct, o);
          o += ct.length;
        }
      }
      const fin = cipher.final();
      if (fin.length) out.set(fin, o);
      out.set(cipher.getAuthTag(), headroom + n);
      return out;
    },
    aeadOpen(alg: AeadName, key, nonce, sealed, aad) {
      const ctLen = sealed.length - 16;
      const decipher = c.createDecipheriv(alg as 'aes-256-gcm', key as NodeCrypto.KeyObject, nonce, { authTagLength: 16 });
      decipher.setAuthTag(sealed.subarray(ctLen));
      if (aad && aad.length > 0) decipher.setAAD(aad);
      const body = decipher.update(sealed.subarray(0, ctLen));
      try {
        decipher.final();
      } catch {
        body.fill(0);
        return null;
      }
      return view(body);
    },
    hash(alg: HashName | 'sha3-256', data) {
      if (alg === 'sha3-256' && !hasSha3) return nobleSha3(data);
      // One-shot crypto.hash (Node >= 20.12) skips the Hash object: about 2x faster on small inputs.
      if (oneShot) return view((c as unknown as { hash: (a: string, d: Uint8Array, e: 'buffer') => Buffer }).hash(alg, data, 'buffer'));
      return view(c.createHash(alg).update(data).digest());
    },
    hmac(alg: HashName, key, data) {
      return own(c.createHmac(alg, key).update(data).digest());
    },
    x25519Public(sk) {
      return rawPublic(c.createPublicKey(privKey('X25519', sk)));
    },
    x25519(sk, pk) {
      return dh(privKey('X25519', sk), pk);
    },
    x25519Secret(sk) {
      // One import: OpenSSL derives the public key while loading the private one, so reading it
      // back is an export, not a second scalar multiplication. The key lives in OpenSSL's memory
      // (a KeyObject cannot be wiped from JavaScript); it is dropped with the object.
      let key: NodeCrypto.KeyObject | undefined = privKey('X25519', sk);
      const publicKey = rawPublic(c.createPublicKey(key));
      return {
        publicKey,
        dh(pk) {
          if (!key) throw new TypeError('X25519 secret was destroyed');
          return dh(key, pk);
        },
        destroy() {
          key = undefined;
        },
      };
    },
    ed25519Public(sk) {
      return rawPublic(c.createPublicKey(privKey('Ed25519', sk)));
    },
    ed25519Sign(sk, msg) {
      return view(c.sign(null, msg, privKey('Ed25519', sk)));
    },
    ed25519Verify(pk, msg, sig) {
      try {
        return c.verify(null, msg, pubKey('Ed25519', pk), sig);
      } catch {
        return false;
      }
    },
    scrypt(passphrase, salt, N, r, p, dkLen) {
      return own(c.scryptSync(passphrase, salt, dkLen, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }));
    },
  };
}
