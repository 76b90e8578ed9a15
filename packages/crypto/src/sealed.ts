// Passphrase-sealed containers for secrets at rest (SPEC section 2, "Secrets at rest"):
// scrypt -> AES-256-GCM, laid out as canonical CBOR. A SHA-256 checksum over the container lets
// us tell a corrupted file (checksum fails) from a wrong passphrase (checksum holds, tag fails).
import { astring } from './assert.js';
import { type CborValue, decode, encode } from './cbor.js';
import { SCRYPT_MAX_N, SCRYPT_MIN_N, SCRYPT_N, SCRYPT_P, SCRYPT_R, SEALED_MAX_BYTES } from './constants.js';
import { KeyStoreError } from './errors.js';
import { aes256gcm, constantTimeEqual, randomBytes, scryptKdf, sha256 } from './primitives.js';

export interface SealOptions {
  /** scrypt N (power of two, 2^14 .. 2^22; default 2^17). */
  scryptN?: number;
}

interface KdfParams {
  alg: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: Uint8Array;
}

interface Header {
  v: 1;
  kind: string;
  kdf: KdfParams | { alg: 'none' };
  nonce: Uint8Array;
}

function checkN(N: unknown): asserts N is number {
  if (typeof N !== 'number' || !Number.isInteger(N)) throw new TypeError('scryptN must be an integer');
  if (N < SCRYPT_MIN_N || N > SCRYPT_MAX_N || (N & (N - 1)) !== 0) {
    throw new RangeError(`scryptN must be a power of two in [2^14, 2^22]`);
  }
}

/** Derive the container key. The passphrase is NFKC-normalised so the same text always opens it. */
export function deriveKey(passphrase: string, kdf: KdfParams): Uint8Array {
  const pass = new TextEncoder().encode(passphrase.normalize('NFKC'));
  try {
    return scryptKdf(pass, kdf.salt, kdf.N, kdf.r, kdf.p, 32);
  } finally {
    pass.fill(0);
  }
}

export function newKdf(opts: SealOptions = {}): KdfParams {
  const N = opts.scryptN ?? SCRYPT_N;
  checkN(N);
  return { alg: 'scrypt', N, r: SCRYPT_R, p: SCRYPT_P, salt: randomBytes(16) };
}

/** Seal `plaintext` under an already-derived key (the key store keeps its key while open). */
export function sealWithKey(kind: string, kdf: KdfParams, key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const header: Header = { v: 1, kind, kdf, nonce: randomBytes(12) };
  const aad = encode(header as unknown as CborValue);
  const ct = aes256gcm(key).seal(header.nonce, plaintext, aad);
  const body = { ...header, ct } as unknown as CborValue;
  return encode({ ...(body as object), check: sha256(encode(body)) } as CborValue);
}

/** Unprotected container, only for tests that ask for it explicitly. */
export function sealInsecure(kind: string, plaintext: Uint8Array): Uint8Array {
  const body = { v: 1, kind, kdf: { alg: 'none' }, nonce: new Uint8Array(0), pt: plaintext } as unknown as CborValue;
  return encode({ ...(body as object), check: sha256(encode(body)) } as CborValue);
}

/** Seal with a passphrase (derives a fresh salt and key). */
export function seal(kind: string, passphrase: string, plaintext: Uint8Array, opts: SealOptions = {}): Uint8Array {
  astring(passphrase, 'passphrase');
  const kdf = newKdf(opts);
  const key = deriveKey(passphrase, kdf);
  try {
    return sealWithKey(kind, kdf, key, plaintext);
  } finally {
    key.fill(0);
  }
}

export interface Opened {
  plaintext: Uint8Array;
  /** The derived key and KDF parameters, for re-sealing without another scrypt run. Wipe `key`. */
  key: Uint8Array | undefined;
  kdf: KdfParams | undefined;
}

function corrupt(why: string): KeyStoreError {
  return new KeyStoreError('YAK_KEYSTORE_CORRUPT', `sealed container is corrupted: ${why}`);
}

/** Parse and check a container's structure and checksum, without the passphrase. */
function parse(blob: Uint8Array, kind: string): Record<string, unknown> {
  if (!(blob instanceof Uint8Array)) throw new TypeError('blob must be a Uint8Array');
  if (blob.length > SEALED_MAX_BYTES) throw corrupt('too large');
  let doc: unknown;
  try {
    doc = decode(blob, { maxDepth: 4, maxLength: SEALED_MAX_BYTES });
  } catch {
    throw corrupt('not canonical CBOR');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || doc instanceof Uint8Array) throw corrupt('not a map');
  const d = doc as Record<string, unknown>;
  const { check, ...body } = d;
  if (!(check instanceof Uint8Array) || !constantTimeEqual(check, sha256(encode(body as CborValue)))) throw corrupt('checksum mismatch');
  if (d.v !== 1) throw corrupt('unknown version');
  if (d.kind !== kind) throw corrupt(`expected a ${kind} container`);
  return d;
}

/** Open a container; wrong passphrase -> YAK_KEYSTORE_PASSPHRASE, damage -> YAK_KEYSTORE_CORRUPT. */
export function open(blob: Uint8Array, kind: string, passphrase: string | null, opts: { allowInsecure?: boolean } = {}): Opened {
  const d = parse(blob, kind);
  const kdf = d.kdf as Record<string, unknown> | undefined;
  if (!kdf || typeof kdf !== 'object') throw corrupt('missing kdf');
  if (kdf.alg === 'none') {
    if (!opts.allowInsecure) throw new KeyStoreError('YAK_KEYSTORE_INSECURE', 'container is not encrypted; refusing without allowInsecure');
    if (!(d.pt instanceof Uint8Array)) throw corrupt('missing plaintext');
    return { plaintext: d.pt, key: undefined, kdf: undefined };
  }
  if (kdf.alg !== 'scrypt') throw corrupt('unknown kdf');
  if (passphrase === null) throw new KeyStoreError('YAK_KEYSTORE_PASSPHRASE', 'a passphrase is required');
  astring(passphrase, 'passphrase');
  const { N, r, p, salt } = kdf;
  if (typeof N !== 'number' || N < SCRYPT_MIN_N || N > SCRYPT_MAX_N || (N & (N - 1)) !== 0) throw corrupt('scrypt N out of range');
  if (r !== 8 || p !== 1) throw corrupt('scrypt r/p out of range');
  if (!(salt instanceof Uint8Array) || salt.length !== 16) throw corrupt('bad salt');
  if (!(d.nonce instanceof Uint8Array) || d.nonce.length !== 12 || !(d.ct instanceof Uint8Array)) throw corrupt('bad nonce or ciphertext');
  const params: KdfParams = { alg: 'scrypt', N, r, p, salt };
  const key = deriveKey(passphrase, params);
  const aad = encode({ v: 1, kind, kdf: params, nonce: d.nonce } as unknown as CborValue);
  try {
    const plaintext = aes256gcm(key).open(d.nonce, d.ct, aad);
    return { plaintext, key, kdf: params };
  } catch {
    key.fill(0);
    throw new KeyStoreError('YAK_KEYSTORE_PASSPHRASE', 'wrong passphrase');
  }
}
