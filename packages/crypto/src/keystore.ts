// Encrypted key store file (SPEC section 2, "Secrets at rest"): named identities sealed under
// one passphrase (scrypt + AES-256-GCM), mode 0600, atomic replace (write temp, fsync, rename).
// A damaged file is reported, never silently replaced.
import type * as FsPromises from 'node:fs/promises';
import { astring } from './assert.js';
import { toHex } from './bytes.js';
import { type CborValue, decode, encode } from './cbor.js';
import { SEALED_MAX_BYTES } from './constants.js';
import { KeyStoreError } from './errors.js';
import { fromSecretBytes, type NodeIdentity, secretBytesOf } from './identity.js';
import { randomBytes } from './primitives.js';
import { deriveKey, newKdf, open, type SealOptions, sealInsecure, sealWithKey } from './sealed.js';

const KIND = 'yak-keystore';

// node:fs is loaded on first use, so importing @yak/crypto in a browser or edge runtime (where
// there is no file system and no KeyStore) does not pull it in.
let fsMod: Promise<typeof FsPromises> | undefined;
function nodeFs(): Promise<typeof FsPromises> {
  fsMod ??= import('node:fs/promises');
  return fsMod;
}
const O_CREAT_EXCL_WRONLY = 'wx';

function dirname(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? '.' : i === 0 ? path.slice(0, 1) : path.slice(0, i);
}

export interface KeyStoreOptions extends SealOptions {
  /** Store without encryption. Refused unless set; for tests only (SPEC section 2). */
  insecure?: boolean;
  signal?: AbortSignal;
}

type Kdf = ReturnType<typeof newKdf>;

/** A file of named identities, encrypted at rest. */
export class KeyStore {
  readonly path: string;
  #entries: Map<string, Uint8Array>;
  #key: Uint8Array | undefined;
  #kdf: Kdf | undefined;
  #closed = false;
  #queue: Promise<void> = Promise.resolve();

  private constructor(path: string, entries: Map<string, Uint8Array>, key: Uint8Array | undefined, kdf: Kdf | undefined) {
    this.path = path;
    this.#entries = entries;
    this.#key = key;
    this.#kdf = kdf;
  }

  /** Create a new, empty store. Fails with YAK_KEYSTORE_EXISTS if the file exists. */
  static async create(path: string, passphrase: string | null, opts: KeyStoreOptions = {}): Promise<KeyStore> {
    astring(path, 'path');
    opts.signal?.throwIfAborted();
    let key: Uint8Array | undefined;
    let kdf: Kdf | undefined;
    if (passphrase === null) {
      if (!opts.insecure) throw new KeyStoreError('YAK_KEYSTORE_INSECURE', 'an unencrypted key store needs { insecure: true }');
    } else {
      astring(passphrase, 'passphrase');
      if (passphrase.length === 0) throw new RangeError('passphrase must not be empty');
      kdf = newKdf(opts);
      key = deriveKey(passphrase, kdf);
    }
    const store = new KeyStore(path, new Map(), key, kdf);
    await store.#write(true);
    return store;
  }

  /** Open an existing store. Wrong passphrase: YAK_KEYSTORE_PASSPHRASE; damaged: YAK_KEYSTORE_CORRUPT. */
  static async open(path: string, passphrase: string | null, opts: KeyStoreOptions = {}): Promise<KeyStore> {
    astring(path, 'path');
    let blob: Uint8Array;
    try {
      // Refuse an oversized file before reading it into memory.
      const { stat, readFile } = await nodeFs();
      if ((await stat(path)).size > SEALED_MAX_BYTES) throw new KeyStoreError('YAK_KEYSTORE_CORRUPT', 'key store file is too large');
      opts.signal?.throwIfAborted();
      blob = new Uint8Array(await readFile(path, opts.signal ? { signal: opts.signal } : {}));
    } catch (e) {
      if (e instanceof KeyStoreError) throw e;
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new KeyStoreError('YAK_KEYSTORE_NOT_FOUND', 'key store file does not exist');
      if ((e as Error).name === 'AbortError') throw e;
      throw new KeyStoreError('YAK_KEYSTORE_IO', 'cannot read key store file', { cause: e });
    }
    const opened = open(blob, KIND, passphrase, { allowInsecure: opts.insecure === true });
    const entries = new Map<string, Uint8Array>();
    try {
      const doc = decode(opened.plaintext, { maxDepth: 3 }) as Record<string, unknown>;
      const ids = doc?.identities;
      if (typeof ids !== 'object' || ids === null || Array.isArray(ids)) throw new Error('no identities map');
      for (const [name, bytes] of Object.entries(ids)) {
        if (!(bytes instanceof Uint8Array)) throw new Error('bad entry');
        entries.set(name, bytes);
      }
    } catch {
      opened.key?.fill(0);
      throw new KeyStoreError('YAK_KEYSTORE_CORRUPT', 'key store contents are malformed');
    } finally {
      opened.plaintext.fill(0);
    }
    return new KeyStore(path, entries, opened.key, opened.kdf);
  }

  /** Open the store if the file exists, else create it. */
  static async openOrCreate(path: string, passphrase: string | null, opts: KeyStoreOptions = {}): Promise<KeyStore> {
    try {
      return await KeyStore.open(path, passphrase, opts);
    } catch (e) {
      if (e instanceof KeyStoreError && e.code === 'YAK_KEYSTORE_NOT_FOUND') return KeyStore.create(path, passphrase, opts);
      throw e;
    }
  }

