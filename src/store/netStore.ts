/**
 * Repository for the network side: clients, contacts and lookups aggregated per time bucket (never a row per
 * packet or per flow), the names servers answered for, leaks, events, capture counters and status, the
 * write-batch journal and the audit log (tables of migration 2).
 *
 * `writeBatch` is the only way traffic enters the store: everything a batch carries, and its `write_batches`
 * row, commit in one transaction, so after a crash the database holds whole batches or nothing of them.
 * The merge rules (`mergeContact`, `mergeLookup`, `mergeClient`) are the ReportBuilder's, so that a report
 * read back from the store equals `analyze` of the same packets.
 */
import type { Db } from './db.js';

export const DAY_MS = 86_400_000;
const MAX_HTTP_HOSTS = 64;
const MAX_DNS_NAMES = 16;
const MAX_ANSWERS = 64;
const MAX_USER_AGENTS = 16;

export interface ContactAgg {
  bucketStart: number;
  bucketMs: number;
  clientId: string;
  /** Best name ('' when none). */
  name: string;
  serverIp: string;
  port: number;
  transport: string;
  protocol: string;
  sni: string | null;
  quicSni: string | null;
  httpHosts: string[];
  dnsNames: string[];
  alpn: string[];
  userAgents: string[];
  ja3: string | null;
  ja4: string | null;
  tlsVersion: string | null;
  ech: boolean;
  quicVersion: string | null;
  flows: number;
  packets: number;
  bytesOut: number;
  bytesIn: number;
  firstTs: number;
  lastTs: number;
  encrypted: boolean;
}

export interface LookupAgg {
  bucketStart: number;
  bucketMs: number;
  clientId: string;
  name: string;
  type: string;
  protocol: string;
  /** Records without answers. */
  questions: number;
  /** The first record of this key in the bucket carried answers. */
  answeredFirst: boolean;
  answers: string[];
  firstTs: number;
  lastTs: number;
}

export interface ClientAgg {
  id: string;
  mac: string | null;
  hostname: string | null;
  vendorClass: string | null;
  mdnsName: string | null;
  dhcpFingerprint: string | null;
  userAgents: string[];
  /** ip → [first, last] seen. */
  ips: Map<string, [number, number]>;
  firstSeen: number;
  lastSeen: number;
}

export interface CaptureAgg {
  bucketStart: number;
  bucketMs: number;
  source: string;
  packets: number;
  bytes: number;
  malformed: number;
  truncated: number;
  flows: number;
  flowsEvicted: number;
  linkTypes: string[];
  drops: Record<string, number>;
  firstTs: number | null;
  lastTs: number | null;
}

export interface LeakRecord {
  clientId: string;
  name: string | null;
  serverIp: string;
  protocol: string;
  kind: string;
  term: string;
  evidence: string;
  encoding: string;
  tsMs: number;
  count?: number;
}

/** A row of net_leaks as SQLite returns it. */
export interface LeakRowRaw {
  id: number;
  client_id: string;
  name: string;
  server_ip: string;
  protocol: string;
  kind: string;
  term: string;
  evidence: string;
  encoding: string;
  first_seen: number;
  last_seen: number;
  count: number;
}

export interface EventRecord {
  clientId: string;
  app: string | null;
  kind: string;
  tsMs: number;
  evidence: string;
}

export interface NameRecord {
  ip: string;
  name: string;
  tsMs: number;
}

export interface CaptureStatusRow {
  source: string;
  state: string;
  detail: string;
  filter: string;
  packets: number;
  bytes: number;
  kernelDrops: number | null;
  queueDrops: number;
  startedAt: number | null;
  updatedAt: number;
}

export interface WriteBatch {
  contacts: ContactAgg[];
  lookups: LookupAgg[];
  clients: ClientAgg[];
  names: NameRecord[];
  capture: CaptureAgg[];
  leaks: LeakRecord[];
  events: EventRecord[];
  status: CaptureStatusRow[];
}

export interface TimeQuery {
  /** Inclusive lower bound on the last time seen, epoch ms. */
  since?: number;
  /** Exclusive upper bound on the first time seen, epoch ms. */
  until?: number;
  client?: string;
}

