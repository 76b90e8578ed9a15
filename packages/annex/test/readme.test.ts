// The README's Quick Start, verbatim apart from console.log captured into `out` and a wait for
// the peer's handler, which runs asynchronously (house rule 9).
import { readFileSync } from 'node:fs';
import { NodeIdentity } from '@yak/crypto';
import { MeshNetwork } from '@yak/mesh-core';
import { expect, it } from 'vitest';
import { Annex } from '../src/index.js';
import { until } from './helpers.js';

it('README Quick Start runs and prints what it says', async () => {
  const out: unknown[][] = [];
  const console = { log: (...a: unknown[]) => out.push(a) };

  // Two nodes and a link between them.
  const identity = NodeIdentity.generate();
  const peerIdentity = NodeIdentity.generate();
  const mesh = new MeshNetwork(identity, { wsPort: 0, host: '127.0.0.1' });
  const peerMesh = new MeshNetwork(peerIdentity, { wsPort: 0, host: '127.0.0.1' });
  await mesh.start();
  await peerMesh.start();
  await mesh.connect(peerMesh.getPublicEndpoint() as string);
  const peerNodeId = peerIdentity.nodeId;
  const peer = new Annex({ identity: peerIdentity, mesh: peerMesh });
  peer.onMessage(({ from, payload }) => console.log(`Decrypted from ${from}:`, payload));

  // Initialize with node identity and mesh connection
  const annex = new Annex({ identity, mesh });

  // Open encrypted channel to a peer
  await annex.openChannel(peerNodeId);

  // Send encrypted message
  await annex.send(peerNodeId, {
    type: 'private_message',
    content: 'Hello from the annexed territory!',
  });

  // Handle incoming messages
  annex.onMessage(({ from, payload, sessionId }) => {
    console.log(`Decrypted from ${from}:`, payload, sessionId);
  });

  // Close channel when done
  await annex.closeChannel(peerNodeId);

  console.log(annex.getStats().messagesEncrypted); // 1
  await until(() => out.length === 2);
  await annex.stop();
  await peer.stop();
  await mesh.stop();
  await peerMesh.stop();

  expect(out).toContainEqual([
    `Decrypted from ${identity.nodeId}:`,
    { type: 'private_message', content: 'Hello from the annexed territory!' },
  ]);
  expect(out).toContainEqual([1]);
  // The README shows the same code.
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  expect(readme).toContain('await annex.openChannel(peerNodeId);');
  expect(readme).toContain('const peer = new Annex({ identity: peerIdentity, mesh: peerMesh });');
});
