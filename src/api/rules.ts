/**
 * What the dashboard does with the firewall: toggle entries (add + apply, remove + apply), preview what a
 * proposed entry would block before it is added (names already seen that it would cover, collateral shared
 * addresses, set and rule counts before/after), and the rule status (plan, last apply, last error).
 *
 * It adapts FirewallService (src/firewall) and the pure planner (`buildPlan`, the same function the service
 * previews with), with the parties knowledge base and the names the network store has seen.
 */
import type { Collateral } from '../firewall/bypass.js';
import {
  buildPlan,
  type FirewallPlan,
  type PlanStats,
  renderIptablesRestore,
  renderPreview,
} from '../firewall/plan.js';
import {
  type BlockAction,
  type BlockEntry,
  type BlockKind,
  normalizeClient,
  normalizeTarget,
  type PartyLookup,
  PolicyMatcher,
} from '../firewall/policy.js';
import type { FirewallApi } from './services.js';

export interface ProposedEntry {
  kind: BlockKind;
  target: string;
  client?: string | null | undefined;
  action?: BlockAction | undefined;
  note?: string | null | undefined;
}

export interface ApplySummary {
  at: string;
  ok: boolean;
  dryRun: boolean;
  changed: boolean;
  hash: string | null;
  durationMs: number;
  error: string | null;
  /** What started it: add, remove, apply. */
  cause: string;
}

export interface BlockPreview {
  entry: { kind: BlockKind; target: string; client: string | null; action: BlockAction };
  /** Already an entry with the same kind, target, client and action. */
  exists: boolean;
  /** Names phones have contacted that the entry would newly block (or newly allow). */
  covers: { client: string; name: string }[];
  coversTotal: number;
  /** Shared addresses: names that would be caught (or left open) because they share a server address. */
  collateral: Collateral[];
  before: PlanStats;
  after: PlanStats;
  /** Sets the entry adds to the plan. */
  newSets: string[];
  warnings: string[];
}

export interface RulesView {
  status: ReturnType<FirewallApi['status']>;
  lastApply: ApplySummary | null;
  plan: {
    hash: string;
    stats: PlanStats;
    sets: { name: string; family: number; role: string; client: string | null; entries: number }[];
    v4: string;
    v6: string;
    dnsmasq: string[];
    warnings: string[];
    collateral: Collateral[];
    preview: string;
  };
}

export interface NameSource {
  namesOfClients(client?: string): { client: string; name: string }[];
}

const MAX_COVERS = 200;

function collKey(c: Collateral): string {
  return `${c.client}\u0000${c.address}\u0000${c.affectedName}\u0000${c.effect}\u0000${c.blockedNames.join(',')}`;
}

export class RulesController {
  private last: ApplySummary | null = null;

  constructor(
    readonly fw: FirewallApi,
    private readonly parties: PartyLookup | null,
    private readonly names: NameSource,
    private readonly now: () => number = Date.now,
    private readonly onChange: (view: {
      status: RulesView['status'];
      lastApply: ApplySummary | null;
    }) => void = () => {},
  ) {}

  private plan(entries: readonly BlockEntry[]): FirewallPlan {
    const st = this.fw.store.state();
    return buildPlan({
      entries,
      settings: st.settings,
      parties: this.parties,
      observed: this.fw.store.observed(),
      clients: this.fw.store.clients(),
      now: this.now(),
    });
  }

