// Attacks on the protocol (SPEC @yak/nen, section 4 "Security tests"): each must fail with its
// catalogue code. The fixture's fetch lets the test act as a man in the middle.
import { NodeIdentity, toBase64url, utf8 } from '@yak/crypto';
import { describe, expect, it } from 'vitest';
import { createNenServer, encodeKeyConfig, keyConfigId, NenError } from '../src/index.js';
import { HEADER } from '../src/wire.js';
import { BASE, codeOf, echo, expectCode, fixture, rawSession } from './helpers.js';

async function withBody(r: Request, body: string | null): Promise<Request> {
  const headers = new Headers(r.headers);
  headers.delete('content-length');
  return new Request(r.url, { method: r.method, headers, ...(body !== null ? { body } : {}) });
}

function withUrl(r: Request, url: string): Request {
  return new Request(url, r);
}

const post = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('request tampering', () => {
  it('body stripped -> ISO-3002 (the MAC covers a hash of the body)', async () => {
    const f = fixture();
    await f.client.handshake();
    f.tamper = (r) => withBody(r, null);
    await expectCode(f.client.fetch('/api/x', post({ a: 1 })), 'ISO-3002');
  });

  it('body swapped with another request of the same session -> ISO-3002', async () => {
    const f = fixture();
    await f.client.handshake();
    await f.client.fetch('/api/x', post({ amount: 1 }));
    const other = await f.sent.at(-1)!.clone().text();
    f.tamper = (r) => withBody(r, other);
    await expectCode(f.client.fetch('/api/x', post({ amount: 1000 })), 'ISO-3002');
  });

  it('query changed -> ISO-3002', async () => {
    const f = fixture();
    await f.client.handshake();
    f.tamper = (r) => withUrl(r, r.url.replace('to=alice', 'to=mallory'));
    await expectCode(f.client.fetch('/api/pay?to=alice', post({ a: 1 })), 'ISO-3002');
    await expectCode(f.client.fetch('/api/pay?to=alice'), 'ISO-3002');
  });

  it('path changed -> ISO-3002', async () => {
    const f = fixture();
    await f.client.handshake();
    f.tamper = (r) => withUrl(r, r.url.replace('/api/read', '/api/delete'));
    await expectCode(f.client.fetch('/api/read', post({})), 'ISO-3002');
  });

  it('method changed -> ISO-3002', async () => {
    const f = fixture();
    await f.client.handshake();
    f.tamper = async (r) => new Request(r.url, { method: 'PUT', headers: r.headers, body: await r.text() });
    await expectCode(f.client.fetch('/api/x', post({})), 'ISO-3002');
  });

  it('timestamp or nonce header changed -> ISO-3002', async () => {
    const f = fixture();
    await f.client.handshake();
    f.tamper = (r) => {
      const h = new Headers(r.headers);
      h.set(HEADER.timestamp, String(Number(h.get(HEADER.timestamp)) + 1));
      return new Request(r, { headers: h });
    };
    await expectCode(f.client.fetch('/api/x'), 'ISO-3002');
    f.tamper = (r) => {
      const h = new Headers(r.headers);
      h.set(HEADER.nonce, toBase64url(new Uint8Array(16)));
      return new Request(r, { headers: h });
    };
    await expectCode(f.client.fetch('/api/x'), 'ISO-3002');
  });

  it('tampered ciphertext: flipped byte in transit -> ISO-3002; valid MAC over a bad ciphertext -> ISO-4001', async () => {
    const f = fixture();
    await f.client.handshake();
    f.tamper = async (r) => {
      const o = JSON.parse(await r.text()) as { ct: string; n: string };
      const ct = o.ct.startsWith('A') ? `B${o.ct.slice(1)}` : `A${o.ct.slice(1)}`;
      return withBody(r, JSON.stringify({ ct, n: o.n }));
    };
    await expectCode(f.client.fetch('/api/x', post({ a: 1 })), 'ISO-3002');
    const raw = await rawSession(f.handler, f.clock.now);
    const res = await f.handler(raw.request('POST', '/api/x', undefined, { corruptCiphertext: true }));
    expect(res.status).toBe(400);
    expect(await codeOf(res)).toBe('ISO-4001');
  });

  it('signature missing -> ISO-3001, garbage signature -> ISO-3002', async () => {
    const f = fixture();
    await f.client.handshake();
    f.tamper = (r) => {
      const h = new Headers(r.headers);
      h.delete(HEADER.signature);
      return new Request(r, { headers: h });
    };
    await expectCode(f.client.fetch('/api/x'), 'ISO-3001');
    f.tamper = (r) => {
      const h = new Headers(r.headers);
      h.set(HEADER.signature, 'not base64!');
      return new Request(r, { headers: h });
    };
    await expectCode(f.client.fetch('/api/x'), 'ISO-3002');
  });

  it('errors for an existing session are authenticated; injected ones are flagged as not', async () => {
    const f = fixture();
    await f.client.handshake();
    f.tamper = (r) => withUrl(r, `${r.url}&x=1`);
    const e1 = await f.client.fetch('/api/x?a=1').catch((e: unknown) => e as NenError);
    expect(e1).toBeInstanceOf(NenError);
    expect((e1 as NenError).code).toBe('ISO-3002');
    expect((e1 as NenError).authenticated).toBe(true);
    f.tamper = undefined;
    f.tamperResponse = () =>
      new Response(JSON.stringify({ error: { code: 'ISO-5001', reason: 'YAK_NEN_REPLAY', message: 'x' } }), {
        status: 409,
        headers: { 'content-type': 'application/json' },
      });
    const e2 = await f.client.fetch('/api/x').catch((e: unknown) => e as NenError);
    expect((e2 as NenError).code).toBe('ISO-5001');
    expect((e2 as NenError).authenticated).toBe(false);
  });
});

