// Benchmarks of @yak/e2ee-mathison (issue "Tests and docs"):
//  - encrypt + decrypt of 1 KiB messages through MeshCrypto vs raw node:crypto AES-256-GCM
//    (goal ratio >= 0.7);
//  - handshakes per second, classical vs the raw primitive work a handshake needs, and hybrid vs
//    classical.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ed25519, x25519 } from '@yak/crypto';
import { createHandshakePipe, MeshCrypto, type Mode } from '@yak/e2ee-mathison';
import { compareOps, opsPerSecAsync, record } from '../../../tools/bench/harness.js';

const PKG = '@yak/e2ee-mathison';

async function connectedPair(mode: Mode) {
  const alice = new MeshCrypto({ mode });
  const bob = new MeshCrypto({ mode });
  await alice.generateIdentityKeypair();
  const bobId = await bob.generateIdentityKeypair();
  const run = async () => {
    const [a, b] = createHandshakePipe();
    const pa = alice.initiateHandshake(bobId.publicKey, { transport: a });
    const sb = await bob.completeHandshake(await b.receive(), { transport: b });
    const sa = await pa;
    return { sa, sb };
  };
  return { alice, bob, run };
}

// --- messages -------------------------------------------------------------------------------
{
  const { alice, bob, run } = await connectedPair('classical');
  const { sa, sb } = await run();
  const payload = randomBytes(1024);
  const candidate = () => {
    const m = alice.encrypt(payload, sa);
    bob.decrypt(m, sb);
  };

  const key = randomBytes(32);
  const aad = randomBytes(48); // about the size of our AAD
  const baseline = () => {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(aad);
    const ct = Buffer.concat([c.update(payload), c.final()]);
    const tag = c.getAuthTag();
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAuthTag(tag);
    d.setAAD(aad);
    Buffer.concat([d.update(ct), d.final()]);
  };
  const r = compareOps(candidate, baseline, { timeMs: 400, samples: 7, warmupMs: 200 });
  record({
    package: PKG,
    name: 'encrypt+decrypt 1 KiB (AES-256-GCM)',
    unit: 'msg/s',
    value: r.candidate,
    baseline: 'raw node:crypto AES-256-GCM encrypt+decrypt',
    baselineValue: r.baseline,
    goal: '>= 0.7',
    notes: 'includes base64url fields, AAD, replay window and rotation every 1000 messages',
  });
  alice.close();
  bob.close();
}

// --- handshakes -----------------------------------------------------------------------------
{
  const classical = await connectedPair('classical');
  const classicalRate = await opsPerSecAsync(
    async () => {
      const { sa } = await classical.run();
      await classical.alice.revokeSessionKey(sa.session_id);
      await classical.bob.revokeSessionKey(sa.session_id);
    },
    { timeMs: 500, samples: 5, warmupMs: 200 },
  );
  // The primitive work of one handshake, both sides: 2 X25519 key pairs, 2 DH, 2 signatures, 2 verifications.
  const id = ed25519.generateKeyPair();
  const msg = randomBytes(64);
  const primitiveRate = await opsPerSecAsync(
    async () => {
      const a = x25519.generateKeyPair();
      const b = x25519.generateKeyPair();
      x25519.sharedSecret(a.secretKey, b.publicKey);
      x25519.sharedSecret(b.secretKey, a.publicKey);
      const s1 = ed25519.sign(id.secretKey, msg);
      const s2 = ed25519.sign(id.secretKey, msg);
      ed25519.verify(id.publicKey, msg, s1);
      ed25519.verify(id.publicKey, msg, s2);
    },
    { timeMs: 500, samples: 5, warmupMs: 200 },
  );
  record({
    package: PKG,
    name: 'handshake, classical (X25519 + Ed25519)',
    unit: 'handshakes/s',
    value: classicalRate,
    baseline: 'the raw X25519/Ed25519 operations of one handshake',
    baselineValue: primitiveRate,
  });

  const hybrid = await connectedPair('hybrid');
  const hybridRate = await opsPerSecAsync(
    async () => {
      const { sa } = await hybrid.run();
      await hybrid.alice.revokeSessionKey(sa.session_id);
      await hybrid.bob.revokeSessionKey(sa.session_id);
    },
    { timeMs: 1000, samples: 3, warmupMs: 300 },
  );
  record({
    package: PKG,
    name: 'handshake, hybrid (+ ML-KEM-768, ML-DSA-65)',
    unit: 'handshakes/s',
    value: hybridRate,
    baseline: 'classical handshake',
    baselineValue: classicalRate,
  });
  for (const p of [classical, hybrid]) {
    p.alice.close();
    p.bob.close();
  }
}
