// Routing wire frames (docs/protocol/routing.md section 6). Fixed binary layout, big-endian.
import { isNodeId } from '@yak/crypto';
import { type Decoded, decodeWith, type Reader, WireFormatError, Writer } from '../gossip/wire.js';
import { METRIC_INFINITY, ROUTING_DEFAULTS, ROUTING_VERSION } from './constants.js';

/** One route advertisement: destination, its sequence number, the sender's metric (hops). */
export interface RouteAdvert {
  dest: string;
  seq: number;
  /** Hops from the advertiser to `dest`; {@link METRIC_INFINITY} retracts the route. */
  metric: number;
}

/** A routed frame. */
export interface DataFrame {
  /** Remaining hops, including the link this frame is about to cross. */
  ttl: number;
  /** Upper-layer kind delivered to `onDeliver(kind)` handlers at the destination. */
  kind: number;
  /** Claimed source; authenticated hop by hop only (routing.md section 7). */
  src: string;
  dst: string;
  body: Uint8Array;
}

/** Notice routed back to `dst` (the original sender): `target` could not be reached via `reporter`. */
export interface UnreachableFrame {
  ttl: number;
  reason: number;
  reporter: string;
  dst: string;
  target: string;
}

export interface SeqRequestFrame {
  dest: string;
  /** The sequence number the requester needs, at least. */
  seq: number;
  /** Remaining forwarding budget. */
  hops: number;
}

function fail(why: string): never {
  throw new WireFormatError(why);
}

function version(r: Reader): void {
  if (r.u8() !== ROUTING_VERSION) fail('unsupported version');
}

function nodeId(r: Reader): string {
  const s = r.str8();
  if (!isNodeId(s)) fail('malformed node id');
  return s;
}

export function encodeUpdate(adverts: readonly RouteAdvert[]): Uint8Array {
  const w = new Writer(3 + adverts.length * 48).u8(ROUTING_VERSION).u16(adverts.length);
  for (const a of adverts) w.str8(a.dest).u64(a.seq).u16(a.metric);
  return w.finish();
}

export function decodeUpdate(bytes: unknown, maxEntries: number = ROUTING_DEFAULTS.maxEntriesPerUpdate): Decoded<RouteAdvert[]> {
  return decodeWith(bytes, (r) => {
    version(r);
    const n = r.u16();
    if (n < 1 || n > maxEntries) fail('bad entry count');
    const out: RouteAdvert[] = [];
    for (let i = 0; i < n; i++) out.push({ dest: nodeId(r), seq: r.u64(), metric: r.u16() });
    r.end();
    return out;
  });
}

/** Offset of the ttl byte in a DATA or UNREACHABLE frame: relays decrement it in a copy. */
export const TTL_OFFSET = 1;

export function encodeData(f: DataFrame): Uint8Array {
  return new Writer(90 + f.body.length).u8(ROUTING_VERSION).u8(f.ttl).u8(f.kind).str8(f.src).str8(f.dst).bytes32(f.body).finish();
}

export function decodeData(bytes: unknown, maxBody: number = ROUTING_DEFAULTS.maxBodyBytes): Decoded<DataFrame> {
  return decodeWith(bytes, (r) => {
    version(r);
    const ttl = r.u8();
    if (ttl < 1) fail('zero ttl');
    const kind = r.u8();
    const src = nodeId(r);
    const dst = nodeId(r);
    const body = r.bytes32(maxBody);
    r.end();
    return { ttl, kind, src, dst, body };
  });
}

export function encodeUnreachable(f: UnreachableFrame): Uint8Array {
  return new Writer(128).u8(ROUTING_VERSION).u8(f.ttl).u8(f.reason).str8(f.reporter).str8(f.dst).str8(f.target).finish();
}

export function decodeUnreachable(bytes: unknown): Decoded<UnreachableFrame> {
  return decodeWith(bytes, (r) => {
    version(r);
    const ttl = r.u8();
    if (ttl < 1) fail('zero ttl');
    const reason = r.u8();
    if (reason !== 1 && reason !== 2) fail('unknown reason');
    const f = { ttl, reason, reporter: nodeId(r), dst: nodeId(r), target: nodeId(r) };
    r.end();
    return f;
  });
}

export function encodeSeqRequest(f: SeqRequestFrame): Uint8Array {
  return new Writer(56).u8(ROUTING_VERSION).str8(f.dest).u64(f.seq).u8(f.hops).finish();
}

export function decodeSeqRequest(bytes: unknown): Decoded<SeqRequestFrame> {
  return decodeWith(bytes, (r) => {
    version(r);
    const dest = nodeId(r);
    const seq = r.u64();
    const hops = r.u8();
    if (hops < 1) fail('zero hop budget');
    r.end();
    return { dest, seq, hops };
  });
}

export { METRIC_INFINITY };
