// Auto-dial from peer exchange (docs/architecture.md, "Auto-dial"): while a node has fewer than
// `targetPeers` links it dials endpoints its neighbours listed in PEERS frames (link.md section 5.2),
// like the low-watermark dialling of libp2p's connection manager. Everything a neighbour can put
// in this table is bounded (per neighbour and in total), every endpoint that fails waits out an
// exponential backoff, and the choice spreads links over IP subnets, so PEERS can neither turn
// the node into a dialling amplifier nor fill its links from one network.
import { randomBytes } from '@yak/crypto';
import { normalizeIp, SubnetDiversity, type SubnetDiversityOptions } from '@yak/defense';
import type { Clock, Logger } from './link-layer.js';

/** Options of the `autoDial` option of MeshNetwork; defaults in {@link AUTODIAL_DEFAULTS}. */
export interface AutoDialOptions {
  /** Dial while the node has fewer links than this (default `min(maxPeers, 6)`; at most `maxPeers`). */
  targetPeers?: number;
  /** How often the node checks whether it is below target, in ms (default 5000). */
  intervalMs?: number;
  /** Auto-dials in flight at once (default 3). */
  maxConcurrentDials?: number;
}

/**
 * Auto-dial defaults. All are chosen (no seed or SPEC value exists); the reason is given for each.
 */
export const AUTODIAL_DEFAULTS = {
  /**
   * Links to aim for, capped at `maxPeers`: 6 gives gossip (fan-out 6 in Plumtree's eager set)
   * its degree while leaving slots of the default `maxPeers` (10) for inbound links.
   */
  targetPeers: 6,
  /** libp2p's connection manager re-checks its low watermark every 5 s as well. */
  intervalMs: 5_000,
  /** Each dial may cost a full KEM handshake (a few ms of CPU); three at a time fills gaps quickly. */
  maxConcurrentDials: 3,
  /** Dialable candidates held in total (oldest evicted first). */
  maxCandidates: 256,
  /** Candidates one neighbour may contribute (its oldest are evicted first); half a PEERS frame. */
  maxPerPeer: 16,
  /** First wait after a failed dial; doubles per consecutive failure, scaled by [0.5, 1]. */
  backoffBaseMs: 10_000,
  /** Longest wait between dials of one failing endpoint. */
  backoffMaxMs: 600_000,
  /** Endpoints whose failures are remembered (oldest forgotten first). */
  maxFailures: 1_024,
  /**
   * A link that an auto-dial opened and that lived this long resets its endpoint's backoff. A
   * shorter-lived one keeps it, so a peer that accepts and drops links at once is redialled with
   * growing gaps, like a failing one, instead of in a loop of full handshakes.
   */
  stableLinkMs: 60_000,
} as const;

/** Events MeshNetwork emits for auto-dials: `(info: { nodeId, endpoint, code? })`. */
export const AutoDialEvents = {
  /** An auto-dial brought a link up. */
  CONNECTED: 'autodial:connected',
  /** An auto-dial failed; `code` is the MeshError code. The endpoint is backed off. */
  FAILED: 'autodial:failed',
} as const;

/** What the dialer needs from its node. */
export interface AutoDialHost {
  readonly clock: Clock;
  readonly log: Logger;
  readonly localId: string;
  /** Transport scheme; candidates must use it (`ws` also accepts `wss`). */
  readonly scheme: string;
  /** Links to aim for (already capped at maxPeers). */
  readonly targetPeers: number;
  readonly intervalMs: number;
  readonly maxConcurrentDials: number;
  /** Per-subnet limits for outbound choices, or false for none. */
  readonly subnets: SubnetDiversityOptions | false;
  running(): boolean;
  linkCount(): number;
  /** Remote addresses of the current links. */
  linkAddresses(): Iterable<string>;
  /** Whether dialling `endpoint` for `nodeId` must not happen now (self, banned, connected, dialling). */
  excluded(nodeId: string, endpoint: string): boolean;
  /** Open a link to `endpoint`, requiring the peer to prove `nodeId`. */
  dial(endpoint: string, nodeId: string): Promise<unknown>;
  /** Report the outcome (event and log). */
  report(ok: boolean, info: { nodeId: string; endpoint: string; code?: string }): void;
}

