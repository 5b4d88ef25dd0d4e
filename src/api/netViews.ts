/**
 * The read side of the network store for the dashboard: clients (phones), parties (one row per phone × name:
 * the table the published studies print), contacts (one row per endpoint, cursor-paged), leaks (evidence
 * redacted unless revealed) and the overview counts.
 *
 * Speed (docs/dashboard.md): the all-time parties view groups `net_contact_totals` (migration 5: contacts
 * summed over their buckets by triggers), which has one row per endpoint however long the agent has run;
 * a time window groups `net_contacts` through its last-seen index, so it costs what the window holds.
 * Classification (the parties knowledge base, the offline country database) is memoized per
 * (name, server, port, protocol, apps), so a request classifies only names it has not seen recently, and
 * the grouped, classified view of a time window is kept until the next write to the store.
 */

import type { PolicyMatcher } from '../firewall/policy.js';
import type { Classification, ContactClassifier } from '../net/report.js';
import type { Db } from '../store/db.js';
import type { LeakRowRaw } from '../store/netStore.js';

export const PARTY_SORT_KEYS = [
  'name',
  'organization',
  'role',
  'party',
  'country',
  'asn',
  'app',
  'client',
  'firstSeen',
  'lastSeen',
  'bytes',
  'bytesOut',
  'flows',
  'leaks',
] as const;
export type PartySortKey = (typeof PARTY_SORT_KEYS)[number];

export interface PartiesQuery {
  client?: string | undefined;
  app?: string | undefined;
  role?: string | undefined;
  party?: string | undefined;
  organization?: string | undefined;
  country?: string | undefined;
  /** Case-insensitive substring of name, organization, app, AS organization or the phone's name. */
  q?: string | undefined;
  /** Epoch ms: contacts last seen at or after. */
  since?: number | undefined;
  /** Epoch ms: contacts first seen before. */
  until?: number | undefined;
  sort?: PartySortKey | undefined;
  order?: 'asc' | 'desc' | undefined;
  offset?: number | undefined;
  limit?: number | undefined;
}

export interface BlockState {
  entryId: number;
  kind: string;
  target: string;
  scope: 'client' | 'all';
  action: 'block' | 'allow';
}

export interface PartyRow {
  /** Stable id of the row: client and name (or server address for contacts without a name). */
  id: string;
  client: string;
  clientName: string | null;
  app: string | null;
  /** Null for contacts without any name (then `serverIps` says where they went). */
  name: string | null;
  registrableDomain: string | null;
  organization: string | null;
  role: string;
  party: string;
  ownerCountry: string | null;
  /** Where the (busiest) server is. */
  country: string | null;
  asn: number | null;
  asOrganization: string | null;
  servers: number;
  port: number;
  protocol: string;
  flows: number;
  bytesOut: number;
  bytesIn: number;
  firstSeen: string;
  lastSeen: string;
  encrypted: boolean;
  leaks: { count: number; kinds: string[] };
  blocked: BlockState | null;
  /** Why the server has no country (private, documentation, multicast … range), page rows only. */
  serverNote?: string | null;
  /** Page rows only: every server with its country, busiest first. */
  serverList?: { ip: string; port: number; country: string | null; asn: number | null; bytes: number }[];
}

export interface Facet {
  value: string;
  count: number;
}

export interface PartiesPage {
  items: PartyRow[];
  total: number;
  offset: number;
  limit: number;
  facets: { role: Facet[]; party: Facet[]; country: Facet[]; organization: Facet[]; app: Facet[]; client: Facet[] };
}

export interface ClientView {
  id: string;
  mac: string | null;
  ips: string[];
  hostname: string | null;
  vendor: string | null;
  apps: string[];
  parties: number;
  thirdParties: number;
  leaks: number;
  bytesOut: number;
  bytesIn: number;
  firstSeen: string;
  lastSeen: string;
}

export interface ContactsQuery {
  client?: string | undefined;
  q?: string | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
}

export interface ContactView {
  client: string;
  name: string | null;
  serverIp: string;
  port: number;
  transport: string;
  protocol: string;
  party: string;
  role: string;
  organization: string | null;
  country: string | null;
  asn: number | null;
  flows: number;
  packets: number;
  bytesOut: number;
  bytesIn: number;
  firstSeen: string;
  lastSeen: string;
  encrypted: boolean;
}

