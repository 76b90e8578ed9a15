// Demo section: @yak/nen, the encrypted HTTP API protocol of seed 004 (corrected). A real HTTP
// server on loopback, a pinned client, a hybrid PQ handshake, an encrypted API call, and tampered
// and replayed requests rejected with their ISO codes.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeIdentity } from '@yak/crypto';
import { createNenClient, createNenServer } from '@yak/nen';
import { toNodeListener } from '@yak/nen/node';
import type { DemoUI } from './ui.js';

async function codeOf(res: Response): Promise<string> {
  try {
    return ((await res.json()) as { error?: { code?: string } }).error?.code ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

export async function nenDemo(ui: DemoUI): Promise<void> {
  ui.section('Nen: post-quantum encrypted HTTP API (signed key config, X-Wing handshake, bound responses)');
  const identity = await ui.step('server identity (ML-DSA-65 + X-Wing)', () => NodeIdentity.generate());
  const nen = createNenServer({ identity });
  const app = nen.withNen(async (req, ctx) => {
    const body = ctx.json as { amount?: number } | undefined;
    return Response.json({ ok: true, path: new URL(req.url).pathname, amount: body?.amount ?? null });
  });
  const http = createServer(toNodeListener(app));
  try {
    const base = await ui.step('start HTTP server on 127.0.0.1:0', async () => {
      await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
      return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    });
    ui.info(`${base}  (key configuration at /.well-known/nen/key-config, protocol under /api/nen/)`);

    const sent: Array<{ url: string; init: RequestInit }> = [];
    const client = createNenClient({
      baseUrl: base,
      serverKey: identity.nodeId,
      fetch: ((url: string | URL, init: RequestInit = {}) => {
        sent.push({ url: url.toString(), init });
        return fetch(url, init);
      }) as typeof fetch,
    });

    const session = await ui.step('handshake (client pins the server node id)', () => client.handshake());
    ui.info(`session ${session.sessionId}, expires ${new Date(session.expiresAt).toISOString()}`);

    const reply = await ui.step('encrypted POST /api/transfer', async () => {
      const res = await client.fetch('/api/transfer?to=alice', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer demo-token' },
        body: JSON.stringify({ amount: 42 }),
      });
      return (await res.json()) as { amount: number };
    });
    const wire = sent.at(-1) as { url: string; init: RequestInit };
    const sentBody = wire.init.body;
    const wireBody = typeof sentBody === 'string' ? sentBody : new TextDecoder().decode(sentBody as Uint8Array);
    ui.info(
      `server saw amount=${reply.amount}; on the wire: ${wireBody.slice(0, 48)}... (payload and Authorization header are inside the ciphertext)`,
    );

    // Attacks, sent by hand with the captured request.
    const replay = await fetch(wire.url, wire.init);
    ui.blocked('replayed request', await codeOf(replay));
    const tamperedQuery = await fetch(wire.url.replace('to=alice', 'to=mallory'), wire.init);
    ui.blocked('request with the query changed', await codeOf(tamperedQuery));
    const swapped = JSON.parse(wireBody) as { ct: string; n: string };
    const flipped = { ...swapped, ct: (swapped.ct.startsWith('A') ? 'B' : 'A') + swapped.ct.slice(1) };
    const tamperedBody = await fetch(wire.url, { ...wire.init, body: JSON.stringify(flipped) });
    ui.blocked('request with a flipped ciphertext byte', await codeOf(tamperedBody));
    const forged = await fetch(`${base}/api/nen/terminate`, { method: 'POST', headers: { 'x-nen-session': session.sessionId } });
    ui.blocked('forged terminate without a MAC', await codeOf(forged));

    await ui.step('rekey (fresh X-Wing exchange, same absolute expiry)', () => client.rekey());
    await ui.step('terminate', () => client.terminate());
    ui.blocked('captured request replayed on the terminated session', await codeOf(await fetch(wire.url, wire.init)));
    const stats = nen.getStats();
    ui.table([
      ['handshakes', 'requests', 'rekeys', 'rejected'],
      [
        stats.handshakes,
        stats.requests,
        stats.rekeys,
        Object.entries(stats.rejected)
          .map(([k, v]) => `${k}x${v}`)
          .join(' '),
      ],
    ]);
    ui.summary(
      'nen requests rejected',
      Object.values(stats.rejected).reduce((a, b) => a + b, 0),
    );
  } finally {
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
    await nen.close();
  }
}
