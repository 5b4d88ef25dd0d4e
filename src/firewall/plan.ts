/**
 * The firewall plan (PURE: no I/O, no clock — `now` is an input): the policy, the addresses that DNS answers
 * gave for names so far, and the known clients → ipset sets and the agent's own iptables/ip6tables chains,
 * rendered as deterministic `ipset restore` and `iptables-restore --noflush` text, plus dnsmasq lines.
 *
 * Layout (per family; `-4` sets are `family inet`, `-6` sets `family inet6`; all `hash:ip` with per-entry
 * timeouts):
 *
 *   FORWARD ─(one hook, inserted first)─▶ BANDGUARD-FWD
 *     -m conntrack --ctstate RELATED,ESTABLISHED → RETURN  (only a connection's first packet is looked up)
 *     -m mac --mac-source <phone> -g BANDGUARD-<PHONE>      one line per phone that has entries of its own
 *     [allow set of everyone]      → RETURN
 *     [block set of everyone]      → BANDGUARD-REJECT
 *     [anti-bypass rules]          (when something is blocked for everyone)
 *   BANDGUARD-<PHONE>  (entered by goto, so RETURN leaves BANDGUARD-FWD altogether)
 *     [phone's allow set] → RETURN, [phone's block set] → REJECT, [everyone's allow] → RETURN,
 *     [everyone's block] → REJECT, [anti-bypass rules]
 *   BANDGUARD-REJECT: TCP gets a reset, everything else an ICMP port-unreachable, so a blocked connection
 *     fails at once instead of timing out. Every protocol is rejected (QUIC to a blocked address included).
 *   INPUT ─▶ BANDGUARD-IN (only when the hub is the phones' resolver and DoT blocking is on): DoT/DoQ to the
 *     hub itself is rejected so phones stay on plain DNS that the capture can read.
 *
 * The number of rules depends on the number of phones with entries of their own and on the anti-bypass
 * switches, never on the number of blocked domains or addresses: membership lives in the sets.
 *
 * Why per-phone sets + `-m mac` instead of one `hash:ip,mac` set: `hash:ip,mac` (and `hash:mac`) are
 * optional kernel modules (CONFIG_IP_SET_HASH_IPMAC) that several kernels lack, while `hash:ip` and the
 * `mac` match are everywhere. Matching the source MAC in FORWARD works for traffic that arrives on the AP
 * interface (routed, or bridged with br_netfilter), and it follows the phone through IP changes.
 */
import { createHash } from 'node:crypto';
import { bypassDnsmasqLines, type Collateral, dohAddresses, findCollateral, isDohHost } from './bypass.js';
import type { BlockEntry, FirewallSettings, ObservedAddress, PartyLookup } from './policy.js';
import { PolicyMatcher } from './policy.js';
import { canonicalIp, isMac, normalizeIp, normalizeMac } from './validate.js';

export const CHAIN_FWD = 'BANDGUARD-FWD';
export const CHAIN_IN = 'BANDGUARD-IN';
export const CHAIN_REJECT = 'BANDGUARD-REJECT';
export const SET_PREFIX = 'bandguard-';
export const CHAIN_PREFIX = 'BANDGUARD-';

export type Family = 4 | 6;
export type SetRole = 'block-all' | 'allow-all' | 'block-client' | 'allow-client' | 'doh';

export interface SetEntry {
  address: string;
  /** Seconds; 0 = permanent. */
  timeout: number;
}

export interface PlannedSet {
  name: string;
  family: Family;
  role: SetRole;
  client: string | null;
  /** Default entry timeout of the set (seconds): what dnsmasq-added entries get. */
  timeout: number;
  maxElements: number;
  entries: SetEntry[];
  /**
   * What feeds the set: `+key` for entries that put names in, `-key` for entries that keep names out. Used by
   * apply to tell a set that only grew (live entries are carried over) from one that shrank (rebuilt).
   */
  sources: string[];
}

export interface Hook {
  chain: 'FORWARD' | 'INPUT';
  target: string;
}

export interface PlannedChain {
  name: string;
  /** Rules in the canonical form `iptables -S` prints them (`-A NAME …`). */
  rules: string[];
}

