import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { KeyStore, NodeIdentity } from '@yak/crypto';
import { AutoDialEvents, type Logger, MeshEvents, MeshNetwork, MessageTypes, type PeerInfo } from '@yak/mesh-core';
import { KEYSTORE_FILE } from './keygen.js';
import { serveMetrics, toPrometheus } from './metrics.js';

export interface NodeOptions {
  port: number;
  host: string;
  peers: string[];
  dataDir: string;
  networkId: string;
  name: string;
  passphrase: string;
  publicHost?: string;
  /**
   * Dial endpoints learned from neighbours until the node has enough links (MeshNetwork
   * `autoDial` with its defaults). Default true; `--no-auto-dial` turns it off.
   */
  autoDial?: boolean;
  /** Machine-readable output: one JSON object per line. */
  json: boolean;
  /** Serve Prometheus metrics on this port (GET /metrics, bound to `host`). */
  metricsPort?: number;
  /** Read commands (broadcast, send, peers, stats, quit) from this stream. */
  input?: NodeJS.ReadableStream;
  write?: (line: string) => void;
  signal?: AbortSignal;
}

// Log lines from the mesh that tell an operator a peer was refused or dropped.
const REJECTIONS = new Set(['connection refused', 'protocol violation', 'peer banned', 'dial failed']);

/** Load the named identity from the encrypted key store, creating store and identity if absent. */
export async function loadIdentity(
  dataDir: string,
  name: string,
  passphrase: string,
  networkId: string,
): Promise<{ identity: NodeIdentity; created: boolean }> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const store = await KeyStore.openOrCreate(join(dataDir, KEYSTORE_FILE), passphrase);
  try {
    if (store.has(name)) return { identity: store.get(name), created: false };
    const identity = NodeIdentity.generate({ networkId });
    await store.set(name, identity);
    return { identity, created: true };
  } finally {
    store.close();
  }
}

/**
 * `yak node`: run a mesh node with a persistent identity until SIGINT/SIGTERM, `quit` on the
 * command stream, or the signal aborts. Logs peers joining, leaving and refused.
 */
