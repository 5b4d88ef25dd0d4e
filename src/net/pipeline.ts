/**
 * The packet pipeline: captured packets → decoded headers → IP reassembly → bidirectional flows →
 * names (DNS answers, TLS SNI, QUIC Initial SNI, HTTP Host, DHCP, mDNS) → records for an observer.
 * The same pipeline serves capture files and live interfaces. It never throws on packet content: every
 * problem is counted in `stats`.
 *
 * Memory is bounded: the flow table has a hard cap (oldest flows are finalised early and counted as
 * evictions), per-flow stream buffers are capped and freed as soon as the names are known, and the DNS
 * answer cache has a cap with expiry.
 */
import type { CapturedPacket } from './capture/types.js';
import { decodeDhcp } from './decode/dhcp.js';
import { type DnsMessage, decodeDns, dnsAddressAnswers, dnsTcpMessages } from './decode/dns.js';
import { extractHttpBody, parseHttpRequestHead } from './decode/http.js';
import { blankPacket, decodePacket } from './decode/packet.js';
import { QuicSniExtractor } from './decode/quic.js';
import { extractClientHelloFromStream, parseClientHello } from './decode/tls.js';
import { type DecodedPacket, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpHeader } from './decode/types.js';
import { DnsCache } from './flows/dnsCache.js';
import type { AppProtocol, LookupRecord, PipelineObserver, Transport } from './flows/flowTypes.js';
import { IpReassembler } from './flows/ipReassembly.js';
import { TcpStream } from './flows/tcpStream.js';
import { quickClass } from './inspect/payloadClass.js';

export interface PipelineOptions {
  /** Hard cap on flows held in memory; past it the oldest flow is finalised early (counted). */
  maxFlows: number;
  tcpIdleMs: number;
  tcpClosedIdleMs: number;
  udpIdleMs: number;
  /** Bytes of each direction's stream kept for protocol parsing (ClientHello, HTTP head, DNS over TCP). */
  streamCap: number;
  /** Bytes of HTTP request body kept per request for inspection. */
  httpBodyCap: number;
  /** HTTP requests parsed per flow before the flow is left alone. */
  maxHttpRequestsPerFlow: number;
  /** Minimum lifetime of a DNS answer in the IP→name cache, whatever its TTL. */
  dnsTtlFloorMs: number;
  dnsCacheMax: number;
  /** Bytes of a non-TLS/QUIC/HTTP flow's first client payloads handed to `onPayload` (0: none). */
  payloadCap: number;
}

export const DEFAULT_PIPELINE_OPTIONS: PipelineOptions = {
  maxFlows: 100_000,
  tcpIdleMs: 5 * 60_000,
  tcpClosedIdleMs: 30_000,
  udpIdleMs: 2 * 60_000,
  streamCap: 32 * 1024,
  httpBodyCap: 64 * 1024,
  maxHttpRequestsPerFlow: 64,
  dnsTtlFloorMs: 10 * 60_000,
  dnsCacheMax: 200_000,
  payloadCap: 2048,
};

export interface PipelineStats {
  packets: number;
  bytes: number;
  /** Packets whose headers could not be decoded, or whose application message was malformed. */
  malformed: number;
  /** Packets cut short by the snap length or ending before their IP length. */
  truncated: number;
  /** Per-reason counts behind malformed/truncated, and other counted drops. */
  drops: Record<string, number>;
  flowsCreated: number;
  flowsEvicted: number;
  flowsActive: number;
  linkTypes: Set<number>;
  firstTsMs: number | null;
  lastTsMs: number | null;
}

/** Client addresses whose MAC the pipeline remembers (IPv4 and IPv6 of the LAN's devices). */
export const MAX_KNOWN_ADDRESSES = 65_536;

/** Ports that mark the server side of a flow whose first packet we did not see. */
const SERVICE_PORTS = new Set([
  20, 21, 22, 23, 25, 53, 67, 80, 110, 123, 143, 443, 465, 547, 587, 853, 993, 995, 1883, 1900, 3478, 5060, 5222, 5223,
  5228, 5353, 5355, 8080, 8443, 8883, 8888,
]);

function isServicePort(p: number): boolean {
  return p < 1024 || SERVICE_PORTS.has(p);
}

enum AppState {
  Detecting = 0,
  Http = 1,
  DnsTcp = 2,
  Done = 3,
}

