// MeshNetwork over the in-memory transport: the same protocol code as over ws, driven fast.
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectionError,
  InvalidArgumentError,
  MemoryHub,
  MemoryTransport,
  MeshEvents,
  MeshNetwork,
  MessageTypes,
  NotRunningError,
  PayloadTooLargeError,
  PortUnavailableError,
  RejectedError,
  StoreFullError,
  UnreachableError,
} from '../src/index.js';
import { ep, FakeClock, identity, memNode, next, own, stopAll, TapTransport, tick, until } from './mesh-helpers.js';

afterEach(stopAll);

describe('MeshNetwork over the in-memory transport', () => {
  it('connects, exchanges direct and broadcast messages, reports peers and stats', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0);
    const b = await memNode(hub, 1);
    const joined = next(b, MeshEvents.PEER_CONNECTED);
    const rec = await a.connect(ep(b));
    expect(rec.nodeId).toBe(b.localId);
    await joined;
    expect(a.getPeers().map((p) => p.nodeId)).toEqual([b.localId]);
    const pa = a.getPeers()[0];
    expect(pa?.direction).toBe('outbound');
    expect(pa?.handshake).toBe('first');
    expect(b.getPeers()[0]?.direction).toBe('inbound');

    const typed = next(b, 'chat');
    a.sendTo(b.localId, { type: 'chat', text: 'hi' });
    const [payload, , from] = await typed;
    expect(payload).toEqual({ type: 'chat', text: 'hi' });
    expect(from).toBe(a.localId);

    const g = next(a, MessageTypes.GOSSIP);
    b.broadcast({ n: 1 });
    const [gm] = (await g) as [{ payload: unknown }];
    expect(gm.payload).toEqual({ n: 1 });

    const s = a.getStats();
    expect(s.peers).toBe(1);
    expect(s.handshakesCompleted).toBe(1);
    expect(s.framesSent).toBeGreaterThan(0);
    expect(s.recordsReceived).toBeGreaterThan(0);
  });

  it('reserved event names cannot be spoofed by a payload type', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0);
    const b = await memNode(hub, 1);
    await a.connect(ep(b));
    let spoofed = 0;
    b.on(MeshEvents.PEER_CONNECTED, () => spoofed++);
    b.on(MessageTypes.GOSSIP, () => spoofed++);
    const m = next(b, 'message');
    a.sendTo(b.localId, { type: 'gossip' });
    a.sendTo(b.localId, { type: 'peer:connected' });
    await m;
    await tick(3);
    expect(spoofed).toBe(0);
  });

  it('resumes with a ticket on reconnect, falls back to the cached record when the ticket is gone', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0);
    const b = await memNode(hub, 1);
    await a.connect(ep(b), { reconnect: false });
    a.disconnect(b.localId);
    await until(() => !b.isConnectedTo(a.localId));
    await a.connect(ep(b), { reconnect: false });
    expect(a.getPeers()[0]?.handshake).toBe('resume');
    a.disconnect(b.localId);
    await until(() => !b.isConnectedTo(a.localId));
    // The responder restarts on the same address: its tickets are gone, its record is the same.
    const where = ep(b);
    const port = Number(where.split(':').pop());
    await b.stop();
    const b2 = own(new MeshNetwork(identity(1), { wsPort: port, transport: new MemoryTransport({ hub }) }));
    await b2.start();
    await a.connect(where, { reconnect: false });
    expect(a.getPeers()[0]?.handshake).toBe('known');
    const st = a.getStats();
    expect(st.handshakesFirstContact).toBe(1);
    expect(st.handshakesResumed).toBe(1);
    expect(st.handshakesKnown).toBe(1);
  });

  it('a new identity on a known endpoint is accepted as first contact unless pinned', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0);
    const b = await memNode(hub, 1);
    const where = ep(b);
    const port = Number(where.split(':').pop());
    await a.connect(where, { reconnect: false });
    a.disconnect(b.localId);
    await b.stop();
    const c = own(new MeshNetwork(identity(2), { wsPort: port, transport: new MemoryTransport({ hub }) }));
    await c.start();
    await expect(a.connect(where, { reconnect: false, expectedNodeId: identity(1).nodeId })).rejects.toMatchObject({
      code: 'YAK_MESH_IDENTITY_MISMATCH',
    });
    const rec = await a.connect(where, { reconnect: false });
    expect(rec.nodeId).toBe(identity(2).nodeId);
  });

  it('port fallback: a taken port moves to the next one; none free is a typed error', async () => {
    const hub = new MemoryHub();
    const t = () => new MemoryTransport({ hub });
    const a = own(new MeshNetwork(identity(0), { wsPort: 9001, transport: t() }));
    const b = own(new MeshNetwork(identity(1), { wsPort: 9001, transport: t() }));
    await a.start();
    await b.start();
    expect(ep(a)).toBe('mem://127.0.0.1:9001');
    expect(ep(b)).toBe('mem://127.0.0.1:9002');
    const c = own(new MeshNetwork(identity(2), { wsPort: 9001, portRetries: 1, transport: t() }));
    await expect(c.start()).rejects.toBeInstanceOf(PortUnavailableError);
  });

  it('maxPeers is enforced on both sides', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0, { maxPeers: 1 });
    const b = await memNode(hub, 1);
    const c = await memNode(hub, 2);
    await b.connect(ep(a));
    await expect(c.connect(ep(a), { reconnect: false })).rejects.toBeInstanceOf(RejectedError);
    await expect(a.connect(ep(c), { reconnect: false })).rejects.toMatchObject({ reason: 'too_many_peers' });
    expect(a.getPeers().length).toBe(1);
  });

  it('argument and state errors are typed', async () => {
    const hub = new MemoryHub();
    const idle = own(new MeshNetwork(identity(0), { wsPort: 0, transport: new MemoryTransport({ hub }) }));
    await expect(idle.connect('mem://127.0.0.1:1')).rejects.toBeInstanceOf(NotRunningError);
    expect(() => idle.broadcast({})).toThrow(NotRunningError);
    expect(() => new MeshNetwork(identity(0), { maxPeers: 0 })).toThrow(InvalidArgumentError);
    expect(() => new MeshNetwork(identity(0), { networkFingerprint: new Uint8Array(65) })).toThrow(InvalidArgumentError);
    const a = await memNode(hub, 1);
    await expect(a.connect('http://x')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(a.connect('mem://127.0.0.1:1', { reconnect: false })).rejects.toBeInstanceOf(ConnectionError);
    expect(() => a.sendTo(identity(3).nodeId, {})).toThrow(UnreachableError);
    expect(() => a.sendTo('nope', {})).toThrow(InvalidArgumentError);
    expect(() => a.send(identity(3).nodeId, 0x01, new Uint8Array(1))).toThrow(RangeError);
    expect(a.send(identity(3).nodeId, 0x50, new Uint8Array(1))).toBe(false);
    const b = await memNode(hub, 2);
    await a.connect(ep(b), { reconnect: false });
    // Oversized: a frame above 512 KiB is refused locally, a payload above it is a typed error.
    expect(a.send(b.localId, 0x50, new Uint8Array(512 * 1024 + 1))).toBe(false);
    expect(() => a.sendTo(b.localId, new Uint8Array(600 * 1024))).toThrow(PayloadTooLargeError);
    expect(() => a.sendTo(b.localId, { f: () => 1, n: 10n } as unknown)).toThrow(TypeError);
  });

  it('the in-memory transport applies its latency on the injected clock', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const mk = (i: number) =>
      own(new MeshNetwork(identity(i), { wsPort: 0, clock, transport: new MemoryTransport({ hub, clock, latencyMs: 40 }) }));
    const a = mk(0);
    const b = mk(1);
    await a.start();
    await b.start();
    const p = a.connect(ep(b), { reconnect: false });
    // First contact is two round trips: nothing completes before 4 one-way delays.
    for (let t = 0; t < 150; t += 10) {
      clock.advance(10);
      await tick(2);
    }
    expect(a.isConnectedTo(b.localId)).toBe(false);
    for (let t = 0; t < 200 && !a.isConnectedTo(b.localId); t += 10) {
      clock.advance(10);
      await tick(2);
    }
    await p;
    expect(a.isConnectedTo(b.localId)).toBe(true);
  });

  it('aborting connect rejects with AbortedError and leaves no link', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0);
    const b = await memNode(hub, 1);
    const ctl = new AbortController();
    const p = a.connect(ep(b), { signal: ctl.signal, reconnect: false });
    ctl.abort();
    await expect(p).rejects.toMatchObject({ code: 'YAK_MESH_ABORTED' });
    await tick(5);
    expect(a.getPeers().length).toBe(0);
  });
});

