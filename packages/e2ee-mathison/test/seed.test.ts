// Seed 003's own "Testing" block, as written, with the handshake plumbing it leaves implicit made
// explicit: the three handshake messages travel over an in-memory pipe.
import assert from 'node:assert/strict';
import { describe, expect, it } from 'vitest';
import { createHandshakePipe, MeshCrypto } from '../src/index.js';

describe('seed 003 round trip', () => {
  it('Alice and Bob run both phases and exchange a message', async () => {
    // Test roundtrip
    const alice = new MeshCrypto();
    const bob = new MeshCrypto();

    const aliceIdentity = await alice.generateIdentityKeypair();
    const bobIdentity = await bob.generateIdentityKeypair();

    // Plumbing: Alice's end and Bob's end of the handshake channel.
    const [toBob, toAlice] = createHandshakePipe();
    const aliceHandshake = alice.initiateHandshake(bobIdentity.publicKey, { transport: toBob });
    const initiatorEphemeral = await toAlice.receive(); // message 1: Alice's ephemeral + identity keys

    const bobSession = await bob.completeHandshake(initiatorEphemeral, { transport: toAlice, expectedPeer: aliceIdentity.publicKey });
    const aliceSession = await aliceHandshake;

    const plaintext = Buffer.from('Hello, Bob!');
    const encrypted = alice.encrypt(plaintext, aliceSession);
    const decrypted = bob.decrypt(encrypted, bobSession);

    assert.equal(decrypted.toString(), 'Hello, Bob!');
    expect(aliceSession.session_id).toBe(bobSession.session_id);
    expect(bobSession.peerPublicKey).toBe(aliceIdentity.publicKey);
    expect(aliceSession.peer_key_id).toBe(bobIdentity.key_id);
  });
});
