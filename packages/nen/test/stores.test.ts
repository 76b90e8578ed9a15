// The session store contract, run against every store: in-memory, Redis (a real redis-server on
// loopback) and Upstash REST (a fake REST endpoint in this file that forwards to that server).

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, toBase64url } from '@yak/crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNenClient,
  createNenServer,
  createUpstashStore,
  ioredisExec,
  MemorySessionStore,
  NenSessionError,
  RedisSessionStore,
  type SessionStore,
} from '../src/index.js';
import { decodeRecord } from '../src/session.js';
import { calculateSlot } from './cluster-slot.js';
import { BASE, codeOf, echo, expectCode, serverIdentity } from './helpers.js';
import { type RedisClusterProcess, type RedisProcess, redisAvailable, startRedis, startRedisCluster } from './redis-server.js';

const sid = () => toBase64url(randomBytes(16));
const bytes = (n: number) => randomBytes(n);

function contract(name: string, make: () => SessionStore) {
  describe(`store contract: ${name}`, () => {
    it('create is insert-only; get returns data, generation and last-seen', async () => {
      const s = make();
      const id = sid();
      const data = bytes(40);
      expect(await s.create(id, 0, data, 1234, 60_000)).toBe(true);
      expect(await s.create(id, 0, bytes(40), 1, 60_000)).toBe(false);
      const got = await s.get(id);
      expect(got).toEqual({ data, gen: 0, lastSeen: 1234 });
      expect(await s.get(sid())).toBeUndefined();
    });

    it('replace is compare-and-set on the generation, and can move the session (rotate)', async () => {
      const s = make();
      const id = sid();
      await s.create(id, 0, bytes(8), 10, 60_000);
      expect(await s.replace(id, 1, { sid: id, gen: 2, data: bytes(8) }, 60_000)).toBe(false);
      const d1 = bytes(8);
      expect(await s.replace(id, 0, { sid: id, gen: 1, data: d1 }, 60_000)).toBe(true);
      expect((await s.get(id))?.gen).toBe(1);
      const moved = sid();
      const d2 = bytes(8);
      expect(await s.replace(id, 1, { sid: moved, gen: 2, data: d2 }, 60_000)).toBe(true);
      expect(await s.get(id)).toBeUndefined();
      expect(await s.get(moved)).toEqual({ data: d2, gen: 2, lastSeen: 10 });
      // Two concurrent replacements of the same generation: exactly one wins.
      const r = await Promise.all([0, 1, 2, 3].map(() => s.replace(moved, 2, { sid: moved, gen: 3, data: bytes(8) }, 60_000)));
      expect(r.filter(Boolean)).toHaveLength(1);
    });

    it('admit is atomic: one of many concurrent uses of a nonce wins; it updates last-seen', async () => {
      const s = make();
      const id = sid();
      await s.create(id, 0, bytes(8), 10, 60_000);
      const nonce = toBase64url(bytes(16));
      const results = await Promise.all(Array.from({ length: 20 }, () => s.admit(id, nonce, 500, 61_000, 60_000)));
      expect(results.filter((x) => x === 'ok')).toHaveLength(1);
      expect(results.filter((x) => x === 'replay')).toHaveLength(19);
      expect((await s.get(id))?.lastSeen).toBe(500);
      // Nonces are per session.
      expect(await s.admit(sid(), nonce, 1, 61_000, 60_000)).toBe('ok');
    });

    it('delete removes a session', async () => {
      const s = make();
      const id = sid();
      await s.create(id, 0, bytes(8), 1, 60_000);
      expect(await s.delete(id)).toBe(true);
      expect(await s.delete(id)).toBe(false);
      expect(await s.get(id)).toBeUndefined();
    });
  });
}

contract('memory', () => new MemorySessionStore());

describe('memory store bounds', () => {
  it('evicts expired sessions first, then the least recently used', async () => {
    let t = 0;
    const s = new MemorySessionStore({ maxSessions: 2, now: () => t });
    await s.create('a', 0, bytes(1), 0, 1000);
    await s.create('b', 0, bytes(1), 0, 10);
    t = 20; // b expired
    await s.create('c', 0, bytes(1), 0, 1000);
    expect(await s.get('a')).toBeDefined();
    expect(s.getStats().evicted).toBe(0);
    await s.admit('a', 'n1', 20, 61_000, 1000); // a is now most recently used
    await s.create('d', 0, bytes(1), 0, 1000);
    expect(await s.get('c')).toBeUndefined();
    expect(await s.get('a')).toBeDefined();
    expect(s.getStats().evicted).toBe(1);
  });

  it('rejects bad bounds', () => {
    expect(() => new MemorySessionStore({ maxSessions: 0 })).toThrow(RangeError);
    expect(() => new MemorySessionStore({ maxNonces: 1.5 })).toThrow(TypeError);
  });
});

