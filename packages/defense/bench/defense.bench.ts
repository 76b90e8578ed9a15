// @yak/defense benchmarks: each candidate against a naive baseline measured in the same run
// (SPEC section 4). Run with `node ../../tools/bench/run.mjs` from packages/defense.

import { ConnectionRateLimiter, SafeJsonParser, SequenceTracker } from '@yak/defense';
import { compareOps, record } from '../../../tools/bench/harness.js';

const PKG = '@yak/defense';
const opts = { samples: 5, timeMs: 300, warmupMs: 100 };

// --- SequenceTracker vs a Set of every seen number (pruned when twice the window) ---------------

const W = 2048;

/** Naive anti-replay: a Set of seen numbers with the same window rule. */
class NaiveSetTracker {
  readonly #seen = new Map<string, { set: Set<number>; top: number }>();
  validate(sender: string, seq: number): boolean {
    let s = this.#seen.get(sender);
    if (!s) {
      s = { set: new Set(), top: -1 };
      this.#seen.set(sender, s);
    }
    if (seq <= s.top - W || s.set.has(seq)) return false;
    s.set.add(seq);
    if (seq > s.top) s.top = seq;
    if (s.set.size > 2 * W) for (const x of s.set) if (x <= s.top - W) s.set.delete(x);
    return true;
  }
}

// A mostly in-order stream with reordering up to 64 and occasional duplicates, deterministic.
const JITTER = new Int32Array(4096);
for (let i = 0; i < JITTER.length; i++) JITTER[i] = (i * 2654435761) % 97 < 90 ? (i * 7919) % 64 : -((i * 31) % 5);
function streamAt(i: number): number {
  return Math.max(0, i + (JITTER[i & 4095] as number));
}

{
  const tracker = new SequenceTracker({ windowSize: W });
  const naive = new NaiveSetTracker();
  let i = 0;
  let j = 0;
  let acceptedA = 0;
  let acceptedB = 0;
  const r = compareOps(
    () => {
      if (tracker.validate('node-a', streamAt(i++)).valid) acceptedA++;
    },
    () => {
      if (naive.validate('node-a', streamAt(j++))) acceptedB++;
    },
    opts,
  );
  if (acceptedA === 0 || acceptedB === 0) throw new Error('benchmark stream accepted nothing');
  record({
    package: PKG,
    name: 'SequenceTracker.validate (RFC 6479 window 2048)',
    unit: 'ops/s',
    value: r.candidate,
    baseline: 'naive Set of seen sequence numbers',
    baselineValue: r.baseline,
    notes: 'memory per sender: 512-byte ring bitmap vs a Set of up to 4096 numbers',
  });
}

// --- ConnectionRateLimiter.checkMessage vs an array of timestamps per key filtered each call ------

const KEYS = Array.from({ length: 1000 }, (_, i) => `node-${i.toString(36).padStart(6, '0')}`);

/** Naive limiter: every event's timestamp kept per key, filtered to the window on each call. */
class NaiveLimiter {
  readonly #log = new Map<string, number[]>();
  constructor(
    readonly max: number,
    readonly windowMs: number,
    readonly now: () => number,
  ) {}
  checkMessage(key: string): boolean {
    const t = this.now();
    const arr = (this.#log.get(key) ?? []).filter((x) => t - x < this.windowMs);
    const ok = arr.length < this.max;
    if (ok) arr.push(t);
    this.#log.set(key, arr);
    return ok;
  }
}

{
  // Simulated time: 20k messages per second over 1000 nodes, 20 per node per second (under 50).
  let tA = 1_700_000_000_000;
  let tB = tA;
  const limiter = new ConnectionRateLimiter({ maxMessagesPerSecond: 50, maxTrackedKeys: 2000, now: () => tA });
  const naive = new NaiveLimiter(50, 1000, () => tB);
  let i = 0;
  let j = 0;
  let deniedA = 0;
  const r = compareOps(
    () => {
      tA += 0.05;
      if (!limiter.checkMessage(KEYS[i++ % 1000] as string).allowed) deniedA++;
    },
    () => {
      tB += 0.05;
      naive.checkMessage(KEYS[j++ % 1000] as string);
    },
    opts,
  );
  record({
    package: PKG,
    name: 'ConnectionRateLimiter.checkMessage (1000 nodes, sliding window)',
    unit: 'ops/s',
    value: r.candidate,
    baseline: 'naive per-key timestamp array, filtered each call',
    baselineValue: r.baseline,
    notes: `denied ${deniedA} (expected 0 at 20 msg/s per node)`,
  });
}

// --- SafeJsonParser vs plain JSON.parse on a 4 KiB gossip message (cost of the limits) -----------

{
  const msg = JSON.stringify({
    type: 'gossip',
    id: 'msg-000001',
    origin: 'node-abcdef',
    timestamp: 1_700_000_000_000,
    payload: { items: Array.from({ length: 40 }, (_, k) => ({ k, name: `item-${k}`, tags: ['a', 'b', 'c'], note: 'x'.repeat(40) })) },
  });
  const parser = new SafeJsonParser();
  const r = compareOps(
    () => parser.parse(msg),
    () => JSON.parse(msg),
    opts,
  );
  record({
    package: PKG,
    name: `SafeJsonParser.parse (${msg.length} B gossip message)`,
    unit: 'ops/s',
    value: r.candidate,
    baseline: 'JSON.parse without limits or key filtering',
    baselineValue: r.baseline,
  });
}
