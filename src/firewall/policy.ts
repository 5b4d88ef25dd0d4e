/**
 * The blocking policy: entries that block (or allow) a domain and its subdomains, an organization, or a
 * role (design.md roles), for every client or for one client (by MAC, so the entry survives IP changes),
 * stored in SQLite (migration 3) with an audit log of what changed, when and from where (cli/api/agent).
 *
 * Precedence, the same everywhere (plan, feed, dnsmasq lines, preview):
 *   1. a phone's own entries win over entries for every client;
 *   2. within one scope, `allow` wins over `block`.
 * So "block advertising for everyone, but allow ads.example.com on Ann's phone" and "allow everything, but
 * block umeng.com on Bob's phone" both mean what they say.
 *
 * `PolicyMatcher` is pure (no I/O) and fast: domain entries are found by walking the name's suffixes in a
 * hash map, organization and role entries by one memoised parties-knowledge-base lookup per name.
 *
 * The `firewall_state.revision` counter is bumped by every change (in the same transaction), so a running
 * agent notices changes made by the CLI with one cheap query (see FirewallService.watchPolicy).
 */
import { PARTY_ROLES, type PartyRole } from '../net/classify/parties.js';
import type { Db } from '../store/db.js';
import {
  FirewallInputError,
  isNormalizedName,
  isWithin,
  normalizeDomain,
  normalizeIp,
  normalizeMac,
  parseClient,
} from './validate.js';

export type BlockKind = 'domain' | 'organization' | 'role';
export type BlockAction = 'block' | 'allow';
export type ChangeSource = 'cli' | 'api' | 'agent';

export const BLOCK_KINDS: readonly BlockKind[] = ['domain', 'organization', 'role'];
export const CHANGE_SOURCES: readonly ChangeSource[] = ['cli', 'api', 'agent'];

/** Roles a block may name (design.md vocabulary, minus `local` and `unknown`, which name no party). */
export const BLOCKABLE_ROLES = PARTY_ROLES.filter(
  (r): r is Exclude<PartyRole, 'local' | 'unknown'> => r !== 'local' && r !== 'unknown',
);

/** What the parties knowledge base says about a name (a subset of PartyInfo). */
export interface PartyFacts {
  organization: string | null;
  parent?: string | null;
  role: string;
}

/** The part of the parties knowledge base the firewall uses (PartiesKnowledgeBase satisfies it). */
export interface PartyLookup {
  lookup(hostname: string): PartyFacts | null;
  entries(): readonly { suffix: string; organization: string | null; parent?: string | null; role: string }[];
}

export interface BlockEntry {
  id: number;
  kind: BlockKind;
  /** Normalised: a domain (A-labels), an organization as spelt in the knowledge base, or a role. */
  target: string;
  /** Null for every client; else a lower-case MAC (or, until the client is seen, an IP address). */
  client: string | null;
  action: BlockAction;
  createdAt: number;
  source: ChangeSource;
  note: string | null;
}

export interface NewEntry {
  kind: BlockKind;
  target: string;
  client?: string | null;
  action?: BlockAction;
  note?: string | null;
}

export interface AuditRecord {
  id: number;
  at: number;
  source: string;
  action: string;
  target: string | null;
  entryId: number | null;
  detail: Record<string, unknown>;
}

/** Switches for anti-bypass rules and DNS integration (see bypass.ts and docs/firewall.md). */
export interface BypassSettings {
  /** Reject DNS over TLS / over QUIC (tcp+udp 853) from managed phones. */
  dot: boolean;
  /** Reject known DoH/HTTPDNS resolver addresses (tcp, udp 443) from managed phones. */
  doh: boolean;
  /** Reject all QUIC (udp 443) from managed phones, so apps fall back to TCP+TLS (SNI visible). */
  quic: boolean;
  /** Reject forwarded plain DNS (53) from managed phones, so they use the hub's resolver. */
  foreignDns: boolean;
  /** dnsmasq answers NXDOMAIN for use-application-dns.net (Firefox's DoH canary). */
  canary: boolean;
}

