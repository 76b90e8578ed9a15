// Resource bounds under churn (SPEC section 2, "Resource bounds"): 10,000 messages and 200
// connect/disconnect cycles over real sockets leave peers, timers, sockets and caches at their
// resting sizes.
import { afterAll, describe, expect, it } from 'vitest';
import { type Clock, type MeshNetwork, systemClock } from '../src/index.js';
import { ep, node, stopAll, until } from './mesh-helpers.js';

afterAll(stopAll);

/** The real clock, counting live timers and intervals. */
class CountingClock implements Clock {
  readonly live = new Set<unknown>();
  now = () => systemClock.now();
  setTimeout = (fn: () => void, ms: number): unknown => {
    const h = systemClock.setTimeout(() => {
      this.live.delete(h);
      fn();
    }, ms);
    this.live.add(h);
    return h;
  };
  clearTimeout = (h: unknown) => {
    this.live.delete(h);
    systemClock.clearTimeout(h);
  };
  setInterval = (fn: () => void, ms: number): unknown => {
    const h = systemClock.setInterval(fn, ms);
    this.live.add(h);
    return h;
  };
  clearInterval = (h: unknown) => {
    this.live.delete(h);
    systemClock.clearInterval(h);
  };
}

function footprint(m: MeshNetwork) {
  const s = m.getStats();
  return {
    peers: s.peers,
    pending: s.pendingHandshakes,
    sockets: m.openConnections(),
    knownRecords: s.knownRecords,
    tickets: s.tickets,
    knownEndpoints: s.knownEndpoints,
    persistent: s.persistentEndpoints,
    pendingSyncs: s.store.pendingSyncs,
    trackedKeys: s.rateLimiter.trackedKeys,
  };
}

describe('no growth under churn (loopback ws)', () => {
  it('10,000 messages and 200 connect/disconnect cycles', async () => {
    const clock = new CountingClock();
    // Churn from one address is exactly what the limiter exists to stop; lift it for this test.
    const rateLimiter = { maxConnectionsPerMinute: 10_000, maxHandshakesPerMinute: 10_000, maxMessagesPerSecond: 1_000_000 };
    const a = await node(0, { clock, rateLimiter });
    const b = await node(1, { clock, rateLimiter });
    // Resting timers: keep-alive plus the gossip and routing engines' periodic work.
    const restTimers = clock.live.size;
    expect(restTimers).toBeLessThanOrEqual(8);

    await a.connect(ep(b), { reconnect: false });
    await until(() => b.isConnectedTo(a.localId));
    let got = 0;
    b.onFrame(0x50, () => got++);
    const body = new Uint8Array(256);
    for (let i = 0; i < 10_000; i++) {
      if (!a.send(b.localId, 0x50, body)) throw new Error('backpressure');
      if (i % 1000 === 999) await until(() => got === i + 1, 10_000, 'delivery');
    }
    await until(() => got === 10_000, 10_000, 'all messages');
    a.disconnect(b.localId);
    await until(() => !b.isConnectedTo(a.localId) && a.openConnections() === 0 && b.openConnections() === 0);
    const restA = footprint(a);
    const restB = footprint(b);

    for (let i = 0; i < 200; i++) {
      await a.connect(ep(b), { reconnect: false });
      await until(() => b.isConnectedTo(a.localId));
      a.sendTo(b.localId, { i });
      a.disconnect(b.localId);
      await until(() => !b.isConnectedTo(a.localId));
    }
    await until(() => a.openConnections() === 0 && b.openConnections() === 0, 5000, 'sockets closed');
    expect(footprint(a)).toEqual(restA);
    expect(footprint(b)).toEqual(restB);
    // Back to the resting timers: no handshake, dial, sync or engine timers leaked (engines'
    // short coalescing timers settle within a few ms).
    await until(() => clock.live.size === restTimers, 2000, 'resting timers');
    const s = a.getStats();
    expect(s.handshakesResumed).toBeGreaterThanOrEqual(199);
    await a.stop();
    await b.stop();
    expect(clock.live.size).toBe(0);
    expect(a.openConnections() + b.openConnections()).toBe(0);
  });
});
