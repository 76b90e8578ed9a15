// In-band key update of established links (docs/protocol/link.md section 6.1): the key schedule
// against fixed vectors, the RecordLayer's epochs, and two real Links (or a Link and a raw
// attacker holding the real secrets) over the in-memory transport with a fake clock.
import { readFileSync } from 'node:fs';
import { fromHex, type NodeIdentity, randomBytes, toHex } from '@yak/crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { LINK } from '../src/constants.js';
import { Initiator } from '../src/handshake.js';
import { type CloseInfo, Link, type LinkHost, LinkKind } from '../src/link.js';
import { nextTrafficSecret, RECORD_HEADER, RecordLayer, type RecordLayerOptions, recordKey } from '../src/record.js';
import { MemoryHub, MemoryTransport } from '../src/transport/memory.js';
import type { TransportConnection } from '../src/transport/types.js';
import { FakeClock, handshakeConfig, identity, tick, until } from './mesh-helpers.js';

const KIND = 0x50;

/** Plaintext of one record holding the given frames (link.md section 5). */
function frames(...fs: [number, Uint8Array][]): Uint8Array {
  const out = new Uint8Array(fs.reduce((n, [, b]) => n + 5 + b.length, 0));
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const [k, b] of fs) {
    out[o] = k;
    dv.setUint32(o + 1, b.length);
    out.set(b, o + 5);
    o += 5 + b.length;
  }
  return out;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

const zeroed = (b: Uint8Array) => b.every((v) => v === 0);

function secrets(): { s: Uint8Array; r: Uint8Array } {
  return { s: randomBytes(32), r: randomBytes(32) };
}

/** Two record layers facing each other; each takes its own copies of the secrets. */
function layers(opts: RecordLayerOptions = {}) {
  const { s, r } = secrets();
  return { a: new RecordLayer(s.slice(), r.slice(), opts), b: new RecordLayer(r.slice(), s.slice(), opts) };
}

describe('key schedule (link.md section 6.1 vectors)', () => {
  // Computed independently (Python hmac and cryptography's HKDFExpand, node:crypto AES-GCM).
  const V = {
    s0: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    k0: '5d13d2d5f4bdf54fb99cbbda35d0e4c2fc8c250ca175fb2391004cf78b804dec',
    s1: '42fcc5309ee82e235a2315ecd1750e1a3c6fd0f7146241d8a51965aabc3238dd',
    k1: '4c9c6b1a0f46c30b54cb17eae2109810ea095e17b01d4a357c3d66cdd2d73056',
    s2: '3d0ab1ae4d8d9abd4a3ed5ea23364f6404a226f3bceff5b2d816b33f9f844174',
    k2: '1961cc257a1b7cf03a5b1bc73e9b519112748fee50570ca246cf3be7e8eb1aa7',
    rec0: '1000000000000000008bcdc1c96455d73e10566af943d7ec23a20a515696905a3545',
    rec1: '100000000000000000b64eea2f87e26252286198b1c2add8df55f40cfa40cc8318bc56835539',
  };

  it('derives the documented keys and secrets', () => {
    const s0 = fromHex(V.s0);
    const s1 = nextTrafficSecret(s0);
    const s2 = nextTrafficSecret(s1);
    expect(toHex(recordKey(s0))).toBe(V.k0);
    expect(toHex(s1)).toBe(V.s1);
    expect(toHex(recordKey(s1))).toBe(V.k1);
    expect(toHex(s2)).toBe(V.s2);
    expect(toHex(recordKey(s2))).toBe(V.k2);
  });

  it('seals and opens the documented records across one update', () => {
    const tx = new RecordLayer(fromHex(V.s0), new Uint8Array(32));
    expect(toHex(tx.seal(frames([LinkKind.KEY_UPDATE, u32(1)])))).toBe(V.rec0);
    tx.updateSend();
    const ping = frames([LinkKind.PING, fromHex('0000018bcfe56800')]);
    expect(toHex(tx.seal(ping))).toBe(V.rec1);
    const rx = new RecordLayer(new Uint8Array(32), fromHex(V.s0));
    expect(toHex(rx.open(fromHex(V.rec0)) as Uint8Array)).toBe('050000000400000001');
    expect(rx.updateRecv(1)).toBe(true);
    expect(rx.open(fromHex(V.rec1))).toEqual(ping);
  });

  it('link.md carries the same vectors', () => {
    const doc = readFileSync(new URL('../../../docs/protocol/link.md', import.meta.url), 'utf8');
    for (const v of Object.values(V)) expect(doc).toContain(v);
  });
});

