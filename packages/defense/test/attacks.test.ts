// Attack scenarios across the package (SPEC section 4, "Security tests": replay, oversize,
// resource exhaustion, garbage).
import { describe, expect, it } from 'vitest';
import {
  ConnectionRateLimiter,
  MessageValidator,
  NAVR,
  NonceRegistry,
  ReputationTracker,
  SafeJsonParser,
  SequenceTracker,
  SubnetDiversity,
  TimestampValidator,
} from '../src/index.js';
import { FakeClock } from './clock.js';

describe('attack: floods', () => {
  it('a message flood from one node gets it banned, the ban holds, then expires', () => {
    const clock = new FakeClock();
    const rl = new ConnectionRateLimiter({ now: clock.now });
    let allowed = 0;
    let banned = false;
    for (let i = 0; i < 1000; i++) {
      const r = rl.checkMessage('node-flooder');
      if (r.allowed) allowed++;
      if (r.code === 'banned') banned = true;
    }
    expect(allowed).toBe(50);
    expect(banned).toBe(true);
    // Honest traffic from another node is untouched.
    expect(rl.checkMessage('node-honest').allowed).toBe(true);
    clock.advance(299_000);
    expect(rl.checkMessage('node-flooder').code).toBe('banned');
    clock.advance(1_000);
    expect(rl.checkMessage('node-flooder').allowed).toBe(true);
  });

  it('a handshake storm from one IP is cut after 5 per minute and banned', () => {
    const clock = new FakeClock();
    const rl = new ConnectionRateLimiter({ now: clock.now });
    const verdicts = Array.from({ length: 20 }, () => rl.checkHandshake('::ffff:203.0.113.66').code ?? 'ok');
    expect(verdicts.filter((v) => v === 'ok')).toHaveLength(5);
    expect(verdicts).toContain('banned');
    expect(rl.isBanned('203.0.113.66')).toBe(true);
  });

  it('memory stays bounded under connections from 100k distinct IPs', () => {
    const clock = new FakeClock();
    const rl = new ConnectionRateLimiter({ now: clock.now, maxTrackedKeys: 5_000 });
    rl.ban('198.51.100.1');
    for (let i = 0; i < 100_000; i++) {
      rl.checkConnection(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      if (i % 1000 === 0) clock.advance(1);
    }
    const s = rl.getStats();
    expect(s.trackedKeys).toBeLessThanOrEqual(5_000);
    expect(s.evictions).toBeGreaterThanOrEqual(95_000);
    // The churn evicted counters, not the ban.
    expect(rl.isBanned('198.51.100.1')).toBe(true);
  });

  it('memory stays bounded when 100k distinct IPs each get themselves banned', () => {
    const clock = new FakeClock();
    const rl = new ConnectionRateLimiter({ now: clock.now, maxTrackedKeys: 1_000, maxConnectionsPerMinute: 1, banThreshold: 1 });
    for (let i = 0; i < 100_000; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      rl.checkConnection(ip);
      rl.checkConnection(ip);
    }
    const s = rl.getStats();
    expect(s.trackedKeys).toBeLessThanOrEqual(1_000);
    expect(s.bannedKeys).toBeLessThanOrEqual(1_000);
    expect(s.bansIssued).toBe(100_000);
  });

  it('an IPv6 attacker rotating addresses inside one /64 shares one budget', () => {
    const rl = new ConnectionRateLimiter({ now: new FakeClock().now });
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (rl.checkConnection(`2001:db8:dead:beef::${i.toString(16)}`).allowed) allowed++;
    expect(allowed).toBe(10);
  });

  it('a Sybil operator cannot fill the peer table from one subnet', () => {
    const s = new SubnetDiversity({ maxPerSubnet: 3 });
    let ok = 0;
    for (let i = 1; i < 255; i++) if (s.addConnection(`203.0.113.${i}`).allowed) ok++;
    for (let i = 1; i < 255; i++) if (s.addConnection(`::ffff:203.0.113.${i}`).allowed) ok++;
    expect(ok).toBe(3);
  });

  it('NAVR challenge floods keep memory bounded', () => {
    const navr = new NAVR({ maxOutstanding: 1000, difficulty: 4 });
    for (let i = 0; i < 20_000; i++) navr.createChallenge(`node-${i}`, '192.0.2.1');
    expect(navr.getStats().outstanding).toBe(1000);
  });

  it('reputation tracking stays bounded under 100k identities', () => {
    const rep = new ReputationTracker({ maxNodes: 2_000 });
    for (let i = 0; i < 100_000; i++) rep.reportGoodBehavior(`node-${i}`);
    expect(rep.getStats().nodes).toBe(2_000);
  });
});

describe('attack: replay', () => {
  it('a replayed message is caught by nonce, sequence and timestamp layers', () => {
    const clock = new FakeClock();
    const nonces = new NonceRegistry({ now: clock.now });
    const times = new TimestampValidator({ now: clock.now });
    const seqs = new SequenceTracker();
    const msg = { senderId: 'node-a', sequence: 1, nonce: nonces.generate(), timestamp: clock.t };
    const accept = (m: typeof msg) =>
      nonces.validate(m.nonce, m.timestamp).valid && times.validate(m.timestamp).valid && seqs.validate(m.senderId, m.sequence).valid;
    expect(accept(msg)).toBe(true);
    expect(nonces.validate(msg.nonce).code).toBe('replay');
    expect(seqs.validate(msg.senderId, msg.sequence).code).toBe('replay');
    // Much later the nonce is forgotten but the timestamp and sequence still reject it.
    clock.advance(3_600_001);
    expect(nonces.validate(msg.nonce, msg.timestamp).code).toBe('expired');
    expect(times.validate(msg.timestamp).code).toBe('expired');
    expect(accept(msg)).toBe(false);
  });

  it('a nonce flood cannot evict a live nonce to replay it', () => {
    const reg = new NonceRegistry({ maxSize: 1000 });
    const victim = reg.generate();
    expect(reg.validate(victim).valid).toBe(true);
    for (let i = 0; i < 5000; i++) reg.validate(reg.generate());
    expect(reg.validate(victim).code).toBe('replay');
    expect(reg.size).toBe(1000);
  });

  it('a forged frame checked but not committed does not advance the window', () => {
    const t = new SequenceTracker();
    t.validate('node-a', 10);
    // The attacker sends sequence 10_000_000 with a bad tag: check passes, authentication fails, no commit.
    expect(t.check('node-a', 10_000_000).valid).toBe(true);
    expect(t.validate('node-a', 11).valid).toBe(true);
  });
});

describe('attack: hostile JSON', () => {
  const parser = new SafeJsonParser();
  const payloads = [
    '{"__proto__":{"isAdmin":true}}',
    '{"constructor":{"prototype":{"isAdmin":true}}}',
    '{"a":{"__proto__":{"isAdmin":true}}}',
    '[{"__proto__":{"isAdmin":true}}]',
    '{"__proto__":{"__proto__":{"isAdmin":true}}}',
    '{"\\u005f\\u005fproto\\u005f\\u005f":{"isAdmin":true}}',
  ];

  it('prototype pollution payloads are neutralised, also through naive deep merges', () => {
    for (const p of payloads) {
      const r = parser.parse(p);
      expect(r.success).toBe(true);
      if (!r.success) continue;
      const merge = (dst: Record<string, unknown>, src: unknown): void => {
        if (src === null || typeof src !== 'object') return;
        for (const k of Object.keys(src)) {
          const v = (src as Record<string, unknown>)[k];
          if (v && typeof v === 'object') {
            if (!dst[k] || typeof dst[k] !== 'object') dst[k] = {};
            merge(dst[k] as Record<string, unknown>, v);
          } else dst[k] = v;
        }
      };
      merge({}, r.data);
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
      expect((Object.prototype as Record<string, unknown>).isAdmin).toBeUndefined();
    }
  });

  it('deeply nested JSON is refused before JSON.parse sees it', () => {
    const v = new MessageValidator();
    const deep = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
    expect(v.validateRaw(deep, 'data').valid).toBe(true);
    expect(parser.parse(deep)).toMatchObject({ success: false, code: 'too_deep' });
  });

  it('huge arrays and strings are refused', () => {
    const v = new MessageValidator();
    const bigArray = `[${'0,'.repeat(100_000)}0]`;
    expect(v.validateRaw(bigArray, 'gossip').code).toBe('too_large');
    expect(parser.parse(bigArray)).toMatchObject({ success: false, code: 'array_too_long' });
    const bigString = JSON.stringify('x'.repeat(1_000_000));
    expect(v.validateRaw(bigString, 'data').code).toBe('too_large');
    expect(parser.parse(bigString)).toMatchObject({ success: false, code: 'too_large' });
    const small = new SafeJsonParser({ maxStringLength: 1000 });
    expect(small.parse(JSON.stringify({ k: 'x'.repeat(1001) }))).toMatchObject({ success: false, code: 'string_too_long' });
  });

  it('oversized handshakes are refused before parsing', () => {
    const v = new MessageValidator();
    const hello = JSON.stringify({ type: 'hello', nodeId: 'node-a', pad: 'x'.repeat(9000) });
    expect(v.validateRaw(hello, 'handshake').code).toBe('too_large');
    expect(v.validateRaw(new TextEncoder().encode(hello), 'handshake').code).toBe('too_large');
  });
});
