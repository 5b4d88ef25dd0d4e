/**
 * Cutting connections that a new block covers. The chain's first rule returns ESTABLISHED/RELATED packets
 * before any set lookup (that keeps forwarding at line rate), so a connection that was open when a block
 * was applied would run on. After an apply (and after the DNS feed adds addresses to a block set), the
 * applier lists the kernel's connection tracking table (`conntrack -L`), finds the connections between a
 * phone and an address that the policy in force now blocks for that phone, and deletes their entries
 * (`conntrack -D -f ipv4|ipv6 -s PHONE -d ADDRESS`). The next packet of such a connection is then NEW again
 * and walks the chain: the phone's side gets a TCP reset (or an ICMP unreachable), and the server's side
 * is dropped by the `--ctstate NEW … src` rule of the plan, so it cannot re-create the entry from its end.
 *
 * This file is PURE: parsing `conntrack -L` text and deciding which (phone, address) pairs to cut. The
 * commands run in apply.ts through the one executor; every address given to them comes out of
 * `normalizeIp` here (canonical text, so a plain token).
 */
import type { Family, FirewallPlan, PlannedSet, SetEntry } from './plan.js';
import { setName } from './plan.js';
import { normalizeIp } from './validate.js';

/** One tracked connection, original direction (who sent the first packet). */
export interface TrackedFlow {
  family: Family;
  src: string;
  dst: string;
}

/**
 * Parses `conntrack -L` output (one connection per line; the first `src=`/`dst=` pair is the original
 * direction). Lines that are not connections, or whose addresses are not canonical IPs, are skipped.
 */
export function parseConntrackList(text: string): TrackedFlow[] {
  const out: TrackedFlow[] = [];
  for (const line of text.split('\n')) {
    const s = line.indexOf(' src=');
    if (s < 0) continue;
    const sEnd = line.indexOf(' ', s + 5);
    const d = line.indexOf(' dst=', s);
    if (d < 0) continue;
    const dEnd = line.indexOf(' ', d + 5);
    try {
      const src = normalizeIp(line.slice(s + 5, sEnd < 0 ? undefined : sEnd));
      const dst = normalizeIp(line.slice(d + 5, dEnd < 0 ? undefined : dEnd));
      if (src.family !== dst.family) continue;
      out.push({ family: src.family, src: src.ip, dst: dst.ip });
    } catch {
      // not an address pair (a header or a summary line)
    }
  }
  return out;
}

/** One (phone address, blocked address) pair whose tracked connections are deleted. */
export interface CutPair {
  family: Family;
  /** The phone's address (LAN side). */
  client: string;
  /** The blocked address. */
  address: string;
}

/**
 * Who is blocked from what, as the kernel rules decide it: a phone with a chain of its own checks its
 * allow set, its block set, everyone's allow set, everyone's block set (first hit wins); every other
 * client checks everyone's allow and block sets. Membership comes from the plan's entries plus what apply
 * carried over and what the feed added since (`extra`).
 */
export class BlockIndex {
  readonly #members = new Map<string, Set<string>>();
  readonly #extra = new Map<string, Set<string>>();
  readonly #planned = new Map<string, PlannedSet>();
  readonly #carry: ReadonlyMap<string, readonly SetEntry[]>;
  /** Phone address → MAC, for phones with a chain of their own. */
  readonly #macOf = new Map<string, string>();
  readonly #chains = new Set<string>();

  constructor(plan: FirewallPlan, carry: ReadonlyMap<string, readonly SetEntry[]> = new Map()) {
    for (const s of plan.sets) this.#planned.set(s.name, s);
    this.#carry = carry;
    for (const c of plan.clients) {
      this.#chains.add(c.mac);
      for (const ip of c.ips) this.#macOf.set(ip, c.mac);
    }
  }

  /** Records addresses the feed put into a live set after the apply. */
  added(set: string, address: string): void {
    const e = this.#extra.get(set);
    if (e) e.add(address);
    else this.#extra.set(set, new Set([address]));
  }

  #has(set: string, address: string): boolean {
    if (this.#extra.get(set)?.has(address)) return true;
    let m = this.#members.get(set);
    if (m === undefined) {
      const planned = this.#planned.get(set);
      if (!planned) return false;
      m = new Set<string>();
      for (const e of planned.entries) m.add(e.address);
      for (const e of this.#carry.get(set) ?? []) m.add(e.address);
      this.#members.set(set, m);
    }
    return m.has(address);
  }

  /** True when the rules reject `client` (a LAN address) → `address`. */
  blocks(family: Family, client: string, address: string): boolean {
    const mac = this.#macOf.get(client);
    if (mac !== undefined && this.#chains.has(mac)) {
      if (this.#has(setName('allow-client', family, mac), address)) return false;
      if (this.#has(setName('block-client', family, mac), address)) return true;
    }
    if (this.#has(setName('allow-all', family), address)) return false;
    return this.#has(setName('block-all', family), address);
  }

  /**
   * The pairs to cut among tracked flows: a flow from a client to a blocked address, or one that the
   * server's side re-created (original direction server → client). `only` limits the blocked addresses
   * looked at (the feed passes the addresses it just added).
   */
  pairs(flows: readonly TrackedFlow[], only?: ReadonlySet<string>): CutPair[] {
    const seen = new Set<string>();
    const out: CutPair[] = [];
    const consider = (family: Family, client: string, address: string) => {
      if (only && !only.has(address)) return;
      const key = `${client} ${address}`;
      if (seen.has(key)) return;
      if (!this.blocks(family, client, address)) return;
      seen.add(key);
      out.push({ family, client, address });
    };
    for (const f of flows) {
      consider(f.family, f.src, f.dst);
      consider(f.family, f.dst, f.src);
    }
    return out;
  }
}

/** argv of the commands that delete the tracked connections of one pair (both directions). */
export function conntrackDeleteArgv(p: CutPair): string[][] {
  const fam = p.family === 4 ? 'ipv4' : 'ipv6';
  const client = normalizeIp(p.client);
  const address = normalizeIp(p.address);
  if (client.family !== p.family || address.family !== p.family) {
    throw new Error(`refusing conntrack pair ${JSON.stringify(p)}`);
  }
  return [
    ['conntrack', '-D', '-f', fam, '-s', client.ip, '-d', address.ip],
    ['conntrack', '-D', '-f', fam, '-s', address.ip, '-d', client.ip],
  ];
}

/** True when a `conntrack -D` result only says that nothing matched ("0 flow entries have been deleted"). */
export function nothingToDelete(code: number, stderr: string): boolean {
  return code === 1 && /\b0 flow entries\b/.test(stderr);
}

/** True when the result says the program is not installed (exec failed). */
export function toolMissing(code: number, stderr: string): boolean {
  return code === 127 || /ENOENT|No such file or directory|not found/i.test(stderr.split('\n')[0] ?? '');
}
