// Real WebSockets on loopback: two nodes, a 12-node mesh, network and codebase checks, and raw
// sockets that never complete the handshake.

import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MeshEvents, MessageTypes, WrongFingerprintError, WrongNetworkError } from '../src/index.js';
import { ep, identity, next, node, stopAll, until } from './mesh-helpers.js';

afterAll(stopAll);

describe('two nodes over loopback ws', () => {
  it('connects, proves identities, and exchanges messages both ways', async () => {
    const a = await node(0);
    const b = await node(1);
    const rec = await a.connect(ep(b));
    expect(rec.nodeId).toBe(identity(1).nodeId);
    await until(() => b.isConnectedTo(a.localId));
    expect(a.isConnectedTo(b.localId)).toBe(true);
    const got = next(b, 'message');
    expect(a.sendTo(b.localId, { hello: 'world' })).toBe(true);
    const [msg, , from] = await got;
    expect(from).toBe(a.localId);
    expect(msg).toEqual({ type: 'direct', from: a.localId, payload: { hello: 'world' }, authenticated: true });
    const g = next(a, MessageTypes.GOSSIP);
    b.broadcast(new Uint8Array([1, 2, 3]));
    const [gm] = (await g) as [{ payload: Uint8Array; origin: string }];
    expect(gm.origin).toBe(b.localId);
    expect([...gm.payload]).toEqual([1, 2, 3]);
    // Large payloads (a frame at the seed's 512 KiB data limit minus framing) cross intact.
    const big = new Uint8Array(500 * 1024).map((_, i) => i & 0xff);
    const gotBig = next(b, 'message');
    a.sendTo(b.localId, big);
    const [bm] = (await gotBig) as [{ payload: Uint8Array }];
    expect(bm.payload).toEqual(big);
    await a.stop();
    await b.stop();
    expect(a.openConnections() + b.openConnections()).toBe(0);
  });

  it('refuses a different network id or fingerprint with the reason', async () => {
    const a = await node(2, { networkId: 'yakmesh' });
    const b = await node(3, { networkId: 'testnet' });
    await expect(a.connect(ep(b), { reconnect: false })).rejects.toBeInstanceOf(WrongNetworkError);
    const c = await node(4, { networkFingerprint: 'sha256:aaaa' });
    const d = await node(5, { networkFingerprint: 'sha256:bbbb' });
    await expect(c.connect(ep(d), { reconnect: false })).rejects.toBeInstanceOf(WrongFingerprintError);
    expect(d.getPeers().length + c.getPeers().length).toBe(0);
    const e = await node(6, { networkFingerprint: 'sha256:aaaa' });
    await expect(c.connect(ep(e), { reconnect: false })).resolves.toMatchObject({ nodeId: identity(6).nodeId });
  });

  it('a raw socket that never completes the handshake gets nothing dispatched and is closed', async () => {
    const b = await node(7);
    let dispatched = 0;
    for (const t of [...Object.values(MessageTypes), 'message']) b.on(t, () => dispatched++);
    b.onFrame(0x10, () => dispatched++);
    const ws = new WebSocket(ep(b));
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    // A well-formed-looking RECORD (type 0x10, seq 0, 40 bytes) before any handshake.
    const rec = new Uint8Array(49);
    rec[0] = 0x10;
    ws.send(rec);
    expect(await closed).toBe(1008);
    const ws2 = new WebSocket(ep(b));
    await new Promise((r) => ws2.once('open', r));
    const closed2 = new Promise<number>((r) => ws2.once('close', (code) => r(code)));
    ws2.send('{"type":"hello"}');
    expect(await closed2).toBe(1003);
    expect(dispatched).toBe(0);
    expect(b.getPeers().length).toBe(0);
    expect(b.getStats().violations).toBeGreaterThan(0);
  });
});

describe('12-node mesh over loopback ws', () => {
  it('forms a full mesh; every node reaches every other directly and by broadcast', async () => {
    const n = 12;
    // All nodes share 127.0.0.1, so the per-IP handshake concurrency limit is raised for the test.
    const nodes = await Promise.all(Array.from({ length: n }, (_, i) => node(10 + i, { maxPeers: n - 1, maxHandshakesPerIp: 16 })));
    await Promise.all(
      nodes.map(async (m, i) => {
        for (let j = i + 1; j < n; j++) await m.connect(ep(nodes[j]!));
      }),
    );
    await until(() => nodes.every((m) => m.getPeers().length === n - 1), 20_000, 'full mesh');
    const inbox = nodes.map(() => new Set<string>());
    nodes.forEach((m, i) => {
      m.on(MessageTypes.GOSSIP, (msg: { origin: string }) => inbox[i]!.add(`g:${msg.origin}`));
      m.on(MeshEvents.MESSAGE, (msg: { from: string }) => inbox[i]!.add(`d:${msg.from}`));
    });
    for (const m of nodes) {
      m.broadcast({ from: m.localId });
      for (const o of nodes) if (o !== m) m.sendTo(o.localId, { ping: true });
    }
    await until(() => inbox.every((s) => s.size === 2 * (n - 1)), 20_000, 'all messages');
    const totals = nodes.map((m) => m.getStats());
    expect(totals.every((s) => s.violations === 0 && s.handshakesFailed === 0)).toBe(true);
  });
});
