// Identity keys at rest (seed 003 "Key Custody"; SPEC section 2 "Secrets at rest").
//
// A sealed identity is canonical CBOR:
//   { v: 1, kind, key_id, kdf: { alg: 'scrypt', N, r, p, salt }, nonce, ct, check }
// key = HKDF-SHA256(scrypt(NFKC(passphrase), salt, N, r, p), salt, label) and
// ct = AES-256-GCM(key, nonce, CBOR{ ed, pq }, aad = CBOR of every field but ct and check).
// `check` is SHA-256 over the rest, so damage (check fails) is told apart from a wrong
// passphrase (check holds, the tag fails). It is a checksum, not a MAC: an attacker who edits the
// file can recompute it, but then the AEAD tag fails. Only the Ed25519 key and the ML-DSA-65 seed
// are sealed; public keys are recomputed and must match the stored key id.
import { randomBytes as nodeRandomBytes, scrypt } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { aes256gcm, type CborValue, constantTimeEqual, decode, encode, hkdf, randomBytes, sha256, utf8, wipe } from '@yak/crypto';
import { PROTOCOL_LABEL, SCRYPT_MAX_N, SCRYPT_MIN_N, SCRYPT_N, SCRYPT_P, SCRYPT_R, SEALED_IDENTITY_MAX_BYTES } from './constants.js';
import {
  AbortedError,
  MeshCryptoError,
  StorageCorruptError,
  StorageExistsError,
  StorageInsecureError,
  StorageIOError,
  StorageNotFoundError,
  StoragePassphraseError,
} from './errors.js';
import { checkKeypair, exportSecrets, type IdentityKeypair, restoreIdentity } from './identity.js';

const KIND = 'yak/e2ee-mathison/identity';
const KEY_LABEL = utf8(`${PROTOCOL_LABEL} storage aead`);
const KEY_ID_RE = /^mk-[a-z2-7]{26}$/;

/** Options of every storage call. */
export interface StorageCallOptions {
  signal?: AbortSignal;
}

/** Options of {@link StorageAdapter.save}. */
export interface SaveOptions extends StorageCallOptions {
  passphrase: string;
  /** Replace an identity already stored under the same key id (default false). */
  overwrite?: boolean;
}

/** Options of {@link StorageAdapter.load}. */
export interface LoadOptions extends StorageCallOptions {
  passphrase: string;
}

/**
 * Where identity keys live between runs (seed 003 "Key Custody"). Implementations store only
 * passphrase-sealed identities; the private key never reaches them in the clear.
 */
export interface StorageAdapter {
  /** Seal and store an identity under its key_id. */
  save(identity: IdentityKeypair, options: SaveOptions): Promise<void>;
  /** Load and unseal; StoragePassphraseError, StorageCorruptError or StorageNotFoundError on failure. */
  load(keyId: string, options: LoadOptions): Promise<IdentityKeypair>;
  /** Remove; true if something was removed. */
  delete(keyId: string, options?: StorageCallOptions): Promise<boolean>;
  /** Key ids stored. */
  list(options?: StorageCallOptions): Promise<string[]>;
}

/** Options shared by the adapters. */
export interface SealingOptions {
  /** scrypt N: a power of two in [2^14, 2^22]; default 2^17 (SPEC section 2). */
  scryptN?: number;
}

function checkScryptN(N: unknown, name: string): number {
  if (typeof N !== 'number' || !Number.isInteger(N)) throw new TypeError(`${name} must be an integer`);
  if (N < SCRYPT_MIN_N || N > SCRYPT_MAX_N || (N & (N - 1)) !== 0) throw new RangeError(`${name} must be a power of two in [2^14, 2^22]`);
  return N;
}

function checkKeyId(keyId: unknown): string {
  if (typeof keyId !== 'string') throw new TypeError('keyId must be a string');
  if (!KEY_ID_RE.test(keyId)) throw new RangeError('keyId must be a key id (mk- followed by 26 base32 characters)');
  return keyId;
}

function checkPassphrase(p: unknown): string {
  if (typeof p !== 'string') throw new TypeError('passphrase must be a string');
  if (p.length === 0) throw new RangeError('passphrase must not be empty');
  return p;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}

