/**
 * Applying a plan to the kernel through one Executor, safely:
 *
 *  1. validate every line that will be sent (set names, addresses, timeouts, chain names, rule grammar) —
 *     nothing that did not pass reaches the executor;
 *  2. read the live state of what we own (chains BANDGUARD-*, hooks to them, sets bandguard-*);
 *  3. stage every set as `<name>.n` (`ipset -exist restore`), carrying over live entries of sets whose
 *     policy only grew (entries dnsmasq or the feed added stay), rebuilding the others;
 *  4. `iptables-restore --test --noflush` (and ip6tables) the rules;
 *  5. `ipset swap` each staged set in: atomic per set, so an update never opens a hole;
 *  6. `iptables-restore --noflush`: our chains are declared (created or flushed) and refilled, our hooks
 *     inserted once, chains we no longer need deleted — one transaction per table, nothing else named;
 *  7. read back (`iptables -S`, `ipset list -t`, optionally `ipset save`) and verify;
 *  8. on any failure in 5–7, roll back: swap the old sets back (they wait in `<name>.n`), restore the
 *     chains and hooks as they were, verify that, and report the error;
 *  9. drop the staging sets and the sets we no longer need.
 *
 * Applying the same plan twice changes nothing (same hash and a verified live state → no command that
 * writes). `off` removes every chain, hook and set we own, and nothing else.
 */
import { logger } from '../core/logger.js';
import {
  BlockIndex,
  type CutPair,
  conntrackDeleteArgv,
  nothingToDelete,
  parseConntrackList,
  type TrackedFlow,
  toolMissing,
} from './conntrack.js';
import type { ExecResult, Executor } from './executor.js';
import type { SetAdd } from './feed.js';
import { renderAdds } from './feed.js';
import {
  CHAIN_PREFIX,
  type Family,
  type FamilyRules,
  type FirewallPlan,
  type LiveFamily,
  type PlannedSet,
  renderIpsetCreate,
  renderIpsetStageSet,
  renderIptablesRemoval,
  renderIptablesRestore,
  SET_PREFIX,
  type SetEntry,
  STAGING_SUFFIX,
} from './plan.js';
import { CHAIN_NAME, normalizeIp, SET_NAME } from './validate.js';

const log = logger('firewall:apply');

/** An apply/off that failed. `rolledBack` says whether the previous state was restored and verified. */
export class FirewallApplyError extends Error {
  override readonly name = 'FirewallApplyError';
  constructor(
    message: string,
    readonly rolledBack: boolean,
    readonly step: string,
  ) {
    super(message);
  }
}

/** A plan or payload that failed validation (never sent). */
export class PlanValidationError extends Error {
  override readonly name = 'PlanValidationError';
}

export interface LiveSet {
  name: string;
  type: string;
  family: 'inet' | 'inet6' | string;
  count: number;
}

export interface LiveFamilyState extends LiveFamily {
  /** Rules of our chains as `iptables -S` prints them, per chain. */
  rules: Map<string, string[]>;
}

export interface LiveState {
  v4: LiveFamilyState;
  v6: LiveFamilyState;
  /** Our sets (bandguard-*), staging copies included. */
  sets: Map<string, LiveSet>;
}

/** What was applied, kept in the store (per set: its sources and family) for the next grow/replace decision. */
export interface AppliedState {
  hash: string;
  sets: Record<string, { sources: string[]; family: Family }>;
}

export interface ApplyOptions {
  /** `counts` (default): set headers and entry counts; `full`: every member compared (ipset save). */
  verify?: 'counts' | 'full';
}

export interface ApplyResult {
  changed: boolean;
  hash: string;
  dryRun: boolean;
  /** Sets rebuilt and sets that kept their live entries (grew). */
  replaced: string[];
  grown: string[];
  /** (phone address, blocked address) pairs whose open connections were cut after the apply. */
  cut: number;
  durationMs: number;
}

/** Whether open connections to newly blocked addresses can be cut (the `conntrack` tool). */
export type ConntrackTool = 'unknown' | 'available' | 'missing';

export interface CutStats {
  tool: ConntrackTool;
  /** Times the tracking table was searched (after applies and feed batches). */
  runs: number;
  /** Pairs whose tracked connections were deleted. */
  cut: number;
  /** `conntrack -D` runs that failed (other than "0 flow entries"). */
  failed: number;
  lastError: string | null;
}

/** Feed sets that block (everyone's or one phone's): adds to them may cut open connections. */
const BLOCK_SET = /^bandguard-(?:all|[0-9a-f]{12})-[46]$/;

