// @yak/annex benchmarks, each against a baseline measured in the same run (SPEC section 4). Run
// with `node ../../tools/bench/run.mjs` from packages/annex (or `pnpm bench`).
//
// - Throughput through an ANNEX channel against mesh-core `sendTo` between the same two nodes
//   (the hop-by-hop baseline: link encryption only), 256 B and 64 KiB, loopback ws. Both run the
//   same sliding window of messages in flight, driven by the receiver's deliveries. Measured two
//   ways, each the same for baseline and candidate:
//   - receiver in this thread (the original method): one core runs the sender's and the
//     receiver's work, so every cost of both ends adds up, as if both peers shared one CPU;
//   - receiver in a worker thread (bench/receiver.ts): the receiving node runs on its own thread,
//     as a real peer runs on its own machine; deliveries are counted there and reported per
//     microtask. On a shared 2-core machine the second core is often busy with other work, so
//     this method is noisier and gains less parallelism than real peers would.
//   At 64 KiB both methods also record ANNEX against a bare AES-256-GCM seal/open over `sendTo`,
//   the cost floor of any end-to-end layer: ANNEX's distance to its goal is mostly that floor.
// - CPU per message through the ANNEX layer alone (in-memory mesh) against a bare AES-256-GCM
//   seal and open per message: ANNEX's own overhead above the AEAD.
// - Channel open latency (p50) and open+close cycles per second against the mesh link handshake
//   (first contact from a fresh client node, records already cached on both sides as they are for
//   ANNEX after the first open).
// - Messages per second while rekeying every 1,000 messages against no rekeying.
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { Annex, type AnnexOptions } from '@yak/annex';
import { aes256gcm, NodeIdentity, randomBytes } from '@yak/crypto';
import { MeshNetwork } from '@yak/mesh-core';
import { median, percentile, record } from '../../../tools/bench/harness.js';

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
 * Returns messages per second. `onDeliver` registers the receiver's callback, called with the
 * number of messages delivered since its last call.
 */
