// MeshNetwork (seed 001 "MeshNetwork", SPEC section 3 @yak/mesh-core): authenticated encrypted
// links to neighbours over a transport, with defenses on every inbound connection and frame,
// keep-alive, reconnect, a replicated store, and the LinkLayer that gossip and routing run on.
import { type IdentityRecord, isNodeId, NodeIdentity, randomBytes, sha256, toHex, utf8 } from '@yak/crypto';
import {
  ConnectionRateLimiter,
  type ConnectionRateLimiterOptions,
  MessageValidator,
  NAVR,
  type NavrOptions,
  normalizeIp,
  ReputationTracker,
  type ReputationTrackerOptions,
  SafeJsonParser,
  SubnetDiversity,
  type SubnetDiversityOptions,
  type TrustLevel,
} from '@yak/defense';
import { AUTODIAL_DEFAULTS, AutoDialEvents, AutoDialer, type AutoDialOptions, type AutoDialStats } from './autodial.js';
import { BOUNDS, DEFENSE_DEFAULTS, LINK, MESH_DEFAULTS, PEER_EXCHANGE, RECONNECT } from './constants.js';
import {
  AbortedError,
  ConnectionError,
  HandshakeError,
  IdentityMismatchError,
  InvalidArgumentError,
  type MeshError,
  NotRunningError,
  PortUnavailableError,
  RejectedError,
  TimeoutError,
  UnreachableError,
  WrongFingerprintError,
  WrongNetworkError,
} from './errors.js';
import { Gossip, type GossipOptions } from './gossip/index.js';
import {
  type HandshakeConfig,
  type KnownPeer,
  localRecord,
  RecordCache,
  RejectCode,
  rejectName,
  type Ticket,
  TicketStore,
  ticketKey,
} from './handshake.js';
import { type CloseInfo, Link, type LinkHost, LinkKind } from './link.js';
import { type Clock, type FrameKind, type LinkLayer, type LinkPeer, type Logger, silentLogger, systemClock } from './link-layer.js';
import { AppKind, decodePayload, encodePayload, MeshEvents, type MeshPayload, MessageTypes } from './messages.js';
import { Router, type RouterOptions } from './routing/index.js';
import { ReplicatedStore, StoreKind, type StoreOptions } from './store.js';
import type { Transport, TransportConnection, TransportListener } from './transport/types.js';
import { WsTransport } from './transport/ws.js';

/** Constructor options of {@link MeshNetwork} (seed 001 "Configuration" plus SPEC additions). */
export interface MeshNetworkOptions {
  /** Port to listen on (default 9001); 0 picks a free port. */
  wsPort?: number;
  /** Interface to bind (default '0.0.0.0'). */
  host?: string;
  /** Maximum concurrent links (default 10). */
  maxPeers?: number;
  /** Keep-alive ping interval in ms (default 30000); a link silent for 2.5 intervals is dead. */
  pingInterval?: number;
  /**
   * How often each link is offered the current PEERS list, in ms (default 60000, link.md
   * section 5.2). A frame is sent only when the list for that link changed since the last one.
   */
  peerExchangeIntervalMs?: number;
  /** Sequential ports tried after `wsPort` when it is taken (default 10). */
  portRetries?: number;
  /** Network identifier; links between different networks are refused (default 'yakmesh'). */
  networkId?: string;
  /** Codebase fingerprint (string or up to 64 bytes); links between different codebases are refused. */
  networkFingerprint?: string | Uint8Array | null;
  /** Host name advertised in `getPublicEndpoint()` (default: the bound host). */
  publicHost?: string | null;
  /** Options for the rate limiter, or a limiter instance to share. */
  rateLimiter?: ConnectionRateLimiterOptions | ConnectionRateLimiter;
  /** Reputation options or a shared tracker. */
  reputation?: ReputationTrackerOptions | ReputationTracker;
  /** Subnet diversity options or instance; `false` disables the check. */
  subnetDiversity?: SubnetDiversityOptions | SubnetDiversity | false;
  /**
   * Admission proof of work (NAVR, seed 001 "Sybil Defense"; link.md section 3.7): initiators
   * whose identity record this node has not verified before must solve a challenge bound to
   * their node id and address before the node spends ML-DSA or KEM work on them. NAVR options
   * (e.g. `{ difficulty: 16 }`) or a shared instance; default false (nobody is challenged).
   */
  admission?: NavrOptions | NAVR | false;
  /** Most proof of work this node does when another node challenges it (default 22 bits). */
  maxAdmissionDifficulty?: number;
  /** Transport (default: WebSockets through `ws`). */
  transport?: Transport;
  /** Do not listen; outbound links only (default false). */
  noListen?: boolean;
  /** Endpoints to connect to at start and keep connected (reconnect with backoff). */
  peers?: string[];
  /** Reconnect backoff; `false` disables reconnecting. */
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number } | false;
  /**
   * Dial endpoints learned from neighbours' PEERS frames while this node has fewer than
   * `targetPeers` links (src/autodial.ts, docs/architecture.md "Auto-dial"). Default `false`:
   * the node keeps exactly the links it is told to open; `{}` turns it on with the defaults.
   */
  autoDial?: AutoDialOptions | false;
  handshakeTimeoutMs?: number;
  maxConcurrentHandshakes?: number;
  maxHandshakesPerIp?: number;
  /** Replicated key-value store options. */
  store?: StoreOptions;
  /**
   * Gossip used by `broadcast` (src/gossip, docs/protocol/gossip.md): on by default with its
   * defaults; pass options for it, a factory for another engine, or `false` for one-hop
   * broadcasts to direct neighbours only.
   */
  gossip?: GossipEngineOptions | GossipFactory | false;
  /**
   * Multi-hop router used by `sendTo` for nodes that are not neighbours (src/routing,
   * docs/protocol/routing.md): on by default; options for it, a factory, or `false` (then
   * `sendTo` reaches neighbours only).
   */
  router?: RouterEngineOptions | RouterFactory | false;
  clock?: Clock;
  logger?: Logger;
}

/** A neighbour as reported by `getPeers()`. */
export interface PeerInfo {
  nodeId: string;
  /** Endpoint we dialed, or the one the peer advertised. */
  endpoint: string | undefined;
  remoteAddress: string;
  direction: 'inbound' | 'outbound';
  /** Handshake mode used: 'known' (1 RTT, cached record) or 'first' (first contact). */
  handshake: 'resume' | 'known' | 'first';
  connectedAt: number;
  lastSeen: number;
  rttMs: number | undefined;
  trust: TrustLevel;
  bytesSent: number;
  bytesReceived: number;
}

/** Options of {@link MeshNetwork.connect}. */
export interface ConnectOptions {
  signal?: AbortSignal;
  /** Overall time for dial and handshake (default: the handshake timeout). */
  timeoutMs?: number;
  /** Refuse the link unless the peer proves this node id. */
  expectedNodeId?: string;
  /** Keep this endpoint connected, redialing with backoff (default true). */
  reconnect?: boolean;
  /**
   * Use a resumption ticket when one is held (default true). `false` forces a full KEM-authenticated
   * handshake (the known-peer mode when the endpoint's record is cached).
   */
  resume?: boolean;
}

/** A broadcast as delivered to `on(MessageTypes.GOSSIP)` handlers. */
export interface GossipMessage {
  type: 'gossip';
  id: string;
  origin: string;
  payload: MeshPayload;
  hops: number;
  topic?: string;
}

