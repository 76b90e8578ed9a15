// Gossip wire frames and the canonical bytes that are hashed and signed
// (docs/protocol/gossip.md sections 3-4). Fixed binary layout, big-endian integers.
import { isNodeId, sha256, utf8 } from '@yak/crypto';
import { BATCH_LABEL, GOSSIP_DEFAULTS, GOSSIP_VERSION, ID_BYTES, LEAF_LABEL, RECORD_MAX_BYTES, SIGNATURE_BYTES } from './constants.js';
import { HASH_BYTES, pathLength } from './merkle.js';
import { type Decoded, decodeWith, type Reader, utf8Length, WireFormatError, Writer } from './wire.js';

const LEAF_LABEL_BYTES = utf8(LEAF_LABEL);
const BATCH_LABEL_BYTES = utf8(BATCH_LABEL);

const FLAG_TOPIC = 1;
const FLAG_SIGNATURE = 2;
const FLAG_RECORD = 4;
const GRAFT_FULL = 1;
const GRAFT_LINK_ONLY = 2;

/** One message of a signed batch, as it crosses one link (gossip.md section 4.1). */
export interface MessageFrame {
  /** Links traversed including the one this frame crosses (the origin sends 1). */
  hops: number;
  /** Hop limit, signed in the batch header. */
  ttl: number;
  origin: string;
  /** Batch sequence number of the origin. */
  seq: number;
  /** Batch timestamp (Unix ms, origin's clock), signed. */
  ts: number;
  /** Number of messages in the batch. */
  size: number;
  /** Position of this message in the batch. */
  index: number;
  /** Merkle inclusion path, leaf upwards. */
  path: Uint8Array[];
  topic?: string;
  payload: Uint8Array;
  /** ML-DSA-65 signature over the batch header; omitted when the receiver has it already. */
  signature?: Uint8Array;
  /** Canonical identity record of the origin; sent once per link and origin. */
  record?: Uint8Array;
}

/** Limits a decoder enforces; defaults from {@link GOSSIP_DEFAULTS}. */
export interface FrameLimits {
  maxPayloadBytes: number;
  maxTopicBytes: number;
  maxBatchSize: number;
}

const DEFAULT_LIMITS: FrameLimits = {
  maxPayloadBytes: GOSSIP_DEFAULTS.maxPayloadBytes,
  maxTopicBytes: GOSSIP_DEFAULTS.maxTopicBytes,
  maxBatchSize: GOSSIP_DEFAULTS.maxBatchSize,
};

/**
 * Canonical leaf data of a message: everything the origin vouches for about it. Its leaf hash is
 * the message id. Binding origin, batch sequence and timestamp makes ids unique per origin even
 * when payloads repeat.
 */
export function leafData(
  origin: string,
  seq: number,
  ts: number,
  index: number,
  topic: string | undefined,
  payload: Uint8Array,
): Uint8Array {
  return writeLeaf(new Writer(leafSize(origin, topic, payload)), origin, seq, ts, index, topic, payload).finish();
}

/**
 * The message id: SHA-256(0x00 || leafData), the RFC 9162 leaf hash, built in one buffer because
 * every receiver computes it for every copy it gets.
 */
export function messageLeaf(
  origin: string,
  seq: number,
  ts: number,
  index: number,
  topic: string | undefined,
  payload: Uint8Array,
): Uint8Array {
  const w = new Writer(1 + leafSize(origin, topic, payload)).u8(0x00);
  return sha256(writeLeaf(w, origin, seq, ts, index, topic, payload).finish());
}

function leafSize(origin: string, topic: string | undefined, payload: Uint8Array): number {
  return (
    LEAF_LABEL_BYTES.length + 1 + origin.length + 8 + 8 + 2 + 1 + (topic === undefined ? 0 : 2 + utf8Length(topic)) + 4 + payload.length
  );
}

function writeLeaf(
  w: Writer,
  origin: string,
  seq: number,
  ts: number,
  index: number,
  topic: string | undefined,
  payload: Uint8Array,
): Writer {
  w.raw(LEAF_LABEL_BYTES).str8(origin).u64(seq).u64(ts).u16(index);
  if (topic === undefined) w.u8(0);
  else w.u8(1).str16(topic);
  return w.bytes32(payload);
}

/** Canonical batch header: the bytes the origin signs once per batch (gossip.md section 3). */
export function headerBytes(
  networkId: string,
  origin: string,
  seq: number,
  ts: number,
  size: number,
  ttl: number,
  root: Uint8Array,
): Uint8Array {
  return new Writer(BATCH_LABEL_BYTES.length + 2 + networkId.length + origin.length + 19 + root.length)
    .raw(BATCH_LABEL_BYTES)
    .str8(networkId)
    .str8(origin)
    .u64(seq)
    .u64(ts)
    .u16(size)
    .u8(ttl)
    .raw(root)
    .finish();
}

export function encodeMessage(f: MessageFrame): Uint8Array {
  let flags = 0;
  if (f.topic !== undefined) flags |= FLAG_TOPIC;
  if (f.signature !== undefined) flags |= FLAG_SIGNATURE;
  if (f.record !== undefined) flags |= FLAG_RECORD;
  const topicBytes = f.topic === undefined ? undefined : utf8(f.topic);
  // Exact size for ASCII origins (every node id), so the writer never grows or copies.
  const size =
    4 +
    1 +
    f.origin.length +
    8 +
    8 +
    2 +
    2 +
    1 +
    f.path.length * HASH_BYTES +
    (topicBytes ? 2 + topicBytes.length : 0) +
    4 +
    f.payload.length +
    (f.signature?.length ?? 0) +
    (f.record ? 2 + f.record.length : 0);
  const w = new Writer(size);
  w.u8(GOSSIP_VERSION).u8(flags).u8(f.hops).u8(f.ttl).str8(f.origin).u64(f.seq).u64(f.ts).u16(f.size).u16(f.index);
  w.u8(f.path.length);
  for (const p of f.path) w.raw(p);
  if (topicBytes) w.bytes16(topicBytes);
  w.bytes32(f.payload);
  if (f.signature !== undefined) w.raw(f.signature);
  if (f.record !== undefined) w.bytes16(f.record);
  return w.finish();
}

