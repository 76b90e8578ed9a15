// KeyStore (SPEC section 2, "Secrets at rest"): mode 0600, atomic replace with nothing left
// behind, failed writes that keep the previous file and memory, typed errors for a wrong
// passphrase or a damaged file that is never overwritten, the insecure-store opt-in, AbortSignal.
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode, KeyStore, KeyStoreError, NodeIdentity } from '@yak/crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

// Fault injection for node:fs/promises as the key store sees it. `fault` names the step that
// fails next ('write' | 'sync' | 'rename' | 'claim'); `onWrite` runs while the temp file is
// being written (to abort mid-operation).
const faults = vi.hoisted(() => ({ fault: undefined as string | undefined, onWrite: undefined as (() => void) | undefined }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const boom = (step: string) => Object.assign(new Error(`injected ${step} failure`), { code: 'EIO' });
  return {
    ...fs,
    open: async (path: string, flags: number | string, mode?: number) => {
      const isTmp = typeof path === 'string' && path.endsWith('.tmp');
      if (!isTmp && flags === 'wx' && faults.fault === 'claim') {
        faults.fault = undefined;
        throw boom('claim');
      }
      const fh = await fs.open(path, flags, mode);
      if (!isTmp) return fh;
      return {
        writeFile: async (data: Uint8Array) => {
          faults.onWrite?.();
          if (faults.fault === 'write') {
            faults.fault = undefined;
            await fh.writeFile(data.subarray(0, data.length >> 1)); // a torn, half-written temp file
            throw boom('write');
          }
          return fh.writeFile(data);
        },
        sync: async () => {
          if (faults.fault === 'sync') {
            faults.fault = undefined;
            throw boom('sync');
          }
          return fh.sync();
        },
        close: () => fh.close(),
      };
    },
    rename: async (from: string, to: string) => {
      if (faults.fault === 'rename') {
        faults.fault = undefined;
        throw boom('rename');
      }
      return fs.rename(from, to);
    },
  };
});

const FAST = { scryptN: 2 ** 14 };
const PASS = 'key store passphrase';
let dir: string;
let alice: NodeIdentity;
let bob: NodeIdentity;

function ksCode(e: unknown): string {
  expect(e).toBeInstanceOf(KeyStoreError);
  return (e as KeyStoreError).code;
}
async function rejectsWith(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return ksCode(e);
  }
  throw new Error('expected a KeyStoreError');
}
async function rejectsAbort(p: Promise<unknown>): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect((err as Error | undefined)?.name).toBe('AbortError');
}
const files = async () => (await readdir(dir)).sort();

