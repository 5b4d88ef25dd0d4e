/**
 * Where a server is and who runs its network: one facade over the offline country database, the user's
 * MaxMind-format files, the owner cache (SQLite + LRU) and RDAP.
 *
 * - `lookup(ip)` is synchronous and answers from what is known right now; it never touches the network,
 *   so classification and analysis never wait for it.
 * - `enrich(ips)` queues RDAP lookups for the addresses whose owner is unknown and returns a promise that
 *   settles when they are done or its budget runs out; the agent does not await it, `analyze --rdap`
 *   awaits it for a bounded time. Answers land in the cache, and `version` increases so that memoized
 *   classifications know to look again.
 */
import { logger } from '../../core/logger.js';
import type { ReportContact } from '../report.js';
import { defaultCountryDb, type OfflineCountryDb } from './country.js';
import { formatIp, type IpBytes, parseIp, specialPurpose } from './ip.js';
import type { MmdbFile } from './mmdb.js';
import { type OwnerCache, rangeKey } from './ownerCache.js';
import type { RdapClient, RdapNetwork } from './rdap.js';
import { RdapError } from './rdapError.js';

const log = logger('net:geo');

export type GeoSource = 'mmdb' | 'rdap' | 'country-db' | 'special' | 'none';

export interface GeoInfo {
  /** ISO 3166-1 alpha-2, or null. */
  country: string | null;
  asn: number | null;
  asOrganization: string | null;
  /** Where the owner (ASN, organization) came from; else where the country came from. */
  source: GeoSource;
  countrySource: 'mmdb' | 'country-db' | 'rdap' | null;
  /** For special-purpose addresses (private, documentation, multicast …): which range. */
  special: string | null;
}

export interface GeoTtls {
  /** A network's owner as the registry gave it. */
  positiveMs: number;
  /** The registry has no such network (404). */
  notFoundMs: number;
  /** Timeouts, resets, 5xx, 429: try again soon. */
  transientMs: number;
  /** Answers that are not RDAP, too large, redirect loops. */
  invalidMs: number;
}

const DEFAULT_TTLS: GeoTtls = {
  positiveMs: 14 * 24 * 3600_000,
  notFoundMs: 24 * 3600_000,
  transientMs: 15 * 60_000,
  invalidMs: 6 * 3600_000,
};

export interface GeoServiceOptions {
  /** The offline country database; default the bundled one, null for none. */
  countryDb?: OfflineCountryDb | null;
  /** User-provided MaxMind-format files, asked in order. */
  mmdb?: MmdbFile[];
  /** Owner cache (SQLite + LRU); required when `rdap` is given. */
  cache?: OwnerCache | null;
  /** RDAP client; null or absent: offline, `enrich` does nothing. */
  rdap?: RdapClient | null;
  /** Clock for cache timestamps (tests). */
  now?: () => number;
  ttl?: Partial<GeoTtls>;
  /** Addresses waiting for RDAP at most; more are dropped (and counted). Default 10 000. */
  maxQueue?: number;
  /** Default budget of an `enrich` call. Default 5 minutes. */
  budgetMs?: number;
}

export interface EnrichOptions {
  /** Give up on this call's addresses after this long (queued ones are not started, running ones cancelled). */
  budgetMs?: number;
}

export interface EnrichSummary {
  /** Distinct addresses asked about. */
  requested: number;
  /** Special-purpose or not an address: nothing to ask. */
  skipped: number;
  /** Owner already known (mmdb or a fresh cache entry, positive or negative). */
  known: number;
  /** Answered by RDAP during this call (or by a range another answer cached meanwhile). */
  resolved: number;
  /** RDAP failed (negative-cached). */
  failed: number;
  /** Still queued or running when the budget ran out, or cancelled. */
  unfinished: number;
  /** Not queued: the queue was full. */
  dropped: number;
}

type Outcome = 'resolved' | 'failed' | 'unfinished';

interface Item {
  ip: string;
  bytes: IpBytes;
  deadline: number;
  done: Promise<Outcome>;
  finish: (o: Outcome) => void;
}

const NONE: GeoInfo = {
  country: null,
  asn: null,
  asOrganization: null,
  source: 'none',
  countrySource: null,
  special: null,
};

/** Ranges broader than these are cached for the asked address only (a registry's top-level block). */
const MIN_CACHED_PREFIX = { 4: 8, 6: 12 } as const;

export class GeoService {
  private countryDb: OfflineCountryDb | null;
  private readonly mmdb: MmdbFile[];
  readonly cache: OwnerCache | null;
  readonly rdap: RdapClient | null;
  private readonly now: () => number;
  private readonly ttl: GeoTtls;
  private readonly maxQueue: number;
  private readonly budgetMs: number;
  private readonly queue: Item[] = [];
  private readonly pending = new Map<string, Item>();
  private workers = 0;
  private closed = false;
  private readonly abort = new AbortController();
  private generation = 0;

