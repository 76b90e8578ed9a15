// Gossip benchmarks for @yak/mesh-core, each against a baseline measured in the same run
// (SPEC section 4):
//  1. Authenticated gossip on 20 nodes (each dials 4 others): one origin publishes 1,000 x 256 B.
//     Merkle-batched ML-DSA-65 (one signature per batch, one verification per batch per receiver)
//     vs per-message ML-DSA-65 sign + verify (the same protocol with batches of one).
//  2. Dissemination on 1,000 nodes: delivery, copies received per node per message, hops; Plumtree
//     vs naive flooding over the same graph, delays and publish schedule.
// Links are the in-memory simulator of test/helpers (virtual time, per-link delays); the
// WebSocket link layer is measured by the MeshNetwork benches. Wall-clock figures are therefore
// the single-threaded cost of the protocol (hashing, signing, verifying, encoding), not network
// latency; the virtual completion time is reported in the notes.
import { performance } from 'node:perf_hooks';
import { record, recordFigure } from '../../../tools/bench/harness.js';
import { GOSSIP_KIND } from '../src/gossip/constants.js';
import type { GossipIdentity } from '../src/gossip/index.js';
import { SimClock } from '../test/helpers/sim-clock.js';
import { type GossipSim, gossipSim } from '../test/helpers/sim-gossip.js';
import { fakeNodeId, memoVerifier, relayIdentity, testIdentity } from '../test/helpers/sim-identities.js';
import { connectRandom, SimNetwork } from '../test/helpers/sim-network.js';
import { SimRandom } from '../test/helpers/sim-random.js';

const PKG = '@yak/mesh-core';

// ---- 1. authenticated gossip: batched vs per-message ML-DSA ------------------------------------

interface AuthRun {
  wallMs: number;
  virtualMs: number;
  deliveries: number;
  copiesPerDelivery: number;
  signatures: number;
  verifications: number;
}

function authRun(messages: number, batchMaxMessages: number): AuthRun {
  const ids = Array.from({ length: 20 }, (_, i) => testIdentity(i, 'bench-auth'));
  const rng = new SimRandom(2024);
  const sim = gossipSim(ids, { net: { delay: 5 }, gossip: { batchMaxMessages } });
  connectRandom(
    sim.net,
    ids.map((x) => x.nodeId),
    4,
    rng,
  );
  const origin = sim.nodes[0] as GossipSim['nodes'][number];
  const receivers = sim.nodes.slice(1);
  const payload = new Uint8Array(256);
  const t0 = performance.now();
  const v0 = sim.clock.now();
  // Bursts of 64 messages every 20 ms of virtual time: a 3,200 msg/s publisher.
  for (let i = 0; i < messages; i++) {
    new DataView(payload.buffer).setUint32(0, i);
    origin.gossip.publish(payload);
    if (i % 64 === 63) sim.clock.advance(20);
  }
  let done = sim.clock.now();
  while (sim.clock.step()) {
    if (receivers.every((n) => n.inbox.length >= messages)) {
      done = sim.clock.now();
      break;
    }
  }
  const wallMs = performance.now() - t0;
  sim.clock.run();
  const deliveries = receivers.reduce((a, n) => a + n.inbox.length, 0);
  if (deliveries !== messages * receivers.length) throw new Error(`incomplete delivery: ${deliveries}`);
  const copies = receivers.reduce((a, n) => a + n.gossip.getStats().messagesReceived, 0);
  for (const n of sim.nodes) n.gossip.stop();
  return {
    wallMs,
    virtualMs: done - v0,
    deliveries,
    copiesPerDelivery: copies / deliveries,
    signatures: origin.gossip.getStats().batchesSigned,
    verifications: receivers.reduce((a, n) => a + n.gossip.getStats().signatureChecks, 0),
  };
}

const batched = authRun(1_000, 64);
// The per-message baseline costs about 14 ms per signature and 3 ms per verification per
// receiver; 128 messages (two bursts) keep it within the time budget. Throughput is per delivery.
const perMessage = authRun(128, 1);
const batchedRate = batched.deliveries / (batched.wallMs / 1000);
const perMessageRate = perMessage.deliveries / (perMessage.wallMs / 1000);
const note1 = 'in-memory links (5 ms), 20 nodes each dialling 4, real ML-DSA-65 identities, 64-message bursts every 20 ms';
record({
  package: PKG,
  name: 'authenticated gossip throughput, 20 nodes, 1,000 x 256 B',
  unit: 'deliveries/s',
  value: batchedRate,
  baseline: 'per-message ML-DSA-65 sign + verify',
  baselineValue: perMessageRate,
  goal: '>= 20',
  notes: `${note1}; batched: ${batched.signatures} signatures, ${batched.verifications} verifications for ${batched.deliveries} deliveries; baseline over 128 messages`,
});
record({
  package: PKG,
  name: 'authenticated gossip: time until 19 receivers hold 1,000 messages',
  unit: 'ms',
  value: batched.wallMs,
  baseline: 'per-message ML-DSA-65, extrapolated from 128 messages',
  baselineValue: (perMessage.wallMs * 1_000) / 128,
  lowerIsBetter: true,
  notes: `${note1}; virtual completion ${batched.virtualMs} ms`,
});
recordFigure(
  PKG,
  'authenticated gossip: extra copies per message per receiver (20 nodes)',
  'copies',
  batched.copiesPerDelivery - 1,
  `${note1}; the first burst floods while the tree is pruned`,
);

// ---- 2. dissemination at 1,000 nodes: Plumtree vs flooding ------------------------------------

