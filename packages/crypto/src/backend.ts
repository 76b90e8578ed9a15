// Backend selection (SPEC section 2): chosen once at load (native when node:crypto is there,
// noble otherwise), reported by `backend()`. `selectBackend()` exists so tests and benchmarks
// can run the same suite against every backend on the machine.
import { createNobleBackend } from './backends/noble.js';
import { createNodeBackend } from './backends/node.js';
import type { Backend } from './backends/types.js';

const available: Record<string, Backend> = {};
const nodeBackend = createNodeBackend();
if (nodeBackend) available.node = nodeBackend;
available.noble = createNobleBackend();

let active: Backend = (nodeBackend ?? available.noble) as Backend;

/** The backend serving calls now (internal). */
export function current(): Backend {
  return active;
}

/** Names of the backends usable in this runtime, preferred first. */
export function availableBackends(): Array<'node' | 'noble'> {
  return Object.keys(available) as Array<'node' | 'noble'>;
}

/** Report of which implementation serves each primitive. */
export interface BackendReport {
  /** 'node' (OpenSSL through node:crypto) or 'noble' (pure JS). */
  name: 'node' | 'noble';
  /** Primitive -> implementation, e.g. `{ aead: 'node:crypto (OpenSSL)', mlkem768: '@noble/post-quantum' }`. */
  primitives: Record<string, string>;
}

/** Which implementation serves each primitive in this runtime. */
export function backend(): BackendReport {
  return {
    name: active.name,
    primitives: {
      ...active.report,
      mlkem768: '@noble/post-quantum (no native ML-KEM before Node 24.7)',
      mldsa65: '@noble/post-quantum (no native ML-DSA before Node 24.7)',
      xwing: `X-Wing: ML-KEM-768 from @noble/post-quantum, X25519 from ${active.report.x25519}, SHA3/SHAKE from @noble/hashes`,
    },
  };
}

/**
 * Switch the backend for the whole process. Meant for tests and benchmarks that compare
 * backends; applications keep the default chosen at load.
 */
export function selectBackend(name: 'node' | 'noble'): void {
  const b = available[name];
  if (!b) throw new RangeError(`backend '${name}' is not available in this runtime`);
  active = b;
}
