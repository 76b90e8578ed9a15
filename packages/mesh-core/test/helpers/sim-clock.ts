// A virtual clock that is also the event loop of a simulation: timers and link deliveries are
// events in one heap ordered by (time, insertion), so a run is deterministic and takes no wall time.
import type { Clock } from '../../src/link-layer.js';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  every: number;
  cancelled: boolean;
}

export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  #heap: Event[] = [];
  /** Events run so far. */
  executed = 0;

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now = (): number => this.#now;

  setTimeout = (fn: () => void, ms: number): unknown => this.#push(fn, ms, 0);
  clearTimeout = (h: unknown): void => {
    if (h) (h as Event).cancelled = true;
  };
  setInterval = (fn: () => void, ms: number): unknown => this.#push(fn, ms, Math.max(1, ms));
  clearInterval = (h: unknown): void => {
    if (h) (h as Event).cancelled = true;
  };

  /** Live (not cancelled) events queued. */
  get pending(): number {
    let n = 0;
    for (const e of this.#heap) if (!e.cancelled) n++;
    return n;
  }

  #push(fn: () => void, ms: number, every: number): Event {
    const e: Event = { at: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: this.#seq++, fn, every, cancelled: false };
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p] as Event, e)) break;
      h[i] = h[p] as Event;
      i = p;
    }
    h[i] = e;
    return e;
  }

  #pop(): Event | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let me = last;
        if (l < h.length && less(h[l] as Event, me)) {
          m = l;
          me = h[l] as Event;
        }
        if (r < h.length && less(h[r] as Event, me)) m = r;
        if (m === i) break;
        h[i] = h[m] as Event;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }

  /** Run one event; false when none is due by `until`. */
  step(until = Number.POSITIVE_INFINITY): boolean {
    for (;;) {
      const top = this.#heap[0];
      if (!top || top.at > until) return false;
      this.#pop();
      if (top.cancelled) continue;
      this.#now = Math.max(this.#now, top.at);
      this.executed++;
      if (top.every > 0) {
        top.at = this.#now + top.every;
        top.seq = this.#seq++;
        this.#reinsert(top);
      }
      top.fn();
      return true;
    }
  }

  #reinsert(e: Event): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p] as Event, e)) break;
      h[i] = h[p] as Event;
      i = p;
    }
    h[i] = e;
  }

  /** Advance virtual time by `ms`, running every event due on the way. */
  advance(ms: number): void {
    const until = this.#now + ms;
    while (this.step(until)) {}
    this.#now = Math.max(this.#now, until);
  }

  /**
   * Run events until none is left or `maxMs` of virtual time has passed (intervals never let a
   * simulation go idle). Returns the virtual time spent.
   */
  run(maxMs = 60_000): number {
    const start = this.#now;
    const until = start + maxMs;
    while (this.step(until)) {}
    return this.#now - start;
  }
}

function less(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
