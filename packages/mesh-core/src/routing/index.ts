/**
 * Multi-hop routing for @yak/mesh-core (SPEC section 3: `sendTo(nodeId)` reaches nodes that are
 * not direct neighbours; protocol in docs/protocol/routing.md). The MeshNetwork wires one
 * {@link Router} per node onto its link layer.
 * @packageDocumentation
 */
export { METRIC_INFINITY, ROUTING_DEFAULTS, ROUTING_KIND } from './constants.js';
export { InvalidArgumentError, MeshError, NotRunningError, PayloadTooLargeError, UnreachableError } from './errors.js';
export {
  type RouteInfo,
  Router,
  type RouterIdentity,
  type RouterOptions,
  type RouterStats,
  type UnreachableInfo,
} from './router.js';
