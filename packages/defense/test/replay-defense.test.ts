import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, NonceRegistry, SequenceTracker, TimestampValidator } from '../src/index.js';
import { FakeClock } from './clock.js';

describe('NonceRegistry', () => {
  it('generates distinct CSPRNG nonces in hex or base64url', () => {
    const b64 = new NonceRegistry();
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(b64.generate());
    expect(seen.size).toBe(1000);
    expect(b64.generate()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new NonceRegistry({ encoding: 'hex', nonceBytes: 32 }).generate()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts a nonce once and rejects its replay', () => {
    const clock = new FakeClock();
    const reg = new NonceRegistry({ now: clock.now });
    const n = reg.generate();
    expect(reg.validate(n)).toEqual({ valid: true });
    const again = reg.validate(n);
    expect(again.valid).toBe(false);
    expect(again.code).toBe('replay');
    clock.advance(3_599_999);
    expect(reg.validate(n).code).toBe('replay');
    expect(reg.getStats().replaysRejected).toBe(2);
  });

  it('forgets nonces after maxAge, and rejects messages older than maxAge when given their timestamp', () => {
    const clock = new FakeClock();
    const reg = new NonceRegistry({ maxAge: 1000, now: clock.now });
    const sentAt = clock.t;
    expect(reg.validate('nonce-0001', sentAt).valid).toBe(true);
    clock.advance(1000);
    expect(reg.size).toBe(1);
    expect(reg.has('nonce-0001')).toBe(false);
    expect(reg.size).toBe(0);
    // Once forgotten, the only safe verdict is by age.
    expect(reg.validate('nonce-0001', sentAt).code).toBe('expired');
    expect(reg.validate('nonce-0001', Number.NaN).code).toBe('malformed');
  });

  it('rejects malformed nonces without recording them', () => {
    const reg = new NonceRegistry();
    for (const n of ['', 'short', 'x'.repeat(129), 'has space!', 'ü'.repeat(10), 123, null, undefined]) {
      expect(reg.validate(n as string).code).toBe('malformed');
    }
    expect(reg.size).toBe(0);
  });

  it('fails closed when full: no live nonce is evicted, new ones are refused until expiry', () => {
    const clock = new FakeClock();
    const reg = new NonceRegistry({ maxSize: 3, maxAge: 10_000, now: clock.now });
    for (const n of ['nonce-aaa', 'nonce-bbb', 'nonce-ccc']) expect(reg.validate(n).valid).toBe(true);
    expect(reg.validate('nonce-ddd').code).toBe('capacity');
    // The attacker's flood did not evict the first nonce: its replay is still caught.
    expect(reg.validate('nonce-aaa').code).toBe('replay');
    clock.advance(10_000);
    expect(reg.validate('nonce-ddd').valid).toBe(true);
    expect(reg.getStats().rejectedFull).toBe(1);
  });

  it('rejects bad options', () => {
    for (const o of [{ maxAge: 0 }, { maxSize: 0 }, { nonceBytes: 4 }, { encoding: 'base32' }, { now: 'x' }]) {
      expect(() => new NonceRegistry(o as never)).toThrow(InvalidOptionsError);
    }
  });
});

describe('TimestampValidator', () => {
  it('accepts [now - maxAge, now + maxFutureSkew] and rejects outside', () => {
    const clock = new FakeClock();
    const tv = new TimestampValidator({ maxAge: 600_000, maxFutureSkew: 5_000, now: clock.now });
    const now = clock.t;
    expect(tv.validate(now).valid).toBe(true);
    expect(tv.validate(now - 600_000).valid).toBe(true);
    expect(tv.validate(now - 600_001).code).toBe('expired');
    expect(tv.validate(now + 5_000).valid).toBe(true);
    expect(tv.validate(now + 5_001).code).toBe('future');
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, '1', null, undefined])
      expect(tv.validate(bad as number).code).toBe('malformed');
    expect(tv.maxAge).toBe(600_000);
  });

  it('uses the seed default of 10 minutes', () => {
    const clock = new FakeClock();
    const tv = new TimestampValidator({ now: clock.now });
    expect(tv.validate(clock.t - 600_000).valid).toBe(true);
    expect(tv.validate(clock.t - 600_001).valid).toBe(false);
  });
});

/** Reference model of the anti-replay window: every accepted number, and the highest. */
class ModelWindow {
  seen = new Set<number>();
  top = -1;
  constructor(readonly w: number) {}
  accept(seq: number): boolean {
    if (seq > this.top) {
      this.top = seq;
      this.seen.add(seq);
      return true;
    }
    if (seq <= this.top - this.w || this.seen.has(seq)) return false;
    this.seen.add(seq);
    return true;
  }
}

