// Codecs of the gossip layer: the fixed binary layout, the Merkle batch proof, the frames, and the
// bounded dedup cache. Round trips, every malformation, and fuzzing (house rule 5).
import { randomBytes, sha256 } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedMap, DedupCache } from '../src/gossip/bounded.js';
import {
  decodeGraft,
  decodeIhave,
  decodeMessage,
  decodePrune,
  encodeGraft,
  encodeIhave,
  encodeMessage,
  encodePrune,
  headerBytes,
  leafData,
  type MessageFrame,
  messageLeaf,
} from '../src/gossip/codec.js';
import { GOSSIP_DEFAULTS, MAX_FRAME_BYTES, SIGNATURE_BYTES } from '../src/gossip/constants.js';
import { buildTree, leafHash, pathLength, rootFromPath } from '../src/gossip/merkle.js';
import { Reader, Writer } from '../src/gossip/wire.js';
import { fakeNodeId } from './helpers/sim-identities.js';

const ORIGIN = fakeNodeId(1);

describe('wire layout', () => {
  it('round-trips every field type', () => {
    const w = new Writer(1)
      .u8(0xab)
      .u16(0xbeef)
      .u32(0xdeadbeef)
      .u64(Number.MAX_SAFE_INTEGER)
      .str8('node')
      .str16('topic-é')
      .bytes32(Uint8Array.of(1, 2, 3));
    const r = new Reader(w.finish());
    expect(r.u8()).toBe(0xab);
    expect(r.u16()).toBe(0xbeef);
    expect(r.u32()).toBe(0xdeadbeef);
    expect(r.u64()).toBe(Number.MAX_SAFE_INTEGER);
    expect(r.str8()).toBe('node');
    expect(r.str16(100)).toBe('topic-é');
    expect([...r.bytes32(10)]).toEqual([1, 2, 3]);
    expect(() => r.end()).not.toThrow();
  });

  it('refuses unsafe integers and overlong strings when writing', () => {
    expect(() => new Writer().u64(2 ** 53)).toThrow(RangeError);
    expect(() => new Writer().u64(-1)).toThrow(RangeError);
    expect(() => new Writer().str8('x'.repeat(256))).toThrow(RangeError);
  });

  it('rejects u64 values beyond the safe range, truncation and invalid UTF-8', () => {
    const big = new Uint8Array(8).fill(0xff);
    expect(() => new Reader(big).u64()).toThrow();
    expect(() => new Reader(Uint8Array.of(0, 1)).u32()).toThrow();
    expect(() => new Reader(Uint8Array.of(2, 0xc3, 0x28)).str8()).toThrow();
    expect(() => new Reader(Uint8Array.of(1, 2)).end()).toThrow();
  });
});

