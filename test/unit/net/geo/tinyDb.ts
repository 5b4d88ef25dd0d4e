/**
 * The contents of test/fixtures/geo/tiny-asn.mmdb: a GeoLite2-ASN-layout file (IPv6 tree with IPv4 at
 * ::/96, 28-bit records) over documentation ranges only, built by mmdbSpec.ts's writer. Regenerate with
 * `BANDGUARD_WRITE_FIXTURES=1 npx vitest run test/unit/net/geo/mmdb.test.ts`.
 */
import { parseIp } from '../../../../src/net/geo/ip.js';
import type { Network, WriteOptions } from './mmdbSpec.js';

const ip = (s: string): Uint8Array => parseIp(s)!;

export const TINY_ASN_NETWORKS: Network[] = [
  {
    addr: ip('198.51.100.0'),
    prefix: 24,
    data: { autonomous_system_number: 64500, autonomous_system_organization: 'Example Transit AS' },
  },
  // A more specific network inside the previous one: the writer splits the /24.
  {
    addr: ip('198.51.100.128'),
    prefix: 25,
    data: { autonomous_system_number: 64501, autonomous_system_organization: 'Example Hosting' },
  },
  {
    addr: ip('203.0.113.0'),
    prefix: 24,
    data: { autonomous_system_number: 64502, autonomous_system_organization: 'Example Mobile' },
  },
  {
    addr: ip('2001:db8:100::'),
    prefix: 48,
    data: { autonomous_system_number: 64500, autonomous_system_organization: 'Example Transit AS' },
  },
  {
    addr: ip('2001:db8:200::'),
    prefix: 40,
    data: { autonomous_system_number: 4_200_000_001, autonomous_system_organization: 'Example 4-byte ASN' },
  },
];

export const TINY_ASN_OPTIONS: WriteOptions = {
  ipVersion: 6,
  recordSize: 28,
  databaseType: 'GeoLite2-ASN',
  description: 'bandguard test ASN database (documentation ranges only)',
  buildEpoch: 1_735_689_600,
};
