// Origin-authenticated gossip over the link layer: Merkle-batched ML-DSA-65 signatures and
// Plumtree dissemination (eager push on a tree, lazy IHAVE to the other links, GRAFT on a
// missing message, PRUNE on a duplicate). Protocol: docs/protocol/gossip.md.
import { decodeIdentityRecord, encodeIdentityRecord, NodeIdentity, randomBytes, toHex, utf8 } from '@yak/crypto';
import { InvalidArgumentError, NotRunningError, PayloadTooLargeError } from '../errors.js';
import { type Clock, type LinkLayer, type Logger, silentLogger, systemClock } from '../link-layer.js';
import { BoundedMap, BoundedSet, DedupCache } from './bounded.js';
import {
  type Announcement,
  decodeGraft,
  decodeIhave,
  decodeMessage,
  decodePrune,
  encodeGraft,
  encodeIhave,
  encodeMessage,
  encodePrune,
  type FrameLimits,
  headerBytes,
  type MessageFrame,
  messageLeaf,
} from './codec.js';
import { BATCH_LABEL, GOSSIP_DEFAULTS, GOSSIP_KIND, MAX_FRAME_BYTES } from './constants.js';
import { buildTree, KNOWN, rootFromPath } from './merkle.js';
import { utf8Length } from './wire.js';

const SIGN_CONTEXT = utf8(BATCH_LABEL);
/** Payload limit that keeps the worst-case MESSAGE frame within {@link MAX_FRAME_BYTES}. */
const MAX_PAYLOAD_LIMIT = MAX_FRAME_BYTES - 12_366;

/** What gossip needs of a node identity; a `NodeIdentity` from @yak/crypto fits. */
export type GossipIdentity = Pick<NodeIdentity, 'nodeId' | 'networkId' | 'sign' | 'publicRecord'>;

/** Signature check used for batch headers; `NodeIdentity.verify` unless a simulation memoises it. */
export type SignatureVerifier = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context: Uint8Array) => boolean;

/** A gossip message as delivered to `onMessage` handlers. */
export interface GossipMessage {
  /** Node id of the node that published it, proven by its batch signature. */
  origin: string;
  /** Message id: hex SHA-256 leaf hash, unique per message (docs/protocol/gossip.md section 3). */
  id: string;
  payload: Uint8Array;
  /** Links the message crossed to reach this node. */
  hops: number;
  topic?: string;
}

export interface GossipOptions {
  /** Links to direct neighbours (src/link-layer.ts). */
  link: LinkLayer;
  /** This node's identity: signs batches, and its network id scopes every signature. */
  identity: GossipIdentity;
  clock?: Clock;
  logger?: Logger;
  /** Hop limit written into this node's batches and enforced on everyone's (default 32). */
  ttl?: number;
  /** Ids remembered for dedup (default 65,536). */
  dedupSize?: number;
  /** Dedup memory and acceptance window in ms (default 120,000). */
  dedupTtlMs?: number;
  /** Accepted clock skew for timestamps in the future (default 30,000 ms). */
  maxClockSkewMs?: number;
  /** Messages per signed batch (default 64). */
  batchMaxMessages?: number;
  /** Longest wait before a batch is signed (default 10 ms). */
  batchMaxDelayMs?: number;
  /** Interval of lazy IHAVE announcements (default 25 ms). */
  lazyFlushMs?: number;
  /** Wait after an IHAVE before grafting the announcer (default 250 ms). */
  graftTimeoutMs?: number;
  /** Wait before grafting the next announcer (default 125 ms). */
  graftRetryMs?: number;
  /** Largest payload (default 48 KiB; at most 52 KiB so a frame fits the link's 64 KiB gossip limit). */
  maxPayloadBytes?: number;
  /** Messages kept to answer GRAFTs (default 4,096). */
  messageCacheSize?: number;
  /** Verified batch headers cached (default 1,024). */
  headerCacheSize?: number;
  /** Verified origin records cached (default 4,096). */
  recordCacheSize?: number;
  /** Announced-but-missing ids tracked (default 8,192). */
  maxMissing?: number;
  /** Origins whose dissemination tree is remembered (default 1,024). */
  maxTrees?: number;
  /** Re-parent in the tree when a lazy link offers a path this many hops shorter (default 3). */
  optimizeHops?: number;
  /**
   * Replace the ML-DSA-65 check of batch headers. Simulations that run thousands of nodes in one
   * process pass a memoised `NodeIdentity.verify`; production code leaves it unset.
   */
  verifySignature?: SignatureVerifier;
}

