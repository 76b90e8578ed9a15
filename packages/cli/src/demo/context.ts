import type { MeshNetwork } from '@yak/mesh-core';

/** State shared between demo sections: the mesh section's nodes are reused by later ones. */
export interface DemoContext {
  meshes?: MeshNetwork[];
  onCleanup(fn: () => Promise<void>): void;
}
