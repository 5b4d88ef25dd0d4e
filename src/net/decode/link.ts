/**
 * Link-layer decoding: find where the network packet starts inside one captured frame and what it is.
 * Pure and allocation-light: bounds are checked explicitly, nothing is thrown, nothing is logged.
 */

import { HEX_PAIRS } from '../../sdk/byteReader.js';
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_PPPOE_SESSION,
  ETHERTYPE_QINQ,
  ETHERTYPE_QINQ_OLD,
  ETHERTYPE_VLAN,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NFLOG,
  LINKTYPE_NULL,
  LINKTYPE_PPP,
  LINKTYPE_PPP_HDLC,
  LINKTYPE_RAW,
  LINKTYPE_RAW_12,
  LINKTYPE_RAW_14,
} from './linkTypes.js';
import type { DropReason } from './types.js';

/** EtherType value meaning "raw IP: look at the version nibble". */
export const ETHERTYPE_BY_VERSION = 0;

export interface LinkInfo {
  srcMac: string | null;
  dstMac: string | null;
  /** VLAN ids, outermost first. */
  vlans: number[];
  /** EtherType of the network packet (0x0800, 0x86dd...), or ETHERTYPE_BY_VERSION for raw IP. */
  etherType: number;
  /** Offset of the network header inside the frame. */
  offset: number;
  /** End of the network packet inside the frame (frame length, or less when a link header carries a length). */
  end: number;
}

/** At most this many stacked VLAN tags are walked (real networks use one or two). */
const MAX_VLAN_TAGS = 8;

/** 'aa:bb:cc:dd:ee:ff' for the 6 bytes at off (caller checks bounds). */
/**
 * Memo of MAC address texts, keyed by the 48-bit value: a capture sees few distinct MACs, and building the
 * 17-character string for every packet made string garbage the largest cost of decoding. The cache is
 * bounded (cleared when full) and keeps decoding pure: the same bytes always give the same text.
 */
const macText = new Map<number, string>();
const MAC_CACHE_MAX = 4096;
/** The two addresses asked last (their high 16 and low 32 bits, and texts), checked before the map. */
let recentHi0 = -1;
let recentLo0 = 0;
let recentText0 = '';
let recentHi1 = -1;
let recentLo1 = 0;
let recentText1 = '';

/** Lowercase 'aa:bb:cc:dd:ee:ff' text of the 6 bytes at off. */
export function macAt(data: Uint8Array, off: number): string {
  // Small integers only on the hot path: the 48-bit key (a heap number) is built on a miss of the last two.
  const hi = (data[off]! << 8) | data[off + 1]!;
  const lo = (data[off + 2]! << 24) | (data[off + 3]! << 16) | (data[off + 4]! << 8) | data[off + 5]!;
  // A frame's two addresses are usually those of the frame before (a burst between a phone and the gateway).
  if (lo === recentLo0 && hi === recentHi0) return recentText0;
  if (lo === recentLo1 && hi === recentHi1) return recentText1;
  const key = hi * 4294967296 + (lo >>> 0);
  let s = macText.get(key);
  if (s === undefined) {
    s =
      HEX_PAIRS[data[off]!]! +
      ':' +
      HEX_PAIRS[data[off + 1]!]! +
      ':' +
      HEX_PAIRS[data[off + 2]!]! +
      ':' +
      HEX_PAIRS[data[off + 3]!]! +
      ':' +
      HEX_PAIRS[data[off + 4]!]! +
      ':' +
      HEX_PAIRS[data[off + 5]!]!;
    if (macText.size >= MAC_CACHE_MAX) macText.clear();
    macText.set(key, s);
  }
  recentHi1 = recentHi0;
  recentLo1 = recentLo0;
  recentText1 = recentText0;
  recentHi0 = hi;
  recentLo0 = lo;
  recentText0 = s;
  return s;
}

/** Shared, frozen "no VLAN tags" list: most frames are untagged, so they need no array of their own. */
export const NO_VLANS: number[] = Object.freeze([]) as unknown as number[];

function isVlanType(t: number): boolean {
  return t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ || t === ETHERTYPE_QINQ_OLD;
}

/**
 * Walk 802.1Q/802.1ad tags starting with EtherType `type` whose tag begins at `off`; pushes ids into vlans.
 * Returns the offset of the payload after the last tag and stores the inner type in info.etherType, or a
 * DropReason when the tags run past the frame.
 */
