// Identity storage: sealed round trips, wrong passphrase, corrupted and truncated containers,
// file mode 0600 and atomic writes, and loading an identity back into MeshCrypto.
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@yak/crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportSecrets } from '../src/identity.js';
import {
  FileStorageAdapter,
  MemoryStorageAdapter,
  MeshCrypto,
  StorageCorruptError,
  StorageExistsError,
  StorageInsecureError,
  StorageNotFoundError,
  StoragePassphraseError,
  sealIdentity,
  unsealIdentity,
} from '../src/index.js';
import { handshake, rejected, text } from './helpers.js';

const FAST = { scryptN: 2 ** 14 };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'yak-e2ee-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sealed identity container', () => {
  it('round trips classical and hybrid identities', async () => {
    for (const mode of ['classical', 'hybrid'] as const) {
      const m = new MeshCrypto({ mode });
      const id = await m.generateIdentityKeypair();
      const blob = await sealIdentity(id, 'correct horse', FAST);
      const back = await unsealIdentity(blob, 'correct horse');
      expect(back.key_id).toBe(id.key_id);
      expect(back.publicKey).toBe(id.publicKey);
      expect(back.privateKey.algorithm).toBe(id.privateKey.algorithm);
      expect(Buffer.from(exportSecrets(back.privateKey).ed).equals(Buffer.from(exportSecrets(id.privateKey).ed))).toBe(true);
    }
  });

  it('wrong passphrase and corruption are told apart', async () => {
    const id = await new MeshCrypto().generateIdentityKeypair();
    const blob = await sealIdentity(id, 'pw-1', FAST);
    const e = await rejected(unsealIdentity(blob, 'pw-2'));
    expect(e).toBeInstanceOf(StoragePassphraseError);
    expect((e as StoragePassphraseError).code).toBe('YAK_E2EE_STORAGE_PASSPHRASE');
    for (const i of [0, 10, Math.floor(blob.length / 2), blob.length - 1]) {
      const bad = Uint8Array.from(blob);
      bad[i] = (bad[i] as number) ^ 0x01;
      expect(await rejected(unsealIdentity(bad, 'pw-1'))).toBeInstanceOf(StorageCorruptError);
    }
    expect(await rejected(unsealIdentity(blob.subarray(0, blob.length - 5), 'pw-1'))).toBeInstanceOf(StorageCorruptError);
    expect(await rejected(unsealIdentity(new Uint8Array(0), 'pw-1'))).toBeInstanceOf(StorageCorruptError);
    expect(await rejected(unsealIdentity(new Uint8Array(70_000), 'pw-1'))).toBeInstanceOf(StorageCorruptError);
    expect(await rejected(unsealIdentity(encode({ v: 1 }), 'pw-1'))).toBeInstanceOf(StorageCorruptError);
    expect(await rejected(unsealIdentity(blob, ''))).toBeInstanceOf(RangeError);
  });

  it('random bytes never open and never crash (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
        const e = await rejected(unsealIdentity(bytes, 'pw'));
        return e instanceof StorageCorruptError;
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a scrypt cost below the floor', async () => {
    const id = await new MeshCrypto().generateIdentityKeypair();
    expect(await rejected(sealIdentity(id, 'pw', { scryptN: 2 ** 10 }))).toBeInstanceOf(RangeError);
    expect(() => new MemoryStorageAdapter({ scryptN: 3000 })).toThrow(RangeError);
  });
});

describe('MemoryStorageAdapter', () => {
  it('save, list, load, delete', async () => {
    const store = new MemoryStorageAdapter(FAST);
    const id = await new MeshCrypto().generateIdentityKeypair();
    await store.save(id, { passphrase: 'pw' });
    expect(await store.list()).toEqual([id.key_id]);
    expect(await rejected(store.save(id, { passphrase: 'pw' }))).toBeInstanceOf(StorageExistsError);
    await store.save(id, { passphrase: 'pw2', overwrite: true });
    expect(await rejected(store.load(id.key_id, { passphrase: 'pw' }))).toBeInstanceOf(StoragePassphraseError);
    expect((await store.load(id.key_id, { passphrase: 'pw2' })).publicKey).toBe(id.publicKey);
    expect(await store.delete(id.key_id)).toBe(true);
    expect(await store.delete(id.key_id)).toBe(false);
    expect(await rejected(store.load(id.key_id, { passphrase: 'pw2' }))).toBeInstanceOf(StorageNotFoundError);
    expect(await rejected(store.load('../../etc/passwd', { passphrase: 'pw' }))).toBeInstanceOf(RangeError);
  });

  it('corruption of the stored bytes is detected', async () => {
    const store = new MemoryStorageAdapter(FAST);
    const id = await new MeshCrypto().generateIdentityKeypair();
    await store.save(id, { passphrase: 'pw' });
    const raw = store.sealedBytes(id.key_id) as Uint8Array;
    raw[raw.length - 40] = (raw[raw.length - 40] as number) ^ 0xff;
    expect(await rejected(store.load(id.key_id, { passphrase: 'pw' }))).toBeInstanceOf(StorageCorruptError);
  });
});