export interface FamilyRules {
  chains: PlannedChain[];
  hooks: Hook[];
}

export interface PlanStats {
  entries: number;
  clients: number;
  names: number;
  addresses4: number;
  addresses6: number;
  rules: number;
}

export interface FirewallPlan {
  /** Hash of the desired state (sets with members, rules, hooks, dnsmasq lines); timeouts left out. */
  hash: string;
  sets: PlannedSet[];
  v4: FamilyRules;
  v6: FamilyRules;
  /** Lines for a dnsmasq conf file (ipset=, address=) when the hub runs dnsmasq. */
  dnsmasq: string[];
  collateral: Collateral[];
  /** Entries that cannot be enforced yet, and similar notes for the preview. */
  warnings: string[];
  /** Phones with a chain of their own and their known addresses (apply cuts their blocked connections). */
  clients: { mac: string; ips: string[] }[];
  stats: PlanStats;
}

export interface PlanInput {
  entries: readonly BlockEntry[];
  settings: FirewallSettings;
  parties: PartyLookup | null;
  observed: readonly ObservedAddress[];
  /** Known clients: MAC ↔ IP (from the network store and the capture). */
  clients: readonly { mac: string; ip: string }[];
  /** Epoch ms. */
  now: number;
}

/** The 12 hex digits of a MAC, for set and chain names. */
function macKey(mac: string): string {
  return mac.replace(/:/g, '');
}

export function clientChainName(mac: string): string {
  return `${CHAIN_PREFIX}${macKey(mac).toUpperCase()}`;
}

export function setName(role: SetRole, family: Family, mac?: string): string {
  switch (role) {
    case 'block-all':
      return `${SET_PREFIX}all-${family}`;
    case 'allow-all':
      return `${SET_PREFIX}allow-${family}`;
    case 'doh':
      return `${SET_PREFIX}doh-${family}`;
    case 'block-client':
      return `${SET_PREFIX}${macKey(mac ?? '')}-${family}`;
    case 'allow-client':
      return `${SET_PREFIX}${macKey(mac ?? '')}-a${family}`;
  }
}

function entryKey(e: BlockEntry): string {
  return `${e.kind}:${e.target}`;
}

/**
 * A text that sorts like the address: IPv4 as 12 digits, IPv6 (canonical text) as 32 hex digits. One pass
 * over the characters, no split/pad/join (a plan sorts 20,000 IPv6 addresses).
 */
function addressKey(a: string): string {
  if (!a.includes(':')) {
    let out = '';
    let part = '';
    for (let i = 0; i <= a.length; i++) {
      const c = i < a.length ? a[i]! : '.';
      if (c === '.') {
        out += part.length === 3 ? part : part.length === 2 ? `0${part}` : `00${part}`;
        part = '';
      } else part += c;
    }
    return out;
  }
  // Groups before and after `::` (at most one), each padded to 4 digits; the gap filled with zero groups.
  const dbl = a.indexOf('::');
  const head = dbl < 0 ? a : a.slice(0, dbl);
  const tail = dbl < 0 ? '' : a.slice(dbl + 2);
  const pad = (s: string): [string, number] => {
    if (s === '') return ['', 0];
    let out = '';
    let n = 0;
    let g = '';
    for (let i = 0; i <= s.length; i++) {
      const c = i < s.length ? s[i]! : ':';
      if (c === ':') {
        out += '0000'.slice(g.length) + g;
        g = '';
        n++;
      } else g += c;
    }
    return [out, n];
  };
  const [h, hn] = pad(head);
  const [t, tn] = pad(tail);
  return h + '0000'.repeat(Math.max(0, 8 - hn - tn)) + t;
}

/** An IPv4 dotted quad (already validated) as an unsigned 32-bit number. */
function ipv4Number(a: string): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c === 0x2e) {
      n = n * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (c - 0x30);
  }
  return n * 256 + octet;
}

const INDEX_BITS = 2 ** 21;

/**
 * The entries of a map in numeric address order (the order of the golden files). IPv4 sorts as packed
 * numbers (address × 2^21 + index) in a Float64Array — exact below 2^53, and far cheaper than comparing
 * strings; IPv6 (and huge IPv4 sets) sort by the zero-padded key.
 */