describe('Merkle batch proof (RFC 9162 section 2.1)', () => {
  const leaves = (n: number) => Array.from({ length: n }, (_, i) => leafHash(Uint8Array.of(i, n)));

  it('every path of every tree size up to 70 leads to the root', () => {
    for (let n = 1; n <= 70; n++) {
      const ls = leaves(n);
      const { root, paths } = buildTree(ls);
      for (let i = 0; i < n; i++) {
        expect(paths[i]).toHaveLength(pathLength(i, n));
        expect(rootFromPath(ls[i] as Uint8Array, i, n, paths[i] as Uint8Array[])).toEqual(root);
      }
    }
  });

  it('matches the RFC 9162 definition for small trees', () => {
    const node = (a: Uint8Array, b: Uint8Array) => sha256(Uint8Array.from([1, ...a, ...b]));
    const [a, b, c] = leaves(3) as [Uint8Array, Uint8Array, Uint8Array];
    expect(buildTree([a]).root).toEqual(a);
    expect(buildTree([a, b]).root).toEqual(node(a, b));
    expect(buildTree([a, b, c]).root).toEqual(node(node(a, b), c));
  });

  it('a path does not verify for another leaf, index or tree size, or when any byte changes', () => {
    const ls = leaves(13);
    const { root, paths } = buildTree(ls);
    const p = paths[5] as Uint8Array[];
    expect(rootFromPath(ls[6] as Uint8Array, 5, 13, p)).not.toEqual(root);
    expect(rootFromPath(ls[5] as Uint8Array, 4, 13, p)).not.toEqual(root);
    // A path fits several tree sizes with the same shape (13 and 14 here), which is why the signed
    // batch header carries the size; a size of another shape does not verify at all.
    expect(rootFromPath(ls[5] as Uint8Array, 5, 14, p)).toEqual(root);
    expect(rootFromPath(ls[5] as Uint8Array, 5, 6, p)).toBeUndefined();
    for (let j = 0; j < p.length; j++) {
      for (const bit of [0, 31]) {
        const q = p.map((x) => x.slice());
        const node = q[j] as Uint8Array;
        node[bit] = (node[bit] as number) ^ 1;
        expect(rootFromPath(ls[5] as Uint8Array, 5, 13, q)).not.toEqual(root);
      }
    }
    expect(rootFromPath(ls[5] as Uint8Array, 13, 13, p)).toBeUndefined();
    expect(rootFromPath(ls[5] as Uint8Array, 5, 13, [...p, new Uint8Array(32)])).toBeUndefined();
    expect(rootFromPath(ls[0] as Uint8Array, 0, 1, [])).toEqual(ls[0]);
    expect(() => buildTree([])).toThrow(RangeError);
  });
});

function sampleFrame(over: Partial<MessageFrame> = {}): MessageFrame {
  const size = 5;
  const index = 3;
  return {
    hops: 2,
    ttl: 32,
    origin: ORIGIN,
    seq: 77,
    ts: 1_700_000_000_123,
    size,
    index,
    path: Array.from({ length: pathLength(index, size) }, (_, i) => new Uint8Array(32).fill(i + 1)),
    topic: 'chat',
    payload: Uint8Array.of(9, 8, 7),
    signature: new Uint8Array(SIGNATURE_BYTES).fill(5),
    record: Uint8Array.of(1, 2, 3, 4),
    ...over,
  };
}

const nodeIdArb = fc.integer({ min: 0, max: 1000 }).map((i) => fakeNodeId(i));
const frameArb: fc.Arbitrary<MessageFrame> = fc
  .record({
    hops: fc.integer({ min: 1, max: 255 }),
    ttl: fc.integer({ min: 1, max: 255 }),
    origin: nodeIdArb,
    seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    ts: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    size: fc.integer({ min: 1, max: GOSSIP_DEFAULTS.maxBatchSize }),
    indexSeed: fc.nat(),
    topic: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    payload: fc.uint8Array({ maxLength: 300 }),
    signature: fc.option(fc.constant(new Uint8Array(SIGNATURE_BYTES).fill(3)), { nil: undefined }),
    record: fc.option(fc.uint8Array({ maxLength: 100 }), { nil: undefined }),
  })
  .map(({ indexSeed, ...f }) => {
    const index = indexSeed % f.size;
    const frame: MessageFrame = {
      ...f,
      index,
      path: Array.from({ length: pathLength(index, f.size) }, () => new Uint8Array(32).fill(index & 0xff)),
    };
    if (frame.topic === undefined) delete frame.topic;
    if (frame.signature === undefined) delete frame.signature;
    if (frame.record === undefined) delete frame.record;
    return frame;
  });

