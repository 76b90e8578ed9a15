// @yak/mesh-core link benchmarks over loopback WebSockets, each against a baseline measured in the
// same run (SPEC section 4). Run with `node ../../tools/bench/run.mjs` from packages/mesh-core.
//
// - Handshakes per second and p50 latency, known peers (ticket resumption) and first contact
//   (fresh identities on both sides, so records are verified with ML-DSA as a stranger would),
//   against a SIGMA-style baseline with the same hybrid ephemeral exchange that signs and verifies
//   the transcript with ML-DSA-65 on both sides.
// - Link throughput against plaintext `ws` with the same message sizes and ws settings. The
//   receiving end of both runs in a child process (bench/link-receiver.ts), so sender and
//   receiver each have a core, as real peers do; the sender is this process in both cases.
// - Memory per idle link (RSS delta / links) at 210 links, against plaintext ws connections.
//
// YAK_LINK_BENCH=handshake,throughput,memory selects sections (default: all).
import { type ChildProcess, fork } from 'node:child_process';
import { createCipheriv, createSecretKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  concatBytes,
  decodeIdentityRecord,
  encodeIdentityRecord,
  hkdf,
  hybridKem,
  NodeIdentity,
  randomBytes,
  sha256,
  utf8,
} from '@yak/crypto';
import { MeshNetwork, type TransportConnection, WsTransport } from '@yak/mesh-core';
import { WebSocket, WebSocketServer } from 'ws';
import { median, percentile, record, recordFigure } from '../../../tools/bench/harness.js';
import { BENCH_KIND, HOST, OPEN, type ReceiverMessage, WS_OPTS } from './link-common.js';

const PKG = '@yak/mesh-core';
const SECTIONS = new Set((process.env.YAK_LINK_BENCH ?? 'handshake,throughput,memory').split(','));
const tick = () => new Promise<void>((r) => setImmediate(r));
/** Lets the previous connection's close handshake finish outside the next timed handshake. */
const settle = () => new Promise<void>((r) => setTimeout(r, 3));

// ------------------------------------------------------------------ baseline handshake

const SIG_CTX = utf8('yak/bench/sigma-baseline');

/**
 * The baseline: I sends an ephemeral X-Wing key and its record; R encapsulates to it, sends its
 * record and an ML-DSA-65 signature over the transcript; I verifies and answers with its own
 * signature. Records are checked with NodeIdentity.verifyRecord (cached after the first time),
 * exactly as the KEM handshake checks them.
 */
async function baselineServer(id: NodeIdentity) {
  const t = new WsTransport();
  const rec = encodeIdentityRecord(id.publicRecord());
  const l = await t.listen({ host: HOST, port: 0, maxPayload: 1 << 20 }, (c) => {
    let m1: Uint8Array | undefined;
    let th: Uint8Array | undefined;
    let peer: ReturnType<typeof decodeIdentityRecord> | undefined;
    c.onMessage = (d) => {
      if (!m1) {
        m1 = d.slice();
        const epk = m1.subarray(0, 1216);
        peer = NodeIdentity.verifyRecord(decodeIdentityRecord(m1.subarray(1216)));
        const { cipherText, sharedSecret } = hybridKem.encapsulate(epk);
        th = sha256(concatBytes(m1, cipherText, rec));
        const sig = id.sign(th, SIG_CTX);
        hkdf('sha256', sharedSecret, th, utf8('k'), 64);
        c.send(concatBytes(cipherText, sig, rec));
      } else {
        if (
          !NodeIdentity.verify(
            (peer as { signPublicKey: Uint8Array }).signPublicKey,
            sha256(concatBytes(th as Uint8Array, utf8('I'))),
            d,
            SIG_CTX,
          )
        ) {
          throw new Error('baseline: bad initiator signature');
        }
      }
    };
  });
  return { endpoint: `ws://${HOST}:${l.port}`, close: () => l.close() };
}

