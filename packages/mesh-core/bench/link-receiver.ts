// The receiving end of the link throughput benchmark, in its own process so that its work (ws
// parsing, and for the mesh link AES-GCM opening and frame dispatch) runs on its own core, as it
// would on a real peer. The candidate and the plaintext-ws baseline use this same process
// and the same counting protocol. Started by link.bench.ts with `fork`; argv[2] is 'mesh' or 'ws'.
import { NodeIdentity } from '@yak/crypto';
import { WebSocketServer } from 'ws';
import { MeshNetwork } from '../src/index.js';
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
  wss.on('connection', (ws) => ws.on('message', hit));
  process.on('disconnect', () => process.exit(0));
  send({ port: (wss.address() as { port: number }).port });
}
