// Auto-dial from peer exchange (src/autodial.ts, docs/architecture.md "Auto-dial"), over the
// in-memory transport with a fake clock on the dialling node: growth to the target, the maxPeers
// cap, backoff of failing endpoints, the caps on what one neighbour can contribute, outbound
// subnet diversity, and a stop() that leaves no timers or sockets.
import { type NodeIdentity, randomBytes } from '@yak/crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AutoDialer, parseCandidateEndpoint } from '../src/autodial.js';
import {
  AUTODIAL_DEFAULTS,
  AutoDialEvents,
  BOUNDS,
  type DialOptions,
  LINK,
  type ListenOptions,
  MemoryHub,
  MemoryTransport,
  type Transport,
  type TransportConnection,
  type TransportListener,
} from '../src/index.js';
import { silentLogger } from '../src/link-layer.js';
import { MeshNetwork as Mesh } from '../src/network.js';
import { advertiser, ep, FakeClock, handshakeConfig, identity, memNode, own, stopAll, tick } from './mesh-helpers.js';

afterEach(stopAll);

/** Keep-alive far away: the fake clock jumps minutes, and these tests are about dialling. */
const DAY = 86_400_000;
/**
 * The dialling node runs on a fake clock years away from its neighbours' real clocks, which the
 * router's timestamped updates rightly refuse; auto-dial needs neither engine.
 */
const QUIET = { router: false, gossip: false } as const;

/** Counts the dials a node makes, with the fake time of each. */
class CountingTransport implements Transport {
  readonly scheme: string;
  readonly dials: { endpoint: string; at: number }[] = [];
  constructor(
    readonly inner: Transport,
    readonly clock: FakeClock,
  ) {
    this.scheme = inner.scheme;
  }
  listen(opts: ListenOptions, onConnection: (conn: TransportConnection) => void): Promise<TransportListener> {
    return this.inner.listen(opts, onConnection);
  }
  dial(endpoint: string, opts: DialOptions): Promise<TransportConnection> {
    this.dials.push({ endpoint, at: this.clock.now() });
    return this.inner.dial(endpoint, opts);
  }
  openConnections(): number {
    return this.inner.openConnections();
  }
  to(endpoint: string): number[] {
    return this.dials.filter((d) => d.endpoint === endpoint).map((d) => d.at);
  }
}

/** A started node whose timers run on `clock` and whose dials are counted. */
async function dialler(hub: MemoryHub, i: number, clock: FakeClock, opts: ConstructorParameters<typeof Mesh>[1], address: string) {
  const transport = new CountingTransport(new MemoryTransport({ hub, address }), clock);
  const m = own(new Mesh(identity(i), { wsPort: 0, transport, clock, pingInterval: DAY, ...QUIET, ...opts }));
  await m.start();
  return { m, transport };
}

/** Advance the fake clock in steps, letting in-memory deliveries run, until `pred` or `ms` pass. */
async function drive(clock: FakeClock, ms: number, step: number, pred: () => boolean = () => false): Promise<void> {
  for (let t = 0; t <= ms && !pred(); t += step) {
    clock.advance(step);
    await tick(4);
  }
}

/** Wait (advancing only by 0 ms, so the kick timers run) until `pred` holds. */
async function settle(clock: FakeClock, pred: () => boolean, rounds = 400, debug?: () => unknown): Promise<void> {
  for (let i = 0; i < rounds && !pred(); i++) {
    clock.advance(0);
    await tick(2);
  }
  if (!pred()) throw new Error(`did not settle: ${JSON.stringify(debug?.())}`);
}

function fakeNodeId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return `node-${Array.from(randomBytes(32), (b) => alphabet[b & 31]).join('')}`;
}

const _hsConfig = (id: NodeIdentity) => handshakeConfig(id);