describe('replay', () => {
  it('a captured request re-sent -> ISO-5001; after the window -> ISO-3003', async () => {
    const f = fixture();
    await f.client.handshake();
    await f.client.fetch('/api/pay', post({ amount: 5 }));
    const captured = f.sent.at(-1)!;
    const res = await f.handler(captured.clone());
    expect(res.status).toBe(409);
    expect(await codeOf(res)).toBe('ISO-5001');
    // GET requests carry the payload in a header: same protection.
    await f.client.fetch('/api/balance');
    expect(await codeOf(await f.handler(f.sent.at(-1)!.clone()))).toBe('ISO-5001');
    f.clock.advance(31_000);
    expect(await codeOf(await f.handler(captured.clone()))).toBe('ISO-3003');
  });

  it('a request captured before a rekey no longer verifies (old MAC key) -> ISO-3002', async () => {
    const f = fixture();
    await f.client.handshake();
    await f.client.fetch('/api/x', post({}));
    const captured = f.sent.at(-1)!;
    await f.client.rekey();
    // The MAC is checked before the replay cache, so the new keys alone reject it.
    expect(await codeOf(await f.handler(captured.clone()))).toBe('ISO-3002');
    const fresh = fixture();
    await fresh.client.handshake();
    expect(await codeOf(await fresh.handler(captured.clone()))).toBe('ISO-2002');
  });

  it('old response replayed to a new request -> ISO-4101', async () => {
    const f = fixture();
    await f.client.handshake();
    await f.client.fetch('/api/balance');
    const old = f.received.at(-1)!;
    f.tamperResponse = () => old.clone();
    await expectCode(f.client.fetch('/api/balance'), 'ISO-4101');
  });

  it('request reflected as its own response -> ISO-4101', async () => {
    const f = fixture();
    await f.client.handshake();
    f.tamperResponse = async (_res, req) =>
      new Response(await f.sent.at(-1)!.clone().text(), {
        status: 200,
        headers: { 'content-type': 'application/json', [HEADER.session]: req.headers.get(HEADER.session)! },
      });
    await expectCode(f.client.fetch('/api/x', post({ a: 1 })), 'ISO-4101');
  });

  it('a plaintext response is never accepted -> ISO-4102', async () => {
    const f = fixture();
    await f.client.handshake();
    f.tamperResponse = () => Response.json({ balance: 1_000_000 });
    await expectCode(f.client.fetch('/api/balance'), 'ISO-4102');
    f.tamperResponse = () => new Response('<html>proxy login</html>', { status: 200 });
    await expectCode(f.client.fetch('/api/balance'), 'ISO-4102');
  });

  it('replay cache full -> ISO-5002 rather than accepting unremembered nonces', async () => {
    const g = fixture({ maxNonces: 3 });
    await g.client.handshake();
    for (let i = 0; i < 3; i++) await g.client.fetch('/api/x');
    await expectCode(g.client.fetch('/api/x'), 'ISO-5002');
    // Once the remembered nonces are past the replay horizon, there is room again.
    g.clock.advance(61_001);
    expect((await g.client.fetch('/api/x')).status).toBe(200);
  });
});