class Flow {
  transport: Transport;
  protocol: AppProtocol = 'other';
  sni: string | null = null;
  quicSni: string | null = null;
  httpHosts: string[] = [];
  userAgents: string[] = [];
  alpn: string[] = [];
  ja3: string | null = null;
  ja4: string | null = null;
  tlsVersion: string | null = null;
  ech = false;
  quicVersion: string | null = null;
  packetsOut = 0;
  packetsIn = 0;
  bytesOut = 0;
  bytesIn = 0;
  lastTsMs: number;
  closed = false;
  app: AppState = AppState.Detecting;
  c2s: TcpStream | null = null;
  s2c: TcpStream | null = null;
  httpRequests = 0;
  /** UDP datagrams/TCP segments with payload looked at by the detectors. */
  payloadPackets = 0;
  encryptedGuess = false;
  /** Whether a record of this flow went out already (checkpoint), the counters it carried, and the time of
   * the first packet since (-1: none). */
  reported = false;
  rep = { packetsOut: 0, packetsIn: 0, bytesOut: 0, bytesIn: 0 };
  deltaFirstTsMs: number;
  /** Where the flow sits in Pipeline.index: its addresses and ports in canonical order (see onPacket). */
  ia = '';
  ib = '';
  ports = 0;
  #key: string | null = null;

  constructor(
    readonly clientId: string,
    readonly clientMac: string | null,
    readonly clientIp: string,
    readonly clientPort: number,
    readonly serverIp: string,
    readonly serverPort: number,
    readonly ipProtocol: number,
    readonly firstTsMs: number,
    readonly dnsNames: string[],
  ) {
    this.transport = ipProtocol === 6 ? 'tcp' : ipProtocol === 17 ? 'udp' : 'other';
    this.lastTsMs = firstTsMs;
    this.deltaFirstTsMs = firstTsMs;
  }

  /** "proto|addressA|portA|addressB|portB" in canonical order: a name for per-flow state elsewhere (QUIC). */
  get key(): string {
    this.#key ??= `${this.ipProtocol}|${this.ia}|${this.ports >>> 16}|${this.ib}|${this.ports & 0xffff}`;
    return this.#key;
  }
}

/** Flows by canonical address A, then address B, then both ports (see onPacket): one index per IP protocol. */
type FlowIndex = Map<string, Map<string, Map<number, Flow>>>;

function bump(drops: Record<string, number>, reason: string): void {
  drops[reason] = (drops[reason] ?? 0) + 1;
}

const TLS_VERSION_NAMES: Record<number, string> = {
  768: 'SSL 3.0',
  769: 'TLS 1.0',
  770: 'TLS 1.1',
  771: 'TLS 1.2',
  772: 'TLS 1.3',
};

function lowerHost(name: string): string {
  let n = name.toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  return n;
}

export class Pipeline {
  readonly stats: PipelineStats = {
    packets: 0,
    bytes: 0,
    malformed: 0,
    truncated: 0,
    drops: {},
    flowsCreated: 0,
    flowsEvicted: 0,
    flowsActive: 0,
    linkTypes: new Set(),
    firstTsMs: null,
    lastTsMs: null,
  };
  readonly dns: DnsCache;
  /** Active flows in creation order (the eviction order when the table is full). */
  private readonly flows = new Set<Flow>();
  /** The same flows indexed for the per-packet lookup, by IP protocol (see FlowIndex). */
  private readonly index: (FlowIndex | undefined)[] = [];
  private readonly reassembler = new IpReassembler();
  private readonly quic = new QuicSniExtractor();
  /** IP address → MAC address of the device that sent from it (LAN side), so IPv4 and IPv6 are one client. */
  private readonly macOfIp = new Map<string, string>();
  /** The packet each frame is decoded into, and its TCP header object (see decodePacket's `into`). */
  private readonly scratchTcp: TcpHeader = { seq: 0, ack: 0, flags: 0, window: 0 };
  private readonly scratch: DecodedPacket = blankPacket();
  /** The flow of the previous packet (still in the table), if any. */
  private last: Flow | null = null;
  private lastLinkType = -1;
  private readonly opts: PipelineOptions;
  private nextSweepTsMs = 0;

  constructor(
    private readonly observer: PipelineObserver = {},
    options: Partial<PipelineOptions> = {},
  ) {
    this.opts = { ...DEFAULT_PIPELINE_OPTIONS, ...options };
    this.dns = new DnsCache(this.opts.dnsCacheMax, this.opts.dnsTtlFloorMs);
  }