describe('RecordLayer epochs', () => {
  it('a key update is due at the n-th record under a key, then again n records later', () => {
    const { a, b } = layers({ keyUpdateAfterRecords: 4 });
    const due: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      due.push(a.keyUpdateDue);
      expect(b.open(a.seal(Uint8Array.of(i)))).toEqual(Uint8Array.of(i));
      if (due[i]) {
        expect(a.updateSend()).toBe(a.sendEpoch);
        expect(b.updateRecv(a.sendEpoch)).toBe(true);
      }
    }
    expect(due).toEqual([false, false, false, true, false, false, false, true]);
    expect(a.sendEpoch).toBe(2);
    expect(b.recvEpoch).toBe(2);
    expect(a.sent).toBe(0);
  });

  it('a key update is due once the key is keyUpdateAfterMs old by the injected clock', () => {
    let now = 1_000;
    const { s, r } = secrets();
    const a = new RecordLayer(s, r, { now: () => now });
    now += LINK.keyUpdateAfterMs - 1;
    expect(a.keyUpdateDue).toBe(false);
    now += 1;
    expect(a.keyUpdateDue).toBe(true);
    a.updateSend();
    // The age restarts with the new key.
    expect(a.keyUpdateDue).toBe(false);
    now += LINK.keyUpdateAfterMs;
    expect(a.keyUpdateDue).toBe(true);
  });

  it('wipes each secret as soon as the next epoch replaces it, and the current ones on destroy', () => {
    const s = randomBytes(32);
    const r = randomBytes(32);
    const layer = new RecordLayer(s, r);
    expect(zeroed(s) || zeroed(r)).toBe(false);
    layer.updateSend();
    expect(zeroed(s)).toBe(true);
    expect(zeroed(r)).toBe(false);
    expect(layer.updateRecv(1)).toBe(true);
    expect(zeroed(r)).toBe(true);
    layer.destroy();
    // The epoch-1 keys are gone too: nothing can be sealed any more.
    expect(() => layer.seal(new Uint8Array(1))).toThrow();
  });

  it('accepts only the next receive epoch; a refused update changes nothing', () => {
    const { a, b } = layers();
    const r = b.open(a.seal(new Uint8Array(3)));
    expect(r).toBeInstanceOf(Uint8Array);
    for (const e of [0, 2, 7, -1, 1.5, LINK.maxKeyEpoch + 1]) expect(b.updateRecv(e)).toBe(false);
    expect(b.recvEpoch).toBe(0);
    expect(b.open(a.seal(new Uint8Array(3)))).toBeInstanceOf(Uint8Array);
  });

  it('after an update, records of the old epoch fail authentication, replays included', () => {
    const { a, b } = layers();
    const old = [a.seal(Uint8Array.of(1)), a.seal(Uint8Array.of(2))];
    expect(b.open(old[0] as Uint8Array)).toEqual(Uint8Array.of(1));
    expect(b.open(old[1] as Uint8Array)).toEqual(Uint8Array.of(2));
    a.updateSend();
    expect(b.updateRecv(1)).toBe(true);
    // The window restarted, so seq 0 and 1 are new numbers; the key is not.
    expect(b.open(old[0] as Uint8Array)).toBe('auth');
    expect(b.open(old[1] as Uint8Array)).toBe('auth');
    const fresh = a.seal(Uint8Array.of(3));
    expect(fresh.subarray(1, RECORD_HEADER)).toEqual(new Uint8Array(8));
    expect(b.open(fresh)).toEqual(Uint8Array.of(3));
    expect(b.open(fresh)).toBe('replay');
  });

  it('epochs never wrap: maxKeyEpoch bounds both directions', () => {
    const { a, b } = layers({ maxKeyEpoch: 2 });
    a.updateSend();
    a.updateSend();
    expect(a.canUpdateSend).toBe(false);
    expect(() => a.updateSend()).toThrow(RangeError);
    expect(b.updateRecv(1)).toBe(true);
    expect(b.updateRecv(2)).toBe(true);
    expect(b.updateRecv(3)).toBe(false);
    expect(b.recvEpoch).toBe(2);
  });

  it('refuses bad secrets and limits with typed errors', () => {
    expect(() => new RecordLayer(new Uint8Array(31), new Uint8Array(32))).toThrow(RangeError);
    expect(() => new RecordLayer(new Uint8Array(32), [] as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => new RecordLayer(new Uint8Array(32), new Uint8Array(32), { keyUpdateAfterRecords: 0 })).toThrow(RangeError);
    expect(() => new RecordLayer(new Uint8Array(32), new Uint8Array(32), { keyUpdateAfterRecords: 2 ** 32 })).toThrow(RangeError);
    expect(() => new RecordLayer(new Uint8Array(32), new Uint8Array(32), { maxKeyEpoch: 2 ** 32 })).toThrow(RangeError);
  });
});

