/** Application protocol of a flow, as reported in contacts (design.md vocabulary). */
export type AppProtocol = 'tls' | 'quic' | 'http' | 'dns' | 'mdns' | 'dhcp' | 'other';
export type Transport = 'tcp' | 'udp' | 'other';

/** Everything the pipeline learnt about one bidirectional flow, emitted when the flow ends or is flushed. */
export interface FlowRecord {
  clientId: string;
  clientMac: string | null;
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  transport: Transport;
  ipProtocol: number;
  protocol: AppProtocol;
  /** TLS SNI from a ClientHello over TCP. */
  sni: string | null;
  /** SNI from a decrypted QUIC Initial (or gQUIC CHLO). */
  quicSni: string | null;
  /** HTTP Host headers (port stripped, lowercase), in order of first appearance. */
  httpHosts: string[];
  /** Names that the client's DNS answers mapped to the server address when the flow started (asked name first). */
  dnsNames: string[];
  alpn: string[];
  ja3: string | null;
  ja4: string | null;
  tlsVersion: string | null;
  ech: boolean;
  quicVersion: string | null;
  userAgents: string[];
  packetsOut: number;
  packetsIn: number;
  bytesOut: number;
  bytesIn: number;
  firstTsMs: number;
  lastTsMs: number;
  encrypted: boolean;
  /**
   * True when an earlier record of the same flow went out (live checkpoints of long flows): the counters are
   * then those since that record, and the flow must not be counted again.
   */
  continued?: boolean;
}

/** A DNS (or mDNS/LLMNR) question a client asked, with what the answer said. */
export interface LookupRecord {
  clientId: string;
  name: string;
  type: string;
  answers: string[];
  protocol: 'dns' | 'mdns' | 'llmnr';
  tsMs: number;
  /** Asked over an encrypted or TCP transport (DNS over TCP), for information. */
  overTcp: boolean;
  /** Smallest TTL (seconds) along the answer's chains to its addresses; absent without address answers. */
  ttl?: number;
}

/** What the pipeline learnt about a LAN device. */
export interface ClientObservation {
  clientId: string;
  mac: string | null;
  ip: string | null;
  hostname?: string;
  vendorClass?: string;
  dhcpFingerprint?: string;
  requestedIp?: string;
  mdnsName?: string;
  tsMs: number;
}

/** One HTTP request seen in clear text, with as much body as the per-flow cap allowed. */
export interface HttpObservation {
  clientId: string;
  serverIp: string;
  serverPort: number;
  host: string | null;
  method: string;
  target: string;
  headers: [string, string][];
  body: Uint8Array;
  bodyComplete: boolean;
  contentEncoding: string | null;
  contentType: string | null;
  tsMs: number;
}

/**
 * The first bytes a client sent on a flow that is neither TLS, QUIC, HTTP, DNS nor DHCP (for plaintext
 * inspection): the start of the TCP stream, or one of the first UDP datagrams.
 */
export interface PayloadObservation {
  clientId: string;
  serverIp: string;
  serverPort: number;
  transport: Transport;
  /** Names the client's DNS answers gave the server address when the flow started. */
  dnsNames: string[];
  payload: Uint8Array;
  tsMs: number;
}

/** Callbacks through which the pipeline reports; every one is optional. */
export interface PipelineObserver {
  onPayload?(p: PayloadObservation): void;
  onFlow?(flow: FlowRecord): void;
  onLookup?(lookup: LookupRecord): void;
  onClient?(client: ClientObservation): void;
  onHttpRequest?(req: HttpObservation): void;
}
