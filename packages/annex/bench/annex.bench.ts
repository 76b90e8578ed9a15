// @yak/annex benchmarks, each against a baseline measured in the same run (SPEC section 4). Run
// with `node ../../tools/bench/run.mjs` from packages/annex (or `pnpm bench`).
//
// - Throughput through an ANNEX channel against mesh-core `sendTo` between the same two nodes
//   (the hop-by-hop baseline: link encryption only), 256 B and 64 KiB, loopback ws. Both run the
//   same sliding window of messages in flight, driven by the receiver's handler.
// - Channel open latency (p50) and open+close cycles per second against the mesh link handshake
//   (first contact from a fresh client node, records already cached on both sides as they are for
//   ANNEX after the first open).
// - Messages per second while rekeying every 1,000 messages against no rekeying.
import { performance } from 'node:perf_hooks';
import { aes256gcm, NodeIdentity, randomBytes } from '@yak/crypto';
import { MeshNetwork } from '@yak/mesh-core';
import { median, percentile, record } from '../../../tools/bench/harness.js';
import { Annex, type AnnexOptions } from '../src/index.js';

const PKG = '@yak/annex';
const HOST = '127.0.0.1';
// Benchmarks measure the protocol, not the abuse limits: every node shares 127.0.0.1.
const OPEN = {
  wsPort: 0,
  host: HOST,
  rateLimiter: { maxConnectionsPerMinute: 1e9, maxHandshakesPerMinute: 1e9, maxMessagesPerSecond: 1e9, maxGossipPerSecond: 1e9 },
  maxHandshakesPerIp: 1000,
  maxConcurrentHandshakes: 1000,
  subnetDiversity: false as const,
  gossip: false as const,
  reconnect: false as const,
};
const tick = () => new Promise<void>((r) => setImmediate(r));

async function node(id: NodeIdentity, extra: object = {}): Promise<MeshNetwork> {
  const m = new MeshNetwork(id, { ...OPEN, ...extra });
  await m.start();
  return m;
}

/**
 * Push `count` messages with at most `window` in flight; every delivery tops the window up.
 * Returns messages per second. `onDeliver` registers the receiver's per-message callback.
 */
async function pump(count: number, window: number, send: (i: number) => void, onDeliver: (cb: () => void) => () => void): Promise<number> {
  let sent = 0;
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const fill = () => {
    while (sent < count && sent - got < window) send(sent++);
  };
  const off = onDeliver(() => {
    got++;
    if (got === count) done();
    else fill();
  });
  const t0 = performance.now();
  fill();
  await finished;
  const ms = performance.now() - t0;
  off();
  return (count * 1000) / ms;
}

const ia = NodeIdentity.generate();
const ib = NodeIdentity.generate();

// ------------------------------------------------------------------ throughput