export interface FirewallSettings {
  /** `ipset`: dnsmasq fills the sets; `sinkhole`: dnsmasq also answers 0.0.0.0/:: for names blocked for all. */
  dnsMode: 'ipset' | 'sinkhole';
  /** The hub itself answers DNS for the phones (an INPUT hook rejects DoT to the hub so phones fall back fast). */
  hubResolver: boolean;
  bypass: BypassSettings;
  /** Lowest lifetime of an address learnt from a DNS answer, seconds. */
  ttlFloorSec: number;
  /** Highest lifetime of such an address, seconds. */
  ttlMaxSec: number;
  /** maxelem of each set. */
  maxElements: number;
}

export const DEFAULT_SETTINGS: FirewallSettings = {
  dnsMode: 'ipset',
  hubResolver: true,
  bypass: { dot: false, doh: false, quic: false, foreignDns: false, canary: true },
  ttlFloorSec: 900,
  ttlMaxSec: 86_400,
  maxElements: 262_144,
};

/** Validates the target of an entry for its kind and returns its normalised form. */
export function normalizeTarget(kind: BlockKind, target: unknown, parties: PartyLookup | null): string {
  if (typeof target !== 'string') throw new FirewallInputError(`the ${kind} to block must be a string`);
  switch (kind) {
    case 'domain':
      return normalizeDomain(target);
    case 'role': {
      const r = target.trim().toLowerCase();
      if ((BLOCKABLE_ROLES as readonly string[]).includes(r)) return r;
      throw new FirewallInputError(
        `unknown role ${JSON.stringify(target.slice(0, 40))}; one of: ${BLOCKABLE_ROLES.join(', ')}`,
      );
    }
    case 'organization': {
      const t = target.trim();
      if (t.length === 0 || t.length > 120 || /[\p{Cc}\p{Cf}]/u.test(t)) {
        throw new FirewallInputError('an organization is a name such as "Alibaba Group" (printable, ≤ 120 characters)');
      }
      if (parties === null) return t;
      const known = new Map<string, string>();
      for (const e of parties.entries()) {
        if (e.organization) known.set(e.organization.toLowerCase(), e.organization);
        if (e.parent) known.set(e.parent.toLowerCase(), e.parent);
      }
      const hit = known.get(t.toLowerCase());
      if (hit !== undefined) return hit;
      const low = t.toLowerCase();
      const close = [...known.values()].filter((o) => o.toLowerCase().includes(low) || low.includes(o.toLowerCase()));
      throw new FirewallInputError(
        `unknown organization ${JSON.stringify(t)}${
          close.length > 0
            ? `; did you mean ${close
                .slice(0, 5)
                .map((c) => JSON.stringify(c))
                .join(', ')}?`
            : ' (see the parties knowledge base, data/parties)'
        }`,
      );
    }
    default:
      throw new FirewallInputError(`unknown kind ${JSON.stringify(kind)} (domain, organization or role)`);
  }
}

/** Normalises a client argument for storage: a MAC, or an IP that is not yet tied to a MAC. Null = all. */
export function normalizeClient(client: unknown): string | null {
  if (client === null || client === undefined || client === '') return null;
  const c = parseClient(client);
  return 'mac' in c ? c.mac : c.ip;
}

export type Decision = { action: BlockAction; entry: BlockEntry; scope: 'client' | 'all' };

interface Scope {
  domains: Map<string, BlockEntry[]>;
  orgs: Map<string, BlockEntry[]>;
  roles: Map<string, BlockEntry[]>;
  hasBlock: boolean;
  hasAllow: boolean;
}

function emptyScope(): Scope {
  return { domains: new Map(), orgs: new Map(), roles: new Map(), hasBlock: false, hasAllow: false };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l === undefined) m.set(k, [v]);
  else l.push(v);
}

/** Pure decision maker over a list of entries. Client keys are the entries' `client` strings (MACs). */
export class PolicyMatcher {
  readonly #global = emptyScope();
  readonly #clients = new Map<string, Scope>();

