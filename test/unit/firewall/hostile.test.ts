import { isIP } from 'node:net';
/**
 * Hostile input never reaches a command. Domain names with shell metacharacters, spaces, newlines, NULs,
 * 300-character labels, invisible Unicode, bad MACs and IPs are refused with a clear message — by the
 * validators, the policy store, the service, the CLI and the feed — and a recording (dry-run) executor that
 * then applies the policy shows that no argv and no stdin payload ever contained them. IDN names are
 * accepted as their A-label (punycode). The last line of defence (payload grammar) is tested directly.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli.js';
import { checkPayload, PlanValidationError, validatePlan } from '../../../src/firewall/apply.js';
import { checkArgv, dryRunExecutor, ExecRefusedError, execFileExecutor } from '../../../src/firewall/executor.js';
import { FirewallService } from '../../../src/firewall/firewallService.js';
import { buildPlan } from '../../../src/firewall/plan.js';
import {
  canonicalHexIpv6,
  FirewallInputError,
  isDottedQuad,
  normalizeDomain,
  normalizeIp,
  normalizeMac,
  parseClient,
} from '../../../src/firewall/validate.js';
import { entry, NOW, obs, PHONE_A, parties, settings, tempDb } from './helpers.js';

const HOSTILE_DOMAINS = [
  'evil.com; rm -rf /',
  'evil.com && reboot',
  '$(reboot).evil.com',
  '`id`.evil.com',
  'evil.com|nc 198.51.100.9 4444',
  'evil.com\nCOMMIT',
  'evil.com\n-A FORWARD -j ACCEPT',
  'evil.com\r\n',
  'evil .com',
  ' evil.com',
  'evil.com\u0000',
  'evil.com\t',
  `${'a'.repeat(300)}.com`,
  `${'a'.repeat(64)}.com`,
  `${'abcdefghij.'.repeat(24)}com`,
  'ev\u200bil.com',
  'evil.com\u202e',
  '*.evil.com',
  'http://evil.com/',
  'evil..com',
  '-evil.com',
  'evil-.com',
  'com',
  'co.uk',
  '192.0.2.1',
  '[2001:db8::1]',
  'evil.com/24',
  "evil.com'",
  'evil.com"',
  'evil.com>x',
  '',
];
const HOSTILE_CLIENTS = [
  'ff:ff:ff:ff:ff:ff',
  '01:00:5e:00:00:01',
  '00:00:00:00:00:00',
  '64:cc:2e:11:22',
  '64:cc:2e:11:22:33:44',
  '64:cc:2e:11:22:3g',
  '64:cc:2e:11:22:33; reboot',
  '192.0.2.256',
  '192.0.2.1/24',
  'fe80::1%eth0',
  '1.2.3',
  'localhost',
  '',
];

describe('validators', () => {
  it.each(HOSTILE_DOMAINS)('refuses domain %j with a clear message', (d) => {
    expect(() => normalizeDomain(d)).toThrow(FirewallInputError);
    try {
      normalizeDomain(d);
    } catch (e) {
      expect((e as Error).message.length).toBeGreaterThan(10);
      expect((e as Error).message).not.toContain('\n');
    }
  });

  it('says why, in words a user understands', () => {
    expect(() => normalizeDomain(`${'a'.repeat(300)}.com`)).toThrow(/longer than 253|63/);
    expect(() => normalizeDomain(`${'a'.repeat(64)}.com`)).toThrow(/label of 64 characters \(DNS allows at most 63\)/);
    expect(() => normalizeDomain('evil.com; rm -rf /')).toThrow(/whitespace|invalid label/);
    expect(() => normalizeDomain('evil.com\nCOMMIT')).toThrow(/whitespace, control or invisible/);
    expect(() => normalizeDomain('ev\u200bil.com')).toThrow(/invisible/);
    expect(() => normalizeDomain('co.uk')).toThrow(/public suffix/);
    expect(() => normalizeDomain('192.0.2.1')).toThrow(/IP address/);
    expect(() => normalizeDomain('*.evil.com')).toThrow(/covers its subdomains/);
  });

  it('accepts internationalised names as their A-label, and normalises case and the trailing dot', () => {
    expect(normalizeDomain('bücher.de')).toBe('xn--bcher-kva.de');
    expect(normalizeDomain('Ads.Example.COM.')).toBe('ads.example.com');
    expect(normalizeDomain('例え.テスト.jp')).toMatch(/^xn--[a-z0-9-]+\.xn--[a-z0-9-]+\.jp$/);
    expect(normalizeDomain('_dmarc.example.com')).toBe('_dmarc.example.com');
  });

  it.each(HOSTILE_CLIENTS)('refuses client %j', (c) => {
    expect(() => parseClient(c)).toThrow(FirewallInputError);
  });

  it('normalises good MACs and IPs', () => {
    expect(normalizeMac('64-CC-2E-11-22-33')).toBe('64:cc:2e:11:22:33');
    expect(normalizeMac('64cc2e112233')).toBe('64:cc:2e:11:22:33');
    expect(normalizeIp('2001:DB8:0:0::1')).toEqual({ ip: '2001:db8::1', family: 6 });
    expect(parseClient('192.0.2.10')).toEqual({ ip: '192.0.2.10' });
  });
});

describe('no hostile value ever reaches the executor', () => {
  it('service, store and CLI refuse them; a dry-run apply afterwards never sees them', async () => {
    const { db, path } = tempDb();
    const rec = dryRunExecutor();
    const service = new FirewallService({ db, executor: rec, parties, clock: () => NOW });
    for (const d of HOSTILE_DOMAINS) {
      expect(() => service.add({ kind: 'domain', target: d }, 'api'), JSON.stringify(d)).toThrow(FirewallInputError);
    }
    for (const c of HOSTILE_CLIENTS.filter((x) => x !== '')) {
      expect(() => service.add({ kind: 'domain', target: 'umeng.com', client: c }, 'api')).toThrow(FirewallInputError);
    }
    expect(() => service.add({ kind: 'role', target: 'advertising;reboot' }, 'api')).toThrow(/unknown role/);
    expect(() => service.add({ kind: 'organization', target: 'Evil\nCorp' }, 'api')).toThrow(FirewallInputError);
    expect(() => service.add({ kind: 'organization', target: 'Alibaba' }, 'api')).toThrow(
      /unknown organization "Alibaba"; did you mean .*"Alibaba Group"/,
    );
    // The CLI: exit code 2 and one line.
    const dir = path.slice(0, path.lastIndexOf('/'));
    for (const d of ['evil.com; rm -rf /', 'evil.com\nCOMMIT', `${'x'.repeat(300)}.com`]) {
      let err = '';
      const code = await main(['block', 'add', d, '--data-dir', dir], { stdout: () => {}, stderr: (s) => (err += s) });
      expect(code).toBe(2);
      expect(err.trim().split('\n')).toHaveLength(1);
    }
    // The feed: hostile names and answers in "DNS answers" are dropped, never queued.
    service.add({ kind: 'domain', target: 'umeng.com' }, 'api');
    await service.apply('api');
    const obsr = service.attachTo();
    obsr.onLookup({ clientId: PHONE_A, name: 'x.umeng.com\n-A FORWARD -j ACCEPT', answers: ['203.0.113.20'], ttl: 60 });
    obsr.onLookup({
      clientId: PHONE_A,
      name: 'x.umeng.com',
      answers: ['203.0.113.20; reboot', '203.0.113.300', '2001:db8::g'],
      ttl: 60,
    });
    obsr.onLookup({ clientId: PHONE_A, name: `${'a'.repeat(300)}.umeng.com`, answers: ['203.0.113.21'], ttl: 60 });
    await service.drain();
    await service.apply('api');
    await service.off('api');
    expect(rec.records.length).toBeGreaterThan(0);
    const sent = rec.records.map((r) => `${r.argv.join(' ')}\n${r.stdin ?? ''}`).join('\n');
    for (const bad of [
      'rm -rf',
      'reboot',
      'COMMIT\n-A FORWARD -j ACCEPT',
      '203.0.113.300',
      'xxxxxxxx',
      '\u200b',
      '$(',
      '`',
      ';',
      '|',
      '&&',
    ]) {
      expect(sent.includes(bad), `sent commands contain ${JSON.stringify(bad)}`).toBe(false);
    }
    // What was sent is only ever our own grammar.
    for (const r of rec.records) {
      expect(() => checkArgv(r.argv)).not.toThrow();
      if (r.stdin !== undefined) {
        expect(() => checkPayload(r.argv[0] === 'ipset' ? 'ipset' : 'iptables', r.stdin!)).not.toThrow();
      }
    }
    db.close();
  });

  it('a plan tampered with after building is refused before any command', () => {
    const plan = buildPlan({
      entries: [entry({ kind: 'domain', target: 'umeng.com' })],
      settings: settings(),
      parties,
      observed: [obs(PHONE_A, 'ulogs.umeng.com', '203.0.113.20')],
      clients: [],
      now: NOW,
    });
    const bad1 = structuredClone(plan);
    bad1.sets[0]!.entries.push({ address: '203.0.113.1\ncreate x hash:ip', timeout: 5 });
    expect(() => validatePlan(bad1)).toThrow(PlanValidationError);
    const bad2 = structuredClone(plan);
    bad2.v4.chains[0]!.rules.push('-A BANDGUARD-FWD -j ACCEPT');
    expect(() => validatePlan(bad2)).toThrow(/refusing rule/);
    const bad3 = structuredClone(plan);
    bad3.sets[0]!.name = 'home-allow';
    expect(() => validatePlan(bad3)).toThrow(/refusing set name/);
    const bad4 = structuredClone(plan);
    bad4.v4.chains[0]!.rules.push('-A BANDGUARD-FWD -m set --match-set bandguard-nope-4 dst -j BANDGUARD-REJECT');
    expect(() => validatePlan(bad4)).toThrow(/does not create/);
    expect(() => checkPayload('ipset', 'add bandguard-all-4 203.0.113.1 timeout 5\ndestroy home-allow\n')).toThrow(
      /line 2/,
    );
    expect(() => checkPayload('iptables', '*filter\n-F FORWARD\nCOMMIT\n')).toThrow(/line 2/);
    expect(() => checkPayload('ipset', 'add bandguard-all-4 203.0.113.01 timeout 5\n')).toThrow(/bad address/);
  });

  it('the executor itself refuses other programs, non-token arguments and bad namespace names', async () => {
    const rec = dryRunExecutor();
    await expect(rec.run({ argv: ['sh', '-c', 'reboot'] })).rejects.toThrow(ExecRefusedError);
    await expect(rec.run({ argv: ['ipset', 'add', 'bandguard-all-4', '1.2.3.4\nx'] })).rejects.toThrow(
      ExecRefusedError,
    );
    await expect(rec.run({ argv: ['iptables', '-S', ''] })).rejects.toThrow(ExecRefusedError);
    expect(rec.records).toEqual([]);
    expect(() => execFileExecutor({ netns: 'hub; reboot' })).toThrow(ExecRefusedError);
  });
});

describe('IPv6 text', () => {
  it('normalizeIp gives the same RFC 5952 text as the WHATWG URL parser for any address', async () => {
    const fc = await import('fast-check');
    fc.assert(
      fc.property(fc.ipV6(), (a) => {
        expect(normalizeIp(a).ip).toBe(new URL(`http://[${a}]/`).hostname.slice(1, -1));
      }),
      { numRuns: 2000 },
    );
  });

  it('the fast parsers accept exactly what node:net isIP accepts, and answer as the URL parser does', async () => {
    const fc = await import('fast-check');
    // Valid addresses, then the same texts mutated (characters dropped, doubled, replaced) into near misses.
    const near = (gen: ReturnType<typeof fc.ipV6>) =>
      fc
        .tuple(
          gen,
          fc.nat(40),
          fc.constantFrom('', ':', '::', '0', 'f', 'F', '.', '%', 'g', '00000', '1.2.3.4'),
          fc.nat(3),
        )
        .map(([a, at, ins, cut]) => a.slice(0, at % (a.length + 1)) + ins + a.slice((at % (a.length + 1)) + cut));
    const texts = fc.oneof(fc.ipV6(), fc.ipV4(), near(fc.ipV6()), near(fc.ipV4()), fc.string({ maxLength: 20 }));
    fc.assert(
      fc.property(texts, (a) => {
        const v6 = canonicalHexIpv6(a);
        if (v6 !== null) {
          expect(isIP(a), a).toBe(6);
          expect(v6).toBe(new URL(`http://[${a}]/`).hostname.slice(1, -1));
        } else if (isIP(a) === 6) {
          expect(a, 'only texts with an IPv4 tail or a zone may miss the fast path').toMatch(/[.%]/);
        }
        expect(isDottedQuad(a), a).toBe(isIP(a) === 4);
      }),
      { numRuns: 20_000 },
    );
    for (const a of ['::', '::1', '1::', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:0:0:2:0:0:0:3', 'ABCD::0DB8']) {
      expect(canonicalHexIpv6(a), a).toBe(new URL(`http://[${a}]/`).hostname.slice(1, -1));
    }
    for (const a of [
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1::2:3:4:5:6:7:8',
      ':1::',
      '1:',
      '12345::',
      '::ffff:1.2.3.4',
    ]) {
      expect(canonicalHexIpv6(a), a).toBeNull();
    }
    for (const a of ['0.0.0.0', '255.255.255.255', '192.0.2.1']) expect(isDottedQuad(a), a).toBe(true);
    for (const a of ['256.0.0.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1..2.3', '1.2.3.4 ', '١.2.3.4']) {
      expect(isDottedQuad(a), a).toBe(false);
    }
  });
});
