// NodeIdentity and identity records (SPEC section 2, "Identity"): node id definition checked
// independently, record verification with every field tampered, expiry, encoding round trips,
// export/import with wrong passphrases and damaged blobs, and no secret bytes in any rendering.
import { inspect } from 'node:util';
import { sha3_256 as nobleSha3 } from '@noble/hashes/sha3.js';
import {
  decode,
  decodeIdentityRecord,
  encode,
  encodeIdentityRecord,
  hybridKem,
  IdentityError,
  type IdentityRecord,
  isNodeId,
  KeyStoreError,
  mldsa65,
  NodeIdentity,
  nodeIdFromPublicKey,
  randomBytes,
  selectBackend,
  sha256,
  utf8,
} from '@yak/crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { refBase32, thrownCode } from './helpers/errors.js';
import { BACKENDS, hx } from './helpers/vectors.js';

const FAST = { scryptN: 2 ** 14 };
const PASS = 'correct horse battery staple';

/** SPEC section 2: 'node-' + base32(first 20 bytes of SHA3-256("yak/node-id/v1" || pk)). */
function refNodeId(pk: Uint8Array): string {
  const label = new TextEncoder().encode('yak/node-id/v1');
  const buf = new Uint8Array(label.length + pk.length);
  buf.set(label);
  buf.set(pk, label.length);
  return `node-${refBase32(nobleSha3(buf).subarray(0, 20))}`;
}

const errCode = (fn: () => unknown) => thrownCode(fn);

const identityCode = (fn: () => unknown) => thrownCode(fn, IdentityError);

const keyStoreCode = (fn: () => unknown) => thrownCode(fn, KeyStoreError);

const seed = randomBytes(64);
const id = NodeIdentity.generate({ seed, networkId: 'testnet', now: 1_000 });
const other = NodeIdentity.generate({ networkId: 'testnet', now: 1_000 });
const record = id.publicRecord();