export interface RetentionPolicy {
  detailDays: number;
  aggregateDays: number;
  eventsDays: number;
  auditDays: number;
}

export interface RetentionResult {
  contactsRolledUp: number;
  lookupsRolledUp: number;
  contactsDeleted: number;
  lookupsDeleted: number;
  captureDeleted: number;
  namesDeleted: number;
  leaksDeleted: number;
  eventsDeleted: number;
  auditDeleted: number;
  clientsDeleted: number;
  batchesDeleted: number;
}

export interface AuditEntry {
  id: number;
  ts: number;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------
// Merge rules (the ReportBuilder's, applied to aggregates). `a` is the earlier aggregate; it is updated.

const PROTOCOL_RANK: Record<string, number> = { other: 0, dhcp: 1, dns: 1, mdns: 1, http: 2, tls: 3, quic: 3 };

function unionInto(into: string[], from: readonly string[], cap: number): void {
  for (const x of from) if (into.length < cap && !into.includes(x)) into.push(x);
}

export function mergeContact(a: ContactAgg, b: ContactAgg): void {
  if ((PROTOCOL_RANK[b.protocol] ?? 0) > (PROTOCOL_RANK[a.protocol] ?? 0)) a.protocol = b.protocol;
  a.sni ??= b.sni;
  a.quicSni ??= b.quicSni;
  unionInto(a.httpHosts, b.httpHosts, MAX_HTTP_HOSTS);
  unionInto(a.dnsNames, b.dnsNames, MAX_DNS_NAMES);
  if (a.alpn.length === 0 && b.alpn.length > 0) a.alpn = [...b.alpn];
  unionInto(a.userAgents, b.userAgents, MAX_USER_AGENTS);
  a.ja3 ??= b.ja3;
  a.ja4 ??= b.ja4;
  a.tlsVersion ??= b.tlsVersion;
  a.ech ||= b.ech;
  a.quicVersion ??= b.quicVersion;
  a.flows += b.flows;
  a.packets += b.packets;
  a.bytesOut += b.bytesOut;
  a.bytesIn += b.bytesIn;
  if (b.firstTs < a.firstTs) a.firstTs = b.firstTs;
  if (b.lastTs > a.lastTs) a.lastTs = b.lastTs;
  a.encrypted ||= b.encrypted;
}

export function mergeLookup(a: LookupAgg, b: LookupAgg): void {
  a.questions += b.questions;
  unionInto(a.answers, b.answers, MAX_ANSWERS);
  if (b.firstTs < a.firstTs) a.firstTs = b.firstTs;
  if (b.lastTs > a.lastTs) a.lastTs = b.lastTs;
}

/** `b` is the later observation: its non-null attributes win (as in ReportBuilder.onClient). */
export function mergeClient(a: ClientAgg, b: ClientAgg): void {
  a.mac = b.mac ?? a.mac;
  a.hostname = b.hostname ?? a.hostname;
  a.vendorClass = b.vendorClass ?? a.vendorClass;
  a.mdnsName = b.mdnsName ?? a.mdnsName;
  a.dhcpFingerprint = b.dhcpFingerprint ?? a.dhcpFingerprint;
  unionInto(a.userAgents, b.userAgents, MAX_USER_AGENTS);
  for (const [ip, [f, l]] of b.ips) {
    const have = a.ips.get(ip);
    if (!have) a.ips.set(ip, [f, l]);
    else {
      if (f < have[0]) have[0] = f;
      if (l > have[1]) have[1] = l;
    }
  }
  if (b.firstSeen < a.firstSeen) a.firstSeen = b.firstSeen;
  if (b.lastSeen > a.lastSeen) a.lastSeen = b.lastSeen;
}

export function mergeCapture(a: CaptureAgg, b: CaptureAgg): void {
  a.packets += b.packets;
  a.bytes += b.bytes;
  a.malformed += b.malformed;
  a.truncated += b.truncated;
  a.flows += b.flows;
  a.flowsEvicted += b.flowsEvicted;
  unionInto(a.linkTypes, b.linkTypes, 64);
  for (const [k, v] of Object.entries(b.drops)) a.drops[k] = (a.drops[k] ?? 0) + v;
  if (b.firstTs !== null && (a.firstTs === null || b.firstTs < a.firstTs)) a.firstTs = b.firstTs;
  if (b.lastTs !== null && (a.lastTs === null || b.lastTs > a.lastTs)) a.lastTs = b.lastTs;
}

export function contactKey(c: {
  bucketStart: number;
  clientId: string;
  name: string;
  serverIp: string;
  port: number;
  transport: string;
}): string {
  return `${c.bucketStart}\u0000${c.clientId}\u0000${c.name}\u0000${c.serverIp}\u0000${c.port}\u0000${c.transport}`;
}

export function lookupKey(l: { bucketStart: number; clientId: string; name: string; type: string }): string {
  return `${l.bucketStart}\u0000${l.clientId}\u0000${l.name}\u0000${l.type}`;
}

// ---------------------------------------------------------------------------------------------------------
// Row mapping

interface ContactRowRaw {
  bucket_start: number;
  bucket_ms: number;
  client_id: string;
  name: string;
  server_ip: string;
  port: number;
  transport: string;
  protocol: string;
  sni: string | null;
  quic_sni: string | null;
  http_hosts: string;
  dns_names: string;
  alpn: string;
  user_agents: string;
  ja3: string | null;
  ja4: string | null;
  tls_version: string | null;
  ech: number;
  quic_version: string | null;
  flows: number;
  packets: number;
  bytes_out: number;
  bytes_in: number;
  first_ts: number;
  last_ts: number;
  encrypted: number;
}

function jsonList(s: string): string[] {
  try {
    const v = JSON.parse(s) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function jsonRecord(s: string): Record<string, number> {
  try {
    const v = JSON.parse(s) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, number>) : {};
  } catch {
    return {};
  }
}

function toContact(r: ContactRowRaw): ContactAgg {
  return {
    bucketStart: r.bucket_start,
    bucketMs: r.bucket_ms,
    clientId: r.client_id,
    name: r.name,
    serverIp: r.server_ip,
    port: r.port,
    transport: r.transport,
    protocol: r.protocol,
    sni: r.sni,
    quicSni: r.quic_sni,
    httpHosts: jsonList(r.http_hosts),
    dnsNames: jsonList(r.dns_names),
    alpn: jsonList(r.alpn),
    userAgents: jsonList(r.user_agents),
    ja3: r.ja3,
    ja4: r.ja4,
    tlsVersion: r.tls_version,
    ech: r.ech !== 0,
    quicVersion: r.quic_version,
    flows: r.flows,
    packets: r.packets,
    bytesOut: r.bytes_out,
    bytesIn: r.bytes_in,
    firstTs: r.first_ts,
    lastTs: r.last_ts,
    encrypted: r.encrypted !== 0,
  };
}

function contactParams(c: ContactAgg): unknown[] {
  return [
    c.bucketStart,
    c.bucketMs,
    c.clientId,
    c.name,
    c.serverIp,
    c.port,
    c.transport,
    c.protocol,
    c.sni,
    c.quicSni,
    JSON.stringify(c.httpHosts),
    JSON.stringify(c.dnsNames),
    JSON.stringify(c.alpn),
    JSON.stringify(c.userAgents),
    c.ja3,
    c.ja4,
    c.tlsVersion,
    c.ech ? 1 : 0,
    c.quicVersion,
    c.flows,
    c.packets,
    c.bytesOut,
    c.bytesIn,
    c.firstTs,
    c.lastTs,
    c.encrypted ? 1 : 0,
  ];
}

interface LookupRowRaw {
  bucket_start: number;
  bucket_ms: number;
  client_id: string;
  name: string;
  type: string;
  protocol: string;
  questions: number;
  answered_first: number;
  answers: string;
  first_ts: number;
  last_ts: number;
}

function toLookup(r: LookupRowRaw): LookupAgg {
  return {
    bucketStart: r.bucket_start,
    bucketMs: r.bucket_ms,
    clientId: r.client_id,
    name: r.name,
    type: r.type,
    protocol: r.protocol,
    questions: r.questions,
    answeredFirst: r.answered_first !== 0,
    answers: jsonList(r.answers),
    firstTs: r.first_ts,
    lastTs: r.last_ts,
  };
}

function lookupParams(l: LookupAgg): unknown[] {
  return [
    l.bucketStart,
    l.bucketMs,
    l.clientId,
    l.name,
    l.type,
    l.protocol,
    l.questions,
    l.answeredFirst ? 1 : 0,
    JSON.stringify(l.answers),
    l.firstTs,
    l.lastTs,
  ];
}

interface CaptureRowRaw {
  bucket_start: number;
  bucket_ms: number;
  source: string;
  packets: number;
  bytes: number;
  malformed: number;
  truncated: number;
  flows: number;
  flows_evicted: number;
  link_types: string;
  drops: string;
  first_ts: number | null;
  last_ts: number | null;
}

function toCapture(r: CaptureRowRaw): CaptureAgg {
  return {
    bucketStart: r.bucket_start,
    bucketMs: r.bucket_ms,
    source: r.source,
    packets: r.packets,
    bytes: r.bytes,
    malformed: r.malformed,
    truncated: r.truncated,
    flows: r.flows,
    flowsEvicted: r.flows_evicted,
    linkTypes: jsonList(r.link_types),
    drops: jsonRecord(r.drops),
    firstTs: r.first_ts,
    lastTs: r.last_ts,
  };
}

const CONTACT_COLUMNS =
  'bucket_start, bucket_ms, client_id, name, server_ip, port, transport, protocol, sni, quic_sni, http_hosts, dns_names, alpn, user_agents, ja3, ja4, tls_version, ech, quic_version, flows, packets, bytes_out, bytes_in, first_ts, last_ts, encrypted';
const LOOKUP_COLUMNS =
  'bucket_start, bucket_ms, client_id, name, type, protocol, questions, answered_first, answers, first_ts, last_ts';

function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

function timeClause(q: TimeQuery, firstCol: string, lastCol: string, clientCol: string | null): [string, unknown[]] {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.since !== undefined) {
    where.push(`${lastCol} >= ?`);
    params.push(q.since);
  }
  if (q.until !== undefined) {
    where.push(`${firstCol} < ?`);
    params.push(q.until);
  }
  if (q.client !== undefined && clientCol) {
    where.push(`${clientCol} = ?`);
    params.push(q.client);
  }
  return [where.length ? `WHERE ${where.join(' AND ')}` : '', params];
}

export class NetStore {
  private readonly st;
  private readonly writeTx: (b: WriteBatch, now: number) => number;

