// Long-term identity keys (seed 003 "Identity keys", issue "Key custody").
//
// An identity is an Ed25519 signing key, plus an ML-DSA-65 key in hybrid mode. The private half is
// an opaque, non-extractable handle shaped like WebCrypto's CryptoKey: its bytes live in a
// module-private WeakMap, not on the object, so JSON.stringify, util.inspect, structuredClone,
// spreading and property enumeration cannot reach them. The only way out is a passphrase-sealed
// StorageAdapter export (storage.ts). A WebCrypto CryptoKey itself is not used because Node 20
// has no ML-DSA in WebCrypto and a non-extractable CryptoKey could not be sealed for storage.
import { inspect } from 'node:util';
import { concatBytes, ed25519, mldsa65, randomBytes, sha256, toBase32, utf8, wipe } from '@yak/crypto';
import { KEY_ID_HASH_BYTES, KEY_ID_PREFIX, MLDSA_CONTEXT, PROTOCOL_LABEL } from './constants.js';
import { b64u, b64uLength, unb64u } from './encoding.js';
import { KeyDestroyedError } from './errors.js';

/** 'classical': X25519 + Ed25519 (seed 003). 'hybrid': adds ML-KEM-768 and ML-DSA-65 (issue, optional PQ mode). */
export type Mode = 'classical' | 'hybrid';

/** Algorithm name of an identity key, after WebCrypto's `CryptoKey.algorithm`. */
export type IdentityAlgorithm = 'Ed25519' | 'Ed25519+ML-DSA-65';

const ED_PK = 32;
const PQ_PK = 1952;
const CLASSICAL_PK = ED_PK;
const HYBRID_PK = ED_PK + PQ_PK;

interface IdentitySecret {
  publicKey: string;
  ed: Uint8Array;
  /** ML-DSA-65 key generation seed (FIPS 204 xi), kept so a sealed identity stays small. */
  pqSeed: Uint8Array | undefined;
  pqSecret: Uint8Array | undefined;
  destroyed: boolean;
}

const secrets = new WeakMap<IdentityPrivateKey, IdentitySecret>();
const CONSTRUCT = Symbol('IdentityPrivateKey');

/**
 * The private half of an identity: opaque and non-extractable. It signs handshake transcripts
 * inside MeshCrypto and can be sealed by a StorageAdapter; nothing else can read it.
 */
export class IdentityPrivateKey {
  /** As WebCrypto's CryptoKey. */
  readonly type = 'private' as const;
  /** Always false: no API returns the key bytes. */
  readonly extractable = false as const;
  readonly usages: readonly ['sign'] = Object.freeze(['sign'] as const);
  readonly algorithm: IdentityAlgorithm;
  /** Key id of the identity this key belongs to. */
  readonly key_id: string;

  /** @internal Created only by generateIdentityKeypair() or a StorageAdapter. */
  constructor(token: symbol, keyId: string, algorithm: IdentityAlgorithm) {
    if (token !== CONSTRUCT) throw new TypeError('IdentityPrivateKey cannot be constructed directly');
    this.key_id = keyId;
    this.algorithm = algorithm;
    Object.freeze(this);
  }

  /** True once {@link destroy} has run. */
  get destroyed(): boolean {
    return secrets.get(this)?.destroyed ?? true;
  }

  /** Zero the key bytes. Any later use throws KeyDestroyedError (YAK_E2EE_KEY_DESTROYED). */
  destroy(): void {
    const s = secrets.get(this);
    if (!s || s.destroyed) return;
    wipe(s.ed, s.pqSeed, s.pqSecret);
    s.destroyed = true;
  }

  /** What JSON.stringify emits: metadata only. */
  toJSON(): Record<string, unknown> {
    return { type: this.type, algorithm: this.algorithm, extractable: false, key_id: this.key_id };
  }

  [inspect.custom](): string {
    return `IdentityPrivateKey { key_id: '${this.key_id}', algorithm: '${this.algorithm}', extractable: false }`;
  }
}

/** Seed 003 `IdentityKeypair`. `publicKey` is unpadded base64url (see {@link parsePublicKey}). */
export interface IdentityKeypair {
  readonly key_id: string;
  /** Ed25519 public key (32 bytes), or Ed25519 || ML-DSA-65 (32 + 1952 bytes) in hybrid mode, as unpadded base64url. */
  readonly publicKey: string;
  /** Non-extractable; never serialised or logged. */
  readonly privateKey: IdentityPrivateKey;
}

/** A decoded identity public key. */
export interface PublicIdentity {
  mode: Mode;
  bytes: Uint8Array;
  ed: Uint8Array;
  pq: Uint8Array | undefined;
  keyId: string;
  text: string;
}

/** Key id: 'mk-' + base32 of the first 16 bytes of SHA-256(label || public key bytes). */
export function keyIdOf(publicKeyBytes: Uint8Array): string {
  const h = sha256(concatBytes(utf8(`${PROTOCOL_LABEL} key-id`), publicKeyBytes));
  return KEY_ID_PREFIX + toBase32(h.subarray(0, KEY_ID_HASH_BYTES));
}

