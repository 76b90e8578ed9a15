// Demo section: @yak/e2ee-mathison, the MeshCrypto E2EE layer of seed 003. Two peers run the
// three-message handshake, talk both ways, rotate keys, and attacks are rejected.
import {
  createHandshakePipe,
  type EncryptedMessage,
  type HandshakeTransport,
  MeshCrypto,
  MeshCryptoError,
  type Session,
} from '@yak/e2ee-mathison';
import type { DemoUI } from './ui.js';

/** Wrap a transport to report the size of each handshake message. */
function counted(t: HandshakeTransport, sizes: number[]): HandshakeTransport {
  return {
    send: (m, o) => {
      sizes.push(m.length);
      return t.send(m, o);
    },
    receive: (o) => t.receive(o),
  };
}

async function connect(alice: MeshCrypto, bob: MeshCrypto, sizes: number[]): Promise<{ a: Session; b: Session }> {
  const [aliceEnd, bobEnd] = createHandshakePipe();
  const pending = alice.initiateHandshake(bob.identity?.publicKey as string, { transport: counted(aliceEnd, sizes) });
  const hello = await bobEnd.receive();
  const b = await bob.completeHandshake(hello, { transport: counted(bobEnd, sizes), expectedPeer: alice.identity?.publicKey as string });
  return { a: await pending, b };
}

/** Expect `fn` to throw a MeshCryptoError and report it as a blocked attack. */
function expectBlocked(ui: DemoUI, what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof MeshCryptoError)) throw e;
    ui.blocked(what, e.code);
    return;
  }
  throw new Error(`${what} was accepted`);
}

async function expectBlockedAsync(ui: DemoUI, what: string, p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof MeshCryptoError)) throw e;
    ui.blocked(what, e.code);
    return;
  }
  throw new Error(`${what} was accepted`);
}

export async function e2eeDemo(ui: DemoUI): Promise<void> {
  ui.section('E2EE sessions: MeshCrypto (X25519 + Ed25519 handshake, AEAD, replay window, rotation)');
  const alice = new MeshCrypto();
  const bob = new MeshCrypto();
  const carol = new MeshCrypto();
  try {
    const aliceId = await ui.step('alice and bob generate Ed25519 identity keys', async () => {
      const id = await alice.generateIdentityKeypair();
      await bob.generateIdentityKeypair();
      await carol.generateIdentityKeypair();
      return id;
    });
    ui.info(`alice = ${aliceId.key_id}, bob = ${bob.identity?.key_id}`);
    ui.info(`JSON of alice's identity shows no private key: ${JSON.stringify(aliceId.privateKey)}`);

    const sizes: number[] = [];
    const t0 = performance.now();
    const { a, b } = await ui.step('handshake: init -> response (signed) -> finish (signed)', () => connect(alice, bob, sizes));
    const classicalMs = performance.now() - t0;
    ui.info(`messages of ${sizes.join(', ')} characters; session ${a.session_id} (${a.aead}); bob sees alice as ${b.peer_key_id}`);

    const m1 = alice.encrypt(Buffer.from('hello bob, this is alice'), a);
    const read = await ui.step('alice -> bob', () => bob.decrypt(m1, b).toString());
    ui.info(`bob read: "${read}" (counter ${m1.counter}, nonce ${m1.nonce})`);
    const reply = await ui.step('bob -> alice', () => alice.decrypt(bob.encrypt(Buffer.from('hi alice'), b), a).toString());
    ui.info(`alice read: "${reply}"`);

    const m2 = alice.encrypt(Buffer.from('pay 10 yak'), a);
    const flipped = Buffer.from(m2.ciphertext, 'base64url');
    flipped[0] = (flipped[0] as number) ^ 0x01;
    const tampered: EncryptedMessage = { ...m2, ciphertext: flipped.toString('base64url') };
    expectBlocked(ui, 'message with one flipped ciphertext bit', () => bob.decrypt(tampered, b));
    expectBlocked(ui, 'counter rewritten to another value', () => bob.decrypt({ ...m2, counter: m2.counter + 5 }, b));
    ui.info(`the untouched message still arrives: "${bob.decrypt(m2, b).toString()}"`);
    expectBlocked(ui, 'replay of the first message', () => bob.decrypt(m1, b));
    expectBlocked(ui, "alice's message reflected back to her", () => alice.decrypt(m2, a));

    await expectBlockedAsync(
      ui,
      'carol answering a handshake meant for bob',
      (async () => {
        const [aliceEnd, carolEnd] = createHandshakePipe();
        const pending = alice.initiateHandshake(bob.identity?.publicKey as string, { transport: aliceEnd });
        const answered = carol.completeHandshake(await carolEnd.receive(), { transport: carolEnd, timeoutMs: 2000 });
        answered.catch(() => {});
        try {
          await pending;
        } finally {
          carolEnd.close();
        }
      })(),
    );

    const epoch0Key = a.encryptKey;
    await ui.step('alice sends 999 more messages: her key rotates after the 1000th, bob follows', () => {
      for (let i = 0; i < 999; i++) bob.decrypt(alice.encrypt(Buffer.from(`message ${i}`), a), b);
    });
    await ui.step('bob rotates his sending key on demand', async () => {
      await bob.rotateSessionKey(b.session_id);
      alice.decrypt(bob.encrypt(Buffer.from('new key'), b), a);
    });
    const sa = alice.describeSession(a.session_id);
    const sb = bob.describeSession(b.session_id);
    ui.table([
      ['side', 'sent', 'send epoch', 'receive epoch'],
      ['alice', sa.sendCounter, sa.sendEpoch, sa.receiveEpoch],
      ['bob', sb.sendCounter, sb.sendEpoch, sb.receiveEpoch],
    ]);
    ui.info(`alice's epoch-0 key buffer after rotation is all zeros: ${epoch0Key.every((x) => x === 0)}`);

    await ui.step('bob revokes the session (keys zeroed)', () => bob.revokeSessionKey(b.session_id));
    expectBlocked(ui, 'using the revoked session', () => bob.decrypt(alice.encrypt(Buffer.from('late'), a), b));

    const hyA = new MeshCrypto({ mode: 'hybrid' });
    const hyB = new MeshCrypto({ mode: 'hybrid' });
    try {
      await hyA.generateIdentityKeypair();
      await hyB.generateIdentityKeypair();
      const hsizes: number[] = [];
      const t1 = performance.now();
      const h = await ui.step('hybrid handshake (+ ML-KEM-768 and ML-DSA-65)', () => connect(hyA, hyB, hsizes));
      const hybridMs = performance.now() - t1;
      ui.info(
        `messages of ${hsizes.join(', ')} characters; "${hyB.decrypt(hyA.encrypt(Buffer.from('post-quantum hello'), h.a), h.b).toString()}"`,
      );
      ui.summary('e2ee handshake, classical', `${classicalMs.toFixed(1)} ms`);
      ui.summary('e2ee handshake, hybrid', `${hybridMs.toFixed(1)} ms`);
    } finally {
      hyA.close();
      hyB.close();
    }
    const rejected = Object.values(bob.getStats().rejected).reduce((x, y) => x + y, 0);
    ui.summary('e2ee messages rejected', rejected + (alice.getStats().rejected.YAK_E2EE_AUTH ?? 0));
  } finally {
    alice.close();
    bob.close();
    carol.close();
  }
}