  constructor(
    readonly entries: readonly BlockEntry[],
    private readonly parties: PartyLookup | null,
  ) {
    for (const e of entries) {
      let scope = this.#global;
      if (e.client !== null) {
        scope = this.#clients.get(e.client) ?? emptyScope();
        this.#clients.set(e.client, scope);
      }
      if (e.kind === 'domain') push(scope.domains, e.target, e);
      else if (e.kind === 'organization') push(scope.orgs, e.target.toLowerCase(), e);
      else push(scope.roles, e.target, e);
      if (e.action === 'block') scope.hasBlock = true;
      else scope.hasAllow = true;
    }
  }

  /** Clients (entry client keys) that have entries of their own, sorted. */
  clients(): string[] {
    return [...this.#clients.keys()].sort();
  }

  clientHas(client: string | null, action: BlockAction): boolean {
    const s = client === null ? this.#global : this.#clients.get(client);
    if (!s) return false;
    return action === 'block' ? s.hasBlock : s.hasAllow;
  }

  /** The decision of ONE scope for a name (no precedence between scopes): allow beats block. */
  decideIn(client: string | null, name: string): Decision | null {
    const scope = client === null ? this.#global : this.#clients.get(client);
    if (!scope) return null;
    const hits: BlockEntry[] = [];
    if (scope.domains.size > 0) {
      let from = 0;
      for (;;) {
        const l = scope.domains.get(from === 0 ? name : name.slice(from));
        if (l) hits.push(...l);
        const dot = name.indexOf('.', from);
        if (dot < 0) break;
        from = dot + 1;
      }
    }
    if ((scope.orgs.size > 0 || scope.roles.size > 0) && this.parties) {
      const p = this.parties.lookup(name);
      if (p) {
        if (p.organization) hits.push(...(scope.orgs.get(p.organization.toLowerCase()) ?? []));
        if (p.parent) hits.push(...(scope.orgs.get(p.parent.toLowerCase()) ?? []));
        hits.push(...(scope.roles.get(p.role) ?? []));
      }
    }
    if (hits.length === 0) return null;
    const allow = hits.find((h) => h.action === 'allow');
    const entry = allow ?? hits[0]!;
    return { action: entry.action, entry, scope: client === null ? 'all' : 'client' };
  }

  /** The effective decision for a client (null = a client without entries of its own). */
  decide(client: string | null, name: string): Decision | null {
    if (client !== null) {
      const own = this.decideIn(client, name);
      if (own) return own;
    }
    return this.decideIn(null, name);
  }

  /** Domains that an entry stands for, for dnsmasq lines: the domain itself, or the KB suffixes of an org/role. */
  domainsOf(entry: BlockEntry): string[] {
    if (entry.kind === 'domain') return [entry.target];
    if (!this.parties) return [];
    const out: string[] = [];
    for (const p of this.parties.entries()) {
      const match =
        entry.kind === 'role'
          ? p.role === entry.target
          : p.organization?.toLowerCase() === entry.target.toLowerCase() ||
            (p.parent ?? '').toLowerCase() === entry.target.toLowerCase();
      if (match && isNormalizedName(p.suffix)) out.push(p.suffix);
    }
    return out;
  }
}

interface RawEntry {
  id: number;
  kind: BlockKind;
  target: string;
  client: string;
  action: BlockAction;
  created_at: number;
  source: ChangeSource;
  note: string | null;
}

function toEntry(r: RawEntry): BlockEntry {
  return {
    id: r.id,
    kind: r.kind,
    target: r.target,
    client: r.client === '' ? null : r.client,
    action: r.action,
    createdAt: r.created_at,
    source: r.source,
    note: r.note,
  };
}

/** One address learnt for a name from a DNS answer, with its expiry. */
export interface ObservedAddress {
  /** Who asked (a client id: MAC, or IP without one); '' when unknown (dnsmasq, preload). */
  client: string;
  name: string;
  address: string;
  expiresAt: number;
}

export interface KnownClient {
  mac: string;
  ip: string;
  seenAt: number;
}

export interface StateRow {
  revision: number;
  enabled: boolean;
  settings: FirewallSettings;
  appliedHash: string | null;
  appliedAt: number | null;
  appliedRevision: number | null;
  appliedState: string | null;
  lastError: string | null;
  lastErrorAt: number | null;
}

function mergeSettings(raw: unknown): FirewallSettings {
  const s = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<FirewallSettings>;
  return {
    ...DEFAULT_SETTINGS,
    ...s,
    bypass: { ...DEFAULT_SETTINGS.bypass, ...(s.bypass ?? {}) },
  };
}

/** Most observed addresses kept (oldest expiry dropped first beyond this). */
export const MAX_OBSERVED = 500_000;

/** SQLite repository of the policy, the audit log, observed names, known clients and the applied state. */
export class PolicyStore {
  constructor(
    readonly db: Db,
    private readonly clock: () => number = Date.now,
  ) {}

