// The README's opening example, run as a test. The block between the markers must stay
// identical to the README's first code block (minus its import line); the last test checks that.
import { readFileSync } from 'node:fs';
import { aes256gcm, fromUtf8, hkdf, hybridKem, NodeIdentity, randomBytes, utf8 } from '@yak/crypto';
import { afterEach, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.restoreAllMocks();
});

it('runs the README example', () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  // README-EXAMPLE-START
  // Two nodes, each with an ML-DSA-65 signing key and an X-Wing (X25519 + ML-KEM-768) KEM key.
  const alice = NodeIdentity.generate({ networkId: 'demo' });
  const bob = NodeIdentity.generate({ networkId: 'demo' });

  // Alice checks Bob's self-signed identity record before she trusts the keys in it.
  const bobRecord = NodeIdentity.verifyRecord(bob.publicRecord(), { networkId: 'demo' });

  // Alice encapsulates a fresh secret to Bob's hybrid KEM key; Bob decapsulates it.
  const { cipherText, sharedSecret } = hybridKem.encapsulate(bobRecord.kemPublicKey);
  const bobSecret = bob.kemDecapsulate(cipherText);

  // A KEM secret is never an AEAD key: derive one with HKDF and a per-purpose label.
  const label = utf8('demo/alice->bob/v1');
  const nonce = randomBytes(12);
  const sealed = aes256gcm(hkdf('sha256', sharedSecret, undefined, label, 32)).seal(nonce, utf8('hello bob'), utf8('hdr'));
  const opened = aes256gcm(hkdf('sha256', bobSecret, undefined, label, 32)).open(nonce, sealed, utf8('hdr'));
  console.log(fromUtf8(opened)); // hello bob

  // Alice signs with a context string; anyone verifies against her public key.
  const sig = alice.sign(utf8('hello'), utf8('demo/greeting/v1'));
  console.log(NodeIdentity.verify(alice.signPublicKey, utf8('hello'), sig, utf8('demo/greeting/v1'))); // true
  // README-EXAMPLE-END
  expect(log.mock.calls).toEqual([['hello bob'], [true]]);
});

it('stays identical to the README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const [importLine, ...rest] = block.split('\n');
  expect(importLine).toBe("import { aes256gcm, fromUtf8, hkdf, hybridKem, NodeIdentity, randomBytes, utf8 } from '@yak/crypto';");
  const self = readFileSync(new URL(import.meta.url), 'utf8');
  const start = self.indexOf('// README-EXAMPLE-START\n') + '// README-EXAMPLE-START\n'.length;
  const region = self.slice(start, self.indexOf('  // README-EXAMPLE-END'));
  const dedented = region
    .split('\n')
    .map((l) => l.replace(/^ {2}/, ''))
    .join('\n');
  expect(`\n${dedented}`).toBe(rest.join('\n'));
});