/** Counters of one gossip instance (SPEC section 2, "Observability"). */
export interface GossipStats {
  published: number;
  batchesSigned: number;
  /** MESSAGE frames sent (eager pushes and GRAFT answers). */
  messagesSent: number;
  /** MESSAGE frames received, valid or not: copies of messages arriving at this node. */
  messagesReceived: number;
  /** Messages accepted and handed to handlers. */
  delivered: number;
  duplicates: number;
  invalidFrames: number;
  badSignatures: number;
  badRecords: number;
  /** Messages outside the acceptance window (too old or too far in the future). */
  expired: number;
  /** Messages arriving with more hops than the hop limit. */
  ttlDropped: number;
  /** ML-DSA verifications run (one per batch, not per message). */
  signatureChecks: number;
  /** Messages whose batch header was already verified. */
  headerCacheHits: number;
  recordsVerified: number;
  /** GRAFTs asking for signature and record because the receiver lacked them. */
  fullRequests: number;
  ihaveSent: number;
  ihaveReceived: number;
  graftSent: number;
  graftReceived: number;
  pruneSent: number;
  pruneReceived: number;
  /** Link sends refused (peer gone or backpressure). */
  sendFailures: number;
  /** Lazy announcements dropped because a queue was full. */
  lazyDropped: number;
  /** Missing ids dropped: no announcer left, or the tracking table was full. */
  missingDropped: number;
  handlerErrors: number;
  /** Tree re-parentings to a shorter path (Plumtree optimisation). */
  treeOptimizations: number;
  /** Origins with a pruned tree. */
  trees: number;
  /** (origin, neighbour) pairs currently lazy. */
  lazyLinks: number;
  /** Trees forgotten to respect `maxTrees`. */
  treeEvictions: number;
  dedupSize: number;
  /** Unexpired ids evicted from the full dedup cache. */
  dedupEvictedEarly: number;
  missing: number;
  messageCacheSize: number;
}

type Counter = Exclude<
  keyof GossipStats,
  'trees' | 'lazyLinks' | 'treeEvictions' | 'dedupSize' | 'dedupEvictedEarly' | 'missing' | 'messageCacheSize'
>;

/** A verified (or own) batch header. */
interface Batch {
  origin: string;
  seq: number;
  ts: number;
  size: number;
  ttl: number;
  root: Uint8Array;
  signature: Uint8Array;
  /** {@link batchKey} of the header fields. */
  key: string;
  /** The origin's encoded identity record, kept so the batch can be relayed to new neighbours. */
  record: Uint8Array;
  /**
   * Hex hashes of tree nodes already proven to lead to the signed root (leaves, interior nodes
   * and their siblings): a later message of the batch stops hashing its path at the first one it
   * meets (gossip.md section 3.3). Capped at {@link NODES_PER_BATCH}.
   */
  nodes: Set<string>;
}

const NODES_PER_BATCH = 256;

/**
 * Cache key of a batch: every signed header field a frame carries. The root is not part of it, so
 * a frame whose path leads elsewhere than the cached root is rejected rather than looked up; an
 * origin never signs two batches with the same (sequence, timestamp).
 */