beforeAll(() => {
  alice = NodeIdentity.generate({ networkId: 'testnet' });
  bob = NodeIdentity.generate({ networkId: 'testnet' });
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'yak-keystore-'));
  faults.fault = undefined;
  faults.onWrite = undefined;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('KeyStore', () => {
  const previousUmask = process.umask(0); // so a 0600 file proves the code asked for 0600
  afterAll(() => {
    process.umask(previousUmask);
  });

  it('creates, stores, reopens and lists identities; files are 0600; no temp files remain', async () => {
    const path = join(dir, 'keys.yak');
    const ks = await KeyStore.create(path, PASS, FAST);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await ks.set('alice', alice);
    await ks.set('bob', bob);
    expect(ks.list()).toEqual(['alice', 'bob']);
    expect(ks.has('alice')).toBe(true);
    expect(ks.get('alice').nodeId).toBe(alice.nodeId);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await files()).toEqual(['keys.yak']);
    ks.close();

    const again = await KeyStore.open(path, PASS);
    expect(again.list()).toEqual(['alice', 'bob']);
    expect(again.get('bob').nodeId).toBe(bob.nodeId);
    expect(again.get('bob').publicRecord()).toEqual(bob.publicRecord());
    expect(await again.delete('bob')).toBe(true);
    expect(await again.delete('bob')).toBe(false);
    again.close();
    expect((await KeyStore.open(path, PASS)).list()).toEqual(['alice']);
  });

  it('replaces a looser-mode file with a 0600 one on write', async () => {
    const path = join(dir, 'keys.yak');
    const ks = await KeyStore.create(path, PASS, FAST);
    await chmod(path, 0o644);
    await ks.set('alice', alice);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('keeps the secrets encrypted at rest (no seed, record or name in the file bytes)', async () => {
    const path = join(dir, 'keys.yak');
    const ks = await KeyStore.create(path, PASS, FAST);
    await ks.set('alice-the-node', alice);
    const raw = Buffer.from(await readFile(path));
    expect(raw.includes(Buffer.from('alice-the-node'))).toBe(false);
    expect(raw.includes(Buffer.from(alice.signPublicKey.subarray(0, 32)))).toBe(false);
    expect(raw.includes(Buffer.from(alice.nodeId))).toBe(false);
  });

  it('wrong passphrase -> YAK_KEYSTORE_PASSPHRASE; missing passphrase -> YAK_KEYSTORE_PASSPHRASE', async () => {
    const path = join(dir, 'keys.yak');
    (await KeyStore.create(path, PASS, FAST)).close();
    expect(await rejectsWith(KeyStore.open(path, 'not it'))).toBe('YAK_KEYSTORE_PASSPHRASE');
    expect(await rejectsWith(KeyStore.open(path, null))).toBe('YAK_KEYSTORE_PASSPHRASE');
    expect(await rejectsWith(KeyStore.open(path, null, { insecure: true }))).toBe('YAK_KEYSTORE_PASSPHRASE');
  });

  it('a damaged file gives YAK_KEYSTORE_CORRUPT and is never overwritten', async () => {
    const path = join(dir, 'keys.yak');
    const ks = await KeyStore.create(path, PASS, FAST);
    await ks.set('alice', alice);
    ks.close();
    const good = await readFile(path);
    for (const damage of [
      (b: Buffer) => {
        b[b.length >> 1] = (b[b.length >> 1] as number) ^ 1;
        return b;
      },
      (b: Buffer) => b.subarray(0, b.length - 7),
      (b: Buffer) => b.subarray(0, 0),
      (b: Buffer) => Buffer.concat([b, Buffer.from([0])]),
      () => Buffer.from('{"not":"cbor"}'),
    ]) {
      const bad = damage(Buffer.from(good));
      await writeFile(path, bad);
      expect(await rejectsWith(KeyStore.open(path, PASS))).toBe('YAK_KEYSTORE_CORRUPT');
      expect(await rejectsWith(KeyStore.openOrCreate(path, PASS, FAST))).toBe('YAK_KEYSTORE_CORRUPT');
      expect(await rejectsWith(KeyStore.create(path, PASS, FAST))).toBe('YAK_KEYSTORE_EXISTS');
      expect(Buffer.compare(await readFile(path), bad)).toBe(0);
    }
  });

  it('a well-formed container with a malformed payload is YAK_KEYSTORE_CORRUPT', async () => {
    const path = join(dir, 'keys.yak');
    const ks = await KeyStore.create(path, null, { insecure: true });
    ks.close();
    // Rebuild an insecure container whose payload lacks the identities map, with a valid checksum.
    const doc = decode(await readFile(path)) as Record<string, unknown>;
    const { check: _c, ...body } = doc;
    const pt = encode({ nothing: 1 });
    const { createHash } = await import('node:crypto');
    const nb = { ...body, pt };
    await writeFile(
      path,
      encode({
        ...nb,
        check: new Uint8Array(
          createHash('sha256')
            .update(encode(nb as never))
            .digest(),
        ),
      } as never),
    );
    expect(await rejectsWith(KeyStore.open(path, null, { insecure: true }))).toBe('YAK_KEYSTORE_CORRUPT');
  });

  it('refuses an unencrypted store unless { insecure: true }, both ways', async () => {
    const path = join(dir, 'plain.yak');
    expect(await rejectsWith(KeyStore.create(path, null))).toBe('YAK_KEYSTORE_INSECURE');
    expect(await files()).toEqual([]);
    const ks = await KeyStore.create(path, null, { insecure: true });
    await ks.set('alice', alice);
    ks.close();
    expect(await rejectsWith(KeyStore.open(path, null))).toBe('YAK_KEYSTORE_INSECURE');
    expect(await rejectsWith(KeyStore.open(path, PASS))).toBe('YAK_KEYSTORE_INSECURE');
    expect((await KeyStore.open(path, null, { insecure: true })).get('alice').nodeId).toBe(alice.nodeId);
  });

  it('create refuses an existing file; open of a missing file is YAK_KEYSTORE_NOT_FOUND; openOrCreate creates', async () => {
    const path = join(dir, 'keys.yak');
    await writeFile(path, 'someone else');
    expect(await rejectsWith(KeyStore.create(path, PASS, FAST))).toBe('YAK_KEYSTORE_EXISTS');
    expect(await readFile(path, 'utf8')).toBe('someone else');
    const missing = join(dir, 'missing.yak');
    expect(await rejectsWith(KeyStore.open(missing, PASS))).toBe('YAK_KEYSTORE_NOT_FOUND');
    const ks = await KeyStore.openOrCreate(missing, PASS, FAST);
    await ks.set('alice', alice);
    ks.close();
    expect((await KeyStore.openOrCreate(missing, PASS, FAST)).list()).toEqual(['alice']);
  });

  it.each(['write', 'sync', 'rename'])('a failed %s keeps the previous file, the memory state and no temp file', async (step) => {
    const path = join(dir, 'keys.yak');
    const ks = await KeyStore.create(path, PASS, FAST);
    await ks.set('alice', alice);
    const before = await readFile(path);
    faults.fault = step;
    expect(await rejectsWith(ks.set('bob', bob))).toBe('YAK_KEYSTORE_IO');
    expect(Buffer.compare(await readFile(path), before)).toBe(0);
    expect(await files()).toEqual(['keys.yak']);
    expect(ks.list()).toEqual(['alice']);
    // Replacing an entry that fails keeps the old entry.
    faults.fault = step;
    expect(await rejectsWith(ks.set('alice', bob))).toBe('YAK_KEYSTORE_IO');
    expect(ks.get('alice').nodeId).toBe(alice.nodeId);
    faults.fault = step;
    expect(await rejectsWith(ks.delete('alice'))).toBe('YAK_KEYSTORE_IO');
    expect(ks.has('alice')).toBe(true);
    expect((await KeyStore.open(path, PASS)).list()).toEqual(['alice']);
    // And the store still works afterwards.
    await ks.set('bob', bob);
    expect((await KeyStore.open(path, PASS)).list()).toEqual(['alice', 'bob']);
  });

  it.each(['claim', 'write', 'rename'])('a create() that fails at %s leaves no file behind, so a retry works', async (step) => {
    const path = join(dir, 'keys.yak');
    faults.fault = step;
    expect(await rejectsWith(KeyStore.create(path, PASS, FAST))).toBe('YAK_KEYSTORE_IO');
    expect(await files()).toEqual([]);
    const ks = await KeyStore.create(path, PASS, FAST);
    expect(ks.list()).toEqual([]);
  });

  it('honours AbortSignal: before starting, and while writing (file and memory unchanged)', async () => {
    const path = join(dir, 'keys.yak');
    await rejectsAbort(KeyStore.create(path, PASS, { ...FAST, signal: AbortSignal.abort() }));
    expect(await files()).toEqual([]);
    const ks = await KeyStore.create(path, PASS, FAST);
    await ks.set('alice', alice);
    const before = await readFile(path);
    await rejectsAbort(ks.set('bob', bob, { signal: AbortSignal.abort() }));
    const ac = new AbortController();
    faults.onWrite = () => ac.abort();
    await rejectsAbort(ks.set('bob', bob, { signal: ac.signal }));
    faults.onWrite = undefined;
    expect(Buffer.compare(await readFile(path), before)).toBe(0);
    expect(await files()).toEqual(['keys.yak']);
    expect(ks.list()).toEqual(['alice']);
    await rejectsAbort(ks.delete('alice', { signal: AbortSignal.abort() }));
    expect(ks.has('alice')).toBe(true);
    await rejectsAbort(KeyStore.open(path, PASS, { signal: AbortSignal.abort() }));
  });

  it('serialises overlapping writes so the file always holds the latest state', async () => {
    const path = join(dir, 'keys.yak');
    const ks = await KeyStore.create(path, PASS, FAST);
    const ids = [alice, bob, alice, bob, alice, bob];
    await Promise.all(ids.map((id, i) => ks.set(`n${i}`, id)));
    await Promise.all([ks.delete('n0'), ks.set('n6', alice), ks.delete('n3')]);
    expect(ks.list()).toEqual(['n1', 'n2', 'n4', 'n5', 'n6']);
    expect((await KeyStore.open(path, PASS)).list()).toEqual(['n1', 'n2', 'n4', 'n5', 'n6']);
    expect(await files()).toEqual(['keys.yak']);
  });

  it('treats any name as data ("__proto__" included) and checks name arguments', async () => {
    const path = join(dir, 'keys.yak');
    const ks = await KeyStore.create(path, PASS, FAST);
    await ks.set('__proto__', alice);
    expect((await KeyStore.open(path, PASS)).get('__proto__').nodeId).toBe(alice.nodeId);
    await expect(ks.set('', alice)).rejects.toThrow(RangeError);
    await expect(ks.set('x'.repeat(129), alice)).rejects.toThrow(RangeError);
    await expect(ks.set(5 as unknown as string, alice)).rejects.toThrow(TypeError);
    await expect(ks.set('x', {} as NodeIdentity)).rejects.toThrow(TypeError);
    expect(() => ks.get(5 as unknown as string)).toThrow(TypeError);
    let err: unknown;
    try {
      ks.get('nobody');
    } catch (e) {
      err = e;
    }
    expect(ksCode(err)).toBe('YAK_KEYSTORE_NOT_FOUND');
    await expect(KeyStore.create(join(dir, 'b.yak'), '', FAST)).rejects.toThrow(RangeError);
    await expect(KeyStore.create(join(dir, 'c.yak'), PASS, { scryptN: 1024 })).rejects.toThrow(RangeError);
    await expect(KeyStore.create(5 as unknown as string, PASS, FAST)).rejects.toThrow(TypeError);
  });

  it('refuses every operation after close() and never writes plaintext', async () => {
    const path = join(dir, 'keys.yak');
    const ks = await KeyStore.create(path, PASS, FAST);
    const pending = ks.set('alice', alice);
    ks.close();
    // The write that had already started completes or fails, but never downgrades the file.
    await pending.catch(() => undefined);
    expect(await rejectsWith(ks.set('bob', bob))).toBe('YAK_KEYSTORE_IO');
    expect(() => ks.list()).toThrow(KeyStoreError);
    expect(() => ks.get('alice')).toThrow(KeyStoreError);
    expect(await rejectsWith(KeyStore.open(path, null, { insecure: true }))).toBe('YAK_KEYSTORE_PASSPHRASE');
  });

  it('refuses to store a destroyed identity', async () => {
    const ks = await KeyStore.create(join(dir, 'keys.yak'), PASS, FAST);
    const tmp = NodeIdentity.generate();
    tmp.destroy();
    await expect(ks.set('gone', tmp)).rejects.toThrow(expect.objectContaining({ code: 'YAK_IDENTITY_DESTROYED' }));
    expect(ks.list()).toEqual([]);
  });
});
