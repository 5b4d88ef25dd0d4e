/**
 * Classification of a contact from the knowledge that ships with bandguard: the parties knowledge base
 * (organization, role, owner country), registrable domains (Public Suffix List) and OUI vendors.
 *
 * Party rules (design.md): `first` = the companion app's vendor — a client's apps are inferred from the
 * vendor domains it contacts —, `third` = anyone else on the internet, `local` = LAN and multicast,
 * `unknown` = no name and no owner known.
 */
import { definitions } from '../../../devices/index.js';
import { type GeoInfo, GeoService } from '../geo/geoService.js';
import type { Classification, ContactClassifier } from '../report.js';
import { isLocalAddress } from '../report.js';
import { registrableDomain } from './domain.js';
import { lookupVendor } from './oui.js';
import { defaultPartiesKnowledgeBase, type PartiesKnowledgeBase } from './parties.js';

/** Ports whose service fixes the role whatever the name (DNS over TLS/QUIC, plain DNS, NTP). */
const PORT_ROLES: Record<number, string> = { 53: 'dns', 853: 'dns', 5353: 'local', 5355: 'local' };

/** Memoized geo answers per server address, at most this many (then the memo starts over). */
const GEO_MEMO_MAX = 65_536;

export class KnowledgeClassifier implements ContactClassifier {
  private readonly geoMemo = new Map<string, GeoInfo>();
  private geoMemoVersion = -1;

  /**
   * @param geo where servers are and who runs their networks (country, ASN, AS organization); answers are
   *   memoized per address and looked up again when the GeoService learns something new.
   */
  constructor(
    private readonly kb: PartiesKnowledgeBase,
    private readonly geo: GeoService | null = null,
  ) {}

  private geoOf(ip: string): GeoInfo | null {
    const geo = this.geo;
    if (!geo) return null;
    if (geo.version !== this.geoMemoVersion) {
      this.geoMemo.clear();
      this.geoMemoVersion = geo.version;
    }
    let g = this.geoMemo.get(ip);
    if (!g) {
      g = geo.lookup(ip);
      if (this.geoMemo.size >= GEO_MEMO_MAX) this.geoMemo.clear();
      this.geoMemo.set(ip, g);
    }
    return g;
  }

  classify(
    name: string | null,
    serverIp: string,
    port: number,
    protocol: string,
    clientApps: string[],
  ): Classification {
    if (isLocalAddress(serverIp) || protocol === 'mdns' || protocol === 'dhcp') {
      return {
        registrableDomain: name ? registrableDomain(name) : null,
        party: 'local',
        app: null,
        role: 'local',
        organization: null,
        ownerCountry: null,
        country: null,
        asn: null,
        asOrganization: null,
      };
    }
    const info = name ? this.kb.lookup(name) : null;
    const vendor = info?.vendor ?? null;
    let party: Classification['party'];
    let app: string | null;
    if (vendor && clientApps.includes(vendor)) {
      party = 'first';
      app = vendor;
    } else {
      party = name || info ? 'third' : 'unknown';
      // A phone running a single known companion app: its third-party contacts are that app's, as far as the
      // traffic can tell; with several apps the traffic alone does not say which one made the connection.
      app = clientApps.length === 1 ? clientApps[0]! : null;
    }
    const geo = this.geoOf(serverIp);
    return {
      registrableDomain: name ? registrableDomain(name) : null,
      party,
      app,
      role: PORT_ROLES[port] ?? info?.role ?? 'unknown',
      organization: info?.organization ?? null,
      ownerCountry: info?.ownerCountry ?? null,
      country: geo?.country ?? null,
      asn: geo?.asn ?? null,
      asOrganization: geo?.asOrganization ?? null,
    };
  }

  /** The vendors whose first-party domains a client contacted: the companion apps it runs. */
  appsOf(names: string[], userAgents: string[]): string[] {
    const apps = new Set<string>();
    for (const n of names) {
      const v = this.kb.lookup(n)?.vendor;
      if (v) apps.add(v);
    }
    // User-Agent hints: a companion app's package name (devices/ lists them) in a clear-text request's UA.
    if (userAgents.length > 0) {
      for (const [pkg, vendor] of this.companionPackages()) {
        if (userAgents.some((ua) => ua.includes(pkg))) apps.add(vendor);
      }
    }
    return [...apps].sort();
  }

  #packages: [string, string][] | null = null;

  /** Companion-app package names from the device definitions, with the vendor their domains belong to. */
  private companionPackages(): [string, string][] {
    if (this.#packages) return this.#packages;
    const out = new Map<string, string>();
    for (const d of definitions) {
      const c = d.companion;
      if (!c) continue;
      const vendor = c.domains.map((dom) => this.kb.lookup(dom)?.vendor).find((v) => v !== undefined);
      if (vendor) for (const pkg of c.apps) if (!out.has(pkg)) out.set(pkg, vendor);
    }
    this.#packages = [...out];
    return this.#packages;
  }

  vendorOfMac(mac: string): string | null {
    return lookupVendor(mac);
  }
}

let shared: KnowledgeClassifier | null = null;

/**
 * The classifier over the bundled knowledge base (loaded once, validated at load) and the bundled offline
 * country database (no network).
 */
export function defaultClassifier(): KnowledgeClassifier {
  shared ??= new KnowledgeClassifier(defaultPartiesKnowledgeBase(), new GeoService());
  return shared;
}