describe('redis store construction', () => {
  it('validates its options', () => {
    expect(() => new RedisSessionStore({ exec: undefined as never })).toThrow(TypeError);
    expect(() => ioredisExec({} as never)).toThrow(TypeError);
    expect(() => createUpstashStore({ url: 'ftp://x', token: 't' })).toThrow(TypeError);
    expect(() => createUpstashStore({ url: 'https://x', token: '' })).toThrow(TypeError);
  });

  it('a failing or hanging backend surfaces as ISO-2005, and the server answers ISO-2005', async () => {
    const failing = new RedisSessionStore({ exec: async () => Promise.reject(new Error('ECONNREFUSED')) });
    await expectCode(failing.get('abc'), 'ISO-2005');
    const hanging = new RedisSessionStore({ exec: () => new Promise(() => {}), timeoutMs: 20 });
    await expectCode(hanging.get('abc'), 'ISO-2005');
    const server = createNenServer({ identity: serverIdentity(), store: failing });
    const client = createNenClient({
      baseUrl: BASE,
      serverKey: serverIdentity().nodeId,
      fetch: ((u: string, i: RequestInit) => server.handle(new Request(u, i))) as typeof fetch,
    });
    const e = await client.handshake().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NenSessionError);
    expect((e as NenSessionError).code).toBe('ISO-2005');
  });
});