// ---------- validation of what we send ----------

const RULE_TOKENS =
  /^-A BANDGUARD-[A-Z0-9-]{1,18}(?: -p (?:tcp|udp)| -m (?:set|mac|tcp|udp|conntrack)| --ctstate (?:RELATED,ESTABLISHED|NEW)| --match-set bandguard-[a-z0-9-]{1,19} (?:dst|src)| --mac-source [0-9a-f]{2}(?::[0-9a-f]{2}){5}| --dport [0-9]{1,5})* -[jg] (?:BANDGUARD-[A-Z0-9-]{1,18}|RETURN|REJECT|DROP)(?: --reject-with (?:tcp-reset|icmp-port-unreachable|icmp6-port-unreachable))?$/;

function checkSetName(name: string): void {
  if (!SET_NAME.test(name)) throw new PlanValidationError(`refusing set name ${JSON.stringify(name)}`);
}

function checkEntry(set: PlannedSet, e: SetEntry): void {
  let n: { ip: string; family: 4 | 6 };
  try {
    n = normalizeIp(e.address);
  } catch {
    throw new PlanValidationError(`set ${set.name}: ${JSON.stringify(e.address)} is not an IP address`);
  }
  if (n.ip !== e.address || n.family !== set.family) {
    throw new PlanValidationError(
      `set ${set.name}: ${JSON.stringify(e.address)} is not a canonical IPv${set.family} address`,
    );
  }
  if (!Number.isInteger(e.timeout) || e.timeout < 0 || e.timeout > 2_147_483) {
    throw new PlanValidationError(`set ${set.name}: bad timeout ${e.timeout} for ${e.address}`);
  }
}

function checkFamilyRules(rules: FamilyRules): void {
  for (const c of rules.chains) {
    if (!CHAIN_NAME.test(c.name)) throw new PlanValidationError(`refusing chain name ${JSON.stringify(c.name)}`);
    for (const r of c.rules) {
      if (!RULE_TOKENS.test(r) || !r.startsWith(`-A ${c.name} `)) {
        throw new PlanValidationError(`refusing rule ${JSON.stringify(r.slice(0, 200))}`);
      }
      for (const m of r.matchAll(/--match-set (\S+)/g)) checkSetName(m[1]!);
    }
  }
  for (const h of rules.hooks) {
    if ((h.chain !== 'FORWARD' && h.chain !== 'INPUT') || !CHAIN_NAME.test(h.target)) {
      throw new PlanValidationError(`refusing hook ${JSON.stringify(h)}`);
    }
  }
}

/** Checks every name, address, timeout and rule of a plan. Throws {@link PlanValidationError}. */
export function validatePlan(plan: FirewallPlan): void {
  const names = new Set<string>();
  for (const s of plan.sets) {
    checkSetName(s.name);
    if (names.has(s.name)) throw new PlanValidationError(`set ${s.name} planned twice`);
    names.add(s.name);
    if (s.family !== 4 && s.family !== 6) throw new PlanValidationError(`set ${s.name}: bad family`);
    if (!Number.isInteger(s.maxElements) || s.maxElements < 1 || s.maxElements > 16_777_216) {
      throw new PlanValidationError(`set ${s.name}: bad maxelem ${s.maxElements}`);
    }
    if (!Number.isInteger(s.timeout) || s.timeout < 0 || s.timeout > 2_147_483) {
      throw new PlanValidationError(`set ${s.name}: bad timeout ${s.timeout}`);
    }
    if (s.entries.length > s.maxElements) {
      throw new PlanValidationError(`set ${s.name}: ${s.entries.length} entries exceed maxelem ${s.maxElements}`);
    }
    for (const e of s.entries) checkEntry(s, e);
  }
  checkFamilyRules(plan.v4);
  checkFamilyRules(plan.v6);
  for (const f of [plan.v4, plan.v6]) {
    for (const c of f.chains) {
      for (const r of c.rules) {
        for (const m of r.matchAll(/--match-set (\S+)/g)) {
          if (!names.has(m[1]!)) throw new PlanValidationError(`rule uses set ${m[1]} that the plan does not create`);
        }
      }
    }
  }
}

const IPSET_LINE =
  /^(?:create bandguard-[a-z0-9-]{1,19}(?:\.n)? hash:ip family inet6? hashsize [0-9]{1,8} maxelem [0-9]{1,8} timeout [0-9]{1,7}|flush bandguard-[a-z0-9-]{1,19}(?:\.n)?|add bandguard-[a-z0-9-]{1,19}(?:\.n)? [0-9a-f.:]{2,39} timeout [0-9]{1,7}|swap bandguard-[a-z0-9-]{1,19}\.n bandguard-[a-z0-9-]{1,19}|destroy bandguard-[a-z0-9-]{1,19}(?:\.n)?)$/;
