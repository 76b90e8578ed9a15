// Replay defence for one receive direction (seed 003 "Replay Protection", issue "Replay"):
// a counter window of +-W around the highest authenticated counter plus a seen-set for the
// counters behind it. The seen-set is a ring bitmap of W + 1 bits (RFC 6479's layout, sized to
// the window), so memory is fixed however many messages arrive. `check` never mutates; the
// caller runs `commit` only after the AEAD has authenticated the message (issue: "the window
// only advances after successful authentication").
import { OutOfWindowError, ReplayError } from './errors.js';

export class ReplayWindow {
  /** Highest authenticated counter, -1 before the first message. */
  private high = -1;
  private readonly size: number;
  private readonly bits: Uint8Array;

  /** `window` = W: counters down to high - W are remembered; at most W counters may be skipped ahead. */
  constructor(readonly window: number) {
    this.size = window + 1;
    this.bits = new Uint8Array(Math.ceil(this.size / 8));
  }

  get highest(): number {
    return this.high;
  }

  /** Lowest counter that could still be accepted. */
  lowest(): number {
    return Math.max(0, this.high - this.window);
  }

  /** Rejection for `counter`, or undefined if it may be accepted (pending authentication). */
  check(counter: number): ReplayError | OutOfWindowError | undefined {
    // Ahead: counters high+1 .. high+1+W are acceptable (at most W lost messages in between).
    if (counter > this.high + 1 + this.window) return new OutOfWindowError(`counter ${counter} is too far ahead of the window`);
    if (counter > this.high) return undefined;
    if (counter < this.high - this.window) return new OutOfWindowError(`counter ${counter} is behind the window`);
    return this.has(counter) ? new ReplayError(counter) : undefined;
  }

  /** Record an authenticated counter (must have passed `check`). */
  commit(counter: number): void {
    if (counter > this.high) {
      const advance = counter - this.high;
      if (advance >= this.size) this.bits.fill(0);
      else for (let c = this.high + 1; c <= counter; c++) this.clear(c);
      this.high = counter;
    }
    const i = counter % this.size;
    this.bits[i >> 3] = (this.bits[i >> 3] as number) | (1 << (i & 7));
  }

  private has(counter: number): boolean {
    const i = counter % this.size;
    return ((this.bits[i >> 3] as number) & (1 << (i & 7))) !== 0;
  }

  private clear(counter: number): void {
    const i = counter % this.size;
    this.bits[i >> 3] = (this.bits[i >> 3] as number) & ~(1 << (i & 7));
  }
}