function sortEntries(m: Map<string, number>): SetEntry[] {
  const n = m.size;
  const addresses = new Array<string>(n);
  const timeouts = new Array<number>(n);
  let i = 0;
  let v4 = true;
  for (const [a, t] of m) {
    addresses[i] = a;
    timeouts[i] = t;
    if (v4 && a.includes(':')) v4 = false;
    i++;
  }
  const out = new Array<SetEntry>(n);
  if (v4 && n < INDEX_BITS) {
    const keys = new Float64Array(n);
    for (let j = 0; j < n; j++) keys[j] = ipv4Number(addresses[j]!) * INDEX_BITS + j;
    keys.sort();
    for (let j = 0; j < n; j++) {
      const idx = keys[j]! % INDEX_BITS;
      out[j] = { address: addresses[idx]!, timeout: timeouts[idx]! };
    }
    return out;
  }
  const keys = addresses.map(addressKey);
  const order = Array.from({ length: n }, (_, j) => j).sort((x, y) =>
    keys[x]! < keys[y]! ? -1 : keys[x]! > keys[y]! ? 1 : 0,
  );
  for (let j = 0; j < n; j++) {
    const idx = order[j]!;
    out[j] = { address: addresses[idx]!, timeout: timeouts[idx]! };
  }
  return out;
}

function put(m: Map<string, number>, address: string, timeout: number): void {
  const cur = m.get(address);
  if (cur === undefined || (cur !== 0 && (timeout === 0 || timeout > cur))) m.set(address, timeout);
}

function rejectRules(family: Family): string[] {
  return [
    `-A ${CHAIN_REJECT} -p tcp -j REJECT --reject-with tcp-reset`,
    `-A ${CHAIN_REJECT} -j REJECT --reject-with ${family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'}`,
  ];
}

function bypassRules(chain: string, family: Family, s: FirewallSettings): string[] {
  const b = s.bypass;
  const out: string[] = [];
  const R = `-j ${CHAIN_REJECT}`;
  if (b.dot) {
    out.push(`-A ${chain} -p tcp -m tcp --dport 853 ${R}`, `-A ${chain} -p udp -m udp --dport 853 ${R}`);
  }
  if (b.doh) {
    const set = setName('doh', family);
    out.push(
      `-A ${chain} -p tcp -m set --match-set ${set} dst ${R}`,
      `-A ${chain} -p udp -m set --match-set ${set} dst -m udp --dport 443 ${R}`,
    );
  }
  if (b.quic) out.push(`-A ${chain} -p udp -m udp --dport 443 ${R}`);
  if (b.foreignDns) {
    out.push(`-A ${chain} -p udp -m udp --dport 53 ${R}`, `-A ${chain} -p tcp -m tcp --dport 53 ${R}`);
  }
  return out;
}

/**
 * sha256 of `JSON.stringify({ sets: [[name, family, timeout, maxElements, [addresses…]]…], v4, v6, dnsmasq })`,
 * fed piecewise (one update per set instead of one 100,000-element array): the same bytes, so the same hash
 * as a plain JSON.stringify gives. Addresses are validated IP texts (hex digits, dots, colons), which JSON
 * never escapes; set names are ours (checked by a test against JSON.stringify).
 */
export function planHash(
  sets: readonly PlannedSet[],
  v4: FamilyRules,
  v6: FamilyRules,
  dnsmasq: readonly string[],
): string {
  const h = createHash('sha256');
  h.update('{"sets":[');
  for (let i = 0; i < sets.length; i++) {
    const x = sets[i]!;
    const head = JSON.stringify([x.name, x.family, x.timeout, x.maxElements]).slice(0, -1);
    let addrs = '';
    const es = x.entries;
    if (es.length > 0) {
      const parts = new Array<string>(es.length);
      for (let j = 0; j < es.length; j++) parts[j] = es[j]!.address;
      addrs = `"${parts.join('","')}"`;
    }
    h.update(`${i > 0 ? ',' : ''}${head},[${addrs}]]`);
  }
  h.update(`],"v4":${JSON.stringify(v4)},"v6":${JSON.stringify(v6)},"dnsmasq":${JSON.stringify(dnsmasq)}}`);
  return h.digest('hex');
}

