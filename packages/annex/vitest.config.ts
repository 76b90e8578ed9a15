import { fileURLToPath } from 'node:url';
import { mergeConfig } from 'vitest/config';
import { yakVitestConfig } from '../../vitest.shared.ts';

// '@yak/annex' resolves to this package's sources, so test/demo.test.ts can run the CLI's ANNEX
// demo section (packages/cli/src/demo/annex.ts) before the CLI lists this package as a dependency.
export default mergeConfig(yakVitestConfig(), {
  resolve: { alias: { '@yak/annex': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
});
