// The README's opening example, verbatim except that the printed value is asserted.
import { expect, it } from 'vitest';

it('README example runs', async () => {
  const { createServer } = await import('node:http');
  const { NodeIdentity } = await import('@yak/crypto');
  const { createNenClient, createNenServer } = await import('@yak/nen');
  const { toNodeListener } = await import('@yak/nen/node');
  type AddressInfo = import('node:net').AddressInfo;

  // --- README ---
  // Server: a long-term ML-DSA-65 + X-Wing identity signs the published key configuration.
  const identity = NodeIdentity.generate();
  const nen = createNenServer({ identity });
  const app = nen.withNen(async (_req, ctx) => Response.json({ hello: (ctx.json as { name: string }).name }));
  const http = createServer(toNodeListener(app)).listen(0, '127.0.0.1');
  await new Promise((r) => http.once('listening', r));
  const { port } = http.address() as AddressInfo;

  // Client: pins the server's key (here its node id), then fetches as usual.
  const client = createNenClient({ baseUrl: `http://127.0.0.1:${port}`, serverKey: identity.nodeId });
  const res = await client.fetch('/api/greet', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'yak' }),
  });
  const greeting = await res.json(); // { hello: 'yak' }

  await client.terminate();
  http.close();
  await nen.close();
  // --- end ---
  expect(greeting).toEqual({ hello: 'yak' });
});