  constructor(opts: GeoServiceOptions = {}) {
    this.countryDb = opts.countryDb === undefined ? defaultCountryDb() : opts.countryDb;
    this.mmdb = opts.mmdb ?? [];
    this.rdap = opts.rdap ?? null;
    this.now = opts.now ?? Date.now;
    this.ttl = { ...DEFAULT_TTLS, ...opts.ttl };
    this.maxQueue = opts.maxQueue ?? 10_000;
    this.budgetMs = opts.budgetMs ?? 5 * 60_000;
    // RDAP answers are kept in the owner cache (negative answers too): asking without one would repeat every
    // query. Callers open it on their database (the agent's, or analyze --rdap's data dir).
    if (this.rdap && !opts.cache) throw new TypeError('GeoService: rdap needs an owner cache');
    this.cache = opts.cache ?? null;
  }

  /** Increases whenever the cache learns an owner: memoized answers older than this are stale. */
  get version(): number {
    return this.generation;
  }

  /** True when `enrich` can ask RDAP. */
  get online(): boolean {
    return this.rdap !== null && !this.closed;
  }

  /** Addresses queued or being looked up. */
  get backlog(): number {
    return this.pending.size;
  }

  /** What is known about an address right now. Synchronous, never touches the network. */
  lookup(ip: string): GeoInfo {
    const b = parseIp(ip);
    if (!b) return NONE;
    const special = specialPurpose(b);
    if (special) return { ...NONE, source: 'special', special };
    let country: string | null = null;
    let countrySource: GeoInfo['countrySource'] = null;
    let asn: number | null = null;
    let asOrganization: string | null = null;
    let source: GeoSource = 'none';
    for (const f of this.mmdb) {
      const r = f.lookup(b);
      if (!r) continue;
      if (!country && r.country) {
        country = r.country;
        countrySource = 'mmdb';
      }
      if (source === 'none' && (r.asn !== null || r.asOrganization)) {
        asn = r.asn;
        asOrganization = r.asOrganization;
        source = 'mmdb';
      }
    }
    if (!country && this.countryDb) {
      try {
        country = this.countryDb.countryOf(b);
        if (country) countrySource = 'country-db';
      } catch (err) {
        log.warn(`offline country database unavailable: ${err instanceof Error ? err.message : String(err)}`);
        this.countryDb = null;
      }
    }
    if (source === 'none' && this.cache) {
      const e = this.cache.get(b);
      if (e && e.error === null) {
        asn = e.asn;
        asOrganization = e.asOrganization;
        source = 'rdap';
        if (!country && e.country) {
          country = e.country;
          countrySource = 'rdap';
        }
      }
    }
    if (source === 'none' && countrySource) source = countrySource;
    return { country, asn, asOrganization, source, countrySource, special: null };
  }