export interface LeaksQuery {
  client?: string | undefined;
  kind?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
  offset?: number | undefined;
  limit?: number | undefined;
}

export interface LeakView {
  id: number;
  client: string;
  name: string | null;
  serverIp: string;
  protocol: string;
  kind: string;
  term: string;
  /** Redacted unless revealed: letters and digits masked except the term itself. */
  evidence: string;
  redacted: boolean;
  encoding: string;
  party: string;
  organization: string | null;
  firstSeen: string;
  lastSeen: string;
  count: number;
}

export interface GeoLookup {
  lookup(ip: string): {
    country: string | null;
    asn: number | null;
    asOrganization: string | null;
    special?: string | null;
  };
}

export interface NetViewsOptions {
  classifier: ContactClassifier;
  geo?: GeoLookup | null;
  /** The current blocking policy, for the rows' block state (null: no firewall). */
  matcher?: () => PolicyMatcher | null;
  now?: () => number;
}

const MEMO_MAX = 200_000;
/** Grouped views kept until the next write (one per time window × client asked for). */
const CACHE_VIEWS = 8;
const MEMO_TTL_MS = 5 * 60_000;
export const MAX_PAGE = 500;

const PROTO_BY_RANK = ['other', 'dns', 'http', 'tls'] as const;
const RANK = `CASE protocol WHEN 'tls' THEN 3 WHEN 'quic' THEN 3 WHEN 'http' THEN 2 WHEN 'dns' THEN 1 WHEN 'mdns' THEN 1 WHEN 'dhcp' THEN 1 ELSE 0 END`;

function iso(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}

/** Groups per (client, name); contacts without a name are grouped per server address. */
function groupSql(table: string, where: string): string {
  return `SELECT client_id, name, CASE WHEN name = '' THEN server_ip ELSE '' END AS k, MIN(server_ip), MIN(port),
      MAX(${RANK}), MAX(protocol IN ('mdns', 'dhcp')), COUNT(DISTINCT server_ip), SUM(flows), SUM(bytes_out),
      SUM(bytes_in), MIN(first_ts), MAX(last_ts), MAX(encrypted)
    FROM ${table} ${where} GROUP BY client_id, name, k`;
}

type GroupRaw = [
  string, // client
  string, // name
  string, // k
  string, // ip
  number, // port
  number, // rank
  number, // local protocol
  number, // servers
  number, // flows
  number, // bytes out
  number, // bytes in
  number, // first
  number, // last
  number, // encrypted
];

interface Group {
  raw: GroupRaw;
  cls: Classification;
  key: string;
  leaks: { count: number; kinds: string[] } | undefined;
}

const NO_LEAKS = Object.freeze({ count: 0, kinds: [] as string[] });

