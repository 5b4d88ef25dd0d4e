/**
 * RDAP bootstrap (RFC 9224): which RDAP server answers for an IP address. IANA publishes the registries
 * as JSON (data.iana.org/rdap/ipv4.json, ipv6.json); bandguard ships a copy of their facts below (the RIR
 * that each IPv4 /8 and each IPv6 block was allocated to, and each RIR's RDAP base URL), so that it works
 * without fetching them, and accepts a newer copy in the same RFC 9224 format (`RdapBootstrap.fromFiles`).
 * An address that no entry covers is asked of the five RIRs in turn; RIRs redirect (HTTP 301/302/303/307/
 * 308) a query for space they do not hold to the one that does, and the client follows.
 */
import { z } from 'zod';
import { type IpBytes, inPrefix, parseIp } from './ip.js';

export const RIR_BASE_URLS = {
  afrinic: 'https://rdap.afrinic.net/rdap/',
  apnic: 'https://rdap.apnic.net/',
  arin: 'https://rdap.arin.net/registry/',
  lacnic: 'https://rdap.lacnic.net/rdap/',
  ripe: 'https://rdap.db.ripe.net/',
} as const;

export type Rir = keyof typeof RIR_BASE_URLS;

/** IPv4 /8 blocks by RIR (IANA IPv4 RDAP bootstrap registry; /8s not listed are special or unlisted). */
const V4_BY_RIR: Record<Rir, string> = {
  afrinic: '41 102 105 154 196 197',
  apnic: '1 14 27 36 39 42 43 49 58-61 101 103 106 110-126 133 150 153 163 171 175 180 182 183 202 203 210 211 218-223',
  arin:
    '3 4 6-9 11-13 15-24 26 28-30 32-35 38 40 44 45 47 48 50 52 54-56 63-76 96-100 104 107 108 128-132 134-140 ' +
    '142-144 146-149 152 155-162 164-170 172-174 184 192 198 199 204-209 214-216',
  lacnic: '177 179 181 186 187 189-191 200 201',
  ripe: '2 5 25 31 37 46 51 53 57 62 77-95 109 141 145 151 176 178 185 188 193-195 212 213 217',
};

/** IPv6 blocks by RIR (IANA IPv6 RDAP bootstrap registry). */
const V6_BY_RIR: Record<Rir, string[]> = {
  afrinic: ['2001:4200::/23', '2c00::/12'],
  apnic: [
    '2001:200::/23',
    '2001:4400::/23',
    '2001:8000::/19',
    '2001:a000::/20',
    '2001:b000::/20',
    '2001:c00::/23',
    '2001:e00::/23',
    '2400::/12',
    '2410::/12',
  ],
  arin: ['2001:1800::/23', '2001:400::/23', '2001:4800::/23', '2600::/12', '2610::/23', '2620::/23', '2630::/12'],
  lacnic: ['2001:1200::/23', '2800::/12'],
  ripe: [
    '2001:1400::/22',
    '2001:1a00::/23',
    '2001:1c00::/22',
    '2001:2000::/19',
    '2001:4000::/23',
    '2001:4600::/23',
    '2001:4a00::/23',
    '2001:4c00::/23',
    '2001:5000::/20',
    '2001:600::/23',
    '2001:800::/22',
    '2003::/18',
    '2a00::/12',
    '2a10::/12',
  ],
};

/** RFC 9224 registry file: `services` is a list of [entries, urls]. */
export const bootstrapFileSchema = z.object({
  version: z.string().optional(),
  publication: z.string().optional(),
  description: z.string().optional(),
  services: z.array(z.tuple([z.array(z.string()), z.array(z.string())])),
});
export type BootstrapFile = z.infer<typeof bootstrapFileSchema>;

function expandV4(spec: string): string[] {
  const out: string[] = [];
  for (const tok of spec.split(/\s+/)) {
    if (!tok) continue;
    const [a, b] = tok.split('-').map(Number);
    for (let n = a!; n <= (b ?? a!); n++) out.push(`${n}.0.0.0/8`);
  }
  return out;
}

/** The shipped copy, in RFC 9224 form. */
export function shippedBootstrap(): { ipv4: BootstrapFile; ipv6: BootstrapFile } {
  const rirs = Object.keys(RIR_BASE_URLS) as Rir[];
  return {
    ipv4: {
      description: 'RDAP bootstrap file for IPv4 address allocations (facts of the IANA registry, shipped)',
      services: rirs.map((r) => [expandV4(V4_BY_RIR[r]), [RIR_BASE_URLS[r]]]),
    },
    ipv6: {
      description: 'RDAP bootstrap file for IPv6 address allocations (facts of the IANA registry, shipped)',
      services: rirs.map((r) => [V6_BY_RIR[r], [RIR_BASE_URLS[r]]]),
    },
  };
}

interface Entry {
  prefix: IpBytes;
  len: number;
  urls: string[];
}

/** Prefer https base URLs (RFC 9224 §3), and make each end with a slash so paths append cleanly. */
function pickUrls(urls: string[]): string[] {
  const norm = urls.filter((u) => /^https?:\/\//i.test(u)).map((u) => (u.endsWith('/') ? u : `${u}/`));
  const https = norm.filter((u) => u.toLowerCase().startsWith('https:'));
  return https.length > 0 ? https : norm;
}

export class RdapBootstrap {
  private readonly entries: Entry[] = [];

  /**
   * @param files RFC 9224 registries for IPv4 and IPv6.
   * @param fallback base URLs to ask, in order, for an address that no entry covers.
   */
  constructor(
    files: BootstrapFile[],
    readonly fallback: readonly string[] = Object.values(RIR_BASE_URLS),
  ) {
    for (const f of files) {
      for (const [cidrs, urls] of f.services) {
        const picked = pickUrls(urls);
        if (picked.length === 0) continue;
        for (const c of cidrs) {
          const [addr, lenText] = c.split('/');
          const prefix = addr ? parseIp(addr) : null;
          const len = Number(lenText);
          if (!prefix || !Number.isInteger(len) || len < 0 || len > prefix.length * 8) continue;
          this.entries.push({ prefix, len, urls: picked });
        }
      }
    }
    // Longest prefix first, so the first match is the most specific.
    this.entries.sort((a, b) => b.len - a.len);
  }

  /** The shipped registries with the RIRs as the fallback. */
  static shipped(): RdapBootstrap {
    const s = shippedBootstrap();
    return new RdapBootstrap([s.ipv4, s.ipv6]);
  }

  /** Registries read from RFC 9224 JSON texts (e.g. a copy cached by the agent); throws on a wrong shape. */
  static fromFiles(jsonTexts: string[], fallback?: readonly string[]): RdapBootstrap {
    return new RdapBootstrap(
      jsonTexts.map((t) => bootstrapFileSchema.parse(JSON.parse(t))),
      fallback,
    );
  }

  get size(): number {
    return this.entries.length;
  }

  /** Base URLs for an address: the registry's servers for it, else the fallback list. */
  baseUrlsFor(ip: IpBytes): { urls: string[]; fromRegistry: boolean } {
    for (const e of this.entries) {
      if (e.prefix.length === ip.length && inPrefix(ip, e.prefix, e.len)) return { urls: e.urls, fromRegistry: true };
    }
    return { urls: [...this.fallback], fromRegistry: false };
  }
}
