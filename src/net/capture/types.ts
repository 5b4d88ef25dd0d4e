/** One packet as it comes from a capture file or a live interface. */
export interface CapturedPacket {
  /** Capture time in milliseconds since the Unix epoch (fractional part keeps µs; ns are rounded). */
  tsMs: number;
  /** LINKTYPE_* value (tcpdump.org link-layer header types), e.g. 1 Ethernet, 113 SLL, 276 SLL2, 101 raw IP. */
  linkType: number;
  /** Captured bytes. Only valid during the callback: readers and live capture reuse their buffers. */
  data: Uint8Array;
  /** Length of the packet on the wire (>= data.length; larger when the snap length cut it). */
  origLen: number;
  /** Interface index inside the file (pcapng), 0 for pcap and live capture. */
  interfaceId: number;
}

export type PacketSink = (packet: CapturedPacket) => void;

/** What reading one capture file found, beside the packets themselves. */
export interface CaptureFileStats {
  path: string;
  format: 'pcap' | 'pcapng';
  /** gzip-compressed on disk. */
  compressed: boolean;
  packets: number;
  /** Sum of captured bytes of all packets. */
  bytes: number;
  /** Records whose captured length is below the original length (snap length). */
  snapTruncated: number;
  linkTypes: number[];
  firstTsMs: number | null;
  lastTsMs: number | null;
  /** Set when the file ends inside a block/record: the complete packets before it were delivered. */
  cutShort: { offset: number; afterPackets: number } | null;
  /** Blocks/records skipped as unusable (unknown block types are not counted, corrupt ones are). */
  skippedBlocks: number;
}

/** The input is not a capture file this reader understands (bad magic, unreadable header). */
export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
}
