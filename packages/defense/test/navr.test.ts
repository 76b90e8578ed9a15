import { sha256 } from '@yak/crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeNavrChallenge,
  encodeNavrChallenge,
  InvalidArgumentError,
  InvalidOptionsError,
  MalformedInputError,
  NAVR,
  type NavrChallenge,
  PowExhaustedError,
  solveNavrChallenge,
  solveNavrChallengeAsync,
} from '../src/index.js';
import { codeOf, FakeClock } from './clock.js';

const peer = { peerId: 'node-abc', peerAddress: '203.0.113.5' };

function setup(difficulty = 8, opts: Record<string, unknown> = {}) {
  const clock = new FakeClock();
  const navr = new NAVR({ difficulty, now: clock.now, ...opts });
  return { clock, navr };
}

function leadingZeros(h: Uint8Array): number {
  let n = 0;
  for (const b of h) {
    if (b === 0) n += 8;
    else return n + Math.clz32(b) - 24;
  }
  return n;
}

describe('NAVR', () => {
  it('round trip: create, solve, verify once', () => {
    const { navr } = setup(10);
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    expect(ch.difficulty).toBe(10);
    expect(ch.peerAddress).toBe('203.0.113.5');
    const sol = navr.solve(ch);
    // The work is real: SHA-256(challenge bytes || solution) has the leading zero bits.
    const enc = encodeNavrChallenge(ch);
    const bytes = enc.subarray(0, enc.length - 32);
    const sb = Uint8Array.from(Buffer.from(sol, 'hex'));
    const buf = new Uint8Array(bytes.length + sb.length);
    buf.set(bytes);
    buf.set(sb, bytes.length);
    expect(leadingZeros(sha256(buf))).toBeGreaterThanOrEqual(10);
    const r = navr.verify(ch, sol, peer);
    expect(r.valid).toBe(true);
    expect(r.peerId).toBe(peer.peerId);
    expect(Object.isFrozen(r)).toBe(true);
    expect(navr.getStats()).toMatchObject({ issued: 1, verified: 1, outstanding: 0 });
  });

  it('default difficulty is 16 bits and is verified for real', () => {
    const clock = new FakeClock();
    const navr = new NAVR({ now: clock.now });
    expect(navr.difficulty).toBe(16);
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    const sol = solveNavrChallenge(ch);
    expect(navr.verify(ch, sol, peer).valid).toBe(true);
  });

  it('the async solver finds the same solution in slices, yields between them, and obeys its signal and budget', async () => {
    const { navr } = setup(12);
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    const sync = solveNavrChallenge(ch);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    try {
      const sol = await solveNavrChallengeAsync(ch, { sliceIterations: 64 });
      expect(sol).toBe(sync);
      // About 2^12 hashes in slices of 64: the event loop ran in between.
      if (Number.parseInt(sol, 16) > 64 * 8) expect(ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(ticker);
    }
    expect(navr.verify(ch, sync, peer).valid).toBe(true);
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    const hard = setup(40).navr.createChallenge(peer.peerId, peer.peerAddress);
    await expect(solveNavrChallengeAsync(hard, { signal: ac.signal })).rejects.toThrow('stop');
    await expect(solveNavrChallengeAsync(hard, { maxIterations: 100, sliceIterations: 30 })).rejects.toBeInstanceOf(PowExhaustedError);
    await expect(solveNavrChallengeAsync(ch, { sliceIterations: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('rejects a replayed (already used) challenge', () => {
    const { navr } = setup();
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    const sol = navr.solve(ch);
    expect(navr.verify(ch, sol, peer).valid).toBe(true);
    expect(navr.verify(ch, sol, peer).code).toBe('unknown_or_used');
    expect(navr.verify({ ...ch }, sol, peer).code).toBe('unknown_or_used');
  });

  it('rejects an expired challenge', () => {
    const { navr, clock } = setup(8, { challengeTtlMs: 60_000 });
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    const sol = navr.solve(ch);
    clock.advance(60_000);
    expect(navr.verify(ch, sol, peer).code).toBe('expired');
  });

  it('rejects forged challenges: any field changed, or issued by another server', () => {
    const { navr } = setup();
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    const sol = navr.solve(ch);
    const tampered: NavrChallenge[] = [
      { ...ch, expiresAt: ch.expiresAt + 1_000_000 },
      { ...ch, issuedAt: ch.issuedAt + 1 },
      { ...ch, difficulty: 1 },
      { ...ch, serverNonce: navr.createChallenge('x', 'y').serverNonce },
      { ...ch, mac: navr.createChallenge(peer.peerId, peer.peerAddress).mac },
    ];
    for (const t of tampered) expect(navr.verify(t, sol, peer).code).toBe('forged');
    const other = new NAVR({ difficulty: 8 });
    const foreign = other.createChallenge(peer.peerId, peer.peerAddress);
    expect(navr.verify(foreign, navr.solve(foreign), peer).code).toBe('forged');
    // The genuine one still verifies afterwards: forgeries do not consume it.
    expect(navr.verify(ch, sol, peer).valid).toBe(true);
  });

  it('rejects a rebound challenge: other peer id or other address, and a rewritten binding is forged', () => {
    const { navr } = setup();
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    const sol = navr.solve(ch);
    expect(navr.verify(ch, sol, { peerId: 'node-evil', peerAddress: peer.peerAddress }).code).toBe('binding_mismatch');
    expect(navr.verify(ch, sol, { peerId: peer.peerId, peerAddress: '198.51.100.1' }).code).toBe('binding_mismatch');
    expect(navr.verify({ ...ch, peerId: 'node-evil' }, sol, { peerId: 'node-evil', peerAddress: peer.peerAddress }).code).toBe('forged');
    // IPv4-mapped form of the same address is the same binding.
    expect(navr.verify(ch, sol, { peerId: peer.peerId, peerAddress: '::ffff:203.0.113.5' }).valid).toBe(true);
  });

  it('rejects insufficient work (wrong difficulty) and consumes the challenge', () => {
    const { navr } = setup(12);
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    // Find a solution that meets 4 bits but not 12 by solving a copy with lower difficulty bytes.
    let weak = '';
    for (let i = 0; ; i++) {
      const s = i.toString(16).padStart(16, '0');
      const enc = encodeNavrChallenge(ch);
      const bytes = enc.subarray(0, enc.length - 32);
      const buf = new Uint8Array(bytes.length + 8);
      buf.set(bytes);
      buf.set(Buffer.from(s, 'hex'), bytes.length);
      const z = leadingZeros(sha256(buf));
      if (z >= 4 && z < 12) {
        weak = s;
        break;
      }
    }
    expect(navr.verify(ch, weak, peer).code).toBe('insufficient_work');
    expect(navr.verify(ch, navr.solve(ch), peer).code).toBe('unknown_or_used');
  });

  it('per-challenge difficulty override is authenticated', () => {
    const { navr } = setup(8);
    const hard = navr.createChallenge(peer.peerId, peer.peerAddress, { difficulty: 12 });
    expect(hard.difficulty).toBe(12);
    expect(navr.verify(hard, navr.solve(hard), peer).valid).toBe(true);
    expect(() => navr.createChallenge(peer.peerId, peer.peerAddress, { difficulty: 0 })).toThrow(InvalidArgumentError);
    expect(() => navr.createChallenge(peer.peerId, peer.peerAddress, { difficulty: 49 })).toThrow(InvalidArgumentError);
  });

  it('bounds outstanding challenges; a dropped challenge becomes unverifiable (never replayable)', () => {
    const { navr } = setup(4, { maxOutstanding: 3 });
    const first = navr.createChallenge(peer.peerId, peer.peerAddress);
    for (let i = 0; i < 3; i++) navr.createChallenge(`node-${i}`, '192.0.2.1');
    expect(navr.getStats()).toMatchObject({ outstanding: 3, dropped: 1 });
    expect(navr.verify(first, navr.solve(first), peer).code).toBe('unknown_or_used');
  });

  it('expired outstanding challenges are dropped when new ones are issued', () => {
    const { navr, clock } = setup(4, { challengeTtlMs: 1000 });
    for (let i = 0; i < 5; i++) navr.createChallenge(`node-${i}`, '192.0.2.1');
    clock.advance(1000);
    navr.createChallenge('node-new', '192.0.2.1');
    expect(navr.getStats().outstanding).toBe(1);
  });

  it('never throws on malformed challenges or solutions', () => {
    const { navr } = setup(4);
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    const sol = navr.solve(ch);
    const bad: unknown[] = [
      null,
      1,
      'x',
      [],
      {},
      { ...ch, version: 2 },
      { ...ch, difficulty: 99 },
      { ...ch, mac: 'AAAA' },
      { ...ch, serverNonce: '!!' },
    ];
    bad.push({ ...ch, peerId: '' }, { ...ch, issuedAt: -1 }, { ...ch, expiresAt: 1.5 }, { ...ch, peerAddress: 'x'.repeat(600) });
    for (const b of bad) expect(navr.verify(b as NavrChallenge, sol, peer).code).toBe('malformed');
    for (const s of ['', 'abc', 'zz', 'a'.repeat(66), 5, null, new Uint8Array(0), new Uint8Array(33)]) {
      expect(navr.verify(ch, s as string, peer).code).toBe('malformed');
    }
    // The challenge was not consumed by malformed attempts.
    expect(navr.verify(ch, sol, peer).valid).toBe(true);
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (c, s) => {
        expect(navr.verify(c as NavrChallenge, s as string, peer).valid).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts solutions as bytes', () => {
    const { navr } = setup(6);
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    const sol = Uint8Array.from(Buffer.from(navr.solve(ch), 'hex'));
    expect(navr.verify(ch, sol, peer).valid).toBe(true);
  });

  it('throws typed errors for bad local arguments and options', () => {
    const { navr } = setup(4);
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    expect(() => navr.createChallenge('', '1.2.3.4')).toThrow(InvalidArgumentError);
    expect(() => navr.createChallenge('node-a', undefined as never)).toThrow(InvalidArgumentError);
    expect(() => navr.verify(ch, '00', undefined as never)).toThrow(InvalidArgumentError);
    expect(codeOf(() => navr.verify(ch, '00', { peerId: 'a' } as never))).toBe('YAK_DEFENSE_INVALID_ARGUMENT');
    for (const o of [{ difficulty: 0 }, { difficulty: 49 }, { challengeTtlMs: 0 }, { secret: new Uint8Array(16) }, { maxOutstanding: 0 }]) {
      expect(() => new NAVR(o as never)).toThrow(InvalidOptionsError);
    }
    expect(() => solveNavrChallenge({ ...ch, mac: 'x' })).toThrow(MalformedInputError);
    const hard = new NAVR({ difficulty: 40 }).createChallenge('node-a', '192.0.2.1');
    expect(() => solveNavrChallenge(hard, { maxIterations: 100 })).toThrow(PowExhaustedError);
  });

  it('a shared secret lets another instance recognise the MAC but not the one-time state', () => {
    const secret = new Uint8Array(32).fill(7);
    const a = new NAVR({ difficulty: 4, secret });
    const b = new NAVR({ difficulty: 4, secret });
    const ch = a.createChallenge(peer.peerId, peer.peerAddress);
    expect(b.verify(ch, b.solve(ch), peer).code).toBe('unknown_or_used');
  });
});

describe('NAVR challenge codec', () => {
  it('round-trips', () => {
    const { navr } = setup(8);
    for (const [id, addr] of [
      [peer.peerId, peer.peerAddress],
      ['node-ü', '2001:db8::1'],
      ['n', 'host.example:9001'],
    ] as const) {
      const ch = navr.createChallenge(id, addr);
      expect(decodeNavrChallenge(encodeNavrChallenge(ch))).toEqual(ch);
    }
  });

  it('rejects truncated, extended and tampered encodings', () => {
    const { navr } = setup(8);
    const ch = navr.createChallenge(peer.peerId, peer.peerAddress);
    const enc = encodeNavrChallenge(ch);
    for (let n = 0; n < enc.length; n += 7) expect(() => decodeNavrChallenge(enc.subarray(0, n))).toThrow(MalformedInputError);
    const longer = new Uint8Array(enc.length + 1);
    longer.set(enc);
    expect(() => decodeNavrChallenge(longer)).toThrow(MalformedInputError);
    expect(() => decodeNavrChallenge('x' as never)).toThrow(MalformedInputError);
    // Any single flipped byte either fails to decode or fails verification.
    const sol = navr.solve(ch);
    for (let i = 0; i < enc.length; i++) {
      const t = enc.slice();
      t[i] = (t[i] as number) ^ 0x01;
      let decoded: NavrChallenge | undefined;
      try {
        decoded = decodeNavrChallenge(t);
      } catch (e) {
        expect(e).toBeInstanceOf(MalformedInputError);
      }
      if (decoded) expect(navr.verify(decoded, sol, peer).valid).toBe(false);
    }
    expect(navr.verify(decodeNavrChallenge(enc), sol, peer).valid).toBe(true);
  });

  it('decoding arbitrary bytes only ever throws MalformedInputError (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          decodeNavrChallenge(b);
        } catch (e) {
          expect(e).toBeInstanceOf(MalformedInputError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
