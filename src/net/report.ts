/**
 * Aggregates pipeline records into the `analyze --format json` contract of design.md: clients, contacts
 * (one per client × name × server IP × port), lookups, leaks and events.
 */

import { compareText } from '../core/compare.js';
import type {
  ClientObservation,
  FlowRecord,
  HttpObservation,
  LookupRecord,
  PipelineObserver,
} from './flows/flowTypes.js';

export type Party = 'first' | 'third' | 'local' | 'unknown';
export type NameSource = 'sni' | 'quic-sni' | 'http-host' | 'dns' | 'none';

export interface ReportClient {
  id: string;
  mac: string | null;
  ips: string[];
  hostname: string | null;
  vendorClass: string | null;
  vendor: string | null;
  apps: string[];
  /** Extra detail beyond the contract. */
  mdnsName: string | null;
  dhcpFingerprint: string | null;
  userAgents: string[];
}

export interface ReportContact {
  client: string;
  name: string | null;
  names: string[];
  registrableDomain: string | null;
  serverIp: string;
  port: number;
  transport: 'tcp' | 'udp' | 'other';
  protocol: 'tls' | 'quic' | 'http' | 'dns' | 'mdns' | 'dhcp' | 'other';
  nameSource: NameSource;
  party: Party;
  app: string | null;
  role: string;
  organization: string | null;
  ownerCountry: string | null;
  country: string | null;
  asn: number | null;
  asOrganization: string | null;
  flows: number;
  packets: number;
  bytesOut: number;
  bytesIn: number;
  firstSeen: string;
  lastSeen: string;
  encrypted: boolean;
  /** Per-source names and TLS facts (additions to the contract, never removed). */
  sni: string | null;
  quicSni: string | null;
  httpHost: string | null;
  alpn: string[];
  ja3: string | null;
  ja4: string | null;
  tlsVersion: string | null;
  ech: boolean;
  quicVersion: string | null;
}

export interface ReportLookup {
  client: string;
  name: string;
  type: string;
  answers: string[];
  count: number;
  contacted: boolean;
  protocol: 'dns' | 'mdns' | 'llmnr';
}

export interface ReportLeak {
  client: string;
  name: string | null;
  serverIp: string;
  protocol: string;
  kind: string;
  term: string;
  evidence: string;
  encoding: string;
  firstSeen: string;
  count: number;
}

export interface ReportEvent {
  client: string;
  app: string | null;
  kind: string;
  at: string;
  evidence: string;
}

export interface AnalyzeReport {
  version: 1;
  capture: {
    files: string[];
    packets: number;
    bytes: number;
    start: string | null;
    end: string | null;
    linkTypes: string[];
    malformed: number;
    truncated: number;
    drops: Record<string, number>;
    flows: number;
    flowsEvicted: number;
  };
  clients: ReportClient[];
  contacts: ReportContact[];
  lookups: ReportLookup[];
  leaks: ReportLeak[];
  events: ReportEvent[];
}

/** What classification adds to a contact (filled by src/net/classify once the knowledge base is loaded). */
export interface Classification {
  registrableDomain: string | null;
  party: Party;
  app: string | null;
  role: string;
  organization: string | null;
  ownerCountry: string | null;
  country: string | null;
  asn: number | null;
  asOrganization: string | null;
}

/** Where the report's leaks and events come from (the plaintext inspection stage, src/net/inspect). */
export interface LeakSource {
  results(ctx: { contacts: ReportContact[]; clients: ReportClient[] }): { leaks: ReportLeak[]; events: ReportEvent[] };
}

export interface ContactClassifier {
  classify(name: string | null, serverIp: string, port: number, protocol: string, clientApps: string[]): Classification;
  /** Apps a client runs, inferred from the names it contacted and its user agents. */
  appsOf?(names: string[], userAgents: string[]): string[];
  vendorOfMac?(mac: string): string | null;
}

