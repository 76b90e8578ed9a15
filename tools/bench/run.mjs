#!/usr/bin/env node
// Runs benchmark scripts and writes docs/benchmarks.json + docs/benchmarks.md.
// From the repo root: runs every packages/*/bench/*.bench.ts and tools/bench/*.bench.ts.
// From a package directory (its `bench` target): runs that package's scripts and merges its
// records into the docs files, replacing that package's previous records.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cwd = process.cwd();
const filter = process.argv.slice(2);
const scripts = [];
const pkgDirs = cwd === root ? readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p)) : [cwd];
for (const dir of pkgDirs) {
  const b = join(dir, 'bench');
  if (!existsSync(b)) continue;
  for (const f of readdirSync(b).sort()) if (f.endsWith('.bench.ts')) scripts.push(join(b, f));
}
if (cwd === root && existsSync(join(root, 'tools/bench'))) {
  for (const f of readdirSync(join(root, 'tools/bench')).sort()) if (f.endsWith('.bench.ts')) scripts.push(join(root, 'tools/bench', f));
}
const selected = filter.length ? scripts.filter((s) => filter.some((f) => s.includes(f))) : scripts;
const out = join(mkdtempSync(join(tmpdir(), 'yak-bench-')), 'records.jsonl');
writeFileSync(out, '');
const tsx = join(root, 'node_modules/.bin/tsx');
// Benchmarks measure what users install: the packages' built `dist` (tsc output), not the
// sources. Without the `@yak/source` condition, `@yak/*` imports resolve to `dist`; tsx only
// transpiles the bench scripts themselves (and test helpers a bench borrows). tsx keeps
// function names by wrapping closures, which costs measurably on hot paths that create them.
if (!process.env.YAK_BENCH_NO_BUILD) {
  process.stdout.write('building packages (nx run-many -t build)\n');
  const b = spawnSync(join(root, 'node_modules/.bin/nx'), ['run-many', '-t', 'build', '--outputStyle=static'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
  if (b.status !== 0) {
    process.stderr.write('build failed\n');
    process.exit(1);
  }
}
let failed = 0;
for (const s of selected) {
  process.stdout.write(`\n== ${relative(root, s)}\n`);
  const r = spawnSync(tsx, [s], {
    cwd: dirname(dirname(s)),
    stdio: 'inherit',
    env: { ...process.env, YAK_BENCH_OUT: out, NODE_ENV: 'production' },
  });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`bench failed: ${relative(root, s)} (exit ${r.status})\n`);
  }
}
const fresh = readFileSync(out, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const jsonPath = join(root, 'docs/benchmarks.json');
let all = existsSync(jsonPath) ? JSON.parse(readFileSync(jsonPath, 'utf8')) : [];
const replaced = new Set(fresh.map((r) => `${r.package}\u0000${r.name}`));
all = all.filter((r) => !replaced.has(`${r.package}\u0000${r.name}`)).concat(fresh);
all.sort((a, b) => (a.package === b.package ? 0 : a.package < b.package ? -1 : 1));
writeFileSync(jsonPath, `${JSON.stringify(all, null, 2)}\n`);
const lines = [
  '# Benchmarks',
  '',
  'Written by `pnpm bench` (tools/bench/run.mjs). Every ratio is measured in the same run as its',
  'baseline on the same machine; higher is better for YAK. The packages are measured as built',
  '(`dist`, what users install). Machine: ' +
    `${process.platform} ${process.arch}, Node ${process.version}, ${(await import('node:os')).cpus().length} cores.`,
  '',
  '| package | benchmark | value | unit | baseline | baseline value | ratio | goal |',
  '|---|---|---:|---|---|---:|---:|---|',
  ...all.map(
    (r) =>
      `| ${r.package} | ${r.name} | ${num(r.value)} | ${r.unit} | ${r.baseline} | ${r.baseline === 'none' ? '' : num(r.baselineValue)} | ${r.baseline === 'none' ? '' : r.ratio} | ${r.goal ?? ''} |`,
  ),
  '',
];
writeFileSync(join(root, 'docs/benchmarks.md'), lines.join('\n'));
process.stdout.write(`\nwrote ${fresh.length} records (${all.length} total) to docs/benchmarks.json and docs/benchmarks.md\n`);
function num(n) {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Number(n.toPrecision(4)).toString();
}
process.exit(failed ? 1 : 0);
void basename;
