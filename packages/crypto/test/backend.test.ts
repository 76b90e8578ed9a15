// Backend selection and report (SPEC section 2, "Crypto backends"): chosen once, reported by
// backend(), switchable for tests, and the report tells the truth about who does the work.
import type * as nodeCrypto from 'node:crypto';
import { aes256gcm, availableBackends, backend, ed25519, hmac, randomBytes, selectBackend, sha256, x25519 } from '@yak/crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createNodeBackend } from '../src/backends/node.js';
import { h, hx, loadVectors } from './helpers/vectors.js';

const PRIMITIVES = ['aead', 'hash', 'sha3', 'hmac', 'hkdf', 'x25519', 'ed25519', 'scrypt', 'random', 'mlkem768', 'mldsa65', 'xwing'];

afterEach(() => {
  selectBackend('node');
  vi.restoreAllMocks();
});

describe('backend()', () => {
  it('on Node offers the native backend first, then noble, and uses the native one by default', () => {
    expect(availableBackends()).toEqual(['node', 'noble']);
    expect(backend().name).toBe('node');
  });

  it.each(['node', 'noble'] as const)('reports an implementation for every primitive on %s', (name) => {
    selectBackend(name);
    const r = backend();
    expect(r.name).toBe(name);
    for (const p of PRIMITIVES) {
      expect(typeof r.primitives[p], p).toBe('string');
      expect((r.primitives[p] as string).length, p).toBeGreaterThan(0);
    }
    const native = ['aead', 'hash', 'hmac', 'hkdf', 'x25519', 'ed25519', 'scrypt'];
    for (const p of native) expect(r.primitives[p]).toMatch(name === 'node' ? /node:crypto/ : /@noble/);
    expect(r.primitives.mlkem768).toMatch(/@noble\/post-quantum/);
    expect(r.primitives.mldsa65).toMatch(/@noble\/post-quantum/);
    expect(r.primitives.xwing).toMatch(name === 'node' ? /X25519 from node:crypto/ : /X25519 from @noble/);
  });

  it('returns a fresh report object each time (callers cannot alter the backend by mutating it)', () => {
    const a = backend();
    a.primitives.aead = 'tampered';
    expect(backend().primitives.aead).not.toBe('tampered');
  });

  it('selectBackend refuses unknown names with RangeError', () => {
    expect(() => selectBackend('webcrypto' as 'node')).toThrow(RangeError);
    expect(backend().name).toBe('node');
  });

  it('the report is truthful: the node backend calls node:crypto, the noble backend does not', () => {
    const nc = process.getBuiltinModule('node:crypto') as typeof nodeCrypto;
    const spies = [
      vi.spyOn(nc, 'createCipheriv'),
      // Node >= 20.12 hashes through the one-shot crypto.hash, older versions through createHash.
      typeof nc.hash === 'function' ? vi.spyOn(nc, 'hash') : vi.spyOn(nc, 'createHash'),
      vi.spyOn(nc, 'createHmac'),
      vi.spyOn(nc, 'diffieHellman'),
      vi.spyOn(nc, 'sign'),
    ];
    const work = () => {
      const key = randomBytes(32);
      aes256gcm(key).seal(randomBytes(12), randomBytes(10));
      sha256(key);
      hmac('sha256', key, key);
      const a = x25519.generateKeyPair();
      x25519.sharedSecret(a.secretKey, x25519.generateKeyPair().publicKey);
      ed25519.sign(key, key);
    };
    selectBackend('noble');
    work();
    for (const s of spies) expect(s).not.toHaveBeenCalled();
    selectBackend('node');
    work();
    for (const s of spies) expect(s).toHaveBeenCalled();
  });

  it('every backend computes the same results', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const msg = randomBytes(1000);
    const out = (['node', 'noble'] as const).map((name) => {
      selectBackend(name);
      return [hx(aes256gcm(key).seal(nonce, msg)), hx(sha256(msg)), hx(x25519.getPublicKey(key)), hx(ed25519.sign(key, msg))].join('|');
    });
    expect(out[0]).toBe(out[1]);
  });
});

describe('node backend key import fallback', () => {
  // The node backend imports raw X25519/Ed25519 keys as JWK when a self-test at load passes, and
  // falls back to PKCS#8/SPKI DER otherwise. Force the fallback and run known answers through it.
  it('computes the RFC 7748 and RFC 8032 answers through the DER path', () => {
    const nc = process.getBuiltinModule('node:crypto') as typeof nodeCrypto;
    const realPriv = nc.createPrivateKey;
    const realPub = nc.createPublicKey;
    const noJwk = (fn: (...a: never[]) => unknown) =>
      ((...args: never[]) => {
        const k = args[0] as { format?: string } | undefined;
        if (k && typeof k === 'object' && k.format === 'jwk') throw new Error('JWK import unavailable');
        return fn(...args);
      }) as never;
    const privSpy = vi.spyOn(nc, 'createPrivateKey').mockImplementation(noJwk(realPriv as never));
    const pubSpy = vi.spyOn(nc, 'createPublicKey').mockImplementation(noJwk(realPub as never));
    const b = createNodeBackend();
    expect(b).toBeDefined();
    const be = b as NonNullable<typeof b>;
    const x = loadVectors<{ section_6_1: Record<string, string> }>('rfc/rfc7748_x25519_x448.json').section_6_1;
    expect(hx(be.x25519Public(h(x.alicePrivate as string)))).toBe(x.alicePublic);
    expect(hx(be.x25519(h(x.alicePrivate as string), h(x.bobPublic as string)))).toBe(x.shared);
    const e = loadVectors<{ vectors: Array<Record<string, string>> }>('rfc/rfc8032_ed25519.json').vectors[1] as Record<string, string>;
    expect(hx(be.ed25519Public(h(e.secretKey as string)))).toBe(e.publicKey);
    expect(hx(be.ed25519Sign(h(e.secretKey as string), h(e.message as string)))).toBe(e.signature);
    expect(be.ed25519Verify(h(e.publicKey as string), h(e.message as string), h(e.signature as string))).toBe(true);
    // Only DER was used for every import (the self-test's JWK attempt threw).
    for (const spy of [privSpy, pubSpy]) {
      spy.mock.calls.forEach((call, n) => {
        const arg = call[0] as unknown as { format?: string };
        const isJwk = typeof arg === 'object' && arg !== null && arg.format === 'jwk';
        expect(isJwk && spy.mock.results[n]?.type === 'return').toBe(false);
      });
    }
    expect(privSpy.mock.calls.some((c) => (c[0] as unknown as { format?: string }).format === 'der')).toBe(true);
  });
});
