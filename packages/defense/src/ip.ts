// IP address parsing for rate limiting and subnet diversity (SPEC section 3: IPv4 /24, IPv6 /64,
// IPv4-mapped IPv6 handled). Accepts exactly what Node's net.isIP accepts (dotted-quad IPv4
// without leading zeros; RFC 4291 text IPv6 with an optional zone id), so a socket's
// remoteAddress always parses and nothing looser does.

/** A parsed address: 4 or 16 bytes. IPv4-mapped IPv6 (::ffff:a.b.c.d) is returned as IPv4. */
export interface ParsedIp {
  version: 4 | 6;
  bytes: Uint8Array;
}

function parseV4(s: string, out: Uint8Array, at: number): boolean {
  let part = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      // A part is 1-3 digits, no leading zero (an octal reading would differ), at most 255.
      if (digits === 0 || part > 3 || value > 255) return false;
      out[at + part] = value;
      part++;
      digits = 0;
      value = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return false;
      if (++digits > 3) return false;
      value = value * 10 + (c - 48);
    } else return false;
  }
  return part === 4;
}

function hexGroup(g: string): number {
  if (g.length === 0 || g.length > 4) return -1;
  let v = 0;
  for (let i = 0; i < g.length; i++) {
    const c = g.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else return -1;
    v = (v << 4) | d;
  }
  return v;
}

function zoneOk(z: string): boolean {
  if (z.length === 0) return false;
  for (let i = 0; i < z.length; i++) {
    const c = z.charCodeAt(i);
    const ok = (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46;
    if (!ok) return false;
  }
  return true;
}

/** Parses groups into 16-bit words; an IPv4 tail counts as two words. Null on any error. */
function groups(part: string, allowV4Tail: boolean): number[] | null {
  if (part.length === 0) return [];
  const gs = part.split(':');
  const words: number[] = [];
  for (let i = 0; i < gs.length; i++) {
    const g = gs[i] as string;
    if (allowV4Tail && i === gs.length - 1 && g.includes('.')) {
      const b = new Uint8Array(4);
      if (!parseV4(g, b, 0)) return null;
      words.push(((b[0] as number) << 8) | (b[1] as number), ((b[2] as number) << 8) | (b[3] as number));
    } else {
      const v = hexGroup(g);
      if (v < 0) return null;
      words.push(v);
    }
  }
  return words;
}

function parseV6(input: string): Uint8Array | null {
  let s = input;
  const pct = s.indexOf('%');
  if (pct >= 0) {
    if (!zoneOk(s.slice(pct + 1))) return null;
    s = s.slice(0, pct);
  }
  const dbl = s.indexOf('::');
  let words: number[];
  if (dbl < 0) {
    const w = groups(s, true);
    if (w?.length !== 8) return null;
    words = w;
  } else {
    const head = groups(s.slice(0, dbl), false);
    const tail = groups(s.slice(dbl + 2), true);
    // "::" stands for at least one zero group, so at most seven groups are written.
    if (!head || !tail || head.length + tail.length > 7) return null;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = (words[i] as number) >> 8;
    out[2 * i + 1] = (words[i] as number) & 0xff;
  }
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Parses an IP address; undefined when `ip` is not one. Never throws. */
export function parseIp(ip: unknown): ParsedIp | undefined {
  if (typeof ip !== 'string' || ip.length === 0 || ip.length > 100) return undefined;
  // Cheap rejection of node ids and other names: an address starts with a hex digit or ':'.
  const c0 = ip.charCodeAt(0);
  if (!((c0 >= 48 && c0 <= 58) || (c0 >= 97 && c0 <= 102) || (c0 >= 65 && c0 <= 70))) return undefined;
  if (!ip.includes(':')) {
    const b = new Uint8Array(4);
    return parseV4(ip, b, 0) ? { version: 4, bytes: b } : undefined;
  }
  const b = parseV6(ip);
  if (!b) return undefined;
  if (isV4Mapped(b)) return { version: 4, bytes: b.slice(12) };
  return { version: 6, bytes: b };
}

function formatV6(b: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(((b[2 * i] as number) << 8) | (b[2 * i + 1] as number));
  // RFC 5952 section 4.2: compress the longest run (first on a tie) of two or more zero words.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** Canonical text of a parsed address (dotted quad, or RFC 5952 IPv6 without zone). */
export function formatIp(p: ParsedIp): string {
  return p.version === 4 ? Array.from(p.bytes).join('.') : formatV6(p.bytes);
}

/**
 * The canonical form of an IP address: IPv4-mapped IPv6 becomes IPv4, IPv6 is written per
 * RFC 5952 without its zone id. Undefined when `ip` is not an address.
 */
export function normalizeIp(ip: unknown): string | undefined {
  const p = parseIp(ip);
  return p ? formatIp(p) : undefined;
}

/** The first address of the network of `p` under a prefix length, canonical (e.g. "2001:db8::"). */
export function networkAddress(p: ParsedIp, prefixLength: number): string {
  const masked = p.bytes.slice();
  for (let i = 0; i < masked.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLength - 8 * i));
    masked[i] = (masked[i] as number) & ((0xff << (8 - keep)) & 0xff);
  }
  return formatIp({ version: p.version, bytes: masked });
}

/** The network of `p` under a prefix length, as "address/len" (e.g. "192.0.2.0/24", "2001:db8::/64"). */
export function prefixKey(p: ParsedIp, prefixLength: number): string {
  return `${networkAddress(p, prefixLength)}/${prefixLength}`;
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(p: ParsedIp): boolean {
  if (p.version === 4) return p.bytes[0] === 127;
  for (let i = 0; i < 15; i++) if (p.bytes[i] !== 0) return false;
  return p.bytes[15] === 1;
}
