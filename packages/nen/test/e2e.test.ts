import { describe, expect, it } from 'vitest';
import { fixture } from './helpers.js';

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
