// Peer exchange (docs/protocol/link.md section 5.2): PEERS lists inbound neighbours that
// advertised an endpoint as well as outbound ones, is offered again on the peer-exchange timer
// but sent only when a link's list changed, never lists its recipient, holds at most 32 entries,
// and cannot be used to replace the endpoint a node is already known by. Every node runs on one
// fake clock over the in-memory transport.
import { utf8 } from '@yak/crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BOUNDS,
  MemoryHub,
  MemoryTransport,
  type MeshNetwork,
  type MeshNetworkOptions,
  MessageTypes,
  PEER_EXCHANGE,
} from '../src/index.js';
import { MeshNetwork as Mesh } from '../src/network.js';
import { advertiser, ep, FakeClock, identity, own, stopAll, TapTransport, tick } from './mesh-helpers.js';

afterEach(stopAll);

const DAY = 86_400_000;
const INTERVAL = PEER_EXCHANGE.intervalMs;

/** A node on the shared fake clock: no keep-alive within a test, no gossip or router traffic. */
async function peer(hub: MemoryHub, i: number, clock: FakeClock, address: string, opts: MeshNetworkOptions = {}) {
  const tap = new TapTransport(new MemoryTransport({ hub, address }));
  let sent = 0;
  tap.onSend = (d) => {
    sent++;
    return d;
  };
  const m = own(new Mesh(identity(i), { wsPort: 0, transport: tap, clock, pingInterval: DAY, router: false, gossip: false, ...opts }));
  await m.start();
  return {
    m,
    /** Transport messages (sealed records) this node has sent so far. */
    sent: () => sent,
  };
}

/** Run zero-delay timers (auto-dial kicks) and in-memory deliveries until `pred` holds. */
async function settle(clock: FakeClock, pred: () => boolean, what: string, rounds = 400): Promise<void> {
  for (let i = 0; i < rounds && !pred(); i++) {
    clock.advance(0);
    await tick(2);
  }
  if (!pred()) throw new Error(`did not settle: ${what}`);
}

/** Advance the fake clock by `ms` and let deliveries and the dials they cause run. */
async function pass(clock: FakeClock, ms: number): Promise<void> {
  clock.advance(ms);
  await tick(6);
  for (let i = 0; i < 20; i++) {
    clock.advance(0);
    await tick(2);
  }
}

/** PEERS entries each node receives, as the `peers` event reports them. */
function recordPeers(m: MeshNetwork): { from: string; ids: string[] }[] {
  const got: { from: string; ids: string[] }[] = [];
  m.on(MessageTypes.PEERS, (msg: unknown, _p: unknown, from: unknown) => {
    got.push({ from: from as string, ids: (msg as { peers: { nodeId: string }[] }).peers.map((e) => e.nodeId) });
  });
  return got;
}

describe('PEERS lists inbound neighbours that advertised an endpoint', () => {
  it('a newcomer learns, from a hub that only accepts links, a node that connected to the hub and dials it', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: h } = await peer(hub, 0, clock, '10.0.0.1');
    const { m: a } = await peer(hub, 1, clock, '10.0.1.1');
    await a.connect(ep(h), { reconnect: false });
    await settle(clock, () => h.getPeers()[0]?.endpoint === ep(a), 'hub learns the endpoint a advertises');
    const { m: c } = await peer(hub, 2, clock, '10.0.2.1', { autoDial: { targetPeers: 4 } });
    await c.connect(ep(h), { reconnect: false });
    await settle(clock, () => c.isConnectedTo(a.localId), 'c auto-dials a');
    // The hub never dialled anyone: a's entry came from a's INFO frame on an inbound link.
    expect(h.getPeers().every((p) => p.direction === 'inbound')).toBe(true);
    expect(c.getKnownEndpoints().get(a.localId)).toBe(ep(a));
    expect(c.getPeers().find((p) => p.nodeId === a.localId)?.direction).toBe('outbound');
    expect(c.getStats().autoDialsSucceeded).toBe(1);
  });

  it('a node that advertises no endpoint (noListen) is not listed', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: h } = await peer(hub, 0, clock, '10.0.0.1');
    const { m: quiet } = await peer(hub, 1, clock, '10.0.1.1', { noListen: true });
    await quiet.connect(ep(h), { reconnect: false });
    const { m: c } = await peer(hub, 2, clock, '10.0.2.1');
    const got = recordPeers(c);
    await c.connect(ep(h), { reconnect: false });
    await pass(clock, INTERVAL);
    expect(h.getPeers()).toHaveLength(2);
    expect(got).toHaveLength(0);
    expect(c.getKnownEndpoints().has(quiet.localId)).toBe(false);
  });
});