function fail(why: string): never {
  throw new WireFormatError(why);
}

function version(r: Reader): void {
  if (r.u8() !== GOSSIP_VERSION) fail('unsupported version');
}

/** Decode a MESSAGE frame; never throws. Views into `bytes` are returned, copy before keeping. */
export function decodeMessage(bytes: unknown, limits: FrameLimits = DEFAULT_LIMITS): Decoded<MessageFrame> {
  return decodeWith(bytes, (r) => {
    version(r);
    const flags = r.u8();
    if (flags & ~(FLAG_TOPIC | FLAG_SIGNATURE | FLAG_RECORD)) fail('unknown flags');
    const hops = r.u8();
    const ttl = r.u8();
    if (hops < 1 || ttl < 1) fail('zero hops or ttl');
    const origin = r.str8();
    if (!isNodeId(origin)) fail('malformed origin');
    const seq = r.u64();
    const ts = r.u64();
    const size = r.u16();
    const index = r.u16();
    if (size < 1 || size > limits.maxBatchSize) fail('bad batch size');
    if (index >= size) fail('index outside batch');
    const plen = r.u8();
    if (plen !== pathLength(index, size)) fail('bad path length');
    const path: Uint8Array[] = [];
    for (let i = 0; i < plen; i++) path.push(r.raw(HASH_BYTES));
    const f: MessageFrame = { hops, ttl, origin, seq, ts, size, index, path, payload: new Uint8Array(0) };
    if (flags & FLAG_TOPIC) f.topic = r.str16(limits.maxTopicBytes);
    f.payload = r.bytes32(limits.maxPayloadBytes);
    if (flags & FLAG_SIGNATURE) f.signature = r.raw(SIGNATURE_BYTES);
    if (flags & FLAG_RECORD) f.record = r.bytes16(RECORD_MAX_BYTES);
    r.end();
    return f;
  });
}

function encodeIds(w: Writer, ids: readonly Uint8Array[]): Uint8Array {
  w.u16(ids.length);
  for (const id of ids) w.raw(id);
  return w.finish();
}

function readIds(r: Reader, max: number): Uint8Array[] {
  const n = r.u16();
  if (n < 1 || n > max) fail('bad id count');
  const ids: Uint8Array[] = [];
  for (let i = 0; i < n; i++) ids.push(r.raw(ID_BYTES));
  r.end();
  return ids;
}

/** One lazy announcement: a message id and the hops at which the announcer holds it. */
export interface Announcement {
  id: Uint8Array;
  hops: number;
}

/** IHAVE: ids the sender holds, each with its hop count (gossip.md section 4.2). */
export function encodeIhave(items: readonly Announcement[]): Uint8Array {
  const w = new Writer(3 + items.length * (ID_BYTES + 1)).u8(GOSSIP_VERSION).u16(items.length);
  for (const a of items) w.raw(a.id).u8(a.hops);
  return w.finish();
}

export function decodeIhave(bytes: unknown, maxIds: number = GOSSIP_DEFAULTS.maxIdsPerFrame): Decoded<Announcement[]> {
  return decodeWith(bytes, (r) => {
    version(r);
    const n = r.u16();
    if (n < 1 || n > maxIds) fail('bad id count');
    const out: Announcement[] = [];
    for (let i = 0; i < n; i++) out.push({ id: r.raw(ID_BYTES), hops: r.u8() });
    r.end();
    return out;
  });
}

/** A GRAFT request (gossip.md section 4.3). */
export interface Graft {
  ids: Uint8Array[];
  /** Include the batch signature and origin record whatever the sender believes we hold. */
  full: boolean;
  /** Only make the link eager for these messages' origins; do not resend them (tree optimisation). */
  linkOnly: boolean;
}

/** GRAFT: send me these messages, and push messages of their origins to me eagerly from now on. */
export function encodeGraft(g: Graft): Uint8Array {
  const flags = (g.full ? GRAFT_FULL : 0) | (g.linkOnly ? GRAFT_LINK_ONLY : 0);
  return encodeIds(new Writer(4 + g.ids.length * ID_BYTES).u8(GOSSIP_VERSION).u8(flags), g.ids);
}

export function decodeGraft(bytes: unknown, maxIds: number = GOSSIP_DEFAULTS.maxIdsPerFrame): Decoded<Graft> {
  return decodeWith(bytes, (r) => {
    version(r);
    const flags = r.u8();
    if (flags & ~(GRAFT_FULL | GRAFT_LINK_ONLY)) fail('unknown flags');
    return { full: (flags & GRAFT_FULL) !== 0, linkOnly: (flags & GRAFT_LINK_ONLY) !== 0, ids: readIds(r, maxIds) };
  });
}

/** PRUNE: stop pushing messages of this origin to me eagerly (announce them lazily instead). */
export function encodePrune(origin: string): Uint8Array {
  return new Writer(2 + origin.length).u8(GOSSIP_VERSION).str8(origin).finish();
}

export function decodePrune(bytes: unknown): Decoded<string> {
  return decodeWith(bytes, (r) => {
    version(r);
    const origin = r.str8();
    if (!isNodeId(origin)) fail('malformed origin');
    r.end();
    return origin;
  });
}
