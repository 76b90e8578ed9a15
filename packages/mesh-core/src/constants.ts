/**
 * Defaults of @yak/mesh-core, each with its source. "seed 001" is ../shared/seeds/001 (MeshNetwork
 * configuration table); "SPEC" is ../shared/SPEC.md; "link.md" is docs/protocol/link.md. Values
 * the sources do not fix are marked "chosen" with the reason.
 */

const KiB = 1024;

/** MeshNetwork option defaults (seed 001, "Configuration"). */
export const MESH_DEFAULTS = {
  wsPort: 9001,
  maxPeers: 10,
  pingInterval: 30_000,
  portRetries: 10,
  /** Chosen: the seed default is null; links must agree on some network, so a fixed name. */
  networkId: 'yakmesh',
  /** Chosen: listen on every interface like the seed's server; tests pass 127.0.0.1. */
  host: '0.0.0.0',
} as const;

/** Link protocol constants (link.md). */
export const LINK = {
  /** Protocol version carried in HELLO (link.md section 3). */
  version: 1,
  /** Handshake must complete within this time (chosen: 10 s covers two RTTs on slow links plus KEM work). */
  handshakeTimeoutMs: 10_000,
  /** Largest handshake message (link.md section 3: two X-Wing values plus an identity record). */
  maxHandshakeBytes: 16 * KiB,
  /** Largest frame body (seed 001 "data" limit, 512 KiB). */
  maxFrameBytes: 512 * KiB,
  /** Largest record on the wire: one frame at the limit plus headers and tag. */
  maxRecordBytes: 512 * KiB + 64,
  /** Small frames are batched into one record until it reaches this size (link.md section 5). */
  batchBytes: 64 * KiB,
  /** A record is not sealed with more plaintext than this (so batching never exceeds maxRecordBytes). */
  maxRecordPlaintext: 512 * KiB + 32,
  /**
   * Hard backstop, records per key and direction (link.md section 6): far under the 2^32
   * invocations NIST SP 800-38D allows per GCM key. Key updates come long before it; a sender
   * that reaches it closes the link and a receiver refuses sequence numbers at or above it.
   */
  maxRecordsPerKey: 2 ** 31,
  /**
   * A sender updates its send key once the current one is this old (link.md section 6.1).
   * WireGuard's REKEY_AFTER_TIME (120 s, WireGuard whitepaper section 6): bounds how much past
   * traffic a key stolen from memory exposes.
   */
  keyUpdateAfterMs: 120_000,
  /**
   * A sender updates its send key after this many records under it (link.md section 6.1).
   * Chosen: 2^24, 128 times below the backstop, so the count trigger always fires first, and low
   * enough that a busy link also changes keys regularly (WireGuard's REKEY_AFTER_MESSAGES and
   * TLS 1.3's per-key limits, RFC 8446 section 5.5, play the same role).
   */
  keyUpdateAfterRecords: 2 ** 24,
  /**
   * Highest key epoch per direction: epochs are u32 in KEY_UPDATE (link.md section 6.1). A sender
   * at this epoch does not wrap; it closes the link, which reconnects with fresh keys.
   */
  maxKeyEpoch: 0xffff_ffff,
  /** Replay window in records (SPEC section 2, "Replay": RFC 6479, at least 1024). */
  replayWindow: 2048,
  /**
   * Most proof of work a node does to be admitted by another (link.md section 3.7). Chosen: 2^22
   * hashes, a few seconds at worst here, within the handshake timeout; NAVR's default asks 2^16.
   */
  maxAdmissionDifficulty: 22,
  /** Send queue limit: `send` returns false above it (backpressure). Chosen: 8 MiB. */
  maxBufferedBytes: 8 * 1024 * KiB,
  /** A link with no inbound record for this many ping intervals is dead. */
  deadAfterPings: 2.5,
  /**
   * Lifetime of a resumption ticket (chosen: an hour bounds how long a ticket stolen from memory
   * can stand in for a full KEM handshake; TLS 1.3 allows up to 7 days, RFC 8446 section 4.6.1).
   */
  ticketLifetimeMs: 3_600_000,
  /** Two links to the same peer that came up within this window are resolved by node id order. */
  duplicateWindowMs: 10_000,
} as const;

/** Defense wiring defaults (SPEC section 3, "Defense wired in"). */
export const DEFENSE_DEFAULTS = {
  /** Chosen: handshakes in progress at once; each costs a few ms of KEM work and about 16 KiB. */
  maxConcurrentHandshakes: 64,
  /** Chosen: handshakes in progress from one IP at once. */
  maxHandshakesPerIp: 8,
  /**
   * Rate limiter options used when the caller passes none (seed 001 values are per IP for an
   * internet-facing node; a mesh link carries many frames, so the message limit is per link).
   */
  rateLimiter: {
    maxConnectionsPerMinute: 120,
    maxHandshakesPerMinute: 120,
    maxMessagesPerSecond: 5_000,
    maxGossipPerSecond: 2_500,
    banThreshold: 5,
    banDuration: 300_000,
  },
  /** Reputation penalty for a frame that fails validation (chosen; ReputationTracker severity 1..10). */
  badFrameSeverity: 2,
  /** Penalty for a record that fails authentication or a replayed record. */
  badRecordSeverity: 5,
  /** Penalty for exceeding a rate limit. */
  rateLimitSeverity: 3,
} as const;

/** Reconnect to configured peers (SPEC section 3: exponential backoff with jitter). */
export const RECONNECT = {
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  /** Chosen: bound on configured (persistent) endpoints. */
  maxEndpoints: 256,
} as const;

/**
 * Peer exchange: PEERS frames (link.md section 5.2), modelled on libp2p identify push and
 * gossipsub peer exchange. Values are chosen; the reason is given for each.
 */
export const PEER_EXCHANGE = {
  /**
   * How often each link is offered the current PEERS list; a frame goes out only when the list
   * for that link changed since the last one sent on it. A minute is twice the default ping
   * interval: new links reach auto-dialling neighbours well inside a reconnect backoff, and a
   * stable mesh sends nothing.
   */
  intervalMs: 60_000,
  /** Bytes of SHA-256 over the last list sent, kept per link to detect a change. */
  hashBytes: 16,
} as const;

/** Caches and bounded maps (SPEC section 2, "Resource bounds"). */
export const BOUNDS = {
  /** Resumption tickets kept per side (link.md section 4.3). */
  tickets: 1_024,
  /** Peer records remembered per endpoint for the known-peer handshake (link.md section 4). */
  knownRecords: 1_024,
  /** Endpoints known per node id (from INFO, successful dials and PEERS frames). */
  knownEndpoints: 1_024,
  /** Entries in one PEERS frame, sent or received (link.md section 5.2). */
  peersPerFrame: 32,
  /** Longest endpoint string accepted from a peer. */
  maxEndpointLength: 256,
  /** Longest close reason. */
  maxReasonLength: 200,
} as const;

/** Key-value replication (docs/protocol/link.md section 8). */
export const STORE_DEFAULTS = {
  maxEntries: 1_024,
  maxBytes: 4 * 1024 * KiB,
  maxKeyLength: 256,
  maxValueBytes: 64 * KiB,
  /** Entries in one sync_response or replicate frame. */
  maxEntriesPerFrame: 256,
  /** Bytes of values in one sync_response or replicate frame. */
  maxFrameBytes: 256 * KiB,
  /** Hops a replicated change travels when nodes forward what changed their state. */
  maxHops: 8,
  syncTimeoutMs: 10_000,
  /** Concurrent outstanding sync requests. */
  maxPendingSyncs: 64,
} as const;