function walkVlans(data: Uint8Array, off: number, type: number, info: LinkInfo): DropReason | null {
  let t = type;
  let p = off;
  let n = 0;
  while (isVlanType(t)) {
    if (n++ >= MAX_VLAN_TAGS) return 'not-ip';
    if (p + 4 > data.length) return 'truncated';
    if (info.vlans === NO_VLANS) info.vlans = [];
    info.vlans.push(((data[p]! << 8) | data[p + 1]!) & 0x0fff);
    t = (data[p + 2]! << 8) | data[p + 3]!;
    p += 4;
  }
  info.etherType = t;
  info.offset = p;
  return null;
}

function ethernet(data: Uint8Array): LinkInfo | DropReason {
  if (data.length < 14) return 'truncated';
  const info: LinkInfo = {
    dstMac: macAt(data, 0),
    srcMac: macAt(data, 6),
    vlans: NO_VLANS,
    etherType: 0,
    offset: 14,
    end: data.length,
  };
  const type = (data[12]! << 8) | data[13]!;
  const bad = walkVlans(data, 14, type, info);
  if (bad !== null) return bad;
  if (info.etherType <= 1500) {
    // IEEE 802.3 length field: only LLC/SNAP with an EtherType carries IP.
    const p = info.offset;
    if (p + 8 > data.length) return 'not-ip';
    if (
      data[p] === 0xaa &&
      data[p + 1] === 0xaa &&
      data[p + 2] === 0x03 &&
      data[p + 3] === 0 &&
      data[p + 4] === 0 &&
      data[p + 5] === 0
    ) {
      const inner = (data[p + 6]! << 8) | data[p + 7]!;
      const bad2 = walkVlans(data, p + 8, inner, info);
      if (bad2 !== null) return bad2;
    } else {
      return 'not-ip';
    }
  }
  if (info.etherType === ETHERTYPE_PPPOE_SESSION) return pppoe(data, info);
  return info;
}

/** PPPoE session stage (RFC 2516): 6-byte header, then a PPP protocol number; its length field bounds the packet. */
function pppoe(data: Uint8Array, info: LinkInfo): LinkInfo | DropReason {
  const p = info.offset;
  if (p + 8 > data.length) return 'truncated';
  const len = (data[p + 4]! << 8) | data[p + 5]!;
  const proto = (data[p + 6]! << 8) | data[p + 7]!;
  if (proto === 0x0021) info.etherType = ETHERTYPE_IPV4;
  else if (proto === 0x0057) info.etherType = ETHERTYPE_IPV6;
  else return 'not-ip';
  info.offset = p + 8;
  if (len >= 2 && p + 6 + len < data.length) info.end = p + 6 + len;
  return info;
}

function sllCommon(
  data: Uint8Array,
  arphrd: number,
  addrLen: number,
  addrOff: number,
  proto: number,
  hdrLen: number,
): LinkInfo | DropReason {
  // ARPHRD_ETHER (1) and ARPHRD_IEEE80211 (801) carry MAC addresses; the stored address is the sender's.
  const srcMac = addrLen === 6 && (arphrd === 1 || arphrd === 801) ? macAt(data, addrOff) : null;
  const info: LinkInfo = { srcMac, dstMac: null, vlans: NO_VLANS, etherType: 0, offset: hdrLen, end: data.length };
  // ARPHRD_NETLINK (824) and non-EtherType protocol values below 0x0600 (802.2/802.3 frames) are not IP.
  if (arphrd === 824 || proto < 0x0600) return 'not-ip';
  const bad = walkVlans(data, hdrLen, proto, info);
  if (bad !== null) return bad;
  return info;
}

function sll(data: Uint8Array): LinkInfo | DropReason {
  if (data.length < 16) return 'truncated';
  const arphrd = (data[2]! << 8) | data[3]!;
  const addrLen = (data[4]! << 8) | data[5]!;
  const proto = (data[14]! << 8) | data[15]!;
  return sllCommon(data, arphrd, addrLen, 6, proto, 16);
}