{
  const a = await node(ia);
  const b = await node(ib);
  await a.connect(b.getPublicEndpoint() as string);
  const xa = new Annex({ identity: ia, mesh: a });
  const xb = new Annex({ identity: ib, mesh: b });
  await xa.openChannel(ib.nodeId);

  const meshDeliver = (cb: () => void) => {
    const h = () => cb();
    b.on('message', h);
    return () => b.off('message', h);
  };
  const annexDeliver = (cb: () => void) => {
    const id = xb.onMessage(() => cb());
    return () => xb.offMessage(id);
  };

  for (const [size, count, window] of [
    [256, 5_000, 512],
    [64 * 1024, 300, 48],
  ] as const) {
    const body = new Uint8Array(size).fill(0x5a);
    const baseline = () =>
      pump(
        count,
        window,
        () => {
          if (!a.sendTo(ib.nodeId, body)) throw new Error('baseline link congested');
        },
        meshDeliver,
      );
    const candidate = () =>
      pump(
        count,
        window,
        () => {
          xa.send(ib.nodeId, body).catch((e) => {
            throw e;
          });
        },
        annexDeliver,
      );
    // Reference: the cheapest possible end-to-end layer on the same path, one bare AES-256-GCM
    // seal at the sender and open at the receiver per message (no session, header or window; a
    // fixed nonce, because this measures cost only and protects nothing).
    const k = aes256gcm(randomBytes(32));
    const nonce = new Uint8Array(12);
    const aad = new Uint8Array(34);
    const bare = () =>
      pump(
        count,
        window,
        () => {
          if (!a.sendTo(ib.nodeId, k.seal(nonce, body, aad))) throw new Error('reference link congested');
        },
        (cb) => {
          const h = (m: { payload: Uint8Array }) => {
            k.open(nonce, m.payload, aad);
            cb();
          };
          b.on('message', h);
          return () => b.off('message', h);
        },
      );
    await baseline();
    await candidate();
    const ours: number[] = [];
    const theirs: number[] = [];
    const floor: number[] = [];
    const withFloor = size === 64 * 1024;
    // Short runs, interleaved in rotating order: load from other processes hits all alike.
    const runs: Array<[() => Promise<number>, number[]]> = [
      [baseline, theirs],
      [candidate, ours],
      ...(withFloor ? ([[bare, floor]] as Array<[() => Promise<number>, number[]]>) : []),
    ];
    for (let i = 0; i < 9; i++) {
      for (let j = 0; j < runs.length; j++) {
        const [run, into] = runs[(i + j) % runs.length] as [() => Promise<number>, number[]];
        into.push(await run());
      }
      await tick();
    }
    const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    record({
      package: PKG,
      name: `throughput, ${label} messages, ANNEX channel vs hop-by-hop sendTo, loopback ws`,
      unit: 'msg/s',
      value: median(ours),
      baseline: 'mesh-core sendTo between the same nodes (link encryption only)',
      baselineValue: median(theirs),
      ...(size === 64 * 1024 ? { goal: '>= 0.8' } : {}),
      notes: `${((median(ours) * size) / 1e6).toFixed(1)} MB/s vs ${((median(theirs) * size) / 1e6).toFixed(1)} MB/s; window ${window} messages`,
    });
    if (floor.length) {
      record({
        package: PKG,
        name: `throughput, ${label} messages, ANNEX channel vs bare AES-256-GCM over sendTo, loopback ws`,
        unit: 'msg/s',
        value: median(ours),
        baseline: 'sendTo plus one bare AES-256-GCM seal/open per message (cost floor of any end-to-end layer)',
        baselineValue: median(floor),
        notes: `the floor itself reaches ${(median(floor) / median(theirs)).toFixed(2)} of hop-by-hop sendTo in this run`,
      });
    }
  }

  // ---------------------------------------------------------------- rekey under load

  await xa.stop();
  const size = 256;
  const body = new Uint8Array(size).fill(0x33);
  const count = 5_000;
  // One sender instance at a time on node A, so only one is subscribed to its messages.
  const run = async (rekeyAfterMessages: number) => {
    const x = new Annex({ identity: ia, mesh: a, rekeyAfterMessages });
    await x.openChannel(ib.nodeId);
    const r0 = xb.getStats().rekeys;
    const rate = await pump(
      count,
      512,
      () => {
        x.send(ib.nodeId, body).catch(() => {});
      },
      annexDeliver,
    );
    const rekeys = xb.getStats().rekeys - r0;
    await x.stop();
    await tick();
    return { rate, rekeys };
  };
  const withRekey: number[] = [];
  const without: number[] = [];
  let rekeys = 0;
  const ROUNDS = 7;
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which runs first, so drifting load hits both alike.
    const first = await run(i % 2 === 0 ? 1_000 : 2 ** 40);
    const second = await run(i % 2 === 0 ? 2 ** 40 : 1_000);
    const [r, p] = i % 2 === 0 ? [first, second] : [second, first];
    withRekey.push(r.rate);
    without.push(p.rate);
    rekeys += r.rekeys;
  }
  record({
    package: PKG,
    name: 'throughput while rekeying every 1,000 messages, 256 B, loopback ws',
    unit: 'msg/s',
    value: median(withRekey),
    baseline: 'same channel without rekeying',
    baselineValue: median(without),
    notes: `${(rekeys / ROUNDS).toFixed(1)} rekeys per ${count} messages (a rekey starts after 1,000 messages on a key and completes a round trip later; sending continues under the old key meanwhile)`,
  });
  await xb.stop();
  await a.stop();
  await b.stop();
}

// ------------------------------------------------------------------ channel open

{
  const N = 40;
  const a = await node(ia);
  const b = await node(ib);
  await a.connect(b.getPublicEndpoint() as string);
  const opts: Partial<AnnexOptions> = { handshakesPerMinute: 1_000_000 };
  const xa = new Annex({ identity: ia, mesh: a, ...opts });
  const xb = new Annex({ identity: ib, mesh: b, ...opts });
  const annexOpen: number[] = [];
  let annexCycle = 0;
  for (let i = 0; i < N + 5; i++) {
    const t0 = performance.now();
    await xa.openChannel(ib.nodeId);
    const t1 = performance.now();
    await xa.closeChannel(ib.nodeId);
    // Let the close reach the peer before the next open (it would otherwise replace the session).
    while (xb.getStats().activeSessions > 0) await tick();
    const t2 = performance.now();
    if (i >= 5) {
      annexOpen.push(t1 - t0);
      annexCycle += t2 - t0;
    }
  }
  await xa.stop();
  await xb.stop();
  await a.stop();

  // Baseline: the mesh link handshake, first contact from a fresh client node each time.
  const meshOpen: number[] = [];
  let meshCycle = 0;
  const ep = b.getPublicEndpoint() as string;
  for (let i = 0; i < N + 5; i++) {
    const c = new MeshNetwork(ia, { ...OPEN, noListen: true });
    await c.start();
    const t0 = performance.now();
    await c.connect(ep, { reconnect: false });
    const t1 = performance.now();
    c.disconnect(ib.nodeId);
    while (b.isConnectedTo(ia.nodeId)) await tick();
    const t2 = performance.now();
    if (c.getStats().handshakesFirstContact !== 1) throw new Error('baseline did not run a first-contact handshake');
    await c.stop();
    if (i >= 5) {
      meshOpen.push(t1 - t0);
      meshCycle += t2 - t0;
    }
  }
  await b.stop();
  record({
    package: PKG,
    name: 'channel open latency p50 (4-message KEM handshake), loopback ws',
    unit: 'ms',
    value: median(annexOpen),
    baseline: 'mesh link handshake p50, first contact',
    baselineValue: median(meshOpen),
    lowerIsBetter: true,
    notes: `p90 ${percentile(annexOpen, 90).toFixed(2)} ms vs ${percentile(meshOpen, 90).toFixed(2)} ms`,
  });
  record({
    package: PKG,
    name: 'channels opened and closed per second, sequential, loopback ws',
    unit: 'channels/s',
    value: (N * 1000) / annexCycle,
    baseline: 'mesh links connected and disconnected per second, first contact',
    baselineValue: (N * 1000) / meshCycle,
  });
}
