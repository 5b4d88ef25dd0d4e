/**
 * Exact parsers for the common shapes of IP address text, shared by the firewall (which checks 100,000
 * addresses a plan) and the geo lookups: no regular expression (node's isIP compiles a large one on first use,
 * about 5 ms of every start) and no object per address. Both accept exactly what isIP accepts in those shapes
 * (property tests in test/unit/firewall/hostile.test.ts and test/unit/net/geo/ip.test.ts); anything else
 * (an embedded IPv4 tail, a zone) is for the caller to hand to isIP.
 */

/** The 32-bit value of `a.b.c.d`, each 0-255 in decimal without leading zeros (what isIP accepts as IPv4); -1 otherwise. */
export function dottedQuadValue(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let parts = 0;
  let value = 0;
  let digits = 0;
  let out = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || value > 255 || parts === 4) return -1;
      out = out * 256 + value;
      parts++;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return -1; // leading zero
      value = value * 10 + (c - 0x30);
      digits++;
      if (digits > 3) return -1;
    } else return -1;
  }
  return parts === 4 ? out : -1;
}

/**
 * Fills `groups` (8 entries) from an IPv6 address written only with hex groups and at most one `::` (no embedded
 * IPv4, no zone); false when the text is not of that shape or not a valid address (the caller may then ask isIP).
 */
export function hexIpv6Groups(s: string, groups: number[]): boolean {
  const n = s.length;
  if (n < 2 || n > 39) return false;
  let count = 0;
  let gap = -1; // index in groups where `::` stands
  let i = 0;
  if (s.charCodeAt(0) === 0x3a) {
    if (s.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
    if (i === n) {
      groups.fill(0, 0, 8);
      return true;
    }
  }
  for (;;) {
    let v = 0;
    let d = 0;
    while (i < n && d < 5) {
      const c = s.charCodeAt(i);
      const h = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
      if (h < 0) break;
      v = v * 16 + h;
      d++;
      i++;
    }
    if (d === 0 || d > 4 || count === 8) return false;
    groups[count++] = v;
    if (i === n) break;
    if (s.charCodeAt(i) !== 0x3a) return false; // '.', '%', '/' or junk: not this shape
    i++;
    if (i < n && s.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = count;
      i++;
      if (i === n) break;
    } else if (i === n) return false; // a single trailing ':'
  }
  if (gap < 0 ? count !== 8 : count > 7) return false;
  if (gap >= 0) {
    const shift = 8 - count;
    for (let k = count - 1; k >= gap; k--) groups[k + shift] = groups[k]!;
    for (let k = gap; k < gap + shift; k++) groups[k] = 0;
  }
  return true;
}

/**
 * RFC 5952 text of an IPv6 address given as its 8 groups: lower-case hex without leading zeros, the longest run
 * of two or more zero groups (the first of equal runs) as `::` — the form the URL parser writes.
 */
export function formatIpv6Groups(groups: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let j = k;
    while (j < 8 && groups[j] === 0) j++;
    if (j - k > bestLen) {
      best = k;
      bestLen = j - k;
    }
    k = j;
  }
  let out = '';
  for (let k = 0; k < 8; k++) {
    if (k === best) {
      out += '::';
      k += bestLen - 1;
      continue;
    }
    if (out.length > 0 && !out.endsWith(':')) out += ':';
    out += groups[k]!.toString(16);
  }
  return out;
}
