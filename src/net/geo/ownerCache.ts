/**
 * Cache of IP network owners learnt over the network (RDAP), in SQLite (`ip_owner_cache`, migration 4)
 * behind an in-memory LRU.
 *
 * A positive answer is stored for the network's whole range (so the other addresses of the same network
 * are answered without another query); a failure is stored for the one address (negative caching), for
 * a time that depends on the failure: a registry's "no such network" for a day, a timeout or 5xx for
 * minutes. Expired rows are ignored on read and purged by `purgeExpired()`.
 */
import type { Db } from '../../store/db.js';
import { formatIp, type IpBytes, ipHex, parseIp } from './ip.js';

export interface OwnerEntry {
  /** An address, or a range "first-last" for a network. */
  key: string;
  family: 4 | 6;
  rangeStart: string;
  rangeEnd: string;
  asn: number | null;
  asOrganization: string | null;
  country: string | null;
  networkName: string | null;
  handle: string | null;
  source: string;
  server: string | null;
  fetchedAt: number;
  expiresAt: number;
  /** Set for a negative entry: why the lookup failed ("kind: message"). */
  error: string | null;
}

interface Row {
  key: string;
  family: number;
  range_start: string;
  range_end: string;
  asn: number | null;
  as_org: string | null;
  country: string | null;
  network_name: string | null;
  handle: string | null;
  source: string;
  server: string | null;
  fetched_at: number;
  expires_at: number;
  error: string | null;
}

const MISS = Symbol('miss');

/** How many candidate ranges below an address are checked (nested allocations are rarely deeper). */
const SCAN_LIMIT = 16;

export interface OwnerCacheOptions {
  lruSize?: number;
  now?: () => number;
}

export class OwnerCache {
  private readonly lru = new Map<string, OwnerEntry | typeof MISS>();
  private readonly lruSize: number;
  private readonly now: () => number;
  private readonly stmts: {
    find: { all(...p: unknown[]): unknown[] };
    put: { run(...p: unknown[]): unknown };
    purge: { run(...p: unknown[]): { changes: number } };
    count: { get(): unknown };
  };
  readonly stats = { hits: 0, misses: 0, lruHits: 0, writes: 0 };

  constructor(db: Db, opts: OwnerCacheOptions = {}) {
    this.lruSize = opts.lruSize ?? 4096;
    this.now = opts.now ?? Date.now;
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ip_owner_cache'").get();
    if (!exists) {
      throw new Error('the database has no ip_owner_cache table (schema migration 4 is missing)');
    }
    this.stmts = {
      find: db.prepare(
        `SELECT * FROM ip_owner_cache WHERE family = ? AND range_start <= ? AND expires_at > ?
         ORDER BY range_start DESC, range_end ASC LIMIT ${SCAN_LIMIT}`,
      ),
      put: db.prepare(
        `INSERT INTO ip_owner_cache (key, family, range_start, range_end, asn, as_org, country, network_name, handle,
           source, server, fetched_at, expires_at, error)
         VALUES (@key, @family, @range_start, @range_end, @asn, @as_org, @country, @network_name, @handle,
           @source, @server, @fetched_at, @expires_at, @error)
         ON CONFLICT(key) DO UPDATE SET family = excluded.family, range_start = excluded.range_start,
           range_end = excluded.range_end, asn = excluded.asn, as_org = excluded.as_org, country = excluded.country,
           network_name = excluded.network_name, handle = excluded.handle, source = excluded.source,
           server = excluded.server, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at,
           error = excluded.error`,
      ),
      purge: db.prepare('DELETE FROM ip_owner_cache WHERE expires_at <= ?'),
      count: db.prepare('SELECT COUNT(*) AS n FROM ip_owner_cache'),
    };
  }

  /** The freshest entry that covers the address (the narrowest range), or null. Synchronous. */
  get(ip: string | IpBytes): OwnerEntry | null {
    const b = typeof ip === 'string' ? parseIp(ip) : ip;
    if (!b) return null;
    const text = formatIp(b);
    const now = this.now();
    const cached = this.lru.get(text);
    if (cached !== undefined) {
      if (cached === MISS || cached.expiresAt > now) {
        // Refresh recency.
        this.lru.delete(text);
        this.lru.set(text, cached);
        this.stats.lruHits++;
        if (cached === MISS) {
          this.stats.misses++;
          return null;
        }
        this.stats.hits++;
        return cached;
      }
      this.lru.delete(text);
    }
    const hex = ipHex(b);
    const rows = this.stmts.find.all(b.length === 4 ? 4 : 6, hex, now) as Row[];
    let best: Row | null = null;
    for (const r of rows) {
      if (r.range_end < hex) continue;
      if (!best || r.range_end < best.range_end || (r.range_end === best.range_end && r.range_start > best.range_start))
        best = r;
    }
    const entry = best ? fromRow(best) : null;
    this.remember(text, entry ?? MISS);
    if (entry) this.stats.hits++;
    else this.stats.misses++;
    return entry;
  }

  /** Store an answer (range) or a failure (address). */
  put(e: OwnerEntry): void {
    this.stmts.put.run({
      key: e.key,
      family: e.family,
      range_start: e.rangeStart,
      range_end: e.rangeEnd,
      asn: e.asn,
      as_org: e.asOrganization,
      country: e.country,
      network_name: e.networkName,
      handle: e.handle,
      source: e.source,
      server: e.server,
      fetched_at: e.fetchedAt,
      expires_at: e.expiresAt,
      error: e.error,
    });
    this.stats.writes++;
    // Forget remembered misses and any remembered entry the new one may be narrower than.
    for (const [k, v] of this.lru) {
      if (v === MISS || (v.family === e.family && v.rangeStart <= e.rangeEnd && e.rangeStart <= v.rangeEnd)) {
        this.lru.delete(k);
      }
    }
  }

  /** Delete expired rows; returns how many. */
  purgeExpired(): number {
    const n = this.stmts.purge.run(this.now()).changes;
    this.lru.clear();
    return n;
  }

  get size(): number {
    return (this.stmts.count.get() as { n: number }).n;
  }

  private remember(key: string, v: OwnerEntry | typeof MISS): void {
    if (this.lru.size >= this.lruSize) {
      const oldest = this.lru.keys().next().value;
      if (oldest !== undefined) this.lru.delete(oldest);
    }
    this.lru.set(key, v);
  }
}

function fromRow(r: Row): OwnerEntry {
  return {
    key: r.key,
    family: r.family === 6 ? 6 : 4,
    rangeStart: r.range_start,
    rangeEnd: r.range_end,
    asn: r.asn,
    asOrganization: r.as_org,
    country: r.country,
    networkName: r.network_name,
    handle: r.handle,
    source: r.source,
    server: r.server,
    fetchedAt: r.fetched_at,
    expiresAt: r.expires_at,
    error: r.error,
  };
}

/** Entry key and hex bounds for a range or a single address. */
export function rangeKey(first: IpBytes, last: IpBytes): { key: string; rangeStart: string; rangeEnd: string } {
  const s = ipHex(first);
  const e = ipHex(last);
  return { key: s === e ? formatIp(first) : `${formatIp(first)}-${formatIp(last)}`, rangeStart: s, rangeEnd: e };
}