const N = 1_000;
const ORIGINS = 4;
const PER_ORIGIN = 10;
const SPACING_MS = 40;
const topoRng = new SimRandom(1_000);
const delayRng = new SimRandom(77);
const identities: GossipIdentity[] = Array.from({ length: N }, (_, i) =>
  i < ORIGINS ? testIdentity(i, 'bench-1k') : relayIdentity(fakeNodeId(i, 'bench-1k')),
);
const verify = memoVerifier();
const sim = gossipSim(identities, { net: { delay: () => delayRng.range(1, 20) }, gossip: { verifySignature: verify } });
connectRandom(
  sim.net,
  identities.map((x) => x.nodeId),
  3,
  topoRng,
);
const degree = (2 * sim.net.edges().length) / N;

// Publish schedule shared by both runs: origin o publishes its k-th message at k*SPACING + 10*o ms.
const schedule: { at: number; origin: number; k: number }[] = [];
for (let k = 0; k < PER_ORIGIN; k++) for (let o = 0; o < ORIGINS; o++) schedule.push({ at: k * SPACING_MS + 10 * o, origin: o, k });

const t1 = performance.now();
const published: string[] = [];
const start = sim.clock.now();
for (const s of schedule) {
  sim.clock.advance(start + s.at - sim.clock.now());
  published.push((sim.nodes[s.origin] as GossipSim['nodes'][number]).gossip.publish(new TextEncoder().encode(`m-${s.origin}-${s.k}`)));
}
sim.clock.run(120_000);
const plumWall = performance.now() - t1;
let delivered = 0;
let maxHops = 0;
let hopSum = 0;
for (const n of sim.nodes) {
  for (const m of n.inbox) {
    delivered++;
    hopSum += m.hops;
    if (m.hops > maxHops) maxHops = m.hops;
  }
}
const expected = published.length * (N - 1);
const plumCopies = sim.nodes.reduce((a, n) => a + n.gossip.getStats().messagesReceived, 0) / expected;
const ihaveIds =
  ((sim.net.bytesByKind.get(GOSSIP_KIND.ihave) ?? 0) - 3 * (sim.net.framesByKind.get(GOSSIP_KIND.ihave) ?? 0)) / 33 / expected;

// Naive flooding: forward every new message to every neighbour but the sender, dedup by id.
const floodClock = new SimClock();
const flood = new SimNetwork(floodClock);
for (const id of identities) flood.addNode(id.nodeId);
for (const [a, b] of sim.net.edges()) flood.connect(a, b, sim.net.delayOf(a, b));
const floodSeen = new Map<string, Set<string>>();
let floodCopies = 0;
let floodMaxHops = 0;
for (const id of identities) {
  const link = flood.link(id.nodeId);
  const seen = new Set<string>();
  floodSeen.set(id.nodeId, seen);
  link.onFrame(0x1f, (from, body) => {
    floodCopies++;
    const msg = new TextDecoder().decode(body.subarray(1));
    if (seen.has(msg)) return;
    seen.add(msg);
    const hops = body[0] as number;
    if (hops > floodMaxHops) floodMaxHops = hops;
    const out = body.slice();
    out[0] = hops + 1;
    for (const p of link.peerIds()) if (p !== from) link.send(p, 0x1f, out);
  });
}
const floodStart = floodClock.now();
for (const s of schedule) {
  floodClock.advance(floodStart + s.at - floodClock.now());
  const origin = identities[s.origin] as GossipIdentity;
  const body = new Uint8Array([1, ...new TextEncoder().encode(`m-${s.origin}-${s.k}`)]);
  floodSeen.get(origin.nodeId)?.add(`m-${s.origin}-${s.k}`);
  const link = flood.link(origin.nodeId);
  for (const p of link.peerIds()) link.send(p, 0x1f, body);
}
floodClock.run(120_000);
let floodDelivered = 0;
for (const seen of floodSeen.values()) floodDelivered += seen.size;
floodDelivered -= published.length;

const note2 = `${N} nodes each dialling 3 (mean degree ${degree.toFixed(1)}), link delays 1-20 ms, ${ORIGINS} origins x ${PER_ORIGIN} messages ${SPACING_MS} ms apart; ML-DSA verification memoised across simulated nodes (${verify.real} real of ${verify.calls})`;
record({
  package: PKG,
  name: 'dissemination: copies received per node per message, 1,000 nodes',
  unit: 'copies',
  value: plumCopies,
  baseline: 'naive flooding',
  baselineValue: floodCopies / expected,
  lowerIsBetter: true,
  goal: '<= 2',
  notes: `${note2}; includes the first message of each origin, which floods while its tree is pruned; lazy IHAVE ids ${ihaveIds.toFixed(2)} per node per message`,
});
record({
  package: PKG,
  name: 'dissemination: delivery, 1,000 nodes',
  unit: '%',
  value: (100 * delivered) / expected,
  baseline: 'naive flooding',
  baselineValue: (100 * floodDelivered) / expected,
  goal: '100%',
  notes: note2,
});
record({
  package: PKG,
  name: 'dissemination: max hops, 1,000 nodes',
  unit: 'hops',
  value: maxHops,
  baseline: 'naive flooding (shortest-latency paths)',
  baselineValue: floodMaxHops,
  lowerIsBetter: true,
  notes: `${note2}; mean hops ${(hopSum / Math.max(1, delivered)).toFixed(2)}; Plumtree run ${plumWall.toFixed(0)} ms CPU`,
});
if (delivered !== expected) {
  process.stderr.write(`gossip bench: delivery ${delivered}/${expected}\n`);
  process.exitCode = 1;
}