/** scrypt on libuv's thread pool, so a 128 MiB derivation does not block the event loop. */
function scryptAsync(passphrase: string, salt: Uint8Array, N: number, r: number, p: number): Promise<Buffer> {
  const pass = Buffer.from(passphrase.normalize('NFKC'), 'utf8');
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(pass, salt, 32, { N, r, p, maxmem: 256 * N * r }, (err, key) => {
      pass.fill(0);
      if (err) reject(new StorageIOError('scrypt', err));
      else resolve(key);
    });
  });
}

async function deriveKey(passphrase: string, salt: Uint8Array, N: number, r: number, p: number): Promise<Uint8Array> {
  const master = await scryptAsync(passphrase, salt, N, r, p);
  try {
    return hkdf('sha256', master, salt, KEY_LABEL, 32);
  } finally {
    master.fill(0);
  }
}

interface Header {
  v: 1;
  kind: string;
  key_id: string;
  kdf: { alg: 'scrypt'; N: number; r: number; p: number; salt: Uint8Array };
  nonce: Uint8Array;
}

/** Seal an identity into bytes (exported for the adapters and for tests of the container). */
export async function sealIdentity(
  identity: IdentityKeypair,
  passphrase: string,
  opts: SealingOptions & StorageCallOptions = {},
): Promise<Uint8Array> {
  const pub = checkKeypair(identity, 'identity');
  checkPassphrase(passphrase);
  const N = checkScryptN(opts.scryptN ?? SCRYPT_N, 'scryptN');
  throwIfAborted(opts.signal);
  const header: Header = {
    v: 1,
    kind: KIND,
    key_id: pub.keyId,
    kdf: { alg: 'scrypt', N, r: SCRYPT_R, p: SCRYPT_P, salt: randomBytes(16) },
    nonce: randomBytes(12),
  };
  const key = await deriveKey(passphrase, header.kdf.salt, N, SCRYPT_R, SCRYPT_P);
  const secrets = exportSecrets(identity.privateKey);
  const plaintext = encode({ ed: secrets.ed, pq: secrets.pqSeed ?? null });
  try {
    const ct = aes256gcm(key).seal(header.nonce, plaintext, encode(header as unknown as CborValue));
    const body = { ...header, ct } as unknown as Record<string, CborValue>;
    return encode({ ...body, check: sha256(encode(body)) });
  } finally {
    wipe(key, plaintext, secrets.ed, secrets.pqSeed);
  }
}

function parseSealed(blob: Uint8Array): { header: Header; ct: Uint8Array } {
  if (!(blob instanceof Uint8Array)) throw new TypeError('sealed identity must be a Uint8Array');
  if (blob.length > SEALED_IDENTITY_MAX_BYTES) throw new StorageCorruptError('too large');
  let doc: unknown;
  try {
    // A plain Uint8Array view, so decoded byte strings are copies (Buffer#slice would share memory).
    doc = decode(new Uint8Array(blob.buffer, blob.byteOffset, blob.length), {
      maxDepth: 3,
      maxLength: SEALED_IDENTITY_MAX_BYTES,
      maxItems: 16,
    });
  } catch {
    throw new StorageCorruptError('not canonical CBOR');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || doc instanceof Uint8Array)
    throw new StorageCorruptError('not a map');
  const { check, ...body } = doc as Record<string, unknown>;
  if (!(check instanceof Uint8Array) || !constantTimeEqual(check, sha256(encode(body as CborValue)))) {
    throw new StorageCorruptError('checksum mismatch');
  }
  const { v, kind, key_id, kdf, nonce, ct } = body;
  if (Object.keys(body).length !== 6) throw new StorageCorruptError('unexpected fields');
  if (v !== 1 || kind !== KIND) throw new StorageCorruptError('not a sealed identity of this version');
  if (typeof key_id !== 'string' || !KEY_ID_RE.test(key_id)) throw new StorageCorruptError('bad key id');
  if (!(nonce instanceof Uint8Array) || nonce.length !== 12 || !(ct instanceof Uint8Array) || ct.length < 16) {
    throw new StorageCorruptError('bad nonce or ciphertext');
  }
  if (typeof kdf !== 'object' || kdf === null) throw new StorageCorruptError('missing kdf');
  const { alg, N, r, p, salt } = kdf as Record<string, unknown>;
  if (alg !== 'scrypt' || Object.keys(kdf).length !== 5) throw new StorageCorruptError('unknown kdf');
  if (typeof N !== 'number' || N < SCRYPT_MIN_N || N > SCRYPT_MAX_N || (N & (N - 1)) !== 0)
    throw new StorageCorruptError('scrypt N out of range');
  if (r !== SCRYPT_R || p !== SCRYPT_P) throw new StorageCorruptError('scrypt r/p out of range');
  if (!(salt instanceof Uint8Array) || salt.length !== 16) throw new StorageCorruptError('bad salt');
  return { header: { v: 1, kind: KIND, key_id, kdf: { alg: 'scrypt', N, r, p, salt }, nonce }, ct };
}

