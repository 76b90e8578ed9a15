// Codecs (house rule 5): envelope, payload, message body and chunk encodings round-trip, reject
// truncation, trailing bytes and bad lengths with typed errors, and survive fuzzing.
import { hkdfSync } from 'node:crypto';
import { concatBytes, EncodingError, hybridKem } from '@yak/crypto';
import { FORBIDDEN_KEYS, SafeJsonParser } from '@yak/defense';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveRekeyKeys, deriveSessionKeys, nonceFor, transcriptHash } from '../src/handshake.js';
import {
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  isAnnexEnvelope,
  MalformedEnvelopeError,
  PayloadTooLargeError,
} from '../src/index.js';
import {
  BatchPlaintext,
  chunkParts,
  decodeBatch,
  decodeBody,
  decodeChunk,
  decodePayload,
  encodeBatch,
  encodeBody,
  encodeBodyHead,
  encodePayload,
  InnerKind,
  PayloadType,
  SIG_BYTES,
} from '../src/payload.js';

const X_PK = hybridKem.publicKeyLength;
const X_CT = hybridKem.cipherTextLength;
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

const envelopeArb: fc.Arbitrary<Envelope> = fc.oneof(
  fc.record({
    type: fc.constant('annex:key_exchange' as const),
    sessionId: bytes(16),
    flags: fc.constantFrom(0, 1),
    record: fc.uint8Array({ minLength: 1, maxLength: 300 }),
    ephemeralKey: bytes(X_PK),
  }),
  fc.record({
    type: fc.constant('annex:key_response' as const),
    sessionId: bytes(16),
    flags: fc.constantFrom(0, 1),
    record: fc.uint8Array({ minLength: 1, maxLength: 300 }),
    ctEphemeral: bytes(X_CT),
    ctStatic: bytes(X_CT),
  }),
  fc.record({
    type: fc.constantFrom('annex:encrypted' as const, 'annex:rekey' as const, 'annex:close' as const),
    sessionId: bytes(16),
    epoch: fc.integer({ min: 0, max: 0xffff_ffff }),
    seq: fc.maxSafeNat(),
    flags: fc.constant(0),
    sealed: fc.uint8Array({ minLength: 16, maxLength: 200 }),
  }),
  fc.record({
    type: fc.constant('annex:encrypted' as const),
    sessionId: bytes(16),
    epoch: fc.constant(0),
    seq: fc.constant(0),
    flags: fc.constant(1),
    finish: bytes(X_CT),
    sealed: fc.uint8Array({ minLength: 16, maxLength: 40 }),
  }),
  fc.record({ type: fc.constant('annex:close' as const), notice: fc.constant(true as const), sessionId: bytes(16) }),
);

/** The decoded form without the AEAD header view, for comparison with the input. */
function plain(e: ReturnType<typeof decodeEnvelope>): unknown {
  const { header: _h, ...rest } = e as typeof e & { header?: Uint8Array };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) out[k] = v instanceof Uint8Array ? Uint8Array.from(v) : v;
  return out;
}