describe('timestamps', () => {
  it('client clock jumping after the handshake -> ISO-3003', async () => {
    const f = fixture();
    let skew = 0;
    const g = fixture({ client: { now: () => f.clock.now() + skew } });
    await g.client.handshake();
    skew = 45_000;
    await expectCode(g.client.fetch('/api/x'), 'ISO-3003');
  });

  it('a client whose clock is minutes off still works (timestamps use the authenticated server time)', async () => {
    const f = fixture();
    const g = fixture({ client: { now: () => f.clock.now() - 3 * 60_000 } });
    expect((await g.client.fetch('/api/x')).status).toBe(200);
    expect(g.client.session!.clockOffsetMs).toBeGreaterThan(170_000);
  });

  it('a client clock far outside the key configuration validity -> ISO-1103', async () => {
    const f = fixture();
    const g = fixture({ client: { now: () => f.clock.now() - 10 * 60_000 } });
    await expectCode(g.client.fetch('/api/x'), 'ISO-1103');
  });

  it('raw timestamp outside the window with a valid MAC -> ISO-3003; missing -> ISO-3003', async () => {
    const f = fixture();
    const raw = await rawSession(f.handler, f.clock.now);
    expect(await codeOf(await f.handler(raw.request('POST', '/api/x', undefined, { timestamp: f.clock.now() - 30_001 })))).toBe('ISO-3003');
    expect(await codeOf(await f.handler(raw.request('POST', '/api/x', undefined, { timestamp: f.clock.now() + 30_001 })))).toBe('ISO-3003');
    expect((await f.handler(raw.request('POST', '/api/x', undefined, { timestamp: f.clock.now() + 30_000 }))).status).toBe(200);
    const r = raw.request('POST', '/api/x');
    const h = new Headers(r.headers);
    h.delete(HEADER.timestamp);
    expect(await codeOf(await f.handler(new Request(r, { headers: h })))).toBe('ISO-3003');
  });
});

describe('control routes', () => {
  it('forged terminate (no MAC, bad MAC, replayed status) is refused and the session survives', async () => {
    const f = fixture();
    await f.client.handshake();
    const sid = f.client.session!.sessionId;
    const bare = await f.handler(new Request(`${BASE}/api/nen/terminate`, { method: 'POST', headers: { [HEADER.session]: sid } }));
    expect(await codeOf(bare)).toBe('ISO-3001');
    const forged = await f.handler(
      new Request(`${BASE}/api/nen/terminate`, {
        method: 'POST',
        headers: {
          [HEADER.session]: sid,
          [HEADER.signature]: toBase64url(new Uint8Array(32)),
          [HEADER.timestamp]: String(f.clock.now()),
          [HEADER.nonce]: toBase64url(new Uint8Array(16)),
        },
        body: '{}',
      }),
    );
    expect(await codeOf(forged)).toBe('ISO-3002');
    await f.client.status();
    const statusReq = f.sent.at(-1)!;
    const redirected = await f.handler(withUrl(statusReq.clone(), `${BASE}/api/nen/terminate`));
    expect(await codeOf(redirected)).toBe('ISO-3002');
    const st = await f.client.status();
    expect(st.sid).toBe(sid);
  });

  it('status and rotate without a MAC are refused', async () => {
    const f = fixture();
    await f.client.handshake();
    const sid = f.client.session!.sessionId;
    for (const r of ['status', 'rotate', 'rekey']) {
      const res = await f.handler(new Request(`${BASE}/api/nen/${r}`, { method: 'POST', headers: { [HEADER.session]: sid } }));
      expect(await codeOf(res)).toBe('ISO-3001');
    }
  });

  it('terminate ends the session: its requests get ISO-2002', async () => {
    const f = fixture();
    await f.client.handshake();
    await f.client.fetch('/api/x');
    const captured = f.sent.at(-1)!;
    await f.client.terminate();
    expect(f.client.session).toBeUndefined();
    expect(await codeOf(await f.handler(captured.clone()))).toBe('ISO-2002');
  });
});

