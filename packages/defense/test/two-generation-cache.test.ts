import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TwoGenerationCache } from '../src/two-generation-cache.js';

describe('TwoGenerationCache (internal)', () => {
  it('never exceeds its capacity and keeps recently used keys (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 50 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 500 }), (cap, keys) => {
        const c = new TwoGenerationCache<number, number>(cap);
        const recent: number[] = [];
        for (const k of keys) {
          if (c.get(k) === undefined) c.set(k, k);
          expect(c.size).toBeLessThanOrEqual(cap);
          recent.push(k);
        }
        // Any of the last floor(cap / 2) distinct keys touched is still present.
        const lastDistinct = [...new Set(recent.reverse())].slice(0, Math.floor(cap / 2));
        for (const k of lastDistinct) expect(c.get(k)).toBe(k);
      }),
      { numRuns: 300 },
    );
  });

  it('set replaces, delete and clear remove', () => {
    const c = new TwoGenerationCache<string, number>(4);
    c.set('a', 1);
    c.set('a', 2);
    expect(c.get('a')).toBe(2);
    c.set('b', 1);
    c.set('c', 1); // rotates: a, b old
    expect(c.get('a')).toBe(2);
    expect(c.delete('b')).toBe(true);
    expect(c.delete('b')).toBe(false);
    c.clear();
    expect(c.size).toBe(0);
  });
});
