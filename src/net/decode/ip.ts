/**
 * IPv4 / IPv6 (with extension headers) and TCP / UDP header decoding. Pure, no exceptions on any input:
 * every read is preceded by an explicit bounds check, and problems come back as a DropReason.
 * The hot path builds one result object per packet and address strings from precomputed tables.
 */
import { HEX_PAIRS, MalformedError } from '../../sdk/byteReader.js';
import type { DecodedPacket, DropReason } from './types.js';

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_MOBILITY = 135;
export const IPPROTO_HIP = 139;
export const IPPROTO_SHIM6 = 140;

/** At most this many IPv6 extension headers are walked before giving up on a packet. */
const MAX_IPV6_EXT_HEADERS = 16;

const DEC: string[] = [];
for (let i = 0; i < 256; i++) DEC.push(String(i));
const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16));

const EMPTY = new Uint8Array(0);

/** Dotted quad of the 4 bytes at off (caller checks bounds). */
export function ipv4At(data: Uint8Array, off: number): string {
  // A signed 32-bit key stays a small integer (a Map key without a heap number).
  const key = (data[off]! << 24) | (data[off + 1]! << 16) | (data[off + 2]! << 8) | data[off + 3]!;
  // A packet's two addresses are mostly those of the packet before, in one order or the other.
  if (key === v4Key0) return v4Text0;
  if (key === v4Key1) return v4Text1;
  let s = ipv4Text.get(key);
  if (s === undefined) {
    s = DEC[data[off]!]! + '.' + DEC[data[off + 1]!]! + '.' + DEC[data[off + 2]!]! + '.' + DEC[data[off + 3]!]!;
    if (ipv4Text.size >= IPV4_CACHE_MAX) ipv4Text.clear();
    ipv4Text.set(key, s);
  }
  v4Key1 = v4Key0;
  v4Text1 = v4Text0;
  v4Key0 = key;
  v4Text0 = s;
  return s;
}

/**
 * Memo of dotted-quad texts by address value (bounded, cleared when full): a capture talks to a few thousand
 * addresses, and a fresh string per packet and direction was a large share of the garbage collector's work.
 */
const ipv4Text = new Map<number, string>();
const IPV4_CACHE_MAX = 65536;
/** The two addresses asked last; both start as 0.0.0.0, whose key is 0. */
let v4Key0 = 0;
let v4Text0 = '0.0.0.0';
let v4Key1 = 0;
let v4Text1 = '0.0.0.0';

function group(data: Uint8Array, p: number): string {
  const hi = data[p]!;
  return hi === 0 ? HEX[data[p + 1]!]! : HEX[hi]! + HEX_PAIRS[data[p + 1]!]!;
}

/**
 * RFC 5952 text of the 16 bytes at off: lowercase, no leading zeros, longest run (>= 2, first on a tie) of zero
 * groups as '::', and IPv4-mapped addresses as ::ffff:a.b.c.d (§5). The one formatter for every decoder, so a
 * DNS answer and a packet header give the same text for the same address.
 */
export function ipv6At(data: Uint8Array, off: number): string {
  if (isV4Mapped(data, off)) return `::ffff:${ipv4At(data, off + 12)}`;
  let bestStart = -1;
  let bestLen = 0;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const p = off + 2 * i;
    if (data[p] === 0 && data[p + 1] === 0) {
      if (runStart < 0) runStart = i;
      const len = i - runStart + 1;
      if (len > bestLen) {
        bestLen = len;
        bestStart = runStart;
      }
    } else {
      runStart = -1;
    }
  }
  if (bestLen < 2) bestStart = -1;
  let s = '';
  const afterRun = bestStart + bestLen;
  let i = 0;
  while (i < 8) {
    if (i === bestStart) {
      s += '::';
      i = afterRun;
      continue;
    }
    if (i > 0 && i !== afterRun) s += ':';
    s += group(data, off + 2 * i);
    i++;
  }
  return s;
}

function isV4Mapped(data: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (data[off + i] !== 0) return false;
  return data[off + 10] === 0xff && data[off + 11] === 0xff;
}