/** Builds the plan. Pure and deterministic for a given input. */
export function buildPlan(input: PlanInput): FirewallPlan {
  const { settings: s, now } = input;
  const warnings: string[] = [];

  // Clients: IP → MAC (most recent first wins), and the entries' client keys resolved to MACs.
  const macOfIp = new Map<string, string>();
  for (const c of input.clients) {
    try {
      const ip = normalizeIp(c.ip).ip;
      if (!macOfIp.has(ip)) macOfIp.set(ip, normalizeMac(c.mac));
    } catch {
      // not a usable client row
    }
  }
  const entries: BlockEntry[] = [];
  for (const e of input.entries) {
    if (e.client === null || isMac(e.client)) {
      entries.push(e);
      continue;
    }
    const mac = macOfIp.get(e.client);
    if (mac === undefined) {
      warnings.push(
        `entry ${e.id} (${e.action} ${e.kind} ${e.target}) is for client ${e.client}, which has not been seen yet: it applies once the phone with that address shows up`,
      );
      continue;
    }
    entries.push({ ...e, client: mac });
  }
  const matcher = new PolicyMatcher(entries, input.parties);
  const ipsOf = new Map<string, string[]>(); // MAC → its known addresses, in input order
  for (const [ip, mac] of macOfIp) {
    const l = ipsOf.get(mac);
    if (l) l.push(ip);
    else ipsOf.set(mac, [ip]);
  }
  const clientMacs = matcher.clients();
  const clientOf = (id: string): string => (isMac(id) ? id.toLowerCase() : (macOfIp.get(id) ?? id));

  const timeoutOf = (expiresAt: number) => Math.max(1, Math.min(s.ttlMaxSec, Math.ceil((expiresAt - now) / 1000)));
  const globalBlocks = matcher.clientHas(null, 'block');
  const globalAllows = matcher.clientHas(null, 'allow');
  type Bucket = { 4: Map<string, number>; 6: Map<string, number> };
  const bucket = (): Bucket => ({ 4: new Map(), 6: new Map() });
  const blockAll = bucket();
  const allowAll = bucket();
  const blockClient = new Map<string, Bucket>();
  const allowClient = new Map<string, Bucket>();
  for (const mac of clientMacs) {
    if (matcher.clientHas(mac, 'block')) blockClient.set(mac, bucket());
    if (matcher.clientHas(mac, 'allow')) allowClient.set(mac, bucket());
  }
  const doh = bucket();
  if (s.bypass.doh) {
    for (const f of [4, 6] as const) for (const a of dohAddresses(f)) put(doh[f], a, 0);
  }

  // Which buckets a name's addresses go to: decided once per name (the policy does not depend on the
  // address), then every observation goes straight into them — each bucket keeps an address's longest
  // timeout, which is the timeout of its latest expiry. Expired and malformed observations are dropped.
  const targetsOf = (name: string): Bucket[] => {
    const out: Bucket[] = [];
    const g = matcher.decideIn(null, name);
    if (g?.action === 'block') out.push(blockAll);
    else if (g?.action === 'allow') out.push(allowAll);
    for (const mac of clientMacs) {
      const d = matcher.decideIn(mac, name);
      if (!d) continue;
      const b = d.action === 'block' ? blockClient.get(mac) : allowClient.get(mac);
      if (b) out.push(b);
    }
    if (s.bypass.doh && isDohHost(name)) out.push(doh);
    return out;
  };
  const targets = new Map<string, Bucket[]>(); // names with at least one usable address
  const live: ObservedAddress[] = [];
  for (const o of input.observed) {
    if (o.expiresAt <= now) continue;
    live.push(o);
    const ip = canonicalIp(o.address);
    if (ip === null) continue;
    let t = targets.get(o.name);
    if (t === undefined) {
      t = targetsOf(o.name);
      targets.set(o.name, t);
    }
    if (t.length === 0) continue;
    const timeout = timeoutOf(o.expiresAt);
    const family: Family = ip.includes(':') ? 6 : 4;
    for (const b of t) put(b[family], ip, timeout);
  }

  // Sources of each set (for apply's grow/replace decision).
  const keysOf = (client: string | null, action: 'block' | 'allow') =>
    entries
      .filter((e) => e.client === client && e.action === action)
      .map(entryKey)
      .sort();
  const blockSources = (client: string | null) => [
    ...keysOf(client, 'block').map((k) => `+${k}`),
    ...keysOf(client, 'allow').map((k) => `-${k}`),
  ];
  const allowSources = (client: string | null) => keysOf(client, 'allow').map((k) => `+${k}`);

  const sets: PlannedSet[] = [];
  const mk = (role: SetRole, f: Family, client: string | null, m: Map<string, number>, sources: string[]) => {
    sets.push({
      name: setName(role, f, client ?? undefined),
      family: f,
      role,
      client,
      timeout: s.ttlFloorSec,
      maxElements: s.maxElements,
      entries: sortEntries(m),
      sources,
    });
  };
  for (const f of [4, 6] as const) {
    mk('block-all', f, null, blockAll[f], blockSources(null));
    if (globalAllows) mk('allow-all', f, null, allowAll[f], allowSources(null));
    for (const mac of clientMacs) {
      const b = blockClient.get(mac);
      if (b) mk('block-client', f, mac, b[f], blockSources(mac));
      const a = allowClient.get(mac);
      if (a) mk('allow-client', f, mac, a[f], allowSources(mac));
    }
    if (s.bypass.doh) mk('doh', f, null, doh[f], ['+doh']);
  }
  sets.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));

  const bypassOn = s.bypass.dot || s.bypass.doh || s.bypass.quic || s.bypass.foreignDns;
  const family = (f: Family): FamilyRules => {
    // Packets of connections already accepted skip every lookup (the first packet of each connection was
    // checked). This keeps forwarding at line rate; a block therefore stops NEW connections (and new QUIC
    // flows), while a connection open at the moment of the block runs until it ends (docs/firewall.md).
    const fwd: string[] = [`-A ${CHAIN_FWD} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`];
    const chains: PlannedChain[] = [];
    const match = (set: string, target: string, chain: string) =>
      `-A ${chain} -m set --match-set ${set} dst -j ${target}`;
    // A connection whose tracking entry apply deleted (a block cuts open connections: conntrack.ts) must
    // not be re-created from the server's end: a NEW packet FROM a blocked address (a mid-stream TCP
    // segment, a QUIC datagram, an unsolicited SYN) is dropped. Phones' own NEW packets come from LAN
    // addresses, which are never in these sets, and go on to their chain, which rejects them.
    const fromBlocked = (set: string) =>
      `-A ${CHAIN_FWD} -m conntrack --ctstate NEW -m set --match-set ${set} src -j DROP`;
    if (globalBlocks) fwd.push(fromBlocked(setName('block-all', f)));
    for (const mac of clientMacs) if (blockClient.has(mac)) fwd.push(fromBlocked(setName('block-client', f, mac)));
    for (const mac of clientMacs) {
      const chain = clientChainName(mac);
      fwd.push(`-A ${CHAIN_FWD} -m mac --mac-source ${mac} -g ${chain}`);
      const rules: string[] = [];
      if (allowClient.has(mac)) rules.push(match(setName('allow-client', f, mac), 'RETURN', chain));
      if (blockClient.has(mac)) rules.push(match(setName('block-client', f, mac), CHAIN_REJECT, chain));
      if (globalAllows) rules.push(match(setName('allow-all', f), 'RETURN', chain));
      rules.push(match(setName('block-all', f), CHAIN_REJECT, chain));
      if (bypassOn && (globalBlocks || blockClient.has(mac))) rules.push(...bypassRules(chain, f, s));
      chains.push({ name: chain, rules });
    }
    if (globalAllows) fwd.push(match(setName('allow-all', f), 'RETURN', CHAIN_FWD));
    fwd.push(match(setName('block-all', f), CHAIN_REJECT, CHAIN_FWD));
    if (bypassOn && globalBlocks) fwd.push(...bypassRules(CHAIN_FWD, f, s));
    const hooks: Hook[] = [{ chain: 'FORWARD', target: CHAIN_FWD }];
    const all: PlannedChain[] = [
      { name: CHAIN_FWD, rules: fwd },
      ...chains,
      { name: CHAIN_REJECT, rules: rejectRules(f) },
    ];
    const anyBlocks = globalBlocks || blockClient.size > 0;
    if (s.hubResolver && s.bypass.dot && anyBlocks) {
      all.push({
        name: CHAIN_IN,
        rules: [
          `-A ${CHAIN_IN} -p tcp -m tcp --dport 853 -j REJECT --reject-with tcp-reset`,
          `-A ${CHAIN_IN} -p udp -m udp --dport 853 -j REJECT --reject-with ${f === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'}`,
        ],
      });
      hooks.push({ chain: 'INPUT', target: CHAIN_IN });
    }
    all.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    return { chains: all, hooks };
  };
  const v4 = family(4);
  const v6 = family(6);

  const dnsmasq = dnsmasqLines(matcher, entries, s);
  const collateral = findCollateral(matcher, live, clientOf);
  const hash = planHash(sets, v4, v6, dnsmasq);
  // Distinct blocked addresses per family (an address may sit in several sets): each set counts the
  // addresses that no earlier set of the family holds, looked up in the buckets (no union set built).
  const count = (f: Family) => {
    const maps: Map<string, number>[] = [blockAll[f], allowAll[f]];
    for (const b of blockClient.values()) maps.push(b[f]);
    for (const b of allowClient.values()) maps.push(b[f]);
    const planned = maps.filter((m) => m.size > 0);
    let n = 0;
    for (let i = 0; i < planned.length; i++) {
      for (const a of planned[i]!.keys()) {
        let seen = false;
        for (let j = 0; j < i && !seen; j++) seen = planned[j]!.has(a);
        if (!seen) n++;
      }
    }
    return n;
  };
  return {
    hash,
    sets,
    v4,
    v6,
    dnsmasq,
    collateral,
    warnings,
    clients: clientMacs.map((mac) => ({ mac, ips: ipsOf.get(mac) ?? [] })),
    stats: {
      entries: input.entries.length,
      clients: clientMacs.length,
      names: targets.size,
      addresses4: count(4),
      addresses6: count(6),
      rules: v4.chains.reduce((n, c) => n + c.rules.length, 0) + v4.hooks.length,
    },
  };
}

