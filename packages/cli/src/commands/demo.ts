import type { DemoContext } from '../demo/context.js';
import { sections as allSections, type DemoSection } from '../demo/sections.js';
import { bold, ConsoleUI, green, red } from '../demo/ui.js';

export interface DemoOptions {
  /** Only run these sections (by name). */
  only?: string[];
  ui?: ConsoleUI;
  sections?: DemoSection[];
}

/** `yak demo`: the stack end to end on loopback, with progress output and a summary. */
export async function runDemo(opts: DemoOptions = {}): Promise<{ ok: boolean; figures: Array<[string, string | number]> }> {
  const ui = opts.ui ?? new ConsoleUI();
  const chosen = (opts.sections ?? allSections).filter((s) => !opts.only || opts.only.includes(s.name));
  const t0 = performance.now();
  let ok = true;
  const cleanups: Array<() => Promise<void>> = [];
  const ctx: DemoContext = { onCleanup: (fn) => cleanups.push(fn) };
  try {
    for (const s of chosen) {
      try {
        await s.run(ui, ctx);
      } catch (e) {
        ok = false;
        ui.info(red(`section '${s.name}' failed: ${(e as Error).message}`));
      }
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
  }
  ui.section('Summary');
  ui.table([
    ['figure', 'value'],
    ...ui.figures.map(([k, v]) => [k, String(v)]),
    ['total time', `${((performance.now() - t0) / 1000).toFixed(1)} s`],
  ]);
  ui.info(ok ? bold(green('demo completed: every step passed')) : bold(red('demo finished with failures')));
  return { ok, figures: ui.figures };
}