/** Open a sealed identity. Wrong passphrase -> StoragePassphraseError; damage -> StorageCorruptError. */
export async function unsealIdentity(
  blob: Uint8Array,
  passphrase: string,
  opts: StorageCallOptions & { expectedKeyId?: string } = {},
): Promise<IdentityKeypair> {
  checkPassphrase(passphrase);
  const { header, ct } = parseSealed(blob);
  if (opts.expectedKeyId !== undefined && header.key_id !== opts.expectedKeyId)
    throw new StorageCorruptError('stored under another key id');
  throwIfAborted(opts.signal);
  const { N, r, p, salt } = header.kdf;
  const key = await deriveKey(passphrase, salt, N, r, p);
  let plaintext: Uint8Array;
  try {
    plaintext = aes256gcm(key).open(header.nonce, ct, encode(header as unknown as CborValue));
  } catch {
    throw new StoragePassphraseError();
  } finally {
    wipe(key);
  }
  let doc: unknown;
  try {
    doc = decode(new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length), { maxDepth: 2, maxLength: 1024, maxItems: 4 });
  } catch {
    throw new StorageCorruptError('sealed payload is not canonical CBOR');
  } finally {
    wipe(plaintext);
  }
  const { ed, pq } = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  if (!(ed instanceof Uint8Array) || ed.length !== 32 || !(pq === null || (pq instanceof Uint8Array && pq.length === 32))) {
    throw new StorageCorruptError('sealed payload has the wrong shape');
  }
  const identity = restoreIdentity(ed, pq ?? undefined);
  if (identity.key_id !== header.key_id) {
    identity.privateKey.destroy();
    throw new StorageCorruptError('key id does not match the sealed key');
  }
  return identity;
}

/**
 * In-memory StorageAdapter for tests: the same sealed containers as the file adapter, kept in a
 * bounded map (at most `maxEntries`; saving beyond it is refused).
 */
export class MemoryStorageAdapter implements StorageAdapter {
  private readonly entries = new Map<string, Uint8Array>();
  private readonly scryptN: number;
  private readonly maxEntries: number;

  constructor(options: SealingOptions & { maxEntries?: number } = {}) {
    this.scryptN = checkScryptN(options.scryptN ?? SCRYPT_N, 'scryptN');
    this.maxEntries = options.maxEntries ?? 1024;
  }