  /** Feed one captured packet. Never throws on packet content. */
  push(pkt: CapturedPacket): void {
    const st = this.stats;
    st.packets++;
    st.bytes += pkt.data.length;
    if (pkt.linkType !== this.lastLinkType) {
      st.linkTypes.add(pkt.linkType);
      this.lastLinkType = pkt.linkType;
    }
    const ts = pkt.tsMs;
    if (st.firstTsMs === null || ts < st.firstTsMs) st.firstTsMs = ts;
    if (st.lastTsMs === null || ts > st.lastTsMs) st.lastTsMs = ts;
    if (ts >= this.nextSweepTsMs) {
      this.sweep(ts);
      this.nextSweepTsMs = ts + 10_000;
    }

    let d: DecodedPacket | string;
    try {
      // One packet object (and TCP header object) for every frame: nothing below keeps it past this call.
      const into = this.scratch;
      into.tcp = this.scratchTcp;
      d = decodePacket(pkt.linkType, pkt.data, into);
    } catch {
      d = 'bad-transport-header';
    }
    if (typeof d === 'string') {
      bump(st.drops, d);
      if (d === 'truncated') st.truncated++;
      else if (d !== 'not-ip' && d !== 'unsupported-link') st.malformed++;
      return;
    }
    if (d.truncated || pkt.origLen > pkt.data.length) {
      st.truncated++;
      bump(st.drops, 'truncated');
    }
    if (d.fragment) {
      let whole: DecodedPacket | null = null;
      try {
        whole = this.reassembler.add(d, ts);
      } catch {
        bump(st.drops, 'fragment-error');
        st.malformed++;
        return;
      }
      if (!whole) return;
      d = whole;
    }
    try {
      this.onPacket(d, ts, pkt.origLen);
    } catch (err) {
      // A bug in a detector must not stop the capture: count it and move on.
      st.malformed++;
      bump(st.drops, `internal:${err instanceof Error ? err.name : 'error'}`);
    }
  }

  private clientIdFor(ip: string, mac: string | null): string {
    if (mac && !isGroupMac(mac)) return mac;
    return this.macOfIp.get(ip) ?? ip;
  }

  private onPacket(d: DecodedPacket, ts: number, wireLen: number): void {
    const proto = d.protocol;
    const sp = d.srcPort;
    const dp = d.dstPort;
    // Canonical order, so that both directions meet: the lower port's side first, the lower address when the
    // ports are equal (integer comparisons for nearly every packet). The lookup goes through a nested index
    // (protocol → address → address → ports) so that no key string is built per packet, and the ports make one
    // small integer (no heap number per packet).
    const aFirst = sp < dp || (sp === dp && d.src <= d.dst);
    const ia = aFirst ? d.src : d.dst;
    const ib = aFirst ? d.dst : d.src;
    const ports = aFirst ? (sp << 16) | dp : (dp << 16) | sp;
    // Packets come in bursts of one flow: the previous packet's flow is checked before the index.
    const last = this.last;
    let flow =
      last !== null && last.ports === ports && last.ipProtocol === proto && last.ia === ia && last.ib === ib
        ? last
        : this.index[proto]?.get(ia)?.get(ib)?.get(ports);
    if (flow && this.isIdle(flow, ts)) {
      this.finish(flow);
      flow = undefined;
    }
    let fromClient: boolean;
    if (!flow) {
      // Who started it: the SYN sender; else the side that is not on a service port; else the first sender.
      let clientIsSrc = true;
      if (d.tcp) {
        const syn = (d.tcp.flags & TCP_SYN) !== 0;
        const ack = (d.tcp.flags & TCP_ACK) !== 0;
        if (syn && ack) clientIsSrc = false;
        else if (!syn && isServicePort(sp) && !isServicePort(dp)) clientIsSrc = false;
      } else if (isServicePort(sp) && !isServicePort(dp)) {
        clientIsSrc = false;
      } else if (proto === 17 && sp === 67 && dp === 68) {
        clientIsSrc = false;
      }
      const cIp = clientIsSrc ? d.src : d.dst;
      const cMac = clientIsSrc ? d.srcMac : d.dstMac;
      const sIp = clientIsSrc ? d.dst : d.src;
      // Learn which MAC sends from this address (only for flow starters: a remote address arrives behind the
      // gateway's MAC), so that a phone's IPv4 and IPv6 flows are one client.
      if (cMac && !isGroupMac(cMac) && !this.macOfIp.has(cIp)) this.learnMac(cIp, cMac);
      const cId = this.clientIdFor(cIp, cMac);
      const names = this.dns.namesFor(cId, sIp, ts);
      flow = new Flow(
        cId,
        cMac && !isGroupMac(cMac) ? cMac : null,
        cIp,
        clientIsSrc ? sp : dp,
        sIp,
        clientIsSrc ? dp : sp,
        proto,
        ts,
        names,
      );
      if (this.flows.size >= this.opts.maxFlows) this.evictOldest();
      this.flows.add(flow);
      flow.ia = ia;
      flow.ib = ib;
      flow.ports = ports;
      let byProto = this.index[proto];
      if (byProto === undefined) {
        byProto = new Map();
        this.index[proto] = byProto;
      }
      let byA = byProto.get(ia);
      if (!byA) {
        byA = new Map();
        byProto.set(ia, byA);
      }
      let byB = byA.get(ib);
      if (!byB) {
        byB = new Map();
        byA.set(ib, byB);
      }
      byB.set(ports, flow);
      this.stats.flowsCreated++;
      fromClient = clientIsSrc;
    } else {
      fromClient = d.src === flow.clientIp && sp === flow.clientPort;
    }
    this.last = flow;
    flow.lastTsMs = ts;
    if (flow.deltaFirstTsMs < 0) flow.deltaFirstTsMs = ts;
    if (fromClient) {
      flow.packetsOut++;
      flow.bytesOut += wireLen;
    } else {
      flow.packetsIn++;
      flow.bytesIn += wireLen;
    }
    if (d.tcp) {
      if ((d.tcp.flags & (TCP_FIN | TCP_RST)) !== 0) flow.closed = true;
      this.onTcp(flow, d, fromClient, ts);
    } else if (proto === 17) {
      this.onUdp(flow, d, fromClient, ts);
    }
  }

