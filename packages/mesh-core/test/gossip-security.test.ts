// Attacks on gossip's security properties (SPEC section 3 "Gossip", section 4 "Security tests"):
// forged origin, altered messages, replay, hop limit, malformed and fuzzed frames, resource
// exhaustion. Small networks of real ML-DSA identities on the in-memory link simulator.
import { encodeIdentityRecord, fromHex, type IdentityRecord, randomBytes, utf8 } from '@yak/crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeGraft, encodeIhave, encodeMessage, type MessageFrame } from '../src/gossip/codec.js';
import { GOSSIP_DEFAULTS, GOSSIP_KIND } from '../src/gossip/constants.js';
import { Gossip } from '../src/gossip/index.js';
import { SimClock } from './helpers/sim-clock.js';
import { forgeBatch, type GossipSim, gossipSim, inject } from './helpers/sim-gossip.js';
import { testIdentity } from './helpers/sim-identities.js';
import { connectLine, SimNetwork } from './helpers/sim-network.js';

const A = () => testIdentity(0, 'sec');
const R = () => testIdentity(1, 'sec');
const B = () => testIdentity(2, 'sec');

beforeAll(() => {
  A();
  R();
  B();
});

/** A - R - B: A publishes, R relays (or attacks), B receives. */
function line(gossip = {}): GossipSim {
  const sim = gossipSim([A(), R(), B()], { gossip });
  connectLine(
    sim.net,
    sim.nodes.map((n) => n.id),
  );
  return sim;
}

const node = (sim: GossipSim, i: number) => sim.nodes[i] as (typeof sim.nodes)[number];

describe('delivery', () => {
  it('delivers a published message with its true origin, id, topic and hop count', () => {
    const sim = line();
    const id = node(sim, 0).gossip.publish(utf8('hello'), 'chat');
    sim.clock.run();
    expect(node(sim, 2).inbox).toEqual([{ origin: A().nodeId, id, payload: utf8('hello'), hops: 2, topic: 'chat' }]);
    expect(node(sim, 1).inbox[0]?.hops).toBe(1);
    expect(node(sim, 0).inbox).toEqual([]);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
  });

  it('signs a batch once and verifies it once per receiver (ML-DSA amortised)', () => {
    const sim = line();
    const ids = Array.from({ length: 64 }, (_, i) => node(sim, 0).gossip.publish(Uint8Array.of(i)));
    sim.clock.run();
    expect(new Set(ids).size).toBe(64);
    expect(node(sim, 0).gossip.getStats().batchesSigned).toBe(1);
    const b = node(sim, 2).gossip.getStats();
    expect(b.delivered).toBe(64);
    expect(b.signatureChecks).toBe(1);
    expect(b.headerCacheHits).toBe(63);
    expect(node(sim, 2).inbox.map((m) => m.id)).toEqual(ids);
  });

  it('batches by time: messages within batchMaxDelayMs share a signature, later ones do not', () => {
    const sim = line({ batchMaxDelayMs: 10 });
    const g = node(sim, 0).gossip;
    g.publish(Uint8Array.of(1));
    sim.clock.advance(5);
    g.publish(Uint8Array.of(2));
    sim.clock.advance(20);
    g.publish(Uint8Array.of(3));
    sim.clock.run();
    expect(g.getStats().batchesSigned).toBe(2);
    expect(node(sim, 2).inbox).toHaveLength(3);
  });

  it('sends the signature once per batch and the origin record once per link', () => {
    const sizes: number[] = [];
    const sim = line();
    sim.net.tap = (from, _to, kind, body) => {
      if (kind === GOSSIP_KIND.message && from === A().nodeId) sizes.push(body.length);
      return undefined;
    };
    const g = node(sim, 0).gossip;
    g.publish(new Uint8Array(10));
    g.publish(new Uint8Array(10));
    sim.clock.run();
    g.publish(new Uint8Array(10));
    sim.clock.run();
    const [first, second, third] = sizes as [number, number, number];
    expect(first - second).toBeGreaterThan(3309 + 6000);
    // The third message opens a new batch of one: a signature, and no 32-byte inclusion path.
    expect(third - second).toBe(3309 - 32);
    expect(node(sim, 2).inbox).toHaveLength(3);
  });

  it('recovers with a full GRAFT when a receiver lost the signature or record the sender thinks it holds', () => {
    const sim = line();
    const g = node(sim, 0).gossip;
    g.publish(Uint8Array.of(1));
    sim.clock.run();
    sim.restart(1);
    sim.restart(2);
    g.publish(Uint8Array.of(2));
    sim.clock.run();
    expect(node(sim, 1).gossip.getStats().fullRequests).toBe(1);
    expect(node(sim, 2).inbox.map((m) => m.payload[0])).toEqual([1, 2]);
  });

  it('isolates throwing handlers and supports unsubscribe', () => {
    const sim = line();
    const got: string[] = [];
    node(sim, 2).gossip.onMessage(() => {
      throw new Error('handler bug');
    });
    const off = node(sim, 2).gossip.onMessage((m) => got.push(m.id));
    node(sim, 0).gossip.publish(Uint8Array.of(1));
    sim.clock.run();
    off();
    node(sim, 0).gossip.publish(Uint8Array.of(2));
    sim.clock.run();
    expect(got).toHaveLength(1);
    expect(node(sim, 2).inbox).toHaveLength(2);
    expect(node(sim, 2).gossip.getStats().handlerErrors).toBe(2);
  });
});