describe('MESSAGE frame', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        const d = decodeMessage(encodeMessage(f));
        expect(d.ok).toBe(true);
        if (d.ok) expect(d.value).toEqual(f);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects every truncation and any trailing byte', () => {
    const bytes = encodeMessage(sampleFrame());
    for (let n = 0; n < bytes.length; n++) expect(decodeMessage(bytes.subarray(0, n)).ok).toBe(false);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(decodeMessage(longer).ok).toBe(false);
  });

  it('rejects bad version, flags, hops, origin, index, path length and oversize payload', () => {
    const good = encodeMessage(sampleFrame());
    const bad = (mut: (b: Uint8Array) => void) => {
      const b = good.slice();
      mut(b);
      return decodeMessage(b).ok;
    };
    expect(bad(() => {})).toBe(true);
    expect(bad((b) => (b[0] = 2))).toBe(false);
    expect(bad((b) => (b[1] = 0x80 | (b[1] as number)))).toBe(false);
    expect(bad((b) => (b[2] = 0))).toBe(false);
    expect(bad((b) => (b[3] = 0))).toBe(false);
    expect(bad((b) => (b[6] = 'X'.charCodeAt(0)))).toBe(false);
    expect(decodeMessage(encodeMessage(sampleFrame({ index: 5 }))).ok).toBe(false);
    expect(decodeMessage(encodeMessage(sampleFrame({ path: [] }))).ok).toBe(false);
    expect(decodeMessage(encodeMessage(sampleFrame({ size: GOSSIP_DEFAULTS.maxBatchSize + 1, index: 0, path: [] }))).ok).toBe(false);
    const big = encodeMessage(sampleFrame({ payload: new Uint8Array(GOSSIP_DEFAULTS.maxPayloadBytes + 1) }));
    expect(decodeMessage(big).ok).toBe(false);
    expect(decodeMessage(big, { maxPayloadBytes: 1 << 20, maxTopicBytes: 256, maxBatchSize: 1024 }).ok).toBe(true);
    expect(decodeMessage('not bytes').ok).toBe(false);
  });

  it('the largest frame gossip can produce fits the link layer’s 64 KiB gossip limit', () => {
    const worst = sampleFrame({
      origin: ORIGIN,
      size: GOSSIP_DEFAULTS.maxBatchSize,
      index: GOSSIP_DEFAULTS.maxBatchSize - 1,
      path: Array.from({ length: pathLength(GOSSIP_DEFAULTS.maxBatchSize - 1, GOSSIP_DEFAULTS.maxBatchSize) }, () => new Uint8Array(32)),
      topic: 'x'.repeat(GOSSIP_DEFAULTS.maxTopicBytes),
      payload: new Uint8Array(GOSSIP_DEFAULTS.maxPayloadBytes),
      record: new Uint8Array(8192),
    });
    expect(encodeMessage(worst).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });

  it('never throws on arbitrary or mutated bytes', () => {
    const good = encodeMessage(sampleFrame());
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        decodeMessage(b);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (pos, x) => {
        const b = good.slice();
        b[pos] = (b[pos] as number) ^ x;
        decodeMessage(b);
      }),
      { numRuns: 500 },
    );
  });

  it('the message id is the RFC 9162 leaf hash of the canonical leaf data', () => {
    const payload = Uint8Array.of(1, 2, 3);
    expect(messageLeaf(ORIGIN, 1, 2, 3, 'tópico', payload)).toEqual(leafHash(leafData(ORIGIN, 1, 2, 3, 'tópico', payload)));
    expect(messageLeaf(ORIGIN, 1, 2, 3, undefined, payload)).toEqual(leafHash(leafData(ORIGIN, 1, 2, 3, undefined, payload)));
  });

  it('leaf data and header are canonical and bind every field', () => {
    const base = () => leafData(ORIGIN, 1, 2, 3, 't', Uint8Array.of(1));
    expect(base()).toEqual(base());
    const variants = [
      leafData(fakeNodeId(2), 1, 2, 3, 't', Uint8Array.of(1)),
      leafData(ORIGIN, 9, 2, 3, 't', Uint8Array.of(1)),
      leafData(ORIGIN, 1, 9, 3, 't', Uint8Array.of(1)),
      leafData(ORIGIN, 1, 2, 9, 't', Uint8Array.of(1)),
      leafData(ORIGIN, 1, 2, 3, undefined, Uint8Array.of(1)),
      leafData(ORIGIN, 1, 2, 3, '', Uint8Array.of(1)),
      leafData(ORIGIN, 1, 2, 3, 't', Uint8Array.of(2)),
    ];
    const seen = new Set([Buffer.from(base()).toString('hex')]);
    for (const v of variants) seen.add(Buffer.from(v).toString('hex'));
    expect(seen.size).toBe(variants.length + 1);
    const root = new Uint8Array(32);
    const h = headerBytes('yakmesh', ORIGIN, 1, 2, 3, 4, root);
    expect(headerBytes('other', ORIGIN, 1, 2, 3, 4, root)).not.toEqual(h);
    expect(headerBytes('yakmesh', ORIGIN, 1, 2, 3, 5, root)).not.toEqual(h);
  });
});