/** Node 1 linked to nodes 2..6, each in its own /24: what a newcomer can learn from it by PEERS. */
async function hubWithFiveNeighbours(): Promise<{ hub: MemoryHub; b: Mesh }> {
  const hub = new MemoryHub();
  const b = await memNode(hub, 1, QUIET, '10.0.1.1');
  for (let i = 2; i <= 6; i++) {
    const o = await memNode(hub, i, QUIET, `10.0.${i}.1`);
    await b.connect(ep(o), { reconnect: false });
  }
  return { hub, b };
}

describe('auto-dial grows the node from peer exchange', () => {
  it('a node that knows one peer grows to targetPeers through PEERS, then stops; off by default', async () => {
    const { hub, b } = await hubWithFiveNeighbours();
    const clock = new FakeClock();
    const { m: a } = await dialler(hub, 0, clock, { autoDial: { targetPeers: 4 } }, '10.0.0.1');
    const connected: unknown[] = [];
    a.on(AutoDialEvents.CONNECTED, (info: unknown) => connected.push(info));
    await a.connect(ep(b), { reconnect: false });
    await settle(
      clock,
      () => a.getPeers().length >= 4,
      400,
      () => [a.getStats(), [...a.getKnownEndpoints()]],
    );
    // At target: more time brings no more dials, although one learned endpoint is left.
    await drive(clock, 60_000, 1000);
    const s = a.getStats();
    expect(a.getPeers().length).toBe(4);
    expect(s.autoDials).toBe(3);
    expect(s.autoDialsSucceeded).toBe(3);
    expect(s.autoDialFailures).toBe(0);
    expect(connected).toHaveLength(3);
    expect(a.getPeers().filter((p) => p.direction === 'outbound')).toHaveLength(4);
    // A neighbour cannot fake the auto-dial events with a payload type.
    b.sendTo(a.localId, { type: AutoDialEvents.CONNECTED });
    await tick(4);
    expect(connected).toHaveLength(3);

    // The library default: learned endpoints are kept but not dialled.
    const plain = await memNode(hub, 7, { ...QUIET, clock: new FakeClock(), pingInterval: DAY }, '10.0.7.1');
    await plain.connect(ep(b), { reconnect: false });
    await tick(20);
    expect(plain.getKnownEndpoints().size).toBeGreaterThanOrEqual(5);
    expect(plain.getPeers()).toHaveLength(1);
    expect(plain.getStats().autoDials).toBe(0);
  });

  it('stops at maxPeers (the default target is capped by it)', async () => {
    const { hub, b } = await hubWithFiveNeighbours();
    const clock = new FakeClock();
    const { m: a, transport } = await dialler(hub, 0, clock, { maxPeers: 3, autoDial: {} }, '10.0.0.1');
    await a.connect(ep(b), { reconnect: false });
    await settle(clock, () => a.getPeers().length >= 3);
    await drive(clock, 60_000, 1000);
    expect(a.getPeers()).toHaveLength(3);
    expect(a.getStats().autoDials).toBe(2);
    expect(transport.dials).toHaveLength(3);
  });

  it('options are validated', () => {
    const bad = [
      { maxPeers: 3, autoDial: { targetPeers: 4 } },
      { autoDial: { targetPeers: 0 } },
      { autoDial: { intervalMs: 0 } },
      { autoDial: { maxConcurrentDials: 1.5 } },
      { autoDial: 'on' as unknown as false },
    ];
    for (const o of bad) expect(() => new Mesh(identity(0), o)).toThrow(expect.objectContaining({ code: 'YAK_MESH_INVALID_ARGUMENT' }));
  });
});