/**
 * dnsmasq lines. `ipset=/domain/sets…` for every domain an entry stands for (domains, and the knowledge-base
 * suffixes of organizations and roles); each line lists the sets of EVERY entry that covers the domain,
 * because dnsmasq uses only the most specific matching line. Sinkhole mode adds `address=/d/0.0.0.0` and
 * `address=/d/::` for names blocked for everyone (dnsmasq cannot answer per client), and
 * `server=/d/#` for allow exceptions below them (more specific lines win in dnsmasq).
 */
function dnsmasqLines(matcher: PolicyMatcher, entries: readonly BlockEntry[], s: FirewallSettings): string[] {
  const own = new Map<string, BlockEntry[]>(); // domain → entries standing for it
  for (const e of entries) {
    for (const d of matcher.domainsOf(e)) {
      const l = own.get(d);
      if (l) l.push(e);
      else own.set(d, [e]);
    }
  }
  const domains = [...own.keys()].sort();
  const lines: string[] = ['# generated by bandguard (src/firewall/plan.ts); edits are overwritten'];
  const setsOf = (scope: string, allow: boolean): [string, string] => {
    const role: SetRole = scope === '' ? (allow ? 'allow-all' : 'block-all') : allow ? 'allow-client' : 'block-client';
    // `-4` sorts before `-6` (and `-a4` before `-a6`): the pair is already in order.
    return [setName(role, 4, scope || undefined), setName(role, 6, scope || undefined)];
  };
  for (const d of domains) {
    // Every entry whose domain is d or a parent of d counts (dnsmasq uses only the most specific line), by
    // scope; within a scope an allow wins over a block, as in the rules.
    const hits: BlockEntry[] = [];
    let from = 0;
    for (;;) {
      const l = own.get(from === 0 ? d : d.slice(from));
      if (l) for (const e of l) hits.push(e);
      const dot = d.indexOf('.', from);
      if (dot < 0) break;
      from = dot + 1;
    }
    if (hits.length === 1) {
      // The common case: one entry stands for this domain and nothing above it.
      const e = hits[0]!;
      lines.push(`ipset=/${d}/${setsOf(e.client ?? '', e.action === 'allow').join(',')}`);
      continue;
    }
    const byScope = new Map<string, boolean>(); // scope → has an allow
    for (const e of hits) {
      const k = e.client ?? '';
      byScope.set(k, (byScope.get(k) ?? false) || e.action === 'allow');
    }
    const sets = new Set<string>();
    for (const [scope, allow] of byScope) for (const n of setsOf(scope, allow)) sets.add(n);
    if (sets.size > 0) lines.push(`ipset=/${d}/${[...sets].sort().join(',')}`);
  }
  if (s.dnsMode === 'sinkhole') {
    for (const d of domains) {
      const g = matcher.decideIn(null, d);
      if (g?.action === 'block') lines.push(`address=/${d}/0.0.0.0`, `address=/${d}/::`);
      else if (g?.action === 'allow') lines.push(`server=/${d}/#`);
    }
  }
  lines.push(...bypassDnsmasqLines({ canary: s.bypass.canary, doh: s.bypass.doh }));
  return lines;
}