describe('node ids', () => {
  it('follow the SPEC definition (recomputed with @noble/hashes and a reference base32)', () => {
    expect(id.nodeId).toBe(refNodeId(id.signPublicKey));
    expect(nodeIdFromPublicKey(id.signPublicKey)).toBe(id.nodeId);
    for (let i = 0; i < 5; i++) {
      const pk = mldsa65.generateKeyPair().publicKey;
      expect(nodeIdFromPublicKey(pk)).toBe(refNodeId(pk));
    }
    expect(id.nodeId).toMatch(/^node-[a-z2-7]{32}$/);
  });

  it('commit to the whole signing key (any changed byte changes the id)', () => {
    for (const i of [0, 1, 975, 1951]) {
      const pk = id.signPublicKey.slice();
      pk[i] = (pk[i] as number) ^ 1;
      expect(nodeIdFromPublicKey(pk)).not.toBe(id.nodeId);
    }
  });

  it('isNodeId checks the shape only', () => {
    expect(isNodeId(id.nodeId)).toBe(true);
    for (const bad of [
      id.nodeId.toUpperCase(),
      id.nodeId.slice(0, -1),
      `${id.nodeId}a`,
      id.nodeId.replace('node-', 'nod-'),
      'node-' + '1'.repeat(32),
      42,
      null,
    ]) {
      expect(isNodeId(bad)).toBe(false);
    }
  });

  it('nodeIdFromPublicKey argument errors', () => {
    expect(() => nodeIdFromPublicKey(new Uint8Array(1951))).toThrow(RangeError);
    expect(() => nodeIdFromPublicKey('pk' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('NodeIdentity.generate', () => {
  it('builds an identity whose public record verifies', () => {
    expect(id.signPublicKey).toHaveLength(1952);
    expect(id.kemPublicKey).toHaveLength(1216);
    expect(id.networkId).toBe('testnet');
    expect(record.nodeId).toBe(id.nodeId);
    expect(record.createdAt).toBe(1_000);
    expect(record.expiresAt).toBeUndefined();
    expect(NodeIdentity.verifyRecord(record, { cache: false })).toBe(record);
    expect(NodeIdentity.isValidRecord(record)).toBe(true);
    expect(NodeIdentity.generate().networkId).toBe('yakmesh');
  });

  it('is deterministic from a seed and random without one', () => {
    const again = NodeIdentity.generate({ seed, networkId: 'testnet', now: 1_000 });
    expect(again.nodeId).toBe(id.nodeId);
    expect(hx(again.kemPublicKey)).toBe(hx(id.kemPublicKey));
    expect(other.nodeId).not.toBe(id.nodeId);
  });

  it('uses the documented key derivations: ML-DSA-65 from seed[0..32), X-Wing from seed[32..64)', () => {
    expect(hx(id.signPublicKey)).toBe(hx(mldsa65.generateKeyPair(seed.subarray(0, 32)).publicKey));
    expect(hx(id.kemPublicKey)).toBe(hx(hybridKem.generateKeyPair(seed.subarray(32)).publicKey));
  });

  it('signs with its ML-DSA key and decapsulates with its X-Wing key', () => {
    const msg = utf8('hello');
    const ctx = utf8('yak/test/v1');
    const sig = id.sign(msg, ctx);
    expect(NodeIdentity.verify(id.signPublicKey, msg, sig, ctx)).toBe(true);
    expect(NodeIdentity.verify(id.signPublicKey, msg, sig)).toBe(false);
    expect(NodeIdentity.verify(other.signPublicKey, msg, sig, ctx)).toBe(false);
    const { cipherText, sharedSecret } = hybridKem.encapsulate(id.kemPublicKey);
    expect(hx(id.kemDecapsulate(cipherText))).toBe(hx(sharedSecret));
    expect(hx(other.kemDecapsulate(cipherText))).not.toBe(hx(sharedSecret));
  });

  it('refuses a low-order X25519 half in a ciphertext sent to it', () => {
    const { cipherText } = hybridKem.encapsulate(id.kemPublicKey);
    cipherText.fill(0, 1088);
    expect(errCode(() => id.kemDecapsulate(cipherText))).toBe('YAK_CRYPTO_ZERO_SHARED_SECRET');
  });

  it('argument errors', () => {
    expect(() => NodeIdentity.generate({ seed: new Uint8Array(63) })).toThrow(RangeError);
    expect(() => NodeIdentity.generate({ networkId: 5 as unknown as string })).toThrow(TypeError);
    expect(() => NodeIdentity.generate({ networkId: '' })).toThrow(RangeError);
    expect(() => NodeIdentity.generate({ networkId: 'x'.repeat(129) })).toThrow(RangeError);
    expect(() => NodeIdentity.generate({ now: 1.5 })).toThrow(TypeError);
    expect(() => NodeIdentity.generate({ now: -1 })).toThrow(RangeError);
    expect(() => NodeIdentity.generate({ now: 1000, expiresAt: 1000 })).toThrow(RangeError);
    expect(() => id.kemDecapsulate(new Uint8Array(1119))).toThrow(RangeError);
    expect(() => id.sign('m' as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('refuses to sign, decapsulate or export once destroyed', () => {
    const tmp = NodeIdentity.generate();
    tmp.destroy();
    expect(identityCode(() => tmp.sign(utf8('x')))).toBe('YAK_IDENTITY_DESTROYED');
    expect(identityCode(() => tmp.kemDecapsulate(new Uint8Array(1120)))).toBe('YAK_IDENTITY_DESTROYED');
    expect(identityCode(() => tmp.export(PASS, FAST))).toBe('YAK_IDENTITY_DESTROYED');
  });
});

describe('NodeIdentity.verifyRecord', () => {
  const tampered: Array<[string, (r: IdentityRecord) => unknown, string]> = [
    ['v', (r) => ({ ...r, v: 2 }), 'YAK_IDENTITY_INVALID'],
    ['nodeId (malformed)', (r) => ({ ...r, nodeId: 'node-xyz' }), 'YAK_IDENTITY_INVALID'],
    ['nodeId (another node)', (r) => ({ ...r, nodeId: other.nodeId }), 'YAK_IDENTITY_NODE_ID_MISMATCH'],
    ['signPublicKey (another key, same node id)', (r) => ({ ...r, signPublicKey: other.signPublicKey }), 'YAK_IDENTITY_NODE_ID_MISMATCH'],
    [
      'signPublicKey and nodeId (another identity, old signature)',
      (r) => ({ ...r, signPublicKey: other.signPublicKey, nodeId: other.nodeId }),
      'YAK_IDENTITY_BAD_SIGNATURE',
    ],
    ['signPublicKey (flipped byte)', (r) => ({ ...r, signPublicKey: flip(r.signPublicKey, 100) }), 'YAK_IDENTITY_NODE_ID_MISMATCH'],
    ['signPublicKey (wrong length)', (r) => ({ ...r, signPublicKey: r.signPublicKey.subarray(1) }), 'YAK_IDENTITY_INVALID'],
    ['kemPublicKey (flipped byte in pk_M)', (r) => ({ ...r, kemPublicKey: flip(r.kemPublicKey, 0) }), 'YAK_IDENTITY_BAD_SIGNATURE'],
    ['kemPublicKey (flipped byte in pk_X)', (r) => ({ ...r, kemPublicKey: flip(r.kemPublicKey, 1215) }), 'YAK_IDENTITY_BAD_SIGNATURE'],
    ['kemPublicKey (another node)', (r) => ({ ...r, kemPublicKey: other.kemPublicKey }), 'YAK_IDENTITY_BAD_SIGNATURE'],
    ['kemPublicKey (wrong length)', (r) => ({ ...r, kemPublicKey: new Uint8Array(1184) }), 'YAK_IDENTITY_INVALID'],
    ['networkId', (r) => ({ ...r, networkId: 'mainnet' }), 'YAK_IDENTITY_BAD_SIGNATURE'],
    ['networkId (empty)', (r) => ({ ...r, networkId: '' }), 'YAK_IDENTITY_INVALID'],
    ['networkId (not a string)', (r) => ({ ...r, networkId: 7 }), 'YAK_IDENTITY_INVALID'],
    ['createdAt', (r) => ({ ...r, createdAt: r.createdAt + 1 }), 'YAK_IDENTITY_BAD_SIGNATURE'],
    ['createdAt (negative)', (r) => ({ ...r, createdAt: -1 }), 'YAK_IDENTITY_INVALID'],
    ['createdAt (fraction)', (r) => ({ ...r, createdAt: 1000.5 }), 'YAK_IDENTITY_INVALID'],
    ['expiresAt (added)', (r) => ({ ...r, expiresAt: 10 ** 15 }), 'YAK_IDENTITY_BAD_SIGNATURE'],
    ['expiresAt (not after createdAt)', (r) => ({ ...r, expiresAt: r.createdAt }), 'YAK_IDENTITY_INVALID'],
    ['signature (first byte)', (r) => ({ ...r, signature: flip(r.signature, 0) }), 'YAK_IDENTITY_BAD_SIGNATURE'],
    ['signature (last byte)', (r) => ({ ...r, signature: flip(r.signature, 3308) }), 'YAK_IDENTITY_BAD_SIGNATURE'],
    ['signature (zeros)', (r) => ({ ...r, signature: new Uint8Array(3309) }), 'YAK_IDENTITY_BAD_SIGNATURE'],
    ['signature (wrong length)', (r) => ({ ...r, signature: r.signature.subarray(0, 3308) }), 'YAK_IDENTITY_INVALID'],
    [
      'signature (another record of the same key)',
      (r) => ({ ...r, signature: id.sign(utf8('other'), utf8('yak/identity-record/v1')) }),
      'YAK_IDENTITY_BAD_SIGNATURE',
    ],
    ['extra field', (r) => ({ ...r, admin: true }), 'YAK_IDENTITY_INVALID'],
    ['not an object', () => 'record', 'YAK_IDENTITY_INVALID'],
    ['null', () => null, 'YAK_IDENTITY_INVALID'],
    ['array', (r) => [r], 'YAK_IDENTITY_INVALID'],
  ];

  function flip(b: Uint8Array, i: number): Uint8Array {
    const c = b.slice();
    c[i] = (c[i] as number) ^ 1;
    return c;
  }

  it.each(tampered)('tampered %s -> %s', (_field, mutate, expected) => {
    const bad = mutate(id.publicRecord()) as IdentityRecord;
    expect(identityCode(() => NodeIdentity.verifyRecord(bad))).toBe(expected);
    expect(NodeIdentity.isValidRecord(bad)).toBe(false);
    // The cache never turns a bad record into a good one, and a good one stays good.
    expect(identityCode(() => NodeIdentity.verifyRecord(bad))).toBe(expected);
    expect(NodeIdentity.isValidRecord(record)).toBe(true);
  });

  it('a record signed by the wrong key for its claimed id is refused (key/id mismatch)', () => {
    // An attacker re-signs a record carrying our node id with their own key.
    const forged = other.publicRecord();
    const claim = { ...forged, nodeId: id.nodeId };
    expect(identityCode(() => NodeIdentity.verifyRecord(claim))).toBe('YAK_IDENTITY_NODE_ID_MISMATCH');
  });

  it('checks expiry at every call, also for cached records', () => {
    const eph = NodeIdentity.generate({ now: 1_000, expiresAt: 2_000 });
    const r = eph.publicRecord();
    expect(r.expiresAt).toBe(2_000);
    expect(NodeIdentity.verifyRecord(r, { now: 1_999 })).toBe(r);
    expect(identityCode(() => NodeIdentity.verifyRecord(r, { now: 2_000 }))).toBe('YAK_IDENTITY_EXPIRED');
    expect(identityCode(() => NodeIdentity.verifyRecord(r))).toBe('YAK_IDENTITY_EXPIRED'); // Date.now() is far later
    const removed: Partial<IdentityRecord> = { ...r };
    delete removed.expiresAt;
    expect(identityCode(() => NodeIdentity.verifyRecord(removed as IdentityRecord, { now: 1_500 }))).toBe('YAK_IDENTITY_BAD_SIGNATURE');
    expect(identityCode(() => NodeIdentity.verifyRecord({ ...r, expiresAt: 3_000 }, { now: 2_500 }))).toBe('YAK_IDENTITY_BAD_SIGNATURE');
  });

  it('checks the network when asked', () => {
    expect(NodeIdentity.verifyRecord(record, { networkId: 'testnet' })).toBe(record);
    expect(identityCode(() => NodeIdentity.verifyRecord(record, { networkId: 'mainnet' }))).toBe('YAK_IDENTITY_INVALID');
  });

  it('with cache: false still verifies and still refuses', () => {
    expect(NodeIdentity.verifyRecord(record, { cache: false })).toBe(record);
    expect(identityCode(() => NodeIdentity.verifyRecord({ ...record, signature: flip(record.signature, 5) }, { cache: false }))).toBe(
      'YAK_IDENTITY_BAD_SIGNATURE',
    );
  });

  it('publicRecord hands out copies', () => {
    const r = id.publicRecord();
    r.signature.fill(0);
    r.kemPublicKey.fill(0);
    expect(NodeIdentity.isValidRecord(id.publicRecord())).toBe(true);
  });
});

describe('identity record encoding', () => {
  it('round-trips through canonical CBOR and still verifies', () => {
    const bytes = encodeIdentityRecord(record);
    const back = decodeIdentityRecord(bytes);
    expect(back).toEqual(record);
    expect(hx(encodeIdentityRecord(back))).toBe(hx(bytes));
    expect(NodeIdentity.verifyRecord(back, { cache: false })).toEqual(record);
    expect(bytes.length).toBeLessThan(8192);
    const eph = NodeIdentity.generate({ now: 5, expiresAt: 10 ** 13 }).publicRecord();
    expect(decodeIdentityRecord(encodeIdentityRecord(eph))).toEqual(eph);
  });

  it('refuses malformed encodings with IdentityError YAK_IDENTITY_INVALID', () => {
    const bytes = encodeIdentityRecord(record);
    const withExtra = encode({ ...(decode(bytes) as object), x: 1 });
    const bad = [
      new Uint8Array(0),
      bytes.subarray(0, bytes.length - 1),
      Uint8Array.from([...bytes, 0]),
      encode([1, 2]),
      encode({ v: 1 }),
      withExtra,
      new Uint8Array(8193),
    ];
    for (const b of bad) expect(identityCode(() => decodeIdentityRecord(b))).toBe('YAK_IDENTITY_INVALID');
    expect(() => decodeIdentityRecord('x' as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('fuzzing: mutated encodings decode to an IdentityError or a record that then fails verification', () => {
    const bytes = encodeIdentityRecord(record);
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (pos, mask) => {
        const b = bytes.slice();
        b[pos] = (b[pos] as number) ^ mask;
        let r: IdentityRecord;
        try {
          r = decodeIdentityRecord(b);
        } catch (e) {
          expect(e).toBeInstanceOf(IdentityError);
          return;
        }
        expect(NodeIdentity.isValidRecord(r, { cache: false })).toBe(false);
      }),
      { numRuns: 60 },
    );
  });
});

describe('export / import', () => {
  const blob = id.export(PASS, FAST);

  it('round-trips the keys and the record', () => {
    const back = NodeIdentity.import(blob, PASS);
    expect(back.nodeId).toBe(id.nodeId);
    expect(back.networkId).toBe('testnet');
    expect(hx(back.kemPublicKey)).toBe(hx(id.kemPublicKey));
    expect(back.publicRecord()).toEqual(record);
    const sig = back.sign(utf8('m'));
    expect(NodeIdentity.verify(id.signPublicKey, utf8('m'), sig)).toBe(true);
    const { cipherText, sharedSecret } = hybridKem.encapsulate(id.kemPublicKey);
    expect(hx(back.kemDecapsulate(cipherText))).toBe(hx(sharedSecret));
  });

  it('uses a fresh salt and nonce per export', () => {
    expect(hx(id.export(PASS, FAST))).not.toBe(hx(blob));
  });

  it('normalises the passphrase (NFKC), so the same text always opens it', () => {
    const b = id.export('caf\u00e9', FAST);
    expect(NodeIdentity.import(b, 'cafe\u0301').nodeId).toBe(id.nodeId);
  });

  it('wrong passphrase -> KeyStoreError YAK_KEYSTORE_PASSPHRASE', () => {
    for (const p of ['wrong', `${PASS} `, PASS.toUpperCase(), ''])
      expect(keyStoreCode(() => NodeIdentity.import(blob, p))).toBe('YAK_KEYSTORE_PASSPHRASE');
  });

  it('every flipped byte -> YAK_KEYSTORE_CORRUPT (checked before any key derivation)', () => {
    for (let i = 0; i < blob.length; i++) {
      const b = blob.slice();
      b[i] = (b[i] as number) ^ 0x01;
      expect(keyStoreCode(() => NodeIdentity.import(b, PASS))).toBe('YAK_KEYSTORE_CORRUPT');
    }
  });

  it('every truncation and an extension -> YAK_KEYSTORE_CORRUPT', () => {
    for (let n = 0; n < blob.length; n++)
      expect(keyStoreCode(() => NodeIdentity.import(blob.subarray(0, n), PASS))).toBe('YAK_KEYSTORE_CORRUPT');
    expect(keyStoreCode(() => NodeIdentity.import(Uint8Array.from([...blob, 0]), PASS))).toBe('YAK_KEYSTORE_CORRUPT');
  });

  it('edits with a recomputed checksum are still caught by AES-GCM (ciphertext, header, KDF cost)', () => {
    const doc = decode(blob) as Record<string, unknown>;
    const reseal = (patch: Record<string, unknown>) => {
      const { check: _check, ...body } = { ...doc, ...patch } as Record<string, unknown>;
      return encode({ ...(body as object), check: sha256(encode(body as never)) } as never);
    };
    const ct = (doc.ct as Uint8Array).slice();
    ct[10] = (ct[10] as number) ^ 1;
    expect(keyStoreCode(() => NodeIdentity.import(reseal({ ct }), PASS))).toBe('YAK_KEYSTORE_PASSPHRASE');
    const nonce = (doc.nonce as Uint8Array).slice();
    nonce[0] = (nonce[0] as number) ^ 1;
    expect(keyStoreCode(() => NodeIdentity.import(reseal({ nonce }), PASS))).toBe('YAK_KEYSTORE_PASSPHRASE');
    // A container of another kind is refused even with a valid checksum.
    expect(keyStoreCode(() => NodeIdentity.import(reseal({ kind: 'yak-keystore' }), PASS))).toBe('YAK_KEYSTORE_CORRUPT');
    // KDF parameters outside the allowed range are refused before running scrypt.
    const kdf = doc.kdf as Record<string, unknown>;
    expect(keyStoreCode(() => NodeIdentity.import(reseal({ kdf: { ...kdf, N: 2 ** 10 } }), PASS))).toBe('YAK_KEYSTORE_CORRUPT');
    expect(keyStoreCode(() => NodeIdentity.import(reseal({ kdf: { ...kdf, N: 2 ** 30 } }), PASS))).toBe('YAK_KEYSTORE_CORRUPT');
    expect(keyStoreCode(() => NodeIdentity.import(reseal({ kdf: { ...kdf, N: 2 ** 15 } }), PASS))).toBe('YAK_KEYSTORE_PASSPHRASE');
  });

  it('argument errors', () => {
    expect(() => NodeIdentity.import('blob' as unknown as Uint8Array, PASS)).toThrow(TypeError);
    expect(() => id.export(PASS, { scryptN: 2 ** 13 })).toThrow(RangeError);
    expect(() => id.export(PASS, { scryptN: 3 * 2 ** 14 })).toThrow(RangeError);
    expect(() => id.export(PASS, { scryptN: 2 ** 23 })).toThrow(RangeError);
    expect(() => id.export(PASS, { scryptN: 16384.5 })).toThrow(TypeError);
    expect(() => id.export(42 as unknown as string, FAST)).toThrow(TypeError);
  });

  describe.each(BACKENDS)('blobs are portable to backend %s', (name) => {
    afterAll(() => selectBackend(BACKENDS[0] as 'node'));
    it('imports a blob exported by the default backend, and the reverse', () => {
      selectBackend(name);
      expect(NodeIdentity.import(blob, PASS).nodeId).toBe(id.nodeId);
      const b = id.export(PASS, FAST);
      selectBackend(BACKENDS[0] as 'node');
      expect(NodeIdentity.import(b, PASS).nodeId).toBe(id.nodeId);
    });
  });
});

describe('no secret bytes in renderings and errors', () => {
  const secrets = (() => {
    const mldsaSecret = mldsa65.generateKeyPair(seed.subarray(0, 32)).secretKey;
    const parts = [seed.subarray(0, 32), seed.subarray(32), mldsaSecret.subarray(64, 128)];
    const needles: string[] = [];
    for (const p of parts) {
      const w = p.subarray(0, 12);
      needles.push(
        hx(w),
        Buffer.from(w).toString('base64').slice(0, 12),
        Buffer.from(w).toString('base64url').slice(0, 12),
        Array.from(w).join(','),
        Array.from(w).join(', '),
      );
    }
    return needles;
  })();
  const clean = (text: string) => {
    for (const n of secrets) expect(text.includes(n), `found ${n}`).toBe(false);
  };

  it('util.inspect, JSON.stringify, String and own enumerable properties show public data only', () => {
    clean(inspect(id, { showHidden: true, depth: 10, maxArrayLength: Number.POSITIVE_INFINITY }));
    clean(inspect({ nested: [id] }, { depth: 10 }));
    clean(JSON.stringify(id));
    clean(JSON.stringify({ id }));
    clean(String(id));
    clean(JSON.stringify(Object.entries(id).map(([k, v]) => [k, v instanceof Uint8Array ? Array.from(v) : v])));
    expect(JSON.parse(JSON.stringify(id))).toEqual({ nodeId: id.nodeId, networkId: 'testnet' });
    expect(inspect(id)).toContain(id.nodeId);
  });

  it('errors never carry the passphrase or key bytes', () => {
    const blob = id.export(PASS, FAST);
    const errors: unknown[] = [];
    const collect = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        errors.push(e);
      }
    };
    collect(() => NodeIdentity.import(blob, 'wrong passphrase 123'));
    collect(() => NodeIdentity.import(blob.subarray(1), PASS));
    collect(() => NodeIdentity.verifyRecord({ ...record, signature: new Uint8Array(3309) }));
    collect(() => id.kemDecapsulate(new Uint8Array(1120)));
    expect(errors.length).toBeGreaterThanOrEqual(3);
    for (const e of errors) {
      const text = `${String(e)} ${inspect(e, { depth: 10 })} ${JSON.stringify(e)}`;
      clean(text);
      expect(text).not.toContain('wrong passphrase 123');
      expect(text).not.toContain(PASS);
    }
  });
});