/** Decode public key bytes; undefined if the length fits neither mode. */
export function publicIdentityFromBytes(bytes: Uint8Array): PublicIdentity | undefined {
  if (bytes.length !== CLASSICAL_PK && bytes.length !== HYBRID_PK) return undefined;
  const b = Uint8Array.from(bytes);
  return {
    mode: b.length === HYBRID_PK ? 'hybrid' : 'classical',
    bytes: b,
    ed: b.subarray(0, ED_PK),
    pq: b.length === HYBRID_PK ? b.subarray(ED_PK) : undefined,
    keyId: keyIdOf(b),
    text: b64u(b),
  };
}

/**
 * Parse an identity public key string (argument checks per house rule 2: not a string ->
 * TypeError, wrong encoding or length -> RangeError naming the argument).
 */
export function parsePublicKey(text: unknown, name: string): PublicIdentity {
  if (typeof text !== 'string') throw new TypeError(`${name} must be a string`);
  const bytes = unb64u(text, b64uLength(HYBRID_PK));
  const id = bytes ? publicIdentityFromBytes(bytes) : undefined;
  if (!id) throw new RangeError(`${name} must be unpadded base64url of ${CLASSICAL_PK} or ${HYBRID_PK} bytes`);
  return id;
}

function makeKeypair(ed: Uint8Array, pqSeed: Uint8Array | undefined): IdentityKeypair {
  const edPk = ed25519.getPublicKey(ed);
  let pq: { publicKey: Uint8Array; secretKey: Uint8Array } | undefined;
  if (pqSeed) pq = mldsa65.generateKeyPair(pqSeed);
  const pub = publicIdentityFromBytes(pq ? concatBytes(edPk, pq.publicKey) : edPk) as PublicIdentity;
  const privateKey = new IdentityPrivateKey(CONSTRUCT, pub.keyId, pq ? 'Ed25519+ML-DSA-65' : 'Ed25519');
  secrets.set(privateKey, { publicKey: pub.text, ed, pqSeed, pqSecret: pq?.secretKey, destroyed: false });
  return Object.freeze({ key_id: pub.keyId, publicKey: pub.text, privateKey });
}

/** A fresh identity for `mode`. */
export function createIdentity(mode: Mode): IdentityKeypair {
  const ed = ed25519.generateKeyPair().secretKey;
  const pqSeed = mode === 'hybrid' ? randomBytes(32) : undefined;
  return makeKeypair(ed, pqSeed);
}

/** @internal Rebuild an identity from sealed secrets (storage). Takes ownership of the arrays. */
export function restoreIdentity(ed: Uint8Array, pqSeed: Uint8Array | undefined): IdentityKeypair {
  return makeKeypair(ed, pqSeed);
}

function secretOf(key: IdentityPrivateKey): IdentitySecret {
  const s = secrets.get(key);
  if (!s) throw new TypeError('privateKey must be an IdentityPrivateKey from this package');
  if (s.destroyed) throw new KeyDestroyedError();
  return s;
}

/** @internal Copies of the secrets a StorageAdapter seals. The caller wipes them. */
export function exportSecrets(key: IdentityPrivateKey): { ed: Uint8Array; pqSeed: Uint8Array | undefined } {
  const s = secretOf(key);
  return { ed: Uint8Array.from(s.ed), pqSeed: s.pqSeed ? Uint8Array.from(s.pqSeed) : undefined };
}

/**
 * Check that a keypair object is one of ours and consistent (publicKey and key_id belong to
 * privateKey), and return its parsed public half.
 */
export function checkKeypair(kp: unknown, name: string): PublicIdentity {
  if (typeof kp !== 'object' || kp === null) throw new TypeError(`${name} must be an IdentityKeypair`);
  const { privateKey, publicKey, key_id } = kp as Partial<IdentityKeypair>;
  if (!(privateKey instanceof IdentityPrivateKey)) throw new TypeError(`${name}.privateKey must be an IdentityPrivateKey`);
  const s = secretOf(privateKey);
  const pub = parsePublicKey(publicKey, `${name}.publicKey`);
  if (s.publicKey !== pub.text || key_id !== pub.keyId) throw new RangeError(`${name}: publicKey/key_id do not belong to privateKey`);
  return pub;
}

/** Signatures of one message under every key of the identity. */
export interface IdentitySignatures {
  ed: Uint8Array;
  pq: Uint8Array | undefined;
}

/** Sign `msg` with Ed25519 and, for hybrid identities, ML-DSA-65 (with this protocol's context). */
export function signWith(key: IdentityPrivateKey, msg: Uint8Array): IdentitySignatures {
  const s = secretOf(key);
  return { ed: ed25519.sign(s.ed, msg), pq: s.pqSecret ? mldsa65.sign(s.pqSecret, msg, utf8(MLDSA_CONTEXT)) : undefined };
}

/** Verify both signatures (both must be present and valid for a hybrid identity). */
export function verifyWith(pub: PublicIdentity, msg: Uint8Array, sigs: IdentitySignatures): boolean {
  const edOk = ed25519.verify(pub.ed, msg, sigs.ed);
  if (!pub.pq) return edOk && sigs.pq === undefined;
  if (!sigs.pq) return false;
  // Verify both even when the first fails, so timing does not say which one did.
  const pqOk = mldsa65.verify(pub.pq, msg, sigs.pq, utf8(MLDSA_CONTEXT));
  return edOk && pqOk;
}
