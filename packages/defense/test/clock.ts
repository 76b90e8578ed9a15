/** A manual clock for tests (house rule 4: never sleep). */
export class FakeClock {
  t: number;
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Runs `fn`, expecting it to throw an error carrying `code`. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? 'no-code';
  }
  return undefined;
}