/** Text form of an address given as 4 or 16 bytes. */
export function ipToString(bytes: Uint8Array): string {
  if (bytes.length === 4) return ipv4At(bytes, 0);
  if (bytes.length === 16) return ipv6At(bytes, 0);
  throw new MalformedError(`an IP address has 4 or 16 bytes, got ${bytes.length}`);
}

function isIpv6ExtHeader(nh: number): boolean {
  return (
    nh === IPPROTO_HOPOPTS ||
    nh === IPPROTO_ROUTING ||
    nh === IPPROTO_DSTOPTS ||
    nh === IPPROTO_FRAGMENT ||
    nh === IPPROTO_AH ||
    nh === IPPROTO_MOBILITY ||
    nh === IPPROTO_HIP ||
    nh === IPPROTO_SHIM6
  );
}

/** Result codes of walkIpv6Ext below zero. */
const WALK_TRUNCATED = -1;
const WALK_BAD = -2;

/**
 * Walk IPv6 extension headers starting at p with next-header nh. Sets pkt.protocol (the first header that
 * is not an extension header, or the fragment's next header) and pkt.fragment; returns the offset of what
 * follows, WALK_TRUNCATED when the captured bytes end inside a header, WALK_BAD when the declared length does.
 */
function walkIpv6Ext(
  data: Uint8Array,
  start: number,
  capEnd: number,
  declEnd: number,
  nh0: number,
  pkt: DecodedPacket,
) {
  let p = start;
  let nh = nh0;
  for (let n = 0; n < MAX_IPV6_EXT_HEADERS && isIpv6ExtHeader(nh); n++) {
    if (nh === IPPROTO_FRAGMENT) {
      if (p + 8 > declEnd) return WALK_BAD;
      if (p + 8 > capEnd) return WALK_TRUNCATED;
      const offFlags = (data[p + 2]! << 8) | data[p + 3]!;
      const id = ((data[p + 4]! << 24) | (data[p + 5]! << 16) | (data[p + 6]! << 8) | data[p + 7]!) >>> 0;
      nh = data[p]!;
      p += 8;
      const offset = offFlags & 0xfff8;
      const more = (offFlags & 1) === 1;
      // An "atomic fragment" (offset 0, no more fragments) is a whole packet: keep walking.
      if (offset !== 0 || more) {
        pkt.protocol = nh;
        pkt.fragment = { id, offset, more };
        return p;
      }
      continue;
    }
    if (p + 2 > declEnd) return WALK_BAD;
    if (p + 2 > capEnd) return WALK_TRUNCATED;
    const len = nh === IPPROTO_AH ? (data[p + 1]! + 2) * 4 : (data[p + 1]! + 1) * 8;
    nh = data[p]!;
    p += len;
    if (p > declEnd) return WALK_BAD;
    if (p > capEnd) return WALK_TRUNCATED;
  }
  pkt.protocol = nh;
  return p;
}

/**
 * Decode the TCP/UDP header at start (pkt.protocol says which) and set ports, tcp and payload.
 * capEnd is where the captured bytes end, declEnd where the IP header says the payload ends.
 */
