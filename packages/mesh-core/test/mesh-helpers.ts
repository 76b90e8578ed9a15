// Shared test helpers: a pool of identities generated once per test file (ML-DSA keygen and the
// record signature cost ~15-25 ms each), networks that are always stopped, and a wait helper
// driven by events rather than sleeps.
import { NodeIdentity } from '@yak/crypto';
import { MeshNetwork, type MeshNetworkOptions } from '../src/index.js';

const pool: NodeIdentity[] = [];

/** The i-th identity of this file's pool (created on first use, reused across tests). */
export function identity(i: number): NodeIdentity {
  while (pool.length <= i) pool.push(NodeIdentity.generate());
  return pool[i] as NodeIdentity;
}

const live = new Set<MeshNetwork>();

/** A started network on loopback with an ephemeral port (stopped by `stopAll`). */
export async function node(i: number, opts: MeshNetworkOptions = {}): Promise<MeshNetwork> {
  const m = new MeshNetwork(identity(i), { wsPort: 0, host: '127.0.0.1', ...opts });
  live.add(m);
  await m.start();
  return m;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((m) => m.stop()));
  live.clear();
}

/** Resolve when `pred()` holds, checking after every macrotask; reject after `ms`. */
export async function until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolve with the args of the next `type` event on `m`. */
export function next(m: MeshNetwork, type: string): Promise<unknown[]> {
  return new Promise((resolve) => {
    const h = (...args: unknown[]) => {
      m.off(type, h);
      resolve(args);
    };
    m.on(type, h);
  });
}

/** The endpoint of a started network. */
export function ep(m: MeshNetwork): string {
  const e = m.getPublicEndpoint();
  if (!e) throw new Error('not listening');
  return e;
}
