// Differential tests: our API on every backend against node:crypto called directly, on random
// inputs (fast-check), and X-Wing against noble's `ml_kem768_x25519` in both directions.
import * as nc from 'node:crypto';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import {
  aes256gcm,
  chacha20poly1305,
  ed25519,
  type HashName,
  hkdf,
  hmac,
  hybridKem,
  sha3_256,
  sha256,
  sha384,
  sha512,
  x25519,
} from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BACKENDS, h, hx, useBackend } from './helpers/vectors.js';

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const fixed = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const RUNS = { numRuns: 150 };

// RFC 8410 DER wrappers, built independently of the backend's own.
const PKCS8 = { x25519: h('302e020100300506032b656e04220420'), ed25519: h('302e020100300506032b657004220420') };
const SPKI = { x25519: h('302a300506032b656e032100'), ed25519: h('302a300506032b6570032100') };
const nodePriv = (kind: 'x25519' | 'ed25519', raw: Uint8Array) =>
  nc.createPrivateKey({ key: Buffer.concat([PKCS8[kind], raw]), format: 'der', type: 'pkcs8' });
const nodePub = (kind: 'x25519' | 'ed25519', raw: Uint8Array) =>
  nc.createPublicKey({ key: Buffer.concat([SPKI[kind], raw]), format: 'der', type: 'spki' });
const rawPub = (k: nc.KeyObject) => new Uint8Array(k.export({ format: 'der', type: 'spki' }).subarray(12));

function nodeSeal(alg: 'aes-256-gcm' | 'chacha20-poly1305', key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array) {
  const c = nc.createCipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  c.setAAD(aad);
  return hx(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
}
function nodeOpen(alg: 'aes-256-gcm' | 'chacha20-poly1305', key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array) {
  const d = nc.createDecipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return hx(Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]));
}

const AEADS = [
  { name: 'aes-256-gcm', make: aes256gcm },
  { name: 'chacha20-poly1305', make: chacha20poly1305 },
] as const;
const HASHES: Array<{ name: string; ours: (d: Uint8Array) => Uint8Array }> = [
  { name: 'sha256', ours: sha256 },
  { name: 'sha384', ours: sha384 },
  { name: 'sha512', ours: sha512 },
  { name: 'sha3-256', ours: sha3_256 },
];
const HMAC_HASHES: HashName[] = ['sha256', 'sha384', 'sha512'];
const HASH_LEN: Record<HashName, number> = { sha256: 32, sha384: 48, sha512: 64 };

describe.each(BACKENDS)('cross-check against node:crypto on backend %s', (backendName) => {
  useBackend(backendName);

  it.each(AEADS)('$name seal/open matches node:crypto both ways', ({ name, make }) => {
    fc.assert(
      fc.property(fixed(32), fixed(12), bytes(0, 2048), bytes(0, 64), (key, nonce, pt, aad) => {
        const sealed = make(key).seal(nonce, pt, aad);
        expect(hx(sealed)).toBe(nodeSeal(name, key, nonce, pt, aad));
        expect(nodeOpen(name, key, nonce, sealed, aad)).toBe(hx(pt));
        expect(hx(make(key).open(nonce, h(nodeSeal(name, key, nonce, pt, aad)), aad))).toBe(hx(pt));
      }),
      RUNS,
    );
  });

  it.each(HMAC_HASHES)('HKDF-%s matches crypto.hkdfSync', (hash) => {
    fc.assert(
      fc.property(
        bytes(0, 128),
        bytes(0, 128),
        bytes(0, 1024),
        fc.integer({ min: 1, max: 255 * HASH_LEN[hash] }),
        (ikm, salt, info, len) => {
          const expected = hx(new Uint8Array(nc.hkdfSync(hash, ikm, salt, info, len)));
          expect(hx(hkdf(hash, ikm, salt, info, len))).toBe(expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  it.each(HMAC_HASHES)('HMAC-%s matches crypto.createHmac', (hash) => {
    fc.assert(
      fc.property(bytes(0, 300), bytes(0, 2048), (key, data) => {
        expect(hx(hmac(hash, key, data))).toBe(nc.createHmac(hash, key).update(data).digest('hex'));
      }),
      RUNS,
    );
  });

  it.each(HASHES)('$name matches crypto.createHash', ({ name, ours }) => {
    fc.assert(
      fc.property(bytes(0, 4096), (data) => {
        expect(hx(ours(data))).toBe(nc.createHash(name).update(data).digest('hex'));
      }),
      RUNS,
    );
  });

  it('X25519 public keys and shared secrets match KeyObject diffieHellman', () => {
    fc.assert(
      fc.property(fixed(32), fixed(32), (a, b) => {
        const A = nodePriv('x25519', a);
        const B = nodePriv('x25519', b);
        const pa = rawPub(nc.createPublicKey(A));
        const pb = rawPub(nc.createPublicKey(B));
        expect(hx(x25519.getPublicKey(a))).toBe(hx(pa));
        const expected = nc.diffieHellman({ privateKey: A, publicKey: nodePub('x25519', pb) }).toString('hex');
        expect(hx(x25519.sharedSecret(a, pb))).toBe(expected);
        expect(hx(x25519.sharedSecret(b, pa))).toBe(expected);
      }),
      { numRuns: 100 },
    );
  });

  it('Ed25519 keys and signatures match KeyObject sign/verify', () => {
    fc.assert(
      fc.property(fixed(32), bytes(0, 512), (sk, msg) => {
        const priv = nodePriv('ed25519', sk);
        const pk = rawPub(nc.createPublicKey(priv));
        expect(hx(ed25519.getPublicKey(sk))).toBe(hx(pk));
        const nodeSig = new Uint8Array(nc.sign(null, msg, priv));
        // Ed25519 is deterministic (RFC 8032 section 5.1.6): identical bytes.
        expect(hx(ed25519.sign(sk, msg))).toBe(hx(nodeSig));
        expect(ed25519.verify(pk, msg, nodeSig)).toBe(true);
        expect(nc.verify(null, msg, nodePub('ed25519', pk), ed25519.sign(sk, msg))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('X-Wing keys, ciphertexts and secrets interoperate with noble ml_kem768_x25519 both ways', () => {
    fc.assert(
      fc.property(fixed(32), fixed(32), (seedOurs, seedNoble) => {
        const ours = hybridKem.generateKeyPair(seedOurs);
        const noble = ml_kem768_x25519.keygen(seedNoble);
        // Same seed, same keys.
        expect(hx(hybridKem.generateKeyPair(seedNoble).publicKey)).toBe(hx(noble.publicKey));
        expect(hx(ml_kem768_x25519.keygen(seedOurs).publicKey)).toBe(hx(ours.publicKey));
        // noble encapsulates to our key; we decapsulate.
        const toUs = ml_kem768_x25519.encapsulate(ours.publicKey);
        expect(hx(hybridKem.decapsulate(toUs.cipherText, ours.secretKey))).toBe(hx(toUs.sharedSecret));
        // We encapsulate to noble's key; noble decapsulates.
        const toNoble = hybridKem.encapsulate(noble.publicKey);
        expect(hx(ml_kem768_x25519.decapsulate(toNoble.cipherText, noble.secretKey))).toBe(hx(toNoble.sharedSecret));
      }),
      { numRuns: 15 },
    );
  });
});