const IPTABLES_LINE =
  /^(?:\*filter|COMMIT|:BANDGUARD-[A-Z0-9-]{1,18} - \[0:0\]|-[FX] BANDGUARD-[A-Z0-9-]{1,18}|-D (?:FORWARD|INPUT) -j BANDGUARD-[A-Z0-9-]{1,18}|-I (?:FORWARD|INPUT) 1 -j BANDGUARD-[A-Z0-9-]{1,18}|-A BANDGUARD-[\x21-\x7e ]{1,400})$/;

/** An `add` line's address: a strict dotted quad (no leading zeros), or hex digits and colons with a colon. */
const V4_STRICT = '(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const V6_TEXT = '(?=[0-9a-f:]{2,39} )[0-9a-f]*:[0-9a-f:]*';
/**
 * The ipset grammar with the address rule folded in, matched line after line with one sticky regex over the
 * whole payload (no split into 100,000 strings). Accepts exactly what IPSET_LINE plus the address check
 * accept; on a mismatch the line-by-line check below runs to name the line.
 */
const IPSET_SCAN = new RegExp(
  `(?:create bandguard-[a-z0-9-]{1,19}(?:\\.n)? hash:ip family inet6? hashsize [0-9]{1,8} maxelem [0-9]{1,8} timeout [0-9]{1,7}|flush bandguard-[a-z0-9-]{1,19}(?:\\.n)?|add bandguard-[a-z0-9-]{1,19}(?:\\.n)? (?:${V4_STRICT}|${V6_TEXT}) timeout [0-9]{1,7}|swap bandguard-[a-z0-9-]{1,19}\\.n bandguard-[a-z0-9-]{1,19}|destroy bandguard-[a-z0-9-]{1,19}(?:\\.n)?)(?:\\n|$)`,
  'y',
);

/** Last line of defence: every line of a payload must match the grammar of what we generate. */
export function checkPayload(kind: 'ipset' | 'iptables', text: string): void {
  if (kind === 'ipset' && scanIpset(text)) return;
  checkPayloadLines(kind, text);
}

/** True when the whole ipset payload matches the grammar (fast path). */
function scanIpset(text: string): boolean {
  let at = 0;
  while (at < text.length) {
    IPSET_SCAN.lastIndex = at;
    if (!IPSET_SCAN.test(text)) return false;
    // Every alternative consumes a line: an empty line (two newlines) never matches and falls through to
    // the line-by-line check, which names it.
    at = IPSET_SCAN.lastIndex;
  }
  return true;
}

function checkPayloadLines(kind: 'ipset' | 'iptables', text: string): void {
  const re = kind === 'ipset' ? IPSET_LINE : IPTABLES_LINE;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '' && i === lines.length - 1) continue;
    if (!re.test(l))
      throw new PlanValidationError(`refusing ${kind} payload line ${i + 1}: ${JSON.stringify(l.slice(0, 120))}`);
    // Addresses are checked for syntax here (hex digits, dots, colons only: nothing else can pass); their
    // canonical form was checked by validatePlan. A leading zero in an IPv4 octet is refused (ambiguous).
    if (kind === 'ipset' && l.startsWith('add ')) {
      const addr = l.split(' ')[2]!;
      if (
        addr.includes('.')
          ? !/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(addr)
          : !addr.includes(':')
      ) {
        throw new PlanValidationError(`refusing ipset payload line ${i + 1}: bad address ${JSON.stringify(addr)}`);
      }
    }
  }
}

// ---------- reading the live state ----------

const OWN_HOOK = /^-A (FORWARD|INPUT) -j (BANDGUARD-[A-Z0-9-]+)$/;

/** Parses `iptables -S` output into what we own. */
export function parseIptablesS(text: string): LiveFamilyState {
  const chains: string[] = [];
  const hooks: Record<string, number> = {};
  const rules = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const l = line.trimEnd();
    if (l.startsWith(`-N ${CHAIN_PREFIX}`)) {
      const c = l.slice(3);
      chains.push(c);
      rules.set(c, []);
      continue;
    }
    const h = OWN_HOOK.exec(l);
    if (h) {
      const key = `${h[1]} ${h[2]}`;
      hooks[key] = (hooks[key] ?? 0) + 1;
      continue;
    }
    if (l.startsWith(`-A ${CHAIN_PREFIX}`)) {
      const c = l.slice(3, l.indexOf(' ', 3));
      const list = rules.get(c);
      if (list) list.push(l);
      else rules.set(c, [l]);
    }
  }
  return { chains: chains.sort(), hooks, rules };
}

