// Identities for simulations. Real ML-DSA identities are derived from fixed seeds (so a run is
// reproducible) and cached per process; relays that never publish can use a light identity with
// a well-formed node id and no keys, which keeps 1,000-node runs cheap.
import { concatBytes, NodeIdentity, sha256, sha512, toBase32, toHex, u32be, utf8 } from '@yak/crypto';
import type { GossipIdentity, SignatureVerifier } from '../../src/gossip/gossip.js';

const cache = new Map<string, NodeIdentity>();

/** Deterministic identity number `i` of a named set. */
export function testIdentity(i: number, set = 'sim', networkId = 'yakmesh'): NodeIdentity {
  const key = `${set}/${networkId}/${i}`;
  let id = cache.get(key);
  if (!id) {
    id = NodeIdentity.generate({ seed: sha512(utf8(`yak-mesh-test/${key}`)), networkId, now: 1_600_000_000_000 });
    cache.set(key, id);
  }
  return id;
}

/** A well-formed node id that belongs to no key. */
export function fakeNodeId(i: number, set = 'sim'): string {
  return `node-${toBase32(sha256(utf8(`yak-mesh-fake/${set}/${i}`)).subarray(0, 20))}`;
}

/** An identity for a node that relays but never publishes (signing throws). */
export function relayIdentity(nodeId: string, networkId = 'yakmesh'): GossipIdentity {
  return {
    nodeId,
    networkId,
    sign: () => {
      throw new Error('relay identity cannot sign');
    },
    publicRecord: () => {
      throw new Error('relay identity has no record');
    },
  };
}

/**
 * ML-DSA verification memoised across every simulated node of the process: each distinct
 * (key, message, signature, context) is verified once for real, then answered from the table.
 * Every node still runs the whole verification path; only the repeated math is shared.
 */
export function memoVerifier(): SignatureVerifier & { calls: number; real: number } {
  const seen = new Map<string, boolean>();
  const f = ((pk, msg, sig, ctx) => {
    f.calls++;
    const k = toHex(sha256(concatBytes(u32be(msg.length), msg, u32be(ctx.length), ctx, pk, sig)));
    let v = seen.get(k);
    if (v === undefined) {
      f.real++;
      v = NodeIdentity.verify(pk, msg, sig, ctx);
      seen.set(k, v);
    }
    return v;
  }) as SignatureVerifier & { calls: number; real: number };
  f.calls = 0;
  f.real = 0;
  return f;
}
