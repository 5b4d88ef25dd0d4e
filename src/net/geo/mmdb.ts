/**
 * A thin reader for MaxMind DB (`.mmdb`) files — GeoLite2/GeoIP2 ASN, Country and City, ip-location-db,
 * and other files in the same format (spec: maxmind.github.io/MaxMind-DB). The file is validated when it
 * is opened, so a file that is not an mmdb is one clear error up front rather than wrong answers later;
 * the tree walk and data decoding are mmdb-lib's. Each record is reduced to what bandguard uses: country
 * (ISO 3166-1 alpha-2), autonomous system number and its organization.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Reader as MmdbReader } from 'mmdb-lib';
import { embeddedIpv4, formatIp, type IpBytes, parseIp } from './ip.js';

// mmdb-lib is CommonJS: require() skips the export-name scan that an ES import would make (start-up time).
const { Reader } = createRequire(import.meta.url)('mmdb-lib') as typeof import('mmdb-lib');
type Reader<T extends object> = MmdbReader<T>;

/** The file could not be read, or is not a MaxMind DB file. */
export class MmdbFormatError extends Error {
  override readonly name = 'MmdbFormatError';
}

/** `\xAB\xCD\xEF` + `MaxMind.com`: the metadata section starts after its last occurrence. */
const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com', 'latin1')]);
/** The spec caps the metadata section at 128 KiB. */
const METADATA_MAX = 128 * 1024;
/** The 16 zero bytes between the search tree and the data section. */
const DATA_SECTION_SEPARATOR = 16;

export interface MmdbInfo {
  path: string;
  databaseType: string;
  ipVersion: 4 | 6;
  recordSize: number;
  nodeCount: number;
  buildEpoch: Date;
  description: string | null;
  /** Which of bandguard's fields the file's records carry, judged from the database type and a sample. */
  provides: { country: boolean; asn: boolean };
}

export interface MmdbRecord {
  country: string | null;
  asn: number | null;
  asOrganization: string | null;
  /** Length of the network prefix the answer covers (in the address's own family). */
  prefixLength: number;
}

/** A small bounded map for mmdb-lib's decoded-record cache (keys are data-section offsets). */
class BoundedCache {
  private readonly map = new Map<string | number, unknown>();
  constructor(private readonly max: number) {}
  get(key: string | number): unknown {
    return this.map.get(key);
  }
  set(key: string | number, value: unknown): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(key, value);
  }
}

type AnyRecord = Record<string, unknown>;

export class MmdbFile {
  private constructor(
    readonly info: MmdbInfo,
    private readonly reader: Reader<AnyRecord>,
  ) {}

  /** Lookups whose data could not be decoded (a damaged file): counted, answered with null. */
  decodeErrors = 0;

