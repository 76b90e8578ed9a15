// Merkle tree over the messages of one gossip batch, as in RFC 9162 section 2.1 (Certificate
// Transparency v2): leaf hash SHA-256(0x00 || data), interior SHA-256(0x01 || left || right),
// the split at the largest power of two below n. The distinct prefixes keep a leaf from passing
// as an interior node (second-preimage defence, RFC 9162 section 2.1.1). The origin signs the
// root once per batch; each message carries its inclusion path (docs/protocol/gossip.md section 3).
import { sha256 } from '@yak/crypto';

export const HASH_BYTES = 32;
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + data.length);
  buf[0] = LEAF_PREFIX;
  buf.set(data, 1);
  return sha256(buf);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + 2 * HASH_BYTES);
  buf[0] = NODE_PREFIX;
  buf.set(left, 1);
  buf.set(right, 1 + HASH_BYTES);
  return sha256(buf);
}

/** Largest power of two strictly below n (n >= 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Root and every inclusion path of a tree over `leaves` (already leaf-hashed). Paths are ordered
 * from the leaf upwards, as RFC 9162 section 2.1.3.1 produces them.
 */
export function buildTree(leaves: Uint8Array[]): { root: Uint8Array; paths: Uint8Array[][] } {
  if (leaves.length === 0) throw new RangeError('leaves must not be empty');
  const paths: Uint8Array[][] = leaves.map(() => []);
  const root = build(leaves, 0, leaves.length, paths);
  return { root, paths };
}

function build(leaves: Uint8Array[], lo: number, hi: number, paths: Uint8Array[][]): Uint8Array {
  const n = hi - lo;
  if (n === 1) return leaves[lo] as Uint8Array;
  const k = split(n);
  const left = build(leaves, lo, lo + k, paths);
  const right = build(leaves, lo + k, hi, paths);
  for (let i = lo; i < lo + k; i++) (paths[i] as Uint8Array[]).push(right);
  for (let i = lo + k; i < hi; i++) (paths[i] as Uint8Array[]).push(left);
  return nodeHash(left, right);
}

/** Length of the inclusion path of leaf `index` in a tree of `size` leaves. */
export function pathLength(index: number, size: number): number {
  let len = 0;
  let lo = 0;
  let n = size;
  while (n > 1) {
    const k = split(n);
    if (index - lo < k) n = k;
    else {
      lo += k;
      n -= k;
    }
    len++;
  }
  return len;
}

/**
 * Recompute the root from a leaf hash and its inclusion path (RFC 9162 section 2.1.3.2).
 * Returns undefined when the path cannot belong to a tree of `size` leaves. `visit` sees every
 * node computed on the way up together with the sibling it was combined with; when it returns
 * true the walk stops early and `KNOWN` is returned (the caller recognised an authenticated node,
 * docs/protocol/gossip.md section 3.3).
 */
export function rootFromPath(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
  visit?: (node: Uint8Array, sibling: Uint8Array) => boolean,
): Uint8Array | undefined | typeof KNOWN {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (p.length !== HASH_BYTES || sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
    if (visit?.(r, p)) return KNOWN;
  }
  return sn === 0 ? r : undefined;
}

/** Returned by {@link rootFromPath} when the visitor recognised a node. */
export const KNOWN: unique symbol = Symbol('known');