/** Counters of the auto-dialer, merged into MeshNetwork's getStats(). */
export interface AutoDialStats {
  /** Auto-dials started. */
  autoDials: number;
  /** Auto-dials that brought a link up. */
  autoDialsSucceeded: number;
  /** Auto-dials that failed (the endpoint is backed off). */
  autoDialFailures: number;
  /** Candidates held. */
  autoDialCandidates: number;
  /** Endpoints waiting out a backoff (after a failure, or a link not yet proven stable). */
  autoDialBackoffs: number;
  /** PEERS entries not taken as candidates (wrong scheme, bad syntax, this node). */
  autoDialRejectedEndpoints: number;
}

interface Candidate {
  nodeId: string;
  endpoint: string;
  /** Canonical IP of the endpoint's host, when the host is an IP literal. */
  ip: string | undefined;
  /** Neighbour that listed it. */
  source: string;
  /** The last dial of it failed: another endpoint listed for the node may replace it. */
  failed: boolean;
}

interface Failure {
  attempts: number;
  retryAt: number;
}

const HOSTNAME_RE = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const ENDPOINT_RE = /^([a-z]+):\/\/(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253}):([0-9]{1,5})\/?$/;

/**
 * Parses an endpoint a neighbour listed: `scheme://host:port` with the transport's scheme, a
 * port in 1..65535, and a host that is an IPv4 literal, a bracketed IPv6 literal or an RFC 1123
 * host name; unspecified addresses are refused. Returns the canonical IP when the host is one.
 */
export function parseCandidateEndpoint(endpoint: string, scheme: string): { ip: string | undefined } | undefined {
  if (typeof endpoint !== 'string' || endpoint.length > 300) return undefined;
  const m = ENDPOINT_RE.exec(endpoint);
  if (!m) return undefined;
  const [, s, rawHost, rawPort] = m as unknown as [string, string, string, string];
  if (s !== scheme && !(scheme === 'ws' && s === 'wss')) return undefined;
  const port = Number(rawPort);
  if (port < 1 || port > 65535) return undefined;
  let ip: string | undefined;
  if (rawHost.startsWith('[')) {
    ip = normalizeIp(rawHost.slice(1, -1));
    if (ip === undefined || !ip.includes(':')) return undefined;
  } else if (/^[0-9.]+$/.test(rawHost)) {
    // All digits and dots is an IPv4 literal or nothing (no "999.1.1.1" host names).
    ip = normalizeIp(rawHost);
    if (ip === undefined) return undefined;
  } else if (!HOSTNAME_RE.test(rawHost)) return undefined;
  if (ip === '0.0.0.0' || ip === '::') return undefined;
  return { ip };
}

/** A uniformly random 32-bit unsigned integer from the CSPRNG (never Math.random, house rule 7). */
function randomU32(): number {
  const r = randomBytes(4);
  return (((r[0] as number) << 24) | ((r[1] as number) << 16) | ((r[2] as number) << 8) | (r[3] as number)) >>> 0;
}

/**
 * Holds the endpoints learned from PEERS and dials them while the node is below target. Driven by
 * the host's clock: an interval, plus a timer of 0 ms when something changed (new candidates, a
 * dial finished, a link went down).
 */
export class AutoDialer {
  readonly #h: AutoDialHost;
  /** Candidates by endpoint; insertion order is age. */
  readonly #cands = new Map<string, Candidate>();
  readonly #perSource = new Map<string, number>();
  /** Backoff per endpoint after a failure or a link not yet proven stable (LRU by last update). */
  readonly #failures = new Map<string, Failure>();
  readonly #inflight = new Map<string, Candidate>();
  #interval: unknown;
  #kick: unknown;
  #stats = { autoDials: 0, autoDialsSucceeded: 0, autoDialFailures: 0, autoDialRejectedEndpoints: 0 };

  constructor(host: AutoDialHost) {
    this.#h = host;
  }