describe('gossip and routing engines', () => {
  it('sendTo reaches a node two hops away through the router; broadcast reaches it through gossip', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0);
    const b = await memNode(hub, 1);
    const c = await memNode(hub, 2);
    await a.connect(ep(b));
    await c.connect(ep(b));
    expect(a.isConnectedTo(c.localId)).toBe(false);
    const direct = next(c, 'message');
    await until(
      () => {
        try {
          return a.sendTo(c.localId, { over: 'two hops' });
        } catch (e) {
          if (e instanceof UnreachableError) return false;
          throw e;
        }
      },
      5000,
      'route to c',
    );
    const [msg, , from] = (await direct) as [{ payload: unknown; authenticated: boolean }, unknown, string];
    expect(from).toBe(a.localId);
    expect(msg.payload).toEqual({ over: 'two hops' });
    // Routed: the source is what it claimed, not proven by a link of its own.
    expect(msg.authenticated).toBe(false);
    const overLink = next(b, 'message');
    a.sendTo(b.localId, { over: 'one hop' });
    const [m1] = (await overLink) as [{ authenticated: boolean }];
    expect(m1.authenticated).toBe(true);
    const g = next(c, MessageTypes.GOSSIP);
    a.broadcast({ to: 'everyone' });
    const [gm] = (await g) as [{ origin: string; payload: unknown; hops: number }];
    expect(gm.origin).toBe(a.localId);
    expect(gm.payload).toEqual({ to: 'everyone' });
    expect(gm.hops).toBe(2);
    expect(a.getStats().router).toBeDefined();
    expect(a.getStats().gossip).toBeDefined();
  });
});