describe('SequenceTracker', () => {
  it('defaults to a 2048 window and enforces >= 1024 and multiples of 32', () => {
    expect(new SequenceTracker().windowSize).toBe(2048);
    expect(() => new SequenceTracker({ windowSize: 512 })).toThrow(InvalidOptionsError);
    expect(() => new SequenceTracker({ windowSize: 1030 })).toThrow(InvalidOptionsError);
    expect(new SequenceTracker({ windowSize: 1024 }).windowSize).toBe(1024);
  });

  it('accepts in order, out of order within the window, rejects replays and too-old numbers', () => {
    const t = new SequenceTracker({ windowSize: 1024 });
    expect(t.validate('a', 0).valid).toBe(true);
    expect(t.validate('a', 5).valid).toBe(true);
    expect(t.validate('a', 3).valid).toBe(true);
    expect(t.validate('a', 3).code).toBe('replay');
    expect(t.validate('a', 5).code).toBe('replay');
    expect(t.validate('a', 2000).valid).toBe(true);
    expect(t.validate('a', 976).code).toBe('too_old'); // 2000 - 1024
    expect(t.validate('a', 977).valid).toBe(true);
    expect(t.validate('b', 3).valid).toBe(true); // senders are independent
    expect(t.highest('a')).toBe(2000);
  });

  it('check does not change state; commit records after authentication', () => {
    const t = new SequenceTracker();
    expect(t.check('a', 7).valid).toBe(true);
    expect(t.check('a', 7).valid).toBe(true);
    expect(t.getStats().senders).toBe(0);
    expect(t.commit('a', 7).valid).toBe(true);
    expect(t.check('a', 7).code).toBe('replay');
    expect(t.commit('a', 7).code).toBe('replay');
  });

  it('handles huge jumps and the largest safe integer', () => {
    const t = new SequenceTracker();
    expect(t.validate('a', 1).valid).toBe(true);
    expect(t.validate('a', Number.MAX_SAFE_INTEGER).valid).toBe(true);
    expect(t.validate('a', Number.MAX_SAFE_INTEGER).code).toBe('replay');
    expect(t.validate('a', Number.MAX_SAFE_INTEGER - 1).valid).toBe(true);
    expect(t.validate('a', 1).code).toBe('too_old');
  });

  it('rejects malformed input without state change', () => {
    const t = new SequenceTracker();
    for (const s of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, '1', null])
      expect(t.validate('a', s as number).code).toBe('malformed');
    for (const id of ['', 'x'.repeat(257), 5, null]) expect(t.validate(id as string, 1).code).toBe('malformed');
    expect(t.getStats().senders).toBe(0);
  });

  it('fails closed for new senders when full, and remove() frees a slot', () => {
    const t = new SequenceTracker({ maxSenders: 2 });
    t.validate('a', 1);
    t.validate('b', 1);
    expect(t.validate('c', 1).code).toBe('capacity');
    // Existing senders keep their windows: no replay becomes possible.
    expect(t.validate('a', 1).code).toBe('replay');
    expect(t.remove('a')).toBe(true);
    expect(t.validate('c', 1).valid).toBe(true);
  });

  const op = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 40 }).map((d) => ({ kind: 'fwd' as const, d })) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 1100 }).map((d) => ({ kind: 'back' as const, d })) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 5000 }).map((d) => ({ kind: 'fwd' as const, d })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'replay' as const, d: 0 }) },
  );

  it('matches a reference model of the window (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const t = new SequenceTracker({ windowSize: 1024 });
        const m = new ModelWindow(1024);
        let last = 0;
        for (const o of ops) {
          const seq = o.kind === 'fwd' ? m.top + o.d : o.kind === 'back' ? Math.max(0, m.top - o.d) : last;
          expect(t.validate('s', seq).valid).toBe(m.accept(seq));
          last = seq;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('matches the reference model on dense histories with ring-sized jumps (property)', () => {
    const dense = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 }).map((d) => ({ back: false, d })) },
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 40 }).map((d) => ({ back: true, d })) },
      { weight: 1, arbitrary: fc.integer({ min: 900, max: 6000 }).map((d) => ({ back: false, d })) },
    );
    fc.assert(
      fc.property(fc.array(dense, { minLength: 200, maxLength: 3000 }), (ops) => {
        const t = new SequenceTracker({ windowSize: 1024 });
        const m = new ModelWindow(1024);
        for (const o of ops) {
          const seq = o.back ? Math.max(0, m.top - o.d) : m.top + o.d;
          expect(t.validate('s', seq).valid).toBe(m.accept(seq));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('never accepts the same sequence twice for one sender (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 500 }), (seqs) => {
        const t = new SequenceTracker({ windowSize: 1024 });
        const accepted = new Set<number>();
        for (const s of seqs) {
          if (t.validate('s', s).valid) {
            expect(accepted.has(s)).toBe(false);
            accepted.add(s);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('always accepts a fresh in-order sequence (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (noise, step) => {
          const t = new SequenceTracker();
          for (const s of noise) t.validate('s', s);
          const next = (t.highest('s') ?? -1) + step;
          expect(t.validate('s', next).valid).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('NonceRegistry with message timestamps', () => {
  it('never lets a timestamped nonce be replayed after it is forgotten (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 3000 }),
            skew: fc.integer({ min: -1500, max: 1500 }),
            which: fc.integer({ min: 0, max: 4 }),
          }),
          {
            maxLength: 80,
          },
        ),
        (steps) => {
          const clock = new FakeClock(1_000_000);
          const reg = new NonceRegistry({ maxAge: 1000, now: clock.now });
          const sent = new Map<number, number>();
          const accepted = new Set<number>();
          for (const s of steps) {
            clock.advance(s.dt);
            // Each of five nonces has one fixed timestamp (a replay resends the same message).
            if (!sent.has(s.which)) sent.set(s.which, clock.t + s.skew);
            const ok = reg.validate(`nonce-${s.which}-xx`, sent.get(s.which)).valid;
            if (ok) {
              expect(accepted.has(s.which)).toBe(false);
              accepted.add(s.which);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects timestamps more than maxAge ahead', () => {
    const clock = new FakeClock();
    const reg = new NonceRegistry({ maxAge: 1000, now: clock.now });
    expect(reg.validate('nonce-future', clock.t + 1001).code).toBe('future');
    expect(reg.validate('nonce-future', clock.t + 1000).valid).toBe(true);
    clock.advance(1999);
    expect(reg.validate('nonce-future', clock.t - 999).code).toBe('replay');
  });
});
