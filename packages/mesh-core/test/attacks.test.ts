// Attacks on a running node (SPEC section 4, "Security tests"), over the in-memory transport so
// the attacker can speak raw protocol bytes: pre-handshake frames, forged identities, tampered
// and replayed records, oversized input, handshake floods, rate-limit abuse, fuzzing.
import { decodeIdentityRecord, encodeIdentityRecord, type NodeIdentity, utf8 } from '@yak/crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeReject, Initiator, MsgType, RejectCode } from '../src/handshake.js';
import { LINK, MemoryHub, MemoryTransport, type MeshNetwork, MessageTypes, type TransportConnection } from '../src/index.js';
import { MeshNetwork as Mesh } from '../src/network.js';
import { RecordLayer } from '../src/record.js';
import { ep, FakeClock, handshakeConfig, identity, memNode, next, own, stopAll, TapTransport, tick, until } from './mesh-helpers.js';

afterEach(stopAll);

const cfg = handshakeConfig;

/** A raw connection to `target` that records what it receives. */
async function raw(hub: MemoryHub, target: MeshNetwork, address = '10.9.9.9') {
  const t = new MemoryTransport({ hub, address });
  const conn = await t.dial(ep(target), { maxPayload: LINK.maxRecordBytes, timeoutMs: 1000 });
  const inbox: Uint8Array[] = [];
  let closed: number | undefined;
  conn.onMessage = (d) => inbox.push(d);
  conn.onClose = (code) => {
    closed = code;
  };
  return { conn, inbox, closed: () => closed, t };
}

/** Complete a real handshake by hand; returns the attacker's record layer on that link. */
async function handshaken(hub: MemoryHub, target: MeshNetwork, id: NodeIdentity, address?: string) {
  const r = await raw(hub, target, address);
  const I = new Initiator(cfg(id));
  r.conn.send(I.hello());
  await until(() => r.inbox.length >= 1);
  const s1 = I.receive(r.inbox.shift() as Uint8Array);
  r.conn.send(s1.send as Uint8Array);
  await until(() => r.inbox.length >= 1);
  const s2 = I.receive(r.inbox.shift() as Uint8Array);
  const done = s2.done!;
  await until(() => target.isConnectedTo(id.nodeId));
  return { ...r, records: new RecordLayer(done.sendSecret, done.recvSecret) };
}

/** Plaintext of one record holding the given frames. */
function frames(...fs: [number, Uint8Array][]): Uint8Array {
  const len = fs.reduce((n, [, b]) => n + 5 + b.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const [k, b] of fs) {
    out[o] = k;
    new DataView(out.buffer).setUint32(o + 1, b.length);
    out.set(b, o + 5);
    o += 5 + b.length;
  }
  return out;
}

function countDispatch(m: MeshNetwork): () => number {
  let n = 0;
  for (const t of [...Object.values(MessageTypes), 'message']) m.on(t, () => n++);
  m.onFrame(0x10, () => n++);
  m.onFrame(0x50, () => n++);
  return () => n;
}