describe('loopback endpoints stay on this machine', () => {
  it('a remote node advertising 127.0.0.1 is not listed; loopback neighbours are listed to loopback recipients only', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: h } = await peer(hub, 0, clock, '127.0.0.1');
    // A remote node whose INFO says 127.0.0.1 (default host 0.0.0.0 without publicHost does this).
    const { m: liar } = await peer(hub, 1, clock, '10.0.1.1', { publicHost: '127.0.0.1' });
    await liar.connect(ep(h), { reconnect: false });
    // A node on the hub's machine.
    const { m: local } = await peer(hub, 2, clock, '127.0.0.1');
    await local.connect(ep(h), { reconnect: false });
    await settle(clock, () => h.getPeers().every((p) => p.endpoint !== undefined), 'hub learns both endpoints');
    const { m: remote } = await peer(hub, 3, clock, '10.0.3.1');
    const { m: near } = await peer(hub, 4, clock, '127.0.0.1');
    await remote.connect(ep(h), { reconnect: false });
    await near.connect(ep(h), { reconnect: false });
    await pass(clock, INTERVAL);
    expect(near.getKnownEndpoints().get(local.localId)).toBe(ep(local));
    expect(near.getKnownEndpoints().has(liar.localId)).toBe(false);
    expect(remote.getKnownEndpoints().has(local.localId)).toBe(false);
    expect(remote.getKnownEndpoints().has(liar.localId)).toBe(false);
    expect(remote.getKnownEndpoints().has(near.localId)).toBe(false);
    // A non-loopback endpoint goes to every recipient.
    expect(local.getKnownEndpoints().get(remote.localId)).toBe(ep(remote));
  });
});

describe('PEERS is sent again when a link list changes, and only then', () => {
  it('a link formed after the newcomer joined is announced on the next exchange and auto-dialled', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: h } = await peer(hub, 0, clock, '10.0.0.1');
    const { m: c } = await peer(hub, 1, clock, '10.0.1.1', { autoDial: { targetPeers: 4 } });
    await c.connect(ep(h), { reconnect: false });
    await pass(clock, 0);
    const { m: d } = await peer(hub, 2, clock, '10.0.2.1');
    await d.connect(ep(h), { reconnect: false });
    await settle(clock, () => h.getPeers().find((p) => p.nodeId === d.localId)?.endpoint === ep(d), 'hub learns d');
    // Not before the exchange timer.
    expect(c.getKnownEndpoints().has(d.localId)).toBe(false);
    await pass(clock, INTERVAL);
    await settle(clock, () => c.isConnectedTo(d.localId), 'c auto-dials d');
    expect(c.getKnownEndpoints().get(d.localId)).toBe(ep(d));
  });

  it('a stable mesh sends no PEERS (no records at all) over many intervals; a new link brings one round', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const nodes: { m: MeshNetwork; sent: () => number }[] = [];
    for (let i = 0; i < 5; i++) nodes.push(await peer(hub, i, clock, `10.0.${i}.1`));
    const [n0, n1, n2, n3, n4] = nodes.map((n) => n.m) as [MeshNetwork, MeshNetwork, MeshNetwork, MeshNetwork, MeshNetwork];
    // A ring plus a chord, links in both directions.
    await n0.connect(ep(n1), { reconnect: false });
    await n2.connect(ep(n1), { reconnect: false });
    await n2.connect(ep(n3), { reconnect: false });
    await n4.connect(ep(n3), { reconnect: false });
    await n0.connect(ep(n4), { reconnect: false });
    await n1.connect(ep(n3), { reconnect: false });
    // Endpoints learned from INFO after link-up change some lists once: let one exchange carry them.
    await pass(clock, INTERVAL);
    await pass(clock, INTERVAL);
    const exchanges = () => nodes.reduce((s, n) => s + n.m.getStats().peerExchangesSent, 0);
    const records = () => nodes.reduce((s, n) => s + n.sent(), 0);
    const e0 = exchanges();
    const r0 = records();
    expect(e0).toBeGreaterThan(0);
    for (let i = 0; i < 30; i++) await pass(clock, INTERVAL);
    expect(exchanges()).toBe(e0);
    expect(records()).toBe(r0);

    // Control: a new link changes every neighbour list of n2 and n4, which then send one round.
    await n2.connect(ep(n4), { reconnect: false });
    await pass(clock, 0);
    const e1 = exchanges();
    await pass(clock, INTERVAL);
    const e2 = exchanges();
    expect(e2).toBeGreaterThan(e1);
    for (let i = 0; i < 10; i++) await pass(clock, INTERVAL);
    expect(exchanges()).toBe(e2);
  });

  it('peerExchangeIntervalMs sets the period and is validated', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: h } = await peer(hub, 0, clock, '10.0.0.1', { peerExchangeIntervalMs: 5_000 });
    const { m: c } = await peer(hub, 1, clock, '10.0.1.1');
    await c.connect(ep(h), { reconnect: false });
    const { m: d } = await peer(hub, 2, clock, '10.0.2.1');
    await d.connect(ep(h), { reconnect: false });
    await pass(clock, 0);
    expect(c.getKnownEndpoints().has(d.localId)).toBe(false);
    await pass(clock, 5_000);
    expect(c.getKnownEndpoints().get(d.localId)).toBe(ep(d));
    for (const bad of [0, 9, 1.5, 86_400_001]) {
      expect(() => new Mesh(identity(0), { peerExchangeIntervalMs: bad })).toThrow(
        expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }),
      );
    }
  });
});

