import { describe, expect, it } from 'vitest';
import { ConnectionRateLimiter, DefenseError, InvalidArgumentError, InvalidOptionsError } from '../src/index.js';
import { codeOf, FakeClock } from './clock.js';

function limiter(clock: FakeClock, opts: ConstructorParameters<typeof ConnectionRateLimiter>[0] = {}) {
  return new ConnectionRateLimiter({ now: clock.now, ...opts });
}

describe('ConnectionRateLimiter', () => {
  it('allows up to maxConnectionsPerMinute per IP, then denies with retryAfterMs', () => {
    const clock = new FakeClock(0);
    const rl = limiter(clock, { maxConnectionsPerMinute: 10 });
    for (let i = 0; i < 10; i++) expect(rl.checkConnection('192.0.2.1').allowed).toBe(true);
    const r = rl.checkConnection('192.0.2.1');
    expect(r.allowed).toBe(false);
    expect(r.code).toBe('rate_limited');
    expect(r.retryAfterMs).toBeGreaterThan(0);
    // Another IP is unaffected.
    expect(rl.checkConnection('192.0.2.2').allowed).toBe(true);
  });

  it('slides: the previous window still counts partly, then frees up', () => {
    const clock = new FakeClock(0);
    const rl = limiter(clock, { maxMessagesPerSecond: 10, banThreshold: 1000 });
    for (let i = 0; i < 10; i++) expect(rl.checkMessage('node-a').allowed).toBe(true);
    clock.advance(1000); // start of next window: previous weight 1.0
    expect(rl.checkMessage('node-a').allowed).toBe(false);
    clock.advance(500); // previous weight 0.5 -> estimate 5
    let allowed = 0;
    for (let i = 0; i < 10; i++) if (rl.checkMessage('node-a').allowed) allowed++;
    expect(allowed).toBe(5);
    clock.advance(2000); // idle two windows: all free
    for (let i = 0; i < 10; i++) expect(rl.checkMessage('node-a').allowed).toBe(true);
  });

  it('a denied check becomes allowed after its retryAfterMs', () => {
    const clock = new FakeClock(12_345);
    const rl = limiter(clock, { maxHandshakesPerMinute: 5, banThreshold: 1000 });
    for (let i = 0; i < 5; i++) rl.checkHandshake('198.51.100.7');
    const r = rl.checkHandshake('198.51.100.7');
    expect(r.allowed).toBe(false);
    clock.advance((r.retryAfterMs as number) - 1);
    expect(rl.checkHandshake('198.51.100.7').allowed).toBe(false);
    clock.advance(1);
    expect(rl.checkHandshake('198.51.100.7').allowed).toBe(true);
  });

  it('keeps separate counters per category', () => {
    const clock = new FakeClock(0);
    const rl = limiter(clock, { maxHandshakesPerMinute: 1, maxConnectionsPerMinute: 1, maxGossipPerSecond: 1, maxMessagesPerSecond: 1 });
    expect(rl.checkHandshake('10.0.0.1').allowed).toBe(true);
    expect(rl.checkConnection('10.0.0.1').allowed).toBe(true);
    expect(rl.checkMessage('10.0.0.1').allowed).toBe(true);
    expect(rl.checkGossip('10.0.0.1').allowed).toBe(true);
    expect(rl.checkGossip('10.0.0.1').allowed).toBe(false);
  });

  it('bans after banThreshold violations for banDuration, and the ban expires', () => {
    const clock = new FakeClock(0);
    const rl = limiter(clock, { maxConnectionsPerMinute: 2, banThreshold: 3, banDuration: 300_000 });
    rl.checkConnection('203.0.113.9');
    rl.checkConnection('203.0.113.9');
    expect(rl.checkConnection('203.0.113.9').code).toBe('rate_limited');
    expect(rl.checkConnection('203.0.113.9').code).toBe('rate_limited');
    const third = rl.checkConnection('203.0.113.9');
    expect(third.code).toBe('banned');
    expect(third.retryAfterMs).toBe(300_000);
    expect(rl.isBanned('203.0.113.9')).toBe(true);
    // A ban covers every category for that key.
    expect(rl.checkMessage('203.0.113.9').code).toBe('banned');
    clock.advance(299_999);
    expect(rl.isBanned('203.0.113.9')).toBe(true);
    clock.advance(1);
    expect(rl.isBanned('203.0.113.9')).toBe(false);
    expect(rl.checkConnection('203.0.113.9').allowed).toBe(true);
    expect(rl.getStats().bansIssued).toBe(1);
  });

  it('forgets violations older than violationWindowMs', () => {
    const clock = new FakeClock(0);
    const rl = limiter(clock, { maxConnectionsPerMinute: 1, banThreshold: 2, violationWindowMs: 60_000 });
    rl.checkConnection('203.0.113.1');
    expect(rl.checkConnection('203.0.113.1').code).toBe('rate_limited');
    clock.advance(180_000);
    rl.checkConnection('203.0.113.1');
    expect(rl.checkConnection('203.0.113.1').code).toBe('rate_limited');
  });

  it('ban, unban and manual durations', () => {
    const clock = new FakeClock(0);
    const rl = limiter(clock);
    rl.ban('node-x', 1000);
    expect(rl.isBanned('node-x')).toBe(true);
    expect(rl.checkGossip('node-x').code).toBe('banned');
    rl.unban('node-x');
    expect(rl.isBanned('node-x')).toBe(false);
    expect(rl.checkGossip('node-x').allowed).toBe(true);
    rl.ban('node-y');
    clock.advance(299_999);
    expect(rl.isBanned('node-y')).toBe(true);
    clock.advance(1);
    expect(rl.isBanned('node-y')).toBe(false);
  });

  it('treats IPv4-mapped IPv6 as the IPv4 address', () => {
    const clock = new FakeClock(0);
    const rl = limiter(clock, { maxConnectionsPerMinute: 2 });
    expect(rl.checkConnection('192.0.2.44').allowed).toBe(true);
    expect(rl.checkConnection('::ffff:192.0.2.44').allowed).toBe(true);
    expect(rl.checkConnection('::FFFF:c000:022c').allowed).toBe(false);
    rl.ban('::ffff:192.0.2.45');
    expect(rl.isBanned('192.0.2.45')).toBe(true);
  });

  it('rate-limits IPv6 per /64 by default and per address with ipv6PrefixLength 128', () => {
    const clock = new FakeClock(0);
    const per64 = limiter(clock, { maxConnectionsPerMinute: 1 });
    expect(per64.checkConnection('2001:db8:1:2::1').allowed).toBe(true);
    expect(per64.checkConnection('2001:db8:1:2:ffff::9').allowed).toBe(false);
    expect(per64.checkConnection('2001:db8:1:3::1').allowed).toBe(true);
    const per128 = limiter(clock, { maxConnectionsPerMinute: 1, ipv6PrefixLength: 128 });
    expect(per128.checkConnection('2001:db8:1:2::1').allowed).toBe(true);
    expect(per128.checkConnection('2001:db8:1:2::2').allowed).toBe(true);
    expect(per128.checkConnection('2001:0db8:0001:0002:0000:0000:0000:0001').allowed).toBe(false);
  });

  it('keeps node ids and IPs in separate namespaces', () => {
    const clock = new FakeClock(0);
    const rl = limiter(clock);
    rl.ban('192.0.2.0/24');
    rl.ban('2001:db8:1:2::/64');
    rl.ban('node-192.0.2.1');
    expect(rl.isBanned('192.0.2.1')).toBe(false);
    expect(rl.isBanned('192.0.2.0')).toBe(false);
    expect(rl.isBanned('2001:db8:1:2::1')).toBe(false);
    // A node id spelled as an address is that address (the API takes node ids or IPs).
    rl.ban('2001:db8:1:2::');
    expect(rl.isBanned('2001:db8:1:2:aaaa::1')).toBe(true);
  });

  it('denies invalid keys without tracking them', () => {
    const rl = limiter(new FakeClock(0));
    for (const k of ['', 'x'.repeat(257), undefined, null, 42, {}]) {
      const r = rl.checkMessage(k as string);
      expect(r.allowed).toBe(false);
      expect(r.code).toBe('invalid_key');
    }
    expect(rl.getStats().trackedKeys).toBe(0);
    expect(rl.isBanned(undefined as unknown as string)).toBe(false);
  });

  it('reports stats', () => {
    const rl = limiter(new FakeClock(0), { maxGossipPerSecond: 1 });
    rl.checkGossip('node-a');
    rl.checkGossip('node-a');
    const s = rl.getStats();
    expect(s.allowed.gossip).toBe(1);
    expect(s.denied.gossip).toBe(1);
    expect(s.trackedKeys).toBe(1);
  });

  it('logs bans through an injected logger only', () => {
    const lines: unknown[] = [];
    const rl = limiter(new FakeClock(0), { logger: { warn: (o) => lines.push(o) } });
    rl.ban('node-z');
    expect(lines).toHaveLength(1);
  });

  it('rejects bad options and bad ban arguments with typed errors', () => {
    for (const bad of [
      { maxConnectionsPerMinute: 0 },
      { maxMessagesPerSecond: 1.5 },
      { banThreshold: -1 },
      { banDuration: Number.NaN },
      { maxTrackedKeys: '10' },
      { ipv6PrefixLength: 129 },
      { now: 5 },
      { logger: 'x' },
    ]) {
      expect(() => new ConnectionRateLimiter(bad as never)).toThrow(InvalidOptionsError);
    }
    expect(() => new ConnectionRateLimiter(null as never)).toThrow(DefenseError);
    const rl = new ConnectionRateLimiter();
    expect(() => rl.ban('node-a', 0)).toThrow(InvalidArgumentError);
    expect(() => rl.ban('', 10)).toThrow(InvalidArgumentError);
    expect(codeOf(() => rl.ban('node-a', -5))).toBe('YAK_DEFENSE_INVALID_ARGUMENT');
    expect(rl.isBanned('node-a')).toBe(false);
  });
});