  /** Names of the stored identities. */
  list(): string[] {
    this.#open();
    return [...this.#entries.keys()].sort();
  }

  has(name: string): boolean {
    this.#open();
    return this.#entries.has(name);
  }

  /** The identity stored under `name` (YAK_KEYSTORE_NOT_FOUND if absent). */
  get(name: string): NodeIdentity {
    this.#open();
    astring(name, 'name');
    const bytes = this.#entries.get(name);
    if (!bytes) throw new KeyStoreError('YAK_KEYSTORE_NOT_FOUND', `no identity named '${name}'`);
    return fromSecretBytes(bytes);
  }

  /** Store `identity` under `name` and write the file atomically. */
  async set(name: string, identity: NodeIdentity, opts: { signal?: AbortSignal } = {}): Promise<void> {
    this.#open();
    astring(name, 'name');
    if (name.length === 0 || name.length > 128) throw new RangeError('name must be 1..128 characters');
    const bytes = secretBytesOf(identity);
    await this.#serial(async () => {
      const previous = this.#entries.get(name);
      this.#entries.set(name, bytes);
      try {
        await this.#write(false, opts.signal);
        previous?.fill(0);
      } catch (e) {
        // A failed write leaves memory as it was (and the file untouched, see #write).
        bytes.fill(0);
        if (previous) this.#entries.set(name, previous);
        else this.#entries.delete(name);
        throw e;
      }
    });
  }

  /** Remove `name` and write the file atomically. Returns whether it existed. */
  async delete(name: string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    this.#open();
    astring(name, 'name');
    return this.#serial(async () => {
      const previous = this.#entries.get(name);
      if (!previous) return false;
      this.#entries.delete(name);
      try {
        await this.#write(false, opts.signal);
      } catch (e) {
        this.#entries.set(name, previous);
        throw e;
      }
      previous.fill(0);
      return true;
    });
  }

  // Mutations run one at a time: each write snapshots the whole store, so two overlapping
  // writes could otherwise rename an older snapshot over a newer one.
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      this.#open();
      return fn();
    });
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Wipe the derived key and cached secrets from memory. */
  close(): void {
    for (const v of this.#entries.values()) v.fill(0);
    this.#entries.clear();
    this.#key?.fill(0);
    this.#key = undefined;
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new KeyStoreError('YAK_KEYSTORE_IO', 'key store is closed');
  }

  async #write(exclusive: boolean, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    // An encrypted store never falls back to writing plaintext, whatever state it is in.
    if (this.#kdf && !this.#key) throw new KeyStoreError('YAK_KEYSTORE_IO', 'key store is closed');
    // Null prototype: a store entry named "__proto__" is data like any other name.
    const identities: Record<string, CborValue> = Object.create(null);
    for (const [k, v] of this.#entries) identities[k] = v;
    const plain = encode({ identities });
    const blob = this.#kdf && this.#key ? sealWithKey(KIND, this.#kdf, this.#key, plain) : sealInsecure(KIND, plain);
    plain.fill(0);
    const tmp = `${this.path}.${toHex(randomBytes(6))}.tmp`;
    const { open: fsOpen, rename, rm } = await nodeFs();
    let fh: Awaited<ReturnType<typeof fsOpen>> | undefined;
    let claimed = false;
    try {
      if (exclusive) {
        // Claim the final name first so create() never clobbers an existing (maybe damaged) file.
        const claim = await fsOpen(this.path, O_CREAT_EXCL_WRONLY, 0o600).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'EEXIST') throw new KeyStoreError('YAK_KEYSTORE_EXISTS', 'key store file already exists');
          throw new KeyStoreError('YAK_KEYSTORE_IO', 'cannot create key store file', { cause: e });
        });
        claimed = true;
        await claim.close();
      }
      fh = await fsOpen(tmp, O_CREAT_EXCL_WRONLY, 0o600);
      await fh.writeFile(blob);
      await fh.sync();
      await fh.close();
      fh = undefined;
      signal?.throwIfAborted();
      await rename(tmp, this.path);
    } catch (e) {
      await fh?.close().catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
      // create() failed after claiming the name: remove the empty file it created (O_EXCL
      // guarantees it was ours), so a retry does not find a "damaged" store.
      if (claimed) await rm(this.path, { force: true }).catch(() => {});
      if (e instanceof KeyStoreError || (e as Error).name === 'AbortError') throw e;
      throw new KeyStoreError('YAK_KEYSTORE_IO', 'cannot write key store file', { cause: e });
    }
    await syncDir(dirname(this.path));
  }
}

// Make the rename itself durable (POSIX: the directory entry lives in the directory). Best
// effort: some platforms cannot open or fsync a directory; the data file is already synced.
async function syncDir(dir: string): Promise<void> {
  const { open: fsOpen } = await nodeFs();
  let dh: Awaited<ReturnType<typeof fsOpen>> | undefined;
  try {
    dh = await fsOpen(dir, 'r');
    await dh.sync();
  } catch {
    // ignored, see above
  } finally {
    await dh?.close().catch(() => {});
  }
}