describe('origin authentication', () => {
  it('rejects a relay signing with its own key while claiming another origin', () => {
    const sim = line();
    const now = sim.clock.now();
    const forged = forgeBatch({
      signer: R(),
      origin: A().nodeId,
      record: encodeIdentityRecord(A().publicRecord()),
      payloads: [utf8('fake')],
      ts: now,
    });
    inject(sim, R().nodeId, B().nodeId, forged.frames[0] as Uint8Array);
    sim.clock.run();
    const s = node(sim, 2).gossip.getStats();
    expect(node(sim, 2).inbox).toEqual([]);
    expect(s.badSignatures).toBe(1);
    expect(node(sim, 2).link.reports.map((r) => r.peer)).toEqual([R().nodeId]);
  });

  it('rejects a claimed origin backed by the relay’s own record or a relabelled record', () => {
    const sim = line();
    const now = sim.clock.now();
    const own = forgeBatch({ signer: R(), origin: A().nodeId, payloads: [utf8('fake')], ts: now });
    const relabelled: IdentityRecord = { ...R().publicRecord(), nodeId: A().nodeId };
    const relab = forgeBatch({
      signer: R(),
      origin: A().nodeId,
      record: encodeIdentityRecord(relabelled),
      payloads: [utf8('fake')],
      ts: now,
    });
    inject(sim, R().nodeId, B().nodeId, own.frames[0] as Uint8Array);
    inject(sim, R().nodeId, B().nodeId, relab.frames[0] as Uint8Array);
    sim.clock.run();
    expect(node(sim, 2).inbox).toEqual([]);
    expect(node(sim, 2).gossip.getStats().badRecords).toBe(2);
  });

  it('accepts the same relay’s own honestly signed message (control)', () => {
    const sim = line();
    const honest = forgeBatch({ signer: R(), payloads: [utf8('mine')], ts: sim.clock.now() });
    inject(sim, R().nodeId, B().nodeId, honest.frames[0] as Uint8Array);
    expect(node(sim, 2).inbox.map((m) => m.origin)).toEqual([R().nodeId]);
  });

  it('rejects gossip signed for another network', () => {
    const sim = line();
    const other = testIdentity(9, 'sec', 'othernet');
    const f = forgeBatch({ signer: other, payloads: [utf8('x')], ts: sim.clock.now(), networkId: 'othernet' });
    inject(sim, R().nodeId, B().nodeId, f.frames[0] as Uint8Array);
    expect(node(sim, 2).inbox).toEqual([]);
    expect(node(sim, 2).gossip.getStats().badRecords).toBe(1);
  });

  it('rejects a relay altering payload, topic or any signed field of a message in flight', () => {
    const sim = line();
    const mutations: ((b: Uint8Array) => Uint8Array)[] = [
      (b) => reencode(b, (f) => ({ ...f, payload: utf8('evil') })),
      (b) => reencode(b, (f) => ({ ...f, topic: 'other' })),
      (b) => reencode(b, (f) => ({ ...f, ttl: 255 })),
      (b) => reencode(b, (f) => ({ ...f, ts: f.ts + 1 })),
      (b) => reencode(b, (f) => ({ ...f, seq: f.seq + 1 })),
    ];
    let i = 0;
    sim.net.tap = (from, _to, kind, body) =>
      from === R().nodeId && kind === GOSSIP_KIND.message
        ? (mutations[i++ % mutations.length] as (b: Uint8Array) => Uint8Array)(body)
        : undefined;
    for (let k = 0; k < mutations.length; k++) {
      node(sim, 0).gossip.publish(utf8(`m${k}`), 'chat');
      sim.clock.run();
    }
    expect(node(sim, 1).inbox).toHaveLength(mutations.length);
    expect(node(sim, 2).inbox).toEqual([]);
    expect(node(sim, 2).gossip.getStats().badSignatures).toBe(mutations.length);
  });

  it('for a flip of any byte of a frame, the receiver rejects it or delivers exactly the original', () => {
    const clock = new SimClock();
    const a = A();
    const { frames } = forgeBatch({ signer: a, payloads: [utf8('original'), utf8('other')], topic: 't', ts: clock.now() });
    const frame = frames[0] as Uint8Array;
    const d = decodeMessage(frame);
    if (!d.ok) throw new Error('bad fixture');
    // Every byte before the signature, and a sample of signature and record bytes.
    const sigAt = frame.length - 2 - (d.value.record?.length ?? 0) - 3309;
    const positions = [
      ...Array.from({ length: sigAt }, (_, i) => i),
      ...Array.from({ length: 48 }, (_, i) => sigAt + Math.floor((i * (frame.length - sigAt)) / 48)),
    ];
    const net = new SimNetwork(clock);
    const rx = new Gossip({ link: net.addNode(B().nodeId), identity: B(), clock });
    const got: { origin: string; payload: string; topic?: string | undefined }[] = [];
    rx.onMessage((m) => got.push({ origin: m.origin, payload: new TextDecoder().decode(m.payload), topic: m.topic }));
    rx.start();
    for (const pos of positions) {
      const b = frame.slice();
      b[pos] = (b[pos] as number) ^ 0x01;
      expect(() => net.link(B().nodeId).deliver(R().nodeId, GOSSIP_KIND.message, b)).not.toThrow();
    }
    for (const m of got) expect(m).toEqual({ origin: a.nodeId, payload: 'original', topic: 't' });
    expect(rx.getStats().invalidFrames + rx.getStats().badSignatures + rx.getStats().badRecords).toBeGreaterThan(positions.length / 2);
  });
});