/** What apply knows about the live state of one family, to render a restore that converges to the plan. */
export interface LiveFamily {
  /** Our chains that exist now (BANDGUARD-*). */
  chains: string[];
  /** How many times each of our hooks is present now, keyed `FORWARD BANDGUARD-FWD`. */
  hooks: Record<string, number>;
}

export const EMPTY_LIVE: LiveFamily = { chains: [], hooks: {} };

/**
 * `iptables-restore --noflush` text that makes the live state equal to the plan for one family: our chains
 * are declared (which creates or flushes them), filled, our hooks inserted once (first in their built-in
 * chain) or de-duplicated, and our chains that the plan no longer has are emptied and deleted. Other
 * rules and chains are never named, so they are never touched.
 */
export function renderIptablesRestore(rules: FamilyRules, live: LiveFamily = EMPTY_LIVE): string {
  const out: string[] = ['*filter'];
  for (const c of rules.chains) out.push(`:${c.name} - [0:0]`);
  for (const c of rules.chains) out.push(...c.rules);
  const wanted = new Set(rules.hooks.map((h) => `${h.chain} ${h.target}`));
  const hookKeys = new Set([...wanted, ...Object.keys(live.hooks)]);
  for (const key of [...hookKeys].sort()) {
    const [chain, target] = key.split(' ') as [string, string];
    const have = live.hooks[key] ?? 0;
    const want = wanted.has(key) ? 1 : 0;
    for (let i = have; i > want; i--) out.push(`-D ${chain} -j ${target}`);
    if (have === 0 && want === 1) out.push(`-I ${chain} 1 -j ${target}`);
  }
  const planned = new Set(rules.chains.map((c) => c.name));
  const stale = live.chains.filter((c) => !planned.has(c)).sort();
  // Stale chains may reference each other (a client chain jumps to BANDGUARD-REJECT): flush all, then delete.
  for (const c of stale) out.push(`-F ${c}`);
  for (const c of stale) out.push(`-X ${c}`);
  out.push('COMMIT', '');
  return out.join('\n');
}

