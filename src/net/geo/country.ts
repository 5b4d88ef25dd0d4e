/**
 * The offline country database that ships with bandguard: ip-location-db's "geo-whois-asn-country"
 * (npm @ip-location-db/geo-whois-asn-country-mmdb, CC0, built from geofeeds and the five RIRs' whois and
 * delegation data under CC BY 4.0 by the NRO — attribution: nro.net).
 *
 * The package has one combined IPv4+IPv6 file and one file per family, the same data either way. bandguard
 * loads the per-family files, each once and only when the first address of that family is looked up: a
 * capture with IPv4 traffic only never pays for the IPv6 tree (4.8 MB), and an IPv4 lookup starts at the
 * root of a 32-bit tree instead of 96 levels down the combined one.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { embeddedIpv4, type IpBytes, parseIp, specialPurpose } from './ip.js';
import { MmdbFile } from './mmdb.js';

const PACKAGE = '@ip-location-db/geo-whois-asn-country-mmdb';

export interface CountryDbFiles {
  ipv4: string;
  ipv6: string;
}

/** The installed package's files. */
export function bundledCountryFiles(): CountryDbFiles {
  const dir = dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`));
  return {
    ipv4: join(dir, 'geo-whois-asn-country-ipv4.mmdb'),
    ipv6: join(dir, 'geo-whois-asn-country-ipv6.mmdb'),
  };
}

export class OfflineCountryDb {
  private v4: MmdbFile | null = null;
  private v6: MmdbFile | null = null;

  constructor(private readonly files: CountryDbFiles = bundledCountryFiles()) {}

  /** The file for a family, opened (and validated) on first use. */
  file(family: 4 | 6): MmdbFile {
    if (family === 4) {
      this.v4 ??= MmdbFile.open(this.files.ipv4);
      return this.v4;
    }
    this.v6 ??= MmdbFile.open(this.files.ipv6);
    return this.v6;
  }

  /** Which families are loaded (for status pages and tests). */
  loaded(): { ipv4: boolean; ipv6: boolean } {
    return { ipv4: this.v4 !== null, ipv6: this.v6 !== null };
  }

  /**
   * ISO 3166-1 alpha-2 code of the country the registries and geofeeds give for the address, or null
   * (special-purpose ranges such as private, documentation and multicast addresses, unallocated space,
   * text that is not an address).
   */
  countryOf(ip: string | IpBytes): string | null {
    let b = typeof ip === 'string' ? parseIp(ip) : ip;
    if (!b || specialPurpose(b) !== null) return null;
    if (b.length === 16) b = embeddedIpv4(b) ?? b;
    return this.file(b.length === 4 ? 4 : 6).lookup(b)?.country ?? null;
  }
}

let shared: OfflineCountryDb | null = null;

/** The bundled database, shared by everything in the process. */
export function defaultCountryDb(): OfflineCountryDb {
  shared ??= new OfflineCountryDb();
  return shared;
}