function cmp(a: string | number | null, b: string | number | null): number {
  if (a === b) return 0;
  if (a === null) return 1; // nulls last whatever the order
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

/**
 * Masks the values in `evidence` and keeps its shape: field names (a word followed by `=` or `:`), the
 * leak's term and punctuation stay; every other letter and digit becomes `•`. So `?sys=128&dia=84`
 * reads `?sys=•••&dia=••`: the kind of data is visible, the data is not.
 */
export function redactEvidence(evidence: string, term: string): string {
  const termWords = new Set(
    term
      .toLowerCase()
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w.length > 2),
  );
  return evidence.replace(/[\p{L}\p{N}_]+(?:-[\p{L}\p{N}_]+)*/gu, (word, offset: number) => {
    const next = evidence.slice(offset + word.length, offset + word.length + 2);
    // A field name: `name=`, `"name":` or `name: ` (a colon without a space is a MAC or a time, masked).
    if (/^\p{L}/u.test(word) && /^(?:=|"\s*:|:\s)/u.test(next)) return word;
    if (termWords.has(word.toLowerCase())) return word;
    return word.replace(/[\p{L}\p{N}_]/gu, '•');
  });
}

export class NetViews {
  private memo = new Map<string, Classification>();
  private readonly cache = new Map<
    string,
    { stamp: string; value: { groups: Group[]; apps: Map<string, string[]> } }
  >();
  private memoSince = 0;
  private readonly now: () => number;
  private readonly st;

  constructor(
    readonly db: Db,
    private readonly opts: NetViewsOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.st = {
      totalsAll: db.prepare(groupSql('net_contact_totals', '')).raw(true),
      totalsClient: db.prepare(groupSql('net_contact_totals', 'WHERE client_id = ?')).raw(true),
      leakCounts: db
        .prepare(
          `SELECT client_id, CASE WHEN name = '' THEN server_ip ELSE name END, COUNT(*), GROUP_CONCAT(DISTINCT kind)
           FROM net_leaks GROUP BY 1, 2`,
        )
        .raw(true),
      servers: db
        .prepare(
          `SELECT server_ip, MIN(port), SUM(bytes_out + bytes_in) AS b FROM net_contact_totals
           WHERE client_id = ? AND name = ? AND (name <> '' OR server_ip = ?) GROUP BY server_ip ORDER BY b DESC LIMIT 32`,
        )
        .raw(true),
      clients: db.prepare('SELECT id, mac, hostname, mdns_name, first_seen, last_seen FROM net_clients ORDER BY id'),
      clientIps: db.prepare('SELECT client_id, ip FROM net_client_ips ORDER BY last_seen DESC'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      totalChanges: db.prepare('SELECT total_changes()').pluck(),
    };
  }

  private classify(
    name: string,
    ip: string,
    port: number,
    proto: string,
    apps: readonly string[],
    appsKey: string,
  ): Classification {
    const t = this.now();
    if (this.memo.size > MEMO_MAX || t - this.memoSince > MEMO_TTL_MS) {
      this.memo = new Map();
      this.memoSince = t;
    }
    const key = `${name}\u0000${ip}\u0000${port}\u0000${proto}\u0000${appsKey}`;
    let c = this.memo.get(key);
    if (!c) {
      c = this.opts.classifier.classify(name === '' ? null : name, ip, port, proto, [...apps]);
      this.memo.set(key, c);
    }
    return c;
  }

  private groups(q: {
    client?: string | undefined;
    since?: number | undefined;
    until?: number | undefined;
  }): GroupRaw[] {
    if (q.since === undefined && q.until === undefined) {
      return (q.client !== undefined ? this.st.totalsClient.all(q.client) : this.st.totalsAll.all()) as GroupRaw[];
    }
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.since !== undefined) {
      where.push('last_ts >= ?');
      params.push(q.since);
    }
    if (q.until !== undefined) {
      where.push('first_ts < ?');
      params.push(q.until);
    }
    if (q.client !== undefined) {
      where.push('client_id = ?');
      params.push(q.client);
    }
    return this.db
      .prepare(groupSql('net_contacts', `WHERE ${where.join(' AND ')}`))
      .raw(true)
      .all(...params) as GroupRaw[];
  }

  private clientNames(): Map<string, string | null> {
    const m = new Map<string, string | null>();
    for (const r of this.st.clients.all() as { id: string; hostname: string | null; mdns_name: string | null }[]) {
      m.set(r.id, r.hostname ?? r.mdns_name ?? null);
    }
    return m;
  }

  /**
   * A stamp that changes with every write to the database: this connection's change counter (the agent and
   * the API share the connection) and SQLite's data_version (writes by other processes, e.g. the CLI).
   */
  private stamp(): string {
    return `${this.st.dataVersion.get() as number}:${this.st.totalChanges.get() as number}`;
  }

  /**
   * Classified groups for a time window and client, with the apps each client runs. Kept until the next
   * write to the store (at most a few windows), so that paging, sorting and filtering one view does not
   * group and classify again; a write (the agent's flush, an import) makes the next request recompute.
   */
  private classified(q: PartiesQuery): { groups: Group[]; apps: Map<string, string[]> } {
    const key = `${q.since ?? ''}|${q.until ?? ''}|${q.client ?? ''}`;
    const stamp = this.stamp();
    const hit = this.cache.get(key);
    if (hit && hit.stamp === stamp) return hit.value;
    const value = this.classifyGroups(q);
    this.cache.delete(key);
    this.cache.set(key, { stamp, value });
    while (this.cache.size > CACHE_VIEWS) this.cache.delete(this.cache.keys().next().value!);
    return value;
  }

  private classifyGroups(q: PartiesQuery): { groups: Group[]; apps: Map<string, string[]> } {
    const raws = this.groups(q);
    const namesByClient = new Map<string, string[]>();
    for (const r of raws) {
      if (r[1] === '') continue;
      const l = namesByClient.get(r[0]);
      if (l) l.push(r[1]);
      else namesByClient.set(r[0], [r[1]]);
    }
    const apps = new Map<string, string[]>();
    for (const [client, names] of namesByClient) apps.set(client, this.opts.classifier.appsOf?.(names, []) ?? []);
    const leakMap = new Map<string, { count: number; kinds: string[] }>();
    for (const [client, k, n, kinds] of this.st.leakCounts.all() as [string, string, number, string][]) {
      leakMap.set(`${client}\u0000${k}`, { count: n, kinds: kinds.split(',').sort() });
    }
    const groups: Group[] = [];
    for (const r of raws) {
      const clientApps = apps.get(r[0]) ?? [];
      const proto = r[6] ? 'mdns' : (PROTO_BY_RANK[r[5]] ?? 'other');
      const cls = this.classify(r[1], r[3], r[4], proto, clientApps, clientApps.join(','));
      const key = r[1] === '' ? r[2] : r[1];
      groups.push({ raw: r, cls, key, leaks: leakMap.get(`${r[0]}\u0000${key}`) });
    }
    return { groups, apps };
  }

  parties(q: PartiesQuery): PartiesPage {
    const { groups } = this.classified(q);
    const names = this.clientNames();
    const facetOf = (pick: (g: Group) => string | null) => {
      const m = new Map<string, number>();
      for (const g of groups) {
        const v = pick(g);
        if (v !== null) m.set(v, (m.get(v) ?? 0) + 1);
      }
      return [...m]
        .map(([value, count]) => ({ value, count }))
        .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
    };
    const facets = {
      role: facetOf((g) => g.cls.role),
      party: facetOf((g) => g.cls.party),
      country: facetOf((g) => g.cls.country),
      organization: facetOf((g) => g.cls.organization).slice(0, 50),
      app: facetOf((g) => g.cls.app),
      client: facetOf((g) => g.raw[0]),
    };
    const needle = q.q?.trim().toLowerCase() ?? '';
    const org = q.organization?.toLowerCase();
    const filtered = groups.filter((g) => {
      const c = g.cls;
      if (q.role !== undefined && c.role !== q.role) return false;
      if (q.party !== undefined && c.party !== q.party) return false;
      if (q.app !== undefined && c.app !== q.app) return false;
      if (q.country !== undefined && c.country !== q.country.toUpperCase()) return false;
      if (org !== undefined && c.organization?.toLowerCase() !== org) return false;
      if (needle !== '') {
        const hay = `${g.key}\u0000${c.organization ?? ''}\u0000${c.app ?? ''}\u0000${c.asOrganization ?? ''}\u0000${names.get(g.raw[0]) ?? ''}\u0000${g.raw[0]}`;
        if (!hay.toLowerCase().includes(needle)) return false;
      }
      return true;
    });
    const sort = q.sort ?? 'lastSeen';
    const dir =
      (q.order ?? (sort === 'name' || sort === 'organization' || sort === 'client' ? 'asc' : 'desc')) === 'asc'
        ? 1
        : -1;
    const keyOf = (g: Group): string | number | null => {
      const r = g.raw;
      switch (sort) {
        case 'name':
          return g.key;
        case 'organization':
          return g.cls.organization;
        case 'role':
          return g.cls.role;
        case 'party':
          return g.cls.party;
        case 'country':
          return g.cls.country;
        case 'asn':
          return g.cls.asn;
        case 'app':
          return g.cls.app;
        case 'client':
          return r[0];
        case 'firstSeen':
          return r[11];
        case 'lastSeen':
          return r[12];
        case 'bytes':
          return r[9] + r[10];
        case 'bytesOut':
          return r[9];
        case 'flows':
          return r[8];
        case 'leaks':
          return g.leaks?.count ?? 0;
      }
    };
    filtered.sort((a, b) => {
      const ka = keyOf(a);
      const kb = keyOf(b);
      if (ka === null || kb === null) {
        const c = cmp(ka, kb);
        if (c !== 0) return c;
      } else {
        const c = cmp(ka, kb) * dir;
        if (c !== 0) return c;
      }
      return a.key.localeCompare(b.key) || a.raw[0].localeCompare(b.raw[0]);
    });
    const offset = q.offset ?? 0;
    const limit = Math.min(q.limit ?? 50, MAX_PAGE);
    const matcher = this.opts.matcher?.() ?? null;
    const items = filtered.slice(offset, offset + limit).map((g) => this.row(g, names, matcher, true));
    return { items, total: filtered.length, offset, limit, facets };
  }

  private row(g: Group, names: Map<string, string | null>, matcher: PolicyMatcher | null, detail: boolean): PartyRow {
    const r = g.raw;
    const c = g.cls;
    let blocked: BlockState | null = null;
    if (matcher && r[1] !== '') {
      const d = matcher.decide(r[0], r[1]);
      if (d) {
        blocked = {
          entryId: d.entry.id,
          kind: d.entry.kind,
          target: d.entry.target,
          scope: d.scope,
          action: d.action,
        };
      }
    }
    const row: PartyRow = {
      id: `${r[0]}|${g.key}`,
      client: r[0],
      clientName: names.get(r[0]) ?? null,
      app: c.app,
      name: r[1] === '' ? null : r[1],
      registrableDomain: c.registrableDomain,
      organization: c.organization,
      role: c.role,
      party: c.party,
      ownerCountry: c.ownerCountry,
      country: c.country,
      asn: c.asn,
      asOrganization: c.asOrganization,
      servers: r[7],
      port: r[4],
      protocol: r[6] ? 'mdns' : (PROTO_BY_RANK[r[5]] ?? 'other'),
      flows: r[8],
      bytesOut: r[9],
      bytesIn: r[10],
      firstSeen: iso(r[11]),
      lastSeen: iso(r[12]),
      encrypted: r[13] !== 0,
      leaks: g.leaks ?? NO_LEAKS,
      blocked,
    };
    if (detail) {
      const geo = this.opts.geo ?? null;
      row.serverList = (this.st.servers.all(r[0], r[1], r[3]) as [string, number, number][]).map(([ip, port, b]) => {
        const gi = geo?.lookup(ip);
        return { ip, port, country: gi?.country ?? null, asn: gi?.asn ?? null, bytes: b };
      });
      const busiest = row.serverList[0]?.ip ?? r[3];
      row.serverNote = c.country === null ? (geo?.lookup(busiest).special ?? null) : null;
    }
    return row;
  }

  /** Phones (LAN clients) with their apps and what they contacted. */
  clients(): ClientView[] {
    const { groups, apps } = this.classified({});
    const per = new Map<string, { parties: number; third: number; leaks: number; out: number; in: number }>();
    for (const g of groups) {
      let p = per.get(g.raw[0]);
      if (!p) {
        p = { parties: 0, third: 0, leaks: 0, out: 0, in: 0 };
        per.set(g.raw[0], p);
      }
      p.parties++;
      if (g.cls.party === 'third') p.third++;
      p.leaks += g.leaks?.count ?? 0;
      p.out += g.raw[9];
      p.in += g.raw[10];
    }
    const ips = new Map<string, string[]>();
    for (const r of this.st.clientIps.all() as { client_id: string; ip: string }[]) {
      const l = ips.get(r.client_id);
      if (l) l.push(r.ip);
      else ips.set(r.client_id, [r.ip]);
    }
    const rows = this.st.clients.all() as {
      id: string;
      mac: string | null;
      hostname: string | null;
      mdns_name: string | null;
      first_seen: number;
      last_seen: number;
    }[];
    return rows.map((r) => {
      const p = per.get(r.id);
      return {
        id: r.id,
        mac: r.mac,
        ips: ips.get(r.id) ?? [],
        hostname: r.hostname ?? r.mdns_name,
        vendor: r.mac ? (this.opts.classifier.vendorOfMac?.(r.mac) ?? null) : null,
        apps: apps.get(r.id) ?? [],
        parties: p?.parties ?? 0,
        thirdParties: p?.third ?? 0,
        leaks: p?.leaks ?? 0,
        bytesOut: p?.out ?? 0,
        bytesIn: p?.in ?? 0,
        firstSeen: iso(r.first_seen),
        lastSeen: iso(r.last_seen),
      };
    });
  }

  /** Every endpoint (client × name × server × port × transport), keyset-paged in primary-key order. */
  contacts(q: ContactsQuery): { items: ContactView[]; nextCursor: string | null; limit: number } {
    const limit = Math.min(q.limit ?? 100, MAX_PAGE);
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.client !== undefined) {
      where.push('client_id = ?');
      params.push(q.client);
    }
    if (q.q !== undefined && q.q.trim() !== '') {
      where.push('(instr(lower(name), ?) > 0 OR instr(server_ip, ?) > 0)');
      const n = q.q.trim().toLowerCase();
      params.push(n, n);
    }
    if (q.cursor !== undefined) {
      const k = decodeCursor(q.cursor);
      where.push('(client_id, name, server_ip, port, transport) > (?, ?, ?, ?, ?)');
      params.push(...k);
    }
    const rows = this.db
      .prepare(
        `SELECT client_id, name, server_ip, port, transport, protocol, flows, packets, bytes_out, bytes_in, first_ts, last_ts, encrypted
         FROM net_contact_totals ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY client_id, name, server_ip, port, transport LIMIT ?`,
      )
      .all(...params, limit + 1) as {
      client_id: string;
      name: string;
      server_ip: string;
      port: number;
      transport: string;
      protocol: string;
      flows: number;
      packets: number;
      bytes_out: number;
      bytes_in: number;
      first_ts: number;
      last_ts: number;
      encrypted: number;
    }[];
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const appsCache = new Map<string, string[]>();
    const appsOf = (client: string) => {
      let a = appsCache.get(client);
      if (!a) {
        const names = (
          this.db
            .prepare("SELECT DISTINCT name FROM net_contact_totals WHERE client_id = ? AND name <> ''")
            .all(client) as {
            name: string;
          }[]
        ).map((x) => x.name);
        a = this.opts.classifier.appsOf?.(names, []) ?? [];
        appsCache.set(client, a);
      }
      return a;
    };
    const items = page.map((r) => {
      const apps = appsOf(r.client_id);
      const c = this.classify(r.name, r.server_ip, r.port, r.protocol, apps, apps.join(','));
      return {
        client: r.client_id,
        name: r.name === '' ? null : r.name,
        serverIp: r.server_ip,
        port: r.port,
        transport: r.transport,
        protocol: r.protocol,
        party: c.party,
        role: c.role,
        organization: c.organization,
        country: c.country,
        asn: c.asn,
        flows: r.flows,
        packets: r.packets,
        bytesOut: r.bytes_out,
        bytesIn: r.bytes_in,
        firstSeen: iso(r.first_ts),
        lastSeen: iso(r.last_ts),
        encrypted: r.encrypted !== 0,
      };
    });
    const last = page.at(-1);
    return {
      items,
      nextCursor:
        more && last ? encodeCursor([last.client_id, last.name, last.server_ip, last.port, last.transport]) : null,
      limit,
    };
  }

  leaks(q: LeaksQuery, reveal = false): { items: LeakView[]; total: number; offset: number; limit: number } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.client !== undefined) {
      where.push('client_id = ?');
      params.push(q.client);
    }
    if (q.kind !== undefined) {
      where.push('kind = ?');
      params.push(q.kind);
    }
    if (q.since !== undefined) {
      where.push('last_seen >= ?');
      params.push(q.since);
    }
    if (q.until !== undefined) {
      where.push('first_seen < ?');
      params.push(q.until);
    }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM net_leaks ${w}`).get(...params) as { n: number }).n;
    const offset = q.offset ?? 0;
    const limit = Math.min(q.limit ?? 50, MAX_PAGE);
    const rows = this.db
      .prepare(`SELECT * FROM net_leaks ${w} ORDER BY last_seen DESC, id DESC LIMIT ? OFFSET ?`)
      .all(...params, limit, offset) as LeakRowRaw[];
    const apps = this.classified({}).apps;
    return { items: rows.map((r) => this.leakView(r, reveal, apps)), total, offset, limit };
  }

  leak(id: number, reveal: boolean): LeakView | null {
    const r = this.db.prepare('SELECT * FROM net_leaks WHERE id = ?').get(id) as LeakRowRaw | undefined;
    return r ? this.leakView(r, reveal) : null;
  }

  private leakView(r: LeakRowRaw, reveal: boolean, apps?: Map<string, string[]>): LeakView {
    const clientApps = (apps ?? this.classified({}).apps).get(r.client_id) ?? [];
    const c = this.opts.classifier.classify(r.name === '' ? null : r.name, r.server_ip, 0, r.protocol, clientApps);
    return {
      id: r.id,
      client: r.client_id,
      name: r.name === '' ? null : r.name,
      serverIp: r.server_ip,
      protocol: r.protocol,
      kind: r.kind,
      term: r.term,
      evidence: reveal ? r.evidence : redactEvidence(r.evidence, r.term),
      redacted: !reveal,
      encoding: r.encoding,
      party: c.party,
      organization: c.organization,
      firstSeen: iso(r.first_seen),
      lastSeen: iso(r.last_seen),
      count: r.count,
    };
  }

  /** The overview counts: phones, parties by role, party and country, leaks by kind. */
  overview(): {
    clients: number;
    parties: number;
    thirdParties: number;
    byRole: Facet[];
    byParty: Facet[];
    byCountry: Facet[];
    leaks: number;
    leaksByKind: Facet[];
  } {
    const p = this.parties({ limit: 0 });
    const leaksByKind = (
      this.db
        .prepare('SELECT kind AS value, COUNT(*) AS count FROM net_leaks GROUP BY kind ORDER BY count DESC')
        .all() as Facet[]
    ).map((f) => ({ value: f.value, count: f.count }));
    return {
      clients: (this.db.prepare('SELECT COUNT(*) AS n FROM net_clients').get() as { n: number }).n,
      parties: p.total,
      thirdParties: p.facets.party.find((f) => f.value === 'third')?.count ?? 0,
      byRole: p.facets.role,
      byParty: p.facets.party,
      byCountry: p.facets.country,
      leaks: leaksByKind.reduce((s, f) => s + f.count, 0),
      leaksByKind,
    };
  }

  /** For live updates: parties first seen after `sinceMs`, and leaks with an id above `afterLeakId`. */
  changesSince(
    sinceMs: number,
    afterLeakId: number,
  ): {
    parties: { client: string; name: string | null; serverIp: string; firstSeen: string }[];
    leaks: LeakView[];
    maxLeakId: number;
  } {
    const parties = (
      this.db
        .prepare(
          `SELECT client_id, name, MIN(server_ip) AS ip, MIN(first_ts) AS f FROM net_contact_totals
           GROUP BY client_id, name HAVING MIN(first_ts) > ? ORDER BY f LIMIT 100`,
        )
        .all(sinceMs) as { client_id: string; name: string; ip: string; f: number }[]
    ).map((r) => ({ client: r.client_id, name: r.name === '' ? null : r.name, serverIp: r.ip, firstSeen: iso(r.f) }));
    const rows = this.db
      .prepare('SELECT * FROM net_leaks WHERE id > ? ORDER BY id LIMIT 100')
      .all(afterLeakId) as LeakRowRaw[];
    const maxLeakId = rows.reduce((m, r) => Math.max(m, r.id), afterLeakId);
    return { parties, leaks: rows.map((r) => this.leakView(r, false)), maxLeakId };
  }

  /** Newest leak id (0 when none). */
  maxLeakId(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(id), 0) AS m FROM net_leaks').get() as { m: number }).m;
  }

  /** Names a client contacted (for the block preview: what a new entry would cover). */
  namesOfClients(client?: string): { client: string; name: string }[] {
    const sql =
      client === undefined
        ? "SELECT DISTINCT client_id AS client, name FROM net_contact_totals WHERE name <> ''"
        : "SELECT DISTINCT client_id AS client, name FROM net_contact_totals WHERE name <> '' AND client_id = ?";
    return (client === undefined ? this.db.prepare(sql).all() : this.db.prepare(sql).all(client)) as {
      client: string;
      name: string;
    }[];
  }
}

type CursorKey = [string, string, string, number, string];

export class CursorError extends Error {
  override readonly name = 'CursorError';
}

export function encodeCursor(k: CursorKey): string {
  return Buffer.from(JSON.stringify(k)).toString('base64url');
}

export function decodeCursor(s: string): CursorKey {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('cursor is not one this API gave out');
  }
  if (
    !Array.isArray(v) ||
    v.length !== 5 ||
    typeof v[0] !== 'string' ||
    typeof v[1] !== 'string' ||
    typeof v[2] !== 'string' ||
    typeof v[3] !== 'number' ||
    typeof v[4] !== 'string'
  ) {
    throw new CursorError('cursor is not one this API gave out');
  }
  return v as CursorKey;
}