interface ContactAgg {
  client: string;
  serverIp: string;
  port: number;
  transport: 'tcp' | 'udp' | 'other';
  protocol: ReportContact['protocol'];
  sni: string | null;
  quicSni: string | null;
  httpHosts: string[];
  dnsNames: string[];
  alpn: string[];
  ja3: string | null;
  ja4: string | null;
  tlsVersion: string | null;
  ech: boolean;
  quicVersion: string | null;
  flows: number;
  packets: number;
  bytesOut: number;
  bytesIn: number;
  firstTsMs: number;
  lastTsMs: number;
  encrypted: boolean;
}

interface ClientAgg {
  id: string;
  mac: string | null;
  ips: Set<string>;
  hostname: string | null;
  vendorClass: string | null;
  mdnsName: string | null;
  dhcpFingerprint: string | null;
  userAgents: Set<string>;
}

interface LookupAgg {
  client: string;
  name: string;
  type: string;
  answers: Set<string>;
  count: number;
  protocol: 'dns' | 'mdns' | 'llmnr';
}

function iso(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}

const PROTOCOL_RANK: Record<ReportContact['protocol'], number> = {
  other: 0,
  dhcp: 1,
  dns: 1,
  mdns: 1,
  http: 2,
  tls: 3,
  quic: 3,
};

/** The name a flow is best known by and where it came from (SNI > QUIC SNI > HTTP Host > DNS answer). */
export function bestName(f: { sni: string | null; quicSni: string | null; httpHosts: string[]; dnsNames: string[] }): {
  name: string | null;
  source: NameSource;
} {
  if (f.sni) return { name: f.sni, source: 'sni' };
  if (f.quicSni) return { name: f.quicSni, source: 'quic-sni' };
  if (f.httpHosts[0]) return { name: f.httpHosts[0], source: 'http-host' };
  if (f.dnsNames[0]) return { name: f.dnsNames[0], source: 'dns' };
  return { name: null, source: 'none' };
}

export class ReportBuilder implements PipelineObserver {
  private readonly contacts = new Map<string, ContactAgg>();
  private readonly clients = new Map<string, ClientAgg>();
  private readonly lookups = new Map<string, LookupAgg>();
  readonly httpRequests: HttpObservation[] = [];
  private leakSource: LeakSource | null = null;

  constructor(private readonly classifier: ContactClassifier | null = null) {}

  /** Take the report's `leaks` and `events` from this source (without one they stay empty). */
  setLeakSource(source: LeakSource | null): void {
    this.leakSource = source;
  }

  private client(id: string): ClientAgg {
    let c = this.clients.get(id);
    if (!c) {
      c = {
        id,
        mac: null,
        ips: new Set(),
        hostname: null,
        vendorClass: null,
        mdnsName: null,
        dhcpFingerprint: null,
        userAgents: new Set(),
      };
      this.clients.set(id, c);
    }
    return c;
  }