describe('server authentication', () => {
  it('MITM substituting its own signed key configuration -> ISO-1102', async () => {
    const f = fixture();
    const mallory = NodeIdentity.generate();
    const evil = createNenServer({ identity: mallory, now: f.clock.now });
    f.tamperResponse = async (res, req) => (req.url.includes('.well-known') ? evil.handle(new Request(req.url)) : res);
    await expectCode(f.client.handshake(), 'ISO-1102');
    // Pinning by node id catches it too.
    const g = fixture({ client: { serverKey: NodeIdentity.generate().nodeId } });
    await expectCode(g.client.handshake(), 'ISO-1102');
  });

  it('MITM swapping only the KEM key in the real configuration -> ISO-1101', async () => {
    const f = fixture();
    const mallory = NodeIdentity.generate();
    f.tamperResponse = async (res, req) => {
      if (!req.url.includes('.well-known')) return res;
      const { decodeKeyConfig } = await import('../src/index.js');
      const cfg = decodeKeyConfig(new Uint8Array(await res.arrayBuffer()));
      return new Response(encodeKeyConfig({ ...cfg, kemPublicKey: mallory.kemPublicKey }) as BodyInit);
    };
    await expectCode(f.client.handshake(), 'ISO-1101');
  });

  it('MITM answering the handshake itself (cannot decapsulate) -> ISO-1104', async () => {
    const f = fixture();
    const mallory = createNenServer({ identity: NodeIdentity.generate(), now: f.clock.now });
    f.tamperResponse = async (res, req) => {
      if (!req.url.endsWith('/handshake')) return res;
      // Mallory relays the hello to her own server after fixing the config hash: still no key.
      const body = JSON.parse(await f.sent.at(-1)!.clone().text()) as Record<string, unknown>;
      body.kc = toBase64url(keyConfigId(mallory.keyConfig()));
      return mallory.handle(new Request(req.url, { method: 'POST', body: JSON.stringify(body) }));
    };
    await expectCode(f.client.handshake(), 'ISO-1104');
  });

  it('a tampered server hello fails key confirmation -> ISO-1104', async () => {
    const f = fixture();
    f.tamperResponse = async (res, req) => {
      if (!req.url.endsWith('/handshake')) return res;
      const o = JSON.parse(await res.text()) as Record<string, unknown>;
      o.exp = (o.exp as number) + 365 * 24 * 3600_000;
      return Response.json(o);
    };
    await expectCode(f.client.handshake(), 'ISO-1104');
  });

  it('expired pinned configuration -> ISO-1103', async () => {
    const f = fixture();
    const pinned = encodeKeyConfig(f.server.keyConfig());
    const g = fixture({ client: { pinnedKeyConfig: pinned } });
    g.clock.advance(31 * 24 * 3600_000);
    await expectCode(g.client.handshake(), 'ISO-1103');
  });
});