  preview(p: ProposedEntry): BlockPreview {
    const kind = p.kind;
    const target = normalizeTarget(kind, p.target, this.parties);
    const client = normalizeClient(p.client ?? null);
    const action = p.action ?? 'block';
    const current = this.fw.list();
    const exists = current.some(
      (e) => e.kind === kind && e.target === target && e.client === client && e.action === action,
    );
    const proposed: BlockEntry = {
      id: 0,
      kind,
      target,
      client,
      action,
      createdAt: this.now(),
      source: 'api',
      note: p.note ?? null,
    };
    const after = [...current, proposed];
    const mBefore = new PolicyMatcher(current, this.parties);
    const mAfter = new PolicyMatcher(after, this.parties);
    const covers: { client: string; name: string }[] = [];
    let coversTotal = 0;
    for (const n of this.names.namesOfClients(client ?? undefined)) {
      const b = mBefore.decide(n.client, n.name)?.action ?? null;
      const a = mAfter.decide(n.client, n.name)?.action ?? null;
      if (a === action && b !== action) {
        coversTotal++;
        if (covers.length < MAX_COVERS) covers.push(n);
      }
    }
    covers.sort((x, y) => x.name.localeCompare(y.name) || x.client.localeCompare(y.client));
    const planBefore = this.plan(current);
    const planAfter = this.plan(after);
    const had = new Set(planBefore.collateral.map(collKey));
    const hadSets = new Set(planBefore.sets.map((s) => s.name));
    const hadWarnings = new Set(planBefore.warnings);
    return {
      entry: { kind, target, client, action },
      exists,
      covers,
      coversTotal,
      collateral: planAfter.collateral.filter((c) => !had.has(collKey(c))),
      before: planBefore.stats,
      after: planAfter.stats,
      newSets: planAfter.sets.filter((s) => !hadSets.has(s.name)).map((s) => s.name),
      warnings: planAfter.warnings.filter((w) => !hadWarnings.has(w)),
    };
  }

  list(): BlockEntry[] {
    return this.fw.list();
  }

  /** Adds an entry and applies the new plan; the apply outcome is part of the answer (and of the status). */
  async add(p: ProposedEntry): Promise<{ entry: BlockEntry; created: boolean; apply: ApplySummary }> {
    const r = this.fw.add(
      { kind: p.kind, target: p.target, client: p.client ?? null, action: p.action ?? 'block', note: p.note ?? null },
      'api',
    );
    const apply = await this.apply(r.created ? 'add' : 'add (unchanged)');
    return { entry: r.entry, created: r.created, apply };
  }

  async remove(id: number): Promise<{ entry: BlockEntry; apply: ApplySummary } | null> {
    const entry = this.fw.remove(id, 'api');
    if (!entry) return null;
    return { entry, apply: await this.apply('remove') };
  }

  /** Applies the stored policy now. Failures are reported (and kept as the last apply), not thrown. */
  async apply(cause = 'apply'): Promise<ApplySummary> {
    const t0 = this.now();
    let s: ApplySummary;
    try {
      const r = await this.fw.apply('api');
      s = {
        at: new Date(t0).toISOString(),
        ok: true,
        dryRun: r.dryRun,
        changed: r.changed,
        hash: r.hash,
        durationMs: r.durationMs,
        error: null,
        cause,
      };
    } catch (err) {
      s = {
        at: new Date(t0).toISOString(),
        ok: false,
        dryRun: false,
        changed: false,
        hash: null,
        durationMs: this.now() - t0,
        error: err instanceof Error ? err.message : String(err),
        cause,
      };
    }
    this.last = s;
    this.onChange({ status: this.fw.status(), lastApply: s });
    return s;
  }

  view(): RulesView {
    const plan = this.fw.preview();
    return {
      status: this.fw.status(),
      lastApply: this.last,
      plan: {
        hash: plan.hash,
        stats: plan.stats,
        sets: plan.sets.map((s) => ({
          name: s.name,
          family: s.family,
          role: s.role,
          client: s.client,
          entries: s.entries.length,
        })),
        v4: renderIptablesRestore(plan.v4),
        v6: renderIptablesRestore(plan.v6),
        dnsmasq: plan.dnsmasq,
        warnings: plan.warnings,
        collateral: plan.collateral,
        preview: renderPreview(plan),
      },
    };
  }

  get lastApply(): ApplySummary | null {
    return this.last;
  }
}