function reencode(body: Uint8Array, f: (m: MessageFrame) => MessageFrame): Uint8Array {
  return encodeMessage(f(decodeOk(body)));
}

function decodeOk(body: Uint8Array): MessageFrame {
  const d = decodeMessage(body);
  if (!d.ok) throw new Error(d.reason);
  return { ...d.value, payload: d.value.payload.slice() };
}

describe('replay and freshness', () => {
  it('dedups a replayed frame and refuses it once it is older than the dedup window', () => {
    const sim = line({ dedupTtlMs: 60_000 });
    let captured: Uint8Array | undefined;
    sim.net.tap = (_from, to, kind, body) => {
      if (kind === GOSSIP_KIND.message && to === B().nodeId) captured ??= body.slice();
      return undefined;
    };
    node(sim, 0).gossip.publish(utf8('once'));
    sim.clock.run();
    const frame = captured as Uint8Array;
    inject(sim, R().nodeId, B().nodeId, frame);
    expect(node(sim, 2).inbox).toHaveLength(1);
    expect(node(sim, 2).gossip.getStats().duplicates).toBe(1);
    sim.clock.advance(61_000);
    inject(sim, R().nodeId, B().nodeId, frame);
    expect(node(sim, 2).inbox).toHaveLength(1);
    expect(node(sim, 2).gossip.getStats().expired).toBe(1);
    // A node that never saw it refuses it as well.
    sim.restart(2);
    inject(sim, R().nodeId, B().nodeId, frame);
    expect(node(sim, 2).inbox).toHaveLength(1);
  });

  it('refuses timestamps further in the future than the allowed clock skew', () => {
    const sim = line({ maxClockSkewMs: 1_000 });
    const f = forgeBatch({ signer: A(), payloads: [utf8('later')], ts: sim.clock.now() + 5_000 });
    inject(sim, A().nodeId, R().nodeId, f.frames[0] as Uint8Array);
    expect(node(sim, 1).inbox).toEqual([]);
    expect(node(sim, 1).gossip.getStats().expired).toBe(1);
  });
});

