// Demo section: @yak/mesh-core. Eight nodes on loopback WebSockets in a ring: KEM-authenticated
// handshakes, the topology, a gossip reaching every node, a routed sendTo, attacks rejected.
import { NodeIdentity } from '@yak/crypto';
import { MeshError, MeshNetwork, type MeshStats, MessageTypes } from '@yak/mesh-core';
import type { DemoContext } from './context.js';
import type { DemoUI } from './ui.js';

const NODES = 8;
const NETWORK = 'yak-demo';

function short(id: string): string {
  return `${id.slice(0, 11)}…`;
}

export async function meshDemo(ui: DemoUI, ctx: DemoContext): Promise<void> {
  ui.section(`Mesh: ${NODES} nodes on loopback WebSockets`);
  const ids = await ui.step(`generate ${NODES} identities`, () =>
    Array.from({ length: NODES }, () => NodeIdentity.generate({ networkId: NETWORK })),
  );
  const meshes = ids.map(
    (id) => new MeshNetwork(id, { wsPort: 0, host: '127.0.0.1', networkId: NETWORK, networkFingerprint: 'yak-demo-build' }),
  );
  ctx.onCleanup(() => Promise.all(meshes.map((m) => m.stop())).then(() => undefined));
  await ui.step('start listeners (port 0: any free port)', () => Promise.all(meshes.map((m) => m.start())));

  // A ring: node i dials node i+1, so node 0 and node 4 are four hops apart.
  await ui.step(`${NODES} handshakes (X-Wing KEM-authenticated, hybrid forward secrecy)`, () =>
    Promise.all(meshes.map((m, i) => m.connect((meshes[(i + 1) % NODES] as MeshNetwork).getPublicEndpoint() as string))),
  );
  ui.info('topology (ring):');
  ui.table([
    ['node', 'id', 'neighbours'],
    ...meshes.map((m, i) => [
      String(i),
      short(m.localId),
      m
        .getPeers()
        .map((p) => String(ids.findIndex((x) => x.nodeId === p.nodeId)))
        .join(', '),
    ]),
  ]);
  ctx.meshes = meshes;

  const got = new Set<number>();
  const allGot = new Promise<void>((resolve) => {
    for (const [i, m] of meshes.entries()) {
      m.on(MessageTypes.GOSSIP, (msg: { origin: string }) => {
        if (msg.origin !== meshes[0]?.localId) return;
        got.add(i);
        if (got.size === NODES - 1) resolve();
      });
    }
  });
  await ui.step('node 0 broadcasts; the gossip reaches every other node', async () => {
    (meshes[0] as MeshNetwork).broadcast({ text: 'hello mesh' });
    await withTimeout(allGot, 10_000, 'gossip did not reach every node');
  });
  ui.info(`delivered to ${got.size}/${NODES - 1} nodes, origin-signed (ML-DSA-65 over a batch Merkle root)`);

  const target = meshes[NODES / 2] as MeshNetwork;
  const direct = new Promise<{ from: string; payload: unknown }>((resolve) =>
    target.on('message', (m: { from: string; payload: unknown }) => resolve(m)),
  );
  await ui.step(`routed sendTo: node 0 -> node ${NODES / 2} (not a neighbour)`, async () => {
    for (let i = 0; i < 50; i++) {
      try {
        (meshes[0] as MeshNetwork).sendTo(target.localId, { text: 'routed hello' });
        break;
      } catch (e) {
        if (!(e instanceof MeshError && e.code === 'YAK_MESH_UNREACHABLE')) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const m = await withTimeout(direct, 10_000, 'routed message did not arrive');
    if (m.from !== meshes[0]?.localId) throw new Error('wrong sender');
  });

  // Attacks: a node of another network, and one running another codebase.
  for (const [label, opts] of [
    ['a node of another network', { networkId: 'other-net', networkFingerprint: 'yak-demo-build' }],
    ['a node running another codebase (fingerprint)', { networkId: NETWORK, networkFingerprint: 'tampered-build' }],
  ] as const) {
    const intruder = new MeshNetwork(NodeIdentity.generate({ networkId: opts.networkId }), {
      wsPort: 0,
      host: '127.0.0.1',
      noListen: true,
      ...opts,
    });
    await intruder.start();
    try {
      await intruder.connect(meshes[1]?.getPublicEndpoint() as string, { reconnect: false, timeoutMs: 5000 });
      throw new Error(`${label} was accepted`);
    } catch (e) {
      if (!(e instanceof MeshError)) throw e;
      ui.blocked(`${label} tries to link`, e.code);
    } finally {
      await intruder.stop();
    }
  }

  const stats = meshes.map((m) => m.getStats() as MeshStats);
  ui.table([
    ['node', 'peers', 'handshakes', 'records out', 'records in', 'bytes out', 'rejected'],
    ...stats.map((s, i) => [
      i,
      s.peers,
      s.handshakesCompleted,
      s.recordsSent,
      s.recordsReceived,
      s.bytesSent,
      s.connectionsRejected + s.handshakesFailed,
    ]),
  ]);
  ui.summary('mesh nodes', NODES);
  ui.summary('gossip delivery', `${got.size}/${NODES - 1}`);
  ui.summary('mesh attacks rejected', 2);
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(what)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}