describe('auto-dial is not an amplifier', () => {
  it('a failing endpoint is retried with exponential backoff, not hammered, even when re-advertised', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: a, transport } = await dialler(hub, 0, clock, { autoDial: { targetPeers: 3, intervalMs: 1000 } }, '10.0.0.1');
    const evil = await advertiser(hub, a, identity(1), '10.0.8.8');
    const dead = 'mem://10.0.9.9:4444';
    const failed: unknown[] = [];
    a.on(AutoDialEvents.FAILED, (info: unknown) => failed.push(info));
    evil.advertise([[fakeNodeId(), dead]]);
    await tick(4);
    // Ten minutes of fake time in 1 s steps, the endpoint re-advertised every 10 s.
    for (let t = 0; t < 600_000; t += 1000) {
      if (t % 10_000 === 0) evil.advertise([[fakeNodeId(), dead]]);
      clock.advance(1000);
      await tick(3);
    }
    const at = transport.to(dead);
    // Without backoff: 600 dials. With 10 s doubling, jittered by [0.5, 1], capped at 10 min: 5-10.
    expect(at.length).toBeGreaterThanOrEqual(5);
    expect(at.length).toBeLessThanOrEqual(10);
    const gaps = at.slice(1).map((x, i) => x - (at[i] as number));
    expect(gaps[0]).toBeGreaterThanOrEqual(AUTODIAL_DEFAULTS.backoffBaseMs / 2);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual((gaps[i - 1] as number) - 1000);
    const s = a.getStats();
    expect(s.autoDialFailures).toBe(at.length);
    expect(failed).toHaveLength(at.length);
    expect(failed[0]).toMatchObject({ endpoint: dead, code: 'YAK_MESH_CONNECTION_FAILED' });
    expect(s.autoDialBackoffs).toBe(1);
  });

  it('a peer advertising 1,000 endpoints cannot make the node hold or dial more than the caps', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const { m: a, transport } = await dialler(hub, 0, clock, { autoDial: { targetPeers: 6 } }, '10.0.0.1');
    const evil = await advertiser(hub, a, identity(1), '10.0.8.8');
    const entries: [string, string][] = [];
    for (let i = 0; i < 1000; i++) entries.push([fakeNodeId(), `mem://10.${1 + (i >> 8)}.${i & 255}.1:${5000 + i}`]);
    evil.advertise(entries);
    // Entries that are never candidates: this node, a foreign scheme, impossible hosts and ports.
    evil.advertise([
      [a.localId, 'mem://10.200.0.1:5000'],
      [fakeNodeId(), 'ws://10.201.0.1:5000'],
      [fakeNodeId(), 'mem://999.1.1.1:5000'],
      [fakeNodeId(), 'mem://10.202.0.1:70000'],
      [fakeNodeId(), 'mem://0.0.0.0:5000'],
    ]);
    await tick(10);
    expect(a.isConnectedTo(identity(1).nodeId)).toBe(true);
    let maxHeld = 0;
    for (let t = 0; t < 300_000; t += 1000) {
      clock.advance(1000);
      await tick(3);
      maxHeld = Math.max(maxHeld, a.getStats().autoDialCandidates);
    }
    const s = a.getStats();
    expect(maxHeld).toBeLessThanOrEqual(AUTODIAL_DEFAULTS.maxPerPeer);
    expect(s.autoDialRejectedEndpoints).toBe(5);
    expect(s.knownEndpoints).toBeLessThanOrEqual(BOUNDS.knownEndpoints);
    const distinct = new Set(transport.dials.map((d) => d.endpoint));
    expect(distinct.size).toBeLessThanOrEqual(AUTODIAL_DEFAULTS.maxPerPeer);
    for (const e of distinct) expect(e).toMatch(/^mem:\/\/10\.[1-4]\./);
    // Each held endpoint is backed off: in 5 minutes at most 6 dials each (10 s doubling).
    expect(transport.dials.length).toBeLessThanOrEqual(AUTODIAL_DEFAULTS.maxPerPeer * 6);
    expect(a.getPeers()).toHaveLength(1);
  });
});

