// Errors the router throws to local callers: the package's MeshError subclasses (src/errors.ts),
// one base class per package (SPEC section 2, "Errors"). `UnreachableError` (code
// YAK_MESH_UNREACHABLE) is the typed answer for a target with no link and no route. Bad frames
// from neighbours never throw; they are counted and reported as misbehaviour.
export { InvalidArgumentError, MeshError, NotRunningError, PayloadTooLargeError, UnreachableError } from '../errors.js';
