/**
 * Where the agent's servers are and who runs their networks (issue 3 item 3, live): the GeoService of the
 * agent and of `bandguard report`, built from the configuration — the user's `geo.mmdb` files, the bundled
 * country database, the owner cache in the data dir's database (migration 4) and, only with `geo.rdap`, the
 * registries over RDAP.
 *
 * `GeoEnricher` is the live part: a PipelineObserver that collects the server addresses of the flows the
 * agent stores (bounded), and a round (every `geo.rdapIntervalSeconds`) that hands them to
 * `GeoService.enrich` without awaiting it: analysis and storage never wait for a registry.
 */
import type { Config } from '../config/schema.js';
import { logger } from '../core/logger.js';
import { KnowledgeClassifier } from '../net/classify/classifier.js';
import { defaultPartiesKnowledgeBase } from '../net/classify/parties.js';
import type { FlowRecord, PipelineObserver } from '../net/flows/flowTypes.js';
import { RdapBootstrap } from '../net/geo/bootstrap.js';
import { type EnrichSummary, GeoService } from '../net/geo/geoService.js';
import { MmdbFile } from '../net/geo/mmdb.js';
import { OwnerCache } from '../net/geo/ownerCache.js';
import { RdapClient } from '../net/geo/rdap.js';
import { isLocalAddress } from '../net/report.js';
import type { Db } from '../store/db.js';

const log = logger('agent:geo');

/**
 * The shipped IANA registry copy, or every query to one server: `url` (BANDGUARD_RDAP_URL), a local RDAP
 * mirror or proxy. Throws a RangeError when `url` is not an http(s) URL.
 */
export function rdapBootstrapFor(url: string | undefined): RdapBootstrap {
  if (!url) return RdapBootstrap.shipped();
  if (!/^https?:\/\/[^\s]+$/i.test(url))
    throw new RangeError(`BANDGUARD_RDAP_URL must be an http(s) URL (got '${url}')`);
  return new RdapBootstrap([], [url.endsWith('/') ? url : `${url}/`]);
}

export interface AgentGeo {
  geo: GeoService;
  /** Why a configured mmdb file (or RDAP) is not in use; the rest works without it. */
  problems: string[];
  mmdbFiles: string[];
}

export interface OpenGeoOptions {
  /** Ask RDAP (the agent, when geo.rdap is on); the report only reads the cache. */
  online: boolean;
  /** Overrides BANDGUARD_RDAP_URL (tests). */
  rdapUrl?: string | undefined;
}

/** The GeoService over the configured mmdb files and the owner cache in `db`. Never throws. */
export function openGeo(config: Config, db: Db, opts: OpenGeoOptions): AgentGeo {
  const problems: string[] = [];
  const mmdb: MmdbFile[] = [];
  const mmdbFiles: string[] = [];
  for (const path of config.geo.mmdb) {
    try {
      mmdb.push(MmdbFile.open(path));
      mmdbFiles.push(path);
    } catch (e) {
      problems.push(`geo.mmdb: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  let cache: OwnerCache | null = null;
  try {
    cache = new OwnerCache(db);
  } catch (e) {
    problems.push(`owner cache: ${e instanceof Error ? e.message : String(e)}`);
  }
  let rdap: RdapClient | null = null;
  if (opts.online && config.geo.rdap && cache) {
    try {
      rdap = new RdapClient({ bootstrap: rdapBootstrapFor(opts.rdapUrl ?? process.env.BANDGUARD_RDAP_URL) });
    } catch (e) {
      problems.push(`geo.rdap: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { geo: new GeoService({ mmdb, cache, rdap }), problems, mmdbFiles };
}

/** The classifier of stored contacts: the bundled knowledge, with the configured geo (mmdb files, owner cache). */
export function storedClassifier(geo: GeoService): KnowledgeClassifier {
  return new KnowledgeClassifier(defaultPartiesKnowledgeBase(), geo);
}

export interface GeoEnricherStatus {
  rdap: boolean;
  mmdb: string[];
  problems: string[];
  intervalSeconds: number;
  /** Addresses gathered for the next round. */
  waiting: number;
  /** Addresses not gathered because the next round's set was full. */
  overflow: number;
  /** Addresses queued or being asked in the GeoService. */
  backlog: number;
  rounds: number;
  lastRoundAt: string | null;
  /** The last round that has finished (answered, failed or out of budget). */
  lastResult: EnrichSummary | null;
  /** Totals over the rounds that have finished. */
  resolved: number;
  failed: number;
}

/** Server addresses gathered per round, at most (the GeoService's own queue is bounded too). */
const MAX_WAITING = 10_000;

export class GeoEnricher implements PipelineObserver {
  private waiting = new Set<string>();
  private overflow = 0;
  private rounds = 0;
  private lastRoundAt: number | null = null;
  private lastResult: EnrichSummary | null = null;
  private totals = { resolved: 0, failed: 0 };
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<EnrichSummary>>();

  constructor(
    private readonly agentGeo: AgentGeo,
    private readonly intervalSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  get geo(): GeoService {
    return this.agentGeo.geo;
  }

  onFlow(f: FlowRecord): void {
    if (!this.geo.online) return;
    const ip = f.serverIp;
    if (this.waiting.has(ip) || isLocalAddress(ip)) return;
    if (this.waiting.size >= MAX_WAITING) {
      this.overflow++;
      return;
    }
    this.waiting.add(ip);
  }

  /** Starts the periodic rounds (only with RDAP on). */
  start(): void {
    if (!this.geo.online || this.timer) return;
    this.timer = setInterval(() => void this.round(), this.intervalSeconds * 1000);
    this.timer.unref?.();
  }

  /**
   * Hands the addresses gathered since the last round to RDAP. The agent does not await the result (the
   * returned promise is for tests and settles when the round's lookups end or their budget runs out).
   */
  round(): Promise<EnrichSummary> | null {
    if (!this.geo.online || this.waiting.size === 0) return null;
    const ips = this.waiting;
    this.waiting = new Set();
    this.rounds++;
    this.lastRoundAt = this.now();
    const p = this.geo.enrich(ips).then((s) => {
      this.lastResult = s;
      this.totals.resolved += s.resolved;
      this.totals.failed += s.failed;
      if (s.resolved + s.failed > 0) {
        log.info(() => `RDAP: ${s.resolved} owner(s) learnt, ${s.failed} failed, ${s.known} already known`);
      }
      return s;
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Stops the rounds and cancels the lookups under way (their addresses are asked again next time). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.geo.close();
  }

  status(): GeoEnricherStatus {
    return {
      rdap: this.geo.online,
      mmdb: this.agentGeo.mmdbFiles,
      problems: this.agentGeo.problems,
      intervalSeconds: this.intervalSeconds,
      waiting: this.waiting.size,
      overflow: this.overflow,
      backlog: this.geo.backlog,
      rounds: this.rounds,
      lastRoundAt: this.lastRoundAt === null ? null : new Date(this.lastRoundAt).toISOString(),
      lastResult: this.lastResult,
      resolved: this.totals.resolved,
      failed: this.totals.failed,
    };
  }
}
