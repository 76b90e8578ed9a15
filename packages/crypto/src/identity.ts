// Node identities (SPEC section 2, "Identity"): an ML-DSA-65 signing key plus a static X-Wing
// KEM key, bound by a self-signed identity record. The node id commits to the signing key.
import { abytes, aint, astring } from './assert.js';
import { toBase32, toHex, utf8 } from './bytes.js';
import { type CborValue, decode, encode } from './cbor.js';
import {
  IDENTITY_RECORD_CONTEXT,
  IDENTITY_RECORD_MAX_BYTES,
  NODE_ID_HASH_BYTES,
  NODE_ID_LABEL,
  NODE_ID_PREFIX,
  VERIFIED_RECORD_CACHE_SIZE,
} from './constants.js';
import { CryptoError, IdentityError } from './errors.js';
import { hybridKem, mldsa65, xwingDecapsulator } from './pq.js';
import { randomBytes, sha3_256, sha256 } from './primitives.js';
import { open, type SealOptions, seal } from './sealed.js';

const LABEL = utf8(NODE_ID_LABEL);
const RECORD_CTX = utf8(IDENTITY_RECORD_CONTEXT);
const NODE_ID_RE = /^node-[a-z2-7]{32}$/;

/**
 * `node-` + lowercase unpadded base32 of the first 20 bytes of
 * SHA3-256("yak/node-id/v1" || ML-DSA-65 public key) (SPEC section 2).
 */
export function nodeIdFromPublicKey(mldsaPublicKey: Uint8Array): string {
  abytes(mldsaPublicKey, 'mldsaPublicKey', mldsa65.publicKeyLength);
  const buf = new Uint8Array(LABEL.length + mldsaPublicKey.length);
  buf.set(LABEL, 0);
  buf.set(mldsaPublicKey, LABEL.length);
  return NODE_ID_PREFIX + toBase32(sha3_256(buf).subarray(0, NODE_ID_HASH_BYTES));
}

/** True when `id` has the node id shape (it says nothing about any key). */
export function isNodeId(id: unknown): id is string {
  return typeof id === 'string' && NODE_ID_RE.test(id);
}

/** The signed, public identity record of a node. Times are Unix milliseconds. */
export interface IdentityRecord {
  v: 1;
  nodeId: string;
  signPublicKey: Uint8Array;
  kemPublicKey: Uint8Array;
  networkId: string;
  createdAt: number;
  expiresAt?: number;
  /** ML-DSA-65 over the canonical encoding of every other field, context "yak/identity-record/v1". */
  signature: Uint8Array;
}

export interface GenerateOptions {
  /** Network the identity belongs to (default 'yakmesh'). */
  networkId?: string;
  /** Expiry (Unix ms) written into the record; absent means no expiry. */
  expiresAt?: number;
  /** Creation time; defaults to Date.now(). */
  now?: number;
  /** Deterministic seeds (64 bytes: signing seed || KEM seed), for tests and key derivation. */
  seed?: Uint8Array;
}

export interface VerifyRecordOptions {
  /** Current time for the expiry check (default Date.now()). */
  now?: number;
  /** Require this network id. */
  networkId?: string;
  /**
   * Use the verified-record cache (default true). `false` always runs the ML-DSA check and does
   * not remember the result, e.g. for one-off records that should not evict hot entries.
   */
  cache?: boolean;
}

function unsignedFields(r: Omit<IdentityRecord, 'signature'>): CborValue {
  const out: Record<string, CborValue> = {
    v: r.v,
    nodeId: r.nodeId,
    signPublicKey: r.signPublicKey,
    kemPublicKey: r.kemPublicKey,
    networkId: r.networkId,
    createdAt: r.createdAt,
  };
  if (r.expiresAt !== undefined) out.expiresAt = r.expiresAt;
  return out;
}

/** Canonical bytes of a record (for the wire and for hashing). */
export function encodeIdentityRecord(record: IdentityRecord): Uint8Array {
  checkShape(record);
  return encode({ ...(unsignedFields(record) as object), signature: record.signature } as CborValue);
}

