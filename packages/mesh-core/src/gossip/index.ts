/**
 * Origin-authenticated gossip for @yak/mesh-core (SPEC section 3, "Gossip"; protocol in
 * docs/protocol/gossip.md). The MeshNetwork wires one {@link Gossip} per node onto its link layer.
 * @packageDocumentation
 */
export { GOSSIP_DEFAULTS, GOSSIP_KIND } from './constants.js';
export { InvalidArgumentError, MeshError, NotRunningError, PayloadTooLargeError } from './errors.js';
export { Gossip, type GossipIdentity, type GossipMessage, type GossipOptions, type GossipStats, type SignatureVerifier } from './gossip.js';