  onFlow(f: FlowRecord): void {
    const c = this.client(f.clientId);
    if (f.clientMac) c.mac = f.clientMac;
    if (f.clientIp !== '0.0.0.0' && f.clientIp !== '::') c.ips.add(f.clientIp);
    for (const ua of f.userAgents) if (c.userAgents.size < 16) c.userAgents.add(ua);
    const { name } = bestName(f);
    const key = `${f.clientId}\u0000${name ?? ''}\u0000${f.serverIp}\u0000${f.serverPort}\u0000${f.transport}`;
    let a = this.contacts.get(key);
    if (!a) {
      a = {
        client: f.clientId,
        serverIp: f.serverIp,
        port: f.serverPort,
        transport: f.transport,
        protocol: f.protocol,
        sni: null,
        quicSni: null,
        httpHosts: [],
        dnsNames: [],
        alpn: [],
        ja3: null,
        ja4: null,
        tlsVersion: null,
        ech: false,
        quicVersion: null,
        flows: 0,
        packets: 0,
        bytesOut: 0,
        bytesIn: 0,
        firstTsMs: f.firstTsMs,
        lastTsMs: f.lastTsMs,
        encrypted: false,
      };
      this.contacts.set(key, a);
    }
    if (PROTOCOL_RANK[f.protocol] > PROTOCOL_RANK[a.protocol]) a.protocol = f.protocol;
    a.sni ??= f.sni;
    a.quicSni ??= f.quicSni;
    for (const h of f.httpHosts) if (!a.httpHosts.includes(h)) a.httpHosts.push(h);
    for (const n of f.dnsNames) if (!a.dnsNames.includes(n) && a.dnsNames.length < 16) a.dnsNames.push(n);
    if (f.alpn.length > 0 && a.alpn.length === 0) a.alpn = f.alpn;
    a.ja3 ??= f.ja3;
    a.ja4 ??= f.ja4;
    a.tlsVersion ??= f.tlsVersion;
    a.ech ||= f.ech;
    a.quicVersion ??= f.quicVersion;
    if (!f.continued) a.flows++;
    a.packets += f.packetsOut + f.packetsIn;
    a.bytesOut += f.bytesOut;
    a.bytesIn += f.bytesIn;
    if (f.firstTsMs < a.firstTsMs) a.firstTsMs = f.firstTsMs;
    if (f.lastTsMs > a.lastTsMs) a.lastTsMs = f.lastTsMs;
    a.encrypted ||= f.encrypted;
  }

  onLookup(l: LookupRecord): void {
    const key = `${l.clientId}\u0000${l.name}\u0000${l.type}`;
    let a = this.lookups.get(key);
    if (!a) {
      a = { client: l.clientId, name: l.name, type: l.type, answers: new Set(), count: 0, protocol: l.protocol };
      this.lookups.set(key, a);
    }
    // Count questions (queries), or responses when the capture has no query for them.
    if (l.answers.length === 0 || a.count === 0) a.count++;
    for (const x of l.answers) if (a.answers.size < 64) a.answers.add(x);
  }

  onClient(o: ClientObservation): void {
    const c = this.client(o.clientId);
    if (o.mac) c.mac = o.mac;
    if (o.ip) c.ips.add(o.ip);
    if (o.hostname) c.hostname = o.hostname;
    if (o.vendorClass) c.vendorClass = o.vendorClass;
    if (o.mdnsName) c.mdnsName = o.mdnsName;
    if (o.dhcpFingerprint) c.dhcpFingerprint = o.dhcpFingerprint;
  }

  onHttpRequest(r: HttpObservation): void {
    if (this.httpRequests.length < 10_000) this.httpRequests.push(r);
  }