describe('envelope codec', () => {
  it('round-trips every envelope type', () => {
    fc.assert(
      fc.property(envelopeArb, (env) => {
        const enc = encodeEnvelope(env);
        expect(isAnnexEnvelope(enc)).toBe(true);
        expect(plain(decodeEnvelope(enc))).toEqual(env);
        expect(encodeEnvelope(decodeEnvelope(enc) as Envelope)).toEqual(enc);
      }),
      { numRuns: 150 },
    );
  });

  it('rejects every truncation and trailing bytes of handshake envelopes', () => {
    fc.assert(
      fc.property(
        envelopeArb.filter((e) => e.type === 'annex:key_exchange' || e.type === 'annex:key_response'),
        (env) => {
          const enc = encodeEnvelope(env);
          for (const n of [0, 4, 5, 21, 22, enc.length - 1])
            expect(() => decodeEnvelope(enc.subarray(0, n))).toThrow(MalformedEnvelopeError);
          expect(() => decodeEnvelope(Uint8Array.of(...enc, 0))).toThrow(MalformedEnvelopeError);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('decoding arbitrary bytes either succeeds or throws MalformedEnvelopeError', () => {
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 2600 }),
      fc
        .tuple(fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: 2600 }))
        .map(([t, r]) => Uint8Array.of(0x59, 0x41, 0x58, 1, t, ...r)),
    );
    fc.assert(
      fc.property(arb, (b) => {
        try {
          decodeEnvelope(b);
        } catch (e) {
          expect(e).toBeInstanceOf(MalformedEnvelopeError);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('flips of the flags byte, unknown types and a foreign version are malformed', () => {
    const env = encodeEnvelope({
      type: 'annex:rekey',
      sessionId: new Uint8Array(16),
      epoch: 1,
      seq: 2,
      flags: 0,
      sealed: new Uint8Array(16),
    });
    for (const [i, v] of [
      [3, 2],
      [4, 0],
      [4, 6],
      [33, 1],
      [33, 0x80],
    ] as const) {
      const t = env.slice();
      t[i] = v;
      expect(() => decodeEnvelope(t)).toThrow(MalformedEnvelopeError);
    }
    expect(() => decodeEnvelope(env, env.length - 1)).toThrow(MalformedEnvelopeError);
    const seqTooBig = env.slice();
    seqTooBig[25] = 0x00;
    seqTooBig[26] = 0x20;
    expect(() => decodeEnvelope(seqTooBig)).toThrow(MalformedEnvelopeError);
  });

  it('encode checks types and lengths with TypeError and RangeError', () => {
    const ok = { type: 'annex:encrypted' as const, sessionId: new Uint8Array(16), epoch: 0, seq: 0, flags: 0, sealed: new Uint8Array(16) };
    expect(() => encodeEnvelope({ ...ok, sessionId: new Uint8Array(15) })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...ok, sessionId: 'x' as never })).toThrow(TypeError);
    expect(() => encodeEnvelope({ ...ok, sealed: new Uint8Array(15) })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...ok, seq: -1 })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...ok, epoch: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...ok, flags: 1 })).toThrow(RangeError);
    expect(() => encodeEnvelope({ ...ok, type: 'annex:nope' as never })).toThrow(TypeError);
    expect(() =>
      encodeEnvelope({
        type: 'annex:key_exchange',
        sessionId: new Uint8Array(16),
        flags: 0,
        record: new Uint8Array(9000),
        ephemeralKey: new Uint8Array(X_PK),
      }),
    ).toThrow(RangeError);
    expect(() => decodeEnvelope('YAX' as never)).toThrow(TypeError);
  });
});

