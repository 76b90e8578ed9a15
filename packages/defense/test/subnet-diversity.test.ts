import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, SubnetDiversity } from '../src/index.js';

describe('SubnetDiversity', () => {
  it('limits IPv4 /24 to maxPerSubnet', () => {
    const s = new SubnetDiversity({ maxPerSubnet: 3 });
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.250']) expect(s.addConnection(ip).allowed).toBe(true);
    const r = s.addConnection('192.0.2.99');
    expect(r).toMatchObject({ allowed: false, code: 'subnet_full', subnet: '192.0.2.0/24' });
    expect(s.allowConnection('192.0.3.1').allowed).toBe(true);
    s.removeConnection('192.0.2.1');
    expect(s.addConnection('192.0.2.99').allowed).toBe(true);
    expect(s.getStats()).toEqual({ subnets: 1, connections: 3, rejected: 1 });
  });

  it('limits IPv6 /64, whatever the spelling', () => {
    const s = new SubnetDiversity({ maxPerSubnet: 2 });
    expect(s.addConnection('2001:db8:aa:bb::1').allowed).toBe(true);
    expect(s.addConnection('2001:0DB8:00AA:00BB:ffff:ffff:ffff:ffff').allowed).toBe(true);
    expect(s.addConnection('2001:db8:aa:bb:1::%eth0')).toMatchObject({ allowed: false, subnet: '2001:db8:aa:bb::/64' });
    expect(s.addConnection('2001:db8:aa:bc::1').allowed).toBe(true);
  });

  it('treats IPv4-mapped IPv6 as IPv4', () => {
    const s = new SubnetDiversity({ maxPerSubnet: 2 });
    expect(s.addConnection('::ffff:198.51.100.1').subnet).toBe('198.51.100.0/24');
    expect(s.addConnection('198.51.100.2').allowed).toBe(true);
    expect(s.addConnection('::ffff:c633:6403').code).toBe('subnet_full');
    expect(s.countFor('198.51.100.77')).toBe(2);
  });

  it('rejects invalid IPs with a reason and changes nothing', () => {
    const s = new SubnetDiversity();
    for (const ip of ['', 'localhost', '1.2.3', '256.1.1.1', '01.2.3.4', '1::2::3', '[::1]', 'fe80::1%', 5, null]) {
      const r = s.addConnection(ip as string);
      expect(r.allowed).toBe(false);
      expect(r.code).toBe('invalid_ip');
      expect(typeof r.reason).toBe('string');
    }
    expect(s.removeConnection('nope')).toBe(false);
    expect(s.getStats().subnets).toBe(0);
  });

  it('exempts loopback by default, optionally not', () => {
    const s = new SubnetDiversity({ maxPerSubnet: 1 });
    for (let i = 0; i < 5; i++) expect(s.addConnection('127.0.0.1').allowed).toBe(true);
    expect(s.addConnection('::1').allowed).toBe(true);
    const strict = new SubnetDiversity({ maxPerSubnet: 1, exemptLoopback: false });
    expect(strict.addConnection('127.0.0.1').allowed).toBe(true);
    expect(strict.addConnection('127.0.0.2').allowed).toBe(false);
  });

  it('bounds distinct subnets', () => {
    const s = new SubnetDiversity({ maxSubnets: 2 });
    expect(s.addConnection('10.0.1.1').allowed).toBe(true);
    expect(s.addConnection('10.0.2.1').allowed).toBe(true);
    expect(s.addConnection('10.0.3.1').code).toBe('capacity');
    expect(s.addConnection('10.0.1.2').allowed).toBe(true);
  });

  it('custom prefix lengths', () => {
    const s = new SubnetDiversity({ maxPerSubnet: 1, ipv4PrefixLength: 16, ipv6PrefixLength: 48 });
    expect(s.subnetOf('10.1.2.3')).toBe('10.1.0.0/16');
    expect(s.subnetOf('2001:db8:1:2::1')).toBe('2001:db8:1::/48');
    expect(s.subnetOf('10.1.2.3/8')).toBeUndefined();
    expect(() => new SubnetDiversity({ ipv4PrefixLength: 33 })).toThrow(InvalidOptionsError);
    expect(() => new SubnetDiversity({ maxPerSubnet: 0 })).toThrow(InvalidOptionsError);
  });
});