  /** Client addresses whose MAC is known (bounded by {@link MAX_KNOWN_ADDRESSES}). */
  get knownAddresses(): number {
    return this.macOfIp.size;
  }

  /**
   * Remember which MAC uses an address. Bounded for an agent that runs for months (phones rotate their
   * temporary IPv6 addresses daily): at the cap the address learnt longest ago is forgotten.
   */
  private learnMac(ip: string, mac: string): void {
    const m = this.macOfIp;
    if (m.has(ip)) m.delete(ip);
    else if (m.size >= MAX_KNOWN_ADDRESSES) {
      const oldest = m.keys().next().value;
      if (oldest !== undefined) m.delete(oldest);
    }
    m.set(ip, mac);
  }

  private isIdle(flow: Flow, ts: number): boolean {
    const idle =
      flow.transport === 'tcp' ? (flow.closed ? this.opts.tcpClosedIdleMs : this.opts.tcpIdleMs) : this.opts.udpIdleMs;
    return ts - flow.lastTsMs > idle;
  }

  private evictOldest(): void {
    const first = this.flows.values().next();
    if (first.done) return;
    this.stats.flowsEvicted++;
    this.finish(first.value);
  }

  /** Finalise flows idle at capture time `ts`. */
  sweep(ts: number): void {
    for (const flow of this.flows.values()) if (this.isIdle(flow, ts)) this.finish(flow);
    this.reassembler.expire(ts);
  }

  /** Finalise every flow (end of file, or a live flush before shutdown). */
  flush(): void {
    for (const flow of [...this.flows.values()]) this.finish(flow);
  }

  get activeFlows(): number {
    return this.flows.size;
  }

  private finish(flow: Flow): void {
    if (this.last === flow) this.last = null;
    this.flows.delete(flow);
    const byProto = this.index[flow.ipProtocol];
    const byA = byProto?.get(flow.ia);
    const byB = byA?.get(flow.ib);
    if (byProto && byA && byB?.get(flow.ports) === flow) {
      byB.delete(flow.ports);
      if (byB.size === 0) {
        byA.delete(flow.ib);
        if (byA.size === 0) byProto.delete(flow.ia);
      }
    }
    this.stats.flowsActive = this.flows.size;
    flow.c2s = null;
    flow.s2c = null;
    // A flow already reported by a checkpoint and silent since has nothing left to say.
    if (!flow.reported || flow.deltaFirstTsMs >= 0) this.emit(flow);
  }

