// The receiving node of the throughput benchmark, run in a worker thread by annex.bench.ts so that
// its work (ws parsing, link AES-GCM open, and for ANNEX the end-to-end open) runs on its own
// core, as it would on a real peer. The baseline, ANNEX and the bare AES-GCM reference all use
// this same receiver and the same counting protocol, so the method is identical for each.
//
// Protocol on the worker port: the worker posts { endpoint, nodeId } once started. The parent
// posts { mode, key? } before each run and waits for { ready: mode }; the worker then posts a
// number (messages delivered since the last post) at the end of every microtask in which
// something was delivered. { stop: true } stops the node and the worker exits.
import { parentPort } from 'node:worker_threads';
import { Annex } from '@yak/annex';
import { aes256gcm, NodeIdentity } from '@yak/crypto';
import { MeshNetwork } from '@yak/mesh-core';

export type ReceiverMode = 'mesh' | 'annex' | 'bare' | 'idle';
export interface ReceiverCommand {
  mode?: ReceiverMode;
  /** Key of the bare AES-GCM reference (mode 'bare'). */
  key?: Uint8Array;
  stop?: true;
}

const port = parentPort;
if (!port) throw new Error('bench/receiver.ts runs as a worker');

const OPEN = {
  wsPort: 0,
  host: '127.0.0.1',
  rateLimiter: { maxConnectionsPerMinute: 1e9, maxHandshakesPerMinute: 1e9, maxMessagesPerSecond: 1e9, maxGossipPerSecond: 1e9 },
  maxHandshakesPerIp: 1000,
  maxConcurrentHandshakes: 1000,
  subnetDiversity: false as const,
  gossip: false as const,
  reconnect: false as const,
};

const identity = NodeIdentity.generate();
const mesh = new MeshNetwork(identity, OPEN);
await mesh.start();
const annex = new Annex({ identity, mesh });

let mode: ReceiverMode = 'idle';
let bare: ReturnType<typeof aes256gcm> | undefined;
const nonce = new Uint8Array(12);
const aad = new Uint8Array(34);
let pending = 0;
const post = () => {
  port.postMessage(pending);
  pending = 0;
};
const hit = () => {
  if (pending++ === 0) queueMicrotask(post);
};

mesh.on('message', (m: { payload: unknown }) => {
  if (mode === 'mesh') hit();
  else if (mode === 'bare' && bare && m.payload instanceof Uint8Array) {
    bare.open(nonce, m.payload, aad);
    hit();
  }
});
annex.onMessage(() => {
  if (mode === 'annex') hit();
});

port.on('message', (c: ReceiverCommand) => {
  if (c.stop) {
    void annex
      .stop()
      .then(() => mesh.stop())
      .then(() => port.close());
    return;
  }
  if (c.mode) {
    mode = c.mode;
    bare?.destroy();
    bare = c.key ? aes256gcm(c.key) : undefined;
    port.postMessage({ ready: mode });
  }
});
port.postMessage({ endpoint: mesh.getPublicEndpoint() as string, nodeId: identity.nodeId });