describe('session lifetime', () => {
  it('repeated rekeys and rotations never extend the absolute TTL -> ISO-2003', async () => {
    const f = fixture({ server: { sessionTtlMs: 60_000 }, client: { autoRehandshake: false } });
    const first = await f.client.handshake();
    for (let i = 0; i < 5; i++) {
      f.clock.advance(10_000);
      await f.client.rekey();
      await f.client.rotate();
    }
    const st = await f.client.status();
    expect(st.expiresAt).toBe(first.expiresAt);
    expect(st.gen).toBe(10);
    f.clock.advance(10_001);
    const e = await f.client.rekey().catch((x: unknown) => x as NenError);
    expect(e).toBeInstanceOf(NenError);
    expect((e as NenError).code).toBe('ISO-2003');
    expect((e as NenError).authenticated).toBe(true);
  });

  it('idle sessions die -> ISO-2004, and fetch re-handshakes once transparently', async () => {
    const f = fixture({ server: { idleTtlMs: 60_000 } });
    await f.client.handshake();
    const sid = f.client.session!.sessionId;
    const raw = await rawSession(f.handler, f.clock.now);
    f.clock.advance(60_000);
    expect(await codeOf(await f.handler(raw.request('POST', '/api/x')))).toBe('ISO-2004');
    const res = await f.client.fetch('/api/x');
    expect(res.status).toBe(200);
    expect(f.client.session!.sessionId).not.toBe(sid);
  });

  it('a session dropped by the server is re-established once; a persistent failure surfaces', async () => {
    const f = fixture();
    await f.client.handshake();
    await f.store.delete(f.client.session!.sessionId);
    expect((await f.client.fetch('/api/x')).status).toBe(200);
    expect(f.client.getStats().handshakes).toBe(2);
    f.tamperResponse = (res, req) =>
      req.url.endsWith('/handshake')
        ? res
        : new Response(JSON.stringify({ error: { code: 'ISO-2002', reason: 'YAK_NEN_SESSION_UNKNOWN', message: 'x' } }), { status: 401 });
    await expectCode(f.client.fetch('/api/x'), 'ISO-2002');
    expect(f.client.getStats().handshakes).toBe(3);
  });

  it('unknown and malformed session ids -> ISO-2002 / ISO-2001', async () => {
    const f = fixture();
    const raw = await rawSession(f.handler, f.clock.now);
    const r = raw.request('POST', '/api/x');
    const h = new Headers(r.headers);
    h.set(HEADER.session, toBase64url(new Uint8Array(16)));
    expect(await codeOf(await f.handler(new Request(r.clone(), { headers: h })))).toBe('ISO-2002');
    h.set(HEADER.session, 'short');
    expect(await codeOf(await f.handler(new Request(r.clone(), { headers: h })))).toBe('ISO-2001');
    h.delete(HEADER.session);
    expect(await codeOf(await f.handler(new Request(r.clone(), { headers: h })))).toBe('ISO-2001');
    h.set(HEADER.session, raw.request('POST', '/').headers.get(HEADER.session)!);
    h.delete(HEADER.nonce);
    expect(await codeOf(await f.handler(new Request(r.clone(), { headers: h })))).toBe('ISO-3004');
  });
});

describe('malformed input', () => {
  it('handshake garbage, versions, sizes, routes, methods', async () => {
    const f = fixture();
    const hs = (body: string) => f.handler(new Request(`${BASE}/api/nen/handshake`, { method: 'POST', body }));
    expect(await codeOf(await hs('not json'))).toBe('ISO-1001');
    expect(await codeOf(await hs('{"v":1}'))).toBe('ISO-1001');
    expect(await codeOf(await hs('{"v":2}'))).toBe('ISO-1002');
    expect(await codeOf(await hs('x'.repeat(20_000)))).toBe('ISO-4003');
    expect(await codeOf(await f.handler(new Request(`${BASE}/api/nen/nope`, { method: 'POST' })))).toBe('ISO-7001');
    expect(await codeOf(await f.handler(new Request(`${BASE}/api/nen/handshake`)))).toBe('ISO-7002');
    expect(await codeOf(await f.server.handle(new Request(`${BASE}/elsewhere`)))).toBe('ISO-7001');
  });

  it('envelope and body problems with a valid MAC -> ISO-4002 / ISO-4004 / ISO-4003', async () => {
    const f = fixture({ server: { maxBodyBytes: 4096 } });
    const raw = await rawSession(f.handler, f.clock.now);
    expect(await codeOf(await f.handler(raw.request('POST', '/api/x', undefined, { rawBody: '{"ct":1}' })))).toBe('ISO-4002');
    expect(await codeOf(await f.handler(raw.request('POST', '/api/x', undefined, { rawPlaintext: utf8('not cbor') })))).toBe('ISO-4004');
    expect(await codeOf(await f.handler(raw.request('GET', '/api/x', { headers: [], body: utf8('smuggled') })))).toBe('ISO-4004');
    expect(
      await codeOf(await f.handler(raw.request('POST', '/api/x', { headers: [['content-type', 'application/json']], body: utf8('{bad') }))),
    ).toBe('ISO-4004');
    expect(await codeOf(await f.handler(raw.request('POST', '/api/x', { headers: [], body: new Uint8Array(5000) })))).toBe('ISO-4003');
  });
});

