/**
 * The firewall facade that the agent, the API and the CLI call: list/add/remove entries, preview (plan +
 * collateral), apply, status, off, restore (at start), and `attachTo` the packet pipeline to feed the sets
 * from DNS answers. All kernel work goes through one FirewallApplier (one Executor), serialised by a lock,
 * so feed batches never interleave with an apply.
 *
 * Policy changes made by another process (the CLI while the agent runs) are picked up by `watchPolicy`,
 * which polls the policy revision row (one indexed read) and re-applies when it moved.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { logger } from '../core/logger.js';
import type { Db } from '../store/db.js';
import {
  type AppliedState,
  type ApplyOptions,
  type ApplyResult,
  type ConntrackTool,
  type CutStats,
  FirewallApplier,
  FirewallApplyError,
} from './apply.js';
import type { Executor } from './executor.js';
import { dnsmasqConf, SetFeeder } from './feed.js';
import { buildPlan, type FirewallPlan } from './plan.js';
import {
  type BlockEntry,
  type ChangeSource,
  type FirewallSettings,
  type NewEntry,
  type PartyLookup,
  PolicyMatcher,
  PolicyStore,
} from './policy.js';
import { FirewallInputError, isMac, parseClient } from './validate.js';

const log = logger('firewall');

export interface FirewallServiceOptions {
  db: Db;
  executor: Executor;
  /** The parties knowledge base (organization and role entries need it). */
  parties?: PartyLookup | null;
  clock?: () => number;
  /** Read-back depth after apply (default `counts`). */
  verify?: ApplyOptions['verify'];
  /** Where to write the dnsmasq conf (ipset=/address= lines) after each apply; none by default. */
  dnsmasqConfPath?: string;
}

export interface FirewallStatus {
  enabled: boolean;
  dryRun: boolean;
  revision: number;
  appliedRevision: number | null;
  appliedHash: string | null;
  appliedAt: number | null;
  upToDate: boolean;
  lastError: string | null;
  lastErrorAt: number | null;
  entries: number;
  feed: SetFeeder['stats'];
  /**
   * Cutting open connections when a block is applied (`conntrack`): `tool` is `missing` when the conntrack
   * program is not installed — then connections open before a block run until they end (new ones are
   * blocked all the same); `note` says what to do.
   */
  connections: CutStats & { note: string | null };
}

export interface AddResult {
  entry: BlockEntry;
  created: boolean;
  /** Set when `--client IP` was resolved to the phone's MAC. */
  resolvedClient?: { ip: string; mac: string };
}

/** Observer-compatible object for the packet pipeline (onLookup, onClient, onFlow). */
export type FirewallObserver = ReturnType<SetFeeder['observer']>;

/** What status says about cutting open connections. */
export function conntrackNote(tool: ConntrackTool): string | null {
  return tool === 'missing'
    ? 'conntrack is not installed: connections open before a block keep running until they end (new connections are blocked); install it with `sudo apt install conntrack`'
    : null;
}

export class FirewallService {
  readonly store: PolicyStore;
  readonly feeder: SetFeeder;
  readonly #applier: FirewallApplier;
  readonly #parties: PartyLookup | null;
  readonly #clock: () => number;
  readonly #verify: ApplyOptions['verify'];
  readonly #confPath: string | undefined;
  readonly #seenClients = new Map<string, string>(); // ip → mac, learnt by the feed
  #lock: Promise<unknown> = Promise.resolve();
  #watch: NodeJS.Timeout | null = null;

