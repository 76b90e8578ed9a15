import { execFile } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KeyStore } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { ConsoleUI, keygen, runDemo } from '../src/index.js';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '../../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const bin = join(import.meta.dirname, '../src/bin.ts');

function capture(): { ui: ConsoleUI; text: () => string } {
  let buf = '';
  const ui = new ConsoleUI((s) => {
    buf += s;
  });
  return { ui, text: () => buf };
}

describe('yak demo', () => {
  it('foundation section runs every step and rejects every attack', async () => {
    const { ui, text } = capture();
    const r = await runDemo({ ui, only: ['foundation'] });
    expect(r.ok).toBe(true);
    expect(ui.failures).toBe(0);
    const out = text();
    expect(out.match(/-> rejected/g)?.length).toBe(4);
    expect(out).not.toMatch(/✘/);
    expect(out).toContain('every step passed');
  });

  it('the whole demo (every section, mesh on loopback ws) completes and rejects every attack it stages', async () => {
    const { ui, text } = capture();
    const r = await runDemo({ ui });
    const out = text();
    expect(r.ok, out).toBe(true);
    expect(ui.failures).toBe(0);
    for (const s of ['Foundation', 'E2EE', 'Nen', 'Mesh', 'ANNEX']) expect(out.toLowerCase()).toContain(s.toLowerCase());
    expect(out.match(/-> rejected/g)?.length ?? 0).toBeGreaterThanOrEqual(15);
    expect(out).not.toMatch(/✘/);
  }, 120_000);

  it('reports failure when a section throws', async () => {
    const { ui } = capture();
    const r = await runDemo({
      ui,
      sections: [
        {
          name: 'broken',
          run: async (u) => {
            await u.step('fails', () => {
              throw new Error('boom');
            });
          },
        },
      ],
    });
    expect(r.ok).toBe(false);
    expect(ui.failures).toBe(1);
  });
});

describe('yak keygen', () => {
  it('creates an encrypted key store with mode 0600 that opens with the passphrase', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yak-keygen-'));
    const r = await keygen({ dataDir: dir, passphrase: 'correct horse', networkId: 'testnet', scryptN: 2 ** 14 });
    expect(r.nodeId).toMatch(/^node-[a-z2-7]{32}$/);
    expect(statSync(r.path).mode & 0o777).toBe(0o600);
    const store = await KeyStore.open(r.path, 'correct horse');
    expect(store.get('default').nodeId).toBe(r.nodeId);
    expect(store.get('default').networkId).toBe('testnet');
    store.close();
    await expect(KeyStore.open(r.path, 'wrong')).rejects.toMatchObject({ code: 'YAK_KEYSTORE_PASSPHRASE' });
    await expect(keygen({ dataDir: dir, passphrase: 'correct horse', scryptN: 2 ** 14 })).rejects.toThrow(/already exists/);
  });

  it('the yak binary creates a key store from $YAK_PASSPHRASE and never prints key material', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yak-bin-'));
    const { stdout } = await exec(tsx, ['--conditions=@yak/source', bin, 'keygen', '--data-dir', dir, '--name', 'n1'], {
      env: { ...process.env, YAK_PASSPHRASE: 'pw-from-env' },
    });
    const nodeId = stdout.match(/node-[a-z2-7]{32}/)?.[0];
    expect(nodeId).toBeDefined();
    expect(stdout).not.toMatch(/[0-9a-f]{64}/);
    const store = await KeyStore.open(join(dir, 'keystore.yak'), 'pw-from-env');
    expect(store.get('n1').nodeId).toBe(nodeId);
    store.close();
  });

  it('the yak binary rejects an unknown command with exit code 2', async () => {
    await expect(exec(tsx, ['--conditions=@yak/source', bin, 'frobnicate'])).rejects.toMatchObject({ code: 2 });
  });
});