  /**
   * Report the traffic of long-lived flows so far (live capture: a connection held open for hours must not
   * wait for its end to show up). Only flows older than `minAgeMs` — their names are settled by then — with
   * packets since their last record. The records carry the counters since the previous one and
   * `continued: true` after the first, so aggregates count each flow once.
   */
  checkpoint(ts: number, minAgeMs = 60_000): number {
    let n = 0;
    for (const flow of this.flows.values()) {
      if (flow.deltaFirstTsMs >= 0 && ts - flow.firstTsMs >= minAgeMs) {
        this.emit(flow);
        n++;
      }
    }
    return n;
  }

  private emit(flow: Flow): void {
    const continued = flow.reported;
    const r = flow.rep;
    const rec = {
      packetsOut: flow.packetsOut - r.packetsOut,
      packetsIn: flow.packetsIn - r.packetsIn,
      bytesOut: flow.bytesOut - r.bytesOut,
      bytesIn: flow.bytesIn - r.bytesIn,
    };
    const firstTsMs = continued ? flow.deltaFirstTsMs : flow.firstTsMs;
    flow.reported = true;
    flow.rep = {
      packetsOut: flow.packetsOut,
      packetsIn: flow.packetsIn,
      bytesOut: flow.bytesOut,
      bytesIn: flow.bytesIn,
    };
    flow.deltaFirstTsMs = -1;
    if (!this.observer.onFlow) return;
    const encrypted =
      flow.protocol === 'tls' || flow.protocol === 'quic'
        ? true
        : flow.protocol === 'other'
          ? flow.encryptedGuess
          : false;
    this.observer.onFlow({
      clientId: flow.clientId,
      clientMac: flow.clientMac,
      clientIp: flow.clientIp,
      clientPort: flow.clientPort,
      serverIp: flow.serverIp,
      serverPort: flow.serverPort,
      transport: flow.transport,
      ipProtocol: flow.ipProtocol,
      protocol: flow.protocol,
      sni: flow.sni,
      quicSni: flow.quicSni,
      httpHosts: flow.httpHosts,
      dnsNames: flow.dnsNames,
      alpn: flow.alpn,
      ja3: flow.ja3,
      ja4: flow.ja4,
      tlsVersion: flow.tlsVersion,
      ech: flow.ech,
      quicVersion: flow.quicVersion,
      userAgents: flow.userAgents,
      ...rec,
      firstTsMs,
      lastTsMs: flow.lastTsMs,
      encrypted,
      continued,
    });
  }

  // ---------------------------------------------------------------- TCP

  private onTcp(flow: Flow, d: DecodedPacket, fromClient: boolean, ts: number): void {
    if (flow.app === AppState.Done) return;
    // Only DNS over TCP reads what the server sends (its answers). Elsewhere the server's bytes are never looked
    // at, so they are not buffered either: HTTP responses were most of the bytes copied into streams.
    if (!fromClient && flow.app !== AppState.DnsTcp && !onDnsPort(flow)) return;
    const tcp = d.tcp!;
    const syn = (tcp.flags & TCP_SYN) !== 0;
    if (syn) {
      const s = this.stream(flow, fromClient);
      s.onSyn(tcp.seq);
      return;
    }
    if (d.payload.length === 0) return;
    const s = this.stream(flow, fromClient);
    s.push(tcp.seq, d.payload, tcp.flags);
    if (fromClient || flow.app === AppState.DnsTcp) this.detectTcp(flow, fromClient, ts);
  }

  private stream(flow: Flow, fromClient: boolean): TcpStream {
    if (fromClient) {
      if (!flow.c2s) flow.c2s = new TcpStream({ cap: this.opts.streamCap + this.opts.httpBodyCap });
      return flow.c2s;
    }
    if (!flow.s2c) flow.s2c = new TcpStream({ cap: this.opts.streamCap });
    return flow.s2c;
  }