describe('FileStorageAdapter', () => {
  it('writes mode 0600 files atomically and loads them back', async () => {
    const store = new FileStorageAdapter({ directory: join(dir, 'keys'), ...FAST });
    const m = new MeshCrypto({ mode: 'hybrid' });
    const id = await m.generateIdentityKeypair();
    await store.save(id, { passphrase: 'file pw' });
    const path = store.pathOf(id.key_id);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'keys'))).mode & 0o077).toBe(0);
    expect(await readdir(join(dir, 'keys'))).toEqual([`${id.key_id}.identity`]);
    expect(await store.list()).toEqual([id.key_id]);
    // The file holds no private key bytes in the clear.
    const raw = await readFile(path);
    const { ed, pqSeed } = exportSecrets(id.privateKey);
    expect(raw.includes(Buffer.from(ed))).toBe(false);
    expect(raw.includes(Buffer.from(pqSeed as Uint8Array))).toBe(false);
    const back = await store.load(id.key_id, { passphrase: 'file pw' });
    expect(back.publicKey).toBe(id.publicKey);
    expect(await rejected(store.save(id, { passphrase: 'x' }))).toBeInstanceOf(StorageExistsError);
    await store.save(id, { passphrase: 'new pw', overwrite: true });
    expect(await readdir(join(dir, 'keys'))).toEqual([`${id.key_id}.identity`]);
    expect((await store.load(id.key_id, { passphrase: 'new pw' })).key_id).toBe(id.key_id);
  });

  it('wrong passphrase, corrupted file, truncated file, loose permissions, missing file', async () => {
    const store = new FileStorageAdapter({ directory: join(dir, 'bad'), ...FAST });
    const id = await new MeshCrypto().generateIdentityKeypair();
    await store.save(id, { passphrase: 'pw' });
    const path = store.pathOf(id.key_id);
    expect(await rejected(store.load(id.key_id, { passphrase: 'nope' }))).toBeInstanceOf(StoragePassphraseError);
    const good = await readFile(path);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 50] = (flipped[flipped.length - 50] as number) ^ 0x10;
    await writeFile(path, flipped, { mode: 0o600 });
    expect(await rejected(store.load(id.key_id, { passphrase: 'pw' }))).toBeInstanceOf(StorageCorruptError);
    await writeFile(path, good.subarray(0, 30), { mode: 0o600 });
    expect(await rejected(store.load(id.key_id, { passphrase: 'pw' }))).toBeInstanceOf(StorageCorruptError);
    await writeFile(path, good, { mode: 0o600 });
    await chmod(path, 0o644);
    expect(await rejected(store.load(id.key_id, { passphrase: 'pw' }))).toBeInstanceOf(StorageInsecureError);
    const lax = new FileStorageAdapter({ directory: join(dir, 'bad'), allowInsecurePermissions: true, ...FAST });
    expect((await lax.load(id.key_id, { passphrase: 'pw' })).key_id).toBe(id.key_id);
    expect(await store.delete(id.key_id)).toBe(true);
    expect(await rejected(store.load(id.key_id, { passphrase: 'pw' }))).toBeInstanceOf(StorageNotFoundError);
    expect(await new FileStorageAdapter({ directory: join(dir, 'absent') }).list()).toEqual([]);
  });

  it('a loaded identity is accepted by a peer that pinned the original', async () => {
    const store = new FileStorageAdapter({ directory: join(dir, 'roundtrip'), ...FAST });
    const first = new MeshCrypto();
    const id = await first.generateIdentityKeypair();
    await store.save(id, { passphrase: 'pw' });
    first.close();

    const restarted = new MeshCrypto();
    await restarted.loadIdentity(store, id.key_id, { passphrase: 'pw' });
    const bob = new MeshCrypto();
    await bob.generateIdentityKeypair();
    const s = await handshake(restarted, bob, { expectedPeer: id.publicKey });
    expect(bob.decrypt(restarted.encrypt(text('back'), s.aliceSession), s.bobSession).toString()).toBe('back');
  });
});
