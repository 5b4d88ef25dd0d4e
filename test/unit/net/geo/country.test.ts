import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shippedBootstrap } from '../../../../src/net/geo/bootstrap.js';
import { bundledCountryFiles, OfflineCountryDb } from '../../../../src/net/geo/country.js';
import { formatIp, parseIp, specialPurpose } from '../../../../src/net/geo/ip.js';
import { walkNetworks } from './mmdbSpec.js';

const files = bundledCountryFiles();
const buffers = { 4: readFileSync(files.ipv4), 6: readFileSync(files.ipv6) };
const RIRS = ['afrinic', 'apnic', 'arin', 'lacnic', 'ripe'] as const;

/** The bootstrap's blocks for each RIR, as in the shipped copy of the IANA registry. */
function blocksOf(family: 4 | 6): Map<string, string[]> {
  const s = shippedBootstrap();
  const out = new Map<string, string[]>();
  for (const [cidrs, urls] of (family === 4 ? s.ipv4 : s.ipv6).services) {
    const rir = RIRS.find((r) => urls[0]!.includes(r === 'ripe' ? 'ripe' : r))!;
    out.set(rir, cidrs);
  }
  return out;
}

describe('OfflineCountryDb (bundled ip-location-db geo-whois-asn-country)', () => {
  const db = new OfflineCountryDb();

  it.each([4, 6] as const)('IPv%i: answers as the database itself says, in the blocks of all five RIRs', (family) => {
    const blocks = blocksOf(family);
    let checked = 0;
    for (const rir of RIRS) {
      const cidrs = blocks.get(rir)!;
      // A few blocks per RIR, spread over its list; inside each, networks from both ends of the block.
      const picks = [cidrs[0]!, cidrs[Math.floor(cidrs.length / 2)]!, cidrs.at(-1)!];
      let perRir = 0;
      for (const c of picks) {
        const [a, len] = c.split('/');
        const start = { addr: parseIp(a!)!, prefix: Number(len) };
        for (const pick of [() => 0 as const, () => 1 as const]) {
          for (const n of walkNetworks(buffers[family], start, 6, pick)) {
            if (specialPurpose(n.addr)) continue;
            const expected = (n.value as { country_code: string }).country_code;
            const inside = new Uint8Array(n.addr);
            inside[inside.length - 1]! |= 1; // an address inside, not the network address
            expect(db.countryOf(formatIp(inside)), `${formatIp(n.addr)}/${n.prefix} (${rir})`).toBe(expected);
            expect(expected).toMatch(/^[A-Z]{2}$/);
            perRir++;
          }
        }
      }
      expect(perRir, rir).toBeGreaterThanOrEqual(6);
      checked += perRir;
    }
    expect(checked).toBeGreaterThanOrEqual(30);
  });

  it.each([
    '192.0.2.1',
    '198.51.100.1',
    '203.0.113.1',
    '10.0.0.1',
    '192.168.0.1',
    '127.0.0.1',
    '224.0.0.1',
    '2001:db8::1',
    'fe80::1',
    'fd12:3456::1',
    'ff02::1',
    '::1',
    'not an address',
    '',
  ])('%j has no country', (a) => {
    expect(db.countryOf(a)).toBeNull();
  });

  it('IPv4 in IPv6 clothes (mapped, NAT64, 6to4) gets the IPv4 answer', () => {
    const samples = walkNetworks(buffers[4], { addr: parseIp('80.0.0.0')!, prefix: 4 }, 5);
    for (const s of samples) {
      const v4 = formatIp(s.addr);
      const cc = db.countryOf(v4);
      expect(cc).toBe((s.value as { country_code: string }).country_code);
      expect(db.countryOf(`::ffff:${v4}`)).toBe(cc);
      expect(db.countryOf(`64:ff9b::${v4}`)).toBe(cc);
      const b = s.addr;
      const sixToFour = `2002:${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}::1`;
      expect(db.countryOf(sixToFour)).toBe(cc);
    }
  });

  it('loads each family once, on first use', () => {
    const fresh = new OfflineCountryDb();
    expect(fresh.loaded()).toEqual({ ipv4: false, ipv6: false });
    fresh.countryOf('192.0.2.1'); // special: no file needed
    expect(fresh.loaded()).toEqual({ ipv4: false, ipv6: false });
    fresh.countryOf('8.8.8.8');
    expect(fresh.loaded()).toEqual({ ipv4: true, ipv6: false });
    const f4 = fresh.file(4);
    fresh.countryOf('1.1.1.1');
    expect(fresh.file(4)).toBe(f4);
    fresh.countryOf('2a00:1450:4001::1');
    expect(fresh.loaded()).toEqual({ ipv4: true, ipv6: true });
  });

  it('a missing database file is a clear error', () => {
    const broken = new OfflineCountryDb({ ipv4: '/nonexistent/v4.mmdb', ipv6: '/nonexistent/v6.mmdb' });
    expect(() => broken.countryOf('8.8.8.8')).toThrow(/cannot read MaxMind DB file \/nonexistent\/v4.mmdb: ENOENT/);
  });

  it('speed: offline country lookups', () => {
    const addrs: string[] = [];
    let x = 0x9e3779b9;
    while (addrs.length < 20_000) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      addrs.push(`${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`);
      addrs.push(`2a0${x & 7}:${(x >>> 8).toString(16).slice(0, 4)}::${(x & 0xffff).toString(16)}`);
    }
    db.countryOf('8.8.8.8');
    db.countryOf('2a00::1');
    let found = 0;
    const t0 = performance.now();
    for (let round = 0; round < 3; round++) for (const a of addrs) if (db.countryOf(a)) found++;
    const us = ((performance.now() - t0) * 1000) / (addrs.length * 3);
    console.log(`offline country lookup: ${us.toFixed(2)} µs per address (IPv4+IPv6 mix, ${found} with a country)`);
    expect(found).toBeGreaterThan(addrs.length); // most global addresses have a country
    expect(us).toBeLessThan(100);
  });
});