  constructor(opts: FirewallServiceOptions) {
    this.#clock = opts.clock ?? Date.now;
    this.store = new PolicyStore(opts.db, this.#clock);
    this.#applier = new FirewallApplier(opts.executor);
    this.#parties = opts.parties ?? null;
    this.#verify = opts.verify;
    this.#confPath = opts.dnsmasqConfPath;
    this.feeder = new SetFeeder({
      clock: this.#clock,
      sink: (adds) => this.#locked(() => this.#applier.add(adds)),
      remember: (obs) => this.store.observe(obs),
      onClientSeen: (mac, ip) => {
        this.#seenClients.set(ip, mac);
        if (this.#seenClients.size > 4096) this.#seenClients.delete(this.#seenClients.keys().next().value!);
      },
    });
  }

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#lock.then(fn, fn);
    this.#lock = next.catch(() => undefined);
    return next;
  }

  list(): BlockEntry[] {
    return this.store.list();
  }

  /** Adds an entry. A client given by IP is stored as the MAC of the phone that has that IP when known. */
  add(input: NewEntry, source: ChangeSource): AddResult {
    let client = input.client ?? null;
    let resolved: AddResult['resolvedClient'];
    if (client !== null && client !== '') {
      const c = parseClient(client);
      if ('ip' in c) {
        const mac = this.#seenClients.get(c.ip) ?? this.store.macForIp(c.ip);
        if (mac) {
          client = mac;
          resolved = { ip: c.ip, mac };
        } else client = c.ip;
      } else client = c.mac;
    }
    const r = this.store.add({ ...input, client }, source, this.#parties);
    return resolved ? { ...r, resolvedClient: resolved } : r;
  }

  remove(id: number, source: ChangeSource): BlockEntry | null {
    return this.store.remove(id, source);
  }

  settings(): FirewallSettings {
    return this.store.settings();
  }

  updateSettings(patch: Parameters<PolicyStore['updateSettings']>[0], source: ChangeSource): FirewallSettings {
    return this.store.updateSettings(patch, source);
  }

  #clients(): { mac: string; ip: string }[] {
    const out = [...this.#seenClients].map(([ip, mac]) => ({ mac, ip }));
    try {
      out.push(...this.store.clients());
    } catch (err) {
      log.debug(() => `no client table: ${(err as Error).message}`);
    }
    return out;
  }

  /** The plan for the current policy and what has been learnt so far (pure; nothing applied). */
  preview(): FirewallPlan {
    const st = this.store.state();
    return buildPlan({
      entries: this.store.list(),
      settings: st.settings,
      parties: this.#parties,
      observed: this.store.observed(),
      clients: this.#clients(),
      now: this.#clock(),
    });
  }

  /** Builds and applies the plan (no-op when it is already in force). Records the result in the store. */
  apply(source: ChangeSource = 'agent'): Promise<ApplyResult> {
    return this.#locked(() => this.#apply(source));
  }

  async #apply(source: ChangeSource): Promise<ApplyResult> {
    const st = this.store.state();
    if (!st.enabled) throw new FirewallInputError('the firewall is off; `bandguard firewall on` turns it back on');
    const plan = this.preview();
    let previous: AppliedState | null = null;
    if (st.appliedState) {
      try {
        previous = JSON.parse(st.appliedState) as AppliedState;
      } catch {
        previous = null;
      }
    }
    try {
      const { result, state } = await this.#applier.apply(plan, previous, { verify: this.#verify ?? 'counts' });
      if (!result.dryRun) {
        if (result.changed || st.appliedRevision !== st.revision) {
          this.store.recordApplied(plan.hash, st.revision, JSON.stringify(state), source);
        }
        this.#installFeed(plan, st.settings);
        this.#writeConf(plan);
      }
      if (result.changed) log.info(`applied ${plan.hash.slice(0, 12)} in ${result.durationMs} ms`);
      return result;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.store.recordError(msg, source);
      if (err instanceof FirewallApplyError && err.rolledBack)
        this.store.audit(source, 'rollback', null, { step: err.step });
      throw err;
    }
  }

  #installFeed(plan: FirewallPlan, settings: FirewallSettings): void {
    const st = this.store.state();
    const entries = this.store
      .list()
      .map((e) =>
        e.client !== null && !isMac(e.client) ? { ...e, client: this.#seenClients.get(e.client) ?? e.client } : e,
      );
    this.feeder.setPolicy(
      st.enabled
        ? {
            matcher: new PolicyMatcher(entries, this.#parties),
            settings,
            liveSets: new Set(plan.sets.map((s) => s.name)),
          }
        : null,
    );
  }

  #writeConf(plan: FirewallPlan): void {
    if (!this.#confPath) return;
    const tmp = `${this.#confPath}.tmp`;
    writeFileSync(tmp, dnsmasqConf(plan));
    renameSync(tmp, this.#confPath);
  }

  /** At agent start: re-applies the stored policy (the kernel may have lost everything in a reboot). */
  restore(source: ChangeSource = 'agent'): Promise<ApplyResult | null> {
    return this.#locked(async () => {
      if (!this.store.state().enabled) return null;
      return this.#apply(source);
    });
  }

  /** Removes every rule, hook and set bandguard added, and marks the firewall off (the agent will not re-apply). */
  off(source: ChangeSource): Promise<{ chains: string[]; sets: string[] }> {
    return this.#locked(async () => {
      this.feeder.setPolicy(null);
      this.store.setEnabled(false, source);
      const removed = await this.#applier.off();
      if (!this.#applier.dryRun) this.store.recordCleared(source);
      return removed;
    });
  }

  /** Turns the firewall back on (apply follows). */
  on(source: ChangeSource): void {
    this.store.setEnabled(true, source);
  }

  status(): FirewallStatus {
    const st = this.store.state();
    return {
      enabled: st.enabled,
      dryRun: this.#applier.dryRun,
      revision: st.revision,
      appliedRevision: st.appliedRevision,
      appliedHash: st.appliedHash,
      appliedAt: st.appliedAt,
      upToDate: st.appliedRevision === st.revision && st.appliedHash !== null,
      lastError: st.lastError,
      lastErrorAt: st.lastErrorAt,
      entries: this.store.list().length,
      feed: { ...this.feeder.stats },
      connections: { ...this.#applier.cutStats, note: conntrackNote(this.#applier.cutStats.tool) },
    };
  }

  /** Checks whether the `conntrack` program runs (what `status` then reports under `connections`). */
  probeConntrack(): Promise<ConntrackTool> {
    return this.#locked(() => this.#applier.probeConntrack());
  }

  /** The observer to give the pipeline (live capture) so DNS answers feed the sets. */
  attachTo(): FirewallObserver {
    return this.feeder.observer();
  }

  /**
   * Polls the policy revision every `intervalMs` and applies when it changed (a CLI or API edit), and
   * prunes expired learnt addresses. Returns a stop function.
   */
  watchPolicy(intervalMs = 2000, onError?: (err: unknown) => void): () => void {
    this.stopWatching();
    let seen = this.store.state().appliedRevision ?? -1;
    let ticks = 0;
    this.#watch = setInterval(() => {
      ticks++;
      let st: ReturnType<PolicyStore['state']>;
      try {
        st = this.store.state();
        if (ticks % 150 === 0) this.store.pruneObserved();
      } catch (err) {
        onError?.(err);
        return;
      }
      if (!st.enabled || st.revision === seen) return;
      seen = st.revision;
      this.apply('agent').catch((err) => {
        log.error('re-apply after a policy change failed', err);
        onError?.(err);
      });
    }, intervalMs);
    this.#watch.unref();
    return () => this.stopWatching();
  }

  stopWatching(): void {
    if (this.#watch) clearInterval(this.#watch);
    this.#watch = null;
  }

  /** Waits for queued feed batches and any running apply. */
  async drain(): Promise<void> {
    await this.feeder.flush();
    await this.#lock;
  }
}