  private detectTcp(flow: Flow, fromClient: boolean, ts: number): void {
    if (flow.app === AppState.Detecting) {
      if (onDnsPort(flow)) {
        flow.app = AppState.DnsTcp;
        flow.protocol = 'dns';
      }
    }
    if (flow.app === AppState.DnsTcp) {
      this.dnsOverTcp(flow, fromClient, ts);
      return;
    }
    const c2s = flow.c2s;
    if (!c2s) return;
    const data = c2s.contiguous();
    if (data.length === 0) return;
    if (flow.app === AppState.Detecting) {
      const tls = extractClientHelloFromStream(data);
      if (tls.status === 'ok' && tls.hello) {
        const h = tls.hello;
        flow.protocol = 'tls';
        if (h.sni) flow.sni = lowerHost(h.sni);
        flow.alpn = h.alpn;
        flow.ja3 = h.ja3Hash;
        flow.ja4 = h.ja4;
        const v = h.supportedVersions.length > 0 ? Math.max(...h.supportedVersions) : h.legacyVersion;
        flow.tlsVersion = TLS_VERSION_NAMES[v] ?? `0x${v.toString(16)}`;
        flow.ech = h.ech.present;
        this.doneWithStreams(flow);
        return;
      }
      if (tls.status === 'need-more') {
        if (data.length >= this.opts.streamCap) {
          bump(this.stats.drops, 'tls-clienthello-too-large');
          this.doneWithStreams(flow);
        }
        return;
      }
      if (tls.status === 'malformed') {
        // Looked like TLS but is not a sound ClientHello.
        flow.protocol = 'tls';
        this.stats.malformed++;
        bump(this.stats.drops, 'tls-malformed');
        this.doneWithStreams(flow);
        return;
      }
      const http = parseHttpRequestHead(data);
      if (http.status === 'not-http') {
        flow.encryptedGuess = looksEncrypted(data);
        this.payload(flow, data, ts);
        this.doneWithStreams(flow);
        return;
      }
      if (http.status === 'need-more') return;
      if (http.status === 'malformed') {
        // A request line that goes wrong: still clear text, so it is inspected like any other payload.
        this.stats.malformed++;
        bump(this.stats.drops, 'http-malformed');
        this.payload(flow, data, ts);
        this.doneWithStreams(flow);
        return;
      }
      flow.app = AppState.Http;
      flow.protocol = 'http';
    }
    if (flow.app === AppState.Http) this.httpRequests(flow, ts);
  }

  private httpRequests(flow: Flow, ts: number): void {
    const c2s = flow.c2s;
    if (!c2s) return;
    for (;;) {
      const data = c2s.contiguous();
      if (data.length === 0) return;
      const head = parseHttpRequestHead(data);
      if (head.status === 'need-more') {
        if (data.length >= this.opts.streamCap) this.doneWithStreams(flow);
        return;
      }
      if (head.status !== 'ok' || !head.request || head.headerLength === undefined) {
        if (head.status === 'malformed') {
          this.stats.malformed++;
          bump(this.stats.drops, 'http-malformed');
        }
        this.doneWithStreams(flow);
        return;
      }
      const req = head.request;
      const body = extractHttpBody(data, req, head.headerLength, this.opts.httpBodyCap);
      if (body.status === 'need-more' && data.length < this.opts.streamCap + this.opts.httpBodyCap && !c2s.full) {
        return; // wait for the rest of the body
      }
      if (req.host && !flow.httpHosts.includes(req.host)) flow.httpHosts.push(req.host);
      if (req.userAgent && flow.userAgents.length < 8 && !flow.userAgents.includes(req.userAgent)) {
        flow.userAgents.push(req.userAgent);
      }
      this.observer.onHttpRequest?.({
        clientId: flow.clientId,
        serverIp: flow.serverIp,
        serverPort: flow.serverPort,
        host: req.host,
        method: req.method,
        target: req.target,
        headers: req.headers,
        body: body.body.slice(),
        bodyComplete: body.status === 'ok',
        contentEncoding: req.contentEncoding,
        contentType: req.contentType,
        tsMs: ts,
      });
      flow.httpRequests++;
      const consumed = body.status === 'ok' ? body.consumed : data.length;
      if (flow.httpRequests >= this.opts.maxHttpRequestsPerFlow || body.status !== 'ok') {
        this.doneWithStreams(flow);
        return;
      }
      c2s.consume(consumed);
    }
  }

  /** The first client bytes of an unidentified flow, for plaintext inspection (bounded copy). */
  private payload(flow: Flow, data: Uint8Array, ts: number): void {
    if (!this.observer.onPayload || this.opts.payloadCap <= 0 || data.length === 0) return;
    this.observer.onPayload({
      clientId: flow.clientId,
      serverIp: flow.serverIp,
      serverPort: flow.serverPort,
      transport: flow.transport,
      dnsNames: flow.dnsNames,
      payload: data.slice(0, this.opts.payloadCap),
      tsMs: ts,
    });
  }

