// The demo's sections, in protocol-stack order. Each later package adds one.

import { annexDemo } from './annex.js';
import type { DemoContext } from './context.js';
import { e2eeDemo } from './e2ee.js';
import { foundationDemo } from './foundation.js';
import { meshDemo } from './mesh.js';
import { nenDemo } from './nen.js';
import type { DemoUI } from './ui.js';

export interface DemoSection {
  name: string;
  run(ui: DemoUI, ctx: DemoContext): Promise<void>;
}

export const sections: DemoSection[] = [
  { name: 'foundation', run: foundationDemo },
  { name: 'e2ee', run: e2eeDemo },
  { name: 'nen', run: nenDemo },
  { name: 'mesh', run: meshDemo },
  {
    name: 'annex',
    run: (ui, ctx) => {
      if (!ctx.meshes) throw new Error("the annex section runs on the mesh section's nodes");
      return annexDemo(ui, { meshes: ctx.meshes });
    },
  },
];
