import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { keygen } from '../src/index.js';

it('README example: keygen creates an encrypted key store', async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'yak-readme-')), '.yak-example');
  const { nodeId, path } = await keygen({ dataDir, passphrase: 'correct horse battery staple' });
  expect(nodeId).toMatch(/^node-/);
  expect(path).toBe(join(dataDir, 'keystore.yak'));
});
