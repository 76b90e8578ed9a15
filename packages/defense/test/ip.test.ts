import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeIp } from '../src/index.js';

describe('normalizeIp', () => {
  it('canonicalises IPv4, IPv6 (RFC 5952) and IPv4-mapped IPv6', () => {
    const cases: Array<[string, string]> = [
      ['192.0.2.1', '192.0.2.1'],
      ['::ffff:192.0.2.1', '192.0.2.1'],
      ['::FFFF:C000:0201', '192.0.2.1'],
      ['0:0:0:0:0:ffff:192.0.2.1', '192.0.2.1'],
      ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::1%eth0', 'fe80::1'],
      ['::192.0.2.1', '::c000:201'],
      ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ];
    for (const [input, out] of cases) expect(normalizeIp(input)).toBe(out);
    for (const bad of [
      '1.2.3.04',
      '1.2.3',
      '1::2::3',
      ':1::',
      '1:2:3:4:5:6:7:8:9',
      'g::1',
      '::ffff:1.2.3.4.5',
      '12345::',
      '',
      ' 1.2.3.4',
    ]) {
      expect(normalizeIp(bad)).toBeUndefined();
    }
  });

  it('accepts exactly what node:net isIP accepts (property)', () => {
    const v6char = fc.constantFrom(...'0123456789abcdefABCDEF:.%'.split(''), 'ffff', '::', '1.2.3.4', '::ffff:', '0');
    const ipish = fc.array(v6char, { maxLength: 20 }).map((xs) => xs.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), ipish, fc.string({ maxLength: 40 })), (s) => {
        expect(normalizeIp(s) !== undefined).toBe(isIP(s) !== 0);
      }),
      { numRuns: 3000 },
    );
  });

  it('normalisation is idempotent and stable across spellings (property)', () => {
    fc.assert(
      fc.property(fc.ipV6(), (s) => {
        const n = normalizeIp(s) as string;
        expect(normalizeIp(n)).toBe(n);
        expect(normalizeIp(s.toUpperCase())).toBe(n);
      }),
      { numRuns: 1000 },
    );
  });
});
