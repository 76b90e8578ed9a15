// Key custody: private keys never serialised, inspected or logged; no key bytes in any thrown
// error or log line across a scenario that exercises every failure path.
import { inspect } from 'node:util';
import { x25519 } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { decodeInit, decodeResponse, encodeInit, encodeResponse } from '../src/handshake.js';
import { exportSecrets } from '../src/identity.js';
import {
  createHandshakePipe,
  type EncryptedMessage,
  type IdentityKeypair,
  type Logger,
  MemoryStorageAdapter,
  MeshCrypto,
  sealIdentity,
  unsealIdentity,
} from '../src/index.js';
import { flipB64, handshake, text } from './helpers.js';

/** Every textual form a key might take in a log or error: hex (plain and spaced), base64, base64url, decimals. */
function needles(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  const head = b.subarray(0, 12);
  return [
    b.toString('hex'),
    head.toString('hex'),
    [...head].map((x) => x.toString(16).padStart(2, '0')).join(' '),
    b.toString('base64'),
    head.toString('base64').slice(0, 12),
    b.toString('base64url'),
    head.toString('base64url').slice(0, 12),
    [...head].join(','),
    [...head].join(', '),
  ];
}

function render(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && depth < 5; depth++) {
    const err = cur as Error & { cause?: unknown };
    parts.push(String(err?.message), String(err?.stack), inspect(err, { depth: 10, showHidden: true }));
    try {
      parts.push(JSON.stringify(err, Object.getOwnPropertyNames(err ?? {})));
    } catch {
      // Some values cannot be stringified; the other renderings still count.
    }
    cur = err?.cause;
  }
  return parts.join('\n');
}

describe('identity private keys are non-extractable', () => {
  it('JSON, util.inspect, structuredClone, spread and enumeration show no key bytes', async () => {
    for (const mode of ['classical', 'hybrid'] as const) {
      const id = await new MeshCrypto({ mode }).generateIdentityKeypair();
      const { ed, pqSeed } = exportSecrets(id.privateKey);
      const renderings = [
        JSON.stringify(id),
        JSON.stringify(id.privateKey),
        inspect(id, { depth: 10, showHidden: true, getters: true }),
        inspect(id.privateKey, { depth: 10, showHidden: true, getters: true }),
        inspect(structuredClone(id), { depth: 10, showHidden: true }),
        inspect({ ...id.privateKey }, { depth: 10, showHidden: true }),
        Object.getOwnPropertyNames(id.privateKey).join(','),
        Object.getOwnPropertySymbols(id.privateKey).map(String).join(','),
        String(id.privateKey),
      ].join('\n');
      for (const key of [ed, pqSeed].filter((k): k is Uint8Array => k !== undefined)) {
        for (const n of needles(key)) expect(renderings.includes(n)).toBe(false);
      }
      expect(JSON.parse(JSON.stringify(id)).privateKey).toEqual({
        type: 'private',
        algorithm: id.privateKey.algorithm,
        extractable: false,
        key_id: id.key_id,
      });
      expect(id.privateKey.extractable).toBe(false);
      expect(() => {
        (id.privateKey as unknown as { key_id: string }).key_id = 'x';
      }).toThrow(TypeError);
    }
  });

  it('session handles serialise without keys', async () => {
    const alice = new MeshCrypto();
    const bob = new MeshCrypto();
    await alice.generateIdentityKeypair();
    await bob.generateIdentityKeypair();
    const { aliceSession } = await handshake(alice, bob);
    const shown = [JSON.stringify(aliceSession), inspect(aliceSession, { depth: 10, showHidden: true }), inspect({ s: aliceSession })].join(
      '\n',
    );
    for (const key of [aliceSession.encryptKey, aliceSession.macKey]) for (const n of needles(key)) expect(shown.includes(n)).toBe(false);
    expect(shown).toContain(aliceSession.session_id);
  });
});

