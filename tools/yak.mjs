#!/usr/bin/env node
// The two newcomer commands (README): `npm run demo` and `npm test`, plus `npm run bench`.
// Each installs what it needs by itself: pnpm at a pinned version through npx (no corepack),
// then the workspace from the committed lockfile.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM = 'pnpm@10.34.9';
const env = {
  ...process.env,
  // nx runs package scripts with pnpm: the workspace's own pinned copy (a root devDependency).
  PATH: `${join(root, 'node_modules/.bin')}${process.platform === 'win32' ? ';' : ':'}${process.env.PATH ?? ''}`,
  NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_SKIP_NX_CACHE: process.env.CI ? 'true' : '' };
if (!env.NX_SKIP_NX_CACHE) delete env.NX_SKIP_NX_CACHE;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}
function must(cmd, args, opts) {
  const code = run(cmd, args, opts);
  if (code !== 0) process.exit(code);
}
function say(msg) {
  process.stdout.write(`\n\u25b6 ${msg}\n`);
}

function ensureInstalled() {
  const marker = join(root, 'node_modules/.modules.yaml');
  const lock = join(root, 'pnpm-lock.yaml');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  say(`installing dependencies (${PNPM} via npx, frozen lockfile)`);
  must('npx', ['-y', PNPM, 'install', '--frozen-lockfile', '--reporter=append-only']);
}

// Nx targets come from each package's "nx" block (tools/nx-targets.mjs writes it from the
// scripts); a package without it would be silently skipped or run through a global pnpm.
function checkTargets() {
  for (const p of readdirSync(join(root, 'packages'))) {
    const f = join(root, 'packages', p, 'package.json');
    if (!existsSync(f)) continue;
    const pkg = JSON.parse(readFileSync(f, 'utf8'));
    if (!pkg.nx?.targets?.test || !pkg.nx?.targets?.build) {
      process.stderr.write(`packages/${p}/package.json has no nx targets: run node tools/nx-targets.mjs\n`);
      process.exit(1);
    }
  }
}

function nx(args) {
  return run(join(root, 'node_modules/.bin/nx'), args);
}

// The Redis session store of @yak/nen is tested against a real redis-server (SPEC section 3).
function ensureRedis() {
  // CI must run the Redis tests for real: a missing redis-server fails them instead of skipping.
  if (process.env.CI) env.REQUIRE_REDIS = '1';
  if (spawnSync('sh', ['-c', 'command -v redis-server'], { env }).status === 0) return;
  if (!process.env.CI && !process.env.REQUIRE_REDIS) return;
  say('installing redis-server (apt-get) for the Redis session store tests');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  run(sudo[0] ?? 'apt-get', [...(sudo.length ? ['apt-get'] : []), 'update', '-qq']);
  must(sudo[0] ?? 'apt-get', [...(sudo.length ? ['apt-get'] : []), 'install', '-y', '-qq', 'redis-server'], {
    env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function summariseTests() {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const pkgs = readdirSync(join(root, 'packages'));
  for (const p of pkgs) {
    const f = join(root, 'packages', p, '.vitest-results.json');
    if (!existsSync(f)) continue;
    const r = JSON.parse(readFileSync(f, 'utf8'));
    passed += r.numPassedTests ?? 0;
    failed += r.numFailedTests ?? 0;
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  }
  return { passed, failed, skipped };
}

const cmd = process.argv[2];
const rest = process.argv.slice(3);
if (cmd === 'demo') {
  ensureInstalled();
  say('building @yak/cli and the packages it uses');
  if (nx(['run', '@yak/cli:build', '--outputStyle=static']) !== 0) process.exit(1);
  process.exit(run(process.execPath, [join(root, 'packages/cli/dist/bin.js'), 'demo', ...rest]));
} else if (cmd === 'test') {
  ensureInstalled();
  ensureRedis();
  for (const p of readdirSync(join(root, 'packages'))) rmSync(join(root, 'packages', p, '.vitest-results.json'), { force: true });
  checkTargets();
  say('build, typecheck, lint and test every package (nx run-many)');
  const code = nx(['run-many', '-t', 'build', 'typecheck', 'lint', 'test', '--outputStyle=static', ...rest]);
  const { passed, failed, skipped } = summariseTests();
  process.stdout.write(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  process.exit(code !== 0 ? code : failed > 0 ? 1 : 0);
} else if (cmd === 'bench') {
  ensureInstalled();
  process.exit(run(process.execPath, [join(root, 'tools/bench/run.mjs'), ...rest]));
} else {
  process.stderr.write('usage: node tools/yak.mjs demo|test|bench\n');
  process.exit(2);
}
