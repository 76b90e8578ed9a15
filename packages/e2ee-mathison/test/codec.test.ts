// Handshake message codecs (encode/decode round trips, size limits, fuzzing) and the replay
// window against a naive model.
import { decode, encode } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_HANDSHAKE_MESSAGE_BYTES } from '../src/constants.js';
import {
  decodeFinish,
  decodeInit,
  decodeResponse,
  encodeFinish,
  encodeInit,
  encodeResponse,
  type FinishMessage,
  type InitMessage,
  type ResponseMessage,
} from '../src/handshake.js';
import { HandshakeError, HandshakeMalformedError, OutOfWindowError, ReplayError } from '../src/index.js';
import { ReplayWindow } from '../src/replay.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const mode = fc.constantFrom('classical' as const, 'hybrid' as const);

const initArb = mode.chain((m) =>
  fc.record({
    mode: fc.constant(m),
    aead: fc.constantFrom('aes-256-gcm' as const, 'chacha20-poly1305' as const),
    nonce: bytes(16),
    identity: m === 'hybrid' ? bytes(1984) : bytes(32),
    ephemeral: bytes(32),
    kemPublicKey: m === 'hybrid' ? bytes(1184) : fc.constant(undefined),
  }),
);

const responseArb = (m: 'classical' | 'hybrid') =>
  fc.record({
    nonce: bytes(16),
    identity: m === 'hybrid' ? bytes(1984) : bytes(32),
    ephemeral: bytes(32),
    kemCipherText: m === 'hybrid' ? bytes(1088) : fc.constant(undefined),
    signature: bytes(64),
    pqSignature: m === 'hybrid' ? bytes(3309) : fc.constant(undefined),
    confirm: bytes(32),
  });

const finishArb = (m: 'classical' | 'hybrid') =>
  fc.record({ signature: bytes(64), pqSignature: m === 'hybrid' ? bytes(3309) : fc.constant(undefined), confirm: bytes(32) });

describe('handshake codecs', () => {
  it('round trip (property)', () => {
    fc.assert(
      fc.property(initArb, (msg: InitMessage) => {
        expect(decodeInit(encodeInit(msg))).toEqual(msg);
      }),
      { numRuns: 50 },
    );
    for (const m of ['classical', 'hybrid'] as const) {
      fc.assert(
        fc.property(responseArb(m), finishArb(m), (r: ResponseMessage, f: FinishMessage) => {
          expect(decodeResponse(encodeResponse(r), m)).toEqual(r);
          expect(decodeFinish(encodeFinish(f), m)).toEqual(f);
        }),
        { numRuns: 25 },
      );
    }
  });

  it('encodings are canonical: one message, one string', () => {
    const [msg] = fc.sample(initArb, { numRuns: 1, seed: 3 }) as [InitMessage];
    const s = encodeInit(msg);
    expect(encodeInit(decodeInit(s))).toBe(s);
    expect(() => decodeInit(`${s}=`)).toThrow(HandshakeMalformedError);
    expect(() => decodeInit(s.replace(/-/g, '+'))).toThrow(HandshakeError);
  });

  it('hybrid-only fields must be absent in classical mode and present in hybrid mode', () => {
    const [r] = fc.sample(responseArb('classical'), { numRuns: 1, seed: 4 }) as [ResponseMessage];
    const s = encodeResponse(r);
    expect(() => decodeResponse(s, 'hybrid')).toThrow(HandshakeMalformedError);
    const [h] = fc.sample(responseArb('hybrid'), { numRuns: 1, seed: 5 }) as [ResponseMessage];
    expect(() => decodeResponse(encodeResponse(h), 'classical')).toThrow(HandshakeMalformedError);
  });

  it('rejects unknown and missing fields, wrong types and the wrong message type', () => {
    const [msg] = fc.sample(initArb, { numRuns: 1, seed: 6 }) as [InitMessage];
    const map = decode(Buffer.from(encodeInit(msg), 'base64url')) as Record<string, unknown>;
    const variants: Array<Record<string, unknown>> = [
      { ...map, extra: 1 },
      Object.fromEntries(Object.entries(map).filter(([k]) => k !== 'e')),
      { ...map, e: 'not bytes' },
      { ...map, n: new Uint8Array(15) },
      { ...map, t: 2 },
    ];
    for (const v of variants) {
      const s = Buffer.from(encode(v as never)).toString('base64url');
      expect(() => decodeInit(s)).toThrow(HandshakeMalformedError);
    }
    expect(() => decodeInit(Buffer.from(encode([1, 2, 3])).toString('base64url'))).toThrow(HandshakeMalformedError);
  });

  it('enforces the size limit before decoding', () => {
    const big = Buffer.alloc(MAX_HANDSHAKE_MESSAGE_BYTES + 3).toString('base64url');
    expect(() => decodeInit(big)).toThrow(HandshakeMalformedError);
    expect(() =>
      encodeFinish({ signature: new Uint8Array(MAX_HANDSHAKE_MESSAGE_BYTES), pqSignature: undefined, confirm: new Uint8Array(32) }),
    ).toThrow(RangeError);
  });

  it('arbitrary input only ever raises handshake errors (fuzz)', () => {
    const input = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.anything().map((v) => {
        try {
          return Buffer.from(encode(v as never)).toString('base64url');
        } catch {
          return '';
        }
      }),
    );
    fc.assert(
      fc.property(input, mode, (s, m) => {
        for (const f of [() => decodeInit(s), () => decodeResponse(s, m), () => decodeFinish(s, m)]) {
          try {
            f();
            return false;
          } catch (e) {
            if (!(e instanceof HandshakeError)) return false;
          }
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });
});

describe('ReplayWindow', () => {
  it('matches a naive model of "+-W around the highest accepted, each counter once" (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.nat({ max: 120 }), { maxLength: 200 }), (w, counters) => {
        const win = new ReplayWindow(w);
        const accepted = new Set<number>();
        let high = -1;
        for (const c of counters) {
          let expected: 'ok' | 'replay' | 'window';
          if (c > high + 1 + w || c < high - w) expected = 'window';
          else if (accepted.has(c)) expected = 'replay';
          else expected = 'ok';
          const verdict = win.check(c);
          const got =
            verdict === undefined
              ? 'ok'
              : verdict instanceof ReplayError
                ? 'replay'
                : verdict instanceof OutOfWindowError
                  ? 'window'
                  : 'other';
          if (got !== expected) return false;
          if (got === 'ok') {
            win.commit(c);
            accepted.add(c);
            if (c > high) high = c;
          }
        }
        return win.highest === high;
      }),
      { numRuns: 300 },
    );
  });

  it('check never changes state', () => {
    const win = new ReplayWindow(10);
    win.commit(5);
    for (let i = 0; i < 50; i++) win.check(i);
    expect(win.highest).toBe(5);
    expect(win.check(4)).toBeUndefined();
    expect(win.check(5)).toBeInstanceOf(ReplayError);
  });
});