describe('payload, body and chunk codecs', () => {
  const json = new SafeJsonParser({ maxSize: 1 << 20, maxStringLength: 1 << 20 });

  it('round-trips bytes, strings and JSON values', () => {
    const values = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      // JSON payloads go through the safe parser, which drops prototype-reaching keys (annex.md
      // section 5.2; checked below): values carrying any of them as a key cannot round-trip.
      fc.jsonValue({ maxDepth: 4 }).filter((v) => !FORBIDDEN_KEYS.some((k) => JSON.stringify(v).includes(`"${k}":`))),
    );
    fc.assert(
      fc.property(values, (v) => {
        const e = encodePayload(v, 1 << 20);
        const d = decodePayload(e.type, e.bytes, json);
        if (v instanceof Uint8Array) expect(d).toEqual(v);
        else if (typeof v === 'string') expect(d).toBe(v);
        else expect(d).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });

  it('JSON payloads lose __proto__, constructor and prototype keys at any depth, and nothing else', () => {
    const e = encodePayload({ a: 1, constructor: 2, prototype: { x: 1 }, b: [{ c: 3, __proto__: { polluted: true } }] }, 1 << 20);
    // The literal above sets the prototype instead of a key; put the key in the JSON text itself.
    const text = new TextDecoder().decode(e.bytes).replace('"c":3', '"c":3,"__proto__":{"polluted":true}');
    const d = decodePayload(e.type, new TextEncoder().encode(text), json) as Record<string, unknown>;
    expect(d).toEqual({ a: 1, b: [{ c: 3 }] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses oversized payloads and bad values; malformed encodings decode to undefined', () => {
    expect(() => encodePayload(new Uint8Array(11), 10)).toThrow(PayloadTooLargeError);
    expect(() => encodePayload('é'.repeat(6), 10)).toThrow(PayloadTooLargeError);
    expect(() => encodePayload({ a: 'x'.repeat(20) }, 10)).toThrow(PayloadTooLargeError);
    expect(() => encodePayload(undefined, 10)).toThrow(TypeError);
    expect(() => encodePayload(10n, 10)).toThrow(TypeError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodePayload(cyclic, 100)).toThrow(TypeError);
    expect(decodePayload(PayloadType.STRING, Uint8Array.of(0xff), json)).toBeUndefined();
    expect(decodePayload(PayloadType.JSON, new TextEncoder().encode('{"a":'), json)).toBeUndefined();
    expect(decodePayload(9, new Uint8Array(1), json)).toBeUndefined();
    expect(decodePayload(PayloadType.JSON, new TextEncoder().encode('{"__proto__":{"x":1},"ok":1}'), json)).toEqual({ ok: 1 });
  });

  it('bodies and chunks round-trip and reassemble', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 5000 }),
        fc.boolean(),
        fc.integer({ min: 64, max: 2000 }),
        fc.nat({ max: 2 ** 40 }),
        (payload, signed, chunk, ts) => {
          const body = {
            timestamp: ts,
            type: PayloadType.BYTES,
            payload,
            ...(signed ? { signature: new Uint8Array(SIG_BYTES).fill(7) } : {}),
          };
          const enc = encodeBody(body, 0);
          const head = encodeBodyHead(body, 0);
          expect(concatBytes(head, payload)).toEqual(enc);
          const dec = decodeBody(enc);
          expect(dec.timestamp).toBe(ts);
          expect(Uint8Array.from(dec.payload)).toEqual(payload);
          expect(dec.signature !== undefined).toBe(signed);
          if (enc.length <= chunk) return;
          // Chunked from the head and payload as separate parts (the send path), never joined.
          const plaintexts = chunkParts([head, payload], chunk, 7);
          expect(plaintexts.every((p) => p.reduce((n, x) => n + x.length, 0) <= 17 + chunk)).toBe(true);
          const parts = plaintexts.map((p) => decodeChunk(concatBytes(...p)));
          expect(parts.every((p) => p.header.messageId === 7 && p.header.count === parts.length && p.header.total === enc.length)).toBe(
            true,
          );
          const joined = Uint8Array.from(parts.flatMap((p) => [...p.data]));
          expect(joined).toEqual(enc);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('batches round-trip; malformed batches are rejected', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { minLength: 2, maxLength: 40 }), (bodies) => {
        expect(decodeBatch(encodeBatch(bodies)).map((b) => Uint8Array.from(b))).toEqual(bodies);
      }),
      { numRuns: 100 },
    );
    expect(() => encodeBatch([new Uint8Array(1)])).toThrow(RangeError);
    const ok = encodeBatch([Uint8Array.of(1), Uint8Array.of(2, 3)]);
    expect(() => decodeBatch(ok.subarray(0, ok.length - 1))).toThrow();
    expect(() => decodeBatch(Uint8Array.of(...ok, 0))).toThrow();
    const one = ok.slice();
    one[2] = 1;
    expect(() => decodeBatch(one)).toThrow();
    const long = ok.slice();
    long[6] = 200;
    expect(() => decodeBatch(long)).toThrow();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          decodeBatch(Uint8Array.of(4, ...b));
        } catch (e) {
          expect(e).toBeInstanceOf(EncodingError);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('builds batch plaintexts in place, byte for byte as encodeBatch (or DATA for one body)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ payload: fc.uint8Array({ maxLength: 3000 }), signed: fc.boolean(), ts: fc.nat({ max: 2 ** 40 }) }), {
          minLength: 1,
          maxLength: 12,
        }),
        (items) => {
          const bodies = items.map((it) => ({
            timestamp: it.ts,
            type: PayloadType.BYTES,
            payload: it.payload,
            ...(it.signed ? { signature: new Uint8Array(SIG_BYTES).fill(3) } : {}),
          }));
          const first = (bodies[0] as (typeof bodies)[number]).payload.length;
          const batch = new BatchPlaintext(first, 1 << 20);
          for (const b of bodies) batch.add(b);
          const encoded = bodies.map((b) => encodeBody(b, 0));
          const pt = concatBytes(...batch.parts());
          expect(batch.count).toBe(bodies.length);
          expect(batch.bytes).toBe(3 + encoded.reduce((n, e) => n + 4 + e.length, 0));
          if (bodies.length === 1) expect(pt).toEqual(concatBytes(Uint8Array.of(InnerKind.DATA), encoded[0] as Uint8Array));
          else expect(pt).toEqual(encodeBatch(encoded));
        },
      ),
      { numRuns: 100 },
    );
    const b = new BatchPlaintext(10, 100);
    expect(b.fits(93)).toBe(true);
    expect(b.fits(94)).toBe(false);
  });

  it('rejects malformed bodies and chunk headers', () => {
    expect(() => decodeBody(new Uint8Array(5))).toThrow();
    const b = encodeBody({ timestamp: 1, type: 0, payload: new Uint8Array(3) }, 0);
    b[8] = 7;
    expect(() => decodeBody(b)).toThrow();
    const c = encodeBody({ timestamp: 1, type: 0, payload: new Uint8Array(3) }, 0);
    c[10] = 5;
    expect(() => decodeBody(c)).toThrow();
    const chunk = concatBytes(...(chunkParts([new Uint8Array(300)], 100, 1)[0] as Uint8Array[]));
    const badIndex = chunk.slice();
    badIndex[8] = 9;
    expect(() => decodeChunk(badIndex)).toThrow();
    expect(() => decodeChunk(chunk.subarray(0, 17))).toThrow();
  });
});

