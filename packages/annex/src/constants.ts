/**
 * Defaults of @yak/annex, each with its source. "seed 000" is ../shared/seeds/000 (ANNEX);
 * "SPEC" is ../shared/SPEC.md; "annex.md" is docs/protocol/annex.md. Values the sources do not
 * fix are marked "chosen" with the reason.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** Options of `new Annex(...)` when the caller passes none. */
export const ANNEX_DEFAULTS = {
  /** Rekey after this long on one key (seed 000 "Perfect Forward Secrecy": every 5 minutes; SPEC section 2). */
  rekeyIntervalMs: 5 * 60_000,
  /** Rekey after this many messages sent on one key (seed 000: 10,000 messages; SPEC section 2). */
  rekeyAfterMessages: 10_000,
  /** Messages a send key may seal past `rekeyAfterMessages` while its rekey is in flight (section 6.1; REKEY_HARD_MARGIN). */
  rekeyHardMargin: 65_536,
  /**
   * Previous receive keys stay usable this long after a rekey (SPEC section 2, "Rekeying": a short
   * grace period). Chosen: 10 s covers multi-hop queues of a loaded mesh.
   */
  rekeyGraceMs: 10_000,
  /**
   * A rekey not answered in this time tears the session down for a fresh handshake (chosen, annex.md section 6).
   * With rekeyIntervalMs it also bounds the age of any key: rekeyIntervalMs + rekeyTimeoutMs (section 6.1).
   */
  rekeyTimeoutMs: 30_000,
  /** openChannel gives up after this long (chosen: several multi-hop round trips plus KEM work). */
  handshakeTimeoutMs: 10_000,
  /** First retransmission of key_exchange / the finishing envelope; doubles each time (chosen). */
  handshakeRetryMs: 1_000,
  /** A session with no traffic for this long expires (chosen: 10 minutes, two rekey intervals). */
  idleTimeoutMs: 10 * 60_000,
  /** Largest payload `send` accepts; larger ones are chunked up to this (issue: default 16 MiB). */
  maxPayloadBytes: 16 * MiB,
  /**
   * Payload bytes per envelope. Chosen: 256 KiB keeps each envelope well under the mesh frame
   * limit (512 KiB, seed 001 "data") with room for routing headers; a 64 KiB message is one envelope.
   */
  chunkBytes: 256 * KiB,
  /** Established plus pending sessions (SPEC section 2, "Resource bounds"; chosen). */
  maxSessions: 1_024,
  /** Inbound handshakes awaiting their finishing envelope (chosen). */
  maxPendingHandshakes: 256,
  /** Handshakes one peer may start per minute (chosen: a restarting peer needs a few). */
  handshakesPerMinute: 30,
  /** "unknown session" notices sent to one peer per minute (chosen). */
  noticesPerMinute: 10,
  /** Bytes of partially received chunked messages across all sessions (chosen: 4x the payload limit). */
  maxReassemblyBytes: 64 * MiB,
  /** Partially received chunked messages per session (chosen). */
  maxPartialMessagesPerSession: 4,
  /** A chunked message not completed in this time is dropped (chosen). */
  reassemblyTimeoutMs: 60_000,
  /** `send` waits this long for a congested mesh link to drain (chosen). */
  sendTimeoutMs: 30_000,
  /**
   * Sends held per session while the send key is at its hard bound and the rekey is in flight
   * (annex.md section 6.1). Chosen: a burst of a few thousand sends waits instead of failing; the
   * payloads they reference are bounded by 2 x maxPayloadBytes.
   */
  maxHeldSends: 4_096,
  /** Message handlers registered at once (chosen). */
  maxHandlers: 256,
  /**
   * Envelopes whose sender timestamp is further than this from our clock are rejected (SPEC
   * section 2, "Replay": timestamps validated against a window). Chosen: 10 minutes.
   */
  maxClockSkewMs: 10 * 60_000,
  /** How often expiry, grace periods and time-based rekeys are checked (chosen). */
  sweepIntervalMs: 1_000,
  /** Opt-in per-message ML-DSA-65 signatures (seed 000 "Message Authentication"; SPEC section 2). */
  signEnvelopes: false,
} as const;

/** Wire constants (annex.md section 2). */
export const WIRE = {
  /** "YAX" then the version byte: lets annex traffic be told apart from any other direct message. */
  magic: [0x59, 0x41, 0x58] as const,
  version: 1,
  /** Replay window per session and direction (SPEC section 2, "Replay": RFC 6479, at least 1024). */
  replayWindow: 2048,
  /** Largest identity record carried in a handshake (@yak/crypto IDENTITY_RECORD_MAX_BYTES). */
  maxRecordBytes: 8192,
  /** Upper bound on chunkBytes: the mesh frame limit (512 KiB) minus headroom for routing and envelope headers. */
  maxChunkBytes: 448 * KiB,
  /** Sequence numbers stay safe integers (2^53 - 1); a session never gets near. */
  maxSeq: Number.MAX_SAFE_INTEGER,
  /** Previous epochs kept in their grace period at once (chosen: bounded even under rapid rekeys). */
  maxRetiredEpochs: 4,
} as const;

/**
 * Hard bound on the use of one key (annex.md section 6.1), the default of `rekeyHardMargin`.
 * `rekeyAfterMessages` only starts a rekey; a sender seals at most `rekeyAfterMessages +
 * rekeyHardMargin` messages under one send key, and a receiver refuses envelopes beyond that
 * bound under one key. The split between a soft "rekey after" and a hard "reject after" limit
 * follows WireGuard (Donenfeld, "WireGuard: Next Generation Kernel Network Tunnel", section 6:
 * Rekey-After-Messages / Reject-After-Messages, Rekey-After-Time / Reject-After-Time), whose
 * reject limits are far above its rekey limits. Chosen: 2^16 messages. The margin must cover a
 * rekey round trip under load, when the offer waits behind everything already queued: the mesh
 * link queues up to 8 MiB (about 30,000 small messages) and a margin of 1,000 measurably stalled
 * senders at the bound under continuous traffic. 10,000 + 2^16 messages per key is still far
 * below the 2^32 invocations NIST SP 800-38D allows per GCM key. Peers must agree on it (and on
 * `rekeyAfterMessages`): the receiver enforces its own values.
 */
export const REKEY_HARD_MARGIN = ANNEX_DEFAULTS.rekeyHardMargin;

/**
 * Envelopes a sender may seal under one key beyond its messages: the finishing envelope of the
 * handshake (section 4.3), one rekey offer, one rekey accept and one close. They carry no
 * message, so they do not count against the message bound, but they use sequence numbers, which
 * is what a receiver can see; it allows this many on top of the hard bound (section 6.1).
 */
export const REKEY_CONTROL_ENVELOPES = 4;
