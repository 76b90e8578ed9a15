// Shared vitest settings: tests run against package sources (the "@yak/source" export
// condition), so a package's tests never need its dependencies built first.
import { defineConfig, type UserConfig } from 'vitest/config';

// Vite's default server conditions with ours in front.
const conditions = ['@yak/source', 'module', 'node', 'development|production'];

export function yakVitestConfig(overrides: UserConfig['test'] = {}): UserConfig {
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 30_000,
      pool: 'forks',
      ...overrides,
    },
  });
}
