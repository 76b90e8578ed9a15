// The client's decrypted Response (src/buffered.ts) must behave like a plain Response built from
// the same bytes: same results from every body method, same "body used" rules.
import { concatBytes } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bufferedResponse } from '../src/buffered.js';

const te = new TextEncoder();
const make = (bytes: Uint8Array, type = 'application/json', status = 200) =>
  bufferedResponse(bytes, { status, headers: new Headers({ 'content-type': type }) });
const reference = (bytes: Uint8Array, type = 'application/json', status = 200) =>
  new Response(Uint8Array.from(bytes), { status, headers: { 'content-type': type } });

async function readStream(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
  return concatBytes(...chunks);
}

describe('decrypted Response (buffered body)', () => {
  it('is a Response with the given status and headers', async () => {
    const r = make(te.encode('{"a":1}'), 'application/json', 201);
    expect(r).toBeInstanceOf(Response);
    expect(r.status).toBe(201);
    expect(r.ok).toBe(true);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.bodyUsed).toBe(false);
    expect(await r.json()).toEqual({ a: 1 });
    expect(r.bodyUsed).toBe(true);
  });

  it('a body is read once: every method rejects with TypeError after the first', async () => {
    for (const first of ['json', 'text', 'arrayBuffer', 'blob', 'bytes'] as const) {
      for (const second of ['json', 'text', 'arrayBuffer', 'blob', 'formData'] as const) {
        const r = make(te.encode('{"x":"y"}'));
        await r[first]();
        await expect(r[second]()).rejects.toBeInstanceOf(TypeError);
      }
    }
  });

  it('text() and json() decode as the Fetch standard does (BOM stripped, bad UTF-8 replaced)', async () => {
    const bom = Uint8Array.from([0xef, 0xbb, 0xbf, ...te.encode('"hé"')]);
    expect(await make(bom).text()).toBe(await reference(bom).text());
    expect(await make(bom).json()).toBe('hé');
    const bad = Uint8Array.from([0x22, 0xff, 0xfe, 0x22]);
    expect(await make(bad).text()).toBe(await reference(bad).text());
    await expect(make(te.encode('{nope')).json()).rejects.toBeInstanceOf(SyntaxError);
  });

  it('matches a plain Response on every body method for arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        expect(await make(bytes, 'application/octet-stream').text()).toBe(await reference(bytes).text());
        expect(new Uint8Array(await make(bytes).arrayBuffer())).toEqual(new Uint8Array(await reference(bytes).arrayBuffer()));
        expect(new Uint8Array(await (await make(bytes, 'x/y').blob()).arrayBuffer())).toEqual(bytes);
        expect(await readStream(make(bytes).body as ReadableStream<Uint8Array>)).toEqual(bytes);
      }),
      { numRuns: 100 },
    );
  });

  it('returned buffers are copies: changing one does not change a later read', async () => {
    const bytes = te.encode('abc');
    const r = make(bytes);
    const c = r.clone();
    const ab = new Uint8Array(await r.arrayBuffer());
    ab[0] = 0x7a;
    expect(await c.text()).toBe('abc');
    expect(bytes[0]).toBe(0x61);
  });

  it('blob() carries the content type; formData() parses a form body', async () => {
    const b = await make(te.encode('hi'), 'text/plain').blob();
    expect(b.type).toBe('text/plain');
    expect(await b.text()).toBe('hi');
    const f = await make(te.encode('a=1&b=two'), 'application/x-www-form-urlencoded').formData();
    expect(f.get('b')).toBe('two');
  });

  it('the body stream works like any other: reading it uses the body', async () => {
    const r = make(te.encode('stream me'));
    const body = r.body as ReadableStream<Uint8Array>;
    expect(r.body).toBe(body);
    expect(new TextDecoder().decode(await readStream(body))).toBe('stream me');
    expect(r.bodyUsed).toBe(true);
    await expect(r.text()).rejects.toBeInstanceOf(TypeError);
  });

  it('after a fast read the stream reads as used too', async () => {
    const r = make(te.encode('x'));
    await r.text();
    expect(r.bodyUsed).toBe(true);
    expect(r.body === null || r.body.locked || r.bodyUsed).toBe(true);
    expect(() => r.clone()).toThrow(TypeError);
  });

  it('clone() gives an independent copy before the body is read', async () => {
    const r = make(te.encode('{"n":2}'));
    const c = r.clone();
    expect(c).toBeInstanceOf(Response);
    expect(c.status).toBe(200);
    expect(await r.json()).toEqual({ n: 2 });
    expect(await c.json()).toEqual({ n: 2 });
    // Clone after the stream was taken but not read: the clone still reads everything.
    const s = make(te.encode('tee'));
    void s.body;
    expect(await s.clone().text()).toBe('tee');
    expect(await s.text()).toBe('tee');
  });

  it('a status without a body has a null body', async () => {
    const r = bufferedResponse(null, { status: 204, headers: new Headers() });
    expect(r.body).toBeNull();
    expect(await r.text()).toBe('');
  });
});
