import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, type JsonValue, SAFE_JSON_DEFAULTS, SafeJsonParser } from '../src/index.js';

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

function hasForbiddenKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasForbiddenKey);
  if (v !== null && typeof v === 'object') {
    return Object.keys(v).some((k) => FORBIDDEN.has(k) || hasForbiddenKey((v as Record<string, unknown>)[k]));
  }
  return false;
}

/** Every object in the tree has Object.prototype and no forbidden own key. */
function clean(v: unknown): boolean {
  if (Array.isArray(v)) return Object.getPrototypeOf(v) === Array.prototype && v.every(clean);
  if (v !== null && typeof v === 'object') {
    if (Object.getPrototypeOf(v) !== Object.prototype) return false;
    for (const k of FORBIDDEN) if (Object.hasOwn(v, k)) return false;
    return Object.values(v).every(clean);
  }
  return true;
}

function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (v !== null && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

describe('SafeJsonParser', () => {
  const p = new SafeJsonParser();

  it('parses ordinary JSON from strings and UTF-8 bytes', () => {
    const r = p.parse('{"a":[1,2,{"b":"c"}],"d":null,"e":true,"f":-1.5e3}');
    expect(r).toEqual({ success: true, data: { a: [1, 2, { b: 'c' }], d: null, e: true, f: -1500 }, droppedKeys: 0 });
    const b = p.parse(new TextEncoder().encode('{"k":"\u20ac"}'));
    expect(b.success && b.data).toEqual({ k: '€' });
  });

  it('drops __proto__, constructor and prototype keys at any depth', () => {
    const r = p.parse('{"__proto__":{"polluted":1},"a":{"constructor":{"prototype":{"polluted":2}},"ok":1},"b":[{"prototype":3}]}');
    expect(r.success).toBe(true);
    if (!r.success) return;
    expect(r.data).toEqual({ a: { ok: 1 }, b: [{}] });
    expect(r.droppedKeys).toBe(3);
    expect(clean(r.data)).toBe(true);
    // Merging the result cannot reach Object.prototype.
    const target: Record<string, unknown> = {};
    Object.assign(target, r.data);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(target)).toBe(Object.prototype);
  });

  it('keeps values that merely contain the forbidden words', () => {
    const text = '{"note":"__proto__ constructor prototype","list":["__proto__"],"__proto__x":1,"Constructor":2}';
    const r = p.parse(text);
    expect(r.success && r.data).toEqual({ note: '__proto__ constructor prototype', list: ['__proto__'], __proto__x: 1, Constructor: 2 });
  });

  it('rejects syntax errors, invalid UTF-8, non-finite numbers and wrong input types', () => {
    for (const bad of ['', '{', '{"a":}', "{'a':1}", '[1,]', 'NaN', '{"a":1}x', '\uFEFF{}']) {
      const r = p.parse(bad);
      expect(r.success).toBe(false);
    }
    expect(p.parse('1e400')).toMatchObject({ success: false, code: 'invalid_number' });
    expect(p.parse(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({ success: false, code: 'invalid_utf8' });
    for (const x of [null, undefined, 5, {}, [], new ArrayBuffer(2)])
      expect(p.parse(x as never)).toMatchObject({ success: false, code: 'invalid_input' });
  });

  it('enforces the depth limit (boundary) without recursion trouble', () => {
    const d = SAFE_JSON_DEFAULTS.maxDepth;
    expect(p.parse('['.repeat(d) + ']'.repeat(d)).success).toBe(true);
    expect(p.parse('['.repeat(d + 1) + ']'.repeat(d + 1))).toMatchObject({ code: 'too_deep' });
    expect(p.parse('{"a":'.repeat(d + 1) + '1' + '}'.repeat(d + 1))).toMatchObject({ code: 'too_deep' });
    // Brackets inside strings do not count.
    expect(p.parse(JSON.stringify({ s: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[' }))).toMatchObject({ success: true });
    expect(p.parse(JSON.stringify({ s: '\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[' }))).toMatchObject({ success: true });
    // 200k-deep nesting within maxSize fails fast.
    const big = new SafeJsonParser({ maxSize: 1_000_000 });
    expect(big.parse('['.repeat(200_000) + ']'.repeat(200_000))).toMatchObject({ code: 'too_deep' });
  });

  it('enforces array length, key count, string length and size limits', () => {
    const q = new SafeJsonParser({ maxArrayLength: 3, maxKeys: 2, maxStringLength: 5, maxSize: 64 });
    expect(q.parse('[1,2,3]').success).toBe(true);
    expect(q.parse('[1,2,3,4]')).toMatchObject({ code: 'array_too_long' });
    expect(q.parse('{"a":1,"b":2}').success).toBe(true);
    expect(q.parse('{"a":1,"b":2,"c":3}')).toMatchObject({ code: 'too_many_keys' });
    expect(q.parse('"abcde"').success).toBe(true);
    expect(q.parse('"abcdef"')).toMatchObject({ code: 'string_too_long' });
    expect(q.parse('{"abcdef":1}')).toMatchObject({ code: 'string_too_long' });
    // Escapes are measured after unescaping: 5 characters in 30 bytes of text.
    expect(q.parse('"\\u0041\\u0041\\u0041\\u0041\\u0041"').success).toBe(true);
    expect(q.parse(`"${'a'.repeat(70)}"`)).toMatchObject({ code: 'too_large' });
    expect(q.parse(new Uint8Array(65))).toMatchObject({ code: 'too_large' });
    // Size counts UTF-8 bytes: 22 euro signs are 66 bytes.
    expect(q.parse(`"${'€'.repeat(22)}"`)).toMatchObject({ code: 'too_large' });
    const zero = new SafeJsonParser({ maxArrayLength: 0 });
    expect(zero.parse('[]').success).toBe(true);
    expect(zero.parse('[1]')).toMatchObject({ code: 'array_too_long' });
  });

  it('rejects huge arrays and strings with default limits', () => {
    expect(p.parse(`[${'1,'.repeat(20_000)}1]`)).toMatchObject({ code: 'array_too_long' });
    expect(p.parse(`{${Array.from({ length: 1_500 }, (_, i) => `"k${i}":1`).join(',')}}`)).toMatchObject({ code: 'too_many_keys' });
    expect(p.parse(`"${'x'.repeat(600_000)}"`)).toMatchObject({ code: 'too_large' });
  });

  it('rejects bad options', () => {
    for (const o of [{ maxDepth: 0 }, { maxDepth: 1001 }, { maxSize: 0 }, { maxKeys: -1 }, { maxStringLength: 'x' }]) {
      expect(() => new SafeJsonParser(o as never)).toThrow(InvalidOptionsError);
    }
  });

  it('never throws and never yields a polluted or forbidden-keyed object (property)', () => {
    const fragments = fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"',
      '\\',
      '"__proto__"',
      '"constructor"',
      '"prototype"',
      '1',
      'null',
      ' ',
      'e9',
      '"a"',
    );
    const soup = fc.array(fragments, { maxLength: 60 }).map((xs) => xs.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), soup, fc.json(), fc.uint8Array()), (raw) => {
        const r = p.parse(raw);
        if (r.success) expect(clean(r.data)).toBe(true);
        else expect(typeof r.code).toBe('string');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = p.parse(JSON.stringify(v));
        if (r.success) expect(clean(r.data)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips JSON.stringify of safe values within limits (property)', () => {
    const safe = fc.jsonValue({ maxDepth: 6 }).filter((v) => !hasForbiddenKey(v) && depthOf(v) <= SAFE_JSON_DEFAULTS.maxDepth);
    fc.assert(
      fc.property(safe, (v) => {
        const text = JSON.stringify(v);
        const r = p.parse(text);
        expect(r.success).toBe(true);
        if (r.success) {
          expect(r.data).toEqual(JSON.parse(text) as JsonValue);
          expect(r.droppedKeys).toBe(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});
