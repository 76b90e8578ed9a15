// Errors the gossip layer throws to local callers. They are the package's MeshError subclasses
// (src/errors.ts): one base class per package (SPEC section 2, "Errors"). Bad frames from
// neighbours never throw; they are counted, logged at debug level and reported to the link layer
// as misbehaviour.
export { InvalidArgumentError, MeshError, NotRunningError, PayloadTooLargeError } from '../errors.js';