describe('hop limit', () => {
  const five = () => [0, 1, 2, 3, 4].map((i) => testIdentity(i, 'ttl'));

  it('a message travels at most its signed ttl hops', () => {
    const ids = five();
    const sim = gossipSim(ids, { gossip: (i) => (i === 0 ? { ttl: 2 } : {}) });
    connectLine(
      sim.net,
      ids.map((x) => x.nodeId),
    );
    sim.nodes[0]?.gossip.publish(utf8('near'));
    sim.clock.run();
    expect(sim.nodes.map((n) => n.inbox.length)).toEqual([0, 1, 1, 0, 0]);
  });

  it('a relay enforces its own lower limit', () => {
    const ids = five();
    const sim = gossipSim(ids, { gossip: (i) => (i === 2 ? { ttl: 2 } : {}) });
    connectLine(
      sim.net,
      ids.map((x) => x.nodeId),
    );
    sim.nodes[0]?.gossip.publish(utf8('x'));
    sim.clock.run();
    expect(sim.nodes.map((n) => n.inbox.length)).toEqual([0, 1, 1, 0, 0]);
    const f = forgeBatch({ signer: ids[0] as ReturnType<typeof testIdentity>, payloads: [utf8('deep')], ts: sim.clock.now(), hops: 3 });
    inject(sim, (ids[1] as { nodeId: string }).nodeId, (ids[2] as { nodeId: string }).nodeId, f.frames[0] as Uint8Array);
    expect(sim.nodes[2]?.gossip.getStats().ttlDropped).toBe(1);
  });
});