function decodeTransportAt(
  pkt: DecodedPacket,
  data: Uint8Array,
  start: number,
  capEnd: number,
  declEnd: number,
): DecodedPacket | DropReason {
  const proto = pkt.protocol;
  if (proto === IPPROTO_TCP) {
    if (declEnd - start < 20) return 'bad-transport-header';
    if (capEnd - start < 20) return 'truncated';
    const doff = (data[start + 12]! >> 4) * 4;
    if (doff < 20 || start + doff > declEnd) return 'bad-transport-header';
    pkt.srcPort = (data[start]! << 8) | data[start + 1]!;
    pkt.dstPort = (data[start + 2]! << 8) | data[start + 3]!;
    const seq =
      ((data[start + 4]! << 24) | (data[start + 5]! << 16) | (data[start + 6]! << 8) | data[start + 7]!) >>> 0;
    const ack =
      ((data[start + 8]! << 24) | (data[start + 9]! << 16) | (data[start + 10]! << 8) | data[start + 11]!) >>> 0;
    const flags = data[start + 13]! | ((data[start + 12]! & 1) << 8);
    const window = (data[start + 14]! << 8) | data[start + 15]!;
    const t = pkt.tcp;
    if (t !== null) {
      // Decoding into a caller's packet (decodePacket's `into`): its TCP object is filled in again.
      t.seq = seq;
      t.ack = ack;
      t.flags = flags;
      t.window = window;
    } else {
      pkt.tcp = { seq, ack, flags, window };
    }
    const ps = start + doff;
    pkt.payload = ps >= capEnd ? EMPTY : data.subarray(ps, capEnd);
    if (ps > capEnd) pkt.truncated = true;
    return pkt;
  }
  pkt.tcp = null;
  if (proto === IPPROTO_UDP) {
    if (declEnd - start < 8) return 'bad-transport-header';
    if (capEnd - start < 8) return 'truncated';
    pkt.srcPort = (data[start]! << 8) | data[start + 1]!;
    pkt.dstPort = (data[start + 2]! << 8) | data[start + 3]!;
    const ulen = (data[start + 4]! << 8) | data[start + 5]!;
    // Trust the UDP length when it is sane; 0 (jumbograms, offload) or nonsense falls back to the IP length.
    const udpEnd = ulen >= 8 && start + ulen <= declEnd ? start + ulen : declEnd;
    const pe = Math.min(udpEnd, capEnd);
    pkt.payload = start + 8 >= pe ? EMPTY : data.subarray(start + 8, pe);
    return pkt;
  }
  pkt.payload = start >= capEnd ? EMPTY : data.subarray(start, capEnd);
  return pkt;
}

/**
 * The packet to fill: `into` with every field set again except `tcp` (left for decodeTransportAt to reuse or
 * clear), or a new object when `into` is null.
 */
function newPacket(
  into: DecodedPacket | null,
  srcMac: string | null,
  dstMac: string | null,
  vlans: number[],
  ipVersion: 4 | 6,
  src: string,
  dst: string,
  ttl: number,
  protocol: number,
  truncated: boolean,
): DecodedPacket {
  if (into === null) {
    return {
      srcMac,
      dstMac,
      vlans,
      ipVersion,
      src,
      dst,
      ttl,
      protocol,
      srcPort: 0,
      dstPort: 0,
      tcp: null,
      payload: EMPTY,
      truncated,
      fragment: null,
    };
  }
  into.srcMac = srcMac;
  into.dstMac = dstMac;
  into.vlans = vlans;
  into.ipVersion = ipVersion;
  into.src = src;
  into.dst = dst;
  into.ttl = ttl;
  into.protocol = protocol;
  into.srcPort = 0;
  into.dstPort = 0;
  into.payload = EMPTY;
  into.truncated = truncated;
  into.fragment = null;
  return into;
}

/** Decode an IPv4 packet at off (the frame's network packet ends at end). */
export function decodeIpv4(
  data: Uint8Array,
  off: number,
  end: number,
  srcMac: string | null,
  dstMac: string | null,
  vlans: number[],
  into: DecodedPacket | null = null,
): DecodedPacket | DropReason {
  if (end - off < 20) return 'truncated';
  const b0 = data[off]!;
  if (b0 >> 4 !== 4) return 'bad-ip-header';
  const ihl = (b0 & 15) * 4;
  if (ihl < 20) return 'bad-ip-header';
  if (off + ihl > end) return 'truncated';
  const totalLen = (data[off + 2]! << 8) | data[off + 3]!;
  let capEnd: number;
  let declEnd: number;
  let truncated = false;
  if (totalLen === 0) {
    // Captured with TCP segmentation offload: the length field is not filled in yet.
    capEnd = end;
    declEnd = end;
  } else {
    if (totalLen < ihl) return 'bad-ip-header';
    declEnd = off + totalLen;
    if (declEnd <= end) {
      capEnd = declEnd;
    } else {
      capEnd = end;
      truncated = true;
    }
  }
  const pkt = newPacket(
    into,
    srcMac,
    dstMac,
    vlans,
    4,
    ipv4At(data, off + 12),
    ipv4At(data, off + 16),
    data[off + 8]!,
    data[off + 9]!,
    truncated,
  );
  const ff = (data[off + 6]! << 8) | data[off + 7]!;
  const fragOffset = (ff & 0x1fff) * 8;
  const more = (ff & 0x2000) !== 0;
  const start = off + ihl;
  if (fragOffset !== 0 || more) {
    pkt.fragment = { id: (data[off + 4]! << 8) | data[off + 5]!, offset: fragOffset, more };
    pkt.tcp = null;
    pkt.payload = start >= capEnd ? EMPTY : data.subarray(start, capEnd);
    return pkt;
  }
  return decodeTransportAt(pkt, data, start, capEnd, declEnd);
}

