#!/usr/bin/env node
// Writes the Nx targets of every package from its scripts, as `nx:run-commands` targets run in
// the package directory. (Nx's script runner shells out to a global `pnpm`, which a fresh
// machine does not have; run-commands puts the workspace's node_modules/.bin on PATH.)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
for (const name of readdirSync(join(root, 'packages'))) {
  const file = join(root, 'packages', name, 'package.json');
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    continue;
  }
  const targets = {};
  for (const t of ['build', 'typecheck', 'test', 'lint', 'bench']) {
    if (pkg.scripts?.[t]) targets[t] = { command: pkg.scripts[t], options: { cwd: '{projectRoot}' } };
  }
  pkg.nx = { ...(pkg.nx ?? {}), targets };
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
}