describe('what PEERS lists', () => {
  it('never the recipient, at most 32 entries, with 40 neighbours', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const N = 40;
    const { m: h } = await peer(hub, 0, clock, '10.1.0.1', { maxPeers: N + 5 });
    const got = new Map<string, { from: string; ids: string[] }[]>();
    const ns: MeshNetwork[] = [];
    for (let i = 1; i <= N; i++) {
      const { m } = await peer(hub, i, clock, `10.2.${i}.1`);
      got.set(m.localId, recordPeers(m));
      ns.push(m);
      // Half dialled by the hub, half dialling it: both kinds are listed.
      if (i % 2) await h.connect(ep(m), { reconnect: false });
      else await m.connect(ep(h), { reconnect: false });
    }
    await pass(clock, INTERVAL);
    await pass(clock, INTERVAL);
    expect(h.getPeers()).toHaveLength(N);
    let full = 0;
    for (const m of ns) {
      const frames = got.get(m.localId) ?? [];
      for (const f of frames) {
        expect(f.from).toBe(h.localId);
        expect(f.ids.length).toBeLessThanOrEqual(BOUNDS.peersPerFrame);
        expect(f.ids).not.toContain(m.localId);
        expect(new Set(f.ids).size).toBe(f.ids.length);
        if (f.ids.length === BOUNDS.peersPerFrame) full++;
      }
    }
    // Every neighbour sees a full list once the hub has 33 or more neighbours with endpoints.
    expect(full).toBeGreaterThanOrEqual(N - BOUNDS.peersPerFrame);
    expect(h.getStats().violations).toBe(0);
  });
});