describe('what auto-dial never dials', () => {
  it('this node, a banned node, a node already connected, or another endpoint of one', async () => {
    const hub = new MemoryHub();
    const x = await memNode(hub, 2, QUIET, '10.0.2.1');
    const y = await memNode(hub, 3, QUIET, '10.0.3.1');
    const clock = new FakeClock();
    const { m: a, transport } = await dialler(hub, 0, clock, { autoDial: { targetPeers: 6, intervalMs: 1000 } }, '10.0.0.1');
    await a.connect(ep(x), { reconnect: false });
    for (let i = 0; i < 50 && a.getStats().bans === 0; i++) a.reportMisbehavior(y.localId, 'test', 10);
    expect(a.getStats().bans).toBe(1);
    const evil = await advertiser(hub, a, identity(1), '10.0.8.8');
    evil.advertise([
      [x.localId, ep(x)],
      [fakeNodeId(), ep(x)],
      [y.localId, ep(y)],
      [fakeNodeId(), ep(a)],
    ]);
    await drive(clock, 30_000, 1000);
    expect(transport.dials.map((d) => d.endpoint)).toEqual([ep(x)]);
    expect(a.getStats().autoDials).toBe(0);
  });
});

describe('outbound subnet diversity', () => {
  it('prefers subnets with fewer links and never exceeds the per-subnet maximum', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1, QUIET, '10.0.9.1');
    // Listed in this order in b's PEERS: four in 10.0.1.0/24 first.
    const addrs = ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.2.1', '10.0.2.2', '10.0.3.1'];
    const eps: string[] = [];
    for (let i = 0; i < addrs.length; i++) {
      const o = await memNode(hub, 2 + i, QUIET, addrs[i]);
      eps.push(ep(o));
      await b.connect(ep(o), { reconnect: false });
    }
    const subnetOf = (addr: string) => addr.split('.').slice(0, 3).join('.');

    // One dial at a time, three to make: one per subnet, whatever the random tie-breaks.
    const c1 = new FakeClock();
    const { m: a1 } = await dialler(hub, 0, c1, { autoDial: { targetPeers: 4, maxConcurrentDials: 1 } }, '10.0.0.1');
    await a1.connect(ep(b), { reconnect: false });
    await settle(c1, () => a1.getPeers().length >= 4);
    const picked = a1
      .getPeers()
      .map((p) => p.remoteAddress)
      .filter((r) => r !== '10.0.9.1');
    expect(new Set(picked.map(subnetOf)).size).toBe(3);

    // a1 is an inbound neighbour of b that advertised its endpoint, so b would list it too.
    await a1.stop();
    await tick(10);
    expect(b.getPeers()).toHaveLength(7);

    // Room for everything: the fourth 10.0.1.x endpoint is never dialled (at most 3 per /24).
    const c2 = new FakeClock();
    const { m: a2, transport } = await dialler(hub, 9, c2, { autoDial: { targetPeers: 9 } }, '10.0.5.1');
    await a2.connect(ep(b), { reconnect: false });
    await settle(c2, () => a2.getPeers().length >= 7);
    await drive(c2, 120_000, 1000);
    const remotes = a2.getPeers().map((p) => p.remoteAddress);
    expect(remotes).toHaveLength(7);
    expect(remotes.filter((r) => subnetOf(r) === '10.0.1')).toHaveLength(3);
    const dialled1 = transport.dials.filter((d) => d.endpoint.startsWith('mem://10.0.1.'));
    expect(dialled1).toHaveLength(3);
    expect(a2.getStats().autoDialFailures).toBe(0);
  });

  it('loopback addresses are exempt, as for inbound links', async () => {
    const hub = new MemoryHub();
    const b = await memNode(hub, 1, QUIET);
    for (let i = 2; i <= 5; i++) await b.connect(ep(await memNode(hub, i, QUIET)), { reconnect: false });
    const clock = new FakeClock();
    const { m: a } = await dialler(hub, 0, clock, { autoDial: { targetPeers: 5 } }, '127.0.0.1');
    await a.connect(ep(b), { reconnect: false });
    await settle(clock, () => a.getPeers().length >= 5);
    expect(a.getPeers().every((p) => p.remoteAddress === '127.0.0.1')).toBe(true);
  });
});

