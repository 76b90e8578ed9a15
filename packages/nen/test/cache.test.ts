// The server's in-memory session cache (nen.md section 5, "Server state"): bounded, never used
// once the stored record changed (rekey, rotation or termination on another instance), keys
// wiped when dropped and no request uses them. Also: the fast MAC/AAD encoder and the fast
// sealed-body parser give exactly what the general codecs give.
import { encode, randomBytes } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createNenClient, createNenServer, MemorySessionStore } from '../src/index.js';
import { SessionCache, type SessionRecord } from '../src/session.js';
import { b64, decodeSealedBody, encodeFlat, parseJsonObject, unb64 } from '../src/wire.js';
import { BASE, codeOf, echo, FakeClock, serverIdentity } from './helpers.js';

const record = (gen = 0): SessionRecord => ({
  sid: randomBytes(16),
  gen,
  createdAt: 1,
  expiresAt: 2,
  idleTtlMs: 3,
  keyedAt: 1,
  keys: { c2sKey: randomBytes(32), s2cKey: randomBytes(32), c2sMac: randomBytes(32), s2cMac: randomBytes(32), chain: randomBytes(32) },
  clientKey: null,
  clientId: null,
});
const zero = (b: Uint8Array) => b.every((x) => x === 0);

describe('SessionCache', () => {
  const clock = new FakeClock();
  it('is bounded (least recently used goes first) and wipes what it evicts', () => {
    const c = new SessionCache(2, 60_000, clock.now);
    const recs = [record(), record(), record()];
    for (const [i, r] of recs.entries()) c.release(c.insert(`s${i}`, Uint8Array.of(i), r));
    expect(c.size).toBe(2);
    expect(zero(recs[0]!.keys.c2sKey)).toBe(true);
    expect(c.acquire('s0', 0, Uint8Array.of(0))).toBeUndefined();
    expect(c.acquire('s2', 0, Uint8Array.of(2))).toBeDefined();
    expect(() => new SessionCache(0, 60_000, clock.now)).toThrow(RangeError);
  });

  it('a changed stored record (bytes or generation) is a miss and drops the stale entry', () => {
    const c = new SessionCache(4, 60_000, clock.now);
    const r = record();
    c.release(c.insert('s', Uint8Array.of(1, 2), r));
    expect(c.acquire('s', 0, Uint8Array.of(1, 3))).toBeUndefined();
    expect(c.size).toBe(0);
    expect(zero(r.keys.s2cMac)).toBe(true);
    const r2 = record();
    c.release(c.insert('s', Uint8Array.of(1, 2), r2));
    expect(c.acquire('s', 1, Uint8Array.of(1, 2))).toBeUndefined();
  });

  it('entries unused for the idle time are wiped', () => {
    const c = new SessionCache(4, 1000, clock.now);
    const old = record();
    const fresh = record();
    c.release(c.insert('old', Uint8Array.of(1), old));
    clock.advance(600);
    c.release(c.insert('fresh', Uint8Array.of(2), fresh));
    clock.advance(500);
    expect(c.acquire('fresh', 0, Uint8Array.of(2))).toBeDefined();
    expect(c.size).toBe(1);
    expect(zero(old.keys.chain)).toBe(true);
    expect(zero(fresh.keys.chain)).toBe(false);
  });

  it('keys in use by a request survive a drop until released; the cache owns a copy of the data', () => {
    const c = new SessionCache(4, 60_000, clock.now);
    const r = record();
    const data = Uint8Array.of(9, 9);
    const s = c.insert('s', data, r);
    c.drop('s');
    expect(zero(r.keys.c2sKey)).toBe(false);
    expect(s.s2c.seal(new Uint8Array(12), Uint8Array.of(1)).length).toBe(17);
    c.release(s);
    expect(zero(r.keys.c2sKey)).toBe(true);
    expect(() => s.s2c.seal(new Uint8Array(12), Uint8Array.of(1))).toThrow();
    expect([...data]).toEqual([9, 9]);
  });
});

