// Defaults of the routing protocol, each with its source. "routing.md" is
// docs/protocol/routing.md; "Babel" is RFC 8966 (The Babel Routing Protocol), whose
// feasibility condition and sequence-number requests this distance-vector protocol follows.
// Values the sources leave open are marked "chosen" with the reason.

/** Frame kinds (src/link-layer.ts: routing owns 0x20-0x2f). */
export const ROUTING_KIND = {
  /** Route advertisements (routing.md section 3). */
  update: 0x20,
  /** A routed frame: src, dst, ttl, inner kind, body (routing.md section 5). */
  data: 0x21,
  /** Routed back to a sender whose frame could not be forwarded. */
  unreachable: 0x22,
  /** Request for a newer sequence number of a destination (Babel section 3.8). */
  seqRequest: 0x23,
} as const;

/** Wire version of every routing frame. */
export const ROUTING_VERSION = 1;

/** Advertised metric meaning "no route" (a retraction; Babel uses 0xFFFF likewise). */
export const METRIC_INFINITY = 0xffff;

/** Reasons carried by an UNREACHABLE notice. */
export const UNREACHABLE_REASON = { noRoute: 1, hopLimit: 2 } as const;

export const ROUTING_DEFAULTS = {
  /**
   * Hop limit: the largest usable route metric and the initial ttl of routed frames (chosen: 32,
   * well above the diameter of meshes this library targets; RIP's 15 is too low for a line of
   * relays).
   */
  maxHops: 32,
  /** Full table advertised to every neighbour this often (chosen: 15 s; Babel's default is 16 s). */
  updateIntervalMs: 15_000,
  /** A route not refreshed for this long is dropped (Babel: 3.5 update intervals). */
  routeExpiryMs: 52_500,
  /** Feasibility distances are kept this long after last advertised (Babel SOURCE_GC_TIME, 3 min). */
  sourceExpiryMs: 180_000,
  /** Triggered updates are coalesced for this long (chosen: 10 ms, one event-loop burst). */
  triggerDelayMs: 10,
  /** A sequence-number request for one destination is sent at most this often (chosen). */
  seqRequestIntervalMs: 1_000,
  /** Requests sent again, one per interval, while a destination stays without a feasible route (chosen). */
  seqRequestRetries: 5,
  /**
   * Requests remembered for duplicate suppression (Babel section 3.8.1.2), and how long: less
   * than the retry interval, so a retry is forwarded even where the first request passed.
   */
  seqRequestCacheSize: 1_024,
  seqRequestMemoryMs: 500,
  /** Destinations in the table (chosen: 4,096, above the largest simulated mesh). */
  maxRoutes: 4_096,
  /** Entries in one UPDATE frame (chosen: 256, about 12 KiB). */
  maxEntriesPerUpdate: 256,
  /**
   * Largest routed body: the link's 512 KiB frame limit (seed 001 "data" limit) minus room for
   * the routing header.
   */
  maxBodyBytes: 512 * 1024 - 256,
  /** UNREACHABLE notices sent per second at most (chosen; they answer traffic and must not amplify it). */
  maxNoticesPerSecond: 50,
  /**
   * Sequence numbers are derived from the clock (ms), so one far ahead of ours is forged or from
   * a badly wrong clock; such advertisements are refused (chosen: 1 hour).
   */
  maxSeqAheadMs: 3_600_000,
} as const;
