import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidOptionsError, NAVR, type NavrVerification, ReputationTracker } from '../src/index.js';
import { FakeClock } from './clock.js';

function proofFor(peerId: string, navr = new NAVR({ difficulty: 4 })): NavrVerification {
  const ch = navr.createChallenge(peerId, '192.0.2.10');
  return navr.verify(ch, navr.solve(ch), { peerId, peerAddress: '192.0.2.10' });
}

describe('ReputationTracker', () => {
  it('peers with a verified NAVR proof start normal, unproven ones suspicious', () => {
    const rep = new ReputationTracker({ now: new FakeClock().now });
    expect(rep.registerNode('node-a', proofFor('node-a'))).toBe('normal');
    expect(rep.getScore('node-a')).toBe(50);
    expect(rep.registerNode('node-b')).toBe('suspicious');
    expect(rep.getScore('node-b')).toBe(30);
    expect(rep.getTrustLevel('node-unknown')).toBe('suspicious');
  });

  it('only a real, successful verification for the same peer counts as proof', () => {
    const rep = new ReputationTracker();
    // A look-alike object, another peer's proof and a failed verification do not count.
    expect(rep.registerNode('node-a', Object.freeze({ valid: true, peerId: 'node-a', difficulty: 16 }))).toBe('suspicious');
    expect(rep.registerNode('node-b', proofFor('node-c'))).toBe('suspicious');
    const navr = new NAVR({ difficulty: 4 });
    const ch = navr.createChallenge('node-d', '192.0.2.1');
    // A correct solution presented from another address: fails every time. (A made-up solution
    // such as '00' would pass 1 time in 2^difficulty, which made this test flaky.)
    const failed = navr.verify(ch, navr.solve(ch), { peerId: 'node-d', peerAddress: '192.0.2.99' });
    expect(failed.valid).toBe(false);
    expect(rep.registerNode('node-d', failed)).toBe('suspicious');
    // A raw solution string cannot be checked here, so it is refused loudly.
    expect(() => rep.registerNode('node-e', 'deadbeef' as never)).toThrow(InvalidArgumentError);
    expect(() => rep.registerNode('', undefined)).toThrow(InvalidArgumentError);
  });

  it('good behaviour raises to trusted, bad behaviour lowers to suspicious and banned', () => {
    const rep = new ReputationTracker({ now: new FakeClock().now });
    rep.registerNode('node-a', proofFor('node-a'));
    for (let i = 0; i < 25; i++) rep.reportGoodBehavior('node-a');
    expect(rep.getTrustLevel('node-a')).toBe('trusted');
    rep.reportBadBehavior('node-a', 3);
    expect(rep.getTrustLevel('node-a')).toBe('normal');
    rep.reportBadBehavior('node-a', 3);
    expect(rep.getTrustLevel('node-a')).toBe('suspicious');
    rep.reportBadBehavior('node-a', 10);
    expect(rep.getScore('node-a')).toBe(0);
    expect(rep.getTrustLevel('node-a')).toBe('banned');
    expect(rep.isBanned('node-a')).toBe(true);
  });

  it('scores decay toward the baseline; bans last at least banDuration', () => {
    const clock = new FakeClock();
    const rep = new ReputationTracker({ now: clock.now, decayHalfLifeMs: 3_600_000, banDuration: 3_600_000 });
    rep.registerNode('node-a', proofFor('node-a'));
    for (let i = 0; i < 30; i++) rep.reportGoodBehavior('node-a');
    expect(rep.getScore('node-a')).toBe(80);
    clock.advance(3_600_000);
    expect(rep.getScore('node-a')).toBeCloseTo(65, 6);
    clock.advance(10 * 3_600_000);
    expect(rep.getScore('node-a')).toBeCloseTo(50, 1);

    rep.registerNode('node-b', proofFor('node-b'));
    rep.reportBadBehavior('node-b', 5); // 50 -> 0
    expect(rep.getTrustLevel('node-b')).toBe('banned');
    clock.advance(3_599_999);
    expect(rep.getTrustLevel('node-b')).toBe('banned');
    clock.advance(1);
    // Half the deviation is forgiven after one half-life: 25, suspicious.
    expect(rep.getScore('node-b')).toBeCloseTo(25, 6);
    expect(rep.getTrustLevel('node-b')).toBe('suspicious');
  });

  it('re-registering never resets a score; a later proof lifts the baseline once', () => {
    const rep = new ReputationTracker({ now: new FakeClock().now });
    rep.registerNode('node-a');
    rep.reportBadBehavior('node-a', 1); // 30 -> 20
    expect(rep.registerNode('node-a')).toBe('suspicious');
    expect(rep.getScore('node-a')).toBe(20);
    rep.registerNode('node-a', proofFor('node-a'));
    expect(rep.getScore('node-a')).toBe(40);
    rep.registerNode('node-a', proofFor('node-a'));
    expect(rep.getScore('node-a')).toBe(40);
  });

  it('is bounded and keeps bans when entries are evicted', () => {
    const rep = new ReputationTracker({ maxNodes: 100, now: new FakeClock().now });
    rep.registerNode('node-bad');
    rep.reportBadBehavior('node-bad', 10);
    for (let i = 0; i < 1000; i++) rep.registerNode(`node-${i}`);
    const s = rep.getStats();
    expect(s.nodes).toBe(100);
    expect(s.evictions).toBeGreaterThan(0);
    expect(rep.getTrustLevel('node-bad')).toBe('banned');
  });

  it('validates arguments and options', () => {
    const rep = new ReputationTracker();
    expect(() => rep.reportBadBehavior('node-a', -1)).toThrow(InvalidArgumentError);
    expect(() => rep.reportBadBehavior('node-a', 11)).toThrow(InvalidArgumentError);
    expect(() => rep.reportGoodBehavior('node-a', Number.NaN)).toThrow(InvalidArgumentError);
    expect(rep.getStats().nodes).toBe(0);
    for (const o of [{ trustedThreshold: 20, normalThreshold: 40 }, { neutralScore: 101 }, { decayHalfLifeMs: 0 }, { maxNodes: 0 }]) {
      expect(() => new ReputationTracker(o)).toThrow(InvalidOptionsError);
    }
  });

  it('stats count levels', () => {
    const rep = new ReputationTracker({ now: new FakeClock().now });
    rep.registerNode('node-a', proofFor('node-a'));
    rep.registerNode('node-b');
    expect(rep.getStats().levels).toEqual({ trusted: 0, normal: 1, suspicious: 1, banned: 0 });
    expect(rep.removeNode('node-b')).toBe(true);
  });
});