describe('a neighbour cannot replace the endpoint a node is known by', () => {
  it('a fake endpoint for a node learned earlier is ignored, and auto-dial dials the real one', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: h } = await peer(hub, 0, clock, '10.0.0.1');
    const { m: a } = await peer(hub, 1, clock, '10.0.1.1');
    await a.connect(ep(h), { reconnect: false });
    await settle(clock, () => h.getPeers()[0]?.endpoint === ep(a), 'hub learns a');
    const dials: string[] = [];
    const inner = new MemoryTransport({ hub, address: '10.0.2.1' });
    const orig = inner.dial.bind(inner);
    inner.dial = (e, o) => {
      dials.push(e);
      return orig(e, o);
    };
    const c = own(
      new Mesh(identity(2), {
        wsPort: 0,
        transport: inner,
        clock,
        pingInterval: DAY,
        router: false,
        gossip: false,
        autoDial: { targetPeers: 4 },
      }),
    );
    await c.start();
    await c.connect(ep(h), { reconnect: false });
    await tick(6);
    expect(c.getKnownEndpoints().get(a.localId)).toBe(ep(a));
    // The auto-dial kick has not run yet (fake clock): the fake entry arrives first.
    const fake = 'mem://10.0.9.9:4444';
    const evil = await advertiser(hub, c, identity(3), '10.0.3.1');
    evil.advertise([[a.localId, fake]]);
    await tick(6);
    expect(c.getKnownEndpoints().get(a.localId)).toBe(ep(a));
    expect(c.getStats().peerEndpointConflicts).toBe(1);
    await settle(clock, () => c.isConnectedTo(a.localId), 'c dials a');
    await pass(clock, INTERVAL);
    expect(dials).not.toContain(fake);
    expect(c.getStats().violations).toBe(0);
  });

  it('the first listing is kept until a dial of it fails; what the node says about itself wins', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: c } = await peer(hub, 0, clock, '10.0.0.1');
    const { m: a } = await peer(hub, 1, clock, '10.0.1.1');
    const evil = await advertiser(hub, c, identity(2), '10.0.2.1');
    const honest = await advertiser(hub, c, identity(3), '10.0.3.1');
    const fake = 'mem://10.0.9.9:4444';
    evil.advertise([[a.localId, fake]]);
    await tick(6);
    honest.advertise([[a.localId, ep(a)]]);
    await tick(6);
    expect(c.getKnownEndpoints().get(a.localId)).toBe(fake);
    // a connects and advertises its own endpoint in INFO: that replaces any listing.
    await a.connect(ep(c), { reconnect: false });
    await settle(clock, () => c.getKnownEndpoints().get(a.localId) === ep(a), 'INFO wins');
    evil.advertise([[a.localId, fake]]);
    await tick(6);
    expect(c.getKnownEndpoints().get(a.localId)).toBe(ep(a));
  });

  it('after an auto-dial of the first listing fails, another listing is taken and dialled', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: c } = await peer(hub, 0, clock, '10.0.0.1', { autoDial: { targetPeers: 4 } });
    const { m: a } = await peer(hub, 1, clock, '10.0.1.1');
    const evil = await advertiser(hub, c, identity(2), '10.0.2.1');
    const honest = await advertiser(hub, c, identity(3), '10.0.3.1');
    const fake = 'mem://10.0.9.9:4444';
    evil.advertise([[a.localId, fake]]);
    await tick(6);
    honest.advertise([[a.localId, ep(a)]]);
    await tick(6);
    expect(c.getKnownEndpoints().get(a.localId)).toBe(fake);
    await settle(clock, () => c.getStats().autoDialFailures === 1, 'the fake endpoint fails');
    expect(c.getKnownEndpoints().has(a.localId)).toBe(false);
    honest.advertise([[a.localId, ep(a)]]);
    await tick(6);
    await settle(clock, () => c.isConnectedTo(a.localId), 'c dials the real endpoint');
    expect(c.getKnownEndpoints().get(a.localId)).toBe(ep(a));
  });
});

describe('inbound PEERS validation', () => {
  it('oversized and malformed frames are violations and change nothing', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: c } = await peer(hub, 0, clock, '10.0.0.1');
    const id = identity(10).nodeId;
    const tooMany: [string, string][] = [];
    for (let i = 0; i <= BOUNDS.peersPerFrame; i++) tooMany.push([id, `mem://10.3.${i}.1:5000`]);
    const bad: [string, string][][] = [
      tooMany,
      [['not-a-node-id', 'mem://10.3.0.1:5000']],
      [[id, 'http://10.3.0.1:5000']],
      [[id, 'mem://10.3.0.1:5000 extra']],
    ];
    // One neighbour per frame: two violations get a neighbour banned (reputation), which is the point.
    for (let k = 0; k < bad.length; k++) {
      const evil = await advertiser(hub, c, identity(1 + k), `10.0.${1 + k}.1`);
      // As sent, in one frame: the first case is one line over the frame limit.
      evil.raw(utf8((bad[k] as [string, string][]).map(([n, e]) => `${n} ${e}`).join('\n')));
      await tick(6);
      expect(c.getStats().violations).toBe(k + 1);
    }
    expect(c.getKnownEndpoints().size).toBe(0);
  });
});