function batchKey(origin: string, seq: number, ts: number, size: number, ttl: number): string {
  return `${origin}\u0000${seq}\u0000${ts}\u0000${size}\u0000${ttl}`;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Stored {
  id: string;
  leaf: Uint8Array;
  batch: Batch;
  index: number;
  path: Uint8Array[];
  topic: string | undefined;
  payload: Uint8Array;
  /** Links crossed to reach this node (0 for own messages). */
  hops: number;
  /** Neighbour it came from (the tree parent for this message); undefined for own messages. */
  from: string | undefined;
}

interface PeerState {
  sentHeaders: BoundedSet<string>;
  sentRecords: BoundedSet<string>;
  lazy: Announcement[];
}

interface Missing {
  id: Uint8Array;
  announcers: string[];
  deadline: number;
}

interface OriginRecord {
  publicKey: Uint8Array;
  encoded: Uint8Array;
  expiresAt: number | undefined;
}

interface Pending {
  seq: number;
  ts: number;
  items: { topic: string | undefined; payload: Uint8Array; leaf: Uint8Array; id: string }[];
  timer: unknown;
}

function positiveInt(value: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer in [1, ${max}]`);
  }
  return value;
}

function nonNegative(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`${name} must be a number >= 0`);
  return value;
}

/**
 * Gossip for one node. Publish with {@link Gossip.publish}; receive with {@link Gossip.onMessage}.
 * Every message is authenticated to its origin (a relay can neither forge nor alter it), deduped,
 * hop-limited, and spread on a self-repairing broadcast tree rather than flooded.
 */
export class Gossip {
  readonly #link: LinkLayer;
  readonly #identity: GossipIdentity;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #verify: SignatureVerifier;
  readonly #ttl: number;
  readonly #dedupTtlMs: number;
  readonly #skewMs: number;
  readonly #batchMax: number;
  readonly #batchDelay: number;
  readonly #lazyFlushMs: number;
  readonly #graftTimeoutMs: number;
  readonly #graftRetryMs: number;
  readonly #maxMissing: number;
  readonly #optimizeHops: number;
  readonly #limits: FrameLimits;

  readonly #dedup: DedupCache;
  readonly #store: BoundedMap<string, Stored>;
  readonly #headers: BoundedMap<string, Batch>;
  readonly #records: BoundedMap<string, OriginRecord>;
  readonly #fullAsked: BoundedMap<string, number>;
  readonly #served: BoundedMap<string, number>;
  readonly #missing = new Map<string, Missing>();
  readonly #peers = new Map<string, PeerState>();
  readonly #trees: BoundedMap<string, Set<string>>;
  readonly #handlers = new Set<(msg: GossipMessage) => void>();
  #unsubscribe: (() => void)[] = [];
  #state: 'idle' | 'running' | 'stopped' = 'idle';
  #seq: number;
  #pending: Pending | undefined;
  #tick: unknown;
  #ownRecordBytes: Uint8Array | undefined;
  readonly #c: Record<Counter, number> = {
    published: 0,
    batchesSigned: 0,
    messagesSent: 0,
    messagesReceived: 0,
    delivered: 0,
    duplicates: 0,
    invalidFrames: 0,
    badSignatures: 0,
    badRecords: 0,
    expired: 0,
    ttlDropped: 0,
    signatureChecks: 0,
    headerCacheHits: 0,
    recordsVerified: 0,
    fullRequests: 0,
    ihaveSent: 0,
    ihaveReceived: 0,
    graftSent: 0,
    graftReceived: 0,
    pruneSent: 0,
    pruneReceived: 0,
    sendFailures: 0,
    lazyDropped: 0,
    missingDropped: 0,
    handlerErrors: 0,
    treeOptimizations: 0,
  };

  constructor(opts: GossipOptions) {
    if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('options must be an object');
    const { link, identity } = opts;
    if (typeof link !== 'object' || link === null || typeof link.send !== 'function')
      throw new InvalidArgumentError('link must be a LinkLayer');
    if (typeof identity !== 'object' || identity === null || typeof identity.sign !== 'function') {
      throw new InvalidArgumentError('identity must be a NodeIdentity');
    }
    if (identity.nodeId !== link.localId) throw new InvalidArgumentError('identity.nodeId must equal link.localId');
    const d = GOSSIP_DEFAULTS;
    this.#link = link;
    this.#identity = identity;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger ?? silentLogger;
    this.#verify = opts.verifySignature ?? ((pk, msg, sig, ctx) => NodeIdentity.verify(pk, msg, sig, ctx));
    this.#ttl = positiveInt(opts.ttl ?? d.ttl, 'ttl', 255);
    this.#dedupTtlMs = positiveInt(opts.dedupTtlMs ?? d.dedupTtlMs, 'dedupTtlMs');
    this.#skewMs = nonNegative(opts.maxClockSkewMs ?? d.maxClockSkewMs, 'maxClockSkewMs');
    this.#batchMax = positiveInt(opts.batchMaxMessages ?? d.batchMaxMessages, 'batchMaxMessages', d.maxBatchSize);
    this.#batchDelay = nonNegative(opts.batchMaxDelayMs ?? d.batchMaxDelayMs, 'batchMaxDelayMs');
    this.#lazyFlushMs = positiveInt(opts.lazyFlushMs ?? d.lazyFlushMs, 'lazyFlushMs');
    this.#graftTimeoutMs = positiveInt(opts.graftTimeoutMs ?? d.graftTimeoutMs, 'graftTimeoutMs');
    this.#graftRetryMs = positiveInt(opts.graftRetryMs ?? d.graftRetryMs, 'graftRetryMs');
    this.#maxMissing = positiveInt(opts.maxMissing ?? d.maxMissing, 'maxMissing');
    this.#optimizeHops = positiveInt(opts.optimizeHops ?? d.optimizeHops, 'optimizeHops');
    this.#limits = {
      maxPayloadBytes: positiveInt(opts.maxPayloadBytes ?? d.maxPayloadBytes, 'maxPayloadBytes', MAX_PAYLOAD_LIMIT),
      maxTopicBytes: d.maxTopicBytes,
      maxBatchSize: d.maxBatchSize,
    };
    this.#dedup = new DedupCache(positiveInt(opts.dedupSize ?? d.dedupSize, 'dedupSize'));
    this.#store = new BoundedMap(positiveInt(opts.messageCacheSize ?? d.messageCacheSize, 'messageCacheSize'));
    this.#headers = new BoundedMap(positiveInt(opts.headerCacheSize ?? d.headerCacheSize, 'headerCacheSize'));
    this.#records = new BoundedMap(positiveInt(opts.recordCacheSize ?? d.recordCacheSize, 'recordCacheSize'));
    this.#fullAsked = new BoundedMap(1_024);
    this.#served = new BoundedMap(4_096);
    this.#trees = new BoundedMap(positiveInt(opts.maxTrees ?? d.maxTrees, 'maxTrees'));
    // Batch sequence numbers start at a random point so a restarted node does not reuse the
    // (sequence, timestamp) pairs of its previous run (ids stay unique, gossip.md section 3).
    const r = randomBytes(4);
    this.#seq = ((r[0] as number) << 16) | ((r[1] as number) << 8) | (r[2] as number);
  }

  /** Subscribe to the link layer. Idempotent. */
  start(): void {
    if (this.#state === 'running') return;
    this.#state = 'running';
    const l = this.#link;
    this.#unsubscribe = [
      l.onFrame(GOSSIP_KIND.message, (from, body) => this.#guard(from, () => this.#onMessageFrame(from, body))),
      l.onFrame(GOSSIP_KIND.ihave, (from, body) => this.#guard(from, () => this.#onIhave(from, body))),
      l.onFrame(GOSSIP_KIND.graft, (from, body) => this.#guard(from, () => this.#onGraft(from, body))),
      l.onFrame(GOSSIP_KIND.prune, (from, body) => this.#guard(from, () => this.#onPrune(from, body))),
      l.onPeer((event, peer) => (event === 'up' ? this.#peerUp(peer.nodeId) : this.#peerDown(peer.nodeId))),
    ];
    for (const p of l.peers()) this.#peerUp(p.nodeId);
  }

  /**
   * Sign and send the batch being collected, then unsubscribe, cancel every timer and drop
   * per-peer state. The instance can be started again.
   */
  stop(): void {
    if (this.#state !== 'running') return;
    if (this.#pending) this.#flush();
    this.#state = 'stopped';
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
    if (this.#tick !== undefined) this.#clock.clearTimeout(this.#tick);
    this.#tick = undefined;
    this.#peers.clear();
    this.#trees.clear();
    this.#missing.clear();
    this.#fullAsked.clear();
    this.#served.clear();
  }

  /**
   * Publish a payload to every node. Returns the message id. The message joins the current batch,
   * which is signed and sent after `batchMaxDelayMs` or when it holds `batchMaxMessages`.
   * Not delivered to this node's own handlers.
   * @throws NotRunningError before `start()` or after `stop()`
   * @throws InvalidArgumentError for a payload that is not bytes or a topic that is not a string
   * @throws PayloadTooLargeError above `maxPayloadBytes` (48 KiB) or a topic above 256 bytes
   */
  publish(payload: Uint8Array, topic?: string): string {
    if (this.#state !== 'running') {
      throw new NotRunningError(this.#state === 'idle' ? 'YAK_MESH_NOT_STARTED' : 'YAK_MESH_STOPPED', 'gossip is not running');
    }
    if (!(payload instanceof Uint8Array)) throw new InvalidArgumentError('payload must be a Uint8Array');
    if (topic !== undefined && typeof topic !== 'string') throw new InvalidArgumentError('topic must be a string');
    if (payload.length > this.#limits.maxPayloadBytes)
      throw new PayloadTooLargeError(`payload exceeds ${this.#limits.maxPayloadBytes} bytes`);
    if (topic !== undefined && utf8Length(topic) > this.#limits.maxTopicBytes) {
      throw new PayloadTooLargeError(`topic exceeds ${this.#limits.maxTopicBytes} bytes`);
    }
    const now = this.#clock.now();
    if (!this.#pending) {
      this.#pending = { seq: this.#nextSeq(), ts: Math.max(0, Math.floor(now)), items: [], timer: undefined };
      this.#pending.timer = this.#clock.setTimeout(() => {
        try {
          this.#flush();
        } catch (e) {
          // A timer callback must not throw into the event loop; the batch is lost and logged.
          this.#log.error({ err: (e as Error)?.name }, 'gossip: signing a batch failed');
        }
      }, this.#batchDelay);
    }
    const p = this.#pending;
    const body = payload.slice();
    const leaf = messageLeaf(this.#identity.nodeId, p.seq, p.ts, p.items.length, topic, body);
    const id = toHex(leaf);
    p.items.push({ topic, payload: body, leaf, id });
    this.#dedup.add(id, p.ts + this.#dedupTtlMs, now);
    this.#c.published++;
    if (p.items.length >= this.#batchMax) this.#flush();
    return id;
  }

  /** Receive messages from other nodes; returns an unsubscribe function. */
  onMessage(handler: (msg: GossipMessage) => void): () => void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    this.#handlers.add(handler);
    return () => {
      this.#handlers.delete(handler);
    };
  }

  getStats(): GossipStats {
    let lazyLinks = 0;
    for (const t of this.#trees.values()) lazyLinks += t.size;
    return {
      ...this.#c,
      trees: this.#trees.size,
      lazyLinks,
      treeEvictions: this.#trees.evictions,
      dedupSize: this.#dedup.size,
      dedupEvictedEarly: this.#dedup.evictedEarly,
      missing: this.#missing.size,
      messageCacheSize: this.#store.size,
    };
  }

  // Encoded lazily: a node that never publishes never needs its own record on the wire.
  #ownRecord(): Uint8Array {
    this.#ownRecordBytes ??= encodeIdentityRecord(this.#identity.publicRecord());
    return this.#ownRecordBytes;
  }

  #nextSeq(): number {
    const s = this.#seq;
    this.#seq = s >= Number.MAX_SAFE_INTEGER ? 0 : s + 1;
    return s;
  }

  // Sign the pending batch once (Merkle root) and push its messages (gossip.md section 3).
  #flush(): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    this.#clock.clearTimeout(p.timer);
    const { root, paths } = buildTree(p.items.map((i) => i.leaf));
    const me = this.#identity.nodeId;
    const header = headerBytes(this.#identity.networkId, me, p.seq, p.ts, p.items.length, this.#ttl, root);
    const signature = this.#identity.sign(header, SIGN_CONTEXT);
    this.#c.batchesSigned++;
    const batch: Batch = {
      origin: me,
      seq: p.seq,
      ts: p.ts,
      size: p.items.length,
      ttl: this.#ttl,
      root,
      signature,
      key: batchKey(me, p.seq, p.ts, p.items.length, this.#ttl),
      record: this.#ownRecord(),
      nodes: new Set(),
    };
    this.#headers.set(batch.key, batch);
    p.items.forEach((item, index) => {
      const stored: Stored = {
        id: item.id,
        leaf: item.leaf,
        batch,
        index,
        path: paths[index] as Uint8Array[],
        topic: item.topic,
        payload: item.payload,
        hops: 0,
        from: undefined,
      };
      this.#store.set(item.id, stored);
      this.#disseminate(stored, undefined);
    });
  }

  // Eager push to eager links, lazy announcement to the others (Plumtree section 3.2).
  #disseminate(m: Stored, from: string | undefined): void {
    if (m.hops >= Math.min(m.batch.ttl, this.#ttl)) return;
    let queued = false;
    const lazy = this.#trees.get(m.batch.origin);
    if (lazy) this.#trees.touch(m.batch.origin);
    for (const [peer, ps] of this.#peers) {
      if (peer === from) continue;
      if (!lazy?.has(peer)) this.#sendMessage(peer, ps, m, false);
      else if (ps.lazy.length < GOSSIP_DEFAULTS.maxLazyQueue) {
        ps.lazy.push({ id: m.leaf, hops: m.hops });
        queued = true;
      } else this.#c.lazyDropped++;
    }
    if (queued) this.#armTick();
  }

  #sendMessage(peer: string, ps: PeerState, m: Stored, full: boolean): void {
    const b = m.batch;
    const withSig = full || !ps.sentHeaders.has(b.key);
    const withRecord = full || !ps.sentRecords.has(b.origin);
    const frame: MessageFrame = {
      hops: m.hops + 1,
      ttl: b.ttl,
      origin: b.origin,
      seq: b.seq,
      ts: b.ts,
      size: b.size,
      index: m.index,
      path: m.path,
      payload: m.payload,
    };
    if (m.topic !== undefined) frame.topic = m.topic;
    if (withSig) frame.signature = b.signature;
    if (withRecord) frame.record = b.record;
    if (this.#link.send(peer, GOSSIP_KIND.message, encodeMessage(frame))) {
      this.#c.messagesSent++;
      if (withSig) ps.sentHeaders.add(b.key);
      if (withRecord) ps.sentRecords.add(b.origin);
    } else this.#c.sendFailures++;
  }

  #guard(from: string, fn: () => void): void {
    if (this.#state !== 'running') return;
    try {
      fn();
    } catch (e) {
      // A bug must not take the node down with it; it is logged without frame contents.
      this.#c.invalidFrames++;
      this.#log.error({ peer: from, err: (e as Error)?.name }, 'gossip: frame handler failed');
    }
  }

  #invalid(from: string, reason: string, severity = 2): void {
    this.#c.invalidFrames++;
    this.#log.debug({ peer: from, reason }, 'gossip: invalid frame');
    this.#link.reportMisbehavior(from, `gossip: ${reason}`, severity);
  }

  #peerState(peer: string): PeerState {
    let ps = this.#peers.get(peer);
    if (!ps) {
      ps = {
        sentHeaders: new BoundedSet(GOSSIP_DEFAULTS.sentHeadersPerPeer),
        sentRecords: new BoundedSet(GOSSIP_DEFAULTS.sentRecordsPerPeer),
        lazy: [],
      };
      this.#peers.set(peer, ps);
    }
    return ps;
  }

  // A new neighbour starts eager in every tree (Plumtree: trees are carved out of the full graph
  // by PRUNEs).
  #peerUp(peer: string): void {
    this.#peerState(peer);
    for (const lazy of this.#trees.values()) lazy.delete(peer);
  }

  // Tree repair (Plumtree section 3.5): the lost link leaves both sets; messages it would have
  // delivered arrive through IHAVE and GRAFT from the remaining links.
  #peerDown(peer: string): void {
    this.#peers.delete(peer);
    for (const lazy of this.#trees.values()) lazy.delete(peer);
    for (const m of this.#missing.values()) m.announcers = m.announcers.filter((a) => a !== peer);
  }

  #onMessageFrame(from: string, body: Uint8Array): void {
    this.#c.messagesReceived++;
    const d = decodeMessage(body, this.#limits);
    if (!d.ok) return this.#invalid(from, d.reason);
    const f = d.value;
    const now = this.#clock.now();
    const leaf = messageLeaf(f.origin, f.seq, f.ts, f.index, f.topic, f.payload);
    const id = toHex(leaf);
    const ps = this.#peerState(from);

    // Duplicate: the content hashes to an id already accepted. Plumtree prunes the link it came on.
    if (this.#dedup.has(id, now)) {
      this.#c.duplicates++;
      this.#missing.delete(id);
      this.#setLazy(f.origin, from, true);
      this.#send(from, GOSSIP_KIND.prune, encodePrune(f.origin), 'pruneSent');
      return;
    }
    // Acceptance window on the signed timestamp: a replay older than the dedup memory is refused
    // here, so dedup expiry never reopens the door (gossip.md section 6).
    if (now - f.ts > this.#dedupTtlMs || f.ts - now > this.#skewMs) {
      this.#c.expired++;
      return;
    }
    if (f.hops > Math.min(f.ttl, this.#ttl)) {
      this.#c.ttlDropped++;
      return;
    }
    const key = batchKey(f.origin, f.seq, f.ts, f.size, f.ttl);
    let batch = this.#headers.get(key);
    const learned: string[] = [id];
    if (batch) {
      // Known batch: the path must reach a node already proven authentic, or the signed root.
      const nodes = batch.nodes;
      const res = nodes.has(id)
        ? KNOWN
        : rootFromPath(leaf, f.index, f.size, f.path, (node, sibling) => {
            const h = toHex(node);
            if (nodes.has(h)) return true;
            learned.push(h, toHex(sibling));
            return false;
          });
      if (res === undefined || (res !== KNOWN && !bytesEqual(res, batch.root)))
        return this.#invalid(from, 'path does not lead to the batch root', 5);
      this.#c.headerCacheHits++;
    } else {
      const root = rootFromPath(leaf, f.index, f.size, f.path, (node, sibling) => {
        learned.push(toHex(node), toHex(sibling));
        return false;
      });
      if (root === undefined || root === KNOWN) return this.#invalid(from, 'bad inclusion path');
      const header = headerBytes(this.#identity.networkId, f.origin, f.seq, f.ts, f.size, f.ttl, root);
      const rec = this.#originRecord(f.origin, f.record, from, now);
      if (rec === null) return;
      if (rec === undefined || f.signature === undefined) return this.#askFull(from, leaf, id, now);
      this.#c.signatureChecks++;
      if (!this.#verify(rec.publicKey, header, f.signature, SIGN_CONTEXT)) {
        this.#c.badSignatures++;
        return this.#invalid(from, 'batch signature does not verify', 5);
      }
      batch = {
        origin: f.origin,
        seq: f.seq,
        ts: f.ts,
        size: f.size,
        ttl: f.ttl,
        root,
        signature: f.signature.slice(),
        key,
        record: rec.encoded,
        nodes: new Set(),
      };
      this.#headers.set(key, batch);
    }
    for (const h of learned) {
      if (batch.nodes.size >= NODES_PER_BATCH) break;
      batch.nodes.add(h);
    }

    this.#dedup.add(id, f.ts + this.#dedupTtlMs, now);
    this.#missing.delete(id);
    const stored: Stored = {
      id,
      leaf,
      batch,
      index: f.index,
      path: f.path.map((p) => p.slice()),
      topic: f.topic,
      payload: f.payload.slice(),
      hops: f.hops,
      from,
    };
    this.#store.set(id, stored);
    // The sender holds this header and record, so neither is sent back to it; and a link that
    // delivered a new message becomes a link of this origin's tree (Plumtree section 3.2).
    ps.sentHeaders.add(key);
    ps.sentRecords.add(f.origin);
    this.#setLazy(f.origin, from, false);
    this.#disseminate(stored, from);
    this.#c.delivered++;
    const msg: GossipMessage = { origin: f.origin, id, payload: stored.payload, hops: f.hops };
    if (f.topic !== undefined) msg.topic = f.topic;
    for (const h of this.#handlers) {
      try {
        h(msg);
      } catch (e) {
        this.#c.handlerErrors++;
        this.#log.warn({ err: (e as Error)?.name }, 'gossip: message handler threw');
      }
    }
  }

  /**
   * The origin's verified signing key. Returns undefined when unknown and no record came with the
   * frame, null when the record was bad (already reported). A node id commits to its signing key
   * (SPEC section 2, "Identity"), so a record whose node id is not the claimed origin, or whose key
   * does not hash to it, cannot lend its key to another origin.
   */
  #originRecord(origin: string, bytes: Uint8Array | undefined, from: string, now: number): OriginRecord | null | undefined {
    const cached = this.#records.get(origin);
    if (cached && (cached.expiresAt === undefined || cached.expiresAt > now)) return cached;
    if (!bytes) return undefined;
    try {
      const rec = decodeIdentityRecord(bytes);
      if (rec.nodeId !== origin) throw new RangeError('record is for another node');
      NodeIdentity.verifyRecord(rec, { now, networkId: this.#identity.networkId });
      this.#c.recordsVerified++;
      const entry: OriginRecord = { publicKey: rec.signPublicKey, encoded: bytes.slice(), expiresAt: rec.expiresAt };
      this.#records.set(origin, entry);
      return entry;
    } catch (e) {
      this.#c.badRecords++;
      const code = (e as { code?: string }).code;
      // An expired record may be an honest relay's stale copy; anything else is forged or broken.
      if (code === 'YAK_IDENTITY_EXPIRED') this.#c.invalidFrames++;
      else this.#invalid(from, 'bad origin record', 5);
      return null;
    }
  }

  // The sender believed we had the batch signature or origin record and omitted it; ask again
  // for the full proof (rate-limited per sender and message).
  #askFull(from: string, leaf: Uint8Array, id: string, now: number): void {
    const k = `${from}\u0000${id}`;
    const until = this.#fullAsked.get(k);
    if (until !== undefined && until > now) return;
    this.#fullAsked.set(k, now + this.#graftTimeoutMs);
    this.#c.fullRequests++;
    this.#send(from, GOSSIP_KIND.graft, encodeGraft({ ids: [leaf], full: true, linkOnly: false }), 'graftSent');
    if (!this.#missing.has(id) && this.#missing.size < this.#maxMissing) {
      this.#missing.set(id, { id: leaf, announcers: [], deadline: now + this.#graftTimeoutMs });
      this.#armTick();
    }
  }

  #onIhave(from: string, body: Uint8Array): void {
    this.#c.ihaveReceived++;
    const d = decodeIhave(body);
    if (!d.ok) return this.#invalid(from, d.reason);
    const now = this.#clock.now();
    this.#peerState(from);
    for (const a of d.value) {
      const id = toHex(a.id);
      if (this.#dedup.has(id, now)) {
        this.#optimize(id, from, a.hops);
        continue;
      }
      const m = this.#missing.get(id);
      if (m) {
        if (!m.announcers.includes(from) && m.announcers.length < GOSSIP_DEFAULTS.maxAnnouncers) m.announcers.push(from);
      } else if (this.#missing.size < this.#maxMissing) {
        this.#missing.set(id, { id: a.id.slice(), announcers: [from], deadline: now + this.#graftTimeoutMs });
      } else this.#c.missingDropped++;
    }
    this.#armTick();
  }

  // Plumtree tree optimisation (section 3.8): a lazy neighbour holds a message we received at
  // least `optimizeHops` hops deeper than through it, so it replaces our parent for the tree. This
  // keeps the tree shallow, which keeps latency low and messages far from the hop limit.
  #optimize(id: string, announcer: string, announcerHops: number): void {
    const m = this.#store.get(id);
    if (!m || m.from === undefined || m.from === announcer) return;
    if (m.hops < announcerHops + 1 + this.#optimizeHops) return;
    const parent = m.from;
    const origin = m.batch.origin;
    m.from = announcer;
    m.hops = announcerHops + 1;
    this.#setLazy(origin, announcer, false);
    this.#send(announcer, GOSSIP_KIND.graft, encodeGraft({ ids: [m.leaf], full: false, linkOnly: true }), 'graftSent');
    this.#setLazy(origin, parent, true);
    this.#send(parent, GOSSIP_KIND.prune, encodePrune(origin), 'pruneSent');
    this.#c.treeOptimizations++;
  }

  #onGraft(from: string, body: Uint8Array): void {
    this.#c.graftReceived++;
    const d = decodeGraft(body);
    if (!d.ok) return this.#invalid(from, d.reason);
    const ps = this.#peerState(from);
    const g = d.value;
    const now = this.#clock.now();
    for (const raw of g.ids) {
      const id = toHex(raw);
      const m = this.#store.get(id);
      if (!m) continue;
      this.#setLazy(m.batch.origin, from, false);
      if (g.linkOnly || m.hops >= Math.min(m.batch.ttl, this.#ttl)) continue;
      // A GRAFT is 33 bytes and its answer up to 75 KiB: answer each (peer, message) once per
      // retry interval so repeated GRAFTs cannot amplify traffic.
      const k = `${from}\u0000${id}`;
      const until = this.#served.get(k);
      if (until !== undefined && until > now) continue;
      this.#served.set(k, now + this.#graftRetryMs);
      this.#sendMessage(from, ps, m, g.full);
    }
  }

  #onPrune(from: string, body: Uint8Array): void {
    this.#c.pruneReceived++;
    const d = decodePrune(body);
    if (!d.ok) return this.#invalid(from, d.reason);
    this.#peerState(from);
    this.#setLazy(d.value, from, true);
  }

  // Per-origin trees (gossip.md section 5): one shared tree serves one sender well, but with many
  // senders and unequal link delays its paths from other senders are long, IHAVEs overtake them,
  // and GRAFT/PRUNE churn never settles. Each origin therefore gets its own lazy set; a link is
  // eager for an origin unless pruned for it. Bounded: the least recently used origin's tree is
  // forgotten, which costs one flooded message when that origin speaks again.
  #setLazy(origin: string, peer: string, lazy: boolean): void {
    let set = this.#trees.get(origin);
    if (!lazy) {
      set?.delete(peer);
      return;
    }
    if (!this.#peers.has(peer)) return;
    if (!set) {
      set = new Set();
      this.#trees.set(origin, set);
    }
    set.add(peer);
  }

  #send(peer: string, kind: number, body: Uint8Array, counter: Counter): void {
    if (this.#link.send(peer, kind, body)) this.#c[counter]++;
    else this.#c.sendFailures++;
  }

  #armTick(): void {
    if (this.#tick !== undefined || this.#state !== 'running') return;
    this.#tick = this.#clock.setTimeout(() => {
      this.#tick = undefined;
      if (this.#state !== 'running') return;
      try {
        this.#onTick();
      } catch (e) {
        this.#log.error({ err: (e as Error)?.name }, 'gossip: timer failed');
      }
    }, this.#lazyFlushMs);
  }

  // Periodic work: flush lazy announcements, graft missing messages whose timer expired.
  #onTick(): void {
    const max = GOSSIP_DEFAULTS.maxIdsPerFrame;
    let pending = false;
    for (const [peer, ps] of this.#peers) {
      if (ps.lazy.length === 0) continue;
      const ids = ps.lazy;
      ps.lazy = [];
      for (let i = 0; i < ids.length; i += max) this.#send(peer, GOSSIP_KIND.ihave, encodeIhave(ids.slice(i, i + max)), 'ihaveSent');
    }
    const now = this.#clock.now();
    const grafts = new Map<string, Uint8Array[]>();
    for (const [id, m] of this.#missing) {
      if (this.#dedup.has(id, now)) {
        this.#missing.delete(id);
        continue;
      }
      if (m.deadline > now) {
        pending = true;
        continue;
      }
      let target: string | undefined;
      while (m.announcers.length > 0 && target === undefined) {
        const a = m.announcers.shift() as string;
        if (this.#peers.has(a)) target = a;
      }
      if (target === undefined) {
        this.#missing.delete(id);
        this.#c.missingDropped++;
        continue;
      }
      const list = grafts.get(target);
      if (list) list.push(m.id);
      else grafts.set(target, [m.id]);
      m.deadline = now + this.#graftRetryMs;
      pending = true;
    }
    for (const [peer, ids] of grafts) {
      for (let i = 0; i < ids.length; i += max) {
        this.#send(peer, GOSSIP_KIND.graft, encodeGraft({ ids: ids.slice(i, i + max), full: false, linkOnly: false }), 'graftSent');
      }
    }
    if (pending) this.#armTick();
  }
}