describe('auto-dial does not churn', () => {
  it('a peer that accepts and drops the link at once is redialled with growing gaps, not in a loop', async () => {
    const hub = new MemoryHub();
    const x = await memNode(hub, 2, QUIET, '10.0.2.1');
    x.on('peer:connected', (p: { nodeId: string }) => x.disconnect(p.nodeId, 'go away'));
    const clock = new FakeClock();
    const { m: a, transport } = await dialler(hub, 0, clock, { autoDial: { targetPeers: 3, intervalMs: 1000 } }, '10.0.0.1');
    const evil = await advertiser(hub, a, identity(1), '10.0.8.8');
    evil.advertise([[x.localId, ep(x)]]);
    await drive(clock, 300_000, 1000);
    const n = transport.to(ep(x)).length;
    // Without the guard: a full handshake every tick (300). With it: gaps of 10 s doubling.
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThanOrEqual(7);
    expect(a.getStats().autoDialsSucceeded).toBe(n);
  });
});

describe('auto-dial life cycle', () => {
  it('at most maxConcurrentDials dials are in flight', async () => {
    const hub = new MemoryHub();
    const entries: [string, string][] = [];
    const listeners: { close(): Promise<void> }[] = [];
    for (let i = 0; i < 5; i++) {
      const t = new MemoryTransport({ hub, address: `10.0.${70 + i}.7` });
      const l = await t.listen({ host: '0.0.0.0', port: 0, maxPayload: LINK.maxRecordBytes }, () => {});
      listeners.push(l);
      entries.push([fakeNodeId(), `mem://10.0.${70 + i}.7:${l.port}`]);
    }
    const clock = new FakeClock();
    const { m: a, transport } = await dialler(hub, 0, clock, { autoDial: { maxConcurrentDials: 2, intervalMs: 1000 } }, '10.0.0.1');
    const evil = await advertiser(hub, a, identity(1), '10.0.8.8');
    evil.advertise(entries);
    // Five seconds of ticks, well inside the 10 s handshake timeout: the first two stay in flight.
    await drive(clock, 5000, 1000);
    expect(a.getStats().autoDials).toBe(2);
    expect(a.getStats().pendingHandshakes).toBe(2);
    expect(transport.dials).toHaveLength(2);
    await a.stop();
    expect(clock.pending).toBe(0);
    for (const l of listeners) await l.close();
  });

  it('stop() with a dial in flight leaves no timers, sockets or failures', async () => {
    const hub = new MemoryHub();
    // A listener that accepts and never answers: the auto-dial stays in its handshake.
    const held: TransportConnection[] = [];
    const silent = new MemoryTransport({ hub, address: '10.0.7.7' });
    const l = await silent.listen({ host: '0.0.0.0', port: 0, maxPayload: LINK.maxRecordBytes }, (c) => {
      held.push(c);
    });
    const clock = new FakeClock();
    const { m: a } = await dialler(hub, 0, clock, { autoDial: {} }, '10.0.0.1');
    const evil = await advertiser(hub, a, identity(1), '10.0.8.8');
    evil.advertise([[fakeNodeId(), `mem://10.0.7.7:${l.port}`]]);
    await settle(clock, () => a.getStats().autoDials === 1 && a.getStats().pendingHandshakes === 1);
    expect(held).toHaveLength(1);
    const failed: unknown[] = [];
    a.on(AutoDialEvents.FAILED, (info: unknown) => failed.push(info));
    await a.stop();
    expect(clock.pending).toBe(0);
    expect(a.openConnections()).toBe(0);
    expect(a.getStats().autoDialFailures).toBe(0);
    expect(failed).toHaveLength(0);
    await l.close();
  });
});

