// Output for `yak demo`: readable, coloured when stdout is a TTY (and NO_COLOR is unset).
// Each demo section is a function `(ui: DemoUI) => Promise<void>` in this folder, registered in
// ./sections.ts; sections grow with each package.

export interface DemoUI {
  /** Start a section with a heading. */
  section(title: string): void;
  /** A step in progress: prints the label, runs fn, prints ok + elapsed or the failure. */
  step<T>(label: string, fn: () => Promise<T> | T): Promise<T>;
  /** An informational line under the current step. */
  info(text: string): void;
  /** A line reporting that an attack was rejected as it should be. */
  blocked(what: string, why: string): void;
  /** A table (first row is the header). */
  table(rows: Array<Array<string | number>>): void;
  /** Record a summary figure shown at the end. */
  summary(key: string, value: string | number): void;
}

const useColor = process.stdout.isTTY === true && !process.env.NO_COLOR;
const c = (code: string) => (s: string) => (useColor ? `\u001b[${code}m${s}\u001b[0m` : s);
export const bold = c('1');
export const dim = c('2');
export const green = c('32');
export const red = c('31');
export const yellow = c('33');
export const cyan = c('36');

export class ConsoleUI implements DemoUI {
  readonly figures: Array<[string, string | number]> = [];
  failures = 0;
  constructor(
    private readonly out: (s: string) => void = (s) => process.stdout.write(s),
    /** Redraw the pending line in place (only on a terminal). */
    private readonly live = process.stdout.isTTY === true,
  ) {}

  section(title: string): void {
    this.out(`\n${bold(cyan(`== ${title}`))}\n`);
  }

  async step<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
    if (this.live) this.out(`  ${dim('…')} ${label}`);
    const back = this.live ? '\r\u001b[2K' : '';
    const t0 = performance.now();
    try {
      const r = await fn();
      this.out(`${back}  ${green('✔')} ${label} ${dim(`(${(performance.now() - t0).toFixed(1)} ms)`)}\n`);
      return r;
    } catch (e) {
      this.failures++;
      this.out(`${back}  ${red('✘')} ${label}: ${red((e as Error).message)}\n`);
      throw e;
    }
  }

  info(text: string): void {
    this.out(`     ${text}\n`);
  }

  blocked(what: string, why: string): void {
    this.out(`  ${yellow('⛨')} ${what} ${dim('->')} ${green('rejected')} ${dim(`(${why})`)}\n`);
  }

  table(rows: Array<Array<string | number>>): void {
    const cells = rows.map((r) => r.map(String));
    const widths = cells[0]?.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length))) ?? [];
    cells.forEach((r, idx) => {
      const line = r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
      this.out(`     ${idx === 0 ? bold(line) : line}\n`);
    });
  }

  summary(key: string, value: string | number): void {
    this.figures.push([key, value]);
  }
}