/** Decode an IPv6 packet at off, walking extension headers up to the transport header. */
export function decodeIpv6(
  data: Uint8Array,
  off: number,
  end: number,
  srcMac: string | null,
  dstMac: string | null,
  vlans: number[],
  into: DecodedPacket | null = null,
): DecodedPacket | DropReason {
  if (end - off < 40) return 'truncated';
  if (data[off]! >> 4 !== 6) return 'bad-ip-header';
  const plen = (data[off + 4]! << 8) | data[off + 5]!;
  const start = off + 40;
  let declEnd: number;
  let capEnd: number;
  let truncated = false;
  if (plen === 0) {
    // Jumbogram or segmentation offload: the captured bytes are all there is.
    declEnd = end;
    capEnd = end;
  } else {
    declEnd = start + plen;
    if (declEnd <= end) {
      capEnd = declEnd;
    } else {
      capEnd = end;
      truncated = true;
    }
  }
  const pkt = newPacket(
    into,
    srcMac,
    dstMac,
    vlans,
    6,
    ipv6At(data, off + 8),
    ipv6At(data, off + 24),
    data[off + 7]!,
    data[off + 6]!,
    truncated,
  );
  const p = walkIpv6Ext(data, start, capEnd, declEnd, data[off + 6]!, pkt);
  if (p === WALK_TRUNCATED) return 'truncated';
  if (p === WALK_BAD) return 'bad-ip-header';
  if (pkt.fragment !== null) {
    pkt.tcp = null;
    pkt.payload = p >= capEnd ? EMPTY : data.subarray(p, capEnd);
    return pkt;
  }
  return decodeTransportAt(pkt, data, p, capEnd, declEnd);
}

/**
 * Decode the transport header of a whole IP payload, e.g. one the IP reassembler put together from
 * fragments. `pkt.payload` must hold the complete IP payload (for IPv6: from the header the fragment
 * header's next-header names) and `pkt.protocol` its protocol. Returns a new packet with fragment = null.
 */
export function decodeTransport(pkt: DecodedPacket): DecodedPacket | DropReason {
  const data = pkt.payload;
  const out: DecodedPacket = {
    srcMac: pkt.srcMac,
    dstMac: pkt.dstMac,
    vlans: pkt.vlans,
    ipVersion: pkt.ipVersion,
    src: pkt.src,
    dst: pkt.dst,
    ttl: pkt.ttl,
    protocol: pkt.protocol,
    srcPort: 0,
    dstPort: 0,
    tcp: null,
    payload: EMPTY,
    truncated: pkt.truncated,
    fragment: null,
  };
  let start = 0;
  if (pkt.ipVersion === 6 && isIpv6ExtHeader(pkt.protocol)) {
    const p = walkIpv6Ext(data, 0, data.length, data.length, pkt.protocol, out);
    if (p < 0) return 'bad-ip-header';
    // A second fragment header inside a reassembled datagram is not something to trust.
    if (out.fragment !== null) return 'fragment-error';
    start = p;
  }
  return decodeTransportAt(out, data, start, data.length, data.length);
}
