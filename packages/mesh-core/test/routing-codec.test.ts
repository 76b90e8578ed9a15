// Routing frames: round trips, every truncation, malformations, fuzzing; and a router fed fuzzed
// frames of every routing kind never throws and keeps its table bounded.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeData,
  decodeSeqRequest,
  decodeUnreachable,
  decodeUpdate,
  encodeData,
  encodeSeqRequest,
  encodeUnreachable,
  encodeUpdate,
  METRIC_INFINITY,
} from '../src/routing/codec.js';
import { ROUTING_DEFAULTS, ROUTING_KIND } from '../src/routing/constants.js';
import { fakeNodeId } from './helpers/sim-identities.js';
import { connectLine } from './helpers/sim-network.js';
import { APP_KIND, routingSim } from './helpers/sim-routing.js';

const id = fc.integer({ min: 0, max: 5000 }).map((i) => fakeNodeId(i, 'codec'));
const seq = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const samples = () => ({
  update: encodeUpdate([
    { dest: fakeNodeId(1, 'codec'), seq: 5, metric: 2 },
    { dest: fakeNodeId(2, 'codec'), seq: 6, metric: METRIC_INFINITY },
  ]),
  data: encodeData({ ttl: 9, kind: 0x40, src: fakeNodeId(1, 'codec'), dst: fakeNodeId(2, 'codec'), body: Uint8Array.of(1, 2, 3) }),
  unreachable: encodeUnreachable({
    ttl: 4,
    reason: 1,
    reporter: fakeNodeId(3, 'codec'),
    dst: fakeNodeId(1, 'codec'),
    target: fakeNodeId(2, 'codec'),
  }),
  seqRequest: encodeSeqRequest({ dest: fakeNodeId(2, 'codec'), seq: 77, hops: 3 }),
});

const decoders = {
  update: (b: unknown) => decodeUpdate(b),
  data: (b: unknown) => decodeData(b),
  unreachable: (b: unknown) => decodeUnreachable(b),
  seqRequest: (b: unknown) => decodeSeqRequest(b),
} as const;

describe('routing frames', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dest: id, seq, metric: fc.integer({ min: 0, max: 0xffff }) }), { minLength: 1, maxLength: 30 }),
        (adverts) => {
          const d = decodeUpdate(encodeUpdate(adverts));
          expect(d.ok && d.value).toEqual(adverts);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        id,
        id,
        fc.uint8Array({ maxLength: 200 }),
        (ttl, kind, src, dst, body) => {
          const d = decodeData(encodeData({ ttl, kind, src, dst, body }));
          expect(d.ok && d.value).toEqual({ ttl, kind, src, dst, body });
        },
      ),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 255 }), fc.constantFrom(1, 2), id, id, id, (ttl, reason, reporter, dst, target) => {
        const d = decodeUnreachable(encodeUnreachable({ ttl, reason, reporter, dst, target }));
        expect(d.ok && d.value).toEqual({ ttl, reason, reporter, dst, target });
      }),
    );
    fc.assert(
      fc.property(id, seq, fc.integer({ min: 1, max: 255 }), (dest, s, hops) => {
        const d = decodeSeqRequest(encodeSeqRequest({ dest, seq: s, hops }));
        expect(d.ok && d.value).toEqual({ dest, seq: s, hops });
      }),
    );
  });

  it('reject every truncation, trailing bytes and a wrong version', () => {
    const s = samples();
    for (const [name, bytes] of Object.entries(s)) {
      const dec = decoders[name as keyof typeof decoders];
      expect(dec(bytes).ok, name).toBe(true);
      for (let n = 0; n < bytes.length; n++) expect(dec(bytes.subarray(0, n)).ok, `${name} cut at ${n}`).toBe(false);
      expect(dec(Uint8Array.from([...bytes, 0])).ok).toBe(false);
      const v2 = bytes.slice();
      v2[0] = 2;
      expect(dec(v2).ok).toBe(false);
      expect(dec('text').ok).toBe(false);
    }
  });

  it('reject malformed fields', () => {
    expect(decodeUpdate(encodeUpdate([])).ok).toBe(false);
    const many = Array.from({ length: ROUTING_DEFAULTS.maxEntriesPerUpdate + 1 }, (_, i) => ({
      dest: fakeNodeId(i, 'codec'),
      seq: 1,
      metric: 1,
    }));
    expect(decodeUpdate(encodeUpdate(many)).ok).toBe(false);
    expect(decodeUpdate(encodeUpdate([{ dest: 'node-short', seq: 1, metric: 1 }])).ok).toBe(false);
    const zeroTtl = samples().data;
    zeroTtl[1] = 0;
    expect(decodeData(zeroTtl).ok).toBe(false);
    expect(
      decodeData(encodeData({ ttl: 1, kind: 1, src: fakeNodeId(1, 'codec'), dst: fakeNodeId(2, 'codec'), body: new Uint8Array(11) }), 10)
        .ok,
    ).toBe(false);
    const badReason = samples().unreachable;
    badReason[2] = 3;
    expect(decodeUnreachable(badReason).ok).toBe(false);
    expect(decodeSeqRequest(encodeSeqRequest({ dest: fakeNodeId(2, 'codec'), seq: 1, hops: 0 })).ok).toBe(false);
  });

  it('decoders never throw on arbitrary or mutated bytes', () => {
    const s = samples();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        for (const dec of Object.values(decoders)) dec(b);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(s) as (keyof typeof decoders)[])),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (name, pos, x) => {
          const b = s[name].slice();
          b[pos % b.length] = (b[pos % b.length] as number) ^ x;
          decoders[name](b);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('router under fuzzed frames', () => {
  it('never throws, reports bad frames, keeps its table bounded and keeps routing', () => {
    const sim = routingSim(3, { router: { maxRoutes: 64 } });
    connectLine(sim.net, sim.ids);
    sim.clock.advance(200);
    const s = samples();
    const kinds = Object.values(ROUTING_KIND);
    const target = sim.net.link(sim.ids[1] as string);
    fc.assert(
      fc.property(
        fc.constantFrom(...kinds),
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.constantFrom(...Object.values(s)), fc.nat(), fc.integer({ min: 1, max: 255 })).map(([b, p, x]) => {
            const c = b.slice();
            c[p % c.length] = (c[p % c.length] as number) ^ x;
            return c;
          }),
          fc.constantFrom(...Object.values(s)),
        ),
        (kind, body) => {
          expect(() => target.deliver(sim.ids[0] as string, kind, body)).not.toThrow();
        },
      ),
      { numRuns: 600 },
    );
    expect(() => sim.clock.advance(1_000)).not.toThrow();
    expect(sim.router(1).getStats().routes).toBeLessThanOrEqual(64 + 2);
    expect(sim.net.link(sim.ids[1] as string).reports.length).toBeGreaterThan(0);
    sim.router(0).send(sim.ids[2] as string, APP_KIND, Uint8Array.of(1));
    sim.clock.advance(100);
    expect(sim.inbox.get(sim.ids[2] as string)?.length).toBeGreaterThanOrEqual(1);
  });
});