/** Parses `ipset list -t` output into our sets. */
export function parseIpsetTerse(text: string): Map<string, LiveSet> {
  const out = new Map<string, LiveSet>();
  let cur: Partial<LiveSet> & { name?: string } = {};
  const flush = () => {
    if (cur.name?.startsWith(SET_PREFIX)) {
      out.set(cur.name, { name: cur.name, type: cur.type ?? '', family: cur.family ?? '', count: cur.count ?? 0 });
    }
    cur = {};
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('Name: ')) {
      flush();
      cur.name = line.slice(6).trim();
    } else if (line.startsWith('Type: ')) cur.type = line.slice(6).trim();
    else if (line.startsWith('Header: ')) cur.family = /family (\S+)/.exec(line)?.[1] ?? '';
    else if (line.startsWith('Number of entries: ')) cur.count = Number(line.slice(19).trim());
  }
  flush();
  return out;
}

/** Parses `ipset save NAME` output into entries (address, remaining timeout). */
export function parseIpsetSave(text: string, name: string): SetEntry[] {
  const out: SetEntry[] = [];
  const prefix = `add ${name} `;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const parts = line.slice(prefix.length).split(' ');
    const address = parts[0] ?? '';
    const ti = parts.indexOf('timeout');
    const timeout = ti >= 0 ? Number(parts[ti + 1]) : 0;
    try {
      out.push({ address: normalizeIp(address).ip, timeout: Number.isFinite(timeout) ? timeout : 0 });
    } catch {
      // not an address entry
    }
  }
  return out;
}

const FAMILIES: readonly Family[] = [4, 6];
const tool = (f: Family, t: 'iptables' | 'iptables-restore') => (f === 4 ? t : (`ip6${t.slice(2)}` as string));

function isGrow(prev: readonly string[], next: readonly string[]): boolean {
  const n = new Set(next);
  const p = new Set(prev);
  for (const k of prev) if (k.startsWith('+') && !n.has(k)) return false;
  for (const k of next) if (k.startsWith('-') && !p.has(k)) return false;
  return true;
}

/**
 * Waits for every promise (none is left running behind our back) and throws the first failure, so a
 * rollback never races a step that is still in flight.
 */