  constructor(readonly db: Db) {
    this.st = {
      getContact: db.prepare(
        `SELECT ${CONTACT_COLUMNS} FROM net_contacts WHERE bucket_start = ? AND client_id = ? AND name = ? AND server_ip = ? AND port = ? AND transport = ?`,
      ),
      putContact: db.prepare(`INSERT OR REPLACE INTO net_contacts (${CONTACT_COLUMNS}) VALUES (${placeholders(26)})`),
      getLookup: db.prepare(
        `SELECT ${LOOKUP_COLUMNS} FROM net_lookups WHERE bucket_start = ? AND client_id = ? AND name = ? AND type = ?`,
      ),
      putLookup: db.prepare(`INSERT OR REPLACE INTO net_lookups (${LOOKUP_COLUMNS}) VALUES (${placeholders(11)})`),
      getClient: db.prepare('SELECT * FROM net_clients WHERE id = ?'),
      // An upsert, not INSERT OR REPLACE: a replaced row would cascade-delete the client's addresses.
      putClient: db.prepare(
        `INSERT INTO net_clients (id, mac, hostname, vendor_class, mdns_name, dhcp_fingerprint, user_agents, first_seen, last_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET mac = excluded.mac, hostname = excluded.hostname,
           vendor_class = excluded.vendor_class, mdns_name = excluded.mdns_name,
           dhcp_fingerprint = excluded.dhcp_fingerprint, user_agents = excluded.user_agents,
           first_seen = excluded.first_seen, last_seen = excluded.last_seen`,
      ),
      putIp: db.prepare(
        `INSERT INTO net_client_ips (client_id, ip, first_seen, last_seen) VALUES (?, ?, ?, ?)
         ON CONFLICT (client_id, ip) DO UPDATE SET first_seen = MIN(first_seen, excluded.first_seen),
           last_seen = MAX(last_seen, excluded.last_seen)`,
      ),
      putName: db.prepare(
        `INSERT INTO net_names (ip, name, first_seen, last_seen) VALUES (?, ?, ?, ?)
         ON CONFLICT (ip, name) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)`,
      ),
      getCapture: db.prepare('SELECT * FROM net_capture_buckets WHERE bucket_start = ? AND source = ?'),
      putCapture: db.prepare(
        `INSERT OR REPLACE INTO net_capture_buckets (bucket_start, bucket_ms, source, packets, bytes, malformed, truncated, flows, flows_evicted, link_types, drops, first_ts, last_ts)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      putLeak: db.prepare(
        `INSERT INTO net_leaks (client_id, name, server_ip, protocol, kind, term, evidence, encoding, first_seen, last_seen, count)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (client_id, name, server_ip, kind, term, encoding) DO UPDATE SET
           count = count + excluded.count, last_seen = MAX(last_seen, excluded.last_seen),
           first_seen = MIN(first_seen, excluded.first_seen)`,
      ),
      putEvent: db.prepare('INSERT INTO net_events (ts, client_id, app, kind, evidence) VALUES (?, ?, ?, ?, ?)'),
      putStatus: db.prepare(
        `INSERT OR REPLACE INTO capture_status (source, state, detail, filter, packets, bytes, kernel_drops, queue_drops, started_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      putBatch: db.prepare(
        'INSERT INTO write_batches (committed_at, flows, lookups, clients, packets) VALUES (?, ?, ?, ?, ?)',
      ),
      putAudit: db.prepare('INSERT INTO audit_log (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)'),
    };
    this.writeTx = db.transaction((b: WriteBatch, now: number): number => this.writeInTx(b, now));
  }

  private writeInTx(b: WriteBatch, now: number): number {
    const st = this.st;
    for (const c of b.clients) {
      const raw = st.getClient.get(c.id) as
        | {
            mac: string | null;
            hostname: string | null;
            vendor_class: string | null;
            mdns_name: string | null;
            dhcp_fingerprint: string | null;
            user_agents: string;
            first_seen: number;
            last_seen: number;
          }
        | undefined;
      const merged: ClientAgg = raw
        ? {
            id: c.id,
            mac: raw.mac,
            hostname: raw.hostname,
            vendorClass: raw.vendor_class,
            mdnsName: raw.mdns_name,
            dhcpFingerprint: raw.dhcp_fingerprint,
            userAgents: jsonList(raw.user_agents),
            ips: new Map(),
            firstSeen: raw.first_seen,
            lastSeen: raw.last_seen,
          }
        : { ...c, userAgents: [], ips: new Map() };
      if (raw) mergeClient(merged, c);
      else merged.userAgents = c.userAgents.slice(0, MAX_USER_AGENTS);
      st.putClient.run(
        c.id,
        merged.mac,
        merged.hostname,
        merged.vendorClass,
        merged.mdnsName,
        merged.dhcpFingerprint,
        JSON.stringify(merged.userAgents),
        Math.floor(merged.firstSeen),
        Math.floor(merged.lastSeen),
      );
      for (const [ip, [f, l]] of c.ips) st.putIp.run(c.id, ip, Math.floor(f), Math.floor(l));
    }
    let flows = 0;
    for (const c of b.contacts) {
      flows += c.flows;
      this.mergeContactRow(c);
    }
    for (const l of b.lookups) {
      this.mergeLookupRow(l);
    }
    for (const n of b.names) st.putName.run(n.ip, n.name, Math.floor(n.tsMs), Math.floor(n.tsMs));
    let packets = 0;
    for (const c of b.capture) {
      packets += c.packets;
      const raw = st.getCapture.get(c.bucketStart, c.source) as CaptureRowRaw | undefined;
      let row = c;
      if (raw) {
        row = toCapture(raw);
        mergeCapture(row, c);
      }
      st.putCapture.run(
        row.bucketStart,
        row.bucketMs,
        row.source,
        row.packets,
        row.bytes,
        row.malformed,
        row.truncated,
        row.flows,
        row.flowsEvicted,
        JSON.stringify(row.linkTypes),
        JSON.stringify(row.drops),
        row.firstTs,
        row.lastTs,
      );
    }
    for (const k of b.leaks) {
      st.putLeak.run(
        k.clientId,
        k.name ?? '',
        k.serverIp,
        k.protocol,
        k.kind,
        k.term,
        k.evidence,
        k.encoding,
        k.tsMs,
        k.tsMs,
        k.count ?? 1,
      );
    }
    for (const e of b.events) st.putEvent.run(e.tsMs, e.clientId, e.app, e.kind, e.evidence);
    for (const s of b.status) {
      st.putStatus.run(
        s.source,
        s.state,
        s.detail,
        s.filter,
        s.packets,
        s.bytes,
        s.kernelDrops,
        s.queueDrops,
        s.startedAt,
        s.updatedAt,
      );
    }
    const carries =
      b.contacts.length + b.lookups.length + b.clients.length + b.capture.length + b.leaks.length + b.events.length;
    if (carries === 0) return 0;
    const info = st.putBatch.run(now, flows, b.lookups.length, b.clients.length, packets);
    return Number(info.lastInsertRowid);
  }

  /** Adds an aggregate to the stored row of its key (bucket, client, name, server, port, transport), or stores it. */
  private mergeContactRow(c: ContactAgg): void {
    const raw = this.st.getContact.get(c.bucketStart, c.clientId, c.name, c.serverIp, c.port, c.transport) as
      | ContactRowRaw
      | undefined;
    let row = c;
    if (raw) {
      row = toContact(raw);
      mergeContact(row, c);
    }
    this.st.putContact.run(...contactParams(row));
  }

  /** Adds a lookup aggregate to the stored row of its key (bucket, client, name, type), or stores it. */
  private mergeLookupRow(l: LookupAgg): void {
    const raw = this.st.getLookup.get(l.bucketStart, l.clientId, l.name, l.type) as LookupRowRaw | undefined;
    let row = l;
    if (raw) {
      row = toLookup(raw);
      mergeLookup(row, l);
    }
    this.st.putLookup.run(...lookupParams(row));
  }

  /**
   * Writes everything in one transaction; returns the batch's sequence number (0 when it carried only status).
   * On failure nothing of the batch is written and the error propagates.
   */
  writeBatch(b: WriteBatch, now = Date.now()): number {
    return this.writeTx(b, now);
  }

  contacts(q: TimeQuery = {}): ContactAgg[] {
    const [where, params] = timeClause(q, 'first_ts', 'last_ts', 'client_id');
    const rows = this.db
      .prepare(`SELECT ${CONTACT_COLUMNS} FROM net_contacts ${where} ORDER BY bucket_start, first_ts`)
      .all(...params) as ContactRowRaw[];
    return rows.map(toContact);
  }

  lookups(q: TimeQuery = {}): LookupAgg[] {
    const [where, params] = timeClause(q, 'first_ts', 'last_ts', 'client_id');
    const rows = this.db
      .prepare(`SELECT ${LOOKUP_COLUMNS} FROM net_lookups ${where} ORDER BY bucket_start, first_ts`)
      .all(...params) as LookupRowRaw[];
    return rows.map(toLookup);
  }

  clients(q: TimeQuery = {}): ClientAgg[] {
    const [where, params] = timeClause(q, 'first_seen', 'last_seen', 'id');
    const rows = this.db.prepare(`SELECT * FROM net_clients ${where} ORDER BY id`).all(...params) as {
      id: string;
      mac: string | null;
      hostname: string | null;
      vendor_class: string | null;
      mdns_name: string | null;
      dhcp_fingerprint: string | null;
      user_agents: string;
      first_seen: number;
      last_seen: number;
    }[];
    const ipq = this.db.prepare(
      'SELECT ip, first_seen, last_seen FROM net_client_ips WHERE client_id = ? ORDER BY first_seen, ip',
    );
    return rows.map((r) => ({
      id: r.id,
      mac: r.mac,
      hostname: r.hostname,
      vendorClass: r.vendor_class,
      mdnsName: r.mdns_name,
      dhcpFingerprint: r.dhcp_fingerprint,
      userAgents: jsonList(r.user_agents),
      ips: new Map(
        (ipq.all(r.id) as { ip: string; first_seen: number; last_seen: number }[]).map((x) => [
          x.ip,
          [x.first_seen, x.last_seen] as [number, number],
        ]),
      ),
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
    }));
  }

  captureBuckets(q: TimeQuery = {}): CaptureAgg[] {
    const [where, params] = timeClause({ ...q, client: undefined }, 'bucket_start', 'bucket_start + bucket_ms', null);
    const rows = this.db
      .prepare(`SELECT * FROM net_capture_buckets ${where} ORDER BY bucket_start, source`)
      .all(...params) as CaptureRowRaw[];
    return rows.map(toCapture);
  }

  leaks(q: TimeQuery = {}): (Required<LeakRecord> & { firstSeen: number; lastSeen: number })[] {
    const [where, params] = timeClause(q, 'first_seen', 'last_seen', 'client_id');
    const rows = this.db
      .prepare(`SELECT * FROM net_leaks ${where} ORDER BY first_seen, id`)
      .all(...params) as LeakRowRaw[];
    return rows.map((r) => ({
      clientId: r.client_id,
      name: r.name === '' ? null : r.name,
      serverIp: r.server_ip,
      protocol: r.protocol,
      kind: r.kind,
      term: r.term,
      evidence: r.evidence,
      encoding: r.encoding,
      tsMs: r.first_seen,
      count: r.count,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
    }));
  }

  events(q: TimeQuery = {}): EventRecord[] {
    const [where, params] = timeClause(q, 'ts', 'ts', 'client_id');
    const rows = this.db.prepare(`SELECT * FROM net_events ${where} ORDER BY ts, id`).all(...params) as {
      ts: number;
      client_id: string;
      app: string | null;
      kind: string;
      evidence: string;
    }[];
    return rows.map((r) => ({ clientId: r.client_id, app: r.app, kind: r.kind, tsMs: r.ts, evidence: r.evidence }));
  }

  /** Names the DNS answers gave for an address (most recent first). */
  namesOf(ip: string): string[] {
    return (
      this.db.prepare('SELECT name FROM net_names WHERE ip = ? ORDER BY last_seen DESC, name').all(ip) as {
        name: string;
      }[]
    ).map((r) => r.name);
  }

  captureStatus(): CaptureStatusRow[] {
    const rows = this.db.prepare('SELECT * FROM capture_status ORDER BY source').all() as {
      source: string;
      state: string;
      detail: string;
      filter: string;
      packets: number;
      bytes: number;
      kernel_drops: number | null;
      queue_drops: number;
      started_at: number | null;
      updated_at: number;
    }[];
    return rows.map((r) => ({
      source: r.source,
      state: r.state,
      detail: r.detail,
      filter: r.filter,
      packets: r.packets,
      bytes: r.bytes,
      kernelDrops: r.kernel_drops,
      queueDrops: r.queue_drops,
      startedAt: r.started_at,
      updatedAt: r.updated_at,
    }));
  }

  /** The newest committed batch, or null. */
  lastBatch(): { seq: number; committedAt: number } | null {
    const r = this.db.prepare('SELECT seq, committed_at FROM write_batches ORDER BY seq DESC LIMIT 1').get() as
      | { seq: number; committed_at: number }
      | undefined;
    return r ? { seq: r.seq, committedAt: r.committed_at } : null;
  }

  audit(
    actor: string,
    action: string,
    target: string | null,
    detail: Record<string, unknown> = {},
    now = Date.now(),
  ): void {
    this.st.putAudit.run(now, actor, action, target, JSON.stringify(detail));
  }

  auditLog(limit = 100): AuditEntry[] {
    const rows = this.db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit) as {
      id: number;
      ts: number;
      actor: string;
      action: string;
      target: string | null;
      detail: string;
    }[];
    return rows.map((r) => {
      let detail: Record<string, unknown> = {};
      try {
        detail = JSON.parse(r.detail) as Record<string, unknown>;
      } catch {
        detail = {};
      }
      return { id: r.id, ts: r.ts, actor: r.actor, action: r.action, target: r.target, detail };
    });
  }

  /**
   * Enforces the retention policy at `now`: per-bucket detail older than detailDays is rolled up into one
   * row per UTC day (same merge rules, nothing counted twice or lost), daily aggregates older than
   * aggregateDays are deleted, and so are old names, capture counters, leaks, events, audit entries,
   * write-batch journal rows and clients that no longer have anything. One transaction.
   */
  enforceRetention(policy: RetentionPolicy, now = Date.now()): RetentionResult {
    const detailCut = now - policy.detailDays * DAY_MS;
    const aggCut = now - policy.aggregateDays * DAY_MS;
    const eventsCut = now - policy.eventsDays * DAY_MS;
    const auditCut = now - policy.auditDays * DAY_MS;
    const db = this.db;
    return db.transaction((): RetentionResult => {
      // Roll up whole detail buckets that ended before the cut.
      const oldContacts = (
        db
          .prepare(
            `SELECT ${CONTACT_COLUMNS} FROM net_contacts WHERE bucket_ms < ? AND bucket_start + bucket_ms <= ? ORDER BY bucket_start, first_ts`,
          )
          .all(DAY_MS, detailCut) as ContactRowRaw[]
      ).map(toContact);
      const days = new Map<string, ContactAgg>();
      for (const c of oldContacts) {
        const day = Math.floor(c.bucketStart / DAY_MS) * DAY_MS;
        const k = contactKey({ ...c, bucketStart: day });
        const have = days.get(k);
        if (have) mergeContact(have, c);
        else
          days.set(k, {
            ...c,
            bucketStart: day,
            bucketMs: DAY_MS,
            httpHosts: [...c.httpHosts],
            dnsNames: [...c.dnsNames],
            userAgents: [...c.userAgents],
          });
      }
      db.prepare('DELETE FROM net_contacts WHERE bucket_ms < ? AND bucket_start + bucket_ms <= ?').run(
        DAY_MS,
        detailCut,
      );
      for (const d of days.values()) this.mergeContactRow(d);
      const oldLookups = (
        db
          .prepare(
            `SELECT ${LOOKUP_COLUMNS} FROM net_lookups WHERE bucket_ms < ? AND bucket_start + bucket_ms <= ? ORDER BY bucket_start, first_ts`,
          )
          .all(DAY_MS, detailCut) as LookupRowRaw[]
      ).map(toLookup);
      const ldays = new Map<string, LookupAgg>();
      for (const l of oldLookups) {
        const day = Math.floor(l.bucketStart / DAY_MS) * DAY_MS;
        const k = lookupKey({ ...l, bucketStart: day });
        const have = ldays.get(k);
        if (have) mergeLookup(have, l);
        else ldays.set(k, { ...l, bucketStart: day, bucketMs: DAY_MS, answers: [...l.answers] });
      }
      db.prepare('DELETE FROM net_lookups WHERE bucket_ms < ? AND bucket_start + bucket_ms <= ?').run(
        DAY_MS,
        detailCut,
      );
      for (const d of ldays.values()) this.mergeLookupRow(d);
      const del = (sql: string, ...p: unknown[]) => db.prepare(sql).run(...p).changes;
      const r: RetentionResult = {
        contactsRolledUp: oldContacts.length,
        lookupsRolledUp: oldLookups.length,
        contactsDeleted: del('DELETE FROM net_contacts WHERE bucket_start + bucket_ms <= ?', aggCut),
        lookupsDeleted: del('DELETE FROM net_lookups WHERE bucket_start + bucket_ms <= ?', aggCut),
        captureDeleted: del('DELETE FROM net_capture_buckets WHERE bucket_start + bucket_ms <= ?', aggCut),
        namesDeleted: del('DELETE FROM net_names WHERE last_seen < ?', aggCut),
        leaksDeleted: del('DELETE FROM net_leaks WHERE last_seen < ?', eventsCut),
        eventsDeleted: del('DELETE FROM net_events WHERE ts < ?', eventsCut),
        auditDeleted: del('DELETE FROM audit_log WHERE ts < ?', auditCut),
        batchesDeleted: del('DELETE FROM write_batches WHERE committed_at < ?', detailCut),
        clientsDeleted: del(
          `DELETE FROM net_clients WHERE last_seen < ?
             AND NOT EXISTS (SELECT 1 FROM net_contacts c WHERE c.client_id = net_clients.id)
             AND NOT EXISTS (SELECT 1 FROM net_lookups l WHERE l.client_id = net_clients.id)`,
          aggCut,
        ),
      };
      return r;
    })();
  }
}