  list(): BlockEntry[] {
    const rows = this.db
      .prepare('SELECT id, kind, target, client, action, created_at, source, note FROM firewall_entries ORDER BY id')
      .all() as RawEntry[];
    return rows.map(toEntry);
  }

  get(id: number): BlockEntry | null {
    const r = this.db
      .prepare('SELECT id, kind, target, client, action, created_at, source, note FROM firewall_entries WHERE id = ?')
      .get(id) as RawEntry | undefined;
    return r ? toEntry(r) : null;
  }

  /**
   * Adds an entry (validated and normalised here). Adding an entry that already exists changes nothing
   * and returns it with `created: false`.
   */
  add(input: NewEntry, source: ChangeSource, parties: PartyLookup | null): { entry: BlockEntry; created: boolean } {
    if (!BLOCK_KINDS.includes(input.kind)) throw new FirewallInputError(`unknown kind ${JSON.stringify(input.kind)}`);
    if (!CHANGE_SOURCES.includes(source)) throw new FirewallInputError(`unknown source ${JSON.stringify(source)}`);
    const action = input.action ?? 'block';
    if (action !== 'block' && action !== 'allow')
      throw new FirewallInputError(`unknown action ${JSON.stringify(action)}`);
    const target = normalizeTarget(input.kind, input.target, parties);
    const client = normalizeClient(input.client ?? null);
    const note = input.note == null ? null : String(input.note).slice(0, 500);
    return this.db.transaction(() => {
      const existing = this.db
        .prepare(
          'SELECT id, kind, target, client, action, created_at, source, note FROM firewall_entries WHERE kind = ? AND target = ? AND client = ? AND action = ?',
        )
        .get(input.kind, target, client ?? '', action) as RawEntry | undefined;
      if (existing) return { entry: toEntry(existing), created: false };
      const now = this.clock();
      const info = this.db
        .prepare(
          'INSERT INTO firewall_entries (kind, target, client, action, created_at, source, note) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(input.kind, target, client ?? '', action, now, source, note);
      const id = Number(info.lastInsertRowid);
      this.audit(source, 'add', id, { kind: input.kind, target, client, action });
      this.bump();
      return { entry: this.get(id)!, created: true };
    })();
  }

  /** Removes an entry; null when there is no such id. */
  remove(id: number, source: ChangeSource): BlockEntry | null {
    if (!Number.isSafeInteger(id) || id <= 0) throw new FirewallInputError(`bad entry id ${JSON.stringify(id)}`);
    return this.db.transaction(() => {
      const e = this.get(id);
      if (!e) return null;
      this.db.prepare('DELETE FROM firewall_entries WHERE id = ?').run(id);
      this.audit(source, 'remove', id, { kind: e.kind, target: e.target, client: e.client, action: e.action });
      this.bump();
      return e;
    })();
  }

  /** Rewrites entries whose client is an IP address to the MAC now known for it. Returns how many. */
  bindClientIp(ip: string, mac: string, source: ChangeSource): number {
    const nip = normalizeIp(ip).ip;
    const nmac = normalizeMac(mac);
    return this.db.transaction(() => {
      const rows = this.db.prepare('SELECT id FROM firewall_entries WHERE client = ?').all(nip) as { id: number }[];
      let n = 0;
      for (const r of rows) {
        const clash = this.db
          .prepare(
            `SELECT 1 FROM firewall_entries a JOIN firewall_entries b ON a.kind = b.kind AND a.target = b.target AND a.action = b.action
             WHERE a.id = ? AND b.client = ?`,
          )
          .get(r.id, nmac);
        if (clash) this.db.prepare('DELETE FROM firewall_entries WHERE id = ?').run(r.id);
        else this.db.prepare('UPDATE firewall_entries SET client = ? WHERE id = ?').run(nmac, r.id);
        n++;
      }
      if (n > 0) {
        this.audit(source, 'bind-client', null, { ip: nip, mac: nmac, entries: n });
        this.bump();
      }
      return n;
    })();
  }

  /** Appends to the shared audit log (migration 2's audit_log): actor = where the change came from. */
  audit(source: string, action: string, entryId: number | null, detail: Record<string, unknown>): void {
    const target =
      typeof detail.kind === 'string'
        ? `${detail.kind}:${String(detail.target)}`
        : entryId !== null
          ? `entry:${entryId}`
          : null;
    this.db
      .prepare('INSERT INTO audit_log (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)')
      .run(
        this.clock(),
        source,
        `firewall.${action}`,
        target,
        JSON.stringify(entryId !== null ? { id: entryId, ...detail } : detail),
      );
  }

  /** The firewall's part of the audit log, newest first. */
  auditLog(limit = 100): AuditRecord[] {
    const rows = this.db
      .prepare(
        "SELECT id, ts, actor, action, target, detail FROM audit_log WHERE action LIKE 'firewall.%' ORDER BY id DESC LIMIT ?",
      )
      .all(Math.max(1, Math.min(10_000, Math.floor(limit)))) as {
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
      return {
        id: r.id,
        at: r.ts,
        source: r.actor,
        action: r.action.slice('firewall.'.length),
        target: r.target,
        entryId: typeof detail.id === 'number' ? detail.id : null,
        detail,
      };
    });
  }

