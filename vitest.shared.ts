// Shared vitest settings: tests run against package sources (the "@yak/source" export
// condition), so a package's tests never need its dependencies built first.
import { defaultServerConditions, defineConfig, type UserConfig } from 'vitest/config';

export function yakVitestConfig(overrides: UserConfig['test'] = {}): UserConfig {
  return defineConfig({
    resolve: { conditions: ['@yak/source', ...defaultServerConditions] },
    ssr: { resolve: { conditions: ['@yak/source', ...defaultServerConditions] } },
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 30_000,
      pool: 'forks',
      ...overrides,
    },
  });
}
