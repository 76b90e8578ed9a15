// Seed 001 message types, app payload encoding and the frame kinds MeshNetwork itself uses.
import type { JsonValue, SafeJsonParser } from '@yak/defense';
import { LINK } from './constants.js';
import { PayloadTooLargeError } from './errors.js';

/**
 * The nine message types of seed 001 ("Message Types"). `hello`/`welcome` name the two first
 * handshake messages (HELLO, WELCOME in docs/protocol/link.md); the others name frames and are
 * also the event names under which MeshNetwork reports them.
 */
export const MessageTypes = {
  HELLO: 'hello',
  WELCOME: 'welcome',
  PING: 'ping',
  PONG: 'pong',
  PEERS: 'peers',
  SYNC_REQUEST: 'sync_request',
  SYNC_RESPONSE: 'sync_response',
  REPLICATE: 'replicate',
  GOSSIP: 'gossip',
} as const;
export type MessageType = (typeof MessageTypes)[keyof typeof MessageTypes];

/** Lifecycle and delivery events of MeshNetwork besides the message types. */
export const MeshEvents = {
  /** A link to a neighbour came up: `(peer: PeerInfo)`. */
  PEER_CONNECTED: 'peer:connected',
  /** A link to a neighbour went down: `(peer: PeerInfo, reason: string)`. */
  PEER_DISCONNECTED: 'peer:disconnected',
  /** A direct message (`sendTo`) arrived: `(msg: DirectMessage, peer, fromNodeId)`. */
  MESSAGE: 'message',
} as const;

/** Frame kinds of application traffic (0x40.. range, link-layer.ts). */
export const AppKind = {
  /** `sendTo` payload, on a direct link or routed. */
  DIRECT: 0x40,
  /** `broadcast` payload to direct neighbours when no gossip engine is attached. */
  NEIGHBOUR_BROADCAST: 0x41,
} as const;

/** An application message: any JSON value, or raw bytes. */
export type MeshPayload = JsonValue | Uint8Array;

const TAG_BYTES = 0;
const TAG_JSON = 1;
const textEnc = new TextEncoder();

/** Encode an application payload: tag byte (0 bytes, 1 JSON) then the data. */
export function encodePayload(message: unknown, max: number = LINK.maxFrameBytes - 64): Uint8Array {
  let out: Uint8Array;
  if (message instanceof Uint8Array) {
    out = new Uint8Array(message.length + 1);
    out[0] = TAG_BYTES;
    out.set(message, 1);
  } else {
    let json: string | undefined;
    try {
      json = JSON.stringify(message);
    } catch {
      throw new TypeError('message must be JSON-serialisable or a Uint8Array');
    }
    if (json === undefined) throw new TypeError('message must be JSON-serialisable or a Uint8Array');
    const b = textEnc.encode(json);
    out = new Uint8Array(b.length + 1);
    out[0] = TAG_JSON;
    out.set(b, 1);
  }
  if (out.length > max) throw new PayloadTooLargeError(`message encodes to ${out.length} bytes, limit ${max}`);
  return out;
}

/** Decode an application payload with the safe JSON parser; undefined when malformed. */
export function decodePayload(body: Uint8Array, parser: SafeJsonParser): MeshPayload | undefined {
  if (body.length === 0) return undefined;
  if (body[0] === TAG_BYTES) return body.slice(1);
  if (body[0] !== TAG_JSON) return undefined;
  const r = parser.parse(body.subarray(1));
  return r.success ? r.data : undefined;
}