async function baselineHandshake(t: WsTransport, id: NodeIdentity, endpoint: string): Promise<void> {
  const c: TransportConnection = await t.dial(endpoint, { maxPayload: 1 << 20, timeoutMs: 10_000 });
  const kp = hybridKem.generateKeyPair();
  const m1 = concatBytes(kp.publicKey, encodeIdentityRecord(id.publicRecord()));
  await new Promise<void>((resolve, reject) => {
    let step = 0;
    c.onMessage = (d) => {
      try {
        if (step++ === 0) {
          const ct = d.subarray(0, 1120);
          const sig = d.subarray(1120, 1120 + 3309);
          const recR = NodeIdentity.verifyRecord(decodeIdentityRecord(d.subarray(1120 + 3309)));
          const th = sha256(concatBytes(m1, ct, d.subarray(1120 + 3309)));
          if (!NodeIdentity.verify(recR.signPublicKey, th, sig, SIG_CTX)) throw new Error('baseline: bad responder signature');
          const ss = hybridKem.decapsulate(ct, kp.secretKey);
          hkdf('sha256', ss, th, utf8('k'), 64);
          c.send(id.sign(sha256(concatBytes(th, utf8('I'))), SIG_CTX));
          // Like the KEM handshake's initiator, done once its last message is sent.
          resolve();
        }
      } catch (e) {
        reject(e);
      }
    };
    c.onClose = () => reject(new Error('closed'));
    c.send(m1);
  });
  c.onClose = undefined;
  c.close();
}

// ------------------------------------------------------------------ handshakes

function gen(n: number): NodeIdentity[] {
  return Array.from({ length: n }, () => NodeIdentity.generate());
}

async function meshNode(id: NodeIdentity, extra: object = {}): Promise<MeshNetwork> {
  const m = new MeshNetwork(id, { wsPort: 0, host: HOST, ...OPEN, ...extra });
  await m.start();
  return m;
}

/**
 * Known peers: the same pair reconnects, and so does a baseline pair; the two alternate handshake
 * by handshake, so a change in machine load hits both alike. With `resume` every mesh handshake
 * after the first resumes with a ticket; without, each is the full KEM-authenticated known-peer
 * mode (cached record). Times the first `warm` of each are dropped.
 */
async function knownPeers(iter: number, resume: boolean, warm = 5): Promise<{ ours: number[]; base: number[] }> {
  const [ia, ib, ic, id] = gen(4) as [NodeIdentity, NodeIdentity, NodeIdentity, NodeIdentity];
  const a = await meshNode(ia, { noListen: true });
  const b = await meshNode(ib);
  const ep = b.getPublicEndpoint() as string;
  const srv = await baselineServer(id);
  const t = new WsTransport();
  const ours: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < iter + warm; i++) {
    let t0 = performance.now();
    await a.connect(ep, { reconnect: false, resume });
    const dt = performance.now() - t0;
    a.disconnect(ib.nodeId);
    while (b.isConnectedTo(ia.nodeId)) await tick();
    await settle();
    t0 = performance.now();
    await baselineHandshake(t, ic, srv.endpoint);
    const db = performance.now() - t0;
    await settle();
    if (i >= warm) {
      ours.push(dt);
      base.push(db);
    }
  }
  const st = a.getStats();
  if ((resume ? st.handshakesResumed : st.handshakesKnown) < iter) throw new Error('known-peer bench ran another mode');
  await a.stop();
  await b.stop();
  await srv.close();
  return { ours, base };
}

/** First contact: a fresh pair of identities per handshake, so both records are verified cold. */
async function firstMesh([ia, ib]: [NodeIdentity, NodeIdentity]): Promise<number> {
  const a = await meshNode(ia, { noListen: true });
  const b = await meshNode(ib);
  const t0 = performance.now();
  await a.connect(b.getPublicEndpoint() as string, { reconnect: false });
  const dt = performance.now() - t0;
  if (a.getStats().handshakesFirstContact !== 1) throw new Error('first-contact bench did not run first contact');
  await a.stop();
  await b.stop();
  return dt;
}