describe('servers sharing a store with cached sessions', () => {
  it('a rekey, rotation or termination on one instance is seen at once by the other', async () => {
    const clock = new FakeClock();
    const store = new MemorySessionStore({ now: clock.now });
    const serverA = createNenServer({ identity: serverIdentity(), store, now: clock.now });
    const serverB = createNenServer({ identity: serverIdentity(), store, now: clock.now });
    const a = serverA.withNen(echo);
    const b = serverB.withNen(echo);
    let target = a;
    const sent: Request[] = [];
    const f = (async (u: string, i: RequestInit) => {
      const r = new Request(u, i);
      sent.push(r.clone());
      return target(r);
    }) as typeof fetch;
    const c = createNenClient({ baseUrl: BASE, serverKey: serverIdentity().nodeId, fetch: f, now: clock.now, autoRehandshake: false });
    for (const t of [a, b, a, b]) {
      target = t;
      expect((await c.fetch('/api/x', { method: 'POST', body: 'hi' })).status).toBe(200);
    }
    // b has the session cached; rekey through a, then use b.
    target = a;
    await c.rekey();
    target = b;
    expect((await c.fetch('/api/x', { method: 'POST', body: 'after rekey' })).status).toBe(200);
    target = a;
    await c.rotate();
    target = b;
    expect((await c.fetch('/api/x', { method: 'POST', body: 'after rotate' })).status).toBe(200);
    const last = sent.at(-1)!;
    target = a;
    await c.terminate();
    // b cached the session: a request it would have accepted is refused once the store forgot it.
    expect(await codeOf(await b(last.clone()))).toBe('ISO-2002');
    // The entry of the id used before the rotation is stale; it goes after the idle time.
    clock.advance(60_001);
    expect(await codeOf(await b(last.clone()))).toBe('ISO-2002');
    expect(serverB.getStats().cachedSessions).toBe(0);
    await serverA.close();
    await serverB.close();
  });
});

describe('fast codecs agree with the general ones', () => {
  const item = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.nat(),
    fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    fc.integer({ min: -1000, max: -1 }),
    fc.constant(null),
    fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
  );

  it('encodeFlat is byte for byte the canonical CBOR of @yak/crypto', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 30 }), (items) => {
        let expected: Uint8Array | undefined;
        try {
          expected = encode(items);
        } catch {
          expected = undefined;
        }
        if (expected === undefined) expect(() => encodeFlat(items)).toThrow();
        else expect(encodeFlat(items)).toEqual(expected);
      }),
    );
    expect(() => encodeFlat(['\ud800'])).toThrow();
    expect(encodeFlat([-1, 2])).toEqual(encode([-1, 2]));
    expect(() => encodeFlat([1.5])).toThrow();
  });

  it('the sealed-body fast path accepts and refuses exactly what the JSON path does', () => {
    const general = (t: string) => {
      const o = parseJsonObject(t, ['ct', 'n'], 'ISO-4002');
      const n = unb64(o.n, 'ISO-4002', 12);
      const ct = unb64(o.ct, 'ISO-4002');
      if (ct.length < 16) throw new Error('short');
      return { n, ct };
    };
    const outcome = (fn: () => unknown) => {
      try {
        return fn();
      } catch {
        return 'refused';
      }
    };
    const part = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map(b64),
      fc.string({ maxLength: 30 }),
      fc.constantFrom('AAAA"', 'A\\u0041AA', ''),
    );
    fc.assert(
      fc.property(part, part, (ct, n) => {
        const t = `{"ct":"${ct}","n":"${n}"}`;
        expect(outcome(() => decodeSealedBody(t))).toEqual(outcome(() => general(t)));
      }),
    );
    const n = b64(randomBytes(12));
    const ct = b64(randomBytes(20));
    expect(decodeSealedBody(`{"ct":"${ct}","n":"${n}"}`)).toEqual(decodeSealedBody(`{ "n":"${n}", "ct":"${ct}" }`));
  });
});
