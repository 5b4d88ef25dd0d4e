/** Result of decoding link + network + transport headers of one packet (src/net/decode/packet.ts). */
export interface DecodedPacket {
  /** Link-layer addresses, lowercase 'aa:bb:cc:dd:ee:ff', null when the link type has none (raw IP, null/loopback). */
  srcMac: string | null;
  dstMac: string | null;
  /** 802.1Q/802.1ad VLAN ids, outermost first; empty when untagged. */
  vlans: number[];
  ipVersion: 4 | 6;
  /** Textual addresses: dotted quad, or RFC 5952 compressed IPv6. */
  src: string;
  dst: string;
  ttl: number;
  /** IP protocol number of the transport (after IPv6 extension headers): 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6... */
  protocol: number;
  srcPort: number;
  dstPort: number;
  /** TCP header fields, null for anything else. */
  tcp: TcpHeader | null;
  /** Transport payload (TCP/UDP payload; for other protocols the IP payload), clipped to captured bytes. */
  payload: Uint8Array;
  /** Captured bytes end before the IP/transport length fields say. */
  truncated: boolean;
  /**
   * Set for an IP fragment: the payload is the fragment's data (not yet a transport header) and ports/tcp are
   * unset. Hand it to the IP reassembler, which returns the whole datagram's IP payload when complete.
   */
  fragment: { id: number; offset: number; more: boolean } | null;
}

export interface TcpHeader {
  seq: number;
  ack: number;
  flags: number;
  window: number;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/** Why a packet could not be decoded; counted per reason, never thrown out of the pipeline. */
export type DropReason =
  | 'truncated'
  | 'unsupported-link'
  | 'not-ip'
  | 'bad-ip-header'
  | 'bad-transport-header'
  | 'fragment-error';