  /** Read and validate a file; throws MmdbFormatError with the path and the reason. */
  static open(path: string): MmdbFile {
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
      throw new MmdbFormatError(`cannot read MaxMind DB file ${path}: ${code}`);
    }
    return MmdbFile.fromBuffer(buf, path);
  }

  static fromBuffer(buf: Buffer, path = '<buffer>'): MmdbFile {
    const bad = (why: string): MmdbFormatError =>
      new MmdbFormatError(`${path} is not a MaxMind DB (.mmdb) file: ${why}`);
    if (buf.length < METADATA_MARKER.length + DATA_SECTION_SEPARATOR) throw bad(`only ${buf.length} bytes`);
    const markerAt = buf.lastIndexOf(METADATA_MARKER);
    if (markerAt < 0 || buf.length - markerAt > METADATA_MAX + METADATA_MARKER.length) {
      throw bad('no metadata section (the "\\xAB\\xCD\\xEFMaxMind.com" marker) in the last 128 KiB');
    }
    let reader: Reader<AnyRecord>;
    try {
      reader = new Reader<AnyRecord>(buf, { cache: new BoundedCache(8192) });
    } catch (err) {
      throw bad(`metadata cannot be decoded (${err instanceof Error ? err.message : String(err)})`);
    }
    const m = reader.metadata;
    if (m.binaryFormatMajorVersion !== 2) throw bad(`binary format version ${m.binaryFormatMajorVersion}, expected 2`);
    if (m.ipVersion !== 4 && m.ipVersion !== 6) throw bad(`ip_version ${String(m.ipVersion)}, expected 4 or 6`);
    if (!Number.isInteger(m.nodeCount) || m.nodeCount <= 0) throw bad(`node_count ${String(m.nodeCount)}`);
    if (typeof m.databaseType !== 'string') throw bad('metadata has no database_type');
    if (m.searchTreeSize + DATA_SECTION_SEPARATOR > markerAt) {
      throw bad(`the search tree (${m.searchTreeSize} bytes) does not fit before the metadata at byte ${markerAt}`);
    }
    for (let i = 0; i < DATA_SECTION_SEPARATOR; i++) {
      if (buf[m.searchTreeSize + i] !== 0) throw bad('no 16-byte zero separator after the search tree');
    }
    const desc = m.description as unknown as Record<string, string> | undefined;
    const info: MmdbInfo = {
      path,
      databaseType: m.databaseType,
      ipVersion: m.ipVersion,
      recordSize: m.recordSize,
      nodeCount: m.nodeCount,
      buildEpoch: m.buildEpoch,
      description: desc?.en ?? Object.values(desc ?? {})[0] ?? null,
      provides: { country: false, asn: false },
    };
    const file = new MmdbFile(info, reader);
    info.provides = file.probe();
    return file;
  }

  /**
   * Look an address up. Null when the file has no record for it (or it is not an address). An IPv6
   * address that only carries an IPv4 address (mapped, NAT64, 6to4) is looked up as that IPv4 address;
   * a native IPv6 address in an IPv4-only file has no record.
   */
  lookup(ip: string | IpBytes): MmdbRecord | null {
    let b = typeof ip === 'string' ? parseIp(ip) : ip;
    if (!b) return null;
    if (b.length === 16) b = embeddedIpv4(b) ?? b;
    if (b.length === 16 && this.info.ipVersion === 4) return null;
    const raw = this.raw(b);
    if (!raw) return null;
    return { ...extract(raw.data), prefixLength: raw.prefixLength };
  }

  /** The record as stored in the file (for fields bandguard does not map), or null. */
  raw(ip: string | IpBytes): { data: AnyRecord; prefixLength: number } | null {
    const b = typeof ip === 'string' ? parseIp(ip) : ip;
    if (!b) return null;
    if (b.length === 16 && this.info.ipVersion === 4) return null;
    try {
      const [data, prefixLength] = this.reader.getWithPrefixLength(formatIp(b));
      if (!data || typeof data !== 'object') return null;
      // An IPv4 address in an IPv6 tree is walked from the ::/96 node, so the length is in IPv4 terms.
      return { data, prefixLength };
    } catch {
      this.decodeErrors++;
      return null;
    }
  }

  /** Which fields the file carries: from the database type, confirmed on a few well-spread addresses. */
  private probe(): { country: boolean; asn: boolean } {
    const type = this.info.databaseType.toLowerCase();
    const out = { country: /country|city/.test(type), asn: /asn|isp|\bas\b/.test(type) };
    const samples = ['8.8.8.8', '1.1.1.1', '193.0.6.139', '41.0.0.1', '200.1.1.1', '2a00:1450:4001::1', '2400:cb00::1'];
    for (const s of samples) {
      const r = this.lookup(s);
      if (!r) continue;
      if (r.country) out.country = true;
      if (r.asn !== null) out.asn = true;
    }
    return out;
  }
}

const COUNTRY = /^[A-Z]{2}$/;

function countryCode(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const up = v.toUpperCase();
  return COUNTRY.test(up) ? up : null;
}

function asnValue(v: unknown): number | null {
  let n: number | null = null;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'bigint') n = Number(v);
  else if (typeof v === 'string') {
    const m = /^(?:AS)?(\d{1,10})$/i.exec(v.trim());
    if (m) n = Number(m[1]);
  }
  return n !== null && Number.isInteger(n) && n > 0 && n <= 0xffffffff ? n : null;
}

function text(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
}

/**
 * The fields bandguard maps, from the layouts in use:
 * - GeoLite2/GeoIP2 ASN and ISP: `autonomous_system_number`, `autonomous_system_organization`;
 * - GeoLite2/GeoIP2 Country and City: `country.iso_code`, else `registered_country.iso_code`;
 * - ip-location-db country files: `country_code`; its ASN files use the MaxMind ASN names;
 * - IPinfo-style files: `country` as a code, `asn` ("AS15169"), `as_name`.
 */
export function extract(d: AnyRecord): Omit<MmdbRecord, 'prefixLength'> {
  const nested = (k: string): unknown => {
    const o = d[k];
    return o && typeof o === 'object' ? (o as AnyRecord).iso_code : undefined;
  };
  const country =
    countryCode(nested('country')) ??
    countryCode(d.country_code) ??
    countryCode(d.country) ??
    countryCode(nested('registered_country'));
  const asn = asnValue(d.autonomous_system_number) ?? asnValue(d.asn);
  const asOrganization = text(d.autonomous_system_organization) ?? text(d.as_name) ?? text(d.as_org) ?? null;
  return { country, asn, asOrganization };
}
