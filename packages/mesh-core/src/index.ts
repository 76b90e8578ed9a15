/**
 * @yak/mesh-core: `MeshNetwork`, authenticated post-quantum links over WebSockets or an
 * in-memory transport, with defenses, keep-alive, reconnect and a replicated store; the
 * `LinkLayer` that gossip and routing run on (SPEC section 3, seed 001).
 * @packageDocumentation
 */

/** Auto-dial from peer exchange: options, defaults and the events MeshNetwork emits for it. */
export { AUTODIAL_DEFAULTS, AutoDialEvents, type AutoDialOptions, type AutoDialStats } from './autodial.js';
/** Defaults with their sources. */
export { BOUNDS, DEFENSE_DEFAULTS, LINK, MESH_DEFAULTS, PEER_EXCHANGE, RECONNECT, STORE_DEFAULTS } from './constants.js';
/** Errors: one base class, one subclass per condition, each with a stable `code`. */
export {
  AbortedError,
  ConnectionError,
  HandshakeError,
  IdentityMismatchError,
  InvalidArgumentError,
  MeshError,
  type MeshErrorCode,
  NotRunningError,
  PayloadTooLargeError,
  PortUnavailableError,
  RejectedError,
  StoreFullError,
  TimeoutError,
  UnreachableError,
  WrongFingerprintError,
  WrongNetworkError,
} from './errors.js';
/** Origin-authenticated Plumtree gossip (docs/protocol/gossip.md), the default `broadcast` engine. */
export { GOSSIP_DEFAULTS, GOSSIP_KIND, Gossip, type GossipOptions, type GossipStats } from './gossip/index.js';
/** The contract gossip and routing are written against, plus the clock and logger shapes. */
export {
  type Clock,
  type FrameKind,
  type LinkLayer,
  type LinkPeer,
  type Logger,
  silentLogger,
  systemClock,
} from './link-layer.js';
/** Seed 001 message types, lifecycle events, application frame kinds and payload types. */
export { AppKind, MeshEvents, type MeshPayload, type MessageType, MessageTypes } from './messages.js';
/** The mesh node. */
export {
  type ConnectOptions,
  type DirectMessage,
  type EngineContext,
  type GossipEngine,
  type GossipEngineOptions,
  type GossipFactory,
  type GossipMessage,
  type MeshHandler,
  MeshNetwork,
  type MeshNetworkOptions,
  type MeshStats,
  type PeerInfo,
  type RouterEngine,
  type RouterEngineOptions,
  type RouterFactory,
} from './network.js';
/** Distance-vector multi-hop routing (docs/protocol/routing.md), the default `sendTo` engine beyond neighbours. */
export { ROUTING_DEFAULTS, ROUTING_KIND, type RouteInfo, Router, type RouterOptions, type RouterStats } from './routing/index.js';
/** The bounded last-writer-wins store behind sync_request / sync_response / replicate. */
export { ReplicatedStore, type StoreEntry, StoreKind, type StoreOptions, type SyncOptions } from './store.js';
/** In-memory transport for simulations (same protocol code as WebSockets). */
export { MemoryHub, MemoryTransport, type MemoryTransportOptions } from './transport/memory.js';
/** Transport contract, for custom transports. */
export type { DialOptions, ListenOptions, Transport, TransportConnection, TransportListener } from './transport/types.js';
/** WebSocket transport over `ws`. */
export { WsTransport, type WsTransportOptions } from './transport/ws.js';