async function firstBaseline([ia, ib]: [NodeIdentity, NodeIdentity], t: WsTransport): Promise<number> {
  const srv = await baselineServer(ib);
  const t0 = performance.now();
  await baselineHandshake(t, ia, srv.endpoint);
  const dt = performance.now() - t0;
  await srv.close();
  return dt;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const rate = (xs: number[]) => (xs.length * 1000) / sum(xs);

if (SECTIONS.has('handshake')) {
  // Warms up the JIT on both paths.
  await knownPeers(10, true, 10);
  const { ours, base } = await knownPeers(100, true);
  record({
    package: PKG,
    name: 'handshakes/s, known peer (ticket resumption), loopback ws',
    unit: 'handshakes/s',
    value: rate(ours),
    baseline: 'ML-DSA-65 transcript signatures both sides, same ephemeral X-Wing; alternating handshakes',
    baselineValue: rate(base),
    goal: '>= 3',
  });
  const kem = await knownPeers(80, false);
  record({
    package: PKG,
    name: 'handshakes/s, known peer without ticket (cached record, KEM auth both ways), loopback ws',
    unit: 'handshakes/s',
    value: rate(kem.ours),
    baseline: 'ML-DSA-65 transcript signatures both sides, same ephemeral X-Wing; alternating handshakes',
    baselineValue: rate(kem.base),
    goal: '>= 3',
  });
  record({
    package: PKG,
    name: 'p50 handshake latency, known peer, loopback ws',
    unit: 'ms',
    value: median(ours),
    baseline: 'ML-DSA-65 signed handshake p50',
    baselineValue: median(base),
    lowerIsBetter: true,
    notes: `p90 ${percentile(ours, 90).toFixed(2)} ms`,
  });
}

if (SECTIONS.has('handshake')) {
  const n = 24;
  const t = new WsTransport();
  const ours: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < n; i++) {
    ours.push(await firstMesh(gen(2) as [NodeIdentity, NodeIdentity]));
    await settle();
    base.push(await firstBaseline(gen(2) as [NodeIdentity, NodeIdentity], t));
    await settle();
  }
  record({
    package: PKG,
    name: 'handshakes/s, first contact (records verified cold), loopback ws',
    unit: 'handshakes/s',
    value: rate(ours),
    baseline: 'ML-DSA-65 transcript signatures both sides, records verified cold; alternating handshakes',
    baselineValue: rate(base),
    goal: '>= 1.5',
  });
  record({
    package: PKG,
    name: 'p50 handshake latency, first contact, loopback ws',
    unit: 'ms',
    value: median(ours),
    baseline: 'ML-DSA-65 signed handshake p50',
    baselineValue: median(base),
    lowerIsBetter: true,
  });
}

// ------------------------------------------------------------------ throughput

const BUFFER_LIMIT = 8 * 1024 * 1024; // the link's send queue limit (LINK.maxBufferedBytes)

/** A receiver process (bench/link-receiver.ts) and the first thing it reported. */
async function receiver(mode: 'mesh' | 'ws' | 'ws-aead', key?: Uint8Array) {
  const args = key ? [mode, Buffer.from(key).toString('hex')] : [mode];
  const child: ChildProcess = fork(new URL('./link-receiver.ts', import.meta.url), args, { execArgv: process.execArgv });
  const waitFor = <K extends string>(key: K) =>
    new Promise<Extract<ReceiverMessage, Record<K, unknown>>>((resolve, reject) => {
      const onMsg = (m: ReceiverMessage) => {
        if (key in m) {
          child.off('message', onMsg);
          child.off('exit', onExit);
          resolve(m as Extract<ReceiverMessage, Record<K, unknown>>);
        }
      };
      const onExit = (code: number) => reject(new Error(`receiver exited (${code})`));
      child.on('message', onMsg);
      child.once('exit', onExit);
    });
  const info = await waitFor(mode === 'mesh' ? 'endpoint' : 'port');
  return {
    info,
    /** Arm a count of `n` messages; then `done` settles when the last one arrived. */
    async arm(n: number): Promise<{ done: Promise<unknown> }> {
      const armed = waitFor('armed');
      child.send({ target: n });
      await armed;
      return { done: waitFor('done') };
    },
    stop: () =>
      new Promise<void>((r) => {
        child.once('exit', () => r());
        child.disconnect();
      }),
  };
}
type Receiver = Awaited<ReturnType<typeof receiver>>;