  build(capture: AnalyzeReport['capture']): AnalyzeReport {
    const cls = this.classifier;
    // Apps per client, from everything it contacted.
    const namesByClient = new Map<string, string[]>();
    for (const a of this.contacts.values()) {
      const list = namesByClient.get(a.client) ?? [];
      const { name } = bestName(a);
      if (name) list.push(name);
      namesByClient.set(a.client, list);
    }
    const appsByClient = new Map<string, string[]>();
    for (const c of this.clients.values()) {
      appsByClient.set(c.id, cls?.appsOf?.(namesByClient.get(c.id) ?? [], [...c.userAgents]) ?? []);
    }

    const contacts: ReportContact[] = [];
    const contactedNames = new Set<string>();
    for (const a of this.contacts.values()) {
      const { name, source } = bestName(a);
      const names: string[] = [];
      for (const n of [a.sni, a.quicSni, ...a.httpHosts, ...a.dnsNames]) if (n && !names.includes(n)) names.push(n);
      for (const n of names) contactedNames.add(`${a.client}\u0000${n}`);
      const k = cls
        ? cls.classify(name, a.serverIp, a.port, a.protocol, appsByClient.get(a.client) ?? [])
        : defaultClassification(a.serverIp);
      contacts.push({
        client: a.client,
        name,
        names,
        registrableDomain: k.registrableDomain,
        serverIp: a.serverIp,
        port: a.port,
        transport: a.transport,
        protocol: a.protocol,
        nameSource: source,
        party: k.party,
        app: k.app,
        role: k.role,
        organization: k.organization,
        ownerCountry: k.ownerCountry,
        country: k.country,
        asn: k.asn,
        asOrganization: k.asOrganization,
        flows: a.flows,
        packets: a.packets,
        bytesOut: a.bytesOut,
        bytesIn: a.bytesIn,
        firstSeen: iso(a.firstTsMs),
        lastSeen: iso(a.lastTsMs),
        encrypted: a.encrypted,
        sni: a.sni,
        quicSni: a.quicSni,
        httpHost: a.httpHosts[0] ?? null,
        alpn: a.alpn,
        ja3: a.ja3,
        ja4: a.ja4,
        tlsVersion: a.tlsVersion,
        ech: a.ech,
        quicVersion: a.quicVersion,
      });
    }
    contacts.sort(
      (x, y) =>
        compareText(x.client, y.client) ||
        compareText(x.firstSeen, y.firstSeen) ||
        compareText(x.name ?? '', y.name ?? '') ||
        compareText(x.serverIp, y.serverIp) ||
        x.port - y.port,
    );

    const lookups: ReportLookup[] = [...this.lookups.values()]
      .map((l) => {
        let contacted = contactedNames.has(`${l.client}\u0000${l.name}`);
        if (!contacted) for (const x of l.answers) if (contactedNames.has(`${l.client}\u0000${x}`)) contacted = true;
        return {
          client: l.client,
          name: l.name,
          type: l.type,
          answers: [...l.answers],
          count: l.count,
          contacted,
          protocol: l.protocol,
        };
      })
      .sort((x, y) => compareText(x.client, y.client) || compareText(x.name, y.name) || compareText(x.type, y.type));

    const clients: ReportClient[] = [...this.clients.values()]
      .map((c) => ({
        id: c.id,
        mac: c.mac,
        ips: [...c.ips].sort(),
        hostname: c.hostname,
        vendorClass: c.vendorClass,
        vendor: c.mac ? (cls?.vendorOfMac?.(c.mac) ?? null) : null,
        apps: appsByClient.get(c.id) ?? [],
        mdnsName: c.mdnsName,
        dhcpFingerprint: c.dhcpFingerprint,
        userAgents: [...c.userAgents],
      }))
      .sort((x, y) => compareText(x.id, y.id));

    const { leaks, events } = this.leakSource?.results({ contacts, clients }) ?? { leaks: [], events: [] };
    return { version: 1, capture, clients, contacts, lookups, leaks, events };
  }
}

/** Without the knowledge base: LAN and multicast addresses are local, the rest unknown. */
export function defaultClassification(serverIp: string): Classification {
  const local = isLocalAddress(serverIp);
  return {
    registrableDomain: null,
    party: local ? 'local' : 'unknown',
    app: null,
    role: local ? 'local' : 'unknown',
    organization: null,
    ownerCountry: null,
    country: null,
    asn: null,
    asOrganization: null,
  };
}

/** Private, loopback, link-local, multicast and broadcast addresses (IPv4 and IPv6). */
export function isLocalAddress(ip: string): boolean {
  if (ip.includes(':')) {
    const l = ip.toLowerCase();
    return (
      l === '::1' ||
      l === '::' ||
      l.startsWith('fe8') ||
      l.startsWith('fe9') ||
      l.startsWith('fea') ||
      l.startsWith('feb') ||
      l.startsWith('fc') ||
      l.startsWith('fd') ||
      l.startsWith('ff')
    );
  }
  const p = ip.split('.').map(Number);
  const [a = 0, b = 0] = p;
  return (
    a === 10 ||
    a === 127 ||
    a === 0 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 169 && b === 254) ||
    a >= 224
  );
}