/** A direct message as delivered to `on('message')` (and to `on(payload.type)`). */
export interface DirectMessage {
  type: 'direct';
  from: string;
  payload: MeshPayload;
  /**
   * True when the message came over the link to `from` itself, whose handshake proved that
   * identity. False when it was routed: `from` is then what the source claimed, and a relay on
   * the route could have forged it or the payload (docs/protocol/routing.md section 7); use
   * `@yak/annex` for end-to-end authentication.
   */
  authenticated: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: handlers receive event-specific arguments.
export type MeshHandler = (...args: any[]) => void;

/** The gossip engine shape MeshNetwork drives (src/gossip `Gossip`). */
export interface GossipEngine {
  start(): void;
  stop(): void;
  publish(payload: Uint8Array, topic?: string): string;
  onMessage(handler: (msg: { origin: string; id: string; payload: Uint8Array; hops: number; topic?: string }) => void): unknown;
  getStats(): object;
}
export type GossipFactory = (ctx: EngineContext) => GossipEngine;
/** Options passed to the built-in Gossip (everything but what MeshNetwork supplies). */
export type GossipEngineOptions = Omit<GossipOptions, 'link' | 'identity' | 'clock' | 'logger'>;

/** The router shape MeshNetwork drives (src/routing `Router`). */
export interface RouterEngine {
  start(): void;
  stop(): void;
  /** Throws `UnreachableError` when there is no route; false on backpressure. */
  send(target: string, kind: FrameKind, body: Uint8Array): boolean | undefined;
  onDeliver(kind: FrameKind, handler: (from: string, body: Uint8Array) => void): unknown;
  getStats(): object;
}
export type RouterFactory = (ctx: EngineContext) => RouterEngine;
/** Options passed to the built-in Router (everything but what MeshNetwork supplies). */
export type RouterEngineOptions = Omit<RouterOptions, 'link' | 'identity' | 'clock' | 'logger'>;

/** What an engine factory receives. */
export interface EngineContext {
  link: LinkLayer;
  identity: NodeIdentity;
  clock: Clock;
  logger: Logger;
}

/** Counters of `getStats()` (SPEC section 2, "Observability"). */
export interface MeshStats extends AutoDialStats {
  nodeId: string;
  running: boolean;
  endpoint: string | null;
  peers: number;
  pendingHandshakes: number;
  handshakesCompleted: number;
  handshakesResumed: number;
  handshakesKnown: number;
  handshakesFirstContact: number;
  handshakesFailed: number;
  connectionsRejected: number;
  framesSent: number;
  framesReceived: number;
  framesDropped: number;
  recordsSent: number;
  recordsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  replaysBlocked: number;
  violations: number;
  bans: number;
  reconnectAttempts: number;
  /** PEERS frames sent (at link up and when a link's list changed, link.md section 5.2). */
  peerExchangesSent: number;
  /** PEERS entries ignored because another endpoint is already known for that node id. */
  peerEndpointConflicts: number;
  knownRecords: number;
  /** Resumption tickets held (as initiator and as responder). */
  tickets: number;
  knownEndpoints: number;
  persistentEndpoints: number;
  store: ReturnType<ReplicatedStore['getStats']>;
  rateLimiter: ReturnType<ConnectionRateLimiter['getStats']>;
  /** Link key updates sent and received (link.md section 6.1), over current links. */
  keyUpdates: number;
  keyUpdatesReceived: number;
  /** Admission challenges (NAVR counters), when `admission` is on. */
  admission?: ReturnType<NAVR['getStats']>;
  gossip?: object;
  router?: object;
}

/** Size class of each frame kind for MessageValidator (seed 001 limits). */
function frameType(kind: number): string {
  if (kind < 0x10) return 'link';
  if (kind < 0x20) return 'gossip';
  if (kind < 0x30) return 'routing';
  if (kind < 0x40) return 'sync';
  return 'data';
}

const FRAME_LIMITS = { link: 64 * 1024, gossip: 64 * 1024, routing: LINK.maxFrameBytes, sync: 512 * 1024, data: LINK.maxFrameBytes };

/** Event names a remote payload's `type` may not take over. */
const RESERVED_EVENTS = new Set<string>([
  ...Object.values(MessageTypes),
  ...Object.values(MeshEvents),
  ...Object.values(AutoDialEvents),
  'error',
]);

const NO_AUTODIAL: AutoDialStats = {
  autoDials: 0,
  autoDialsSucceeded: 0,
  autoDialFailures: 0,
  autoDialCandidates: 0,
  autoDialBackoffs: 0,
  autoDialRejectedEndpoints: 0,
};

/** Where a node's endpoint was learned, best evidence first (link.md section 5.2). */
type EndpointOrigin = 'self' | 'dial' | 'peer';

interface KnownEndpoint {
  endpoint: string;
  origin: EndpointOrigin;
}

interface Persistent {
  attempt: number;
  timer: unknown;
  nodeId?: string;
}

function isAbort(e: unknown): boolean {
  return (e as { code?: string })?.code === 'ABORT_ERR';
}

/**
 * A mesh node: listens on a transport, keeps authenticated encrypted links to up to `maxPeers`
 * neighbours, and carries application messages, gossip and routed traffic over them.
 *
 * Every link runs the KEM-authenticated handshake of docs/protocol/link.md; nothing is
 * dispatched before it completes, and every frame afterwards travels in an AES-256-GCM record
 * with a replay window. Inbound connections pass the rate limiter, subnet diversity and
 * handshake concurrency limits first; every frame passes rate and size checks; misbehaviour
 * lowers the peer's reputation and can ban it.
 *
 * Also the {@link LinkLayer} for gossip and routing engines.
 */
export class MeshNetwork implements LinkLayer {
  readonly identity: NodeIdentity;
  readonly localId: string;
  readonly networkId: string;
  readonly store: ReplicatedStore;

  readonly #o: {
    wsPort: number;
    host: string;
    maxPeers: number;
    pingInterval: number;
    peerExchangeIntervalMs: number;
    portRetries: number;
    publicHost: string | null;
    handshakeTimeoutMs: number;
    maxConcurrentHandshakes: number;
    maxHandshakesPerIp: number;
    reconnect: { baseDelayMs: number; maxDelayMs: number } | false;
    noListen: boolean;
    peers: string[];
  };
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #limiter: ConnectionRateLimiter;
  readonly #reputation: ReputationTracker;
  readonly #subnets: SubnetDiversity | undefined;
  readonly #admission: NAVR | undefined;
  readonly #validator: MessageValidator;
  readonly #json = new SafeJsonParser({ maxSize: LINK.maxFrameBytes });
  readonly #hsConfig: HandshakeConfig;
  readonly #host: LinkHost;
  readonly #gossipFactory: GossipFactory | undefined;
  readonly #routerFactory: RouterFactory | undefined;
  readonly #auto: AutoDialer | undefined;

  #state: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' = 'idle';
  #listener: TransportListener | undefined;
  #keepalive: unknown;
  #peerExchange: unknown;
  #gossip: GossipEngine | undefined;
  #router: RouterEngine | undefined;
  #stopCtl = new AbortController();