  private bump(): void {
    this.db.prepare('UPDATE firewall_state SET revision = revision + 1 WHERE id = 1').run();
  }

  /** The policy revision: changes whenever entries or settings change (cheap to poll). */
  revision(): number {
    return (this.db.prepare('SELECT revision FROM firewall_state WHERE id = 1').get() as { revision: number }).revision;
  }

  state(): StateRow {
    const r = this.db.prepare('SELECT * FROM firewall_state WHERE id = 1').get() as {
      revision: number;
      enabled: number;
      settings: string;
      applied_hash: string | null;
      applied_at: number | null;
      applied_revision: number | null;
      applied_state: string | null;
      last_error: string | null;
      last_error_at: number | null;
    };
    let settings: unknown = {};
    try {
      settings = JSON.parse(r.settings);
    } catch {
      settings = {};
    }
    return {
      revision: r.revision,
      enabled: r.enabled === 1,
      settings: mergeSettings(settings),
      appliedHash: r.applied_hash,
      appliedAt: r.applied_at,
      appliedRevision: r.applied_revision,
      appliedState: r.applied_state,
      lastError: r.last_error,
      lastErrorAt: r.last_error_at,
    };
  }

  settings(): FirewallSettings {
    return this.state().settings;
  }

  updateSettings(
    patch: Partial<Omit<FirewallSettings, 'bypass'>> & { bypass?: Partial<BypassSettings> },
    source: ChangeSource,
  ): FirewallSettings {
    const cur = this.settings();
    const next = mergeSettings({ ...cur, ...patch, bypass: { ...cur.bypass, ...(patch.bypass ?? {}) } });
    if (next.dnsMode !== 'ipset' && next.dnsMode !== 'sinkhole')
      throw new FirewallInputError('dnsMode is ipset or sinkhole');
    for (const [k, v] of Object.entries(next.bypass)) {
      if (typeof v !== 'boolean') throw new FirewallInputError(`bypass.${k} must be true or false`);
    }
    const int = (v: number, lo: number, hi: number, what: string) => {
      if (!Number.isInteger(v) || v < lo || v > hi)
        throw new FirewallInputError(`${what} must be an integer in ${lo}…${hi}`);
    };
    int(next.ttlFloorSec, 1, 86_400, 'ttlFloorSec');
    int(next.ttlMaxSec, next.ttlFloorSec, 2_147_483, 'ttlMaxSec');
    int(next.maxElements, 1024, 16_777_216, 'maxElements');
    this.db.transaction(() => {
      this.db.prepare('UPDATE firewall_state SET settings = ? WHERE id = 1').run(JSON.stringify(next));
      this.audit(source, 'settings', null, { settings: next });
      this.bump();
    })();
    return next;
  }