describe('before the handshake', () => {
  it('records from a socket that never completed the handshake are never dispatched', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1);
    const dispatched = countDispatch(b);
    // An attacker that knows the format but not the keys sends records first.
    const r = await raw(hub, b);
    const fake = new RecordLayer(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2));
    r.conn.send(fake.seal(frames([0x40, utf8('\x01{"x":1}')])));
    await until(() => r.closed() !== undefined);
    // Mid-handshake too: HELLO sent, then a record instead of FINISH.
    const r2 = await raw(hub, b);
    r2.conn.send(new Initiator(cfg(identity(2))).hello());
    await until(() => r2.inbox.length === 1);
    r2.conn.send(fake.seal(frames([0x50, new Uint8Array(4)])));
    await until(() => r2.closed() !== undefined);
    await tick(5);
    expect(dispatched()).toBe(0);
    expect(b.getPeers().length).toBe(0);
    expect(b.getStats().pendingHandshakes).toBe(0);
  });

  it('a presented key that does not match the claimed node id is refused with BAD_IDENTITY', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1);
    const c = cfg(identity(2));
    const rec = decodeIdentityRecord(c.recordBytes);
    const forged = encodeIdentityRecord({ ...rec, nodeId: identity(3).nodeId });
    const r = await raw(hub, b);
    r.conn.send(new Initiator({ ...c, recordBytes: forged }).hello());
    await until(() => r.closed() !== undefined);
    const rej = decodeReject(r.inbox[0] as Uint8Array);
    expect(rej.code).toBe(RejectCode.BAD_IDENTITY);
    expect(b.isConnectedTo(identity(3).nodeId)).toBe(false);
  });

  it('handshake floods hit the concurrency, per-IP and rate limits; honest peers still connect', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const b = own(
      new Mesh(identity(1), {
        wsPort: 0,
        transport: new MemoryTransport({ hub, clock }),
        clock,
        maxConcurrentHandshakes: 16,
        maxHandshakesPerIp: 4,
        rateLimiter: { maxHandshakesPerMinute: 50, maxConnectionsPerMinute: 1000 },
        subnetDiversity: { maxPerSubnet: 1000 },
      }),
    );
    await b.start();
    // 40 attackers from 10 addresses open sockets and never speak.
    const socks = [];
    for (let i = 0; i < 40; i++) socks.push(await raw(hub, b, `10.0.${i % 10}.1`));
    await tick(3);
    expect(b.getStats().pendingHandshakes).toBeLessThanOrEqual(16);
    expect(b.getStats().connectionsRejected).toBeGreaterThanOrEqual(24);
    // Handshake timeouts free the slots.
    clock.advance(LINK.handshakeTimeoutMs + 1);
    await tick(5);
    expect(b.getStats().pendingHandshakes).toBe(0);
    // An honest node from elsewhere connects.
    const a = own(new Mesh(identity(0), { wsPort: 0, transport: new MemoryTransport({ hub, clock, address: '192.0.2.7' }), clock }));
    await a.start();
    await a.connect(ep(b), { reconnect: false });
    expect(b.isConnectedTo(a.localId)).toBe(true);
    // Repeat offenders from one address exhaust its handshake budget and get banned.
    let refused = 0;
    for (let i = 0; i < 80; i++) {
      const s = await raw(hub, b, '10.66.0.1');
      s.conn.send(new Uint8Array([MsgType.HELLO, 1, 0]));
      await tick(2);
      if (s.closed() !== undefined && s.inbox.length === 0) refused++;
    }
    expect(refused).toBeGreaterThan(0);
    expect(b.getStats().rateLimiter.bannedKeys).toBeGreaterThan(0);
  });

  it('oversized handshake messages and oversized transport messages close the connection', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1);
    const r = await raw(hub, b);
    const big = new Uint8Array(LINK.maxHandshakeBytes + 1);
    big[0] = MsgType.HELLO;
    r.conn.send(big);
    await until(() => r.closed() !== undefined);
    const r2 = await raw(hub, b);
    r2.conn.send(new Uint8Array(LINK.maxRecordBytes + 1));
    await until(() => r2.closed() !== undefined);
    expect(r2.closed()).toBe(1009);
    expect(b.getPeers().length).toBe(0);
  });

  it('subnet diversity limits links from one /24', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1, { subnetDiversity: { maxPerSubnet: 2 } });
    const s = [await raw(hub, b, '198.51.100.1'), await raw(hub, b, '198.51.100.2'), await raw(hub, b, '198.51.100.3')];
    await tick(3);
    expect(s.map((x) => x.closed() !== undefined)).toEqual([false, false, true]);
    // Other subnets are unaffected.
    const other = await raw(hub, b, '198.51.101.1');
    await tick(3);
    expect(other.closed()).toBeUndefined();
  });
});