/** Parse a record from its canonical bytes (structure only; call `NodeIdentity.verifyRecord`). */
export function decodeIdentityRecord(bytes: Uint8Array): IdentityRecord {
  abytes(bytes, 'bytes');
  if (bytes.length > IDENTITY_RECORD_MAX_BYTES) throw new IdentityError('YAK_IDENTITY_INVALID', 'identity record too large');
  let d: unknown;
  try {
    d = decode(bytes, { maxDepth: 2, maxLength: IDENTITY_RECORD_MAX_BYTES });
  } catch {
    throw new IdentityError('YAK_IDENTITY_INVALID', 'identity record is not canonical CBOR');
  }
  checkShape(d);
  return d;
}

const RECORD_KEYS = new Set(['v', 'nodeId', 'signPublicKey', 'kemPublicKey', 'networkId', 'createdAt', 'expiresAt', 'signature']);

function checkShape(r: unknown): asserts r is IdentityRecord {
  const bad = (why: string) => new IdentityError('YAK_IDENTITY_INVALID', `identity record: ${why}`);
  if (typeof r !== 'object' || r === null || Array.isArray(r) || r instanceof Uint8Array) throw bad('not an object');
  const x = r as Record<string, unknown>;
  for (const k of Object.keys(x)) if (!RECORD_KEYS.has(k) && x[k] !== undefined) throw bad(`unknown field ${k}`);
  if (x.v !== 1) throw bad('unsupported version');
  if (!isNodeId(x.nodeId)) throw bad('malformed nodeId');
  if (!(x.signPublicKey instanceof Uint8Array) || x.signPublicKey.length !== mldsa65.publicKeyLength) throw bad('bad signPublicKey');
  if (!(x.kemPublicKey instanceof Uint8Array) || x.kemPublicKey.length !== hybridKem.publicKeyLength) throw bad('bad kemPublicKey');
  if (typeof x.networkId !== 'string' || x.networkId.length === 0 || x.networkId.length > 128) throw bad('bad networkId');
  if (!Number.isSafeInteger(x.createdAt) || (x.createdAt as number) < 0) throw bad('bad createdAt');
  if (x.expiresAt !== undefined && (!Number.isSafeInteger(x.expiresAt) || (x.expiresAt as number) <= (x.createdAt as number))) {
    throw bad('bad expiresAt');
  }
  if (!(x.signature instanceof Uint8Array) || x.signature.length !== mldsa65.signatureLength) throw bad('bad signature length');
}

// Verified records, keyed by the hash of their full encoding: a record is checked with ML-DSA
// once (SPEC section 2, "Signatures off the hot path"). Bounded; oldest evicted first.
const verified = new Map<string, true>();