  start(): void {
    if (this.#interval !== undefined) return;
    this.#interval = this.#h.clock.setInterval(() => this.tick(), this.#h.intervalMs);
  }

  /** Cancels the timers and forgets every candidate; in-flight dials are aborted by the node. */
  stop(): void {
    if (this.#interval !== undefined) this.#h.clock.clearInterval(this.#interval);
    if (this.#kick !== undefined) this.#h.clock.clearTimeout(this.#kick);
    this.#interval = undefined;
    this.#kick = undefined;
    this.#cands.clear();
    this.#perSource.clear();
    this.#failures.clear();
    this.#inflight.clear();
  }

  /** Take the entries of an authenticated PEERS frame from neighbour `source`. */
  learn(source: string, entries: readonly { nodeId: string; endpoint: string }[]): void {
    let added = false;
    for (const e of entries) {
      const parsed = e.nodeId === this.#h.localId ? undefined : parseCandidateEndpoint(e.endpoint, this.#h.scheme);
      if (!parsed) {
        this.#stats.autoDialRejectedEndpoints++;
        continue;
      }
      // One candidate per node id, the first listed, until a dial of it fails (link.md section
      // 5.2): a neighbour cannot push out another neighbour's entry with an endpoint of its own.
      let held: Candidate | undefined;
      for (const c of this.#cands.values()) {
        if (c.nodeId === e.nodeId) {
          held = c;
          break;
        }
      }
      if (held && held.endpoint !== e.endpoint && !held.failed) continue;
      if (held) this.#remove(held.endpoint);
      this.#remove(e.endpoint);
      if ((this.#perSource.get(source) ?? 0) >= AUTODIAL_DEFAULTS.maxPerPeer) {
        for (const c of this.#cands.values()) {
          if (c.source === source) {
            this.#remove(c.endpoint);
            break;
          }
        }
      }
      if (this.#cands.size >= AUTODIAL_DEFAULTS.maxCandidates) this.#remove(this.#cands.keys().next().value as string);
      this.#cands.set(e.endpoint, {
        nodeId: e.nodeId,
        endpoint: e.endpoint,
        ip: parsed.ip,
        source,
        failed: held?.endpoint === e.endpoint && held.failed,
      });
      this.#perSource.set(source, (this.#perSource.get(source) ?? 0) + 1);
      added = true;
    }
    if (added) this.kick();
  }

  /**
   * `endpoint` is what `nodeId` advertises for itself (its INFO frame): a held candidate for the
   * node with another endpoint takes it, so what the node says beats what others listed.
   */
  authoritative(nodeId: string, endpoint: string): void {
    for (const c of this.#cands.values()) {
      if (c.nodeId !== nodeId) continue;
      if (c.endpoint === endpoint || this.#inflight.has(c.endpoint)) return;
      const parsed = parseCandidateEndpoint(endpoint, this.#h.scheme);
      if (!parsed) return;
      this.#remove(c.endpoint);
      this.#remove(endpoint);
      this.#cands.set(endpoint, { ...c, endpoint, ip: parsed.ip, failed: false });
      this.#perSource.set(c.source, (this.#perSource.get(c.source) ?? 0) + 1);
      return;
    }
  }

  #remove(endpoint: string): void {
    const c = this.#cands.get(endpoint);
    if (!c) return;
    this.#cands.delete(endpoint);
    const n = (this.#perSource.get(c.source) ?? 1) - 1;
    if (n <= 0) this.#perSource.delete(c.source);
    else this.#perSource.set(c.source, n);
  }

  /** Check soon (next clock turn), coalesced. */
  kick(): void {
    if (this.#kick !== undefined || this.#interval === undefined) return;
    this.#kick = this.#h.clock.setTimeout(() => {
      this.#kick = undefined;
      this.tick();
    }, 0);
  }

  /** One round: dial up to the free slots, fewest links per subnet first. */
  tick(): void {
    const h = this.#h;
    if (!h.running()) return;
    const room = h.targetPeers - h.linkCount() - this.#inflight.size;
    let slots = Math.min(room, h.maxConcurrentDials - this.#inflight.size);
    if (slots <= 0 || this.#cands.size === 0) return;
    const now = h.clock.now();
    // Current links and dials in flight, counted with the inbound limits' semantics (same
    // prefixes, loopback exempt) so the outbound choice cannot crowd one subnet either.
    const sd = h.subnets === false ? undefined : new SubnetDiversity(h.subnets);
    if (sd) {
      for (const a of h.linkAddresses()) sd.addConnection(a);
      for (const c of this.#inflight.values()) if (c.ip) sd.addConnection(c.ip);
    }
    const pool: { c: Candidate; order: number }[] = [];
    for (const c of this.#cands.values()) {
      if (this.#inflight.has(c.endpoint)) continue;
      const f = this.#failures.get(c.endpoint);
      if (f && f.retryAt > now) continue;
      if (h.excluded(c.nodeId, c.endpoint)) continue;
      // A random order among equals: an advertiser cannot put its entries first by listing them first.
      pool.push({ c, order: randomU32() });
    }
    while (slots > 0 && pool.length > 0) {
      let best = -1;
      let bestCount = Number.POSITIVE_INFINITY;
      for (let i = 0; i < pool.length; i++) {
        const { c, order } = pool[i] as { c: Candidate; order: number };
        let count = 0;
        if (sd && c.ip) {
          if (!sd.allowConnection(c.ip).allowed) continue;
          count = sd.countFor(c.ip);
        }
        if (count < bestCount || (count === bestCount && order < (pool[best] as { order: number }).order)) {
          best = i;
          bestCount = count;
        }
      }
      if (best < 0) break;
      const { c } = pool.splice(best, 1)[0] as { c: Candidate };
      if (sd && c.ip) sd.addConnection(c.ip);
      this.#dial(c);
      slots--;
    }
  }

  #dial(c: Candidate): void {
    const h = this.#h;
    this.#inflight.set(c.endpoint, c);
    this.#stats.autoDials++;
    h.dial(c.endpoint, c.nodeId).then(
      () => {
        if (this.#inflight.get(c.endpoint) !== c) return;
        this.#inflight.delete(c.endpoint);
        c.failed = false;
        // Spaced like a failure until the link proves stable (linkDown).
        this.#backoff(c.endpoint);
        this.#stats.autoDialsSucceeded++;
        h.report(true, { nodeId: c.nodeId, endpoint: c.endpoint });
        this.kick();
      },
      (e: unknown) => {
        // After stop() the table is gone and the failure is the shutdown, not the endpoint.
        if (this.#inflight.get(c.endpoint) !== c || !h.running()) return;
        this.#inflight.delete(c.endpoint);
        c.failed = true;
        this.#backoff(c.endpoint);
        this.#stats.autoDialFailures++;
        h.report(false, { nodeId: c.nodeId, endpoint: c.endpoint, code: (e as { code?: string })?.code ?? 'unknown' });
        this.kick();
      },
    );
  }

  /** Exponential backoff with jitter in [delay/2, delay], like reconnects (link.md section 7). */
  #backoff(endpoint: string): void {
    const prev = this.#failures.get(endpoint);
    const attempts = (prev?.attempts ?? 0) + 1;
    const d = AUTODIAL_DEFAULTS;
    const base = Math.min(d.backoffMaxMs, d.backoffBaseMs * 2 ** Math.min(attempts - 1, 30));
    const delay = Math.round(base * (0.5 + randomU32() / 0xffff_ffff / 2));
    this.#failures.delete(endpoint);
    if (this.#failures.size >= d.maxFailures) this.#failures.delete(this.#failures.keys().next().value as string);
    this.#failures.set(endpoint, { attempts, retryAt: this.#h.clock.now() + delay });
  }

  /** A link went down after `livedMs`; a stable one clears its endpoint's backoff. Checks soon. */
  linkDown(endpoint: string | undefined, livedMs: number): void {
    if (endpoint !== undefined && livedMs >= AUTODIAL_DEFAULTS.stableLinkMs) this.#failures.delete(endpoint);
    this.kick();
  }

  getStats(): AutoDialStats {
    let backoffs = 0;
    const now = this.#h.clock.now();
    for (const f of this.#failures.values()) if (f.retryAt > now) backoffs++;
    return { ...this.#stats, autoDialCandidates: this.#cands.size, autoDialBackoffs: backoffs };
  }
}
