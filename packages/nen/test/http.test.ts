// End to end over real HTTP on loopback for every adapter: Node http, Express, Hono.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NenHonoEnv, nenHono } from '../src/hono.js';
import { createNenClient, createNenServer, NenError, type NenServer } from '../src/index.js';
import { type NenExpressRequest, nenExpress, toNodeListener } from '../src/node.js';
import { codeOf, echo, expectCode, serverIdentity } from './helpers.js';

const enc = new TextEncoder();

/** An SSE stream that yields `n` events across event-loop turns (several TCP writes). */
function sse(n: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(c) {
      await new Promise((r) => setTimeout(r, 2));
      if (i < n) c.enqueue(enc.encode(`data: ${i++}\n\n`));
      else c.close();
    },
  });
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function close(server: { close(cb: () => void): unknown; closeAllConnections?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** Capture what the client sends so a test can replay it. */
function recordingFetch(log: Array<{ url: string; init: RequestInit; responseHeaders?: Headers }>): typeof fetch {
  return (async (url: string | URL, init: RequestInit = {}) => {
    const entry: { url: string; init: RequestInit; responseHeaders?: Headers } = { url: url.toString(), init };
    log.push(entry);
    const res = await fetch(url, init);
    entry.responseHeaders = res.headers;
    return res;
  }) as typeof fetch;
}

interface Target {
  name: string;
  start(nen: NenServer): Promise<{ url: string; stop: () => Promise<void> }>;
}

/** Well-formed Nen headers with a made-up session: enough to reach the body-size check. */
const FORGED_NEN_HEADERS = {
  'x-nen-signature': 'AAAA',
  'x-nen-session': 'AAAAAAAAAAAAAAAAAAAAAA',
  'x-nen-timestamp': '1',
  'x-nen-nonce': 'AAAAAAAAAAAAAAAAAAAAAA',
};

const targets: Target[] = [
  {
    name: 'node http',
    async start(nen) {
      const app = async (req: Request, ctx: Parameters<typeof echo>[1]) => {
        const path = new URL(req.url).pathname;
        if (path === '/api/events') return new Response(sse(5), { headers: { 'content-type': 'text/event-stream' } });
        if (path === '/api/missing') return Response.json({ error: 'nope' }, { status: 404 });
        if (path === '/api/hdr') return Response.json({ ok: true }, { headers: { 'x-app-secret': 's3cret' } });
        return echo(req, ctx);
      };
      const s = createServer(toNodeListener(nen.withNen(app)));
      return { url: await listen(s), stop: () => close(s) };
    },
  },
  {
    name: 'express',
    async start(nen) {
      const app = express();
      app.use(nenExpress(nen));
      app.get('/api/events', (_req, res) => {
        res.setHeader('content-type', 'text/event-stream');
        res.flushHeaders();
        let i = 0;
        const t = setInterval(() => {
          if (i < 5) res.write(`data: ${i++}\n\n`);
          else {
            clearInterval(t);
            res.end();
          }
        }, 2);
      });
      app.get('/api/missing', (_req, res) => {
        res.status(404).json({ error: 'nope' });
      });
      app.get('/api/hdr', (_req, res) => {
        res.setHeader('x-app-secret', 's3cret');
        res.json({ ok: true });
      });
      app.all('/api/{*rest}', (req, res) => {
        const r = req as NenExpressRequest;
        const u = new URL(req.originalUrl, 'http://x');
        res.json({
          method: req.method,
          path: u.pathname,
          query: u.search,
          json: typeof r.body === 'object' && !(r.body instanceof Buffer) ? r.body : null,
          body: r.body instanceof Buffer ? r.body.toString() : JSON.stringify(r.body),
          clientId: r.nen?.clientId ?? null,
          auth: req.headers.authorization ?? null,
        });
      });
      const s = createServer(app);
      return { url: await listen(s), stop: () => close(s) };
    },
  },
  {
    name: 'hono',
    async start(nen) {
      const app = new Hono<NenHonoEnv>();
      // Hono's default error handler prints the error; the middleware answers from c.error anyway.
      app.onError((_err, c) => c.text('internal error', 500));
      app.use('*', nenHono(nen));
      app.get('/api/events', () => new Response(sse(5), { headers: { 'content-type': 'text/event-stream' } }));
      app.get('/api/missing', (c) => c.json({ error: 'nope' }, 404));
      app.get('/api/hdr', (c) => {
        c.header('x-app-secret', 's3cret');
        return c.json({ ok: true });
      });
      app.all('/api/*', async (c) => {
        const nenCtx = c.get('nen');
        return echo(c.req.raw, nenCtx);
      });
      let s: Server | undefined;
      const url = await new Promise<string>((resolve) => {
        s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
          resolve(`http://127.0.0.1:${info.port}`),
        ) as unknown as Server;
      });
      return { url, stop: () => close(s as Server) };
    },
  },
];

for (const target of targets) {
  describe(`over real HTTP: ${target.name}`, () => {
    let nen: NenServer;
    let url: string;
    let stop: () => Promise<void>;
    const sent: Array<{ url: string; init: RequestInit; responseHeaders?: Headers }> = [];
    let client: ReturnType<typeof createNenClient>;

    beforeAll(async () => {
      nen = createNenServer({ identity: serverIdentity() });
      ({ url, stop } = await target.start(nen));
      client = createNenClient({ baseUrl: url, serverKey: serverIdentity().nodeId, fetch: recordingFetch(sent) });
    });
    afterAll(async () => {
      await stop();
      await nen.close();
    });

    it('serves the key configuration and completes a handshake', async () => {
      const info = await client.handshake();
      expect(info.sessionId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    });

    it('round-trips JSON POST, GET with query, app statuses and inner headers', async () => {
      const res = await client.fetch('/api/items?page=2', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer secret' },
        body: JSON.stringify({ name: 'yak' }),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        method: 'POST',
        path: '/api/items',
        query: '?page=2',
        json: { name: 'yak' },
        auth: 'Bearer secret',
      });
      const g = await client.fetch('/api/items?q=a%20b');
      expect(await g.json()).toMatchObject({ method: 'GET', query: '?q=a%20b' });
      const m = await client.fetch('/api/missing');
      expect(m.status).toBe(404);
      expect(await m.json()).toEqual({ error: 'nope' });
      // On the wire: no plaintext, no application headers.
      const last = sent.at(-3)!;
      const wireHeaders = new Headers(last.init.headers);
      expect(wireHeaders.get('authorization')).toBeNull();
      const wireBody = last.init.body;
      expect(typeof wireBody === 'string' ? wireBody : new TextDecoder().decode(wireBody as Uint8Array)).not.toContain('yak');
    });

    it('a JSON content type with a body that is not JSON -> authenticated ISO-4004', async () => {
      const e = await client
        .fetch('/api/x', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' })
        .catch((x: unknown) => x as NenError);
      expect(e).toBeInstanceOf(NenError);
      expect((e as NenError).code).toBe('ISO-4004');
      expect((e as NenError).authenticated).toBe(true);
    });

    it('application response headers travel only inside the envelope', async () => {
      const res = await client.fetch('/api/hdr');
      expect(res.headers.get('x-app-secret')).toBe('s3cret');
      expect(await res.json()).toEqual({ ok: true });
      expect(sent.at(-1)!.responseHeaders!.get('x-app-secret')).toBeNull();
    });

    it('streams server-sent events in authenticated frames', async () => {
      const res = await client.stream('/api/events');
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const reader = res.body!.getReader();
      let text = '';
      let chunks = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks++;
        text += new TextDecoder().decode(value);
      }
      expect(text).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n');
      expect(chunks).toBeGreaterThan(1);
    });

    it('a replayed request is refused with ISO-5001; a tampered one with ISO-3002', async () => {
      await client.fetch('/api/pay', { method: 'POST', body: 'amount=5' });
      const captured = sent.at(-1)!;
      const replay = await fetch(captured.url, captured.init);
      expect(replay.status).toBe(409);
      expect(await codeOf(replay)).toBe('ISO-5001');
      const tampered = await fetch(captured.url.replace('/api/pay', '/api/pay?to=mallory'), captured.init);
      expect(await codeOf(tampered)).toBe('ISO-3002');
    });

    it('rekey, rotate, status and terminate work over HTTP', async () => {
      const before = client.session!;
      await client.rekey();
      expect(client.session!.generation).toBe(before.generation + 1);
      await client.rotate();
      expect(client.session!.sessionId).not.toBe(before.sessionId);
      const st = await client.status();
      expect(st.gen).toBe(before.generation + 2);
      expect(st.expiresAt).toBe(before.expiresAt);
      await client.terminate();
      expect(client.session).toBeUndefined();
      // The next call opens a fresh session by itself.
      expect((await client.fetch('/api/x')).status).toBe(200);
    });

    it('an oversized body is refused before decryption with ISO-4003', async () => {
      const big = await fetch(`${url}/api/x`, {
        method: 'POST',
        headers: FORGED_NEN_HEADERS,
        body: new Uint8Array(2 * 1024 * 1024),
      });
      expect(big.status).toBe(413);
      expect(await codeOf(big)).toBe('ISO-4003');
    });

    it('an oversized body without a declared length (chunked) is refused with ISO-4003', async () => {
      const chunk = new Uint8Array(256 * 1024);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          // 2 MiB in all, over the 1 MiB default limit; the server stops reading early.
          if (sent >= 8) return c.close();
          sent++;
          c.enqueue(chunk);
        },
      });
      const res = await fetch(`${url}/api/x`, {
        method: 'POST',
        headers: FORGED_NEN_HEADERS,
        body,
        duplex: 'half',
      } as RequestInit & { duplex: 'half' }).catch((e: unknown) => e);
      // The server answers 413 before the upload ends; a client may see that answer or a reset.
      // (Duck-typed: @hono/node-server installs its own global Response class.)
      if (res && typeof (res as Response).status === 'number') {
        expect((res as Response).status).toBe(413);
        expect(await codeOf(res as Response)).toBe('ISO-4003');
      } else expect(res).toBeInstanceOf(Error);
      // Either way the server is fine and the session still works (on a new connection: the
      // server closed the one it refused the upload on, and a pooled socket may see the reset).
      const again = await client.fetch('/api/x').catch(() => client.fetch('/api/x'));
      expect(again.status).toBe(200);
    });
  });
}

