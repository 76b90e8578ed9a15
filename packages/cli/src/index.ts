/**
 * @yak/cli: the `yak` command's building blocks, importable for scripting and tests.
 * @packageDocumentation
 */

export { quickBench } from './commands/bench.js';
export { type DemoOptions, runDemo } from './commands/demo.js';
export { KEYSTORE_FILE, type KeygenOptions, keygen } from './commands/keygen.js';
export { serveMetrics, toPrometheus } from './commands/metrics.js';
export { loadIdentity, type NodeOptions, runNode } from './commands/node.js';
export { type DemoSection, sections } from './demo/sections.js';
export { ConsoleUI, type DemoUI } from './demo/ui.js';