async function settle(work: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(work);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

function fail(r: ExecResult, what: string): never {
  throw new Error(
    `${what} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(0, 3).join(' | ') || 'no message'}`,
  );
}

/** Applies plans, removes everything, feeds adds. Not re-entrant: FirewallService serialises calls. */
export class FirewallApplier {
  #index: BlockIndex | null = null;
  readonly cutStats: CutStats = { tool: 'unknown', runs: 0, cut: 0, failed: 0, lastError: null };

  constructor(private readonly exec: Executor) {}

  /**
   * Deletes the tracked connections between phones and addresses that the policy in force blocks (all of
   * them, or only those to `only`): without this, the ESTABLISHED shortcut would let a connection opened
   * before the block run on. Never throws: when `conntrack` is missing the state says so (status, doctor)
   * and blocking goes on for new connections.
   */
  async cutBlocked(only?: ReadonlySet<string>): Promise<CutPair[]> {
    const index = this.#index;
    if (!index || this.exec.dryRun || this.cutStats.tool === 'missing') return [];
    try {
      const lists = await Promise.all(
        FAMILIES.map((f) => this.run(['conntrack', '-L', '-f', f === 4 ? 'ipv4' : 'ipv6'], undefined, true)),
      );
      const flows: TrackedFlow[] = [];
      for (const r of lists) {
        if (r.code !== 0) {
          if (toolMissing(r.code, r.stderr)) {
            this.cutStats.tool = 'missing';
            log.warn(
              'conntrack is not installed: connections open before a block keep running until they end (new ones are blocked); sudo apt install conntrack',
            );
            return [];
          }
          this.cutStats.lastError = `conntrack -L failed (exit ${r.code}): ${r.stderr.trim().slice(0, 200)}`;
          log.warn(this.cutStats.lastError);
          continue;
        }
        this.cutStats.tool = 'available';
        for (const f of parseConntrackList(r.stdout)) flows.push(f);
      }
      this.cutStats.runs++;
      const pairs = index.pairs(flows, only);
      const argvs = pairs.flatMap(conntrackDeleteArgv);
      for (let i = 0; i < argvs.length; i += 8) {
        const results = await Promise.all(argvs.slice(i, i + 8).map((a) => this.run(a)));
        for (const r of results) {
          if (r.code === 0 || nothingToDelete(r.code, r.stderr)) continue;
          this.cutStats.failed++;
          this.cutStats.lastError = `${r.argv.join(' ')} failed (exit ${r.code}): ${r.stderr.trim().slice(0, 200)}`;
          log.warn(this.cutStats.lastError);
        }
      }
      this.cutStats.cut += pairs.length;
      if (pairs.length > 0) {
        log.info(() => `cut the open connections of ${pairs.length} blocked (phone, address) pairs`);
      }
      return pairs;
    } catch (err) {
      this.cutStats.lastError = (err as Error).message;
      log.warn(`could not cut open connections: ${(err as Error).message}`);
      return [];
    }
  }

  /** Checks whether `conntrack` can run here (status, doctor). */
  async probeConntrack(): Promise<ConntrackTool> {
    if (this.exec.dryRun) return 'unknown';
    const r = await this.run(['conntrack', '--version'], undefined, true);
    if (r.code === 0) this.cutStats.tool = 'available';
    else if (toolMissing(r.code, r.stderr)) this.cutStats.tool = 'missing';
    return this.cutStats.tool;
  }

  get dryRun(): boolean {
    return this.exec.dryRun;
  }

  private async run(argv: string[], stdin?: string, readOnly = false): Promise<ExecResult> {
    const req: { argv: string[]; stdin?: string; readOnly: boolean } = { argv, readOnly };
    if (stdin !== undefined) req.stdin = stdin;
    return this.exec.run(req);
  }

  private async ipsetRestore(text: string, what: string, checked = false): Promise<void> {
    if (!checked) checkPayload('ipset', text);
    const r = await this.run(['ipset', '-exist', 'restore'], text);
    if (r.code !== 0) fail(r, what);
  }

  private async iptablesRestore(f: Family, text: string, test: boolean, checked = false): Promise<void> {
    if (!checked) checkPayload('iptables', text);
    const argv = [tool(f, 'iptables-restore'), '-w', '5', '--noflush', ...(test ? ['--test'] : [])];
    const r = await this.run(argv, text, test);
    if (r.code !== 0) fail(r, `${argv[0]}${test ? ' --test' : ''}`);
  }

  /** Reads what we own in the kernel now. */
  async readLive(): Promise<LiveState> {
    const fam = async (f: Family) => {
      const r = await this.run([tool(f, 'iptables'), '-w', '5', '-S'], undefined, true);
      if (r.code !== 0) fail(r, `${tool(f, 'iptables')} -S`);
      return parseIptablesS(r.stdout);
    };
    // Three independent reads, run side by side.
    const [v4, v6, r] = await Promise.all([fam(4), fam(6), this.run(['ipset', 'list', '-t'], undefined, true)]);
    if (r.code !== 0) fail(r, 'ipset list -t');
    return { v4, v6, sets: parseIpsetTerse(r.stdout) };
  }

  async readSet(name: string): Promise<SetEntry[]> {
    checkSetName(name.replace(/\.n$/, ''));
    const r = await this.run(['ipset', 'save', name], undefined, true);
    if (r.code !== 0) fail(r, `ipset save ${name}`);
    return parseIpsetSave(r.stdout, name);
  }

  private async destroySets(names: readonly string[]): Promise<string[]> {
    for (const name of names) checkSetName(name);
    const one = async (name: string): Promise<boolean> => {
      // With the nf_tables backend a set is released shortly after the rule that used it: retry briefly.
      for (let i = 0; i < 20; i++) {
        const r = await this.run(['ipset', 'destroy', name]);
        if (r.code === 0 || /does not exist/.test(r.stderr)) return true;
        await new Promise((res) => setTimeout(res, 50));
      }
      return false;
    };
    // Sets are independent: destroyed side by side.
    const ok = await Promise.all(names.map(one));
    return names.filter((_, i) => !ok[i]);
  }

  /** Compares the live state with a plan. Returns the differences (empty = verified). */
  async verify(
    plan: FirewallPlan,
    expectedCounts: ReadonlyMap<string, number>,
    mode: 'counts' | 'full',
  ): Promise<string[]> {
    const live = await this.readLive();
    const problems: string[] = [];
    for (const f of FAMILIES) {
      const want = f === 4 ? plan.v4 : plan.v6;
      const have = f === 4 ? live.v4 : live.v6;
      const planned = want.chains.map((c) => c.name).sort();
      if (JSON.stringify(planned) !== JSON.stringify(have.chains)) {
        problems.push(`IPv${f} chains are ${have.chains.join(',') || 'none'}, expected ${planned.join(',')}`);
      }
      for (const c of want.chains) {
        const got = have.rules.get(c.name) ?? [];
        if (JSON.stringify(got) !== JSON.stringify(c.rules)) {
          problems.push(
            `IPv${f} chain ${c.name} reads back as [${got.join(' ; ')}], expected [${c.rules.join(' ; ')}]`,
          );
        }
      }
      const wantHooks = new Set(want.hooks.map((h) => `${h.chain} ${h.target}`));
      for (const k of wantHooks)
        if ((have.hooks[k] ?? 0) !== 1) problems.push(`IPv${f} hook ${k} present ${have.hooks[k] ?? 0} times`);
      for (const k of Object.keys(have.hooks)) if (!wantHooks.has(k)) problems.push(`IPv${f} unexpected hook ${k}`);
    }
    for (const s of plan.sets) {
      const l = live.sets.get(s.name);
      if (!l) {
        problems.push(`set ${s.name} is missing`);
        continue;
      }
      if (l.type !== 'hash:ip' || l.family !== (s.family === 4 ? 'inet' : 'inet6')) {
        problems.push(`set ${s.name} is ${l.type} ${l.family}, expected hash:ip ${s.family === 4 ? 'inet' : 'inet6'}`);
      }
      const want = expectedCounts.get(s.name) ?? s.entries.length;
      if (l.count < want) problems.push(`set ${s.name} holds ${l.count} entries, expected ${want}`);
      if (mode === 'full') {
        const have = new Set((await this.readSet(s.name)).map((e) => e.address));
        const missing = s.entries.filter((e) => !have.has(e.address));
        if (missing.length > 0)
          problems.push(`set ${s.name} lacks ${missing.length} planned entries (${missing[0]!.address} …)`);
      }
    }
    return problems;
  }

  /**
   * Applies a plan. `previous` is what the store says was applied last (for grow/replace and idempotence).
   * Throws {@link FirewallApplyError} after rolling back.
   */
  async apply(
    plan: FirewallPlan,
    previous: AppliedState | null,
    opts: ApplyOptions = {},
  ): Promise<{ result: ApplyResult; state: AppliedState }> {
    const t0 = performance.now();
    const mode = opts.verify ?? 'counts';
    validatePlan(plan);
    const state: AppliedState = {
      hash: plan.hash,
      sets: Object.fromEntries(plan.sets.map((s) => [s.name, { sources: s.sources, family: s.family }])),
    };
    const done = (changed: boolean, replaced: string[], grown: string[], cut = 0) => ({
      result: {
        changed,
        hash: plan.hash,
        dryRun: this.exec.dryRun,
        replaced,
        grown,
        cut,
        durationMs: Math.round(performance.now() - t0),
      },
      state,
    });

    let live: LiveState;
    try {
      live = await this.readLive();
    } catch (err) {
      throw new FirewallApplyError(`cannot read the live firewall: ${(err as Error).message}`, false, 'read');
    }

    // Idempotence: the same plan, verified in place → nothing to do.
    if (!this.exec.dryRun && previous?.hash === plan.hash) {
      const problems = await this.verify(plan, new Map(), 'counts');
      if (problems.length === 0) {
        this.#index = new BlockIndex(plan);
        return done(false, [], []);
      }
      log.info(() => `live state differs from the applied plan (${problems[0]}); re-applying`);
    }

    // Which sets keep their live entries (policy only grew) and which are rebuilt.
    const carry = new Map<string, SetEntry[]>();
    const replaced: string[] = [];
    const grown: string[] = [];
    const soon = 5; // seconds: entries about to expire are not carried (they would vanish before verify)
    for (const s of plan.sets) {
      const l = live.sets.get(s.name);
      const prev = previous?.sets[s.name];
      if (l && prev && prev.family === s.family && l.type === 'hash:ip' && isGrow(prev.sources, s.sources)) {
        grown.push(s.name);
      } else replaced.push(s.name);
    }
    // The grown sets are read side by side (each is its own `ipset save`).
    await Promise.all(
      plan.sets
        .filter((s) => grown.includes(s.name))
        .map(async (s) => {
          const entries = await this.readSet(s.name);
          const six = s.family === 6;
          carry.set(
            s.name,
            entries.filter((e) => (e.timeout === 0 || e.timeout > soon) && e.address.includes(':') === six),
          );
        }),
    );
    const expected = new Map<string, number>();
    for (const s of plan.sets) {
      const m = new Set(s.entries.map((e) => e.address));
      for (const e of carry.get(s.name) ?? []) m.add(e.address);
      expected.set(s.name, m.size);
    }

    const created = plan.sets.map((s) => s.name).filter((n) => !live.sets.has(n));
    const staging = plan.sets.map((s) => `${s.name}${STAGING_SUFFIX}`);
    const cleanupNew = async () => {
      await this.destroySets(staging);
      await this.destroySets(created);
    };

    // Steps 3–4: stage sets, test rules. Nothing live has changed yet. The live sets are created first (the
    // rules name them); then every set is staged by its own `ipset restore` and both rule families are
    // tested, all side by side (independent work: the sets do not share entries, --test only reads).
    const payloads = new Map<Family, string>();
    try {
      const stage = plan.sets.map((s) => ({ s, text: renderIpsetStageSet(s, carry.get(s.name)) }));
      for (const f of FAMILIES)
        payloads.set(f, renderIptablesRestore(f === 4 ? plan.v4 : plan.v6, f === 4 ? live.v4 : live.v6));
      for (const { text } of stage) checkPayload('ipset', text);
      for (const text of payloads.values()) checkPayload('iptables', text);
      const missing = plan.sets.filter((s) => !live.sets.has(s.name));
      if (missing.length > 0) await this.ipsetRestore(renderIpsetCreate(missing), 'ipset restore (create)');
      await settle([
        ...stage.map(({ s, text }) => this.ipsetRestore(text, `ipset restore (staging ${s.name})`, true)),
        ...FAMILIES.map((f) => this.iptablesRestore(f, payloads.get(f)!, true, true)),
      ]);
    } catch (err) {
      if (err instanceof PlanValidationError) throw err;
      await cleanupNew().catch(() => undefined);
      throw new FirewallApplyError(`${(err as Error).message} (nothing was changed)`, true, 'stage');
    }

    // Steps 5–7: swap, apply rules, verify; roll back on any failure.
    const swapped: string[] = [];
    let step = 'swap';
    try {
      // Each swap is atomic for its set and independent of the others: run side by side, and remember
      // every one that happened (a rollback swaps exactly those back).
      await settle(
        plan.sets.map(async (s) => {
          const r = await this.run(['ipset', 'swap', `${s.name}${STAGING_SUFFIX}`, s.name]);
          if (r.code !== 0) fail(r, `ipset swap ${s.name}`);
          swapped.push(s.name);
        }),
      );
      step = 'rules';
      // One transaction per family; the two families are separate tables.
      await settle(FAMILIES.map((f) => this.iptablesRestore(f, payloads.get(f)!, false, true)));
      step = 'verify';
      if (!this.exec.dryRun) {
        const problems = await this.verify(plan, expected, mode);
        if (problems.length > 0) throw new Error(`read-back differs: ${problems.slice(0, 5).join('; ')}`);
      }
    } catch (err) {
      const message = (err as Error).message;
      log.error(`apply failed at ${step}: ${message}; rolling back`);
      const rolledBack = await this.rollback(live, swapped, created, staging);
      throw new FirewallApplyError(
        `${message}${rolledBack ? ' (rolled back to the previous state, verified)' : ' (ROLL-BACK INCOMPLETE: see the log; `bandguard firewall off` removes everything bandguard added)'}`,
        rolledBack,
        step,
      );
    }

    // Step 9: the staging sets now hold the old contents; sets no longer planned go too.
    const planned = new Set(plan.sets.map((s) => s.name));
    const stale = [...live.sets.keys()].filter((n) => !planned.has(n) && !n.endsWith(STAGING_SUFFIX));
    const left = await this.destroySets([...staging, ...stale]);
    if (left.length > 0) log.warn(`could not destroy ${left.join(', ')} yet (still referenced?)`);
    // Step 10: the new policy is in force for new connections; cut the open ones it blocks.
    this.#index = new BlockIndex(plan, carry);
    const cut = await this.cutBlocked();
    return done(true, replaced, grown, cut.length);
  }

  /** Restores the state read before an apply. True when it is verified. */
  private async rollback(
    before: LiveState,
    swapped: readonly string[],
    created: readonly string[],
    staging: readonly string[],
  ): Promise<boolean> {
    let ok = true;
    try {
      const now = await this.readLive();
      for (const f of FAMILIES) {
        const b = f === 4 ? before.v4 : before.v6;
        const rules: FamilyRules = {
          chains: b.chains.map((c) => ({ name: c, rules: b.rules.get(c) ?? [] })),
          hooks: Object.keys(b.hooks).map((k) => {
            const [chain, target] = k.split(' ') as ['FORWARD' | 'INPUT', string];
            return { chain, target };
          }),
        };
        const text = renderIptablesRestore(rules, f === 4 ? now.v4 : now.v6);
        try {
          checkPayload('iptables', text);
          const r = await this.run([tool(f, 'iptables-restore'), '-w', '5', '--noflush'], text);
          if (r.code !== 0) fail(r, 'rollback of the rules');
        } catch (err) {
          ok = false;
          log.error(`rollback of IPv${f} rules failed: ${(err as Error).message}`);
        }
      }
      for (const name of [...swapped].reverse()) {
        const r = await this.run(['ipset', 'swap', `${name}${STAGING_SUFFIX}`, name]);
        if (r.code !== 0) {
          ok = false;
          log.error(`rollback swap of ${name} failed: ${r.stderr.trim()}`);
        }
      }
      await this.destroySets(staging);
      await this.destroySets(created);
      if (!this.exec.dryRun) {
        const after = await this.readLive();
        for (const f of FAMILIES) {
          const b = f === 4 ? before.v4 : before.v6;
          const a = f === 4 ? after.v4 : after.v6;
          const norm = (x: LiveFamilyState) =>
            JSON.stringify([x.chains, Object.entries(x.hooks).sort(), [...x.rules.entries()].sort()]);
          if (norm(a) !== norm(b)) {
            ok = false;
            log.error(`IPv${f} rules after rollback differ from before the apply`);
          }
        }
        for (const [name, s] of before.sets) {
          if (name.endsWith(STAGING_SUFFIX)) continue;
          const a = after.sets.get(name);
          if (!a || a.type !== s.type || a.family !== s.family) {
            ok = false;
            log.error(`set ${name} not restored`);
          }
        }
        for (const name of after.sets.keys()) {
          if (!before.sets.has(name)) {
            ok = false;
            log.error(`set ${name} left over after rollback`);
          }
        }
      }
    } catch (err) {
      ok = false;
      log.error('rollback failed', err);
    }
    return ok;
  }

  /** Removes every chain, hook and set we own. Returns what was removed. */
  async off(): Promise<{ chains: string[]; sets: string[] }> {
    this.#index = null;
    const live = await this.readLive();
    for (const f of FAMILIES) {
      const l = f === 4 ? live.v4 : live.v6;
      if (l.chains.length === 0 && Object.keys(l.hooks).length === 0) continue;
      const text = renderIptablesRemoval(l);
      checkPayload('iptables', text);
      const r = await this.run([tool(f, 'iptables-restore'), '-w', '5', '--noflush'], text);
      if (r.code !== 0) fail(r, `removing IPv${f} rules`);
    }
    const sets = [...live.sets.keys()].sort();
    const left = await this.destroySets(sets);
    if (left.length > 0) throw new FirewallApplyError(`could not destroy sets ${left.join(', ')}`, false, 'off');
    if (!this.exec.dryRun) {
      const after = await this.readLive();
      const remaining = [
        ...after.v4.chains,
        ...after.v6.chains,
        ...Object.keys(after.v4.hooks),
        ...Object.keys(after.v6.hooks),
        ...after.sets.keys(),
      ];
      if (remaining.length > 0)
        throw new FirewallApplyError(`still present after off: ${remaining.join(', ')}`, false, 'off');
    }
    return { chains: [...new Set([...live.v4.chains, ...live.v6.chains])].sort(), sets };
  }

  /** Adds addresses to live sets (the feed). */
  async add(adds: readonly SetAdd[]): Promise<void> {
    if (adds.length === 0) return;
    for (const a of adds) {
      checkSetName(a.set);
      const n = normalizeIp(a.address);
      if (n.ip !== a.address || !Number.isInteger(a.timeout) || a.timeout < 0 || a.timeout > 2_147_483) {
        throw new PlanValidationError(`refusing add ${JSON.stringify(a)}`);
      }
    }
    await this.ipsetRestore(renderAdds(adds), 'ipset restore (feed)');
    // Addresses that just became blocked: cut connections to them that are already open.
    const index = this.#index;
    if (!index) return;
    const fresh = new Set<string>();
    for (const a of adds) {
      index.added(a.set, a.address);
      if (BLOCK_SET.test(a.set)) fresh.add(a.address);
    }
    if (fresh.size > 0) await this.cutBlocked(fresh);
  }
}
