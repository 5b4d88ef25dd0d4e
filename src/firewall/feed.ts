/**
 * Feeding the sets from DNS answers. Every answer the capture sees (a `PipelineObserver.onLookup` record)
 * for a name that is blocked — or whose CNAME chain reaches a blocked name, as Pi-hole's CNAME inspection
 * does — puts its A/AAAA addresses into the matching sets with the record's TTL (raised to a floor, capped),
 * through one batched `ipset -exist restore` per event-loop turn. Every answer is also remembered (in
 * SQLite, until it expires), so that a block added later covers addresses the phone already resolved.
 *
 * Limits (docs/firewall.md): the capture sees an answer at the same moment as the phone, so the very first
 * packet after a never-seen answer can race the set update; dnsmasq's `ipset=` lines (plan.ts) close that
 * gap when the hub runs dnsmasq. Answers the phone got before the block (cached) are covered only if the
 * hub saw them. DoH/DoT answers are invisible (see bypass.ts).
 *
 * The observer is structurally compatible with src/net's PipelineObserver (firewall does not import net).
 */
import { logger } from '../core/logger.js';
import type { FirewallPlan, SetRole } from './plan.js';
import { setName } from './plan.js';
import type { FirewallSettings, ObservedAddress, PolicyMatcher } from './policy.js';
import { isMac, isNormalizedName, normalizeIp } from './validate.js';

const log = logger('firewall:feed');

/** The fields of a pipeline LookupRecord the feed reads. */
export interface LookupLike {
  clientId: string;
  name: string;
  answers: readonly string[];
  protocol?: string;
  tsMs?: number;
  /** Smallest TTL (seconds) of the answer's address records, when the pipeline reports it. */
  ttl?: number;
}

/** The fields of a pipeline ClientObservation / FlowRecord the feed reads (MAC ↔ IP). */
export interface ClientLike {
  mac?: string | null;
  clientMac?: string | null;
  ip?: string | null;
  clientIp?: string | null;
}

export interface SetAdd {
  set: string;
  address: string;
  timeout: number;
}

export interface FeedPolicy {
  matcher: PolicyMatcher;
  settings: FirewallSettings;
  /** Names of the sets that exist in the kernel now (adds to others are skipped). */
  liveSets: ReadonlySet<string>;
}

export interface SetFeederOptions {
  /** Applies a batch of adds (FirewallService: `ipset -exist restore`, serialised with apply). */
  sink: (adds: readonly SetAdd[]) => Promise<void>;
  /** Persists learnt addresses (PolicyStore.observe). */
  remember?: (obs: readonly ObservedAddress[]) => void;
  /** Learns a MAC ↔ IP pair. */
  onClientSeen?: (mac: string, ip: string) => void;
  clock?: () => number;
  /** Most adds queued before the oldest are dropped (counted). */
  maxQueue?: number;
}

export interface FeedStats {
  lookups: number;
  answersSeen: number;
  adds: number;
  batches: number;
  failedBatches: number;
  dropped: number;
}

/** Feeds the live sets from DNS answers. Create one per service; `setPolicy` after every apply. */
export class SetFeeder {
  #policy: FeedPolicy | null = null;
  #queue: SetAdd[] = [];
  #remember: ObservedAddress[] = [];
  #scheduled = false;
  #flushing: Promise<void> = Promise.resolve();
  readonly stats: FeedStats = { lookups: 0, answersSeen: 0, adds: 0, batches: 0, failedBatches: 0, dropped: 0 };
  readonly #clock: () => number;
  readonly #maxQueue: number;

  constructor(private readonly opts: SetFeederOptions) {
    this.#clock = opts.clock ?? Date.now;
    this.#maxQueue = opts.maxQueue ?? 100_000;
  }

  /** Installs the policy in force (null: firewall off — answers are remembered, sets are not touched). */
  setPolicy(policy: FeedPolicy | null): void {
    this.#policy = policy;
  }

  /** A PipelineObserver-compatible object: pass it to the pipeline (or chain it with others). */
  observer(): {
    onLookup: (l: LookupLike) => void;
    onClient: (c: ClientLike) => void;
    onFlow: (f: ClientLike) => void;
  } {
    return {
      onLookup: (l) => this.onLookup(l),
      onClient: (c) => this.onClient(c),
      onFlow: (f) => this.onClient(f),
    };
  }

  onClient(c: ClientLike): void {
    const mac = c.mac ?? c.clientMac ?? null;
    const ip = c.ip ?? c.clientIp ?? null;
    if (!mac || !ip || !isMac(mac)) return;
    try {
      this.opts.onClientSeen?.(mac.toLowerCase(), normalizeIp(ip).ip);
    } catch {
      // not an address
    }
  }

