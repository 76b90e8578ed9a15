// Gossip at scale on the in-memory simulator: full delivery on a 200-node random mesh, tree
// dissemination instead of flooding, repair after link failures and loss, bounded state under
// load. Origins hold real ML-DSA-65 identities; relays that never publish get light identities (a
// node id, no keys) to skip key generation. Every node runs the whole verification path, with
// the ML-DSA arithmetic memoised across the simulated nodes (each distinct signature is verified
// once for real): forged and altered batches are attacked in gossip-security.test.ts.
import { describe, expect, it } from 'vitest';
import { GOSSIP_KIND } from '../src/gossip/constants.js';
import type { GossipIdentity } from '../src/gossip/index.js';
import { type GossipSim, gossipSim } from './helpers/sim-gossip.js';
import { fakeNodeId, memoVerifier, relayIdentity, testIdentity } from './helpers/sim-identities.js';
import { connectLine, connectRandom } from './helpers/sim-network.js';
import { SimRandom } from './helpers/sim-random.js';

function mesh(n: number, origins: number, seed: number, dials = 3): { sim: GossipSim; rng: SimRandom } {
  const rng = new SimRandom(seed);
  const ids: GossipIdentity[] = Array.from({ length: n }, (_, i) =>
    i < origins ? testIdentity(i, 'mesh') : relayIdentity(fakeNodeId(i, 'mesh')),
  );
  const sim = gossipSim(ids, { net: { delay: () => rng.range(1, 20) }, gossip: { verifySignature: memoVerifier() } });
  connectRandom(
    sim.net,
    sim.nodes.map((x) => x.id),
    dials,
    rng,
  );
  return { sim, rng };
}

/**
 * Each of the first `origins` nodes publishes `perOrigin` messages in one burst (one signed
 * batch), the origins 5 ms apart.
 */
function wave(sim: GossipSim, origins: number, perOrigin: number, tag: string): { id: string; origin: string }[] {
  const out: { id: string; origin: string }[] = [];
  for (let o = 0; o < origins; o++) {
    const node = sim.nodes[o] as GossipSim['nodes'][number];
    for (let k = 0; k < perOrigin; k++)
      out.push({ id: node.gossip.publish(new TextEncoder().encode(`${tag}-${o}-${k}`)), origin: node.id });
    sim.clock.advance(5);
  }
  sim.clock.run(120_000);
  return out;
}

/** Nodes (other than the origin) that did not receive each message, and duplicate deliveries. */
function audit(sim: GossipSim, msgs: { id: string; origin: string }[], among = sim.nodes) {
  let missing = 0;
  let dupDeliveries = 0;
  let wrongOrigin = 0;
  for (const n of among) {
    const seen = new Map<string, number>();
    for (const m of n.inbox) seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
    const origins = new Map(n.inbox.map((m) => [m.id, m.origin]));
    for (const m of msgs) {
      if (m.origin === n.id) continue;
      const c = seen.get(m.id) ?? 0;
      if (c === 0) missing++;
      if (c > 1) dupDeliveries++;
      if (c > 0 && origins.get(m.id) !== m.origin) wrongOrigin++;
    }
  }
  return { missing, dupDeliveries, wrongOrigin };
}

function copiesPerNodePerMessage(sim: GossipSim, messages: number, before = 0): number {
  const received = sim.nodes.reduce((a, n) => a + n.gossip.getStats().messagesReceived, 0) - before;
  return received / ((sim.nodes.length - 1) * messages);
}

describe('200-node random mesh', () => {
  it('every message reaches every node, once, from its true origin, on a tree rather than a flood', () => {
    const { sim } = mesh(200, 4, 2024);
    expect(sim.net.isGraphConnected()).toBe(true);
    const first = wave(sim, 4, 5, 'w1');
    expect(audit(sim, first)).toEqual({ missing: 0, dupDeliveries: 0, wrongOrigin: 0 });
    const afterFirst = sim.nodes.reduce((a, n) => a + n.gossip.getStats().messagesReceived, 0);
    const firstCopies = copiesPerNodePerMessage(sim, first.length);

    const second = wave(sim, 4, 10, 'w2');
    const third = wave(sim, 4, 10, 'w3');
    expect(audit(sim, [...second, ...third])).toEqual({ missing: 0, dupDeliveries: 0, wrongOrigin: 0 });
    // The first batch of each origin floods while its tree is being pruned (about `degree`
    // copies); afterwards a node receives about one copy per message.
    const degree = (2 * sim.net.edges().length) / sim.nodes.length;
    expect(degree).toBeGreaterThan(5);
    expect(firstCopies).toBeLessThanOrEqual(degree);
    expect(copiesPerNodePerMessage(sim, second.length + third.length, afterFirst)).toBeLessThan(1.3);
    // One ML-DSA verification per batch per node, never one per message.
    const batches = sim.nodes.slice(0, 4).reduce((a, n) => a + n.gossip.getStats().batchesSigned, 0);
    expect(batches).toBe(12);
    for (const n of sim.nodes) expect(n.gossip.getStats().signatureChecks).toBeLessThanOrEqual(batches);
    for (const n of sim.nodes) for (const m of n.inbox) expect(m.hops).toBeLessThanOrEqual(32);
  });

  it('repairs the trees after 20% of the links fail', () => {
    const { sim, rng } = mesh(200, 3, 77);
    wave(sim, 3, 3, 'before');
    const edges = sim.net.edges();
    let cut = 0;
    for (const [a, b] of edges) {
      if (cut >= edges.length / 5 || rng.float() > 0.3) continue;
      sim.net.disconnect(a, b);
      if (sim.net.isGraphConnected()) cut++;
      else sim.net.connect(a, b);
    }
    expect(cut).toBeGreaterThan(edges.length / 6);
    const after = wave(sim, 3, 5, 'after');
    expect(audit(sim, after)).toEqual({ missing: 0, dupDeliveries: 0, wrongOrigin: 0 });
  });
});