describe.runIf(redisAvailable)('with a real redis-server', () => {
  let redis: RedisProcess;
  let client: Redis;
  let upstash: Server;
  let upstashUrl: string;
  const token = toBase64url(randomBytes(16));

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    // A small Upstash-compatible REST endpoint: POST a JSON command array, get { result } back.
    upstash = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', async () => {
        res.setHeader('content-type', 'application/json');
        if (req.method !== 'POST' || req.headers.authorization !== `Bearer ${token}`) {
          res.statusCode = 401;
          res.end(JSON.stringify({ error: 'Unauthorized' }));
          return;
        }
        try {
          const [cmd, ...args] = JSON.parse(body) as string[];
          const result = await client.call(cmd as string, ...args);
          res.end(JSON.stringify({ result }));
        } catch (e) {
          res.statusCode = 400;
          res.end(JSON.stringify({ error: (e as Error).message }));
        }
      });
    });
    await new Promise<void>((r) => upstash.listen(0, '127.0.0.1', () => r()));
    upstashUrl = `http://127.0.0.1:${(upstash.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    upstash?.closeAllConnections();
    await new Promise<void>((r) => (upstash ? upstash.close(() => r()) : r()));
    await client?.quit().catch(() => {});
    await redis?.stop();
  });

  contract('redis (ioredis)', () => new RedisSessionStore({ exec: ioredisExec(client), prefix: `t${toBase64url(randomBytes(4))}:` }));
  contract('upstash REST', () => createUpstashStore({ url: upstashUrl, token }));

  it('nonce keys expire with the replay window (SET NX PX)', async () => {
    const store = new RedisSessionStore({ exec: ioredisExec(client), prefix: 'ttl:' });
    const id = sid();
    await store.create(id, 0, bytes(8), 1, 60_000);
    const nonce = toBase64url(bytes(16));
    await store.admit(id, nonce, 2, 61_000, 60_000);
    const pttl = Number(await client.call('PTTL', `ttl:{${id}}:n:${nonce}`));
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(61_000);
    const sttl = Number(await client.call('PTTL', `ttl:{${id}}:s`));
    expect(sttl).toBeGreaterThan(0);
  });

  it('the Upstash endpoint refuses a wrong token and the store reports ISO-2005', async () => {
    const bad = createUpstashStore({ url: upstashUrl, token: 'wrong' });
    await expectCode(bad.get(sid()), 'ISO-2005');
  });

  it('two servers sharing Redis: a session opened on one works on the other; replays are caught across them', async () => {
    const key = randomBytes(32);
    const mk = () =>
      createNenServer({
        identity: serverIdentity(),
        store: new RedisSessionStore({ exec: ioredisExec(client) }),
        sessionEncryptionKey: key,
      });
    const a = mk().withNen(echo);
    const b = mk().withNen(echo);
    let turn = 0;
    const sent: Request[] = [];
    const fetchRR = (async (u: string, i: RequestInit) => {
      const r = new Request(u, i);
      sent.push(r.clone());
      return (turn++ % 2 === 0 ? a : b)(r);
    }) as typeof fetch;
    const c = createNenClient({ baseUrl: BASE, serverKey: serverIdentity().nodeId, fetch: fetchRR });
    for (let i = 0; i < 4; i++) expect((await c.fetch('/api/x', { method: 'POST', body: `n=${i}` })).status).toBe(200);
    const last = sent.at(-1)!;
    expect(await codeOf(await a(last.clone()))).toBe('ISO-5001');
    expect(await codeOf(await b(last.clone()))).toBe('ISO-5001');
    await c.rekey();
    await c.rotate();
    expect((await c.fetch('/api/x')).status).toBe(200);
    // Records are sealed at rest: without the key they do not decode.
    const sidNow = c.session!.sessionId;
    const raw = (await client.call('HGET', `nen:{${sidNow}}:s`, 'd')) as string;
    const { fromBase64url } = await import('@yak/crypto');
    expect(() => decodeRecord(fromBase64url(sidNow), fromBase64url(raw))).toThrow();
    await c.terminate();
    expect(await client.call('EXISTS', `nen:{${sidNow}}:s`)).toBe(0);
  });

  it('Upstash store end to end', async () => {
    const server = createNenServer({ identity: serverIdentity(), store: createUpstashStore({ url: upstashUrl, token, prefix: 'up:' }) });
    const h = server.withNen(echo);
    const c = createNenClient({
      baseUrl: BASE,
      serverKey: serverIdentity().nodeId,
      fetch: ((u: string, i: RequestInit) => h(new Request(u, i))) as typeof fetch,
    });
    const res = await c.fetch('/api/x', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"hello":"edge"}' });
    expect(((await res.json()) as { json: unknown }).json).toEqual({ hello: 'edge' });
  });
});

describe.runIf(redisAvailable)('with a real three-node Redis Cluster', () => {
  let cluster: RedisClusterProcess;
  let client: Cluster;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nen-cluster-'));
    cluster = await startRedisCluster(dir);
    client = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0] as number }], { redisOptions: { maxRetriesPerRequest: 1 } });
    await client.call('PING');
  }, 40_000);

  afterAll(async () => {
    await client?.quit().catch(() => {});
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const clusterStore = () =>
    new RedisSessionStore({ exec: ioredisExec(client), cluster: true, prefix: `c${toBase64url(randomBytes(4))}:` });
  contract('redis cluster (ioredis Cluster, cluster: true)', clusterStore);

  it('without cluster: true, rotate across slots is refused by the cluster (CROSSSLOT) as ISO-2005', async () => {
    const s = new RedisSessionStore({ exec: ioredisExec(client), prefix: 'nc:' });
    const [a, b] = [sid(), sid()];
    await s.create(a, 0, bytes(8), 1, 60_000);
    // Find a target id in another slot than a's (most are).
    const other = calculateSlot(`nc:{${a}}:s`) === calculateSlot(`nc:{${b}}:s`) ? sid() : b;
    await expectCode(s.replace(a, 0, { sid: other, gen: 1, data: bytes(8) }, 60_000), 'ISO-2005');
    // Nothing moved: the failed script changed no state.
    expect((await s.get(a))?.gen).toBe(0);
  });

  it('cluster rotate moves the entry across slots, keeps last-seen, and the old id never comes back', async () => {
    const s = clusterStore();
    const a = sid();
    await s.create(a, 3, bytes(8), 777, 60_000);
    const b = sid();
    const d = bytes(8);
    expect(await s.replace(a, 3, { sid: b, gen: 4, data: d }, 60_000)).toBe(true);
    expect(await s.get(a)).toBeUndefined();
    expect(await s.get(b)).toEqual({ data: d, gen: 4, lastSeen: 777 });
    // A stale rotate (old generation, or from the old id) changes nothing.
    expect(await s.replace(a, 3, { sid: sid(), gen: 4, data: bytes(8) }, 60_000)).toBe(false);
    expect(await s.replace(b, 3, { sid: sid(), gen: 4, data: bytes(8) }, 60_000)).toBe(false);
    expect((await s.get(b))?.gen).toBe(4);
  });

  it('cluster rotate fails closed: a taken target id loses the session rather than reviving the old id', async () => {
    const s = clusterStore();
    const a = sid();
    const taken = sid();
    await s.create(a, 0, bytes(8), 1, 60_000);
    const squatter = bytes(8);
    await s.create(taken, 9, squatter, 5, 60_000);
    expect(await s.replace(a, 0, { sid: taken, gen: 1, data: bytes(8) }, 60_000)).toBe(false);
    expect(await s.get(a)).toBeUndefined();
    expect(await s.get(taken)).toEqual({ data: squatter, gen: 9, lastSeen: 5 });
    expect(s.getStats().rotateLost).toBe(1);
  });

  it('a Nen server on the cluster: requests, rekey, rotate, replay refused, terminate', async () => {
    const server = createNenServer({ identity: serverIdentity(), store: clusterStore() });
    const h = server.withNen(echo);
    const sent: Request[] = [];
    const c = createNenClient({
      baseUrl: BASE,
      serverKey: serverIdentity().nodeId,
      fetch: ((u: string, i: RequestInit) => {
        const r = new Request(u, i);
        sent.push(r.clone());
        return h(r);
      }) as typeof fetch,
    });
    expect((await c.fetch('/api/x', { method: 'POST', body: 'a' })).status).toBe(200);
    const before = c.session!.sessionId;
    await c.rekey();
    await c.rotate();
    expect(c.session!.sessionId).not.toBe(before);
    expect((await c.fetch('/api/x', { method: 'POST', body: 'b' })).status).toBe(200);
    expect(await codeOf(await h(sent.at(-1)!.clone()))).toBe('ISO-5001');
    await c.terminate();
  });
});