  /** One DNS question/answer. Questions without answers are ignored. */
  onLookup(l: LookupLike): void {
    this.stats.lookups++;
    if (!l || !Array.isArray(l.answers) || l.answers.length === 0) return;
    if (l.protocol !== undefined && l.protocol !== 'dns') return;
    const asked = typeof l.name === 'string' ? l.name.toLowerCase().replace(/\.$/, '') : '';
    if (!isNormalizedName(asked)) return;
    const names = [asked];
    const addrs: { ip: string; family: 4 | 6 }[] = [];
    for (const a of l.answers) {
      if (typeof a !== 'string') continue;
      try {
        addrs.push(normalizeIp(a));
      } catch {
        const n = a.toLowerCase().replace(/\.$/, '');
        if (isNormalizedName(n) && !names.includes(n)) names.push(n);
      }
    }
    if (addrs.length === 0) return;
    this.stats.answersSeen++;
    const now = this.#clock();
    const settings = this.#policy?.settings;
    const floor = settings?.ttlFloorSec ?? 900;
    const max = settings?.ttlMaxSec ?? 86_400;
    const ttl = typeof l.ttl === 'number' && Number.isFinite(l.ttl) ? l.ttl : 0;
    const timeout = Math.min(max, Math.max(floor, Math.ceil(ttl)));
    const expiresAt = now + timeout * 1000;
    const client = typeof l.clientId === 'string' && l.clientId.length <= 64 ? l.clientId.toLowerCase() : '';
    // Remember the addresses under every name of the chain, so a later block of a CNAME target finds them.
    for (const n of names) for (const a of addrs) this.#remember.push({ client, name: n, address: a.ip, expiresAt });
    const p = this.#policy;
    if (p) {
      const scopes: (string | null)[] = [null, ...p.matcher.clients().filter(isMac)];
      for (const scope of scopes) {
        // The asked name's own decision wins; otherwise the first CNAME target with one.
        let d = p.matcher.decideIn(scope, asked);
        for (let i = 1; d === null && i < names.length; i++) d = p.matcher.decideIn(scope, names[i]!);
        if (!d) continue;
        const role: SetRole =
          scope === null
            ? d.action === 'block'
              ? 'block-all'
              : 'allow-all'
            : d.action === 'block'
              ? 'block-client'
              : 'allow-client';
        for (const a of addrs) {
          const set = setName(role, a.family, scope ?? undefined);
          if (!p.liveSets.has(set)) continue;
          this.#queue.push({ set, address: a.ip, timeout });
        }
      }
      if (this.#queue.length > this.#maxQueue) {
        const drop = this.#queue.length - this.#maxQueue;
        this.#queue.splice(0, drop);
        this.stats.dropped += drop;
      }
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flushing = this.#flushing.then(() => this.#flushNow());
    });
  }

  async #flushNow(): Promise<void> {
    const remember = this.#remember;
    this.#remember = [];
    if (remember.length > 0 && this.opts.remember) {
      try {
        this.opts.remember(remember);
      } catch (err) {
        log.warn(() => `could not store ${remember.length} learnt addresses: ${(err as Error).message}`);
      }
    }
    const adds = this.#queue;
    this.#queue = [];
    if (adds.length === 0) return;
    this.stats.batches++;
    try {
      await this.opts.sink(adds);
      this.stats.adds += adds.length;
    } catch (err) {
      this.stats.failedBatches++;
      log.warn(() => `could not add ${adds.length} addresses to the sets: ${(err as Error).message}`);
    }
  }

  /** Resolves when everything queued so far has been written (tests, shutdown). */
  async flush(): Promise<void> {
    if (this.#scheduled) {
      await new Promise<void>((r) => setImmediate(r));
    }
    this.#flushing = this.#flushing.then(() => this.#flushNow());
    await this.#flushing;
  }
}

/** The text of a dnsmasq conf file for the plan (`conf-file=` it from dnsmasq.conf; restart dnsmasq after). */
export function dnsmasqConf(plan: FirewallPlan): string {
  return `${plan.dnsmasq.join('\n')}\n`;
}

/** `ipset restore -exist` text for a batch of adds (validated: our set names, IP addresses, integer timeouts). */
export function renderAdds(adds: readonly SetAdd[]): string {
  return `${adds.map((a) => `add ${a.set} ${a.address} timeout ${a.timeout}`).join('\n')}\n`;
}
