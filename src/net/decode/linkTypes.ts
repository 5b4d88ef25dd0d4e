/**
 * LINKTYPE_* values (tcpdump.org "link-layer header types") that the decoders understand, and the EtherType
 * values they map network protocols to.
 */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_PPP = 9;
/** DLT_RAW as written by some OpenBSD/older libpcap versions (values 12 and 14 in the file header). */
export const LINKTYPE_RAW_12 = 12;
export const LINKTYPE_RAW_14 = 14;
export const LINKTYPE_PPP_HDLC = 50;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_NFLOG = 239;
export const LINKTYPE_LINUX_SLL2 = 276;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_PPPOE_SESSION = 0x8864;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_QINQ_OLD = 0x9100;

/** Short names for reports ("ether", "linux-sll"...), as capinfos/tshark spell them where they have one. */
export const LINK_TYPE_NAMES: Readonly<Record<number, string>> = Object.freeze({
  [LINKTYPE_NULL]: 'null',
  [LINKTYPE_ETHERNET]: 'ether',
  [LINKTYPE_PPP]: 'ppp',
  [LINKTYPE_RAW_12]: 'rawip',
  [LINKTYPE_RAW_14]: 'rawip',
  [LINKTYPE_PPP_HDLC]: 'ppp-hdlc',
  [LINKTYPE_RAW]: 'rawip',
  [LINKTYPE_LOOP]: 'loop',
  [LINKTYPE_LINUX_SLL]: 'linux-sll',
  [LINKTYPE_IPV4]: 'rawip4',
  [LINKTYPE_IPV6]: 'rawip6',
  [LINKTYPE_NFLOG]: 'nflog',
  [LINKTYPE_LINUX_SLL2]: 'linux-sll2',
});

/** Link types decodePacket() understands. */
export const SUPPORTED_LINK_TYPES: readonly number[] = Object.freeze(
  Object.keys(LINK_TYPE_NAMES)
    .map(Number)
    .sort((a, b) => a - b),
);

export function linkTypeName(linkType: number): string {
  return LINK_TYPE_NAMES[linkType] ?? `linktype-${linkType}`;
}
