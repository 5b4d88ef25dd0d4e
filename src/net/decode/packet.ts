/**
 * decodePacket: link + network + transport headers of one captured frame, in one pure call.
 * Never throws; a frame that cannot be decoded comes back as a DropReason to be counted.
 */
import { decodeIpv4, decodeIpv6, decodeTransport } from './ip.js';
import { decodeLink, ETHERTYPE_BY_VERSION, macAt, NO_VLANS } from './link.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, LINKTYPE_ETHERNET } from './linkTypes.js';
import type { DecodedPacket, DropReason } from './types.js';

export { decodeTransport };

/** A blank packet (no addresses, no payload, TCP null): what a hot loop decodes every frame into. */
export function blankPacket(): DecodedPacket {
  return {
    srcMac: null,
    dstMac: null,
    vlans: NO_VLANS,
    ipVersion: 4,
    src: '',
    dst: '',
    ttl: 0,
    protocol: 0,
    srcPort: 0,
    dstPort: 0,
    tcp: null,
    payload: new Uint8Array(0),
    truncated: false,
    fragment: null,
  };
}

export function isDropReason(r: DecodedPacket | DropReason): r is DropReason {
  return typeof r === 'string';
}

/**
 * Decode one frame of the given LINKTYPE_*. `data` is only read, and the result's payload is a view into it.
 * With `into`, a hot loop's reused packet, the result is `into` with every field set again (and `into.tcp`, when
 * an object, filled with a TCP header instead of a new one); without, a new packet.
 */
export function decodePacket(
  linkType: number,
  data: Uint8Array,
  into: DecodedPacket | null = null,
): DecodedPacket | DropReason {
  // Most frames: untagged Ethernet with IPv4/IPv6 — what decodeLink would say, without its LinkInfo object.
  if (linkType === LINKTYPE_ETHERNET && data.length >= 14) {
    const t = (data[12]! << 8) | data[13]!;
    if (t === ETHERTYPE_IPV4) return decodeIpv4(data, 14, data.length, macAt(data, 6), macAt(data, 0), NO_VLANS, into);
    if (t === ETHERTYPE_IPV6) return decodeIpv6(data, 14, data.length, macAt(data, 6), macAt(data, 0), NO_VLANS, into);
  }
  const link = decodeLink(linkType, data);
  if (typeof link === 'string') return link;
  let type = link.etherType;
  if (type === ETHERTYPE_BY_VERSION) {
    if (link.offset >= link.end) return 'truncated';
    const v = data[link.offset]! >> 4;
    type = v === 4 ? ETHERTYPE_IPV4 : v === 6 ? ETHERTYPE_IPV6 : -1;
  }
  if (type === ETHERTYPE_IPV4)
    return decodeIpv4(data, link.offset, link.end, link.srcMac, link.dstMac, link.vlans, into);
  if (type === ETHERTYPE_IPV6)
    return decodeIpv6(data, link.offset, link.end, link.srcMac, link.dstMac, link.vlans, into);
  return 'not-ip';
}