// ---- Links over the in-memory transport ----

const cfg = (id: NodeIdentity, clock: FakeClock) => handshakeConfig(id, { now: clock.now });

interface Side {
  link: Link;
  got: number[];
  violations: string[];
  closed: CloseInfo | undefined;
}

function makeHost(id: NodeIdentity, clock: FakeClock, side: Omit<Side, 'link'>, records?: LinkHost['recordOptions']): LinkHost {
  return {
    handshake: cfg(id, clock),
    clock,
    handshakeTimeoutMs: LINK.handshakeTimeoutMs,
    peerCheck: () => undefined,
    recordOptions: records,
    onUp() {},
    onFrame(_link, kind, body) {
      if (kind === KIND) side.got.push(new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0));
    },
    onClose(_link, info) {
      side.closed = info;
    },
    onViolation(_link, reason) {
      side.violations.push(reason);
    },
  };
}

const open: { close(): Promise<void> }[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const l of open.splice(0)) await l.close();
});

/** A listening responder Link on a fresh hub; `accepted` fills in when a connection arrives. */
async function responder(clock: FakeClock, records?: LinkHost['recordOptions']) {
  const hub = new MemoryHub();
  const side: Omit<Side, 'link'> & { link?: Link } = { got: [], violations: [], closed: undefined };
  const host = makeHost(identity(1), clock, side, records);
  const l = await new MemoryTransport({ hub }).listen({ host: '127.0.0.1', port: 0, maxPayload: LINK.maxRecordBytes }, (conn) => {
    side.link = new Link(host, conn, { initiator: false });
    links.push(side.link);
  });
  open.push(l);
  const dial = () =>
    new MemoryTransport({ hub, address: '192.0.2.1' }).dial(`mem://127.0.0.1:${l.port}`, {
      maxPayload: LINK.maxRecordBytes,
      timeoutMs: 1000,
    });
  return { side, dial };
}

/** Two Links with a completed handshake. */
async function linkPair(records?: LinkHost['recordOptions']) {
  const clock = new FakeClock();
  const { side: b, dial } = await responder(clock, records);
  const conn = await dial();
  const a: Omit<Side, 'link'> & { link?: Link } = { got: [], violations: [], closed: undefined };
  a.link = new Link(makeHost(identity(0), clock, a, records), conn, { initiator: true });
  links.push(a.link);
  await a.link.ready;
  await until(() => b.link?.state === 'up');
  return { clock, a: a as Side, b: b as Side };
}

