/**
 * IP address helpers for the geo lookups: strict parsing to bytes, canonical text, addresses embedded in
 * IPv6 (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) and the special-purpose ranges that have no
 * owner or country on the internet (IANA special-purpose address registries, RFC 6890 and later).
 * Pure: no I/O.
 */
import { isIP } from 'node:net';
import { dottedQuadValue, formatIpv6Groups, hexIpv6Groups } from '../../core/ipText.js';

/** Scratch for hexIpv6Groups (parseIp is synchronous). */
const groups = [0, 0, 0, 0, 0, 0, 0, 0];

export type IpBytes = Uint8Array;

/** Parse an IPv4 or IPv6 address (no zone id, no prefix) to 4 or 16 bytes; null when it is not one. */
export function parseIp(text: string): IpBytes | null {
  // The usual shapes without a regular expression: dotted quads (isIP's only IPv4 texts) and hex-group IPv6.
  const v4 = dottedQuadValue(text);
  if (v4 >= 0) return Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff);
  if (!text.includes(':')) return null;
  if (hexIpv6Groups(text, groups)) {
    const out = new Uint8Array(16);
    for (let i = 0; i < 8; i++) {
      out[i * 2] = groups[i]! >> 8;
      out[i * 2 + 1] = groups[i]! & 0xff;
    }
    return out;
  }
  // An embedded IPv4 tail, or not an address: node's parser decides.
  const family = isIP(text);
  if (family === 4) return parseV4(text);
  if (family === 6) {
    if (text.includes('%')) return null;
    return parseV6(text);
  }
  return null;
}

function parseV4(text: string): IpBytes | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number(parts[i]);
    if (!Number.isInteger(n) || n < 0 || n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseV6(text: string): IpBytes | null {
  let s = text;
  // A trailing dotted quad is two 16-bit words: rewrite it as hex words.
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) !== -1) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (!v4) return null;
    s = `${s.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    for (const w of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return null;
      out.push(Number.parseInt(w, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !tail) return null;
  let words: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return null;
    words = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    words = head;
  }
  if (words.length !== 8) return null;
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  return out;
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
export function formatIp(b: IpBytes): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((b[i]! << 8) | b[i + 1]!);
  return formatIpv6Groups(w);
}

/** Fixed-width lower-case hex (8 digits for IPv4, 32 for IPv6): sorts like the address. */
export function ipHex(b: IpBytes): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/**
 * The IPv4 address an IPv6 address stands for, where the IPv6 address only carries it: IPv4-mapped
 * (::ffff:0:0/96), the NAT64 well-known prefix (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16, RFC 3056).
 */
export function embeddedIpv4(b: IpBytes): IpBytes | null {
  if (b.length !== 16) return null;
  const zeros = (from: number, to: number): boolean => {
    for (let i = from; i < to; i++) if (b[i] !== 0) return false;
    return true;
  };
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.slice(12, 16);
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return b.slice(12, 16);
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6);
  return null;
}

interface Range {
  bytes: number[];
  len: number;
  name: string;
}

const V4_SPECIAL: Range[] = [
  { bytes: [0, 0, 0, 0], len: 8, name: 'this network' },
  { bytes: [10, 0, 0, 0], len: 8, name: 'private (RFC 1918)' },
  { bytes: [100, 64, 0, 0], len: 10, name: 'shared address space (RFC 6598)' },
  { bytes: [127, 0, 0, 0], len: 8, name: 'loopback' },
  { bytes: [169, 254, 0, 0], len: 16, name: 'link-local' },
  { bytes: [172, 16, 0, 0], len: 12, name: 'private (RFC 1918)' },
  { bytes: [192, 0, 0, 0], len: 24, name: 'IETF protocol assignments' },
  { bytes: [192, 0, 2, 0], len: 24, name: 'documentation (TEST-NET-1)' },
  { bytes: [192, 88, 99, 0], len: 24, name: '6to4 relay anycast (deprecated)' },
  { bytes: [192, 168, 0, 0], len: 16, name: 'private (RFC 1918)' },
  { bytes: [198, 18, 0, 0], len: 15, name: 'benchmarking' },
  { bytes: [198, 51, 100, 0], len: 24, name: 'documentation (TEST-NET-2)' },
  { bytes: [203, 0, 113, 0], len: 24, name: 'documentation (TEST-NET-3)' },
  { bytes: [224, 0, 0, 0], len: 4, name: 'multicast' },
  { bytes: [240, 0, 0, 0], len: 4, name: 'reserved (and limited broadcast)' },
];

const V6_SPECIAL: Range[] = [
  { bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], len: 128, name: 'unspecified' },
  { bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], len: 128, name: 'loopback' },
  { bytes: [0, 0x64, 0xff, 0x9b, 0, 1], len: 48, name: 'local-use NAT64 (RFC 8215)' },
  { bytes: [1, 0, 0, 0, 0, 0, 0, 0], len: 64, name: 'discard-only (RFC 6666)' },
  { bytes: [0x20, 0x01, 0, 0], len: 23, name: 'IETF protocol assignments (Teredo, benchmarking, ORCHID)' },
  { bytes: [0x20, 0x01, 0x0d, 0xb8], len: 32, name: 'documentation (2001:db8::/32)' },
  { bytes: [0x3f, 0xff], len: 20, name: 'documentation (3fff::/20)' },
  { bytes: [0xfc], len: 7, name: 'unique local (fc00::/7)' },
  { bytes: [0xfe, 0x80], len: 10, name: 'link-local' },
  { bytes: [0xfe, 0xc0], len: 10, name: 'site-local (deprecated)' },
  { bytes: [0xff], len: 8, name: 'multicast' },
];

export function inPrefix(b: IpBytes, prefix: ArrayLike<number>, len: number): boolean {
  const full = len >> 3;
  for (let i = 0; i < full; i++) if (b[i] !== (prefix[i] ?? 0)) return false;
  const bits = len & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return ((b[full]! ^ (prefix[full] ?? 0)) & mask) === 0;
}

/**
 * Why an address has no owner or country on the public internet (private, documentation, loopback,
 * multicast …), or null for a global unicast address. IPv6 addresses that embed an IPv4 address are
 * judged by the IPv4 address.
 */
export function specialPurpose(b: IpBytes): string | null {
  if (b.length === 4) {
    for (const r of V4_SPECIAL) if (inPrefix(b, r.bytes, r.len)) return r.name;
    return null;
  }
  const v4 = embeddedIpv4(b);
  if (v4) return specialPurpose(v4);
  for (const r of V6_SPECIAL) if (inPrefix(b, r.bytes, r.len)) return r.name;
  // Outside 2000::/3 nothing is allocated for global unicast yet.
  if ((b[0]! & 0xe0) !== 0x20) return 'not global unicast (outside 2000::/3)';
  return null;
}

/** First and last address of a prefix. */
export function prefixRange(b: IpBytes, len: number): { first: IpBytes; last: IpBytes } {
  const first = new Uint8Array(b.length);
  const last = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, len - i * 8));
    const mask = bitsHere === 0 ? 0 : (0xff << (8 - bitsHere)) & 0xff;
    first[i] = b[i]! & mask;
    last[i] = (b[i]! & mask) | (~mask & 0xff);
  }
  return { first, last };
}