  async save(identity: IdentityKeypair, options: SaveOptions): Promise<void> {
    const pub = checkKeypair(identity, 'identity');
    if (this.entries.has(pub.keyId) && !options.overwrite) throw new StorageExistsError(pub.keyId);
    if (!this.entries.has(pub.keyId) && this.entries.size >= this.maxEntries) throw new StorageIOError('memory storage is full', undefined);
    const blob = await sealIdentity(identity, options.passphrase, {
      scryptN: this.scryptN,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.entries.set(pub.keyId, blob);
  }

  async load(keyId: string, options: LoadOptions): Promise<IdentityKeypair> {
    const blob = this.entries.get(checkKeyId(keyId));
    if (!blob) throw new StorageNotFoundError(keyId);
    return unsealIdentity(blob, options.passphrase, { expectedKeyId: keyId, ...(options.signal ? { signal: options.signal } : {}) });
  }

  async delete(keyId: string): Promise<boolean> {
    const blob = this.entries.get(checkKeyId(keyId));
    if (blob) wipe(blob);
    return this.entries.delete(keyId);
  }

  async list(): Promise<string[]> {
    return [...this.entries.keys()].sort();
  }

  /** @internal Raw sealed bytes, for tests that corrupt them. */
  sealedBytes(keyId: string): Uint8Array | undefined {
    return this.entries.get(keyId);
  }
}

/** Options of {@link FileStorageAdapter}. */
export interface FileStorageOptions extends SealingOptions {
  /** Directory holding one `<key_id>.identity` file per identity (created with mode 0700). */
  directory: string;
  /** Accept key files readable by group or others (default false: refused, as ssh does). */
  allowInsecurePermissions?: boolean;
}

const SUFFIX = '.identity';

/**
 * File-backed StorageAdapter: one sealed file per identity, written with mode 0600 to a
 * temporary name, fsynced and atomically renamed into place, so a crash leaves either the old
 * file or the new one.
 */
export class FileStorageAdapter implements StorageAdapter {
  readonly directory: string;
  private readonly scryptN: number;
  private readonly allowInsecure: boolean;

  constructor(options: FileStorageOptions) {
    if (typeof options?.directory !== 'string' || options.directory.length === 0)
      throw new TypeError('directory must be a non-empty string');
    this.directory = options.directory;
    this.scryptN = checkScryptN(options.scryptN ?? SCRYPT_N, 'scryptN');
    this.allowInsecure = options.allowInsecurePermissions === true;
  }

  /** Path of the file for a key id. */
  pathOf(keyId: string): string {
    return join(this.directory, checkKeyId(keyId) + SUFFIX);
  }

  async save(identity: IdentityKeypair, options: SaveOptions): Promise<void> {
    const pub = checkKeypair(identity, 'identity');
    const path = this.pathOf(pub.keyId);
    const blob = await sealIdentity(identity, options.passphrase, {
      scryptN: this.scryptN,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    throwIfAborted(options.signal);
    await io('create directory', () => mkdir(this.directory, { recursive: true, mode: 0o700 }));
    if (!options.overwrite && (await exists(path))) throw new StorageExistsError(pub.keyId);
    const tmp = join(dirname(path), `.${pub.keyId}.${nodeRandomBytes(8).toString('hex')}.tmp`);
    let renamed = false;
    try {
      await io('write', async () => {
        const fh = await open(tmp, 'wx', 0o600);
        try {
          await fh.writeFile(blob);
          await fh.sync();
        } finally {
          await fh.close();
        }
      });
      // The umask may have narrowed the mode further, never widened it; make it exact.
      await io('chmod', () => chmod(tmp, 0o600));
      await io('rename', () => rename(tmp, path));
      renamed = true;
      await syncDirectory(this.directory);
    } finally {
      if (!renamed) await unlink(tmp).catch(() => {});
    }
  }

  async load(keyId: string, options: LoadOptions): Promise<IdentityKeypair> {
    const path = this.pathOf(keyId);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageNotFoundError(keyId);
      throw new StorageIOError('stat', e);
    }
    if (!this.allowInsecure && process.platform !== 'win32' && (info.mode & 0o077) !== 0) throw new StorageInsecureError(info.mode & 0o777);
    if (info.size > SEALED_IDENTITY_MAX_BYTES) throw new StorageCorruptError('too large');
    throwIfAborted(options.signal);
    const blob = await io('read', () => readFile(path));
    return unsealIdentity(new Uint8Array(blob.buffer, blob.byteOffset, blob.length), options.passphrase, {
      expectedKeyId: keyId,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async delete(keyId: string): Promise<boolean> {
    const path = this.pathOf(keyId);
    try {
      await unlink(path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new StorageIOError('unlink', e);
    }
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new StorageIOError('readdir', e);
    }
    return names
      .filter((n) => n.endsWith(SUFFIX))
      .map((n) => n.slice(0, -SUFFIX.length))
      .filter((id) => KEY_ID_RE.test(id))
      .sort();
  }
}

async function io<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof MeshCryptoError) throw e;
    throw new StorageIOError(what, e);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** fsync the directory so the rename itself is durable (best effort: not every platform allows it). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Windows cannot open directories; the rename is still atomic there.
  }
}