describe('after the handshake', () => {
  it('a flipped byte anywhere in a record closes the link and dispatches nothing', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1);
    let got = 0;
    b.onFrame(0x50, () => got++);
    const body = new Uint8Array(100).fill(7);
    // Positions: type byte, sequence number, ciphertext, tag. One sender per position, because
    // a tampered record also costs the sender its reputation.
    const positions = [0, 3, 8, 9, 40, 113, 129];
    for (const [k, pos] of positions.entries()) {
      const tap = new TapTransport(new MemoryTransport({ hub, address: `192.0.${k}.1` }));
      const a = own(new Mesh(identity(20 + k), { wsPort: 0, transport: tap, reconnect: false }));
      await a.start();
      await a.connect(ep(b), { reconnect: false });
      await until(() => b.isConnectedTo(a.localId));
      tap.onSend = (d) => {
        if (d[0] !== MsgType.RECORD) return d;
        tap.onSend = undefined;
        const x = d.slice();
        x[pos] = (x[pos] as number) ^ 0x20;
        return x;
      };
      a.send(b.localId, 0x50, body);
      await until(() => !b.isConnectedTo(a.localId), 5000, `close after flip at ${pos}`);
    }
    expect(got).toBe(0);
    expect(b.getStats().violations).toBeGreaterThanOrEqual(positions.length);
  });

  it('a replayed record is dropped and counted; the link keeps working', async () => {
    const hub = new MemoryHub();
    const tap = new TapTransport(new MemoryTransport({ hub }));
    const a = own(new Mesh(identity(0), { wsPort: 0, transport: tap, reconnect: false }));
    await a.start();
    const b = await memNode(hub, 1);
    const got: number[] = [];
    b.onFrame(0x50, (_f, body) => got.push(body[0] as number));
    await a.connect(ep(b));
    await until(() => b.isConnectedTo(a.localId));
    let captured: Uint8Array | undefined;
    tap.onSend = (d) => {
      if (d[0] === MsgType.RECORD && !captured) {
        captured = d.slice();
        return [d, d];
      }
      return d;
    };
    a.send(b.localId, 0x50, Uint8Array.of(1));
    await until(() => got.length === 1);
    a.send(b.localId, 0x50, Uint8Array.of(2));
    await until(() => got.length === 2);
    // Re-inject the captured record later, out of order.
    (tap.conns.at(-1) as TransportConnection).send(captured as Uint8Array);
    a.send(b.localId, 0x50, Uint8Array.of(3));
    await until(() => got.length === 3);
    await tick(3);
    expect(got).toEqual([1, 2, 3]);
    expect(b.getStats().replaysBlocked).toBe(2);
    expect(b.isConnectedTo(a.localId)).toBe(true);
  });

  it('an authenticated peer exceeding a size limit or sending malformed frames is penalised, then banned', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1);
    const dispatched = countDispatch(b);
    const m = await handshaken(hub, b, identity(2));
    // Gossip kinds are limited to 64 KiB per frame (seed 001).
    m.conn.send(m.records.seal(frames([0x10, new Uint8Array(65 * 1024 + 1)])));
    // Malformed frame layout: length field past the end.
    const bad = frames([0x50, new Uint8Array(8)]);
    bad[4] = 200;
    m.conn.send(m.records.seal(bad));
    await until(() => m.closed() !== undefined);
    expect(dispatched()).toBe(0);
    expect(b.getStats().violations).toBeGreaterThanOrEqual(2);
    // Repeat offences drive reputation to 'banned'; the node refuses it afterwards.
    for (let i = 0; i < 4; i++) b.reportMisbehavior(identity(2).nodeId, 'test', 3);
    const again = await raw(hub, b);
    again.conn.send(new Initiator(cfg(identity(2))).hello());
    await until(() => again.closed() !== undefined);
    expect(decodeReject(again.inbox[0] as Uint8Array).code).toBe(RejectCode.BANNED);
  });

  it('a peer exceeding message rate limits is disconnected and banned; honest peers keep working', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1, { rateLimiter: { maxMessagesPerSecond: 100, banThreshold: 5 } });
    const honest = await memNode(hub, 0, {}, '192.0.2.1');
    await honest.connect(ep(b));
    const m = await handshaken(hub, b, identity(3), '203.0.113.9');
    const fromHonest: number[] = [];
    b.onFrame(0x50, (from, body) => {
      if (from === honest.localId) fromHonest.push(body[0] as number);
    });
    // 500 frames in a burst (one record each): far over 100/s.
    for (let i = 0; i < 500 && m.closed() === undefined; i++) m.conn.send(m.records.seal(frames([0x50, Uint8Array.of(i & 0xff)])));
    await until(() => m.closed() !== undefined);
    expect(b.isConnectedTo(identity(3).nodeId)).toBe(false);
    expect(b.getStats().bans).toBeGreaterThan(0);
    const again = await raw(hub, b, '203.0.113.9');
    again.conn.send(new Initiator(cfg(identity(3))).hello());
    await until(() => again.closed() !== undefined);
    expect(decodeReject(again.inbox[0] as Uint8Array).code).toBe(RejectCode.BANNED);
    for (let i = 0; i < 10; i++) honest.send(b.localId, 0x50, Uint8Array.of(i));
    await until(() => fromHonest.length === 10);
    expect(b.isConnectedTo(honest.localId)).toBe(true);
  });
});

describe('fuzzing every protocol state', () => {
  it('random bytes before, during and after the handshake never crash the node', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1, {
      rateLimiter: { maxConnectionsPerMinute: 100_000, maxHandshakesPerMinute: 100_000 },
      maxHandshakesPerIp: 1000,
    });
    const honest = await memNode(hub, 0, {}, '192.0.2.1');
    await honest.connect(ep(b));
    const junk = fc.uint8Array({ minLength: 0, maxLength: 2048 });
    const firstByte = fc.constantFrom(0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0xff);
    const samples = fc.sample(fc.tuple(junk, firstByte, fc.nat({ max: 3 })), 60);
    let addr = 0;
    for (const [bytes, t, state] of samples) {
      const msg = bytes.length ? Uint8Array.from([t, ...bytes.subarray(1)]) : bytes;
      const ip = `10.${(addr >> 8) & 255}.${addr++ & 255}.1`;
      if (state === 0) {
        const r = await raw(hub, b, ip);
        r.conn.send(msg);
      } else if (state === 1) {
        const r = await raw(hub, b, ip);
        r.conn.send(new Initiator(cfg(identity(4))).hello());
        await until(() => r.inbox.length > 0 || r.closed() !== undefined);
        r.conn.send(msg);
      } else {
        // Authenticated garbage: a valid record whose plaintext is random frame bytes, and raw junk.
        const id = identity(10 + (addr % 40));
        if (b.isConnectedTo(id.nodeId)) b.disconnect(id.nodeId);
        const m = await handshaken(hub, b, id, ip).catch(() => undefined);
        if (m) {
          m.conn.send(m.records.seal(msg.length ? msg : new Uint8Array(1)));
          m.conn.send(msg);
          await tick(2);
          b.disconnect(id.nodeId);
        }
      }
      await tick(2);
    }
    await tick(5);
    expect(b.running).toBe(true);
    const seen = next(b, 'message');
    honest.sendTo(b.localId, { still: 'alive' });
    const [msg] = (await seen) as [{ payload: unknown }];
    expect(msg.payload).toEqual({ still: 'alive' });
  });
});
