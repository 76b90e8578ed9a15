/**
 * Benchmark harness shared by every package's `bench/*.bench.ts`.
 *
 * A bench script measures a candidate and its baseline in the same process and run, then calls
 * `record()`. `tools/bench/run.mjs` runs every script and collects the records into
 * `docs/benchmarks.json` and `docs/benchmarks.md`. Ratios are "higher is better for us":
 * for throughput `value / baselineValue`, for latency `baselineValue / value` (pass
 * `lowerIsBetter: true`).
 */
import { appendFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface BenchRecord {
  package: string;
  name: string;
  unit: string;
  value: number;
  baseline: string;
  baselineValue: number;
  ratio: number;
  /** Optional target the issue asks for, e.g. ">= 0.9". */
  goal?: string;
  notes?: string;
}

export interface RecordInput extends Omit<BenchRecord, 'ratio'> {
  lowerIsBetter?: boolean;
}

/** Append one result; also echo it so a human running one script sees it. */
export function record(input: RecordInput): BenchRecord {
  const { lowerIsBetter, ...rest } = input;
  const ratio = lowerIsBetter ? input.baselineValue / input.value : input.value / input.baselineValue;
  const rec: BenchRecord = { ...rest, ratio: Number(ratio.toFixed(3)) };
  const out = process.env.YAK_BENCH_OUT;
  if (out) appendFileSync(out, `${JSON.stringify(rec)}\n`);
  process.stdout.write(
    `${rec.package} | ${rec.name}: ${fmt(rec.value)} ${rec.unit} vs ${rec.baseline} ${fmt(rec.baselineValue)} -> ratio ${rec.ratio}${rec.goal ? ` (goal ${rec.goal})` : ''}\n`,
  );
  return rec;
}

/** Record a plain figure that has no baseline (reported, not compared). */
export function recordFigure(pkg: string, name: string, unit: string, value: number, notes?: string): BenchRecord {
  return record({ package: pkg, name, unit, value, baseline: 'none', baselineValue: value, ...(notes ? { notes } : {}) });
}

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(4);
}

export interface MeasureOptions {
  /** Minimum measuring time per sample in ms. */
  timeMs?: number;
  /** Number of samples; the median is reported. */
  samples?: number;
  /** Warm-up time in ms. */
  warmupMs?: number;
}

/** Operations per second of a synchronous function: median over samples. */
export function opsPerSec(fn: () => unknown, opts: MeasureOptions = {}): number {
  const { timeMs = 300, samples = 5, warmupMs = 100 } = opts;
  const w0 = performance.now();
  while (performance.now() - w0 < warmupMs) fn();
  const rates: number[] = [];
  for (let s = 0; s < samples; s++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < timeMs) {
      fn();
      n++;
      t = performance.now();
    }
    rates.push((n * 1000) / (t - t0));
  }
  return median(rates);
}

/** Operations per second of an async function (sequential awaits). */
export async function opsPerSecAsync(fn: () => Promise<unknown>, opts: MeasureOptions = {}): Promise<number> {
  const { timeMs = 300, samples = 5, warmupMs = 100 } = opts;
  const w0 = performance.now();
  while (performance.now() - w0 < warmupMs) await fn();
  const rates: number[] = [];
  for (let s = 0; s < samples; s++) {
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < timeMs) {
      await fn();
      n++;
      t = performance.now();
    }
    rates.push((n * 1000) / (t - t0));
  }
  return median(rates);
}

/**
 * Measure candidate and baseline interleaved (A B A B ...), so drift in machine load hits both
 * equally; returns the medians.
 */
export function compareOps(
  candidate: () => unknown,
  baseline: () => unknown,
  opts: MeasureOptions = {},
): { candidate: number; baseline: number } {
  const rounds = opts.samples ?? 5;
  const c: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < rounds; i++) {
    c.push(opsPerSec(candidate, { ...opts, samples: 1 }));
    b.push(opsPerSec(baseline, { ...opts, samples: 1 }));
  }
  return { candidate: median(c), baseline: median(b) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i] as number;
}
