// The record layer (link.md section 5) and the binary reader/writer every decoder uses.
import { EncodingError, randomBytes } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RECORD_HEADER, RecordLayer } from '../src/record.js';
import { Reader, readU64, Writer, writeU64 } from '../src/wire.js';

function pair() {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  return { a: new RecordLayer(k1.slice(), k2.slice()), b: new RecordLayer(k2.slice(), k1.slice()) };
}

describe('RecordLayer', () => {
  it('round-trips in both directions with per-direction keys', () => {
    const { a, b } = pair();
    const m = randomBytes(1000);
    expect(b.open(a.seal(m))).toEqual(m);
    expect(a.open(b.seal(m))).toEqual(m);
    // A record sealed by a cannot be opened by a itself (the directions use different keys).
    const { a: c } = pair();
    expect(c.open(a.seal(m))).toBe('auth');
  });

  it('sealParts is the record of the concatenated parts, with the header written in place', () => {
    const { a, b } = pair();
    const { a: a2, b: b2 } = pair();
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }), (parts) => {
        const whole = Buffer.concat(parts);
        const rec = a.sealParts(parts);
        expect(rec.length).toBe(RECORD_HEADER + whole.length + 16);
        expect(rec[0]).toBe(0x10);
        const pt = b.open(rec);
        expect(pt).toBeInstanceOf(Uint8Array);
        expect(Buffer.from(pt as Uint8Array).equals(whole)).toBe(true);
        // The same records sealed whole open identically and the sequence numbers agree.
        expect(Buffer.from(b2.open(a2.seal(whole)) as Uint8Array).equals(whole)).toBe(true);
      }),
      { numRuns: 50 },
    );
    // A tampered multi-part record is refused like any other.
    const rec = a.sealParts([randomBytes(5), randomBytes(70_000)]);
    rec[RECORD_HEADER + 3] = (rec[RECORD_HEADER + 3] as number) ^ 1;
    expect(b.open(rec)).toBe('auth');
  });

  it('never carries plaintext: the payload does not appear in the record', () => {
    const { a } = pair();
    const m = new TextEncoder().encode('a very recognisable plaintext payload');
    const rec = a.seal(m);
    expect(Buffer.from(rec).indexOf(Buffer.from(m))).toBe(-1);
    expect(rec.length).toBe(RECORD_HEADER + m.length + 16);
  });

  it('rejects any flipped bit of any record byte', () => {
    const { a, b } = pair();
    const rec = a.seal(randomBytes(64));
    for (let i = 0; i < rec.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const x = rec.slice();
        x[i] = (x[i] as number) ^ bit;
        const r = b.open(x);
        expect(typeof r === 'string').toBe(true);
      }
    }
    // The untouched record still opens: failures did not move the window.
    expect(b.open(rec)).toBeInstanceOf(Uint8Array);
  });

  it('rejects replays, accepts reordering within the window, rejects records behind it', () => {
    const { a, b } = pair();
    const recs = Array.from({ length: 3000 }, (_, i) => a.seal(Uint8Array.of(i & 0xff)));
    expect(b.open(recs[5] as Uint8Array)).toBeInstanceOf(Uint8Array);
    expect(b.open(recs[5] as Uint8Array)).toBe('replay');
    expect(b.open(recs[3] as Uint8Array)).toBeInstanceOf(Uint8Array);
    expect(b.open(recs[2999] as Uint8Array)).toBeInstanceOf(Uint8Array);
    expect(b.open(recs[4] as Uint8Array)).toBe('old');
    expect(b.open(recs[2999] as Uint8Array)).toBe('replay');
    expect(b.open(recs[2500] as Uint8Array)).toBeInstanceOf(Uint8Array);
  });

  it('rejects truncated, empty and foreign-type input without throwing', () => {
    const { a, b } = pair();
    const rec = a.seal(randomBytes(10));
    expect(b.open(rec.subarray(0, RECORD_HEADER + 15))).toBe('malformed');
    expect(b.open(new Uint8Array(0))).toBe('malformed');
    const x = rec.slice();
    x[0] = 0x01;
    expect(b.open(x)).toBe('malformed');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        expect(typeof b.open(junk)).not.toBe('undefined');
      }),
      { numRuns: 200 },
    );
  });

  it('sequence numbers above 2^53 or the per-key limit are refused', () => {
    const { a, b } = pair();
    const rec = a.seal(new Uint8Array(1));
    const x = rec.slice();
    x.fill(0xff, 1, 9);
    expect(b.open(x)).toBe('exhausted');
  });

  it('zeroes its keys on destroy', () => {
    const send = randomBytes(32);
    const recv = randomBytes(32);
    const r = new RecordLayer(send, recv);
    r.destroy();
    expect(send.every((v) => v === 0)).toBe(true);
    expect(recv.every((v) => v === 0)).toBe(true);
  });
});

describe('Reader / Writer', () => {
  it('round-trips every field type', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 255 }),
        fc.uint8Array({ maxLength: 2000 }),
        (a, b, c, v8, v16) => {
          const buf = new Writer().u8(a).u16(b).u32(c).vec8(v8).vec16(v16).finish();
          const r = new Reader(buf);
          expect(r.u8()).toBe(a);
          expect(r.u16()).toBe(b);
          expect(r.u32()).toBe(c);
          expect(r.vec8(0, 255)).toEqual(v8);
          expect(r.vec16(0, 0xffff)).toEqual(v16);
          r.end();
        },
      ),
    );
  });

  it('rejects truncation, out-of-range lengths and trailing bytes', () => {
    const buf = new Writer().vec8(new Uint8Array(10)).finish();
    expect(() => new Reader(buf.subarray(0, 5)).vec8(0, 255)).toThrow(EncodingError);
    expect(() => new Reader(buf).vec8(0, 9)).toThrow(EncodingError);
    const r = new Reader(Uint8Array.of(1, 2));
    r.u8();
    expect(() => r.end()).toThrow(EncodingError);
    expect(() => new Writer().vec8(new Uint8Array(256))).toThrow(RangeError);
  });

  it('u64 helpers round-trip safe integers and flag larger values', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const b = new Uint8Array(8);
        writeU64(b, 0, n);
        expect(readU64(b, 0)).toBe(n);
      }),
    );
    expect(readU64(new Uint8Array(8).fill(0xff), 0)).toBe(-1);
  });
});