describe('client authentication', () => {
  it('required: anonymous -> ISO-1005; signed -> clientId reaches the handler', async () => {
    const f = fixture({ server: { clientAuth: 'required' } });
    await expectCode(f.client.handshake(), 'ISO-1005');
    const me = NodeIdentity.generate();
    const g = fixture({ server: { clientAuth: 'required' }, client: { identity: me } });
    const j = (await (await g.client.fetch('/api/x')).json()) as { clientId: string };
    expect(j.clientId).toBe(me.nodeId);
    expect((await g.client.status()).clientId).toBe(me.nodeId);
  });

  it('unauthorized key -> ISO-1007; tampered signature -> ISO-1006; stale signed hello -> ISO-3003', async () => {
    const me = NodeIdentity.generate();
    const f = fixture({ server: { authorizeClient: ({ clientId }) => clientId === 'node-nobody' }, client: { identity: me } });
    await expectCode(f.client.handshake(), 'ISO-1007');
    const g = fixture({ client: { identity: me } });
    g.tamper = async (r) => {
      if (!r.url.endsWith('/handshake')) return r;
      const o = JSON.parse(await r.text()) as Record<string, string>;
      o.cn = toBase64url(new Uint8Array(16));
      return new Request(r.url, { method: 'POST', body: JSON.stringify(o) });
    };
    await expectCode(g.client.handshake(), 'ISO-1006');
    const h = fixture({ client: { identity: me } });
    h.tamper = (r) => {
      h.clock.advance(31_000);
      return r;
    };
    await expectCode(h.client.handshake(), 'ISO-3003');
  });
});

// A frame problem surfaces while reading: at stream() when it is in the first chunk, else at text().
const readStream = async (f: ReturnType<typeof fixture>, path: string) => (await f.client.stream(path)).text();

describe('streams', () => {
  const streamingApp = async (req: Request) => {
    const n = Number(new URL(req.url).searchParams.get('n') ?? '3');
    const enc = new TextEncoder();
    let i = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (i < n) c.enqueue(enc.encode(`data: ${i++}\n\n`));
          else c.close();
        },
      }),
      { headers: { 'content-type': 'text/event-stream' } },
    );
  };

  it('streams SSE in authenticated frames', async () => {
    const f = fixture({ app: streamingApp });
    const res = await f.client.stream('/api/events?n=4');
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(await res.text()).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n');
    // fetch() also decodes a stream the server chose to send (event-stream content type).
    expect(await (await f.client.fetch('/api/events?n=1')).text()).toBe('data: 0\n\n');
  });

  it('truncated stream -> ISO-6002; altered frame -> ISO-6001; dropped frame -> ISO-6001', async () => {
    const cut = (res: Response, mutate: (b: Uint8Array) => Uint8Array) => async () =>
      new Response(mutate(new Uint8Array(await res.arrayBuffer())) as BodyInit, { status: res.status, headers: res.headers });
    const f = fixture({ app: streamingApp });
    await f.client.handshake();
    f.tamperResponse = (res) => cut(res, (b) => b.subarray(0, b.length - 30))();
    await expectCode(readStream(f, '/api/events?n=3'), 'ISO-6002');
    f.tamperResponse = (res) =>
      cut(res, (b) => {
        const c = b.slice();
        c[c.length - 40]! ^= 1;
        return c;
      })();
    await expectCode(readStream(f, '/api/events?n=3'), 'ISO-6001');
    // Drop the second data frame (each frame: 1 + 4 + len bytes).
    f.tamperResponse = (res) =>
      cut(res, (b) => {
        const frames: Uint8Array[] = [];
        for (let o = 0; o < b.length; ) {
          const len = new DataView(b.buffer, b.byteOffset + o + 1, 4).getUint32(0);
          frames.push(b.subarray(o, o + 5 + len));
          o += 5 + len;
        }
        frames.splice(2, 1);
        const out = new Uint8Array(frames.reduce((a, x) => a + x.length, 0));
        let o = 0;
        for (const x of frames) {
          out.set(x, o);
          o += x.length;
        }
        return out;
      })();
    await expectCode(readStream(f, '/api/events?n=3'), 'ISO-6001');
  });

  it('an application stream error reaches the client as an authenticated abort -> ISO-6003', async () => {
    const f = fixture({
      app: async () =>
        new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode('partial'));
              c.error(new Error('db went away'));
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        ),
    });
    const res = await f.client.stream('/api/events');
    await expectCode(res.text(), 'ISO-6003');
  });
});

