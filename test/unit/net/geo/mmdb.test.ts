import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledCountryFiles } from '../../../../src/net/geo/country.js';
import { formatIp, parseIp } from '../../../../src/net/geo/ip.js';
import { extract, MmdbFile, MmdbFormatError } from '../../../../src/net/geo/mmdb.js';
import { type Network, walkNetworks, writeMmdb } from './mmdbSpec.js';
import { TINY_ASN_NETWORKS, TINY_ASN_OPTIONS } from './tinyDb.js';

const FIXTURE = new URL('../../../fixtures/geo/tiny-asn.mmdb', import.meta.url).pathname;
const ip = (s: string): Uint8Array => parseIp(s)!;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bandguard-mmdb-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileOf(name: string, bytes: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe('MmdbFile on the tiny built file (GeoLite2-ASN layout)', () => {
  it('the committed fixture is exactly what the spec writer builds', () => {
    const built = writeMmdb(TINY_ASN_NETWORKS, TINY_ASN_OPTIONS);
    if (process.env.BANDGUARD_WRITE_FIXTURES) writeFileSync(FIXTURE, built);
    expect(readFileSync(FIXTURE).equals(built)).toBe(true);
  });

  it('reads metadata and answers ASN and organization for IPv4, IPv6 and nested networks', () => {
    const f = MmdbFile.open(FIXTURE);
    expect(f.info).toMatchObject({
      databaseType: 'GeoLite2-ASN',
      ipVersion: 6,
      recordSize: 28,
      description: 'bandguard test ASN database (documentation ranges only)',
      provides: { asn: true, country: false },
    });
    expect(f.info.buildEpoch.toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(f.lookup('198.51.100.7')).toEqual({
      country: null,
      asn: 64500,
      asOrganization: 'Example Transit AS',
      prefixLength: 25, // the /24 was split by the /25 inside it
    });
    expect(f.lookup('198.51.100.200')).toEqual({
      country: null,
      asn: 64501,
      asOrganization: 'Example Hosting',
      prefixLength: 25,
    });
    expect(f.lookup('203.0.113.255')?.asn).toBe(64502);
    expect(f.lookup('2001:db8:100:ffff::1')).toMatchObject({ asn: 64500, prefixLength: 48 });
    expect(f.lookup('2001:db8:2ff::9')).toMatchObject({ asn: 4_200_000_001, asOrganization: 'Example 4-byte ASN' });
    // IPv4 carried in IPv6 forms is looked up as the IPv4 address.
    expect(f.lookup('::ffff:203.0.113.9')?.asn).toBe(64502);
    expect(f.lookup('2002:cb00:7109::1')?.asn).toBe(64502); // 6to4 of 203.0.113.9
    expect(f.lookup('64:ff9b::198.51.100.1')?.asn).toBe(64500); // NAT64
    // Not in the file; not an address.
    expect(f.lookup('192.0.2.1')).toBeNull();
    expect(f.lookup('2001:db8:300::1')).toBeNull();
    expect(f.lookup('not-an-ip')).toBeNull();
    expect(f.lookup('198.51.100')).toBeNull();
    expect(f.decodeErrors).toBe(0);
  });

  it.each([24, 28, 32] as const)('reads an IPv4-only City-layout file with %i-bit records', (recordSize) => {
    const nets: Network[] = [
      {
        addr: ip('192.0.2.0'),
        prefix: 24,
        data: {
          city: { geoname_id: 2950159, names: { en: 'Berlin' } },
          country: { geoname_id: 2921044, iso_code: 'DE', names: { en: 'Germany', fr: 'Allemagne' } },
          registered_country: { iso_code: 'IE' },
          location: { latitude: 52.5244, longitude: 13.4105, accuracy_radius: 20 },
        },
      },
      // Only a registered country: used when there is no country.
      { addr: ip('198.51.100.0'), prefix: 23, data: { registered_country: { iso_code: 'jp' } } },
    ];
    const p = fileOf(
      `city-${recordSize}.mmdb`,
      writeMmdb(nets, { ipVersion: 4, recordSize, databaseType: 'GeoLite2-City' }),
    );
    const f = MmdbFile.open(p);
    expect(f.info).toMatchObject({ ipVersion: 4, recordSize, provides: { country: true, asn: false } });
    expect(f.lookup('192.0.2.77')).toEqual({ country: 'DE', asn: null, asOrganization: null, prefixLength: 24 });
    expect(f.lookup('198.51.101.1')).toEqual({ country: 'JP', asn: null, asOrganization: null, prefixLength: 23 });
    expect(f.raw('192.0.2.77')?.data).toMatchObject({ city: { names: { en: 'Berlin' } } });
    // A native IPv6 address has no record in an IPv4 file (no bit-walking of a 128-bit key in a 32-bit tree).
    expect(f.lookup('2001:db8::1')).toBeNull();
    expect(f.lookup('::ffff:192.0.2.1')?.country).toBe('DE');
  });

  it('maps the ip-location-db and IPinfo layouts', () => {
    expect(extract({ country_code: 'NL' })).toEqual({ country: 'NL', asn: null, asOrganization: null });
    expect(extract({ asn: 'AS15169', as_name: 'Google LLC', country: 'US' })).toEqual({
      country: 'US',
      asn: 15169,
      asOrganization: 'Google LLC',
    });
    expect(extract({ autonomous_system_number: 13335n as unknown as number })).toMatchObject({ asn: 13335 });
    // Nonsense values are dropped, not passed on.
    expect(extract({ country_code: 'Germany', asn: 'ASX', autonomous_system_organization: '  ' })).toEqual({
      country: null,
      asn: null,
      asOrganization: null,
    });
    const nets: Network[] = [
      { addr: ip('2001:db8::'), prefix: 32, data: { asn: 'AS64496', as_name: 'Doc AS', country: 'fr' } },
    ];
    const f = MmdbFile.fromBuffer(writeMmdb(nets, { ipVersion: 6, recordSize: 32, databaseType: 'ipinfo lite' }));
    expect(f.lookup('2001:db8:1::1')).toEqual({
      country: 'FR',
      asn: 64496,
      asOrganization: 'Doc AS',
      prefixLength: 32,
    });
  });
});

describe('MmdbFile refuses files that are not mmdb', () => {
  const cases: Array<[string, Buffer | string, RegExp]> = [
    ['empty.mmdb', Buffer.alloc(0), /only 0 bytes/],
    ['text.mmdb', 'hello, this is not a database\n'.repeat(50), /no metadata section/],
    [
      'pcap.mmdb',
      Buffer.concat([Buffer.from('d4c3b2a102000400', 'hex'), Buffer.alloc(4000, 7)]),
      /no metadata section/,
    ],
  ];
  it.each(cases)('%s', (name, bytes, why) => {
    const p = fileOf(name, bytes);
    expect(() => MmdbFile.open(p)).toThrow(MmdbFormatError);
    expect(() => MmdbFile.open(p)).toThrow(why);
    expect(() => MmdbFile.open(p)).toThrow(`${p} is not a MaxMind DB (.mmdb) file`);
  });

  it('a file whose tree is cut off', () => {
    const good = writeMmdb(TINY_ASN_NETWORKS, TINY_ASN_OPTIONS);
    // Drop most of the search tree but keep the metadata: node_count no longer fits.
    const cut = Buffer.concat([good.subarray(0, 10), good.subarray(good.lastIndexOf(Buffer.from('MaxMind.com')) - 3)]);
    expect(() => MmdbFile.fromBuffer(cut, 'cut.mmdb')).toThrow(/search tree .* does not fit/);
  });

  it('a metadata marker followed by garbage', () => {
    const bytes = Buffer.concat([
      Buffer.alloc(64),
      Buffer.from([0xab, 0xcd, 0xef]),
      Buffer.from('MaxMind.com'),
      Buffer.from([0xff, 0xff, 0x01]),
    ]);
    expect(() => MmdbFile.fromBuffer(bytes, 'junk.mmdb')).toThrow(MmdbFormatError);
  });

  it('a missing file and a directory', () => {
    expect(() => MmdbFile.open(join(dir, 'nope.mmdb'))).toThrow(/cannot read MaxMind DB file .*nope.mmdb: ENOENT/);
    expect(() => MmdbFile.open(dir)).toThrow(/EISDIR/);
  });
});

describe('MmdbFile on a real file (the bundled CC0 country database)', () => {
  const files = bundledCountryFiles();

  it.each([
    ['ipv4', files.ipv4, 4, '0.0.0.0'],
    ['ipv6', files.ipv6, 6, '2000::'],
  ] as const)('%s: agrees with an independent tree walk on sampled networks', (_n, path, version, root) => {
    const f = MmdbFile.open(path);
    expect(f.info.ipVersion).toBe(version);
    expect(f.info.databaseType).toMatch(/country/);
    expect(f.info.provides.country).toBe(true);
    const buf = readFileSync(path);
    const start = { addr: ip(root), prefix: version === 4 ? 0 : 3 };
    // Three differently biased walks: leftmost, rightmost and alternating branches.
    const samples = [
      ...walkNetworks(buf, start, 40, () => 0),
      ...walkNetworks(buf, start, 40, () => 1),
      ...walkNetworks(buf, start, 40, (d) => (d % 2) as 0 | 1),
    ];
    expect(samples.length).toBeGreaterThanOrEqual(100);
    for (const s of samples) {
      const expected = (s.value as { country_code: string }).country_code;
      // First and last address of the network.
      const last = new Uint8Array(s.addr);
      for (let i = s.prefix; i < last.length * 8; i++) last[i >> 3]! |= 1 << (7 - (i & 7));
      for (const a of [s.addr, last]) {
        const r = f.lookup(formatIp(a));
        expect(r, formatIp(a)).not.toBeNull();
        expect(r!.country).toBe(expected);
        expect(r!.prefixLength).toBe(s.prefix);
      }
    }
  });

  it('the combined file opens too and is an IPv6 tree', () => {
    const f = MmdbFile.open(files.ipv4.replace('-ipv4.mmdb', '.mmdb'));
    expect(f.info.ipVersion).toBe(6);
    const v4 = MmdbFile.open(files.ipv4);
    for (const a of ['8.8.8.8', '1.1.1.1', '41.0.0.1', '200.1.1.1', '193.0.6.139']) {
      expect(f.lookup(a)?.country).toBe(v4.lookup(a)?.country);
    }
  });
});