describe('malformed input and resource bounds', () => {
  it('reports and counts malformed frames of every kind without throwing', () => {
    const sim = line();
    const rx = node(sim, 2);
    for (const kind of Object.values(GOSSIP_KIND)) {
      for (const body of [new Uint8Array(0), Uint8Array.of(9), randomBytes(100)]) inject(sim, R().nodeId, B().nodeId, body, kind);
    }
    expect(rx.gossip.getStats().invalidFrames).toBe(12);
    expect(rx.link.reports).toHaveLength(12);
    expect(rx.inbox).toEqual([]);
  });

  it('fuzzed frames never crash a node and leave its state bounded', () => {
    const sim = line({ maxMissing: 64 });
    const kinds = Object.values(GOSSIP_KIND);
    const good = forgeBatch({ signer: A(), payloads: [utf8('seed')], ts: sim.clock.now() }).frames[0] as Uint8Array;
    fc.assert(
      fc.property(
        fc.constantFrom(...kinds),
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([p, x]) => {
            const b = good.slice();
            b[p] = (b[p] as number) ^ x;
            return b;
          }),
        ),
        (kind, body) => {
          inject(sim, R().nodeId, B().nodeId, body, kind);
        },
      ),
      { numRuns: 400 },
    );
    sim.clock.run();
    const s = node(sim, 2).gossip.getStats();
    expect(s.missing).toBeLessThanOrEqual(64);
    expect(node(sim, 2).inbox.every((m) => m.origin === A().nodeId)).toBe(true);
  });

  it('an IHAVE flood of 100k unknown ids stays within the missing-table bound', () => {
    const sim = line({ maxMissing: 1_000 });
    for (let i = 0; i < 100_000; i += GOSSIP_DEFAULTS.maxIdsPerFrame) {
      const items = Array.from({ length: GOSSIP_DEFAULTS.maxIdsPerFrame }, () => ({ id: randomBytes(32), hops: 1 }));
      inject(sim, R().nodeId, B().nodeId, encodeIhave(items), GOSSIP_KIND.ihave);
    }
    const s = node(sim, 2).gossip.getStats();
    expect(s.missing).toBe(1_000);
    expect(s.missingDropped).toBeGreaterThan(90_000);
    sim.clock.run();
    expect(node(sim, 2).gossip.getStats().missing).toBe(0);
  });

  it('answers repeated GRAFTs for one message once per retry interval (no amplification)', () => {
    const sim = line();
    const g = node(sim, 0);
    g.gossip.publish(utf8('x'));
    sim.clock.run();
    const before = g.gossip.getStats().messagesSent;
    const id = fromHex(node(sim, 1).inbox[0]?.id as string);
    for (let i = 0; i < 100; i++)
      inject(sim, R().nodeId, A().nodeId, encodeGraft({ ids: [id], full: true, linkOnly: false }), GOSSIP_KIND.graft);
    expect(g.gossip.getStats().messagesSent - before).toBe(1);
  });
});

describe('lifecycle and arguments', () => {
  it('publish checks state and arguments with typed errors', () => {
    const clock = new SimClock();
    const net = new SimNetwork(clock);
    const g = new Gossip({ link: net.addNode(A().nodeId), identity: A(), clock });
    expect(() => g.publish(Uint8Array.of(1))).toThrow(expect.objectContaining({ code: 'YAK_MESH_NOT_STARTED' }));
    g.start();
    expect(() => g.publish('text' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }));
    expect(() => g.publish(Uint8Array.of(1), 5 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }),
    );
    expect(() => g.publish(new Uint8Array(48 * 1024 + 1))).toThrow(expect.objectContaining({ code: 'YAK_MESH_PAYLOAD_TOO_LARGE' }));
    expect(() => g.publish(Uint8Array.of(1), 'x'.repeat(257))).toThrow(expect.objectContaining({ code: 'YAK_MESH_PAYLOAD_TOO_LARGE' }));
    g.stop();
    expect(() => g.publish(Uint8Array.of(1))).toThrow(expect.objectContaining({ code: 'YAK_MESH_STOPPED' }));
  });

  it('rejects bad options', () => {
    const net = new SimNetwork(new SimClock());
    const link = net.addNode(A().nodeId);
    expect(() => new Gossip({ link, identity: B() })).toThrow(expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }));
    expect(() => new Gossip({ link, identity: A(), ttl: 0 })).toThrow(expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }));
    expect(() => new Gossip({ link, identity: A(), dedupSize: -1 })).toThrow(
      expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }),
    );
    expect(() => new Gossip({ link, identity: A(), batchMaxMessages: 5000 })).toThrow(
      expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }),
    );
  });

  it('stop() sends the pending batch, then leaves no timers and no subscriptions', () => {
    const sim = line();
    node(sim, 0).gossip.publish(utf8('last words'));
    for (const n of sim.nodes) {
      if (n.id !== A().nodeId) continue;
      n.gossip.stop();
    }
    sim.clock.run();
    expect(node(sim, 2).inbox).toHaveLength(1);
    for (const n of sim.nodes) n.gossip.stop();
    sim.clock.run();
    expect(sim.clock.pending).toBe(0);
    for (const n of sim.nodes) expect(n.link.subscriptions).toBe(0);
  });
});