describe('one candidate per node id', () => {
  /** A dialer alone, whose dials resolve or reject as `ok` says, recording each endpoint. */
  function bare(ok: (endpoint: string) => boolean) {
    const clock = new FakeClock();
    const dials: string[] = [];
    const d = new AutoDialer({
      clock,
      log: silentLogger,
      localId: identity(0).nodeId,
      scheme: 'mem',
      targetPeers: 4,
      intervalMs: 1000,
      maxConcurrentDials: 3,
      subnets: false,
      running: () => true,
      linkCount: () => 0,
      linkAddresses: () => [],
      excluded: () => false,
      dial: (endpoint) => {
        dials.push(endpoint);
        return ok(endpoint) ? Promise.resolve() : Promise.reject(Object.assign(new Error('x'), { code: 'YAK_MESH_CONNECTION_FAILED' }));
      },
      report: () => {},
    });
    d.start();
    return { d, clock, dials };
  }

  it('a second neighbour cannot replace the first listing of a node with another endpoint until it fails', async () => {
    const x = fakeNodeId();
    const { d, clock, dials } = bare((e) => e === 'mem://10.0.2.1:2000');
    d.learn('n1', [{ nodeId: x, endpoint: 'mem://10.0.1.1:1000' }]);
    d.learn('n2', [{ nodeId: x, endpoint: 'mem://10.0.2.1:2000' }]);
    expect(d.getStats().autoDialCandidates).toBe(1);
    clock.advance(0);
    await tick(2);
    expect(dials).toEqual(['mem://10.0.1.1:1000']);
    // The first listing failed: now another endpoint for the node is taken.
    d.learn('n2', [{ nodeId: x, endpoint: 'mem://10.0.2.1:2000' }]);
    expect(d.getStats().autoDialCandidates).toBe(1);
    clock.advance(0);
    await tick(2);
    expect(dials).toEqual(['mem://10.0.1.1:1000', 'mem://10.0.2.1:2000']);
    d.stop();
    expect(clock.pending).toBe(0);
  });

  it("the node's own endpoint (INFO) replaces a listed one", async () => {
    const x = fakeNodeId();
    const { d, clock, dials } = bare(() => true);
    d.learn('n1', [{ nodeId: x, endpoint: 'mem://10.0.1.1:1000' }]);
    d.authoritative(x, 'mem://10.0.3.1:3000');
    expect(d.getStats().autoDialCandidates).toBe(1);
    clock.advance(0);
    await tick(2);
    expect(dials).toEqual(['mem://10.0.3.1:3000']);
    d.stop();
  });
});

describe('parseCandidateEndpoint', () => {
  it('accepts the transport scheme with an IP literal or host name and a valid port only', () => {
    expect(parseCandidateEndpoint('ws://192.0.2.1:9001', 'ws')).toEqual({ ip: '192.0.2.1' });
    expect(parseCandidateEndpoint('wss://node.example.org:443/', 'ws')).toEqual({ ip: undefined });
    expect(parseCandidateEndpoint('ws://[2001:db8::1]:9001', 'ws')).toEqual({ ip: '2001:db8::1' });
    expect(parseCandidateEndpoint('mem://10.0.0.1:40000', 'mem')).toEqual({ ip: '10.0.0.1' });
    for (const bad of [
      'mem://10.0.0.1:40000',
      'ws://192.0.2.1:0',
      'ws://192.0.2.1:65536',
      'ws://192.0.2.1',
      'ws://256.0.0.1:9001',
      'ws://01.2.3.4:9001',
      'ws://0.0.0.0:9001',
      'ws://[::]:9001',
      'ws://[192.0.2.1]:9001',
      'ws://-bad-.example:9001',
      'ws://a..b:9001',
      'ws://user@host:9001',
      'ws://host:9001/path',
      'http://host:9001',
      'ws://host:9001 ',
    ]) {
      expect(parseCandidateEndpoint(bad, 'ws'), bad).toBeUndefined();
    }
  });
});