function remember(key: string): void {
  if (verified.size >= VERIFIED_RECORD_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
  verified.set(key, true);
}

/** @internal secret bytes of an identity (caller wipes); for the key store only. */
export let secretBytesOf: (id: NodeIdentity) => Uint8Array;
/** @internal rebuild an identity from {@link secretBytesOf} output. */
export let fromSecretBytes: (bytes: Uint8Array) => NodeIdentity;

/** A node's long-term identity. Secret keys never leave the object except sealed by `export`. */
export class NodeIdentity {
  readonly nodeId: string;
  readonly signPublicKey: Uint8Array;
  readonly kemPublicKey: Uint8Array;
  readonly networkId: string;
  #signSeed: Uint8Array;
  #signSecret: Uint8Array;
  #kemSeed: Uint8Array;
  #kem: ReturnType<typeof xwingDecapsulator>;
  #record: IdentityRecord;
  #destroyed = false;

  private constructor(signSeed: Uint8Array, kemSeed: Uint8Array, record: IdentityRecord | undefined, opts: GenerateOptions) {
    const sig = mldsa65.generateKeyPair(signSeed);
    this.#signSeed = signSeed;
    this.#signSecret = sig.secretKey;
    this.#kemSeed = kemSeed;
    this.#kem = xwingDecapsulator(kemSeed);
    this.signPublicKey = sig.publicKey;
    this.kemPublicKey = this.#kem.publicKey;
    this.nodeId = nodeIdFromPublicKey(sig.publicKey);
    if (record) {
      NodeIdentity.verifyRecord(record, { now: record.createdAt });
      if (record.nodeId !== this.nodeId || !bytesEq(record.kemPublicKey, this.kemPublicKey)) {
        throw new IdentityError('YAK_IDENTITY_INVALID', 'stored record does not match the stored keys');
      }
      this.networkId = record.networkId;
      this.#record = record;
    } else {
      this.networkId = opts.networkId ?? 'yakmesh';
      const unsigned = {
        v: 1 as const,
        nodeId: this.nodeId,
        signPublicKey: this.signPublicKey,
        kemPublicKey: this.kemPublicKey,
        networkId: this.networkId,
        createdAt: opts.now ?? Date.now(),
        ...(opts.expiresAt !== undefined ? { expiresAt: opts.expiresAt } : {}),
      };
      const signature = mldsa65.sign(this.#signSecret, encode(unsignedFields(unsigned)), RECORD_CTX);
      this.#record = { ...unsigned, signature };
      checkShape(this.#record);
    }
  }

  /** Create a fresh identity from the CSPRNG (or from `opts.seed`, 64 bytes, for tests). */
  static generate(opts: GenerateOptions = {}): NodeIdentity {
    if (opts.networkId !== undefined) {
      astring(opts.networkId, 'networkId');
      if (opts.networkId.length === 0 || opts.networkId.length > 128) throw new RangeError('networkId must be 1..128 characters');
    }
    if (opts.now !== undefined) aint(opts.now, 'now', 0, Number.MAX_SAFE_INTEGER);
    if (opts.expiresAt !== undefined) {
      aint(opts.expiresAt, 'expiresAt', 0, Number.MAX_SAFE_INTEGER);
      if (opts.expiresAt <= (opts.now ?? Date.now())) throw new RangeError('expiresAt must be after the creation time');
    }
    if (opts.seed !== undefined) abytes(opts.seed, 'seed', 64);
    const seed = opts.seed ? Uint8Array.from(opts.seed) : randomBytes(64);
    return new NodeIdentity(seed.slice(0, 32), seed.slice(32, 64), undefined, opts);
  }

  /** The signed identity record (signed once at creation). */
  publicRecord(): IdentityRecord {
    const r = this.#record;
    return { ...r, signPublicKey: r.signPublicKey.slice(), kemPublicKey: r.kemPublicKey.slice(), signature: r.signature.slice() };
  }

  /** ML-DSA-65 signature by this identity; pass a context string to separate protocols. */
  sign(msg: Uint8Array, context?: Uint8Array): Uint8Array {
    this.#alive();
    return mldsa65.sign(this.#signSecret, msg, context);
  }

  /** Decapsulate an X-Wing ciphertext sent to this identity's static KEM key. */
  kemDecapsulate(cipherText: Uint8Array): Uint8Array {
    this.#alive();
    return this.#kem.decapsulate(cipherText);
  }

  // After destroy() the key bytes are zeros: signing or exporting them would produce garbage
  // signatures or a blob that no longer matches its record, so refuse instead.
  #alive(): void {
    if (this.#destroyed) throw new IdentityError('YAK_IDENTITY_DESTROYED', 'identity keys were destroyed');
  }

  /** Verify an ML-DSA-65 signature against a public key (false on any failure). */
  static verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array, context?: Uint8Array): boolean {
    return mldsa65.verify(publicKey, msg, sig, context);
  }

  /**
   * Verify a record: shape, node id derived from the signing key, signature over every field,
   * expiry and (optionally) network. Throws `IdentityError` with a specific code; returns the
   * record on success. Verified records are cached, so repeated checks cost a hash.
   */
  static verifyRecord(record: IdentityRecord, opts: VerifyRecordOptions = {}): IdentityRecord {
    checkShape(record);
    const now = opts.now ?? Date.now();
    if (opts.networkId !== undefined && record.networkId !== opts.networkId) {
      throw new IdentityError('YAK_IDENTITY_INVALID', 'identity record is for another network');
    }
    if (record.expiresAt !== undefined && record.expiresAt <= now)
      throw new IdentityError('YAK_IDENTITY_EXPIRED', 'identity record expired');
    if (nodeIdFromPublicKey(record.signPublicKey) !== record.nodeId) {
      throw new IdentityError('YAK_IDENTITY_NODE_ID_MISMATCH', 'node id does not match the signing key');
    }
    const useCache = opts.cache !== false;
    const key = useCache ? toHex(sha256(encodeIdentityRecord(record))) : '';
    if (useCache && verified.has(key)) return record;
    const body = encode(unsignedFields(record));
    if (!mldsa65.verify(record.signPublicKey, body, record.signature, RECORD_CTX)) {
      throw new IdentityError('YAK_IDENTITY_BAD_SIGNATURE', 'identity record signature does not verify');
    }
    if (useCache) remember(key);
    return record;
  }

  /** Boolean form of {@link NodeIdentity.verifyRecord}. */
  static isValidRecord(record: unknown, opts: VerifyRecordOptions = {}): boolean {
    try {
      NodeIdentity.verifyRecord(record as IdentityRecord, opts);
      return true;
    } catch (e) {
      if (e instanceof CryptoError || e instanceof TypeError || e instanceof RangeError) return false;
      throw e;
    }
  }

  /** Seal the secret keys and record under a passphrase (scrypt + AES-256-GCM). */
  export(passphrase: string, opts: SealOptions = {}): Uint8Array {
    const plain = this.#secretBytes();
    try {
      return seal('yak-identity', passphrase, plain, opts);
    } finally {
      plain.fill(0);
    }
  }

  /** Open a blob from {@link NodeIdentity.export}; wrong passphrase or damage -> `KeyStoreError`. */
  static import(blob: Uint8Array, passphrase: string): NodeIdentity {
    const { plaintext, key } = open(blob, 'yak-identity', passphrase);
    key?.fill(0);
    try {
      return NodeIdentity.#fromSecretBytes(plaintext);
    } finally {
      plaintext.fill(0);
    }
  }

  /** @internal canonical bytes of the secret material, for the key store. Caller wipes. */
  #secretBytes(): Uint8Array {
    this.#alive();
    return encode({ signSeed: this.#signSeed, kemSeed: this.#kemSeed, record: encodeIdentityRecord(this.#record) });
  }

  static {
    // Module-private access for the key store; not re-exported from the package.
    secretBytesOf = (id) => id.#secretBytes();
    fromSecretBytes = (bytes) => NodeIdentity.#fromSecretBytes(bytes);
  }

  static #fromSecretBytes(bytes: Uint8Array): NodeIdentity {
    let d: Record<string, unknown>;
    try {
      d = decode(bytes, { maxDepth: 2 }) as Record<string, unknown>;
    } catch {
      throw new IdentityError('YAK_IDENTITY_INVALID', 'stored identity is malformed');
    }
    const { signSeed, kemSeed, record } = d ?? {};
    if (!(signSeed instanceof Uint8Array) || signSeed.length !== 32 || !(kemSeed instanceof Uint8Array) || kemSeed.length !== 32) {
      throw new IdentityError('YAK_IDENTITY_INVALID', 'stored identity is malformed');
    }
    if (!(record instanceof Uint8Array)) throw new IdentityError('YAK_IDENTITY_INVALID', 'stored identity is malformed');
    return new NodeIdentity(signSeed.slice(), kemSeed.slice(), decodeIdentityRecord(record), {});
  }

  /** Wipe the secret keys held by this object. It cannot sign or decapsulate afterwards. */
  destroy(): void {
    this.#destroyed = true;
    this.#signSeed.fill(0);
    this.#signSecret.fill(0);
    this.#kemSeed.fill(0);
    this.#kem.destroy();
  }

  /** JSON shows only public data. */
  toJSON(): { nodeId: string; networkId: string } {
    return { nodeId: this.nodeId, networkId: this.networkId };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `NodeIdentity { nodeId: '${this.nodeId}', networkId: '${this.networkId}' }`;
  }
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
