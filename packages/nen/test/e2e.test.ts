import { describe, expect, it } from 'vitest';
import { createNenClient } from '../src/index.js';
import { BASE, expectCode, fixture } from './helpers.js';

describe('client and server in process', () => {
  it('handshakes, then round-trips a JSON POST and a GET with query', async () => {
    const f = fixture();
    const info = await f.client.handshake();
    expect(info.generation).toBe(0);
    const res = await f.client.fetch('/api/items?x=1', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(res.status).toBe(200);
    const j = await res.json();
    expect(j).toMatchObject({ method: 'POST', path: '/api/items', query: '?x=1', json: { a: 1 }, auth: 'Bearer t' });
    const g = await f.client.fetch('/api/items?y=2');
    expect(await g.json()).toMatchObject({ method: 'GET', query: '?y=2', body: '' });
    // Nothing readable on the wire.
    const wire = await f.sent[1]!.text();
    expect(wire).not.toContain('Bearer');
    expect(f.sent[1]!.headers.get('authorization')).toBeNull();
  });
});

describe('client behaviour', () => {
  it('parallel requests and a concurrent rekey/rotate all succeed (requests never straddle a key change)', async () => {
    const f = fixture();
    await f.client.handshake();
    const jobs: Array<Promise<unknown>> = [];
    for (let i = 0; i < 12; i++) {
      jobs.push(f.client.fetch(`/api/x?i=${i}`, { method: 'POST', body: String(i) }).then((r) => r.json()));
      if (i === 4) jobs.push(f.client.rekey());
      if (i === 8) jobs.push(f.client.rotate());
    }
    await Promise.all(jobs);
    expect(f.client.session!.generation).toBe(2);
    expect(f.server.getStats().rejected).toEqual({});
  });

  it('rekeys by itself after rekeyAfterMessages requests or rekeyAfterMs', async () => {
    const f = fixture({ client: { rekeyAfterMessages: 3, rekeyAfterMs: 60_000 } });
    for (let i = 0; i < 7; i++) await f.client.fetch('/api/x');
    expect(f.client.getStats().rekeys).toBe(2);
    f.clock.advance(60_000);
    await f.client.fetch('/api/x');
    expect(f.client.getStats().rekeys).toBe(3);
  });

  it('an aborted call rejects with ISO-9002 and sends nothing more', async () => {
    const f = fixture();
    await f.client.handshake();
    const ac = new AbortController();
    ac.abort();
    await expectCode(f.client.fetch('/api/x', { signal: ac.signal }), 'ISO-9002');
    // A request stuck in transit is released by the caller's signal.
    const stuck = fixture({
      client: {
        fetch: ((_u: string, init: RequestInit) =>
          new Promise((_, reject) => init.signal?.addEventListener('abort', () => reject(new Error('aborted'))))) as typeof fetch,
      },
    });
    const ac2 = new AbortController();
    const p = stuck.client.handshake({ signal: ac2.signal });
    ac2.abort();
    await expectCode(p, 'ISO-9002');
  });

  it('refuses calls it cannot protect: other origins, HEAD, stream bodies, GET bodies, no pin', async () => {
    const f = fixture();
    await expect(f.client.fetch('http://elsewhere.test/x')).rejects.toBeInstanceOf(TypeError);
    await expect(f.client.fetch('/x', { method: 'HEAD' })).rejects.toBeInstanceOf(TypeError);
    await expect(f.client.fetch('/x', { method: 'POST', body: new ReadableStream() })).rejects.toBeInstanceOf(TypeError);
    await expect(f.client.fetch('/x', { method: 'GET', body: 'x' })).rejects.toBeInstanceOf(TypeError);
    expect(() => createNenClient({ baseUrl: BASE })).toThrow(TypeError);
    expect(() => createNenClient({ baseUrl: 'ftp://x', serverKey: 'node-x' })).toThrow(TypeError);
  });

  it('accepts Request objects, URLSearchParams, Blob and typed-array bodies', async () => {
    const f = fixture();
    const a = await (await f.client.fetch(new Request(`${BASE}/api/r`, { method: 'PUT', body: 'from-request' }))).json();
    expect(a).toMatchObject({ method: 'PUT', body: 'from-request' });
    const b = await (await f.client.fetch('/api/f', { method: 'POST', body: new URLSearchParams({ q: 'yak' }) })).json();
    expect(b).toMatchObject({ body: 'q=yak' });
    const c = await (await f.client.fetch('/api/b', { method: 'POST', body: new Blob(['blob!'], { type: 'text/plain' }) })).json();
    expect(c).toMatchObject({ body: 'blob!' });
    const d = await (await f.client.fetch('/api/u', { method: 'DELETE', body: new Uint8Array([104, 105]) })).json();
    expect(d).toMatchObject({ method: 'DELETE', body: 'hi' });
  });
});

describe('body fidelity', () => {
  it('bytes arrive exactly as sent in both directions (BOM, invalid UTF-8, binary)', async () => {
    const { fixture: fx } = await import('./helpers.js');
    const f = fx({
      app: async (req) =>
        new Response(await req.arrayBuffer(), {
          headers: { 'content-type': req.headers.get('content-type') ?? 'application/octet-stream' },
        }),
    });
    const cases: Array<[string, Uint8Array]> = [
      ['text/plain', new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69])],
      ['application/json', new Uint8Array([0x7b, 0xff, 0x7d])],
      ['application/octet-stream', new Uint8Array([0, 1, 2, 255])],
    ];
    for (const [type, bytes] of cases) {
      const res = await f.client.fetch('/api/echo', { method: 'POST', headers: { 'content-type': type }, body: bytes as BodyInit });
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    }
  });
});

describe('resource hygiene', () => {
  it('a long-lived caller signal collects no listeners across buffered and streamed calls', async () => {
    const { EventEmitter } = await import('node:events');
    const { fixture: fx } = await import('./helpers.js');
    const f = fx({
      app: async (req) =>
        new URL(req.url).pathname === '/sse'
          ? new Response('data: 1\n\n', { headers: { 'content-type': 'text/event-stream' } })
          : new Response('ok'),
    });
    const ac = new AbortController();
    for (let i = 0; i < 5; i++) await (await f.client.fetch('/x', { signal: ac.signal })).text();
    expect(await (await f.client.stream('/sse', { signal: ac.signal })).text()).toBe('data: 1\n\n');
    expect(EventEmitter.getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});
