// Defaults of the gossip protocol, each with its source. "gossip.md" is docs/protocol/gossip.md;
// "Plumtree" is Leitao, Pereira, Rodrigues, "Epidemic Broadcast Trees" (SRDS 2007). Values the
// sources leave open are marked "chosen" with the reason.

/** Frame kinds (src/link-layer.ts: gossip owns 0x10-0x1f). */
export const GOSSIP_KIND = {
  /** A message with its batch proof, eager push (gossip.md section 4). */
  message: 0x10,
  /** Lazy announcement of message ids. */
  ihave: 0x11,
  /** Request for announced messages; also makes the link eager. */
  graft: 0x12,
  /** Makes the link lazy (a duplicate arrived over it). */
  prune: 0x13,
} as const;

/** Wire version of every gossip frame. */
export const GOSSIP_VERSION = 1;

/** Domain separation: label inside the leaf data and the signed batch header, and ML-DSA context. */
export const LEAF_LABEL = 'yak/gossip/msg/v1';
export const BATCH_LABEL = 'yak/gossip/batch/v1';

export const GOSSIP_DEFAULTS = {
  /**
   * Hop limit (chosen: 32; the tree from one origin is at most about twice as deep as the
   * shortest-path tree, and a random 1,000-node graph of degree 8 has a diameter near 5).
   */
  ttl: 32,
  /** Ids remembered for dedup (chosen: 65,536 ids, about 6 MiB, a minute of 1,000 msg/s). */
  dedupSize: 65_536,
  /**
   * How long an id is remembered, and the acceptance window: a message whose signed timestamp is
   * older than this is rejected, so a replay can never outlive its dedup entry (gossip.md section 6).
   * Chosen: 2 minutes, ahead of the seed 001 TimestampValidator default of 10 minutes because
   * gossip is live traffic.
   */
  dedupTtlMs: 120_000,
  /** Timestamps further ahead of the local clock are rejected (chosen: 30 s of clock skew). */
  maxClockSkewMs: 30_000,
  /** Messages per signed batch (chosen: 64, a 6-hash inclusion path). */
  batchMaxMessages: 64,
  /** A batch is signed at most this long after its first message (chosen: 10 ms, one ML-DSA signing time). */
  batchMaxDelayMs: 10,
  /** IHAVE announcements are sent in batches this often (Plumtree "lazy push" scheduling; chosen 25 ms). */
  lazyFlushMs: 25,
  /** Wait after the first IHAVE before grafting (Plumtree timer 1; chosen: a few link RTTs). */
  graftTimeoutMs: 250,
  /** Wait before grafting the next announcer (Plumtree timer 2). */
  graftRetryMs: 125,
  /**
   * Re-parent when a lazy link offers a path this many hops shorter (Plumtree section 3.8
   * "threshold"; chosen: 3, low enough to keep trees shallow, high enough to avoid churn).
   */
  optimizeHops: 3,
  /**
   * Largest payload: 48 KiB, so that the largest MESSAGE frame (payload, 10-hash path, 256-byte
   * topic, signature and origin record: 12,366 bytes of overhead at most) stays within the 64 KiB
   * gossip frame limit (seed 001 MessageValidator "gossip" limit; docs/protocol/link.md
   * section 5.1).
   */
  maxPayloadBytes: 48 * 1024,
  /** Longest topic in UTF-8 bytes (chosen). */
  maxTopicBytes: 256,
  /** Origins whose dissemination tree (lazy links) is remembered (chosen; gossip.md section 5). */
  maxTrees: 1_024,
  /** Messages kept to answer GRAFT requests (chosen: a few seconds of traffic). */
  messageCacheSize: 4_096,
  /**
   * Verified batch headers cached, so ML-DSA runs once per batch per receiver (each also keeps up
   * to 256 proven tree nodes, about 25 KiB; chosen: 1,024 batches, a minute of busy traffic).
   */
  headerCacheSize: 1_024,
  /** Verified origin identity records cached by node id. */
  recordCacheSize: 4_096,
  /** Message ids announced but not yet received that we track. */
  maxMissing: 8_192,
  /** Announcers remembered per missing id. */
  maxAnnouncers: 8,
  /** Ids queued for the lazy announcement to one neighbour. */
  maxLazyQueue: 4_096,
  /** Batch headers and origin records remembered as sent, per neighbour (to send each once). */
  sentHeadersPerPeer: 1_024,
  sentRecordsPerPeer: 1_024,
  /** Ids in one IHAVE or GRAFT frame. */
  maxIdsPerFrame: 512,
  /** Largest batch a receiver accepts (bounds the inclusion path at 10 hashes). */
  maxBatchSize: 1_024,
} as const;

/** Largest gossip frame the link layer carries (docs/protocol/link.md section 5.1). */
export const MAX_FRAME_BYTES = 64 * 1024;

/** Bytes of a message id (SHA-256 leaf hash). */
export const ID_BYTES = 32;
/** ML-DSA-65 signature length (FIPS 204 table 2). */
export const SIGNATURE_BYTES = 3309;
/** Encoded identity record limit (@yak/crypto IDENTITY_RECORD_MAX_BYTES). */
export const RECORD_MAX_BYTES = 8192;