  private dnsOverTcp(flow: Flow, fromClient: boolean, ts: number): void {
    const s = fromClient ? flow.c2s : flow.s2c;
    if (!s) return;
    const { messages, consumed } = dnsTcpMessages(s.contiguous());
    for (const m of messages) this.dnsMessage(flow, m, fromClient, ts, true);
    if (consumed > 0) s.consume(consumed);
    if (s.full) this.doneWithStreams(flow);
  }

  private doneWithStreams(flow: Flow): void {
    flow.app = AppState.Done;
    flow.c2s = null;
    flow.s2c = null;
  }

  // ---------------------------------------------------------------- UDP

  private onUdp(flow: Flow, d: DecodedPacket, fromClient: boolean, ts: number): void {
    const p = d.payload;
    if (p.length === 0) return;
    const sp = flow.serverPort;
    const cp = flow.clientPort;
    if (sp === 53 || sp === 5353 || sp === 5355 || cp === 5353) {
      flow.protocol = sp === 53 ? 'dns' : 'mdns';
      this.dnsMessage(flow, p, fromClient, ts, false);
      return;
    }
    if (sp === 67 || sp === 68 || cp === 67 || cp === 68) {
      flow.protocol = 'dhcp';
      this.dhcp(p, d, ts);
      return;
    }
    if (flow.app === AppState.Done) return;
    // QUIC: a long-header packet (first bit set) on any port; the extractor keeps per-flow state.
    if ((p[0]! & 0x80) !== 0 || flow.protocol === 'quic' || sp === 443) {
      const r = this.quic.onDatagram(flow.key, fromClient, p, ts);
      if (r) {
        flow.protocol = 'quic';
        flow.quicVersion = r.versionName;
        if (r.kind === 'tls') {
          try {
            const h = parseClientHello(r.clientHello, 'quic');
            if (h.sni) flow.quicSni = lowerHost(h.sni);
            flow.alpn = h.alpn;
            flow.ja4 = h.ja4;
            flow.ja3 = h.ja3Hash;
            flow.tlsVersion = 'TLS 1.3';
            flow.ech = h.ech.present;
          } catch {
            this.stats.malformed++;
            bump(this.stats.drops, 'quic-clienthello-malformed');
          }
        } else {
          if (r.sni) flow.quicSni = lowerHost(r.sni);
          if (r.uaid && flow.userAgents.length < 8) flow.userAgents.push(r.uaid);
        }
        flow.app = AppState.Done;
        return;
      }
    }
    flow.payloadPackets++;
    if (flow.protocol === 'other' && flow.payloadPackets <= 3 && fromClient) {
      flow.encryptedGuess = looksEncrypted(p);
      this.payload(flow, p, ts);
    }
    if (flow.payloadPackets > 8) flow.app = AppState.Done;
  }

  private dnsMessage(flow: Flow, bytes: Uint8Array, fromClient: boolean, ts: number, overTcp: boolean): void {
    let msg: DnsMessage;
    try {
      msg = decodeDns(bytes);
    } catch {
      this.stats.malformed++;
      bump(this.stats.drops, 'dns-malformed');
      return;
    }
    const protocol: 'dns' | 'mdns' | 'llmnr' =
      flow.serverPort === 5353 ? 'mdns' : flow.serverPort === 5355 ? 'llmnr' : 'dns';
    if (protocol === 'mdns') {
      this.mdns(flow, msg, fromClient, ts);
      return;
    }
    if (!msg.response) {
      if (!fromClient) return;
      for (const q of msg.questions) {
        this.observer.onLookup?.({
          clientId: flow.clientId,
          name: lowerHost(q.name),
          type: dnsTypeName(q.type),
          answers: [],
          protocol,
          tsMs: ts,
          overTcp,
        });
      }
      return;
    }
    // A response: feed the IP→name cache of the client that asked, and report the answers.
    const answers = dnsAddressAnswers(msg);
    const owners: string[] = [];
    for (const a of answers) {
      const owner = lowerHost(a.name);
      owners.push(owner);
      const names = [owner];
      for (const v of a.via) names.push(lowerHost(v));
      this.dns.add(flow.clientId, a.address, names, a.ttl, ts);
    }
    const onLookup = this.observer.onLookup;
    if (!onLookup) return;
    // Every question's answers: the CNAME targets in the answer section, then its own addresses, each once.
    const cnames: string[] = [];
    for (const rr of msg.answers) {
      if (rr.type === 5 && typeof rr.data === 'string') cnames.push(lowerHost(rr.data));
    }
    for (const q of msg.questions) {
      const qn = lowerHost(q.name);
      const list = cnames.slice();
      let ttl = Number.POSITIVE_INFINITY;
      for (let i = 0; i < answers.length; i++) {
        if (owners[i] !== qn) continue;
        const a = answers[i]!;
        if (a.ttl < ttl) ttl = a.ttl;
        list.push(a.address);
      }
      const rec: LookupRecord = {
        clientId: flow.clientId,
        name: qn,
        type: dnsTypeName(q.type),
        answers: list.length > 1 ? [...new Set(list)] : list,
        protocol,
        tsMs: ts,
        overTcp,
      };
      if (ttl !== Number.POSITIVE_INFINITY) rec.ttl = ttl;
      onLookup.call(this.observer, rec);
    }
  }