describe('echo app sanity', () => {
  it('the echo handler used above is what the server runs', async () => {
    const f = fixture({ app: echo });
    expect((await f.client.fetch('/api/x')).status).toBe(200);
  });
});

describe('application failures', () => {
  it('a handler that throws gets an encrypted 500; a broken body stream an authenticated ISO-9001; an oversized one ISO-4005', async () => {
    const f = fixture({
      server: { maxResponseBytes: 1024 },
      app: async (req) => {
        const p = new URL(req.url).pathname;
        if (p === '/throw') throw new Error('boom');
        if (p === '/big') return new Response(new Uint8Array(4096));
        return new Response(
          new ReadableStream({
            start(c) {
              c.error(new Error('disk'));
            },
          }),
        );
      },
    });
    const r = await f.client.fetch('/throw');
    expect(r.status).toBe(500);
    const e1 = await f.client.fetch('/broken').catch((e: unknown) => e as NenError);
    expect([(e1 as NenError).code, (e1 as NenError).authenticated]).toEqual(['ISO-9001', true]);
    const e2 = await f.client.fetch('/big').catch((e: unknown) => e as NenError);
    expect([(e2 as NenError).code, (e2 as NenError).authenticated]).toEqual(['ISO-4005', true]);
  });
});

describe('garbage never crashes the server', () => {
  it('fuzzed requests to every route get a catalogue error, never an exception', async () => {
    const { default: fc } = await import('fast-check');
    const { isNenErrorCode } = await import('../src/index.js');
    const f = fixture();
    await f.client.handshake();
    const sid = f.client.session!.sessionId;
    const paths = [
      '/api/nen/handshake',
      '/api/nen/rekey',
      '/api/nen/rotate',
      '/api/nen/status',
      '/api/nen/terminate',
      '/api/x?y=1',
      '/.well-known/nen/key-config',
    ];
    const headerValue = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constant(sid),
      fc.constant(String(f.clock.now())),
      fc.constant(toBase64url(new Uint8Array(16))),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        fc.record({ s: headerValue, t: headerValue, n: headerValue, sig: headerValue, p: headerValue }, { requiredKeys: [] }),
        fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 2 })),
        async (path, method, h, body) => {
          const headers = new Headers();
          const set = (k: string, v: string | undefined) => {
            if (v !== undefined && /^[\t\x20-\x7e]*$/.test(v)) headers.set(k, v);
          };
          set(HEADER.session, h.s);
          set(HEADER.timestamp, h.t);
          set(HEADER.nonce, h.n);
          set(HEADER.signature, h.sig);
          set(HEADER.payload, h.p);
          const req = new Request(`${BASE}${path}`, { method, headers, ...(method === 'GET' ? {} : { body }) });
          const res = await f.handler(req);
          if (path.startsWith('/.well-known') && method === 'GET') {
            expect(res.status).toBe(200);
            return;
          }
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(isNenErrorCode(await codeOf(res))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
    // And the real session is unharmed.
    expect((await f.client.fetch('/api/x')).status).toBe(200);
  });

  it('an oversized X-Nen-Payload header on GET -> ISO-4003', async () => {
    const f = fixture();
    const raw = await rawSession(f.handler, f.clock.now);
    const r = raw.request('GET', '/api/x', { headers: [], body: new Uint8Array(0) });
    const h = new Headers(r.headers);
    h.set(HEADER.payload, 'A'.repeat(9000));
    expect(await codeOf(await f.handler(new Request(r.url, { headers: h })))).toBe('ISO-4003');
  });
});
