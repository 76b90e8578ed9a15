import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyStore, NodeIdentity } from '@yak/crypto';

export interface KeygenOptions {
  dataDir: string;
  name?: string;
  networkId?: string;
  passphrase: string;
  /** Replace an existing identity of the same name. */
  force?: boolean;
  scryptN?: number;
}

export const KEYSTORE_FILE = 'keystore.yak';

/** `yak keygen`: create (or add to) the encrypted key store and store a fresh identity. */
export async function keygen(opts: KeygenOptions): Promise<{ nodeId: string; path: string; name: string }> {
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const path = join(opts.dataDir, KEYSTORE_FILE);
  const name = opts.name ?? 'default';
  const store = await KeyStore.openOrCreate(path, opts.passphrase, opts.scryptN ? { scryptN: opts.scryptN } : {});
  try {
    if (store.has(name) && !opts.force) throw new Error(`identity '${name}' already exists in ${path} (use --force to replace)`);
    const id = NodeIdentity.generate({ networkId: opts.networkId ?? 'yakmesh' });
    await store.set(name, id);
    const nodeId = id.nodeId;
    id.destroy();
    return { nodeId, path, name };
  } finally {
    store.close();
  }
}