describe('dissemination mechanics', () => {
  it('delivers everything through IHAVE and GRAFT when 15% of pushed messages are lost', () => {
    const { sim, rng } = mesh(60, 2, 5);
    const lossy = new SimRandom(99);
    sim.net.tap = (_f, _t, kind) => (kind === GOSSIP_KIND.message && lossy.float() < 0.15 ? null : undefined);
    const msgs = wave(sim, 2, 10, 'lossy');
    void rng;
    expect(audit(sim, msgs)).toEqual({ missing: 0, dupDeliveries: 0, wrongOrigin: 0 });
    const grafts = sim.nodes.reduce((a, n) => a + n.gossip.getStats().graftSent, 0);
    expect(grafts).toBeGreaterThan(0);
  });

  it('a node that leaves and rejoins receives what is published after it is back', () => {
    const { sim } = mesh(50, 2, 11);
    wave(sim, 2, 2, 'a');
    const victim = sim.nodes[10] as GossipSim['nodes'][number];
    const peers = sim.net.neighbours(victim.id);
    sim.net.isolate(victim.id);
    const during = wave(sim, 2, 2, 'b');
    expect(audit(sim, during, [victim]).missing).toBe(during.length);
    for (const p of peers.slice(0, 2)) sim.net.connect(victim.id, p);
    const after = wave(sim, 2, 3, 'c');
    expect(audit(sim, after)).toEqual({ missing: 0, dupDeliveries: 0, wrongOrigin: 0 });
  });

  it('a line of 20 nodes carries a message end to end (hops = distance)', () => {
    const ids: GossipIdentity[] = Array.from({ length: 20 }, (_, i) =>
      i === 0 ? testIdentity(0, 'mesh') : relayIdentity(fakeNodeId(i, 'line')),
    );
    const sim = gossipSim(ids);
    connectLine(
      sim.net,
      ids.map((x) => x.nodeId),
    );
    sim.nodes[0]?.gossip.publish(Uint8Array.of(1));
    sim.clock.run();
    expect(sim.nodes.slice(1).map((n) => n.inbox[0]?.hops)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
  });
});

describe('bounded state under load', () => {
  // The dedup cache alone is checked with 100k ids in gossip-codec.test.ts.
  it('12k messages through the protocol: dedup and message cache stay at their bounds', () => {
    const total = 12_000;
    const sim = gossipSim([testIdentity(0, 'mesh'), relayIdentity(fakeNodeId(1, 'load'))], {
      gossip: { dedupSize: 3_000, messageCacheSize: 1_000, batchMaxMessages: 1024 },
    });
    sim.net.connect(sim.nodes[0]?.id as string, sim.nodes[1]?.id as string);
    const g = sim.nodes[0]?.gossip;
    const payload = new Uint8Array(8);
    for (let i = 0; i < total; i++) {
      new DataView(payload.buffer).setUint32(0, i);
      g?.publish(payload);
      if (i % 1024 === 1023) sim.clock.run();
    }
    sim.clock.run();
    const rx = sim.nodes[1]?.gossip.getStats();
    expect(rx?.delivered).toBe(total);
    expect(rx?.dedupSize).toBe(3_000);
    expect(rx?.dedupEvictedEarly).toBe(total - 3_000);
    expect(rx?.messageCacheSize).toBe(1_000);
    expect(rx?.signatureChecks).toBe(Math.ceil(total / 1024));
    expect(sim.nodes[1]?.inbox).toHaveLength(total);
    sim.nodes[1]?.inbox.splice(0);
  });
});