/**
 * Send `count` messages of `size` bytes; seconds from the first send until the receiver process
 * counted the last one. `trySend` returns false when the sender's queue is over its limit.
 */
async function run(rx: Receiver, trySend: (body: Uint8Array) => boolean, size: number, count: number): Promise<number> {
  const finished = await rx.arm(count);
  const body = new Uint8Array(size).fill(0x5a);
  const t0 = performance.now();
  for (let sent = 0; sent < count; ) {
    if (trySend(body)) sent++;
    else await tick();
  }
  await finished.done;
  return (performance.now() - t0) / 1000;
}

if (SECTIONS.has('throughput')) {
  const meshRx = await receiver('mesh');
  const wsRx = await receiver('ws');
  const a = await meshNode(NodeIdentity.generate(), { noListen: true });
  const { endpoint, nodeId } = meshRx.info as { endpoint: string; nodeId: string };
  await a.connect(endpoint, { reconnect: false });
  const meshSend = (body: Uint8Array) => a.send(nodeId, BENCH_KIND, body);

  // Floor: plaintext ws (zero mask) plus one bare AES-256-GCM seal per message here and one open
  // in the receiver, with node:crypto directly. No encrypted link can beat it on this CPU.
  const floorKey = randomBytes(32);
  const aeadRx = await receiver('ws-aead', floorKey);
  const floorClient = new WebSocket(`ws://${HOST}:${(aeadRx.info as { port: number }).port}`, {
    ...WS_OPTS,
    generateMask: (m: Uint8Array) => m.fill(0),
  });
  await new Promise((r) => floorClient.once('open', r));
  const floorSecret = createSecretKey(floorKey);
  const floorNonce = Buffer.alloc(12);
  const floorSend = (body: Uint8Array) => {
    if (floorClient.bufferedAmount > BUFFER_LIMIT) return false;
    const c = createCipheriv('aes-256-gcm', floorSecret, floorNonce, { authTagLength: 16 });
    const ct = c.update(body);
    c.final();
    floorClient.send(Buffer.concat([ct, c.getAuthTag()]), { binary: true });
    return true;
  };

  const url = `ws://${HOST}:${(wsRx.info as { port: number }).port}`;
  // Plain ws as shipped (random client masks), and with the zero mask the link transport uses.
  const client = new WebSocket(url, WS_OPTS);
  const clientZero = new WebSocket(url, { ...WS_OPTS, generateMask: (m: Uint8Array) => m.fill(0) });
  await Promise.all([new Promise((r) => client.once('open', r)), new Promise((r) => clientZero.once('open', r))]);
  const wsSend = (c: WebSocket) => (body: Uint8Array) => {
    if (c.bufferedAmount > BUFFER_LIMIT) return false;
    c.send(body, { binary: true });
    return true;
  };

  for (const [size, count, unit] of [
    [64 * 1024, 2000, 'MB/s'],
    [256, 100_000, 'msgs/s'],
  ] as const) {
    await run(meshRx, meshSend, size, count / 5);
    await run(wsRx, wsSend(client), size, count / 5);
    await run(wsRx, wsSend(clientZero), size, count / 5);
    await run(aeadRx, floorSend, size, count / 5);
    const ours: number[] = [];
    const base: number[] = [];
    const baseZero: number[] = [];
    const floor: number[] = [];
    for (let round = 0; round < 5; round++) {
      ours.push(await run(meshRx, meshSend, size, count));
      base.push(await run(wsRx, wsSend(client), size, count));
      baseZero.push(await run(wsRx, wsSend(clientZero), size, count));
      floor.push(await run(aeadRx, floorSend, size, count));
    }
    const toUnit = (s: number) => (unit === 'MB/s' ? (size * count) / s / 1e6 : count / s);
    const label = size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
    const spread = (xs: number[]) => `rounds ${xs.map((s) => toUnit(s).toFixed(0)).join('/')}`;
    record({
      package: PKG,
      name: `link throughput, ${label} messages, loopback ws, vs same ws settings`,
      unit,
      value: toUnit(median(ours)),
      baseline: 'plaintext ws, same sizes and settings incl. zero client mask (no bufferutil); receiver in its own process for both',
      baselineValue: toUnit(median(baseZero)),
      goal: size >= 1024 ? '>= 0.75' : '>= 0.5',
      notes: `ours ${spread(ours)}; baseline ${spread(baseZero)}`,
    });
    record({
      package: PKG,
      name: `link throughput, ${label} messages, loopback ws, vs ws plus bare AES-256-GCM`,
      unit,
      value: toUnit(median(ours)),
      baseline:
        'plaintext ws (same settings, zero mask) plus one bare AES-256-GCM seal and open per message with node:crypto (cost floor of any encrypted link)',
      baselineValue: toUnit(median(floor)),
      notes: `floor ${spread(floor)}`,
    });
    record({
      package: PKG,
      name: `link throughput, ${label} messages, loopback ws, vs default ws`,
      unit,
      value: toUnit(median(ours)),
      baseline: 'plaintext ws with default (random) client masks (no bufferutil); receiver in its own process for both',
      baselineValue: toUnit(median(base)),
      notes: `baseline ${spread(base)}`,
    });
  }
  client.close();
  clientZero.close();
  floorClient.close();
  await a.stop();
  await Promise.all([meshRx.stop(), wsRx.stop(), aeadRx.stop()]);
}