describe('LinkLayer contract', () => {
  it('delivers frames by kind, reports peers up and down, refuses reserved kinds', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0);
    const b = await memNode(hub, 1);
    const events: string[] = [];
    b.onPeer((e, p) => events.push(`${e}:${p.nodeId === a.localId}`));
    const got: [string, number[]][] = [];
    const off = b.onFrame(0x52, (from, body) => got.push([from, [...body]]));
    await a.connect(ep(b), { reconnect: false });
    await until(() => b.peers().length === 1);
    expect(a.send(b.localId, 0x52, Uint8Array.of(7, 8))).toBe(true);
    await until(() => got.length === 1);
    expect(got[0]).toEqual([a.localId, [7, 8]]);
    off();
    a.send(b.localId, 0x52, Uint8Array.of(9));
    await tick(5);
    expect(got.length).toBe(1);
    expect(() => b.onFrame(0x02, () => {})).toThrow(RangeError);
    expect(() => b.onFrame(0x30, () => {})).toThrow(RangeError);
    a.disconnect(b.localId);
    await until(() => events.length === 2);
    expect(events).toEqual(['up:true', 'down:true']);
  });

  it('reportMisbehavior lowers reputation until the peer is banned and disconnected', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0);
    const b = await memNode(hub, 1);
    await a.connect(ep(b), { reconnect: false });
    await until(() => b.isConnectedTo(a.localId));
    for (let i = 0; i < 5 && b.isConnectedTo(a.localId); i++) b.reportMisbehavior(a.localId, 'forged gossip', 5);
    expect(b.isConnectedTo(a.localId)).toBe(false);
    expect(b.getStats().bans).toBeGreaterThan(0);
    await until(() => !a.isConnectedTo(b.localId));
    await expect(a.connect(ep(b), { reconnect: false })).rejects.toMatchObject({ reason: 'banned' });
  });
});

