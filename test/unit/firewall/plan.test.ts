/**
 * The pure plan: golden files of the rendered `ipset restore`, `iptables-restore`/`ip6tables-restore` and
 * dnsmasq text for a fixed world (test/fixtures/firewall/*.rules; regenerate with UPDATE_GOLDEN=1 and
 * review the diff), determinism (input order does not matter), a constant number of rules for 10 or
 * 10,000 blocked domains, precedence at the address level, collateral, and the anti-bypass switches.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildPlan, renderIpsetRestore, renderIptablesRestore, renderPreview } from '../../../src/firewall/plan.js';
import type { BlockEntry, ObservedAddress } from '../../../src/firewall/policy.js';
import { normalizeIp } from '../../../src/firewall/validate.js';
import { entry, NOW, obs, PHONE_A, PHONE_B, parties, settings } from './helpers.js';

const FIX = new URL('../../fixtures/firewall/', import.meta.url);

function golden(name: string, text: string): void {
  const file = new URL(name, FIX);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, text);
  expect(text, `${name} (UPDATE_GOLDEN=1 regenerates it)`).toBe(readFileSync(file, 'utf8'));
}

const ENTRIES: BlockEntry[] = [
  entry({ id: 1, kind: 'domain', target: 'umeng.com' }),
  entry({ id: 2, kind: 'role', target: 'advertising', client: PHONE_A }),
  entry({ id: 3, kind: 'organization', target: 'AppLovin', client: PHONE_B }),
  entry({ id: 4, kind: 'domain', target: 'ok.umeng.com', action: 'allow' }),
  entry({ id: 5, kind: 'domain', target: 'a.applovin.com', client: PHONE_B, action: 'allow' }),
  entry({ id: 6, kind: 'domain', target: 'app-analytics-ru.huami.com', client: '192.0.2.11' }),
];
const OBSERVED: ObservedAddress[] = [
  obs(PHONE_A, 'ulogs.umeng.com', '203.0.113.20', 300),
  obs(PHONE_A, 'ulogs.umeng.com', '2001:db8:3::20', 300),
  obs(PHONE_A, 'ok.umeng.com', '203.0.113.25', 60),
  obs(PHONE_A, 'api16-access-sg.pangle.io', '203.0.113.30', 7200),
  obs(PHONE_B, 'a.applovin.com', '203.0.113.31'),
  obs(PHONE_B, 'd.applovin.com', '203.0.113.33'),
  obs(PHONE_B, 'd.applovin.com', '2001:db8:3::33'),
  obs(PHONE_A, 'api-mifit.huami.com', '203.0.113.10'),
  // A shared CDN address: a blocked tracker and the vendor's API.
  obs(PHONE_A, 'cdn.umeng.com', '203.0.113.99'),
  obs(PHONE_A, 'static.huami.com', '203.0.113.99'),
  obs(PHONE_B, 'app-analytics-ru.huami.com', '203.0.113.40'),
  // Expired: ignored.
  { client: PHONE_A, name: 'old.umeng.com', address: '203.0.113.77', expiresAt: NOW - 1 },
];
const CLIENTS = [
  { mac: PHONE_A, ip: '192.0.2.10' },
  { mac: PHONE_B, ip: '192.0.2.11' },
];

const world = (patch: Partial<Parameters<typeof buildPlan>[0]> = {}) =>
  buildPlan({
    entries: ENTRIES,
    settings: settings(),
    parties,
    observed: OBSERVED,
    clients: CLIENTS,
    now: NOW,
    ...patch,
  });

describe('plan', () => {
  it('renders the golden ipset, iptables, ip6tables and dnsmasq text', () => {
    const plan = world();
    golden('basic.ipset.rules', renderIpsetRestore(plan));
    golden('basic.v4.rules', renderIptablesRestore(plan.v4));
    golden('basic.v6.rules', renderIptablesRestore(plan.v6));
    golden('basic.dnsmasq.rules', `${plan.dnsmasq.join('\n')}\n`);
  });

  it('renders the golden anti-bypass and sinkhole variant', () => {
    const plan = world({
      settings: settings({
        dnsMode: 'sinkhole',
        bypass: { dot: true, doh: true, quic: true, foreignDns: true, canary: true },
      }),
    });
    golden('bypass.v4.rules', renderIptablesRestore(plan.v4));
    golden('bypass.v6.rules', renderIptablesRestore(plan.v6));
    golden('bypass.dnsmasq.rules', `${plan.dnsmasq.join('\n')}\n`);
    expect(plan.sets.map((s) => s.name)).toContain('bandguard-doh-4');
    expect(plan.sets.find((s) => s.name === 'bandguard-doh-6')?.entries.map((e) => e.address)).toContain(
      '2606:4700:4700::1111',
    );
  });

  it('puts each address where the precedence says (phone before everyone, allow before block)', () => {
    const plan = world();
    const set = (n: string) => plan.sets.find((s) => s.name === n)?.entries.map((e) => e.address) ?? [];
    expect(set('bandguard-all-4')).toEqual(['203.0.113.20', '203.0.113.99']);
    expect(set('bandguard-all-6')).toEqual(['2001:db8:3::20']);
    expect(set('bandguard-allow-4')).toEqual(['203.0.113.25']); // ok.umeng.com allowed for everyone
    // Advertising for A: pangle.io and applovin.com are both advertising in the knowledge base.
    expect(set('bandguard-64cc2e112233-4')).toEqual(['203.0.113.30', '203.0.113.31', '203.0.113.33']);
    expect(set('bandguard-64cc2e112233-6')).toEqual(['2001:db8:3::33']);
    expect(set('bandguard-3c286daabbcc-4')).toEqual(['203.0.113.33', '203.0.113.40']); // AppLovin for B; huami host via IP entry
    expect(set('bandguard-3c286daabbcc-a4')).toEqual(['203.0.113.31']); // but a.applovin.com allowed for B
    expect(plan.warnings).toEqual([]);
    // Timeouts: the remaining TTL, at least 1 s, at most ttlMaxSec.
    expect(plan.sets.find((s) => s.name === 'bandguard-all-4')?.entries[0]).toEqual({
      address: '203.0.113.20',
      timeout: 300,
    });
  });

  it('an entry for a client IP not seen yet is reported, not enforced', () => {
    const plan = world({ clients: [{ mac: PHONE_A, ip: '192.0.2.10' }] });
    expect(plan.warnings.join('\n')).toMatch(/client 192\.0\.2\.11, which has not been seen yet/);
    // B's own MAC entries still apply; the IP-keyed one (the huami analytics host) does not, yet.
    expect(plan.sets.find((s) => s.name === 'bandguard-3c286daabbcc-4')?.entries.map((e) => e.address)).toEqual([
      '203.0.113.33',
    ]);
  });

  it('flags collateral: a blocked name sharing an address with a name the phone uses', () => {
    const plan = world();
    expect(plan.collateral).toContainEqual({
      client: PHONE_A,
      address: '203.0.113.99',
      blockedNames: ['cdn.umeng.com'],
      affectedName: 'static.huami.com',
      effect: 'blocked',
    });
    expect(renderPreview(plan)).toContain(
      'collateral: 64:cc:2e:11:22:33 uses static.huami.com, which shares 203.0.113.99',
    );
  });

  it('is deterministic: the same world in another order gives the same text and hash', () => {
    const a = world();
    const b = world({
      entries: [...ENTRIES].reverse(),
      observed: [...OBSERVED].reverse(),
      clients: [...CLIENTS].reverse(),
    });
    expect(b.hash).toBe(a.hash);
    expect(renderIpsetRestore(b)).toBe(renderIpsetRestore(a));
    expect(renderIptablesRestore(b.v4)).toBe(renderIptablesRestore(a.v4));
    // Time passing changes timeouts, not the hash.
    expect(world({ now: NOW + 10_000 }).hash).toBe(a.hash);
  });

  it('keeps a constant number of rules for 10 or 10,000 blocked domains (membership is in the sets)', () => {
    const many = (n: number) => {
      const entries: BlockEntry[] = [];
      const observed: ObservedAddress[] = [];
      for (let i = 0; i < n; i++) {
        entries.push(
          entry({ id: i + 1, kind: 'domain', target: `tracker${i}.example.net`, client: i % 2 ? PHONE_A : null }),
        );
        observed.push(obs(PHONE_A, `t.tracker${i}.example.net`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
      }
      return buildPlan({ entries, settings: settings(), parties, observed, clients: CLIENTS, now: NOW });
    };
    const small = many(10);
    const big = many(10_000);
    expect(big.stats.rules).toBe(small.stats.rules);
    expect(renderIptablesRestore(big.v4)).toBe(renderIptablesRestore(small.v4));
    expect(big.stats.addresses4).toBe(10_000);
  });

  it('drops malformed observations instead of planning them', () => {
    const plan = world({
      observed: [
        obs(PHONE_A, 'ulogs.umeng.com', '203.0.113.20; reboot'),
        obs(PHONE_A, 'ulogs.umeng.com', '203.0.113.20'),
      ],
    });
    expect(plan.sets.find((s) => s.name === 'bandguard-all-4')?.entries).toEqual([
      { address: '203.0.113.20', timeout: 600 },
    ]);
  });
});

describe('set entry order', () => {
  /** The address as a number (IPv4 in the low 32 bits of the same space, so one comparison serves both). */
  const value = (a: string): bigint => {
    if (!a.includes(':')) return a.split('.').reduce((n, o) => n * 256n + BigInt(o), 0n);
    const [h = '', t = ''] = a.split('::');
    const hs = h ? h.split(':') : [];
    const ts = a.includes('::') ? (t ? t.split(':') : []) : [];
    const groups = a.includes('::') ? [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts] : hs;
    return groups.reduce((n, g) => n * 65536n + BigInt(`0x${g}`), 0n);
  };

  it('every set lists its addresses in numeric order, IPv4 and IPv6 (property)', async () => {
    const fc = await import('fast-check');
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.ipV4(), fc.ipV6()), { minLength: 1, maxLength: 40 }), (addrs) => {
        const observed = addrs.map((a) => obs(PHONE_A, 'ads.tracker.example', a));
        const plan = buildPlan({
          entries: [entry({ kind: 'domain', target: 'tracker.example' })],
          settings: settings(),
          parties,
          observed,
          clients: CLIENTS,
          now: NOW,
        });
        let seen = 0;
        for (const set of plan.sets.filter((x) => x.role === 'block-all')) {
          const v = set.entries.map((e) => value(e.address));
          for (let i = 1; i < v.length; i++) expect(v[i - 1]! < v[i]!, set.name).toBe(true);
          seen += v.length;
        }
        expect(seen).toBe(new Set(addrs.map((a) => normalizeIp(a).ip)).size);
      }),
      { numRuns: 300 },
    );
  });
});