describe('no key bytes in errors or logs', () => {
  it('a scenario through every failure path leaks nothing', async () => {
    const lines: string[] = [];
    const capture = (level: string) => (obj: Record<string, unknown>, msg: string) =>
      lines.push(`${level} ${msg} ${JSON.stringify(obj)} ${inspect(obj, { depth: 10 })}`);
    const logger: Logger = { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') };
    const errors: unknown[] = [];
    const keys: Uint8Array[] = [];
    const attempt = async (fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    const ids: IdentityKeypair[] = [];

    for (const mode of ['classical', 'hybrid'] as const) {
      const alice = new MeshCrypto({ mode, logger, rotateEvery: 5 });
      const bob = new MeshCrypto({ mode, logger, rotateEvery: 5 });
      const carol = new MeshCrypto({ mode, logger });
      ids.push(await alice.generateIdentityKeypair(), await bob.generateIdentityKeypair(), await carol.generateIdentityKeypair());
      const { aliceSession, bobSession } = await handshake(alice, bob);
      const grab = () =>
        keys.push(
          Buffer.from(aliceSession.encryptKey),
          Buffer.from(aliceSession.macKey),
          Buffer.from(bobSession.encryptKey),
          Buffer.from(bobSession.macKey),
        );
      grab();
      const sent: EncryptedMessage[] = [];
      for (let i = 0; i < 12; i++) {
        sent.push(alice.encrypt(text(`m${i}`), aliceSession));
        grab();
        bob.decrypt(sent[i] as EncryptedMessage, bobSession);
      }
      const m = sent[11] as EncryptedMessage;
      await attempt(() => bob.decrypt(m, bobSession)); // replay
      await attempt(() => bob.decrypt({ ...m, mac: flipB64(m.mac) }, bobSession));
      await attempt(() => bob.decrypt({ ...m, ciphertext: flipB64(m.ciphertext) }, bobSession));
      await attempt(() => bob.decrypt({ ...m, nonce: flipB64(m.nonce, 3) }, bobSession));
      await attempt(() => bob.decrypt({ ...m, counter: 3 }, bobSession));
      await attempt(() => bob.decrypt({ ...m, session_id: 'x' }, bobSession));
      await attempt(() => bob.decrypt(null as unknown as EncryptedMessage, bobSession));
      await attempt(() => alice.decrypt(m, aliceSession)); // reflection
      await attempt(() => bob.decrypt(m, aliceSession)); // foreign handle
      await attempt(() => alice.encrypt('s' as unknown as Buffer, aliceSession));
      await alice.rotateSessionKey(aliceSession.session_id);
      grab();
      // MITM and wrong identity.
      const [aEnd, mA] = createHandshakePipe();
      const [mB, bEnd] = createHandshakePipe();
      const ac = new AbortController();
      const a = alice.initiateHandshake(ids[ids.length - 2]?.publicKey as string, { transport: aEnd }).catch((e) => e);
      const b = bob
        .completeHandshake(encodeInit({ ...decodeInit(await mA.receive()), ephemeral: x25519.generateKeyPair().publicKey }), {
          transport: bEnd,
          signal: ac.signal,
        })
        .catch((e) => e);
      mA.send(encodeResponse({ ...decodeResponse(await mB.receive(), mode), ephemeral: x25519.generateKeyPair().publicKey }));
      errors.push(await a);
      ac.abort();
      errors.push(await b);
      await attempt(() => handshake(alice, carol, {}).then(() => undefined));
      await attempt(async () => {
        const [t1, t2] = createHandshakePipe();
        const p = carol.initiateHandshake(bob.identity?.publicKey as string, { transport: t1, timeoutMs: 2000 }).catch((e) => e);
        await bob.completeHandshake(await t2.receive(), { transport: t2, expectedPeer: alice.identity?.publicKey as string });
        carol.close();
        await p;
      });
      await attempt(() => bob.completeHandshake('garbage', { transport: createHandshakePipe()[0] }));
      await bob.revokeSessionKey(bobSession.session_id);
      await attempt(() => bob.decrypt(m, bobSession));
      await attempt(() => bobSession.encryptKey);
      alice.close();
      await attempt(() => alice.encrypt(text('closed'), aliceSession));
    }
    // Storage failures.
    const store = new MemoryStorageAdapter({ scryptN: 2 ** 14 });
    const id = ids[0] as IdentityKeypair;
    await store.save(id, { passphrase: 'right' });
    await attempt(() => store.load(id.key_id, { passphrase: 'wrong' }));
    const blob = await sealIdentity(id, 'right', { scryptN: 2 ** 14 });
    blob[blob.length - 60] = (blob[blob.length - 60] as number) ^ 1;
    await attempt(() => unsealIdentity(blob, 'right'));

    for (const k of ids) {
      const s = exportSecrets(k.privateKey);
      keys.push(s.ed);
      if (s.pqSeed) keys.push(s.pqSeed);
    }
    expect(errors.length).toBeGreaterThan(30);
    expect(lines.length).toBeGreaterThan(20);
    const haystack = [...lines, ...errors.map(render)].join('\n');
    expect(haystack).toContain('YAK_E2EE_REPLAY');
    let checked = 0;
    for (const key of keys) {
      for (const n of needles(key)) {
        checked++;
        if (haystack.includes(n)) throw new Error(`key material found in errors/logs (needle length ${n.length})`);
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('a throwing logger does not break the protocol', async () => {
    const logger: Logger = {
      info() {
        throw new Error('log sink down');
      },
      warn() {
        throw new Error('log sink down');
      },
    };
    const alice = new MeshCrypto({ logger });
    const bob = new MeshCrypto({ logger });
    await alice.generateIdentityKeypair();
    await bob.generateIdentityKeypair();
    const { aliceSession, bobSession } = await handshake(alice, bob);
    expect(bob.decrypt(alice.encrypt(text('ok'), aliceSession), bobSession).toString()).toBe('ok');
  });
});