  /**
   * Queue RDAP lookups for the addresses whose owner is not known yet. The promise settles when this
   * call's addresses are answered, failed, or its budget ran out; it never rejects.
   */
  async enrich(ips: Iterable<string>, opts: EnrichOptions = {}): Promise<EnrichSummary> {
    const s: EnrichSummary = { requested: 0, skipped: 0, known: 0, resolved: 0, failed: 0, unfinished: 0, dropped: 0 };
    const budget = opts.budgetMs ?? this.budgetMs;
    const deadline = Date.now() + budget;
    const seen = new Set<string>();
    const waits: Promise<Outcome>[] = [];
    for (const raw of ips) {
      const b = parseIp(raw);
      const ip = b ? formatIp(b) : raw;
      if (seen.has(ip)) continue;
      seen.add(ip);
      s.requested++;
      if (!b || specialPurpose(b)) {
        s.skipped++;
        continue;
      }
      if (this.ownerKnown(b)) {
        s.known++;
        continue;
      }
      if (!this.rdap || this.closed) {
        s.unfinished++;
        continue;
      }
      let item = this.pending.get(ip);
      if (item) {
        if (item.deadline < deadline) item.deadline = deadline;
      } else {
        if (this.pending.size >= this.maxQueue) {
          s.dropped++;
          continue;
        }
        item = this.newItem(ip, b, deadline);
      }
      waits.push(item.done);
    }
    this.pump();
    if (waits.length === 0) return s;
    let timer: NodeJS.Timeout | undefined;
    const outcomes: Array<Outcome | undefined> = new Array(waits.length);
    const all = Promise.all(waits.map((w, i) => w.then((o) => (outcomes[i] = o))));
    await Promise.race([
      all,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, budget + 50);
      }),
    ]);
    clearTimeout(timer);
    for (const o of outcomes) {
      if (o === 'resolved') s.resolved++;
      else if (o === 'failed') s.failed++;
      else s.unfinished++;
    }
    return s;
  }

  /** Cancel queued and running lookups (the cache belongs to the caller, who closes its database). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(new Error('geo service closed'));
    for (const item of this.queue.splice(0)) item.finish('unfinished');
  }

  private ownerKnown(b: IpBytes): boolean {
    for (const f of this.mmdb) {
      const r = f.lookup(b);
      if (r && (r.asn !== null || r.asOrganization)) return true;
    }
    return this.cache?.get(b) != null;
  }

  private newItem(ip: string, bytes: IpBytes, deadline: number): Item {
    let finish!: (o: Outcome) => void;
    const done = new Promise<Outcome>((resolve) => {
      finish = resolve;
    });
    const item: Item = {
      ip,
      bytes,
      deadline,
      done,
      finish: (o) => {
        this.pending.delete(ip);
        finish(o);
      },
    };
    this.pending.set(ip, item);
    this.queue.push(item);
    return item;
  }

  private pump(): void {
    const rdap = this.rdap;
    if (!rdap) return;
    while (!this.closed && this.workers < rdap.maxConcurrent && this.queue.length > 0) {
      this.workers++;
      void this.work(rdap).finally(() => {
        this.workers--;
        if (!this.closed) this.pump();
      });
    }
  }

  private async work(rdap: RdapClient): Promise<void> {
    for (;;) {
      const item = this.queue.shift();
      if (!item) return;
      try {
        item.finish(await this.run(rdap, item));
      } catch (err) {
        // Storage errors (disk full, locked database) must not stop the queue.
        log.warn(`owner lookup for ${item.ip} failed: ${err instanceof Error ? err.message : String(err)}`);
        item.finish('failed');
      }
    }
  }

  private async run(rdap: RdapClient, item: Item): Promise<Outcome> {
    const left = item.deadline - Date.now();
    if (this.closed || left <= 0) return 'unfinished';
    // An answer for a neighbour may have covered this address meanwhile.
    if (this.cache?.get(item.bytes)) return 'resolved';
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(left)]);
    try {
      const net = await rdap.lookupIp(item.ip, signal);
      this.storePositive(item.bytes, net);
      return 'resolved';
    } catch (err) {
      const e = err instanceof RdapError ? err : new RdapError('network', String(err));
      if (e.kind === 'aborted' || this.closed) return 'unfinished';
      this.storeNegative(item.bytes, e);
      log.debug(() => `RDAP ${item.ip}: ${e.kind}: ${e.message}`);
      return 'failed';
    }
  }

  private storePositive(b: IpBytes, net: RdapNetwork): void {
    if (!this.cache || this.closed) return;
    let first = b;
    let last = b;
    if (net.range && commonPrefix(net.range.first, net.range.last) >= MIN_CACHED_PREFIX[b.length === 4 ? 4 : 6]) {
      first = net.range.first;
      last = net.range.last;
    }
    const now = this.now();
    this.cache.put({
      ...rangeKey(first, last),
      family: b.length === 4 ? 4 : 6,
      asn: net.originAsns[0] ?? null,
      asOrganization: net.registrant ?? net.name,
      country: net.country,
      networkName: net.name,
      handle: net.handle,
      source: 'rdap',
      server: net.server,
      fetchedAt: now,
      expiresAt: now + this.ttl.positiveMs,
      error: null,
    });
    this.generation++;
  }

  private storeNegative(b: IpBytes, e: RdapError): void {
    if (!this.cache || this.closed) return;
    const ttl =
      e.kind === 'not-found'
        ? this.ttl.notFoundMs
        : e.transient
          ? Math.max(this.ttl.transientMs, e.retryAfterMs ?? 0)
          : this.ttl.invalidMs;
    const now = this.now();
    this.cache.put({
      ...rangeKey(b, b),
      family: b.length === 4 ? 4 : 6,
      asn: null,
      asOrganization: null,
      country: null,
      networkName: null,
      handle: null,
      source: 'rdap',
      server: null,
      fetchedAt: now,
      expiresAt: now + ttl,
      error: `${e.kind}: ${e.message}`.slice(0, 500),
    });
  }
}

function commonPrefix(a: IpBytes, b: IpBytes): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!;
    if (x === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(x) - 24;
  }
  return n;
}

export interface ReportEnrichment extends EnrichSummary {
  elapsedMs: number;
  /** Contacts whose ASN or organization the wait filled in. */
  contactsFilled: number;
}

/**
 * For `analyze --rdap`: ask RDAP about the report's server addresses whose owner is unknown, wait at most
 * `budgetMs`, and fill `asn`, `asOrganization` (and a missing `country`) of the contacts from what came
 * back. Contacts on the LAN are left alone.
 */
export async function enrichContacts(
  contacts: ReportContact[],
  geo: GeoService,
  budgetMs: number,
): Promise<ReportEnrichment> {
  const started = Date.now();
  const ips = new Set<string>();
  // All of them: enrich() skips what is known (and counts it) and what is special.
  for (const c of contacts) if (c.party !== 'local') ips.add(c.serverIp);
  const summary = await geo.enrich(ips, { budgetMs });
  let filled = 0;
  for (const c of contacts) {
    if (c.party === 'local' || c.asn !== null || c.asOrganization !== null) continue;
    const g = geo.lookup(c.serverIp);
    if (g.asn === null && g.asOrganization === null) continue;
    c.asn = g.asn;
    c.asOrganization = g.asOrganization;
    c.country ??= g.country;
    filled++;
  }
  return { ...summary, elapsedMs: Date.now() - started, contactsFilled: filled };
}
