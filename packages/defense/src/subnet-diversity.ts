// SubnetDiversity (seed 001 "Sybil Defense"; SPEC section 3): at most `maxPerSubnet` live
// connections per IPv4 /24 and per IPv6 /64, so one operator cannot fill a node's peer table
// from a single network. IPv4-mapped IPv6 counts as IPv4.
import { SUBNET_DEFAULTS } from './constants.js';
import { isLoopback, parseIp, prefixKey } from './ip.js';
import { optBool, optInt, readOptions } from './options.js';

/** Stable codes of a refused connection. */
export type SubnetCode = 'invalid_ip' | 'subnet_full' | 'capacity';

/** Result of a subnet check (seed 001 shape `{ allowed, reason }`). */
export interface SubnetResult {
  allowed: boolean;
  code?: SubnetCode;
  reason?: string;
  /** The subnet the address belongs to, e.g. "192.0.2.0/24" (absent for invalid input). */
  subnet?: string;
}

/** Options of {@link SubnetDiversity}; defaults in `SUBNET_DEFAULTS`. */
export interface SubnetDiversityOptions {
  maxPerSubnet?: number;
  ipv4PrefixLength?: number;
  ipv6PrefixLength?: number;
  /** Loopback peers bypass the limit (default true). */
  exemptLoopback?: boolean;
  /** Bound on distinct subnets with live connections; new subnets are refused beyond it. */
  maxSubnets?: number;
}

/**
 * Counts live connections per subnet. `allowConnection` only checks; `addConnection` checks and
 * records atomically (use it when accepting, so two concurrent accepts cannot both pass);
 * `removeConnection` releases one when the connection closes.
 */
export class SubnetDiversity {
  readonly #max: number;
  readonly #v4: number;
  readonly #v6: number;
  readonly #exemptLoopback: boolean;
  readonly #maxSubnets: number;
  readonly #counts = new Map<string, number>();
  #rejected = 0;

  constructor(options?: SubnetDiversityOptions) {
    const C = 'SubnetDiversity';
    const o = readOptions(options, C);
    const d = SUBNET_DEFAULTS;
    this.#max = optInt(o, C, 'maxPerSubnet', d.maxPerSubnet, 1);
    this.#v4 = optInt(o, C, 'ipv4PrefixLength', d.ipv4PrefixLength, 1, 32);
    this.#v6 = optInt(o, C, 'ipv6PrefixLength', d.ipv6PrefixLength, 1, 128);
    this.#exemptLoopback = optBool(o, C, 'exemptLoopback', d.exemptLoopback);
    this.#maxSubnets = optInt(o, C, 'maxSubnets', d.maxSubnets, 1);
  }

  /** The subnet of an address ("a.b.c.0/24", "x:x:x:x::/64"), or undefined when it is not an IP. */
  subnetOf(ip: string): string | undefined {
    const p = parseIp(ip);
    return p ? prefixKey(p, p.version === 4 ? this.#v4 : this.#v6) : undefined;
  }

  /** Whether one more connection from `ip` would be allowed; changes nothing. */
  allowConnection(ip: string): SubnetResult {
    const p = parseIp(ip);
    if (!p) return { allowed: false, code: 'invalid_ip', reason: 'not an IP address' };
    const subnet = prefixKey(p, p.version === 4 ? this.#v4 : this.#v6);
    if (this.#exemptLoopback && isLoopback(p)) return { allowed: true, subnet };
    const n = this.#counts.get(subnet) ?? 0;
    if (n >= this.#max) return { allowed: false, code: 'subnet_full', reason: 'too many connections from this subnet', subnet };
    if (n === 0 && this.#counts.size >= this.#maxSubnets)
      return { allowed: false, code: 'capacity', reason: 'too many subnets tracked', subnet };
    return { allowed: true, subnet };
  }

  /** Checks and, if allowed, counts a connection from `ip`. */
  addConnection(ip: string): SubnetResult {
    const r = this.allowConnection(ip);
    if (!r.allowed) {
      this.#rejected++;
      return r;
    }
    const p = parseIp(ip) as NonNullable<ReturnType<typeof parseIp>>;
    if (this.#exemptLoopback && isLoopback(p)) return r;
    const subnet = r.subnet as string;
    this.#counts.set(subnet, (this.#counts.get(subnet) ?? 0) + 1);
    return r;
  }

  /** Releases a connection counted by `addConnection`; false when none was counted for that subnet. */
  removeConnection(ip: string): boolean {
    const subnet = this.subnetOf(ip);
    if (subnet === undefined) return false;
    const n = this.#counts.get(subnet);
    if (n === undefined) return false;
    if (n <= 1) this.#counts.delete(subnet);
    else this.#counts.set(subnet, n - 1);
    return true;
  }

  /** Live connections counted for the subnet of `ip`. */
  countFor(ip: string): number {
    const subnet = this.subnetOf(ip);
    return subnet === undefined ? 0 : (this.#counts.get(subnet) ?? 0);
  }

  getStats(): { subnets: number; connections: number; rejected: number } {
    let connections = 0;
    for (const n of this.#counts.values()) connections += n;
    return { subnets: this.#counts.size, connections, rejected: this.#rejected };
  }
}
