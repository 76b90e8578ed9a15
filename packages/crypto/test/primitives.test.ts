// Hashes, HKDF/HMAC argument rules, randomness, constant-time compare, X25519 (incl. the
// all-zero shared secret rejection) and Ed25519 on every backend.
import {
  constantTimeEqual,
  ed25519,
  type HashName,
  hkdf,
  hmac,
  randomBytes,
  sha3_256,
  sha256,
  sha384,
  sha512,
  utf8,
  x25519,
} from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { thrownCode } from './helpers/errors.js';
import { BACKENDS, h, hx, useBackend } from './helpers/vectors.js';

// X25519 public values that give the all-zero shared secret for every scalar (RFC 7748 section
// 6.1; the small-order points of Curve25519 and their non-canonical / top-bit-set spellings).
const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
];

const code = (fn: () => unknown) => thrownCode(fn);

describe.each(BACKENDS)('primitives on backend %s', (backendName) => {
  useBackend(backendName);

  it('hashes known answers (FIPS 180-4 / FIPS 202 "abc")', () => {
    const abc = utf8('abc');
    expect(hx(sha256(abc))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hx(sha384(abc))).toBe('cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7');
    expect(hx(sha512(abc))).toBe(
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    );
    expect(hx(sha3_256(abc))).toBe('3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532');
    expect(Object.getPrototypeOf(sha256(abc))).toBe(Uint8Array.prototype);
  });

  it('HKDF: lengths 0 and 255 * HashLen work; anything outside is a RangeError; bad hash is a TypeError', () => {
    const hl: Record<HashName, number> = { sha256: 32, sha384: 48, sha512: 64 };
    for (const hash of Object.keys(hl) as HashName[]) {
      expect(hkdf(hash, utf8('k'), undefined, undefined, 0)).toHaveLength(0);
      expect(hkdf(hash, utf8('k'), undefined, undefined, 255 * hl[hash])).toHaveLength(255 * hl[hash]);
      expect(() => hkdf(hash, utf8('k'), undefined, undefined, 255 * hl[hash] + 1)).toThrow(RangeError);
      expect(() => hkdf(hash, utf8('k'), undefined, undefined, -1)).toThrow(RangeError);
      expect(() => hkdf(hash, utf8('k'), undefined, undefined, 1.5)).toThrow(TypeError);
    }
    for (const bad of ['sha1', 'SHA256', 'sha3-256', 'md5', '', undefined]) {
      expect(() => hkdf(bad as HashName, utf8('k'), undefined, undefined, 32)).toThrow(TypeError);
      expect(() => hmac(bad as HashName, utf8('k'), utf8('d'))).toThrow(TypeError);
    }
    expect(() => hkdf('sha256', 'ikm' as unknown as Uint8Array, undefined, undefined, 32)).toThrow(TypeError);
    expect(() => hkdf('sha256', utf8('k'), 'salt' as unknown as Uint8Array, undefined, 32)).toThrow(TypeError);
    expect(() => hkdf('sha256', utf8('k'), undefined, 'info' as unknown as Uint8Array, 32)).toThrow(TypeError);
    expect(() => hmac('sha256', 'k' as unknown as Uint8Array, utf8('d'))).toThrow(TypeError);
    expect(() => hmac('sha256', utf8('k'), 'd' as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('HKDF separates labels: different info or salt, different keys; prefix-consistent lengths', () => {
    const ikm = randomBytes(32);
    const a = hx(hkdf('sha256', ikm, undefined, utf8('yak/a'), 32));
    const b = hx(hkdf('sha256', ikm, undefined, utf8('yak/b'), 32));
    const c = hx(hkdf('sha256', ikm, utf8('salt'), utf8('yak/a'), 32));
    expect(new Set([a, b, c]).size).toBe(3);
    expect(hx(hkdf('sha256', ikm, undefined, utf8('yak/a'), 80)).slice(0, 64)).toBe(a);
  });

  it('hashes reject non-bytes with TypeError', () => {
    for (const f of [sha256, sha384, sha512, sha3_256]) {
      expect(() => f('abc' as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => f(null as unknown as Uint8Array)).toThrow(TypeError);
    }
  });

  it('X25519: generated keys agree, public key derivation is consistent', () => {
    const a = x25519.generateKeyPair();
    const b = x25519.generateKeyPair();
    expect(a.secretKey).toHaveLength(32);
    expect(hx(x25519.getPublicKey(a.secretKey))).toBe(hx(a.publicKey));
    expect(hx(x25519.sharedSecret(a.secretKey, b.publicKey))).toBe(hx(x25519.sharedSecret(b.secretKey, a.publicKey)));
    expect(hx(a.secretKey)).not.toBe(hx(b.secretKey));
  });

  it.each(LOW_ORDER)('X25519 refuses the all-zero shared secret for public value %s', (pk) => {
    for (let i = 0; i < 3; i++) {
      expect(code(() => x25519.sharedSecret(randomBytes(32), h(pk)))).toBe('YAK_CRYPTO_ZERO_SHARED_SECRET');
    }
  });

  it('X25519 argument errors', () => {
    const sk = randomBytes(32);
    for (const n of [0, 31, 33, 64]) {
      expect(() => x25519.getPublicKey(new Uint8Array(n))).toThrow(RangeError);
      expect(() => x25519.sharedSecret(new Uint8Array(n), sk)).toThrow(RangeError);
      expect(() => x25519.sharedSecret(sk, new Uint8Array(n))).toThrow(RangeError);
    }
    expect(() => x25519.getPublicKey('k' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => x25519.sharedSecret(sk, Array.from(sk) as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('Ed25519: sign/verify; every signature byte, the message and the key matter', () => {
    const { publicKey, secretKey } = ed25519.generateKeyPair();
    expect(hx(ed25519.getPublicKey(secretKey))).toBe(hx(publicKey));
    const msg = utf8('yak');
    const sig = ed25519.sign(secretKey, msg);
    expect(sig).toHaveLength(64);
    expect(ed25519.verify(publicKey, msg, sig)).toBe(true);
    for (let i = 0; i < sig.length; i++) {
      const bad = sig.slice();
      bad[i] = (bad[i] as number) ^ 0x01;
      expect(ed25519.verify(publicKey, msg, bad)).toBe(false);
    }
    expect(ed25519.verify(publicKey, utf8('yal'), sig)).toBe(false);
    expect(ed25519.verify(ed25519.generateKeyPair().publicKey, msg, sig)).toBe(false);
  });

  it('Ed25519 verify answers false (never throws) for malformed keys and signatures', () => {
    const { publicKey, secretKey } = ed25519.generateKeyPair();
    const sig = ed25519.sign(secretKey, new Uint8Array(0));
    expect(ed25519.verify(publicKey.subarray(0, 31), new Uint8Array(0), sig)).toBe(false);
    expect(ed25519.verify(publicKey, new Uint8Array(0), sig.subarray(0, 63))).toBe(false);
    expect(ed25519.verify(new Uint8Array(32).fill(0xff), new Uint8Array(0), sig)).toBe(false);
    expect(ed25519.verify(publicKey, new Uint8Array(0), new Uint8Array(64).fill(0xff))).toBe(false);
    expect(() => ed25519.verify('pk' as unknown as Uint8Array, new Uint8Array(0), sig)).toThrow(TypeError);
    expect(() => ed25519.sign(new Uint8Array(31), new Uint8Array(0))).toThrow(RangeError);
    expect(() => ed25519.sign(secretKey, 'm' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('randomBytes and constantTimeEqual', () => {
  it('returns fresh CSPRNG bytes of the asked length, also past the 65536-byte getRandomValues limit', () => {
    expect(randomBytes(0)).toHaveLength(0);
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect(hx(a)).not.toBe(hx(b));
    const big = randomBytes(200_000);
    expect(big).toHaveLength(200_000);
    // Each 64 KiB chunk was filled (an unfilled chunk would be all zeros).
    for (let o = 0; o < big.length; o += 65536) expect(big.subarray(o, o + 4096).some((x) => x !== 0)).toBe(true);
  });

  it('rejects bad lengths', () => {
    expect(() => randomBytes(-1)).toThrow(RangeError);
    expect(() => randomBytes(2 ** 31)).toThrow(RangeError);
    expect(() => randomBytes(1.5)).toThrow(TypeError);
    expect(() => randomBytes('8' as unknown as number)).toThrow(TypeError);
  });

  it('compares contents and lengths', () => {
    const a = Uint8Array.from([1, 2, 3]);
    expect(constantTimeEqual(a, Uint8Array.from([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(a, Uint8Array.from([1, 2, 4]))).toBe(false);
    expect(constantTimeEqual(a, Uint8Array.from([0, 2, 3]))).toBe(false);
    expect(constantTimeEqual(a, Uint8Array.from([1, 2]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    expect(() => constantTimeEqual(a, [1, 2, 3] as unknown as Uint8Array)).toThrow(TypeError);
  });
});