async function pump(
  count: number,
  window: number,
  send: (i: number) => void,
  onDeliver: (cb: (n: number) => void) => () => void,
): Promise<number> {
  let sent = 0;
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const fill = () => {
    while (sent < count && sent - got < window) send(sent++);
  };
  const off = onDeliver((n) => {
    got += n;
    if (got >= count) done();
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

/** What the receiving node counts as a delivery in a run. */
type Mode = 'mesh' | 'annex' | 'bare';

/** The receiving end of a throughput run, in this thread or in a worker thread. */
interface Receiver {
  nodeId: string;
  /** Prepare the receiver for a run of `mode` (`key`: the bare AES-GCM reference's key). */
  arm(mode: Mode, key?: Uint8Array): Promise<void>;
  /** Register the per-delivery callback of the armed mode; returns its removal. */
  onDeliver(cb: (n: number) => void): () => void;
}

/** Receiver node B and its ANNEX in this thread (the original method: one core does both ends). */
function inProcessReceiver(b: MeshNetwork, xb: Annex): Receiver {
  let mode: Mode = 'mesh';
  let k: ReturnType<typeof aes256gcm> | undefined;
  const nonce = new Uint8Array(12);
  const aad = new Uint8Array(34);
  return {
    nodeId: b.localId,
    async arm(m, key) {
      mode = m;
      k?.destroy();
      k = key ? aes256gcm(key) : undefined;
    },
    onDeliver(cb) {
      if (mode === 'annex') {
        const id = xb.onMessage(() => cb(1));
        return () => xb.offMessage(id);
      }
      const bare = k;
      const h = (m: { payload: Uint8Array }) => {
        if (bare) bare.open(nonce, m.payload, aad);
        cb(1);
      };
      b.on('message', h);
      return () => b.off('message', h);
    },
  };
}

/**
 * Receiver node in a worker thread (bench/receiver.ts): its ws parsing and decryption run on the
 * other core, as on a real peer, for the baseline and the candidate alike.
 */
async function workerReceiver(): Promise<Receiver & { endpoint: string; stop(): Promise<void> }> {
  // The worker registers tsx itself: a worker's entry module is loaded before inherited --import hooks.
  const api = import.meta.resolve('tsx/esm/api');
  const url = new URL('./receiver.ts', import.meta.url).href;
  const worker = new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`, {
    eval: true,
  });
  const next = <T>(pred: (m: unknown) => boolean) =>
    new Promise<T>((resolve, reject) => {
      const h = (m: unknown) => {
        if (!pred(m)) return;
        worker.off('message', h);
        worker.off('error', reject);
        resolve(m as T);
      };
      worker.on('message', h);
      worker.once('error', reject);
    });
  const hello = await next<{ endpoint: string; nodeId: string }>((m) => typeof m === 'object' && m !== null && 'endpoint' in m);
  return {
    nodeId: hello.nodeId,
    endpoint: hello.endpoint,
    async arm(mode, key) {
      const ready = next((m) => typeof m === 'object' && m !== null && 'ready' in m);
      worker.postMessage(key ? { mode, key } : { mode });
      await ready;
    },
    onDeliver(cb) {
      const h = (m: unknown) => {
        if (typeof m === 'number') cb(m);
      };
      worker.on('message', h);
      return () => worker.off('message', h);
    },
    async stop() {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.postMessage({ stop: true });
      await exited;
    },
  };
}

interface Throughput {
  ours: number;
  theirs: number;
  floor: number | undefined;
}

/**
 * Baseline (`sendTo`), ANNEX and, at 64 KiB, the bare AES-GCM reference from node A to `rx`, in
 * short runs interleaved in rotating order so that load from other processes hits all alike.
 */
async function throughput(a: MeshNetwork, xa: Annex, rx: Receiver, size: number, count: number, window: number): Promise<Throughput> {
  const body = new Uint8Array(size).fill(0x5a);
  const baseline = async () => {
    await rx.arm('mesh');
    return pump(
      count,
      window,
      () => {
        if (!a.sendTo(rx.nodeId, body)) throw new Error('baseline link congested');
      },
      (cb) => rx.onDeliver(cb),
    );
  };
  const candidate = async () => {
    await rx.arm('annex');
    return pump(
      count,
      window,
      () => {
        xa.send(rx.nodeId, body).catch((e) => {
          throw e;
        });
      },
      (cb) => rx.onDeliver(cb),
    );
  };
  // Reference: the cheapest possible end-to-end layer on the same path, one bare AES-256-GCM
  // seal at the sender and open at the receiver per message (no session, header or window; a
  // fixed nonce, because this measures cost only and protects nothing).
  const key = randomBytes(32);
  const k = aes256gcm(key);
  const nonce = new Uint8Array(12);
  const aad = new Uint8Array(34);
  const bare = async () => {
    await rx.arm('bare', key);
    return pump(
      count,
      window,
      () => {
        if (!a.sendTo(rx.nodeId, k.seal(nonce, body, aad))) throw new Error('reference link congested');
      },
      (cb) => rx.onDeliver(cb),
    );
  };
  await xa.openChannel(rx.nodeId);
  await baseline();
  await candidate();
  const ours: number[] = [];
  const theirs: number[] = [];
  const floor: number[] = [];
  const runs: Array<[() => Promise<number>, number[]]> = [
    [baseline, theirs],
    [candidate, ours],
    ...(size === 64 * 1024 ? ([[bare, floor]] as Array<[() => Promise<number>, number[]]>) : []),
  ];
  // More rounds at 64 KiB: each run is short, and load bursts from other processes last longer.
  const rounds = size === 64 * 1024 ? 15 : 9;
  for (let i = 0; i < rounds; i++) {
    for (let j = 0; j < runs.length; j++) {
      const [run, into] = runs[(i + j) % runs.length] as [() => Promise<number>, number[]];
      into.push(await run());
    }
    await tick();
  }
  k.destroy();
  return { ours: median(ours), theirs: median(theirs), floor: floor.length ? median(floor) : undefined };
}

function report(size: number, window: number, method: string, methodNote: string, r: Throughput): void {
  const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
  record({
    package: PKG,
    name: `throughput, ${label} messages, ANNEX channel vs hop-by-hop sendTo, loopback ws${method}`,
    unit: 'msg/s',
    value: r.ours,
    baseline: 'mesh-core sendTo between the same nodes (link encryption only)',
    baselineValue: r.theirs,
    ...(size === 64 * 1024 ? { goal: '>= 0.8' } : {}),
    notes: `${((r.ours * size) / 1e6).toFixed(1)} MB/s vs ${((r.theirs * size) / 1e6).toFixed(1)} MB/s; window ${window} messages; ${methodNote}`,
  });
  if (r.floor !== undefined) {
    record({
      package: PKG,
      name: `throughput, ${label} messages, ANNEX channel vs bare AES-256-GCM over sendTo, loopback ws${method}`,
      unit: 'msg/s',
      value: r.ours,
      baseline: 'sendTo plus one bare AES-256-GCM seal/open per message (cost floor of any end-to-end layer)',
      baselineValue: r.floor,
      notes: `the floor itself reaches ${(r.floor / r.theirs).toFixed(2)} of hop-by-hop sendTo in this run; ${methodNote}`,
    });
  }
}

{
  const a = await node(ia);
  const b = await node(ib);
  await a.connect(b.getPublicEndpoint() as string);
  const xa = new Annex({ identity: ia, mesh: a });
  const xb = new Annex({ identity: ib, mesh: b });
  const local = inProcessReceiver(b, xb);
  const remote = await workerReceiver();
  await a.connect(remote.endpoint);
  const annexDeliver = (cb: (n: number) => void) => {
    const id = xb.onMessage(() => cb(1));
    return () => xb.offMessage(id);
  };

  const SAME = ['', 'sender and receiver in one thread (old method: one core runs both ends)'] as const;
  const WORKER = [', receiver in a worker thread', 'receiving node in a worker thread for baseline and ANNEX alike'] as const;
  for (const [size, count, window] of [
    [256, 5_000, 512],
    [64 * 1024, 300, 48],
  ] as const) {
    report(size, window, ...SAME, await throughput(a, xa, local, size, count, window));
    report(size, window, ...WORKER, await throughput(a, xa, remote, size, count, window));
  }
  await remote.stop();

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

// ------------------------------------------------------------------ layer cost, no network

/**
 * ANNEX's own cost per message, without ws, link encryption or a second thread: two ANNEX
 * instances joined by an in-memory mesh that copies each envelope once (as MeshNetwork does),
 * against the same mesh carrying one bare AES-256-GCM seal and open per message. CPU time of this
 * process per message, so other processes' load on the shared machine matters less than for the
 * wall-clock throughput figures above.
 */
{
  type Handler = (m: { payload: unknown }, peer: unknown, from: string) => void;
  class MemoryMesh {
    readonly handlers = new Set<Handler>();
    peer: MemoryMesh | undefined;
    constructor(readonly id: string) {}
    sendTo(_to: string, bytes: Uint8Array): boolean {
      const to = this.peer as MemoryMesh;
      const copy = bytes.slice();
      queueMicrotask(() => {
        for (const h of to.handlers) h({ payload: copy }, undefined, this.id);
      });
      return true;
    }
    on(_e: 'message', h: Handler): this {
      this.handlers.add(h);
      return this;
    }
    off(_e: 'message', h: Handler): this {
      this.handlers.delete(h);
      return this;
    }
  }
  const ma = new MemoryMesh(ia.nodeId);
  const mb = new MemoryMesh(ib.nodeId);
  ma.peer = mb;
  mb.peer = ma;
  // Per-message cost without rekeys: the runs below fire thousands of sends at once, which the
  // hard bound on key use (annex.md section 6.1) would otherwise hold at every 11,000th message.
  const xa = new Annex({ identity: ia, mesh: ma, rekeyAfterMessages: 2 ** 40 });
  const xb = new Annex({ identity: ib, mesh: mb, rekeyAfterMessages: 2 ** 40 });
  await xa.openChannel(ib.nodeId);
  const cpuPerMessage = async (count: number, send: () => void, on: (cb: () => void) => () => void): Promise<number> => {
    let got = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const off = on(() => {
      if (++got === count) done();
    });
    const c0 = process.cpuUsage();
    for (let i = 0; i < count; i++) send();
    await finished;
    const c = process.cpuUsage(c0);
    off();
    return (c.user + c.system) / count;
  };
  for (const [size, count] of [
    [256, 20_000],
    [64 * 1024, 400],
  ] as const) {
    const body = new Uint8Array(size).fill(0x77);
    const k = aes256gcm(randomBytes(32));
    const nonce = new Uint8Array(12);
    const aad = new Uint8Array(34);
    const annexRun = () =>
      cpuPerMessage(
        count,
        () => void xa.send(ib.nodeId, body),
        (cb) => {
          const id = xb.onMessage(cb);
          return () => xb.offMessage(id);
        },
      );
    const bareRun = () =>
      cpuPerMessage(
        count,
        () => ma.sendTo(ib.nodeId, k.seal(nonce, body, aad)),
        (cb) => {
          const h: Handler = (m) => {
            k.open(nonce, m.payload as Uint8Array, aad);
            cb();
          };
          mb.on('message', h);
          return () => mb.off('message', h);
        },
      );
    await annexRun();
    await bareRun();
    const ours: number[] = [];
    const floor: number[] = [];
    for (let i = 0; i < 11; i++) {
      if (i % 2 === 0) {
        ours.push(await annexRun());
        floor.push(await bareRun());
      } else {
        floor.push(await bareRun());
        ours.push(await annexRun());
      }
      await tick();
    }
    k.destroy();
    const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    record({
      package: PKG,
      name: `CPU per ${label} message through the ANNEX layer (send, seal, open, deliver), in-memory mesh`,
      unit: 'us/msg',
      value: median(ours),
      baseline: 'one bare AES-256-GCM seal and open per message over the same in-memory mesh',
      baselineValue: median(floor),
      lowerIsBetter: true,
      notes: 'no ws, link encryption or second thread: the layer cost that every throughput figure above contains',
    });
  }
  await xa.stop();
  await xb.stop();
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
