// The demo's sections, in protocol-stack order. Each later package adds one.
import { e2eeDemo } from './e2ee.js';
import { foundationDemo } from './foundation.js';
import { nenDemo } from './nen.js';
import type { DemoUI } from './ui.js';

export interface DemoSection {
  name: string;
  run(ui: DemoUI): Promise<void>;
}

export const sections: DemoSection[] = [
  { name: 'foundation', run: foundationDemo },
  { name: 'e2ee', run: e2eeDemo },
  { name: 'nen', run: nenDemo },
];