describe('key schedule', () => {
  const s = (v: number) => new Uint8Array(32).fill(v);

  it('directional keys and the chain key differ, and every input changes them', () => {
    const th = transcriptHash(Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3));
    const k = deriveSessionKeys(s(1), s(2), s(3), th);
    expect(k.i2r).not.toEqual(k.r2i);
    expect(k.chain).not.toEqual(k.i2r);
    const variants = [
      deriveSessionKeys(s(9), s(2), s(3), th),
      deriveSessionKeys(s(1), s(9), s(3), th),
      deriveSessionKeys(s(1), s(2), s(9), th),
      deriveSessionKeys(s(1), s(2), s(3), transcriptHash(Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(4))),
      deriveSessionKeys(s(1), s(2), s(3), transcriptHash(Uint8Array.of(1, 2), new Uint8Array(0), Uint8Array.of(3))),
    ];
    for (const v of variants) expect(v.i2r).not.toEqual(k.i2r);
  });

  it('session keys are HKDF-SHA256(ssE || ssI || ssR, salt = TH, info = label), checked with node:crypto hkdfSync', () => {
    const [a, b, c] = [s(1), s(2), s(3)];
    const ikm = concatBytes(a, b, c);
    const th = transcriptHash(Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3));
    const k = deriveSessionKeys(a, b, c, th);
    const ref = (label: string) => new Uint8Array(hkdfSync('sha256', ikm, th, label, 32));
    expect(k.i2r).toEqual(ref('yak/annex/v1 key i2r'));
    expect(k.r2i).toEqual(ref('yak/annex/v1 key r2i'));
    expect(k.chain).toEqual(ref('yak/annex/v1 chain'));
  });

  it('wipes the shared secrets it consumes', () => {
    const a = s(1);
    const b = s(2);
    const c = s(3);
    deriveSessionKeys(a, b, c, new Uint8Array(32));
    expect([...a, ...b, ...c].every((x) => x === 0)).toBe(true);
  });

  it('rekeyed keys depend on the chain key, the new secret and the epoch', () => {
    const pk = new Uint8Array(X_PK);
    const ct = new Uint8Array(X_CT);
    const sid = new Uint8Array(16);
    const k1 = deriveRekeyKeys(s(5), s(6), sid, 1, pk, ct);
    expect(deriveRekeyKeys(s(5), s(6), sid, 2, pk, ct).i2r).not.toEqual(k1.i2r);
    expect(deriveRekeyKeys(s(4), s(6), sid, 1, pk, ct).i2r).not.toEqual(k1.i2r);
    expect(deriveRekeyKeys(s(5), s(7), sid, 1, pk, ct).i2r).not.toEqual(k1.i2r);
    expect(deriveRekeyKeys(s(5), s(6), sid, 1, pk, ct).i2r).toEqual(k1.i2r);
  });

  it('nonces are epoch || sequence, unique per key', () => {
    expect([...nonceFor(1, 2 ** 40 + 3)]).toEqual([0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 3]);
    const seen = new Set<string>();
    for (let e = 0; e < 4; e++) for (let q = 0; q < 64; q++) seen.add(Buffer.from(nonceFor(e, q)).toString('hex'));
    expect(seen.size).toBe(256);
  });
});
