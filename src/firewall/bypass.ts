/**
 * Anti-bypass knowledge and checks (pure data and functions, no I/O):
 *
 * - `DOH_RESOLVERS`: a small list of well-known public DNS-over-HTTPS / HTTPDNS resolvers (host names and
 *   anycast addresses), each with the page that documents it. Managed phones that talk to these addresses
 *   resolve names where the hub cannot see them; the `doh` switch rejects TCP and UDP/443 to them. For a
 *   longer, regularly regenerated list see dibdot/DoH-IP-blocklists (peers.md §2.6).
 * - The Firefox canary `use-application-dns.net`: answering NXDOMAIN turns off Firefox's *automatic* DoH
 *   (a user who enabled DoH by hand is not affected). Pi-hole does the same by default.
 * - Collateral: an address that serves a blocked name AND a name the phone uses that is not blocked
 *   (shared CDN/cloud addresses). Blocking by IP then blocks the other name too; the plan preview lists
 *   every such case so that the user can decide (allow exception, or accept).
 */
import type { ObservedAddress, PolicyMatcher } from './policy.js';

export interface DohResolver {
  name: string;
  /** Host names used to reach the DoH endpoint. */
  hosts: readonly string[];
  ipv4: readonly string[];
  ipv6: readonly string[];
  source: string;
}

export const DOH_RESOLVERS: readonly DohResolver[] = [
  {
    name: 'Google Public DNS',
    hosts: ['dns.google', 'dns.google.com', 'dns64.dns.google'],
    ipv4: ['8.8.8.8', '8.8.4.4'],
    ipv6: ['2001:4860:4860::8888', '2001:4860:4860::8844'],
    source: 'https://developers.google.com/speed/public-dns/docs/using',
  },
  {
    name: 'Cloudflare 1.1.1.1',
    hosts: ['cloudflare-dns.com', 'one.one.one.one', 'mozilla.cloudflare-dns.com', 'security.cloudflare-dns.com'],
    ipv4: ['1.1.1.1', '1.0.0.1'],
    ipv6: ['2606:4700:4700::1111', '2606:4700:4700::1001'],
    source: 'https://developers.cloudflare.com/1.1.1.1/ip-addresses/',
  },
  {
    name: 'Quad9',
    hosts: ['dns.quad9.net', 'dns9.quad9.net', 'dns10.quad9.net', 'dns11.quad9.net'],
    ipv4: ['9.9.9.9', '149.112.112.112'],
    ipv6: ['2620:fe::fe', '2620:fe::9'],
    source: 'https://www.quad9.net/service/service-addresses-and-features',
  },
  {
    name: 'AdGuard DNS',
    hosts: ['dns.adguard-dns.com', 'dns.adguard.com'],
    ipv4: ['94.140.14.14', '94.140.15.15'],
    ipv6: ['2a10:50c0::ad1:ff', '2a10:50c0::ad2:ff'],
    source: 'https://adguard-dns.io/kb/general/dns-providers/',
  },
  {
    name: 'OpenDNS (Cisco)',
    hosts: ['doh.opendns.com', 'doh.familyshield.opendns.com'],
    ipv4: ['208.67.222.222', '208.67.220.220'],
    ipv6: ['2620:119:35::35', '2620:119:53::53'],
    source: 'https://support.opendns.com/hc/en-us/articles/360038086532',
  },
  {
    name: 'AliDNS (Alibaba Cloud), also HTTPDNS',
    hosts: ['dns.alidns.com'],
    ipv4: ['223.5.5.5', '223.6.6.6'],
    ipv6: ['2400:3200::1', '2400:3200:baba::1'],
    source: 'https://www.alidns.com/',
  },
  {
    name: 'DNSPod (Tencent), also HTTPDNS',
    hosts: ['doh.pub', 'dot.pub', 'sm2.doh.pub'],
    ipv4: ['119.29.29.29', '1.12.12.12', '120.53.53.53'],
    ipv6: [],
    source: 'https://docs.dnspod.cn/public-dns/',
  },
];

/** Firefox's DoH canary domain (answer NXDOMAIN to disable automatic DoH). */
export const CANARY_DOMAIN = 'use-application-dns.net';

/** dnsmasq lines for the anti-bypass switches (`address=/d/` with no address = NXDOMAIN). */
export function bypassDnsmasqLines(opts: { canary: boolean; doh: boolean }): string[] {
  const lines: string[] = [];
  if (opts.canary) lines.push(`address=/${CANARY_DOMAIN}/`);
  if (opts.doh) {
    const hosts = new Set<string>();
    for (const r of DOH_RESOLVERS) for (const h of r.hosts) hosts.add(h);
    for (const h of [...hosts].sort()) lines.push(`address=/${h}/`);
  }
  return lines;
}