  setEnabled(enabled: boolean, source: ChangeSource): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE firewall_state SET enabled = ? WHERE id = 1').run(enabled ? 1 : 0);
      this.audit(source, enabled ? 'on' : 'off', null, {});
      this.bump();
    })();
  }

  recordApplied(hash: string, revision: number, appliedState: string, source: string): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          'UPDATE firewall_state SET applied_hash = ?, applied_at = ?, applied_revision = ?, applied_state = ?, last_error = NULL WHERE id = 1',
        )
        .run(hash, this.clock(), revision, appliedState);
      this.audit(source, 'apply', null, { hash, revision });
    })();
  }

  recordCleared(source: string): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          'UPDATE firewall_state SET applied_hash = NULL, applied_at = ?, applied_revision = NULL, applied_state = NULL WHERE id = 1',
        )
        .run(this.clock());
    })();
    this.audit(source, 'cleared', null, {});
  }

  recordError(message: string, source: string): void {
    this.db
      .prepare('UPDATE firewall_state SET last_error = ?, last_error_at = ? WHERE id = 1')
      .run(message, this.clock());
    this.audit(source, 'error', null, { message: message.slice(0, 2000) });
  }

  /** Stores learnt addresses (upsert, the later expiry wins) and prunes expired and excess rows. */
  observe(list: readonly ObservedAddress[]): void {
    if (list.length === 0) return;
    const up = this.db.prepare(
      `INSERT INTO firewall_names (client, name, address, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (client, name, address) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)`,
    );
    this.db.transaction(() => {
      for (const o of list) up.run(o.client, o.name, o.address, o.expiresAt);
    })();
  }

  /** Deletes expired observations and keeps at most {@link MAX_OBSERVED}. Returns rows deleted. */
  pruneObserved(): number {
    const now = this.clock();
    let n = this.db.prepare('DELETE FROM firewall_names WHERE expires_at <= ?').run(now).changes;
    const count = (this.db.prepare('SELECT COUNT(*) AS c FROM firewall_names').get() as { c: number }).c;
    if (count > MAX_OBSERVED) {
      n += this.db
        .prepare(
          `DELETE FROM firewall_names WHERE (client, name, address) IN
             (SELECT client, name, address FROM firewall_names ORDER BY expires_at LIMIT ?)`,
        )
        .run(count - MAX_OBSERVED).changes;
    }
    return n;
  }

  observed(): ObservedAddress[] {
    const rows = this.db
      .prepare('SELECT client, name, address, expires_at FROM firewall_names WHERE expires_at > ?')
      .all(this.clock()) as { client: string; name: string; address: string; expires_at: number }[];
    return rows.map((r) => ({ client: r.client, name: r.name, address: r.address, expiresAt: r.expires_at }));
  }

  /**
   * Known clients (MAC ↔ IP) from the network store (migration 2: net_clients/net_client_ips), which the
   * agent fills from DHCP, ARP/ND and flows. Newest first.
   */
  clients(): KnownClient[] {
    const rows = this.db
      .prepare(
        `SELECT c.mac AS mac, i.ip AS ip, i.last_seen AS seen_at FROM net_client_ips i
         JOIN net_clients c ON c.id = i.client_id WHERE c.mac IS NOT NULL ORDER BY i.last_seen DESC`,
      )
      .all() as { mac: string; ip: string; seen_at: number }[];
    const out: KnownClient[] = [];
    for (const r of rows) {
      try {
        out.push({ mac: normalizeMac(r.mac), ip: normalizeIp(r.ip).ip, seenAt: r.seen_at });
      } catch {
        // a malformed row written by someone else: not a client we can match on
      }
    }
    return out;
  }

  /** The MAC most recently seen with this IP, or null. */
  macForIp(ip: string): string | null {
    const i = normalizeIp(ip).ip;
    return this.clients().find((c) => c.ip === i)?.mac ?? null;
  }
}

/** Matches `name` against a domain entry target (exported for tests and the feed). */
export function domainCovers(domain: string, name: string): boolean {
  return isWithin(name, domain);
}