/** `iptables-restore --noflush` text that removes all of ours (for `off`). */
export function renderIptablesRemoval(live: LiveFamily): string {
  return renderIptablesRestore({ chains: [], hooks: [] }, live);
}

function createLine(set: PlannedSet, name: string, hashsize = 1024): string {
  return `create ${name} hash:ip family ${set.family === 4 ? 'inet' : 'inet6'} hashsize ${hashsize} maxelem ${set.maxElements} timeout ${set.timeout}`;
}

/**
 * Initial hash size of a staging set: one bucket per two entries (a power of two, at least ipset's default
 * 1024), so that `ipset restore` of a large set does not rehash the table over and over while it grows
 * (≈ 25% faster for 80,000 entries). Resizing is ignored when ipset compares an existing set with a
 * `create -exist`, so the live set's own create line stays at the default.
 */
export function stagingHashSize(entries: number): number {
  let h = 1024;
  while (h < 1 << 24 && h * 2 < entries) h *= 2;
  return h;
}

/** Suffix of the staging copy of a set (filled, then swapped in atomically). */
export const STAGING_SUFFIX = '.n';

/** The `create` line of the live set (run before staging, so rules can name it). */
export function renderIpsetCreate(sets: readonly PlannedSet[]): string {
  return `${sets.map((s) => createLine(s, s.name)).join('\n')}\n`;
}