describe('stream truncation over a real connection', () => {
  let s: Server;
  let url: string;
  const nen = createNenServer({ identity: serverIdentity() });
  beforeAll(async () => {
    const handler = nen.withNen(async () => new Response(sse(4), { headers: { 'content-type': 'text/event-stream' } }));
    // A hostile relay: forwards the encrypted stream but cuts the connection before the end.
    s = createServer((req, res) => {
      toNodeListener(async (r) => {
        const out = await handler(r);
        if (!out.headers.get('content-type')?.includes('nen-stream')) return out;
        const reader = out.body!.getReader();
        let frames = 0;
        const cut = new ReadableStream<Uint8Array>({
          async pull(c) {
            const { done, value } = await reader.read();
            if (done || ++frames > 3) {
              res.destroy();
              return;
            }
            c.enqueue(value);
          },
        });
        return new Response(cut, { status: out.status, headers: out.headers });
      })(req, res);
    });
    url = await listen(s);
  });
  afterAll(async () => {
    await close(s);
    await nen.close();
  });

  it('a cut connection mid-stream -> ISO-6002', async () => {
    const client = createNenClient({ baseUrl: url, serverKey: serverIdentity().signPublicKey });
    const res = await client.stream('/api/events');
    await expectCode(res.text(), 'ISO-6002');
  });
});
