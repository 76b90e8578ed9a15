// The README example, verbatim apart from assertions (house rule 9).
import { NodeIdentity } from '@yak/crypto';
import { expect, it } from 'vitest';
import { MeshNetwork } from '../src/index.js';

it('README: two nodes on loopback exchange a message', async () => {
  // Two nodes on loopback; port 0 picks a free port (the default is 9001 with fallback).
  const alice = new MeshNetwork(NodeIdentity.generate(), { wsPort: 0, host: '127.0.0.1' });
  const bob = new MeshNetwork(NodeIdentity.generate(), { wsPort: 0, host: '127.0.0.1' });
  await alice.start();
  await bob.start();

  const received = new Promise((resolve) => bob.on('message', (msg) => resolve(msg.payload)));

  // connect() resolves once both identities are proven; it returns Bob's verified record.
  const peer = await alice.connect(bob.getPublicEndpoint()!);
  console.log('alice is linked to', peer.nodeId);
  expect(peer.nodeId).toBe(bob.localId);

  alice.sendTo(bob.localId, { hello: 'bob' });
  const got = await received;
  console.log('bob got', got);
  expect(got).toEqual({ hello: 'bob' });

  await alice.stop();
  await bob.stop();
});