describe('IHAVE, GRAFT and PRUNE frames', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 40,
        }),
        (items) => {
          const ann = items.map(([id, hops]) => ({ id, hops }));
          const d = decodeIhave(encodeIhave(ann));
          expect(d.ok && d.value).toEqual(ann);
        },
      ),
    );
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.boolean(),
        (ids, full, linkOnly) => {
          const d = decodeGraft(encodeGraft({ ids, full, linkOnly }));
          expect(d.ok && d.value).toEqual({ ids, full, linkOnly });
        },
      ),
    );
    const p = decodePrune(encodePrune(ORIGIN));
    expect(p.ok && p.value).toBe(ORIGIN);
  });

  it('enforce id counts, flags and exact lengths', () => {
    expect(decodeIhave(encodeIhave([])).ok).toBe(false);
    const many = Array.from({ length: GOSSIP_DEFAULTS.maxIdsPerFrame + 1 }, () => ({ id: randomBytes(32), hops: 1 }));
    expect(decodeIhave(encodeIhave(many)).ok).toBe(false);
    expect(decodeGraft(encodeGraft({ ids: [], full: false, linkOnly: false })).ok).toBe(false);
    const g = encodeGraft({ ids: [randomBytes(32)], full: false, linkOnly: false });
    g[1] = 4;
    expect(decodeGraft(g).ok).toBe(false);
    expect(decodeIhave(encodeIhave([{ id: randomBytes(32), hops: 1 }]).subarray(0, 20)).ok).toBe(false);
    expect(decodePrune(Uint8Array.of(1, 3, 0x61, 0x62, 0x63)).ok).toBe(false);
    expect(decodePrune(Uint8Array.of(1)).ok).toBe(false);
  });

  it('never throw on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        decodeIhave(b);
        decodeGraft(b);
        decodePrune(b);
      }),
      { numRuns: 500 },
    );
  });
});

describe('bounded containers', () => {
  it('the dedup cache stays within its bound under 100k ids and counts early evictions', () => {
    const d = new DedupCache(10_000);
    for (let i = 0; i < 100_000; i++) d.add(`id-${i}`, 1_000_000, i);
    expect(d.size).toBe(10_000);
    expect(d.evictedEarly).toBe(90_000);
    expect(d.has('id-99999', 0)).toBe(true);
    expect(d.has('id-0', 0)).toBe(false);
  });

  it('dedup entries expire at their deadline and are swept', () => {
    const d = new DedupCache(100);
    d.add('a', 10, 0);
    d.add('b', 20, 0);
    expect(d.has('a', 9)).toBe(true);
    expect(d.has('a', 10)).toBe(false);
    d.sweep(25);
    expect(d.size).toBe(0);
    expect(() => new DedupCache(0)).toThrow(RangeError);
  });

  it('bounded maps evict the oldest entry and can refresh one', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    m.touch('a');
    expect(m.set('c', 3)).toEqual(['b', 2]);
    expect([...m.keys()]).toEqual(['a', 'c']);
    expect(m.evictions).toBe(1);
  });
});