  private mdns(flow: Flow, msg: DnsMessage, fromClient: boolean, ts: number): void {
    for (const q of msg.questions) {
      this.observer.onLookup?.({
        clientId: flow.clientId,
        name: lowerHost(q.name),
        type: dnsTypeName(q.type),
        answers: [],
        protocol: 'mdns',
        tsMs: ts,
        overTcp: false,
      });
    }
    if (!msg.response) return;
    // The device announcing itself: its A/AAAA records name the host (e.g. "Galaxy-S21.local").
    for (const rr of msg.answers.concat(msg.additionals)) {
      if ((rr.type === 1 || rr.type === 28) && typeof rr.data === 'string' && rr.data === flow.clientIp) {
        this.observer.onClient?.({
          clientId: flow.clientId,
          mac: flow.clientMac,
          ip: flow.clientIp,
          mdnsName: rr.name.replace(/\.$/, ''),
          tsMs: ts,
        });
        break;
      }
    }
    void fromClient;
  }

  private dhcp(payload: Uint8Array, d: DecodedPacket, ts: number): void {
    let m: ReturnType<typeof decodeDhcp>;
    try {
      m = decodeDhcp(payload);
    } catch {
      this.stats.malformed++;
      bump(this.stats.drops, 'dhcp-malformed');
      return;
    }
    if (m.malformed) {
      this.stats.malformed++;
      bump(this.stats.drops, 'dhcp-malformed');
    }
    if (m.op !== 1 || !m.clientMac) return; // only what clients say about themselves
    const ip = m.requestedIp ?? (m.ciaddr && m.ciaddr !== '0.0.0.0' ? m.ciaddr : null);
    if (ip) this.learnMac(ip, m.clientMac);
    if (d.src !== '0.0.0.0') this.learnMac(d.src, m.clientMac);
    this.observer.onClient?.({
      clientId: m.clientMac,
      mac: m.clientMac,
      ip: ip ?? (d.src !== '0.0.0.0' ? d.src : null),
      hostname: m.hostname ?? undefined,
      vendorClass: m.vendorClass ?? undefined,
      dhcpFingerprint: m.fingerprint ?? undefined,
      requestedIp: m.requestedIp ?? undefined,
      tsMs: ts,
    });
  }
}

/** A TCP flow on DNS's port, whichever side: DNS over TCP once it carries data. */
function onDnsPort(flow: Flow): boolean {
  return flow.serverPort === 53 || flow.clientPort === 53;
}

/** Group (multicast/broadcast) MACs never identify a device. */
function isGroupMac(mac: string): boolean {
  const c = mac.charCodeAt(1);
  // second hex digit of the first octet: odd → group bit set
  const v = c <= 57 ? c - 48 : (c | 0x20) - 87;
  return (v & 1) === 1;
}

const DNS_TYPES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  41: 'OPT',
  64: 'SVCB',
  65: 'HTTPS',
  255: 'ANY',
};

export function dnsTypeName(t: number): string {
  return DNS_TYPES[t] ?? `TYPE${t}`;
}

/**
 * Whether a flow's first payload is encrypted, by the measured default classifier of the plaintext inspection
 * stage (format sniff, UTF-8-aware text ratio, chi-square; docs/plaintext-inspection.md). Compressed and
 * plaintext payloads are not encrypted; payloads under 32 bytes are too short to tell and count as not.
 */
export function looksEncrypted(p: Uint8Array): boolean {
  if (p.length < 32) return false;
  // Magic numbers and statistics only: this runs for every new unidentified flow, and the trial decode of the
  // full classifier is left to plaintext inspection, which needs it to decompress anyway.
  return quickClass(p) === 'encrypted';
}