/** A frame body whose first 4 bytes number it. */
function numbered(i: number, size = 4): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}

/** An attacker that completes a real handshake by hand and seals whatever records it likes. */
async function attacker(records?: LinkHost['recordOptions']) {
  const clock = new FakeClock();
  const { side, dial } = await responder(clock, records);
  const conn = await dial();
  const inbox: Uint8Array[] = [];
  conn.onMessage = (d) => inbox.push(d);
  const I = new Initiator(cfg(identity(2), clock));
  conn.send(I.hello());
  await until(() => inbox.length >= 1);
  const s1 = I.receive(inbox.shift() as Uint8Array);
  conn.send(s1.send as Uint8Array);
  await until(() => inbox.length >= 1);
  const done = I.receive(inbox.shift() as Uint8Array).done;
  if (!done) throw new Error('handshake did not complete');
  await until(() => side.link?.state === 'up');
  return { side: side as Side, conn, rl: new RecordLayer(done.sendSecret, done.recvSecret) };
}

/** Send records and let them arrive. */
async function deliver(conn: TransportConnection, ...recs: Uint8Array[]): Promise<void> {
  for (const r of recs) conn.send(r);
  await tick(3);
}

describe('Link key update', () => {
  it('updates the send key once it is keyUpdateAfterMs old by the link clock, and not before', async () => {
    const { clock, a, b } = await linkPair();
    a.link.send(KIND, numbered(0));
    await until(() => b.got.length === 1);
    clock.advance(LINK.keyUpdateAfterMs - 1);
    a.link.send(KIND, numbered(1));
    await until(() => b.got.length === 2);
    expect(a.link.stats.keyUpdates).toBe(0);
    clock.advance(1);
    a.link.send(KIND, numbered(2));
    a.link.send(KIND, numbered(3));
    await until(() => b.got.length === 4);
    a.link.send(KIND, numbered(4));
    await until(() => b.got.length === 5);
    expect(b.got).toEqual([0, 1, 2, 3, 4]);
    expect(a.link.stats.keyUpdates).toBe(1);
    expect(b.link.stats.keyUpdatesReceived).toBe(1);
    expect(a.link.keyEpochs).toEqual({ send: 1, recv: 0 });
    expect(b.link.keyEpochs).toEqual({ send: 0, recv: 1 });
    // Each direction on its own: b's key is as old, and updates when b sends.
    b.link.send(KIND, numbered(9));
    await until(() => a.got.length === 1);
    expect(b.link.keyEpochs).toEqual({ send: 1, recv: 1 });
    expect(a.link.stats.keyUpdatesReceived).toBe(1);
    expect([a.violations, b.violations]).toEqual([[], []]);
  });

  it('updates the send key at the keyUpdateAfterRecords-th record', async () => {
    const { a, b } = await linkPair({ keyUpdateAfterRecords: 5 });
    for (let i = 0; i < 12; i++) {
      a.link.send(KIND, numbered(i));
      a.link.flush();
      expect(a.link.stats.keyUpdates).toBe(Math.floor((i + 1) / 5));
    }
    await until(() => b.got.length === 12);
    expect(a.link.stats.recordsSent).toBe(12);
    expect(a.link.keyEpochs?.send).toBe(2);
    expect(b.link.keyEpochs?.recv).toBe(2);
    expect(b.link.stats.keyUpdatesReceived).toBe(2);
  });

  it('continuous traffic both ways across many updates: nothing lost, nothing reordered', async () => {
    const { clock, a, b } = await linkPair({ keyUpdateAfterRecords: 3 });
    const n = 400;
    for (let i = 0; i < n; i++) {
      // Mostly batched small frames, some sealed alone (>= 64 KiB), one at the frame limit.
      const big = i % 37 === 0;
      const size = i === 200 ? LINK.maxFrameBytes : big ? 70_000 : 4 + (i % 50);
      expect(a.link.send(KIND, numbered(i, size))).toBe(true);
      expect(b.link.send(KIND, numbered(i, size))).toBe(true);
      if (i % 3 === 0) await tick(1);
      if (i % 101 === 0) clock.advance(LINK.keyUpdateAfterMs);
    }
    await until(() => a.got.length === n && b.got.length === n);
    const want = Array.from({ length: n }, (_, i) => i);
    expect(b.got).toEqual(want);
    expect(a.got).toEqual(want);
    expect(a.link.stats.keyUpdates).toBeGreaterThan(20);
    expect(b.link.stats.keyUpdates).toBeGreaterThan(20);
    expect(b.link.stats.keyUpdatesReceived).toBe(a.link.stats.keyUpdates);
    expect(a.link.stats.keyUpdatesReceived).toBe(b.link.stats.keyUpdates);
    expect([a.violations, b.violations]).toEqual([[], []]);
    expect([a.link.state, b.link.state]).toEqual(['up', 'up']);
  });

  it('closes with a re-handshake reason instead of wrapping the epoch', async () => {
    const { a, b } = await linkPair({ keyUpdateAfterRecords: 1, maxKeyEpoch: 2 });
    for (let i = 0; i < 3; i++) {
      a.link.send(KIND, numbered(i));
      a.link.flush();
    }
    expect(a.link.state).toBe('closed');
    expect(a.closed?.detail).toBe('key epoch limit reached, re-handshake');
    await until(() => b.closed !== undefined);
    expect(b.got).toEqual([0, 1]);
    expect(b.closed?.code).toBe('remote');
    expect(b.violations).toEqual([]);
  });

  it('a key limit reached while close() seals the last batch still closes cleanly', async () => {
    const { a, b } = await linkPair({ keyUpdateAfterRecords: 1, maxKeyEpoch: 1 });
    a.link.send(KIND, numbered(0));
    a.link.flush();
    expect(a.link.keyEpochs?.send).toBe(1);
    a.link.send(KIND, numbered(1));
    expect(() => a.link.close()).not.toThrow();
    expect(a.link.state).toBe('closed');
    expect(a.closed?.detail).toBe('key epoch limit reached, re-handshake');
    await until(() => b.closed !== undefined);
    expect(b.got).toEqual([0]);
    expect(b.closed?.code).toBe('remote');
  });
  it('a key limit reached while send() flushes or seals a large frame refuses the frame', async () => {
    for (const batched of [true, false]) {
      const { a } = await linkPair({ keyUpdateAfterRecords: 1, maxKeyEpoch: 1 });
      a.link.send(KIND, numbered(0));
      a.link.flush();
      if (batched) a.link.send(KIND, numbered(1));
      let sent: boolean | undefined;
      expect(() => {
        sent = a.link.send(KIND, numbered(2, 70_000));
      }).not.toThrow();
      expect(sent).toBe(false);
      expect(a.closed?.detail).toBe('key epoch limit reached, re-handshake');
    }
  });
});

