// The README's opening example, verbatim apart from console.log becoming assertions.
import { expect, it } from 'vitest';
import { createHandshakePipe, MeshCrypto } from '../src/index.js';

it('README example runs', async () => {
  const log: string[] = [];
  const console = { log: (s: string) => log.push(s) };

  const alice = new MeshCrypto();
  const bob = new MeshCrypto();

  const aliceIdentity = await alice.generateIdentityKeypair();
  const bobIdentity = await bob.generateIdentityKeypair();

  // The handshake is three messages. Here they travel over an in-memory pipe; between two
  // machines, pass any { send, receive } transport (a mesh link, a WebSocket).
  const [aliceEnd, bobEnd] = createHandshakePipe();
  const aliceHandshake = alice.initiateHandshake(bobIdentity.publicKey, { transport: aliceEnd }); // sends message 1
  const initiatorEphemeral = await bobEnd.receive(); // message 1: Alice's ephemeral and identity keys
  const bobSession = await bob.completeHandshake(initiatorEphemeral, {
    transport: bobEnd, // sends message 2, waits for message 3
    expectedPeer: aliceIdentity.publicKey, // optional: only Alice may connect
  });
  const aliceSession = await aliceHandshake;

  const encrypted = alice.encrypt(Buffer.from('Hello, Bob!'), aliceSession);
  const decrypted = bob.decrypt(encrypted, bobSession);
  console.log(decrypted.toString()); // 'Hello, Bob!'

  try {
    bob.decrypt(encrypted, bobSession); // the same message again
  } catch (e) {
    console.log((e as { code: string }).code); // 'YAK_E2EE_REPLAY'
  }

  await alice.rotateSessionKey(aliceSession.session_id); // Bob follows on the next message
  console.log(bob.decrypt(alice.encrypt(Buffer.from('rotated'), aliceSession), bobSession).toString()); // 'rotated'

  await bob.revokeSessionKey(bobSession.session_id); // keys zeroed; further use throws YAK_E2EE_SESSION_REVOKED
  alice.close();
  bob.close();

  expect(log).toEqual(['Hello, Bob!', 'YAK_E2EE_REPLAY', 'rotated']);
  expect(() => bob.decrypt(encrypted, bobSession)).toThrow(expect.objectContaining({ code: 'YAK_E2EE_SESSION_REVOKED' }));
});