/** All DoH resolver addresses of one family, sorted. */
export function dohAddresses(family: 4 | 6): string[] {
  const out = new Set<string>();
  for (const r of DOH_RESOLVERS) for (const a of family === 4 ? r.ipv4 : r.ipv6) out.add(a);
  return [...out].sort();
}

/** True when a host name is one of the DoH endpoints (or below one). */
export function isDohHost(name: string): boolean {
  for (const r of DOH_RESOLVERS) {
    for (const h of r.hosts) if (name === h || name.endsWith(`.${h}`)) return true;
  }
  return false;
}

/** One address where blocking one name also blocks another name that the phone uses. */
export interface Collateral {
  /** The phone (MAC or client id) that uses `affectedName`. */
  client: string;
  address: string;
  /** Blocked names served from this address. */
  blockedNames: string[];
  /** A name the phone uses, not blocked for it, served from the same address. */
  affectedName: string;
  /**
   * `blocked`: the address is rejected, so `affectedName` is unreachable too (shared CDN/cloud address);
   * `unenforced`: an allow exception for `affectedName` wins, so the blocked names stay reachable there.
   */
  effect: 'blocked' | 'unenforced';
}

/**
 * Finds collateral: for each client, each address that a blocked name resolved to and that also serves a
 * name the same client looked up which is not blocked for it. `clientOf` maps an observation's client id
 * (MAC or IP) to the policy's client key (MAC), or returns it unchanged.
 */
export function findCollateral(
  matcher: PolicyMatcher,
  observed: readonly ObservedAddress[],
  clientOf: (id: string) => string,
  limit = 1000,
): Collateral[] {
  // address → names (any client), and per client the names it uses. A single name is kept as a string and
  // only becomes a Set when a second one shows up: most addresses serve one name, and 100,000 small Sets
  // were most of the cost of a big plan.
  const namesAt = new Map<string, string | Set<string>>();
  const usedBy = new Map<string, Map<string, string | Set<string>>>(); // client → address → names it asked for
  const addTo = <K>(m: Map<K, string | Set<string>>, k: K, name: string) => {
    const cur = m.get(k);
    if (cur === undefined) m.set(k, name);
    else if (typeof cur === 'string') {
      if (cur !== name) m.set(k, new Set([cur, name]));
    } else cur.add(name);
  };
  const listOf = (v: string | Set<string>) => (typeof v === 'string' ? [v] : [...v]);
  for (const o of observed) addTo(namesAt, o.address, o.name);
  // Only addresses that serve two names or more can hit another name: the rest need no per-client index.
  let lastId: string | null = null;
  let lastMap: Map<string, string | Set<string>> | undefined;
  for (const o of observed) {
    if (o.client === '' || typeof namesAt.get(o.address) === 'string') continue;
    if (o.client !== lastId) {
      lastId = o.client;
      const c = clientOf(o.client);
      lastMap = usedBy.get(c);
      if (!lastMap) {
        lastMap = new Map();
        usedBy.set(c, lastMap);
      }
    }
    addTo(lastMap!, o.address, o.name);
  }
  const out: Collateral[] = [];
  const clients = [...usedBy.keys()].sort();
  for (const client of clients) {
    const addrs = usedBy.get(client)!;
    const decisions = new Map<string, ReturnType<PolicyMatcher['decide']>>();
    const decide = (n: string) => {
      let d = decisions.get(n);
      if (d === undefined) {
        d = matcher.decide(client, n);
        decisions.set(n, d);
      }
      return d;
    };
    const shared = [...addrs.keys()].sort();
    for (const address of shared) {
      const all = listOf(namesAt.get(address)!).sort();
      const blockDecisions = all.map((n) => [n, decide(n)] as const).filter(([, d]) => d?.action === 'block');
      if (blockDecisions.length === 0) continue;
      const blocked = blockDecisions.map(([n]) => n);
      const clientBlock = blockDecisions.some(([, d]) => d?.scope === 'client');
      for (const used of listOf(addrs.get(address)!).sort()) {
        const d = decide(used);
        if (d?.action === 'block') continue;
        out.push({
          client,
          address,
          blockedNames: blocked,
          affectedName: used,
          // Rule order: the phone's allow set, the phone's block set, the global allow set, the global block set.
          effect: d?.action === 'allow' && (d.scope === 'client' || !clientBlock) ? 'unenforced' : 'blocked',
        });
        if (out.length >= limit) return out;
      }
    }
  }
  return out;
}