export async function runNode(opts: NodeOptions): Promise<void> {
  const write = opts.write ?? ((l: string) => process.stdout.write(`${l}\n`));
  const out = (event: string, fields: Record<string, unknown>, human: string) =>
    write(opts.json ? JSON.stringify({ event, ...fields }) : human);
  const { identity, created } = await loadIdentity(opts.dataDir, opts.name, opts.passphrase, opts.networkId);
  if (identity.networkId !== opts.networkId) {
    throw new Error(`identity '${opts.name}' belongs to network '${identity.networkId}', not '${opts.networkId}'`);
  }
  const logger: Logger = {
    debug: (obj, msg) => {
      if (typeof msg === 'string' && REJECTIONS.has(msg))
        out('rejected', { why: msg, ...(obj as object) }, `rejected: ${msg} ${JSON.stringify(obj)}`);
    },
    info: () => {},
    warn: (obj, msg) => out('warn', { msg, ...(obj as object) }, `warning: ${msg ?? ''} ${JSON.stringify(obj)}`),
    error: (obj, msg) => out('error', { msg, ...(obj as object) }, `error: ${msg ?? ''} ${JSON.stringify(obj)}`),
  };
  const mesh = new MeshNetwork(identity, {
    wsPort: opts.port,
    host: opts.host,
    networkId: opts.networkId,
    peers: opts.peers,
    autoDial: opts.autoDial === false ? false : {},
    logger,
    ...(opts.publicHost ? { publicHost: opts.publicHost } : {}),
  });
  mesh.on(MeshEvents.PEER_CONNECTED, (p: PeerInfo) =>
    out(
      'peer:joined',
      { peer: p.nodeId, direction: p.direction, handshake: p.handshake },
      `peer joined: ${p.nodeId} (${p.direction}, ${p.handshake})`,
    ),
  );
  mesh.on(MeshEvents.PEER_DISCONNECTED, (p: PeerInfo, reason: string) =>
    out('peer:left', { peer: p.nodeId, reason }, `peer left: ${p.nodeId} (${reason})`),
  );
  mesh.on(AutoDialEvents.CONNECTED, (i: { nodeId: string; endpoint: string }) =>
    out('autodial', { ok: true, peer: i.nodeId, endpoint: i.endpoint }, `auto-dialled ${i.nodeId} at ${i.endpoint}`),
  );
  mesh.on(AutoDialEvents.FAILED, (i: { nodeId: string; endpoint: string; code: string }) =>
    out(
      'autodial',
      { ok: false, peer: i.nodeId, endpoint: i.endpoint, code: i.code },
      `auto-dial to ${i.nodeId} at ${i.endpoint} failed (${i.code})`,
    ),
  );
  mesh.on(MessageTypes.GOSSIP, (msg: { origin: string; payload: unknown; hops: number }) =>
    out(
      'gossip',
      { origin: msg.origin, hops: msg.hops, payload: msg.payload },
      `gossip from ${msg.origin} (${msg.hops} hops): ${JSON.stringify(msg.payload)}`,
    ),
  );
  mesh.on(MeshEvents.MESSAGE, (msg: { from: string; payload: unknown }) =>
    out('message', { from: msg.from, payload: msg.payload }, `message from ${msg.from}: ${JSON.stringify(msg.payload)}`),
  );

  await mesh.start();
  const metrics =
    opts.metricsPort === undefined
      ? undefined
      : await serveMetrics(opts.metricsPort, opts.host, () => toPrometheus(mesh.getStats(), 'yak_mesh', { node_id: identity.nodeId }));
  if (metrics) {
    const a = metrics.address();
    const port = typeof a === 'object' && a ? a.port : opts.metricsPort;
    out('metrics', { url: `http://${opts.host}:${port}/metrics` }, `metrics on http://${opts.host}:${port}/metrics`);
  }
  out(
    'started',
    { nodeId: identity.nodeId, endpoint: mesh.getPublicEndpoint(), created },
    `node ${identity.nodeId} listening on ${mesh.getPublicEndpoint()}${created ? ' (new identity)' : ''}`,
  );

  let stopped = false;
  let rl: ReturnType<typeof createInterface> | undefined;
  const done = new Promise<void>((resolve) => {
    const stop = () => {
      if (stopped) return;
      stopped = true;
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    opts.signal?.addEventListener('abort', stop, { once: true });
    if (opts.input) {
      rl = createInterface({ input: opts.input });
      rl.on('line', (line) => {
        try {
          if (handleCommand(mesh, line.trim(), out)) stop();
        } catch (e) {
          out('error', { msg: (e as Error).message, code: (e as { code?: string }).code }, `error: ${(e as Error).message}`);
        }
      });
      rl.on('close', () => {});
    }
  });
  try {
    await done;
  } finally {
    rl?.close();
    await new Promise<void>((resolve) => (metrics ? metrics.close(() => resolve()) : resolve()));
    await mesh.stop();
    identity.destroy();
    out('stopped', { nodeId: identity.nodeId }, 'node stopped');
  }
}

/** Returns true for `quit`. */
function handleCommand(mesh: MeshNetwork, line: string, out: (e: string, f: Record<string, unknown>, h: string) => void): boolean {
  if (!line) return false;
  const [cmd, ...args] = line.split(' ');
  switch (cmd) {
    case 'broadcast': {
      const id = mesh.broadcast({ text: args.join(' ') });
      out('broadcast', { id }, `broadcast ${id}`);
      return false;
    }
    case 'send': {
      const [to, ...text] = args;
      mesh.sendTo(to ?? '', { text: text.join(' ') });
      out('sent', { to }, `sent to ${to}`);
      return false;
    }
    case 'peers':
      out(
        'peers',
        { peers: mesh.getPeers().map((p) => p.nodeId) },
        mesh
          .getPeers()
          .map((p) => `  ${p.nodeId} ${p.endpoint ?? ''}`)
          .join('\n') || '  (none)',
      );
      return false;
    case 'stats':
      out('stats', { stats: mesh.getStats() }, JSON.stringify(mesh.getStats(), null, 2));
      return false;
    case 'quit':
      return true;
    default:
      out(
        'error',
        { msg: `unknown command ${cmd}` },
        `unknown command: ${cmd} (broadcast TEXT | send NODE_ID TEXT | peers | stats | quit)`,
      );
      return false;
  }
}