/**
 * `ipset restore` text (run with `-exist`) for ONE set: create it if missing, and create, flush and fill its
 * staging copy (`<name>.n`) with the planned entries plus `carry` (live entries kept because the set only
 * grew). Sets are independent, so apply stages them concurrently.
 */
export function renderIpsetStageSet(set: PlannedSet, carry?: readonly SetEntry[]): string {
  const staging = `${set.name}${STAGING_SUFFIX}`;
  let entries: readonly SetEntry[] = set.entries;
  if (carry !== undefined) {
    const merged = new Map<string, number>();
    for (const e of carry) merged.set(e.address, e.timeout);
    for (const e of set.entries) put(merged, e.address, e.timeout);
    entries = sortEntries(merged);
  }
  const lines = new Array<string>(entries.length + 4);
  lines[0] = createLine(set, set.name);
  lines[1] = createLine(set, staging, stagingHashSize(entries.length));
  lines[2] = `flush ${staging}`;
  const add = `add ${staging} `;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    lines[i + 3] = `${add}${e.address} timeout ${e.timeout}`;
  }
  lines[entries.length + 3] = '';
  return lines.join('\n');
}

/**
 * `ipset restore` text (run with `-exist`) that creates every planned set if missing and fills a staging
 * copy of it (`<name>.n`) with the planned entries plus `carry` (live entries kept because the set only
 * grew). The swap is a separate step (renderIpsetSwap) so that apply can test the rules in between.
 */
export function renderIpsetStage(
  sets: readonly PlannedSet[],
  carry: ReadonlyMap<string, readonly SetEntry[]> = new Map(),
): string {
  return sets.map((set) => renderIpsetStageSet(set, carry.get(set.name))).join('');
}

/** `ipset restore` text that swaps every staged set in (atomic per set). */
export function renderIpsetSwap(sets: readonly PlannedSet[]): string {
  return `${sets.map((s) => `swap ${s.name}${STAGING_SUFFIX} ${s.name}`).join('\n')}\n`;
}

/** The whole ipset side of a fresh apply, for previews and golden files: stage, swap, drop the staging copies. */
export function renderIpsetRestore(plan: FirewallPlan): string {
  return (
    renderIpsetStage(plan.sets) +
    renderIpsetSwap(plan.sets) +
    plan.sets.map((s) => `destroy ${s.name}${STAGING_SUFFIX}`).join('\n') +
    '\n'
  );
}

/** Human-readable preview of a plan (the `rules` command and the API's rules preview). */
export function renderPreview(plan: FirewallPlan): string {
  const lines: string[] = [];
  lines.push(`# plan ${plan.hash.slice(0, 16)}`);
  lines.push(
    `# ${plan.stats.entries} entries, ${plan.stats.clients} phones with their own entries, ${plan.stats.names} names seen, ` +
      `${plan.stats.addresses4} IPv4 + ${plan.stats.addresses6} IPv6 addresses blocked, ${plan.stats.rules} rules per family`,
  );
  for (const w of plan.warnings) lines.push(`# warning: ${w}`);
  for (const c of plan.collateral) {
    lines.push(
      c.effect === 'blocked'
        ? `# collateral: ${c.client} uses ${c.affectedName}, which shares ${c.address} with blocked ${c.blockedNames.join(', ')}: it is blocked too`
        : `# collateral: ${c.client}: allowed ${c.affectedName} shares ${c.address} with ${c.blockedNames.join(', ')}, which stays reachable there`,
    );
  }
  lines.push('', '## ipset restore -exist', renderIpsetRestore(plan));
  lines.push('## iptables-restore --noflush', renderIptablesRestore(plan.v4));
  lines.push('## ip6tables-restore --noflush', renderIptablesRestore(plan.v6));
  lines.push('## dnsmasq (conf-file)', ...plan.dnsmasq, '');
  return lines.join('\n');
}