function sll2(data: Uint8Array): LinkInfo | DropReason {
  if (data.length < 20) return 'truncated';
  const proto = (data[0]! << 8) | data[1]!;
  const arphrd = (data[8]! << 8) | data[9]!;
  const addrLen = data[11]!;
  return sllCommon(data, arphrd, addrLen, 12, proto, 20);
}

function rawInfo(offset: number, end: number, etherType: number): LinkInfo {
  return { srcMac: null, dstMac: null, vlans: NO_VLANS, etherType, offset, end };
}

function afToEtherType(af: number): number {
  if (af === 2) return ETHERTYPE_IPV4;
  // AF_INET6 differs per OS: 24 (NetBSD, OpenBSD, BSD/OS), 28 (FreeBSD), 30 (Darwin); 10 is Linux's.
  if (af === 24 || af === 28 || af === 30 || af === 10) return ETHERTYPE_IPV6;
  return -1;
}

/** BSD loopback/null (host byte order of the capturing machine) and OpenBSD LOOP (network byte order). */
function nullLoop(data: Uint8Array): LinkInfo | DropReason {
  if (data.length < 4) return 'truncated';
  const le = data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24);
  const be = (data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!;
  // The family is a small number: whichever order yields one that fits in 16 bits is the right one.
  const af = (le & 0xffff0000) === 0 ? le : be;
  const t = afToEtherType(af);
  if (t < 0) return 'not-ip';
  return rawInfo(4, data.length, t);
}

function ppp(data: Uint8Array): LinkInfo | DropReason {
  let p = 0;
  if (data.length >= 2 && data[0] === 0xff && data[1] === 0x03) p = 2;
  if (p >= data.length) return 'truncated';
  let proto: number;
  if ((data[p]! & 1) === 1) {
    // Protocol-field compression: a one-byte protocol number.
    proto = data[p]!;
    p += 1;
  } else {
    if (p + 2 > data.length) return 'truncated';
    proto = (data[p]! << 8) | data[p + 1]!;
    p += 2;
  }
  if (proto === 0x0021) return rawInfo(p, data.length, ETHERTYPE_IPV4);
  if (proto === 0x0057) return rawInfo(p, data.length, ETHERTYPE_IPV6);
  return 'not-ip';
}

/** Linux NFLOG: 4-byte header then TLVs (host byte order); the packet is TLV type 9 (NFULA_PAYLOAD). */
function nflog(data: Uint8Array): LinkInfo | DropReason {
  if (data.length < 4) return 'truncated';
  let p = 4;
  let le: boolean | null = null;
  while (p + 4 <= data.length) {
    const lenLe = data[p]! | (data[p + 1]! << 8);
    const lenBe = (data[p]! << 8) | data[p + 1]!;
    if (le === null) le = lenLe >= 4 && p + lenLe <= data.length ? true : !(lenBe >= 4 && p + lenBe <= data.length);
    const len = le ? lenLe : lenBe;
    const type = le ? data[p + 2]! | (data[p + 3]! << 8) : (data[p + 2]! << 8) | data[p + 3]!;
    if (len < 4) return 'not-ip';
    if (p + len > data.length) return 'truncated';
    if ((type & 0x7fff) === 9) return rawInfo(p + 4, p + len, ETHERTYPE_BY_VERSION);
    p += (len + 3) & ~3;
  }
  return 'not-ip';
}

/**
 * Decode the link-layer header of one frame. Returns where the network packet is, or why there is none
 * ('unsupported-link' for link types not handled, 'not-ip' for ARP & co, 'truncated' for a cut header).
 */
export function decodeLink(linkType: number, data: Uint8Array): LinkInfo | DropReason {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return ethernet(data);
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_12:
    case LINKTYPE_RAW_14:
      return rawInfo(0, data.length, ETHERTYPE_BY_VERSION);
    case LINKTYPE_IPV4:
      return rawInfo(0, data.length, ETHERTYPE_IPV4);
    case LINKTYPE_IPV6:
      return rawInfo(0, data.length, ETHERTYPE_IPV6);
    case LINKTYPE_LINUX_SLL:
      return sll(data);
    case LINKTYPE_LINUX_SLL2:
      return sll2(data);
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      return nullLoop(data);
    case LINKTYPE_PPP:
    case LINKTYPE_PPP_HDLC:
      return ppp(data);
    case LINKTYPE_NFLOG:
      return nflog(data);
    default:
      return 'unsupported-link';
  }
}