  /** Up links by peer node id. */
  readonly #links = new Map<string, Link>();
  /** Links still handshaking. */
  readonly #pending = new Set<Link>();
  readonly #pendingPerIp = new Map<string, number>();
  /** Inbound connections counted in subnet diversity. */
  readonly #subnetCounted = new WeakSet<Link>();
  /** Every transport connection this node owns, until its close completes. */
  readonly #conns = new Map<TransportConnection, Promise<void>>();
  /** Verified records of responders by endpoint, for the known-peer handshake (LRU). */
  readonly #known = new Map<string, KnownPeer>();
  /** Resumption tickets for endpoints we dialed (single use; link.md section 4.3). */
  readonly #tickets = new TicketStore(BOUNDS.tickets);
  /** Dialable endpoint per node id and where it came from (LRU; link.md section 5.2). */
  readonly #endpoints = new Map<string, KnownEndpoint>();
  /** Truncated hash of the last PEERS list sent on each link (lives as long as the link). */
  readonly #peersSent = new WeakMap<Link, string>();
  readonly #persistent = new Map<string, Persistent>();
  readonly #dialing = new Map<string, Promise<IdentityRecord>>();
  readonly #handlers = new Map<string, Set<MeshHandler>>();
  readonly #frameHandlers = new Map<number, Set<(from: string, body: Uint8Array) => void>>();
  readonly #peerHandlers = new Set<(event: 'up' | 'down', peer: LinkPeer) => void>();
  readonly #stats = {
    handshakesCompleted: 0,
    handshakesResumed: 0,
    handshakesKnown: 0,
    handshakesFirstContact: 0,
    handshakesFailed: 0,
    connectionsRejected: 0,
    framesSent: 0,
    framesReceived: 0,
    framesDropped: 0,
    recordsSent: 0,
    recordsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    replaysBlocked: 0,
    violations: 0,
    bans: 0,
    reconnectAttempts: 0,
    peerExchangesSent: 0,
    peerEndpointConflicts: 0,
  };

  constructor(identity: NodeIdentity, options: MeshNetworkOptions = {}) {
    if (!(identity instanceof NodeIdentity)) throw new TypeError('identity must be a NodeIdentity');
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const d = MESH_DEFAULTS;
    const int = (name: string, v: unknown, def: number, min: number, max: number): number => {
      if (v === undefined) return def;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
        throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
      }
      return v;
    };
    this.identity = identity;
    this.localId = identity.nodeId;
    const networkId = options.networkId ?? d.networkId;
    if (typeof networkId !== 'string' || networkId.length === 0 || utf8(networkId).length > 64) {
      throw new InvalidArgumentError('networkId must be a non-empty string of at most 64 bytes');
    }
    this.networkId = networkId;
    const fp = options.networkFingerprint ?? null;
    let fingerprint: Uint8Array;
    if (fp === null) fingerprint = new Uint8Array(0);
    else if (typeof fp === 'string') fingerprint = utf8(fp);
    else if (fp instanceof Uint8Array) fingerprint = fp.slice();
    else throw new InvalidArgumentError('networkFingerprint must be a string or Uint8Array');
    if (fingerprint.length > 64) throw new InvalidArgumentError('networkFingerprint must be at most 64 bytes');
    const rc = options.reconnect;
    this.#o = {
      wsPort: int('wsPort', options.wsPort, d.wsPort, 0, 65535),
      host: options.host ?? d.host,
      maxPeers: int('maxPeers', options.maxPeers, d.maxPeers, 1, 100_000),
      pingInterval: int('pingInterval', options.pingInterval, d.pingInterval, 10, 86_400_000),
      peerExchangeIntervalMs: int('peerExchangeIntervalMs', options.peerExchangeIntervalMs, PEER_EXCHANGE.intervalMs, 10, 86_400_000),
      portRetries: int('portRetries', options.portRetries, d.portRetries, 0, 1000),
      publicHost: options.publicHost ?? null,
      handshakeTimeoutMs: int('handshakeTimeoutMs', options.handshakeTimeoutMs, LINK.handshakeTimeoutMs, 1, 600_000),
      maxConcurrentHandshakes: int(
        'maxConcurrentHandshakes',
        options.maxConcurrentHandshakes,
        DEFENSE_DEFAULTS.maxConcurrentHandshakes,
        1,
        100_000,
      ),
      maxHandshakesPerIp: int('maxHandshakesPerIp', options.maxHandshakesPerIp, DEFENSE_DEFAULTS.maxHandshakesPerIp, 1, 100_000),
      reconnect:
        rc === false
          ? false
          : {
              baseDelayMs: int('reconnect.baseDelayMs', rc?.baseDelayMs, RECONNECT.baseDelayMs, 1, 3_600_000),
              maxDelayMs: int('reconnect.maxDelayMs', rc?.maxDelayMs, RECONNECT.maxDelayMs, 1, 86_400_000),
            },
      noListen: options.noListen === true,
      peers: [...(options.peers ?? [])],
    };
    for (const p of this.#o.peers) this.#checkEndpoint(p);
    if (typeof this.#o.host !== 'string' || this.#o.host.length === 0) throw new InvalidArgumentError('host must be a string');
    this.#transport = options.transport ?? new WsTransport();
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ?? silentLogger;
    const now = () => this.#clock.now();
    this.#limiter =
      options.rateLimiter instanceof ConnectionRateLimiter
        ? options.rateLimiter
        : new ConnectionRateLimiter({ ...DEFENSE_DEFAULTS.rateLimiter, ...(options.rateLimiter ?? {}), now });
    this.#reputation =
      options.reputation instanceof ReputationTracker ? options.reputation : new ReputationTracker({ ...(options.reputation ?? {}), now });
    const sd = options.subnetDiversity;
    this.#subnets = sd === false ? undefined : sd instanceof SubnetDiversity ? sd : new SubnetDiversity(sd ?? {});
    const adm = options.admission;
    this.#admission = adm === undefined || adm === false ? undefined : adm instanceof NAVR ? adm : new NAVR(adm);
    this.#auto = this.#makeAutoDialer(options.autoDial, sd, int);
    this.#validator = new MessageValidator({ noDefaults: true, limits: FRAME_LIMITS });
    const rec = localRecord(identity);
    this.#hsConfig = {
      identity,
      recordBytes: rec.bytes,
      recordHash: rec.hash,
      networkId,
      fingerprint,
      records: new RecordCache(BOUNDS.knownRecords),
      tickets: new TicketStore(BOUNDS.tickets),
      now,
      maxAdmissionDifficulty: int('maxAdmissionDifficulty', options.maxAdmissionDifficulty, LINK.maxAdmissionDifficulty, 1, 48),
      ...(this.#admission ? { admission: this.#admission } : {}),
    };
    const g = options.gossip;
    this.#gossipFactory =
      g === false
        ? undefined
        : typeof g === 'function'
          ? g
          : (ctx) => new Gossip({ ...(g ?? {}), link: ctx.link, identity: ctx.identity, clock: ctx.clock, logger: ctx.logger });
    const rt = options.router;
    this.#routerFactory =
      rt === false
        ? undefined
        : typeof rt === 'function'
          ? rt
          : (ctx) => new Router({ ...(rt ?? {}), link: ctx.link, identity: ctx.identity, clock: ctx.clock, logger: ctx.logger });
    this.#host = this.#makeHost();
    this.store = new ReplicatedStore(
      {
        localId: this.localId,
        clock: this.#clock,
        neighbours: () => [...this.#links.keys()],
        sendFrame: (p, k, b) => this.#sendFrame(p, k, b),
        misbehaved: (p, r) => this.reportMisbehavior(p, r, DEFENSE_DEFAULTS.badFrameSeverity),
        observe: (kind, msg, from) => {
          const type =
            kind === StoreKind.SYNC_REQUEST
              ? MessageTypes.SYNC_REQUEST
              : kind === StoreKind.SYNC_RESPONSE
                ? MessageTypes.SYNC_RESPONSE
                : MessageTypes.REPLICATE;
          this.emit(type, msg, this.#peerInfo(from), from);
        },
      },
      options.store,
    );
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Listen (trying `wsPort` .. `wsPort + portRetries`), start keep-alive, gossip and routing,
   * and dial the configured `peers`. Resolves once listening.
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new NotRunningError('YAK_MESH_STOPPED', `cannot start a network that is ${this.#state}`);
    this.#state = 'starting';
    try {
      if (!this.#o.noListen) this.#listener = await this.#listen();
    } catch (e) {
      this.#state = 'stopped';
      throw e;
    }
    this.#state = 'running';
    this.#keepalive = this.#clock.setInterval(() => this.#tick(), this.#o.pingInterval);
    this.#peerExchange = this.#clock.setInterval(() => this.#exchangePeers(), this.#o.peerExchangeIntervalMs);
    const ctx: EngineContext = { link: this, identity: this.identity, clock: this.#clock, logger: this.#log };
    if (this.#routerFactory) {
      this.#router = this.#routerFactory(ctx);
      this.#router.onDeliver(AppKind.DIRECT, (from, body) => this.#direct(from, body, undefined));
      this.#router.start();
    }
    if (this.#gossipFactory) {
      this.#gossip = this.#gossipFactory(ctx);
      this.#gossip.onMessage((m) => this.#gossipDelivered(m));
      this.#gossip.start();
    }
    for (const ep of this.#o.peers) {
      this.#persistent.set(ep, { attempt: 0, timer: undefined });
      this.#dialPersistent(ep);
    }
    this.#auto?.start();
    this.#log.info({ nodeId: this.localId, endpoint: this.getPublicEndpoint() }, 'mesh started');
  }

  async #listen(): Promise<TransportListener> {
    const first = this.#o.wsPort;
    const last = first === 0 ? 0 : Math.min(65535, first + this.#o.portRetries);
    let lastErr: unknown;
    for (let port = first; port <= last; port++) {
      try {
        return await this.#transport.listen({ host: this.#o.host, port, maxPayload: LINK.maxRecordBytes }, (c) => this.#accept(c));
      } catch (e) {
        lastErr = e;
        const code = (e as { code?: string }).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') break;
      }
    }
    throw new PortUnavailableError(`no free port in ${first}..${last}`, { cause: lastErr });
  }

  /** Close every link and the listener, cancel timers and dials. Leaves no timers or sockets. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    if (this.#state === 'idle') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    this.#stopCtl.abort();
    if (this.#keepalive !== undefined) this.#clock.clearInterval(this.#keepalive);
    this.#keepalive = undefined;
    if (this.#peerExchange !== undefined) this.#clock.clearInterval(this.#peerExchange);
    this.#peerExchange = undefined;
    for (const p of this.#persistent.values()) if (p.timer !== undefined) this.#clock.clearTimeout(p.timer);
    this.#persistent.clear();
    this.#auto?.stop();
    try {
      this.#gossip?.stop();
    } catch (e) {
      this.#log.warn({ err: String(e) }, 'gossip stop failed');
    }
    try {
      this.#router?.stop();
    } catch (e) {
      this.#log.warn({ err: String(e) }, 'router stop failed');
    }
    this.store.close();
    this.#tickets.clear();
    this.#hsConfig.tickets.clear();
    for (const l of [...this.#pending]) l.close({ code: 'stopped', detail: 'node shutting down' });
    for (const l of [...this.#links.values()]) l.close({ code: 'stopped', detail: 'node shutting down' });
    await this.#listener?.close();
    this.#listener = undefined;
    await Promise.allSettled([...this.#dialing.values()]);
    await Promise.all([...this.#conns.values()]);
    this.#state = 'stopped';
    this.#log.info({ nodeId: this.localId }, 'mesh stopped');
  }

  get running(): boolean {
    return this.#state === 'running';
  }

  // ---------------------------------------------------------------- connections

  /**
   * Open a link to `endpoint` and resolve to the peer's verified identity record. Uses the
   * 1-RTT known-peer handshake when the endpoint's record is cached. Rejects with
   * `WrongNetworkError`, `WrongFingerprintError`, `IdentityMismatchError`, `RejectedError`,
   * `HandshakeError`, `TimeoutError`, `ConnectionError` or `AbortedError`.
   */
  connect(endpoint: string, opts: ConnectOptions = {}): Promise<IdentityRecord> {
    try {
      this.#checkEndpoint(endpoint);
      if (opts.expectedNodeId !== undefined && !isNodeId(opts.expectedNodeId))
        throw new InvalidArgumentError('expectedNodeId is not a node id');
      this.#requireRunning();
    } catch (e) {
      return Promise.reject(e);
    }
    if (opts.reconnect !== false && this.#o.reconnect !== false && !this.#persistent.has(endpoint)) {
      if (this.#persistent.size < RECONNECT.maxEndpoints) this.#persistent.set(endpoint, { attempt: 0, timer: undefined });
    }
    return this.#connect(endpoint, opts);
  }

  #connect(endpoint: string, opts: ConnectOptions): Promise<IdentityRecord> {
    for (const l of this.#links.values()) if (l.endpoint === endpoint && l.peer) return Promise.resolve(l.peer);
    const inflight = this.#dialing.get(endpoint);
    if (inflight) return inflight;
    const p = this.#dial(endpoint, opts).finally(() => this.#dialing.delete(endpoint));
    this.#dialing.set(endpoint, p);
    return p;
  }

  async #dial(endpoint: string, opts: ConnectOptions): Promise<IdentityRecord> {
    const timeoutMs = opts.timeoutMs ?? this.#o.handshakeTimeoutMs;
    const ctl = new AbortController();
    const signals = [this.#stopCtl.signal, ...(opts.signal ? [opts.signal] : [])];
    const onAbort = () => ctl.abort();
    for (const s of signals) {
      if (s.aborted) ctl.abort();
      else s.addEventListener('abort', onAbort, { once: true });
    }
    let timedOut = false;
    const timer = this.#clock.setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, timeoutMs);
    try {
      // Cheapest first: a ticket, then the cached record, then first contact (link.md section 4).
      let stage: 'resume' | 'known' | 'first' = opts.resume === false ? 'known' : 'resume';
      for (;;) {
        if (this.#links.size >= this.#o.maxPeers) throw new RejectedError('too_many_peers', 'maxPeers links already up');
        let ticket: Ticket | undefined;
        let known: KnownPeer | undefined;
        if (stage === 'resume') {
          ticket = this.#tickets.take(endpoint, this.#clock.now());
          if (ticket && opts.expectedNodeId !== undefined && ticket.peer.record.nodeId !== opts.expectedNodeId) ticket = undefined;
          if (!ticket) stage = 'known';
        }
        if (stage === 'known') {
          known = this.#known.get(endpoint);
          if (known && opts.expectedNodeId !== undefined && known.record.nodeId !== opts.expectedNodeId) known = undefined;
          if (!known) stage = 'first';
        }
        let conn: TransportConnection;
        try {
          conn = await this.#transport.dial(endpoint, { maxPayload: LINK.maxRecordBytes, timeoutMs, signal: ctl.signal });
        } catch (e) {
          if (ctl.signal.aborted || isAbort(e)) throw this.#abortError(timedOut, opts);
          throw new ConnectionError(`cannot reach ${endpoint}`, { cause: e });
        }
        if (this.#state !== 'running') {
          conn.close(1001, 'shutting down');
          throw new NotRunningError('YAK_MESH_STOPPED', 'network stopped');
        }
        if (ctl.signal.aborted) {
          conn.close(1000, 'aborted');
          throw this.#abortError(timedOut, opts);
        }
        const link = this.#newLink(conn, { initiator: true, known, ticket, expectedNodeId: opts.expectedNodeId, endpoint });
        const onLinkAbort = () => link.close({ code: 'local', detail: 'aborted' });
        ctl.signal.addEventListener('abort', onLinkAbort, { once: true });
        try {
          await link.ready;
          return link.peer as IdentityRecord;
        } catch (info) {
          const ci = info as CloseInfo;
          // The responder lost our ticket, or its record changed: fall back one stage.
          if (ci.reject?.remote && ci.reject.code === RejectCode.STALE_RECORD && stage !== 'first') {
            if (stage === 'known') this.#known.delete(endpoint);
            stage = stage === 'resume' ? 'known' : 'first';
            continue;
          }
          // Lost a simultaneous-open race: the other link to the same node is up.
          if (ci.code === 'replaced' || ci.reject?.code === RejectCode.DUPLICATE) {
            const other = link.peer ? this.#links.get(link.peer.nodeId) : undefined;
            if (other?.peer) return other.peer;
          }
          if (ctl.signal.aborted) throw this.#abortError(timedOut, opts);
          throw this.#closeError(ci);
        } finally {
          ctl.signal.removeEventListener('abort', onLinkAbort);
        }
      }
    } finally {
      this.#clock.clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', onAbort);
    }
  }

  #abortError(timedOut: boolean, opts: ConnectOptions): MeshError {
    if (timedOut) return new TimeoutError('connect timed out');
    if (opts.signal?.aborted) return new AbortedError();
    return new NotRunningError('YAK_MESH_STOPPED', 'network stopped');
  }

  #closeError(ci: CloseInfo): MeshError {
    const r = ci.reject;
    if (ci.code === 'timeout') return new TimeoutError('handshake timed out');
    if (!r) return new HandshakeError(ci.detail);
    const name = rejectName(r.code);
    switch (r.code) {
      case RejectCode.WRONG_NETWORK:
        return new WrongNetworkError(`peer refused: ${r.detail}`);
      case RejectCode.WRONG_FINGERPRINT:
        return new WrongFingerprintError(`peer refused: ${r.detail}`);
      case RejectCode.BAD_IDENTITY:
        return new IdentityMismatchError(r.detail);
      case RejectCode.RATE_LIMITED:
      case RejectCode.BANNED:
      case RejectCode.TOO_MANY_PEERS:
      case RejectCode.DUPLICATE:
      case RejectCode.SHUTTING_DOWN:
        return new RejectedError(name, `peer refused the link: ${name}`);
      default:
        return new HandshakeError(`${r.remote ? 'peer reported' : 'handshake failed'}: ${r.detail}`);
    }
  }

  /** Close the link to `nodeId` (and stop reconnecting to its endpoint). */
  disconnect(nodeId: string, reason = 'disconnected'): boolean {
    const l = this.#links.get(nodeId);
    for (const [ep, p] of this.#persistent) {
      if (ep === l?.endpoint || p.nodeId === nodeId) {
        if (p.timer !== undefined) this.#clock.clearTimeout(p.timer);
        this.#persistent.delete(ep);
      }
    }
    if (!l) return false;
    l.close({ code: 'local', detail: reason });
    return true;
  }

  #makeAutoDialer(
    ad: AutoDialOptions | false | undefined,
    sd: MeshNetworkOptions['subnetDiversity'],
    int: (name: string, v: unknown, def: number, min: number, max: number) => number,
  ): AutoDialer | undefined {
    if (ad === undefined || ad === false) return undefined;
    if (ad === null || typeof ad !== 'object') throw new InvalidArgumentError('autoDial must be false or an options object');
    const maxPeers = this.#o.maxPeers;
    const d = AUTODIAL_DEFAULTS;
    return new AutoDialer({
      clock: this.#clock,
      log: this.#log,
      localId: this.localId,
      scheme: this.#transport.scheme,
      targetPeers: int('autoDial.targetPeers', ad.targetPeers, Math.min(maxPeers, d.targetPeers), 1, maxPeers),
      intervalMs: int('autoDial.intervalMs', ad.intervalMs, d.intervalMs, 10, 86_400_000),
      maxConcurrentDials: int('autoDial.maxConcurrentDials', ad.maxConcurrentDials, d.maxConcurrentDials, 1, 64),
      // Outbound choices use the inbound limits; a shared instance's options are not readable, so
      // then (and by default) the @yak/defense defaults apply.
      subnets: sd === false ? false : sd instanceof SubnetDiversity || sd === undefined ? {} : sd,
      running: () => this.#state === 'running',
      linkCount: () => this.#links.size,
      linkAddresses: () => [...this.#links.values()].map((l) => l.remoteAddress),
      excluded: (nodeId, endpoint) => this.#autoDialExcluded(nodeId, endpoint),
      dial: (endpoint, nodeId) => this.#connect(endpoint, { expectedNodeId: nodeId }),
      report: (ok, info) => {
        if (ok) this.#log.info(info, 'auto-dial connected');
        else {
          this.#log.debug(info, 'auto-dial failed');
          this.#endpointFailed(info.nodeId, info.endpoint);
        }
        this.emit(ok ? AutoDialEvents.CONNECTED : AutoDialEvents.FAILED, info);
      },
    });
  }

  #autoDialExcluded(nodeId: string, endpoint: string): boolean {
    if (nodeId === this.localId || endpoint === this.getPublicEndpoint()) return true;
    if (this.#links.has(nodeId) || this.#dialing.has(endpoint) || this.#persistent.has(endpoint)) return true;
    if (this.#reputation.isBanned(nodeId) || this.#limiter.isBanned(nodeId)) return true;
    for (const l of this.#links.values()) if (l.endpoint === endpoint) return true;
    return false;
  }

  #dialPersistent(endpoint: string): void {
    if (this.#state !== 'running' || !this.#persistent.has(endpoint)) return;
    this.#stats.reconnectAttempts++;
    this.#connect(endpoint, {}).then(
      (rec) => {
        const p = this.#persistent.get(endpoint);
        if (p) {
          p.attempt = 0;
          p.nodeId = rec.nodeId;
        }
      },
      (e) => {
        this.#log.debug({ endpoint, code: (e as MeshError).code }, 'dial failed');
        this.#scheduleReconnect(endpoint);
      },
    );
  }

  /** Exponential backoff with full jitter in [delay/2, delay] (SPEC section 3). */
  #scheduleReconnect(endpoint: string): void {
    const p = this.#persistent.get(endpoint);
    if (!p || p.timer !== undefined || this.#state !== 'running' || this.#o.reconnect === false) return;
    const { baseDelayMs, maxDelayMs } = this.#o.reconnect;
    const base = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(p.attempt, 30));
    const r = randomBytes(2);
    const jitter = ((r[0] as number) * 256 + (r[1] as number)) / 65535;
    const delay = Math.round(base * (0.5 + jitter / 2));
    p.attempt++;
    p.timer = this.#clock.setTimeout(() => {
      p.timer = undefined;
      this.#dialPersistent(endpoint);
    }, delay);
  }

  #accept(conn: TransportConnection): void {
    const ip = conn.remoteAddress;
    const refuse = (why: string) => {
      this.#stats.connectionsRejected++;
      this.#log.debug({ ip, why }, 'connection refused');
      this.#track(conn);
      conn.close(1008, why);
    };
    if (this.#state !== 'running') return refuse('shutting down');
    const rl = this.#limiter.checkConnection(ip);
    if (!rl.allowed) return refuse(rl.code ?? 'rate_limited');
    if (this.#pending.size >= this.#o.maxConcurrentHandshakes) return refuse('busy');
    if ((this.#pendingPerIp.get(ip) ?? 0) >= this.#o.maxHandshakesPerIp) return refuse('too many handshakes from this address');
    const hl = this.#limiter.checkHandshake(ip);
    if (!hl.allowed) return refuse(hl.code ?? 'rate_limited');
    let counted = false;
    if (this.#subnets) {
      const sr = this.#subnets.addConnection(ip);
      if (!sr.allowed) return refuse(sr.code ?? 'subnet_full');
      counted = true;
    }
    this.#pendingPerIp.set(ip, (this.#pendingPerIp.get(ip) ?? 0) + 1);
    const link = this.#newLink(conn, { initiator: false });
    if (counted) this.#subnetCounted.add(link);
  }

  #track(conn: TransportConnection): Promise<void> {
    let done!: () => void;
    const closed = new Promise<void>((r) => {
      done = r;
    });
    const prev = conn.onClose;
    conn.onClose = (code, reason) => {
      this.#conns.delete(conn);
      done();
      prev?.(code, reason);
    };
    this.#conns.set(conn, closed);
    return closed;
  }

  #newLink(
    conn: TransportConnection,
    opts: { initiator: boolean; known?: KnownPeer; ticket?: Ticket; expectedNodeId?: string; endpoint?: string },
  ): Link {
    const link = new Link(this.#host, conn, opts);
    // Link installed its onClose; wrap it so this node knows when the socket is really gone.
    this.#track(conn);
    if (link.state === 'handshaking') this.#pending.add(link);
    return link;
  }

  #makeHost(): LinkHost {
    return {
      handshake: this.#hsConfig,
      clock: this.#clock,
      handshakeTimeoutMs: this.#o.handshakeTimeoutMs,
      peerCheck: (record) => {
        if (this.#state !== 'running') return { code: RejectCode.SHUTTING_DOWN, detail: 'shutting down' };
        if (this.#reputation.isBanned(record.nodeId) || this.#limiter.isBanned(record.nodeId)) {
          return { code: RejectCode.BANNED, detail: 'banned' };
        }
        if (this.#links.size >= this.#o.maxPeers && !this.#links.has(record.nodeId)) {
          return { code: RejectCode.TOO_MANY_PEERS, detail: 'too many peers' };
        }
        return undefined;
      },
      onUp: (link) => this.#linkUp(link),
      onFrame: (link, kind, body) => this.#frame(link, kind, body),
      onClose: (link, info) => this.#linkClosed(link, info),
      onViolation: (link, reason, severity) => this.#violation(link, reason, severity),
    };
  }

  #linkUp(link: Link): void {
    this.#pending.delete(link);
    this.#releasePendingIp(link);
    const rec = link.peer as IdentityRecord;
    const id = rec.nodeId;
    if (this.#state !== 'running') return link.close({ code: 'stopped', detail: 'node shutting down' });
    if (this.#reputation.isBanned(id) || this.#limiter.isBanned(id)) return link.close({ code: 'local', detail: 'banned' });
    const existing = this.#links.get(id);
    if (existing) {
      // Two links to one node. Links that came up close together are a simultaneous open: both
      // sides keep the one initiated by the smaller node id. Otherwise the new link replaces a
      // stale one (the peer restarted or lost the old socket first).
      const now = this.#clock.now();
      const initiatorOf = (l: Link) => (l.initiator ? this.localId : id);
      let keepNew = true;
      if (link.initiator !== existing.initiator && now - existing.upAt < LINK.duplicateWindowMs) {
        keepNew = initiatorOf(link) < initiatorOf(existing);
      }
      if (!keepNew) {
        if (!existing.endpoint && link.endpoint) existing.endpoint = link.endpoint;
        return link.close({ code: 'replaced', detail: 'duplicate link' });
      }
      if (!link.endpoint) link.endpoint = existing.endpoint;
      this.#links.delete(id);
      existing.close({ code: 'replaced', detail: 'duplicate link' });
    }
    if (this.#links.size >= this.#o.maxPeers) return link.close({ code: 'local', detail: 'too many peers' });
    this.#links.set(id, link);
    this.#stats.handshakesCompleted++;
    if (link.mode === 'resume') this.#stats.handshakesResumed++;
    else if (link.mode === 'known') this.#stats.handshakesKnown++;
    else this.#stats.handshakesFirstContact++;
    if (link.initiator && link.endpoint && link.peerRecordHash)
      this.#rememberKnown(link.endpoint, { record: rec, hash: link.peerRecordHash });
    if (link.initiator && link.endpoint) this.#learnEndpoint(id, link.endpoint, 'dial');
    this.#fileTicket(link);
    this.#reputation.registerNode(id);
    const ep = this.getPublicEndpoint();
    if (ep) link.send(LinkKind.INFO, utf8(ep));
    this.#sharePeers(link);
    this.#log.debug({ peer: id, mode: link.mode, initiator: link.initiator }, 'link up');
    // A replacement link is the same neighbour: listeners saw it come up already.
    if (!existing) {
      const info = this.#peerInfo(id) as PeerInfo;
      for (const h of [...this.#peerHandlers]) this.#safe(() => h('up', { nodeId: id }));
      this.emit(MeshEvents.PEER_CONNECTED, info);
    }
    // Anti-entropy both ways: each side pulls what the other holds (link.md section 8).
    if (this.store.syncOnConnect) this.store.sync(id).catch(() => {});
  }

  /** Keep the next resumption ticket: by endpoint when we dialed, by ticket id when we answered. */
  #fileTicket(link: Link): void {
    const r = link.resumption;
    link.resumption = undefined;
    if (!r || !link.peer || !link.peerRecordHash) return;
    const t: Ticket = {
      id: r.id,
      secret: r.secret,
      peer: { record: link.peer, hash: link.peerRecordHash },
      expiresAt: this.#clock.now() + LINK.ticketLifetimeMs,
    };
    if (link.initiator) {
      if (link.endpoint) this.#tickets.put(link.endpoint, t);
    } else this.#hsConfig.tickets.put(ticketKey(r.id), t);
  }

  #rememberKnown(endpoint: string, peer: KnownPeer): void {
    this.#known.delete(endpoint);
    if (this.#known.size >= BOUNDS.knownRecords) this.#known.delete(this.#known.keys().next().value as string);
    this.#known.set(endpoint, peer);
  }

  #releasePendingIp(link: Link): void {
    if (link.initiator || !this.#pendingPerIp.has(link.remoteAddress)) return;
    const n = (this.#pendingPerIp.get(link.remoteAddress) ?? 1) - 1;
    if (n <= 0) this.#pendingPerIp.delete(link.remoteAddress);
    else this.#pendingPerIp.set(link.remoteAddress, n);
  }

  #linkClosed(link: Link, info: CloseInfo): void {
    const wasPending = this.#pending.delete(link);
    if (wasPending) {
      this.#releasePendingIp(link);
      if (info.code !== 'replaced' && info.code !== 'stopped') this.#stats.handshakesFailed++;
    }
    if (this.#subnetCounted.has(link)) {
      this.#subnetCounted.delete(link);
      this.#subnets?.removeConnection(link.remoteAddress);
    }
    this.#stats.framesSent += link.stats.framesSent;
    this.#stats.framesReceived += link.stats.framesReceived;
    this.#stats.recordsSent += link.stats.recordsSent;
    this.#stats.recordsReceived += link.stats.recordsReceived;
    this.#stats.bytesSent += link.stats.bytesSent;
    this.#stats.bytesReceived += link.stats.bytesReceived;
    this.#stats.replaysBlocked += link.stats.replaysBlocked;
    const id = link.nodeId;
    if (id && this.#links.get(id) === link) {
      this.#links.delete(id);
      this.store.peerDown(id);
      const peer = this.#peerInfoOf(link);
      this.#log.debug({ peer: id, code: info.code, detail: info.detail }, 'link down');
      for (const h of [...this.#peerHandlers]) this.#safe(() => h('down', { nodeId: id }));
      this.emit(MeshEvents.PEER_DISCONNECTED, peer, info.detail);
      if (link.endpoint && this.#persistent.has(link.endpoint) && info.code !== 'replaced') this.#scheduleReconnect(link.endpoint);
      this.#auto?.linkDown(link.endpoint, this.#clock.now() - link.upAt);
    }
  }

  #violation(link: Link, reason: string, severity: number): void {
    this.#stats.violations++;
    this.#log.debug({ peer: link.nodeId, ip: link.remoteAddress, reason }, 'protocol violation');
    if (link.nodeId) {
      this.reportMisbehavior(link.nodeId, reason, severity);
    } else {
      // Before the handshake the only name is the address: count it against the IP's limits.
      this.#limiter.checkHandshake(link.remoteAddress);
    }
  }

  // ---------------------------------------------------------------- frames

  #frame(link: Link, kind: number, body: Uint8Array): void {
    const from = link.nodeId as string;
    const rl = this.#limiter.checkMessage(from);
    const gl = rl.allowed && kind >= 0x10 && kind < 0x20 ? this.#limiter.checkGossip(from) : rl;
    if (!rl.allowed || !gl.allowed) {
      this.#stats.framesDropped++;
      const code = (rl.allowed ? gl : rl).code;
      if (code === 'banned' || this.#limiter.isBanned(from)) {
        this.#ban(from, 'rate limit exceeded');
      } else this.#reputation.reportBadBehavior(from, DEFENSE_DEFAULTS.rateLimitSeverity);
      if (this.#reputation.isBanned(from)) this.#ban(from, 'reputation');
      return;
    }
    if (body.length > 0) {
      const v = this.#validator.validateRaw(body, frameType(kind));
      if (!v.valid) return this.#badFrame(from, `frame too large (${v.code})`);
    }
    switch (kind) {
      case LinkKind.PING:
        if (body.length !== 8) return this.#badFrame(from, 'bad ping');
        link.send(LinkKind.PONG, body);
        this.emit(MessageTypes.PING, { type: 'ping' }, this.#peerInfo(from), from);
        return;
      case LinkKind.PONG: {
        if (body.length !== 8) return this.#badFrame(from, 'bad pong');
        const sent = readTime(body);
        const rtt = this.#clock.now() - sent;
        if (rtt >= 0 && rtt < 3_600_000) link.rttMs = rtt;
        this.emit(MessageTypes.PONG, { type: 'pong', rttMs: link.rttMs }, this.#peerInfo(from), from);
        return;
      }
      case LinkKind.INFO:
        return this.#info(link, body);
      case LinkKind.PEERS:
        return this.#peers(link, body);
      case StoreKind.SYNC_REQUEST:
      case StoreKind.SYNC_RESPONSE:
      case StoreKind.REPLICATE:
        if (!this.store.handleFrame(from, kind, body)) this.#badFrame(from, 'malformed store frame');
        return;
      case AppKind.DIRECT:
        return this.#direct(from, body, link);
      case AppKind.NEIGHBOUR_BROADCAST:
        return this.#neighbourBroadcast(from, body);
    }
    const hs = this.#frameHandlers.get(kind);
    if (!hs || hs.size === 0) {
      this.#stats.framesDropped++;
      return;
    }
    if (hs.size === 1) {
      // The common case: one handler, no snapshot of the set per frame.
      const h = hs.values().next().value as (from: string, body: Uint8Array) => void;
      this.#safe(() => h(from, body));
      return;
    }
    for (const h of [...hs]) this.#safe(() => h(from, body));
  }

  #badFrame(from: string, reason: string): void {
    this.#stats.violations++;
    this.#stats.framesDropped++;
    this.reportMisbehavior(from, reason, DEFENSE_DEFAULTS.badFrameSeverity);
  }

  #info(link: Link, body: Uint8Array): void {
    let ep: string;
    try {
      ep = new TextDecoder('utf-8', { fatal: true }).decode(body);
      this.#checkEndpoint(ep);
    } catch {
      return this.#badFrame(link.nodeId as string, 'bad info');
    }
    // An inbound link's endpoint is the one its peer advertises: that makes it listable in PEERS.
    if (!link.endpoint) link.endpoint = ep;
    const id = link.nodeId as string;
    this.#learnEndpoint(id, ep, 'self');
    this.#auto?.authoritative(id, ep);
  }

  /**
   * Record `ep` for `nodeId` (link.md section 5.2). What the node says about itself (INFO) and
   * what a dial proved replace any entry; a PEERS entry is taken only for a node id with no
   * entry or the same endpoint, so a neighbour cannot displace an endpoint learned earlier or
   * from better evidence. Returns false for such a conflicting PEERS entry.
   */
  #learnEndpoint(nodeId: string, ep: string, origin: EndpointOrigin): boolean {
    if (nodeId === this.localId) return true;
    const cur = this.#endpoints.get(nodeId);
    if (origin === 'peer' && cur && cur.endpoint !== ep) return false;
    this.#endpoints.delete(nodeId);
    if (this.#endpoints.size >= BOUNDS.knownEndpoints) this.#endpoints.delete(this.#endpoints.keys().next().value as string);
    const keep = origin === 'peer' && cur ? cur.origin : origin;
    this.#endpoints.set(nodeId, { endpoint: ep, origin: keep });
    return true;
  }

  /** An auto-dial of a PEERS-learned endpoint failed: forget it, so another listing can be taken. */
  #endpointFailed(nodeId: string, ep: string): void {
    const cur = this.#endpoints.get(nodeId);
    if (cur && cur.origin === 'peer' && cur.endpoint === ep) this.#endpoints.delete(nodeId);
  }

  /**
   * The PEERS list for `link` (link.md section 5.2): every other neighbour with a dialable
   * endpoint (the one we dialled, or the one an inbound peer advertised in INFO), in node id
   * order so an unchanged neighbour set gives an unchanged list, at most `peersPerFrame` lines.
   * A loopback endpoint names a node on this machine only when that link is a loopback
   * connection, and is dialable only by a recipient on this machine too.
   */
  #peersList(link: Link): string[] {
    const list: string[] = [];
    const localRecipient = isLoopbackIp(link.remoteAddress);
    for (const [id, l] of this.#links) {
      if (l === link || id === link.nodeId || !l.endpoint) continue;
      if (isLoopbackEndpoint(l.endpoint) && !(localRecipient && isLoopbackIp(l.remoteAddress))) continue;
      list.push(`${id} ${l.endpoint}`);
    }
    list.sort();
    return list.length > BOUNDS.peersPerFrame ? list.slice(0, BOUNDS.peersPerFrame) : list;
  }

  /** Send `link` the PEERS list when it differs from the last one sent on it. */
  #sharePeers(link: Link): void {
    const list = this.#peersList(link);
    // PEERS only adds candidates, so an empty list has nothing to say (and is not a valid frame).
    if (list.length === 0) return;
    const body = utf8(list.join('\n'));
    const h = toHex(sha256(body).subarray(0, PEER_EXCHANGE.hashBytes));
    if (this.#peersSent.get(link) === h) return;
    if (!link.send(LinkKind.PEERS, body)) return;
    this.#peersSent.set(link, h);
    this.#stats.peerExchangesSent++;
  }

  #exchangePeers(): void {
    if (this.#state !== 'running') return;
    for (const l of [...this.#links.values()]) this.#sharePeers(l);
  }

  #peers(link: Link, body: Uint8Array): void {
    let lines: string[];
    try {
      lines = new TextDecoder('utf-8', { fatal: true }).decode(body).split('\n');
    } catch {
      return this.#badFrame(link.nodeId as string, 'bad peers frame');
    }
    if (lines.length > BOUNDS.peersPerFrame) return this.#badFrame(link.nodeId as string, 'too many peers in frame');
    const peers: { nodeId: string; endpoint: string }[] = [];
    for (const line of lines) {
      const [id, ep, extra] = line.split(' ');
      if (extra !== undefined || !isNodeId(id) || ep === undefined || !this.#validEndpoint(ep)) {
        return this.#badFrame(link.nodeId as string, 'bad peers entry');
      }
      peers.push({ nodeId: id, endpoint: ep });
    }
    const from = link.nodeId as string;
    const taken: { nodeId: string; endpoint: string }[] = [];
    for (const p of peers) {
      if (this.#learnEndpoint(p.nodeId, p.endpoint, 'peer')) taken.push(p);
      else this.#stats.peerEndpointConflicts++;
    }
    // Frames arrive only on authenticated links, so every candidate has a known, accountable source.
    if (taken.length) this.#auto?.learn(from, taken);
    // Listeners see the entries taken, not those that conflicted with a known endpoint.
    this.emit(MessageTypes.PEERS, { type: 'peers', peers: taken }, this.#peerInfo(from), from);
  }

  #direct(from: string, body: Uint8Array, link: Link | undefined): void {
    const payload = decodePayload(body, this.#json);
    if (payload === undefined) {
      if (link) this.#badFrame(from, 'malformed direct message');
      return;
    }
    const msg: DirectMessage = { type: 'direct', from, payload, authenticated: link !== undefined };
    const peer = this.#peerInfo(from);
    this.emit(MeshEvents.MESSAGE, msg, peer, from);
    const t =
      payload !== null && typeof payload === 'object' && !(payload instanceof Uint8Array) && !Array.isArray(payload)
        ? payload.type
        : undefined;
    if (typeof t === 'string' && t.length <= 64 && !RESERVED_EVENTS.has(t)) this.emit(t, payload, peer, from);
  }

  #neighbourBroadcast(from: string, body: Uint8Array): void {
    if (body.length < 17) return this.#badFrame(from, 'malformed broadcast');
    const payload = decodePayload(body.subarray(16), this.#json);
    if (payload === undefined) return this.#badFrame(from, 'malformed broadcast');
    const msg: GossipMessage = { type: 'gossip', id: toHex(body.subarray(0, 16)), origin: from, payload, hops: 1 };
    this.emit(MessageTypes.GOSSIP, msg, this.#peerInfo(from), from);
  }

  #gossipDelivered(m: { origin: string; id: string; payload: Uint8Array; hops: number; topic?: string }): void {
    const payload = decodePayload(m.payload, this.#json);
    if (payload === undefined) return;
    const msg: GossipMessage = { type: 'gossip', id: m.id, origin: m.origin, payload, hops: m.hops };
    if (m.topic !== undefined) msg.topic = m.topic;
    this.emit(MessageTypes.GOSSIP, msg, this.#peerInfo(m.origin), m.origin);
  }

  #ban(nodeId: string, reason: string): void {
    this.#stats.bans++;
    this.#limiter.ban(nodeId);
    this.#log.warn({ peer: nodeId, reason }, 'peer banned');
    const l = this.#links.get(nodeId);
    if (l) {
      this.disconnect(nodeId, `banned: ${reason}`);
    }
  }

  #tick(): void {
    const now = this.#clock.now();
    const dead = this.#o.pingInterval * LINK.deadAfterPings;
    const ping = new Uint8Array(8);
    writeTime(ping, now);
    for (const l of [...this.#links.values()]) {
      if (now - l.lastRecv > dead) {
        l.close({ code: 'dead', detail: 'keep-alive timeout' });
        continue;
      }
      l.send(LinkKind.PING, ping);
    }
  }

  // ---------------------------------------------------------------- application API

  /**
   * Send a message to every node: through the gossip engine when attached (origin-signed,
   * deduplicated, multi-hop), otherwise to each direct neighbour. Returns the message id.
   */
  broadcast(message: unknown, opts: { topic?: string } = {}): string {
    this.#requireRunning();
    const body = encodePayload(message, LINK.maxFrameBytes - 1024);
    if (this.#gossip) return this.#gossip.publish(body, opts.topic);
    const id = randomBytes(16);
    const frame = new Uint8Array(16 + body.length);
    frame.set(id, 0);
    frame.set(body, 16);
    for (const l of this.#links.values()) l.send(AppKind.NEIGHBOUR_BROADCAST, frame);
    return toHex(id);
  }

  /**
   * Send a message to one node: on the direct link if there is one, else through the router.
   * Returns false when the link is congested. Throws `UnreachableError` when there is no route.
   */
  sendTo(nodeId: string, message: unknown): boolean {
    this.#requireRunning();
    if (!isNodeId(nodeId)) throw new InvalidArgumentError('nodeId is not a node id');
    const body = encodePayload(message);
    const link = this.#links.get(nodeId);
    if (link) return link.send(AppKind.DIRECT, body);
    if (this.#router) return this.#router.send(nodeId, AppKind.DIRECT, body) !== false;
    throw new UnreachableError(nodeId);
  }

  /** Register a handler for a message type or event. */
  on(type: string, handler: MeshHandler): this {
    if (typeof type !== 'string' || typeof handler !== 'function') throw new TypeError('on(type: string, handler: function)');
    let s = this.#handlers.get(type);
    if (!s) {
      s = new Set();
      this.#handlers.set(type, s);
    }
    s.add(handler);
    return this;
  }

  /** Remove a handler. */
  off(type: string, handler: MeshHandler): this {
    const s = this.#handlers.get(type);
    if (s) {
      s.delete(handler);
      if (s.size === 0) this.#handlers.delete(type);
    }
    return this;
  }

  /** Call the handlers of `type` with `args`; a throwing handler is logged and skipped. Returns whether any ran. */
  emit(type: string, ...args: unknown[]): boolean {
    const s = this.#handlers.get(type);
    if (!s || s.size === 0) return false;
    for (const h of [...s]) this.#safe(() => h(...args));
    return true;
  }

  #safe(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#log.error({ err: e instanceof Error ? e.message : String(e) }, 'handler threw');
    }
  }

  isConnectedTo(nodeId: string): boolean {
    return this.#links.has(nodeId);
  }

  /** Connected neighbours with metadata. */
  getPeers(): PeerInfo[] {
    return [...this.#links.values()].map((l) => this.#peerInfoOf(l));
  }

  /**
   * Known endpoint per node id (candidates for `connect`): from the node's own INFO, a successful
   * dial, or the first PEERS listing (link.md section 5.2).
   */
  getKnownEndpoints(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [id, e] of this.#endpoints) out.set(id, e.endpoint);
    return out;
  }

  #peerInfo(nodeId: string): PeerInfo | undefined {
    const l = this.#links.get(nodeId);
    return l ? this.#peerInfoOf(l) : undefined;
  }

  #peerInfoOf(l: Link): PeerInfo {
    const id = l.nodeId as string;
    return {
      nodeId: id,
      endpoint: l.endpoint,
      remoteAddress: l.remoteAddress,
      direction: l.initiator ? 'outbound' : 'inbound',
      handshake: l.mode ?? 'first',
      connectedAt: l.upAt,
      lastSeen: l.lastRecv,
      rttMs: l.rttMs,
      trust: this.#reputation.getTrustLevel(id),
      bytesSent: l.stats.bytesSent,
      bytesReceived: l.stats.bytesReceived,
    };
  }

  /** `scheme://publicHost:port` of this node, or null before it listens. */
  getPublicEndpoint(): string | null {
    const l = this.#listener;
    if (!l) return null;
    let host = this.#o.publicHost ?? l.host;
    if (host === '0.0.0.0' || host === '::') host = '127.0.0.1';
    if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
    return `${this.#transport.scheme}://${host}:${l.port}`;
  }

  getStats(): MeshStats {
    const s = { ...this.#stats, keyUpdates: 0, keyUpdatesReceived: 0 };
    for (const l of [...this.#links.values(), ...this.#pending]) {
      s.keyUpdates += l.stats.keyUpdates;
      s.keyUpdatesReceived += l.stats.keyUpdatesReceived;
      s.framesSent += l.stats.framesSent;
      s.framesReceived += l.stats.framesReceived;
      s.recordsSent += l.stats.recordsSent;
      s.recordsReceived += l.stats.recordsReceived;
      s.bytesSent += l.stats.bytesSent;
      s.bytesReceived += l.stats.bytesReceived;
      s.replaysBlocked += l.stats.replaysBlocked;
    }
    const out: MeshStats = {
      nodeId: this.localId,
      running: this.running,
      endpoint: this.getPublicEndpoint(),
      peers: this.#links.size,
      pendingHandshakes: this.#pending.size,
      ...s,
      knownRecords: this.#known.size,
      tickets: this.#tickets.size + this.#hsConfig.tickets.size,
      knownEndpoints: this.#endpoints.size,
      persistentEndpoints: this.#persistent.size,
      ...(this.#auto?.getStats() ?? NO_AUTODIAL),
      store: this.store.getStats(),
      rateLimiter: this.#limiter.getStats(),
    };
    if (this.#admission) out.admission = this.#admission.getStats();
    if (this.#gossip) out.gossip = this.#gossip.getStats();
    if (this.#router) out.router = this.#router.getStats();
    return out;
  }

  /** Open transport connections owned by this node (sockets not yet closed). */
  openConnections(): number {
    return this.#conns.size;
  }

  // ---------------------------------------------------------------- LinkLayer

  peers(): LinkPeer[] {
    return [...this.#links.values()].map((l) =>
      l.rttMs === undefined ? { nodeId: l.nodeId as string } : { nodeId: l.nodeId as string, rttMs: l.rttMs },
    );
  }

  /** LinkLayer.send: kinds 0x10-0xff; 0x00-0x0f are reserved for link control. */
  send(peerId: string, kind: FrameKind, body: Uint8Array): boolean {
    if (!Number.isInteger(kind) || kind < 0x10 || kind > 0xff) throw new RangeError('kind must be an integer in [0x10, 0xff]');
    if (!(body instanceof Uint8Array)) throw new TypeError('body must be a Uint8Array');
    return this.#sendFrame(peerId, kind, body);
  }

  #sendFrame(peerId: string, kind: number, body: Uint8Array): boolean {
    const l = this.#links.get(peerId);
    return l ? l.send(kind, body) : false;
  }

  onFrame(kind: FrameKind, handler: (from: string, body: Uint8Array) => void): () => void {
    if (!Number.isInteger(kind) || kind < 0x10 || kind > 0xff) throw new RangeError('kind must be an integer in [0x10, 0xff]');
    if (kind >= 0x30 && kind <= 0x32) throw new RangeError('kinds 0x30-0x32 belong to the replicated store');
    if (kind === AppKind.DIRECT || kind === AppKind.NEIGHBOUR_BROADCAST) throw new RangeError('kinds 0x40-0x41 belong to MeshNetwork');
    let s = this.#frameHandlers.get(kind);
    if (!s) {
      s = new Set();
      this.#frameHandlers.set(kind, s);
    }
    s.add(handler);
    return () => {
      const set = this.#frameHandlers.get(kind);
      set?.delete(handler);
      if (set && set.size === 0) this.#frameHandlers.delete(kind);
    };
  }

  onPeer(handler: (event: 'up' | 'down', peer: LinkPeer) => void): () => void {
    this.#peerHandlers.add(handler);
    return () => this.#peerHandlers.delete(handler);
  }

  /** Lower a neighbour's reputation; a peer that falls to 'banned' is disconnected and refused. */
  reportMisbehavior(peerId: string, reason: string, severity = 1): void {
    if (typeof peerId !== 'string' || peerId.length === 0 || peerId.length > 512) return;
    const sev = Math.min(10, Math.max(0, Number.isFinite(severity) ? severity : 1));
    this.#reputation.reportBadBehavior(peerId, sev);
    this.#log.debug({ peer: peerId, reason, severity: sev }, 'misbehaviour reported');
    if (this.#reputation.isBanned(peerId)) this.#ban(peerId, reason);
  }

  // ---------------------------------------------------------------- helpers

  #requireRunning(): void {
    if (this.#state === 'running') return;
    if (this.#state === 'idle' || this.#state === 'starting') throw new NotRunningError('YAK_MESH_NOT_STARTED', 'call start() first');
    throw new NotRunningError('YAK_MESH_STOPPED', 'network stopped');
  }

  #validEndpoint(ep: string): boolean {
    if (typeof ep !== 'string' || ep.length === 0 || ep.length > BOUNDS.maxEndpointLength) return false;
    return /^(wss?|mem):\/\/[^\s/?#]+:\d{1,5}\/?$/.test(ep);
  }

  #checkEndpoint(ep: string): void {
    if (!this.#validEndpoint(ep)) throw new InvalidArgumentError('endpoint must look like ws://host:port');
  }
}

function isLoopbackIp(addr: string): boolean {
  const ip = normalizeIp(addr);
  return ip !== undefined && (ip === '::1' || ip.startsWith('127.'));
}

/** Whether an endpoint's host is `localhost` or a loopback IP literal. */
function isLoopbackEndpoint(ep: string): boolean {
  const m = /^[a-z]+:\/\/(\[[^\]]*\]|[^:/]*):/.exec(ep);
  if (!m) return false;
  const host = (m[1] as string).toLowerCase();
  if (host === 'localhost') return true;
  return isLoopbackIp(host.startsWith('[') ? host.slice(1, -1) : host);
}

function writeTime(buf: Uint8Array, t: number): void {
  const hi = Math.floor(t / 0x1_0000_0000);
  const lo = t >>> 0;
  new DataView(buf.buffer, buf.byteOffset, 8).setUint32(0, hi);
  new DataView(buf.buffer, buf.byteOffset, 8).setUint32(4, lo);
}

function readTime(buf: Uint8Array): number {
  const v = new DataView(buf.buffer, buf.byteOffset, 8);
  return v.getUint32(0) * 0x1_0000_0000 + v.getUint32(4);
}