describe('Link key update attacks', () => {
  it('records of the old epoch replayed after the update are refused', async () => {
    const m = await attacker();
    const old0 = m.rl.seal(frames([KIND, numbered(1)]));
    const old1 = m.rl.seal(frames([KIND, numbered(2)], [LinkKind.KEY_UPDATE, u32(1)]));
    await deliver(m.conn, old0, old1);
    m.rl.updateSend();
    await deliver(m.conn, m.rl.seal(frames([KIND, numbered(3)])));
    expect(m.side.got).toEqual([1, 2, 3]);
    expect(m.side.link.keyEpochs?.recv).toBe(1);
    // Sequence number 0 is already used in epoch 1: the window drops it before decryption.
    await deliver(m.conn, old0);
    expect(m.side.link.stats.replaysBlocked).toBe(1);
    expect(m.side.link.state).toBe('up');
    // Number 1 is fresh in epoch 1, so the record reaches the AEAD and fails under the new key.
    await deliver(m.conn, old1);
    expect(m.side.got).toEqual([1, 2, 3]);
    expect(m.side.link.stats.keyUpdatesReceived).toBe(1);
    expect(m.side.violations).toEqual(['replayed record (replay)', 'record auth']);
    expect(m.side.link.state).toBe('closed');
  });

  it('a tampered KEY_UPDATE record is refused: no switch, nothing dispatched, link closed', async () => {
    const m = await attacker();
    const rec = m.rl.seal(frames([KIND, numbered(7)], [LinkKind.KEY_UPDATE, u32(1)]));
    // Flip a bit of the encrypted epoch number (the last plaintext byte).
    rec[rec.length - 17] = (rec[rec.length - 17] as number) ^ 0x02;
    await deliver(m.conn, rec);
    expect(m.side.got).toEqual([]);
    expect(m.side.link.stats.keyUpdatesReceived).toBe(0);
    expect(m.side.violations).toEqual(['record auth']);
    expect(m.side.closed?.code).toBe('violation');
  });

  it('a KEY_UPDATE forged under a key the sender does not hold is refused', async () => {
    const m = await attacker();
    const forger = new RecordLayer(randomBytes(32), new Uint8Array(32));
    await deliver(m.conn, forger.seal(frames([LinkKind.KEY_UPDATE, u32(1)])));
    expect(m.side.link.stats.keyUpdatesReceived).toBe(0);
    expect(m.side.violations).toEqual(['record auth']);
    expect(m.side.closed?.code).toBe('violation');
  });

  it('an authenticated KEY_UPDATE to any epoch but the next is a violation', async () => {
    for (const epoch of [0, 2, 0xffffffff]) {
      const m = await attacker();
      await deliver(m.conn, m.rl.seal(frames([KIND, numbered(1)], [LinkKind.KEY_UPDATE, u32(epoch)])));
      expect(m.side.got).toEqual([]);
      expect(m.side.link.keyEpochs).toBeUndefined();
      expect(m.side.violations).toEqual(['key update to an unexpected epoch']);
      expect(m.side.closed?.detail).toBe('bad key update');
    }
  });

  it('frames after KEY_UPDATE in the same record, or a KEY_UPDATE body of the wrong size, are malformed', async () => {
    const bad = [
      frames([LinkKind.KEY_UPDATE, u32(1)], [KIND, numbered(1)]),
      frames([KIND, numbered(1)], [LinkKind.KEY_UPDATE, u32(1)], [LinkKind.KEY_UPDATE, u32(2)]),
      frames([KIND, numbered(1)], [LinkKind.KEY_UPDATE, new Uint8Array(3)]),
      frames([KIND, numbered(1)], [LinkKind.KEY_UPDATE, new Uint8Array(5)]),
      frames([KIND, numbered(1)], [LinkKind.KEY_UPDATE, new Uint8Array(0)]),
      // A KEY_UPDATE header cut short by the end of the record.
      frames([KIND, numbered(1)], [LinkKind.KEY_UPDATE, u32(1)]).subarray(0, 16),
    ];
    for (const pt of bad) {
      const m = await attacker();
      await deliver(m.conn, m.rl.seal(pt));
      expect(m.side.got).toEqual([]);
      expect(m.side.violations).toEqual(['malformed frames in record']);
      expect(m.side.closed?.detail).toBe('malformed frames');
    }
  });

  it('records that skip the KEY_UPDATE (sender switched silently) fail authentication', async () => {
    const m = await attacker();
    await deliver(m.conn, m.rl.seal(frames([KIND, numbered(1)])), m.rl.seal(frames([KIND, numbered(2)])));
    m.rl.updateSend();
    // Under the new key without telling the receiver; numbers 0 and 1 are taken, so use 2.
    for (let i = 0; i < 2; i++) m.rl.seal(new Uint8Array(1));
    await deliver(m.conn, m.rl.seal(frames([KIND, numbered(3)])));
    expect(m.side.got).toEqual([1, 2]);
    expect(m.side.violations).toEqual(['record auth']);
    expect(m.side.closed?.code).toBe('violation');
  });
});