// ------------------------------------------------------------------ memory per idle link

// A full collection before each reading, so handshake garbage does not count as link memory.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function rssAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage().rss;
}

if (SECTIONS.has('memory')) {
  const n = 21; // full mesh of 21 nodes = 210 links
  const links = (n * (n - 1)) / 2;
  const nodes = await Promise.all(gen(n).map((id) => meshNode(id, { maxPeers: n })));
  await new Promise((r) => setTimeout(r, 200));
  const before = await rssAfterGc();
  await Promise.all(
    nodes.map(async (m, i) => {
      for (let j = i + 1; j < n; j++) await m.connect(nodes[j]?.getPublicEndpoint() as string, { reconnect: false });
    }),
  );
  while (!nodes.every((m) => m.getPeers().length === n - 1)) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  const perLink = ((await rssAfterGc()) - before) / links;
  await Promise.all(nodes.map((m) => m.stop()));

  // Baseline: the same number of idle plaintext ws connections (both ends in this process).
  const wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const port = (wss.address() as { port: number }).port;
  await new Promise((r) => setTimeout(r, 200));
  const before2 = await rssAfterGc();
  const clients: WebSocket[] = [];
  for (let i = 0; i < links; i++) {
    const c = new WebSocket(`ws://${HOST}:${port}`, { perMessageDeflate: false });
    await new Promise((r) => c.once('open', r));
    clients.push(c);
  }
  await new Promise((r) => setTimeout(r, 300));
  const perWs = ((await rssAfterGc()) - before2) / links;
  for (const c of clients) c.terminate();
  await new Promise((r) => wss.close(r));
  // RSS barely moves for idle plaintext ws sockets (their buffers are lazily allocated), so a
  // ratio against them means nothing: report the figure, with the ws reading in the notes.
  recordFigure(
    PKG,
    'memory per idle link (RSS delta / 210 links, both ends)',
    'KiB',
    perLink / 1024,
    `idle plaintext ws connections measured ${(perWs / 1024).toFixed(2)} KiB each in the same run; a link holds its peer's identity record (~6.5 KB), keys, replay window and batching buffers`,
  );
}
