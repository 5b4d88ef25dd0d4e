/** Human names of the LINKTYPE_* values bandguard reads (tcpdump.org link-layer header types). */
const NAMES: Record<number, string> = {
  0: 'null',
  1: 'ethernet',
  9: 'ppp',
  12: 'raw',
  14: 'raw',
  101: 'raw',
  105: 'ieee802.11',
  108: 'loop',
  113: 'linux-sll',
  127: 'ieee802.11-radiotap',
  228: 'ipv4',
  229: 'ipv6',
  239: 'nflog',
  276: 'linux-sll2',
};

export function linkTypeName(linkType: number): string {
  return NAMES[linkType] ?? `linktype-${linkType}`;
}
