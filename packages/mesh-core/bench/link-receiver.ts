// The receiving end of the link throughput benchmark, in its own process so that its work (ws
// parsing, and for the mesh link AES-GCM opening and frame dispatch) runs on its own core, as it
// would on a real peer. The candidate and the plaintext-ws baseline use this same process
// and the same counting protocol. Started by link.bench.ts with `fork`; argv[2] is 'mesh', 'ws' or 'ws-aead' (argv[3]: hex key).
import { createDecipheriv, createSecretKey } from 'node:crypto';
import { NodeIdentity } from '@yak/crypto';
import { MeshNetwork } from '@yak/mesh-core';
import { WebSocketServer } from 'ws';
import { BENCH_KIND, HOST, OPEN, type ReceiverMessage, WS_OPTS } from './link-common.js';

const send = (m: ReceiverMessage) => process.send?.(m);
let target = 0;
let count = 0;
const hit = () => {
  if (++count === target) send({ done: count });
};
// The parent arms a run with the number of messages to count, then starts sending.
process.on('message', (m: { target: number }) => {
  count = 0;
  target = m.target;
  send({ armed: target });
});

if (process.argv[2] === 'mesh') {
  const m = new MeshNetwork(NodeIdentity.generate(), { wsPort: 0, host: HOST, ...OPEN });
  await m.start();
  m.onFrame(BENCH_KIND, hit);
  process.on('disconnect', () => void m.stop().then(() => process.exit(0)));
  send({ endpoint: m.getPublicEndpoint() as string, nodeId: m.localId });
} else {
  const wss = new WebSocketServer({ host: HOST, port: 0, ...WS_OPTS });
  await new Promise((r) => wss.once('listening', r));
  if (process.argv[2] === 'ws-aead') {
    // The cost floor of any encrypted link: open every message with one bare AES-256-GCM call.
    const key = createSecretKey(Buffer.from(process.argv[3] as string, 'hex'));
    const nonce = Buffer.alloc(12);
    wss.on('connection', (ws) =>
      ws.on('message', (data: Buffer) => {
        const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
        d.setAuthTag(data.subarray(data.length - 16));
        d.update(data.subarray(0, data.length - 16));
        d.final();
        hit();
      }),
    );
  } else wss.on('connection', (ws) => ws.on('message', hit));
  process.on('disconnect', () => process.exit(0));
  send({ port: (wss.address() as { port: number }).port });
}
