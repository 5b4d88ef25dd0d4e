/**
 * `bandguard report`: what the store holds, in the `analyze --format json` contract. The stored aggregates
 * are replayed, in time order, into the same ReportBuilder that `analyze` uses (same merge rules, same
 * classification, same sorting), so a week of live capture and a capture file read the same way.
 */
import { linkTypeName } from '../net/decode/linkTypes.js';
import type { FlowRecord, LookupRecord } from '../net/flows/flowTypes.js';
import { type AnalyzeReport, type ContactClassifier, ReportBuilder } from '../net/report.js';
import type { NetStore, TimeQuery } from '../store/netStore.js';

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(Math.round(ms)).toISOString();
}

export function storedReport(store: NetStore, q: TimeQuery, classifier: ContactClassifier | null): AnalyzeReport {
  const builder = new ReportBuilder(classifier);
  const clients = store.clients(q.client !== undefined ? { client: q.client } : {});
  const contacts = store.contacts(q);
  const lookups = store.lookups(q);
  const inRange = new Set<string>();
  for (const c of contacts) inRange.add(c.clientId);
  const uaPending = new Map<string, string[]>();
  for (const c of clients) {
    // A client is in the report when it was seen in the range (or did something in it).
    const seen = (q.since === undefined || c.lastSeen >= q.since) && (q.until === undefined || c.firstSeen < q.until);
    if (!seen && !inRange.has(c.id)) continue;
    for (const ip of c.ips.keys()) builder.onClient({ clientId: c.id, mac: c.mac, ip, tsMs: c.lastSeen });
    const obs: Parameters<ReportBuilder['onClient']>[0] = { clientId: c.id, mac: c.mac, ip: null, tsMs: c.lastSeen };
    if (c.hostname !== null) obs.hostname = c.hostname;
    if (c.vendorClass !== null) obs.vendorClass = c.vendorClass;
    if (c.mdnsName !== null) obs.mdnsName = c.mdnsName;
    if (c.dhcpFingerprint !== null) obs.dhcpFingerprint = c.dhcpFingerprint;
    builder.onClient(obs);
    if (c.userAgents.length > 0) uaPending.set(c.id, c.userAgents);
  }

  for (const c of contacts) {
    const ua = uaPending.get(c.clientId) ?? [];
    uaPending.delete(c.clientId);
    const base: FlowRecord = {
      clientId: c.clientId,
      clientMac: null,
      clientIp: '0.0.0.0',
      clientPort: 0,
      serverIp: c.serverIp,
      serverPort: c.port,
      transport: c.transport as FlowRecord['transport'],
      ipProtocol: c.transport === 'tcp' ? 6 : c.transport === 'udp' ? 17 : 0,
      protocol: c.protocol as FlowRecord['protocol'],
      sni: c.sni,
      quicSni: c.quicSni,
      httpHosts: c.httpHosts,
      dnsNames: c.dnsNames,
      alpn: c.alpn,
      ja3: c.ja3,
      ja4: c.ja4,
      tlsVersion: c.tlsVersion,
      ech: c.ech,
      quicVersion: c.quicVersion,
      userAgents: ua,
      packetsOut: c.packets,
      packetsIn: 0,
      bytesOut: c.bytesOut,
      bytesIn: c.bytesIn,
      firstTsMs: c.firstTs,
      lastTsMs: c.lastTs,
      encrypted: c.encrypted,
    };
    builder.onFlow(base);
    if (c.flows > 1) {
      // The row stands for `flows` flows: the others add their count and nothing else.
      const rest: FlowRecord = { ...base, userAgents: [], packetsOut: 0, bytesOut: 0, bytesIn: 0 };
      for (let i = 1; i < c.flows; i++) builder.onFlow(rest);
    }
  }

  const seenKey = new Set<string>();
  for (const l of lookups) {
    const key = `${l.clientId}\u0000${l.name}\u0000${l.type}`;
    const first = !seenKey.has(key);
    seenKey.add(key);
    const rec = (answers: string[]): LookupRecord => ({
      clientId: l.clientId,
      name: l.name,
      type: l.type,
      answers,
      protocol: l.protocol as LookupRecord['protocol'],
      tsMs: l.firstTs,
      overTcp: false,
    });
    const empty = rec([]);
    if (first && l.answeredFirst) {
      builder.onLookup(rec(l.answers));
      for (let i = 0; i < l.questions; i++) builder.onLookup(empty);
    } else {
      for (let i = 0; i < l.questions; i++) builder.onLookup(empty);
      if (l.answers.length > 0) builder.onLookup(rec(l.answers));
    }
  }

  // Capture counters of the buckets in range.
  let packets = 0;
  let bytes = 0;
  let malformed = 0;
  let truncated = 0;
  let flows = 0;
  let flowsEvicted = 0;
  let start: number | null = null;
  let end: number | null = null;
  const drops: Record<string, number> = {};
  const linkTypes = new Set<number>();
  const sources = new Set<string>();
  for (const b of store.captureBuckets(q)) {
    sources.add(b.source);
    packets += b.packets;
    bytes += b.bytes;
    malformed += b.malformed;
    truncated += b.truncated;
    flows += b.flows;
    flowsEvicted += b.flowsEvicted;
    for (const [k, v] of Object.entries(b.drops)) drops[k] = (drops[k] ?? 0) + v;
    for (const t of b.linkTypes) if (/^\d+$/.test(t)) linkTypes.add(Number(t));
    if (b.firstTs !== null && (start === null || b.firstTs < start)) start = b.firstTs;
    if (b.lastTs !== null && (end === null || b.lastTs > end)) end = b.lastTs;
  }
  const report = builder.build({
    files: [...sources],
    packets,
    bytes,
    start: iso(start),
    end: iso(end),
    linkTypes: [...linkTypes].sort((a, b) => a - b).map(linkTypeName),
    malformed,
    truncated,
    drops,
    flows,
    flowsEvicted,
  });
  report.leaks = store.leaks(q).map((k) => ({
    client: k.clientId,
    name: k.name,
    serverIp: k.serverIp,
    protocol: k.protocol,
    kind: k.kind,
    term: k.term,
    evidence: k.evidence,
    encoding: k.encoding,
    firstSeen: new Date(Math.round(k.firstSeen)).toISOString(),
    count: k.count,
  }));
  report.events = store.events(q).map((e) => ({
    client: e.clientId,
    app: e.app,
    kind: e.kind,
    at: new Date(Math.round(e.tsMs)).toISOString(),
    evidence: e.evidence,
  }));
  return report;
}