describe('keep-alive and reconnect (fake clock)', () => {
  it('pings measure RTT; a silent link is declared dead after 2.5 intervals', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const tapA = new TapTransport(new MemoryTransport({ hub, clock }));
    const a = own(new MeshNetwork(identity(0), { wsPort: 0, transport: tapA, clock, pingInterval: 1000, reconnect: false }));
    const b = own(new MeshNetwork(identity(1), { wsPort: 0, transport: new MemoryTransport({ hub, clock }), clock, pingInterval: 1000 }));
    await a.start();
    await b.start();
    await a.connect(ep(b));
    await until(() => b.isConnectedTo(a.localId));
    const pong = next(a, MessageTypes.PONG);
    clock.advance(1000);
    await pong;
    expect(a.getPeers()[0]?.rttMs).toBe(0);
    // a goes silent (drops everything it sends): b must notice.
    tapA.onSend = () => null;
    const down = next(b, MeshEvents.PEER_DISCONNECTED);
    for (let i = 0; i < 4; i++) {
      clock.advance(1000);
      await tick(3);
    }
    const [, reason] = await down;
    expect(reason).toBe('keep-alive timeout');
  });

  it('reconnects to a configured peer with exponential backoff and jitter', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const b = own(new MeshNetwork(identity(1), { wsPort: 7000, transport: new MemoryTransport({ hub, clock }), clock }));
    await b.start();
    const a = own(
      new MeshNetwork(identity(0), {
        wsPort: 0,
        transport: new MemoryTransport({ hub, clock }),
        clock,
        peers: ['mem://127.0.0.1:7000'],
        reconnect: { baseDelayMs: 100, maxDelayMs: 800 },
      }),
    );
    await a.start();
    await until(() => a.isConnectedTo(b.localId));
    await b.stop();
    await until(() => !a.isConnectedTo(b.localId));
    // b is down: a retries with growing delays. Count attempts over simulated time.
    const before = a.getStats().reconnectAttempts;
    for (let t = 0; t < 3000; t += 50) {
      clock.advance(50);
      await tick(2);
    }
    const attempts = a.getStats().reconnectAttempts - before;
    // Delays 50-100, 100-200, 200-400, 400-800, then capped at 400-800: 5 to 10 attempts in 3 s.
    expect(attempts).toBeGreaterThanOrEqual(4);
    expect(attempts).toBeLessThanOrEqual(10);
    const b2 = own(new MeshNetwork(identity(1), { wsPort: 7000, transport: new MemoryTransport({ hub, clock }), clock }));
    await b2.start();
    for (let t = 0; t < 2000 && !a.isConnectedTo(b2.localId); t += 50) {
      clock.advance(50);
      await tick(2);
    }
    expect(a.isConnectedTo(b2.localId)).toBe(true);
    await a.stop();
    await b2.stop();
    expect(clock.pending).toBe(0);
  });

  it('stop() leaves no timers, no connections, and refuses further use', async () => {
    const hub = new MemoryHub();
    const clock = new FakeClock();
    const mk = (i: number, peers: string[] = []) =>
      own(new MeshNetwork(identity(i), { wsPort: 7100 + i, transport: new MemoryTransport({ hub, clock }), clock, peers }));
    const a = mk(0);
    const b = mk(1, ['mem://127.0.0.1:7100']);
    const c = mk(2, ['mem://127.0.0.1:7100', 'mem://127.0.0.1:7101', 'mem://127.0.0.1:7999']);
    await a.start();
    await b.start();
    await c.start();
    await until(() => a.getPeers().length === 2 && c.getPeers().length === 2);
    clock.advance(10);
    await Promise.all([a.stop(), b.stop(), c.stop()]);
    expect(clock.pending).toBe(0);
    for (const m of [a, b, c]) expect(m.openConnections()).toBe(0);
    expect(hub.size).toBe(0);
    await expect(a.start()).rejects.toBeInstanceOf(NotRunningError);
  });
});

describe('replicated store (sync_request / sync_response / replicate)', () => {
  it('puts replicate along a line of nodes; later joiners catch up by sync', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0);
    const b = await memNode(hub, 1);
    const c = await memNode(hub, 2);
    await b.connect(ep(a));
    await c.connect(ep(b));
    const seen = next(c, MessageTypes.REPLICATE);
    a.store.put('config/x', Uint8Array.of(1));
    await seen;
    await until(() => c.store.get('config/x')?.[0] === 1);
    // Concurrent writes converge to the same winner everywhere (higher version, then origin).
    b.store.put('k', Uint8Array.of(2));
    c.store.put('k', Uint8Array.of(3));
    await until(
      () => a.store.entry('k')?.value[0] === b.store.entry('k')?.value[0] && b.store.entry('k')?.value[0] === c.store.entry('k')?.value[0],
    );
    // A late node pulls everything on connect.
    const d = await memNode(hub, 3);
    for (let i = 0; i < 300; i++) a.store.put(`bulk/${String(i).padStart(3, '0')}`, new Uint8Array(10));
    await d.connect(ep(a));
    await until(() => d.store.size === a.store.size, 5000, 'sync');
    expect(d.store.get('config/x')?.[0]).toBe(1);
    expect(await d.store.sync(a.localId, { prefix: 'bulk/' })).toBe(0);
  });

  it('is bounded, and a malformed store frame counts as misbehaviour', async () => {
    const hub = new MemoryHub();
    const a = await memNode(hub, 0, { store: { maxEntries: 2 } });
    const b = await memNode(hub, 1, { store: { maxEntries: 2 } });
    a.store.put('1', new Uint8Array(1));
    a.store.put('2', new Uint8Array(1));
    expect(() => a.store.put('3', new Uint8Array(1))).toThrow(StoreFullError);
    a.store.put('2', new Uint8Array(2));
    await a.connect(ep(b));
    await until(() => b.store.size === 2);
    expect(b.store.getStats().entries).toBe(2);
    expect(() => a.store.put('', new Uint8Array(1))).toThrow(RangeError);
    await expect(a.store.sync(identity(5).nodeId)).rejects.toBeInstanceOf(UnreachableError);
    const v0 = b.getStats().violations;
    // Raw frames of the store kinds are reserved to the store; an honest LinkLayer user cannot send them.
    expect(() => a.send(b.localId, 0x31, new Uint8Array(1))).not.toThrow();
    await until(() => b.getStats().violations > v0);
  });
});
