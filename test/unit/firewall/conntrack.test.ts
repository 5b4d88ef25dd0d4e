/**
 * Cutting open connections (conntrack.ts) and the speed-ups of plan/apply that must not change what is
 * produced: `conntrack -L` parsing, which (phone, address) pairs the rules block (same precedence as the
 * chains), feed additions, argv validation, the "0 flow entries" and "not installed" results; the piecewise
 * plan hash equals sha256 of the plain JSON; the sticky payload scan accepts and refuses exactly what the
 * line-by-line grammar does; set entries come out in numeric address order; and an apply on a host without
 * `conntrack` still succeeds and says so.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPayload, FirewallApplier, PlanValidationError } from '../../../src/firewall/apply.js';
import {
  BlockIndex,
  conntrackDeleteArgv,
  nothingToDelete,
  parseConntrackList,
  toolMissing,
} from '../../../src/firewall/conntrack.js';
import { checkArgv, type ExecRequest, type ExecResult, execFileExecutor } from '../../../src/firewall/executor.js';
import { buildPlan, type FirewallPlan, planHash, renderIpsetStage } from '../../../src/firewall/plan.js';
import type { BlockEntry, ObservedAddress } from '../../../src/firewall/policy.js';
import { hasCommand, NetnsLab, netnsUnavailableReason } from '../../helpers/netns.js';
import { entry, NOW, obs, PHONE_A, PHONE_B, parties, settings } from './helpers.js';

const A4 = '192.0.2.10';
const A6 = '2001:db8:1::a';
const B4 = '192.0.2.11';

function plan(entries: BlockEntry[], observed: ObservedAddress[]): FirewallPlan {
  return buildPlan({
    entries,
    settings: settings(),
    parties,
    observed,
    clients: [
      { mac: PHONE_A, ip: A4 },
      { mac: PHONE_A, ip: A6 },
      { mac: PHONE_B, ip: B4 },
    ],
    now: NOW,
  });
}

const LIST4 = `tcp      6 431999 ESTABLISHED src=192.0.2.10 dst=203.0.113.20 sport=40000 dport=443 src=203.0.113.20 dst=192.0.2.10 sport=443 dport=40000 [ASSURED] mark=0 use=1
tcp      6 431990 ESTABLISHED src=192.0.2.11 dst=203.0.113.20 sport=40001 dport=443 src=203.0.113.20 dst=192.0.2.11 sport=443 dport=40001 [ASSURED] mark=0 use=1
udp      17 29 src=203.0.113.20 dst=192.0.2.10 sport=443 dport=5000 src=192.0.2.10 dst=203.0.113.20 sport=5000 dport=443 mark=0 use=1
tcp      6 100 ESTABLISHED src=192.0.2.10 dst=203.0.113.10 sport=40002 dport=443 src=203.0.113.10 dst=192.0.2.10 sport=443 dport=40002 [ASSURED] mark=0 use=1
conntrack v1.4.7 (conntrack-tools): 4 flow entries have been shown.
`;
const LIST6 =
  'tcp      6 431999 ESTABLISHED src=2001:db8:1::a dst=2001:db8:3::20 sport=40000 dport=80 src=2001:db8:3::20 dst=2001:db8:1::a sport=80 dport=40000 [ASSURED] mark=0 use=1\n';

describe('conntrack: parsing and pairs', () => {
  it('parses the original direction of each connection, v4 and v6, and skips other lines', () => {
    expect(parseConntrackList(LIST4)).toEqual([
      { family: 4, src: A4, dst: '203.0.113.20' },
      { family: 4, src: B4, dst: '203.0.113.20' },
      { family: 4, src: '203.0.113.20', dst: A4 },
      { family: 4, src: A4, dst: '203.0.113.10' },
    ]);
    expect(parseConntrackList(LIST6)).toEqual([{ family: 6, src: A6, dst: '2001:db8:3::20' }]);
    expect(parseConntrackList('src=1.2.3.4; rm -rf / dst=5.6.7.8\nsrc=zz dst=1.1.1.1\n\n')).toEqual([]);
  });

  it('cuts the pairs the rules block for that phone only, in both directions, once each', () => {
    const p = plan(
      [entry({ kind: 'domain', target: 'umeng.com', client: PHONE_A })],
      [
        obs(PHONE_A, 'ulogs.umeng.com', '203.0.113.20'),
        obs(PHONE_A, 'ulogs.umeng.com', '2001:db8:3::20'),
        obs(PHONE_A, 'api-mifit.huami.com', '203.0.113.10'),
      ],
    );
    expect(p.clients).toEqual([{ mac: PHONE_A, ips: [A4, A6] }]);
    const idx = new BlockIndex(p);
    const flows = [...parseConntrackList(LIST4), ...parseConntrackList(LIST6)];
    expect(idx.pairs(flows)).toEqual([
      { family: 4, client: A4, address: '203.0.113.20' },
      { family: 6, client: A6, address: '2001:db8:3::20' },
    ]);
    // B is not blocked from it; the vendor's API is not blocked for A.
    expect(idx.blocks(4, B4, '203.0.113.20')).toBe(false);
    expect(idx.blocks(4, A4, '203.0.113.10')).toBe(false);
  });

  it("follows the chains: a phone allow beats everyone's block; everyone's block cuts every other client", () => {
    const p = plan(
      [
        entry({ kind: 'domain', target: 'umeng.com' }),
        entry({ kind: 'domain', target: 'umeng.com', client: PHONE_A, action: 'allow' }),
      ],
      [obs(PHONE_A, 'ulogs.umeng.com', '203.0.113.20')],
    );
    const idx = new BlockIndex(p);
    expect(idx.blocks(4, A4, '203.0.113.20')).toBe(false);
    expect(idx.blocks(4, B4, '203.0.113.20')).toBe(true);
    expect(idx.blocks(4, '192.0.2.99', '203.0.113.20')).toBe(true);
    expect(idx.pairs(parseConntrackList(LIST4))).toEqual([{ family: 4, client: B4, address: '203.0.113.20' }]);
  });

  it('feed additions: addresses added after the apply are blocked, and `only` limits the search to them', () => {
    const p = plan([entry({ kind: 'domain', target: 'umeng.com', client: PHONE_A })], []);
    const idx = new BlockIndex(p);
    const flows = parseConntrackList(LIST4);
    expect(idx.pairs(flows)).toEqual([]);
    idx.added('bandguard-64cc2e112233-4', '203.0.113.20');
    expect(idx.pairs(flows, new Set(['203.0.113.10']))).toEqual([]);
    expect(idx.pairs(flows, new Set(['203.0.113.20']))).toEqual([{ family: 4, client: A4, address: '203.0.113.20' }]);
  });

  it('builds plain, validated argv for both directions; refuses anything that is not an address', () => {
    const argv = conntrackDeleteArgv({ family: 6, client: A6, address: '2001:db8:3::20' });
    expect(argv).toEqual([
      ['conntrack', '-D', '-f', 'ipv6', '-s', A6, '-d', '2001:db8:3::20'],
      ['conntrack', '-D', '-f', 'ipv6', '-s', '2001:db8:3::20', '-d', A6],
    ]);
    for (const a of argv) expect(() => checkArgv(a)).not.toThrow();
    expect(() => conntrackDeleteArgv({ family: 4, client: '1.2.3.4 -F', address: '5.6.7.8' })).toThrow();
    expect(() => conntrackDeleteArgv({ family: 4, client: A6, address: '5.6.7.8' })).toThrow();
  });

  it('tells "nothing matched" and "not installed" apart from failures', () => {
    expect(nothingToDelete(1, 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n')).toBe(true);
    expect(nothingToDelete(1, 'conntrack v1.4.7 (conntrack-tools): Operation not permitted\n')).toBe(false);
    expect(toolMissing(255, 'exec of "conntrack" failed: No such file or directory\n')).toBe(true);
    expect(toolMissing(127, 'spawn conntrack ENOENT')).toBe(true);
    expect(toolMissing(1, 'conntrack v1.4.7 (conntrack-tools): Operation not permitted\n')).toBe(false);
  });
});

describe('speed-ups keep the output', () => {
  const big = () => {
    const entries: BlockEntry[] = [];
    const observed: ObservedAddress[] = [];
    for (let i = 0; i < 50; i++) {
      entries.push(entry({ kind: 'domain', target: `t${i}.example.com`, client: i % 2 ? PHONE_A : null }));
    }
    // Addresses in scrambled order, v4 and v6, with duplicates under two names.
    for (let i = 0; i < 3000; i++) {
      const k = (i * 7919) % 3000;
      const address =
        k % 3 === 0
          ? `2001:db8:${(k % 7).toString(16)}::${k.toString(16)}`
          : `10.${k % 5}.${(k >> 4) & 255}.${k & 255}`;
      observed.push(obs(PHONE_A, `cdn.t${k % 50}.example.com`, address, 600 + (k % 9)));
      if (k % 11 === 0) observed.push(obs(PHONE_B, `x.t${(k + 1) % 50}.example.com`, address));
    }
    return plan(entries, observed);
  };

  it('the plan hash is sha256 of the plain JSON of sets, rules and dnsmasq lines', () => {
    const p = big();
    const plain = createHash('sha256')
      .update(
        JSON.stringify({
          sets: p.sets.map((x) => [x.name, x.family, x.timeout, x.maxElements, x.entries.map((e) => e.address)]),
          v4: p.v4,
          v6: p.v6,
          dnsmasq: p.dnsmasq,
        }),
      )
      .digest('hex');
    expect(p.hash).toBe(plain);
    expect(planHash(p.sets, p.v4, p.v6, p.dnsmasq)).toBe(plain);
  });

  it('set entries are in numeric address order, each address once', () => {
    const num4 = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    const num6 = (a: string) => {
      const [h = '', t = ''] = a.split('::');
      const hs = h ? h.split(':') : [];
      const ts = t ? t.split(':') : [];
      return [...hs, ...new Array(8 - hs.length - ts.length).fill('0'), ...ts].map((g) => g.padStart(4, '0')).join('');
    };
    for (const s of big().sets) {
      const addrs = s.entries.map((e) => e.address);
      expect(new Set(addrs).size).toBe(addrs.length);
      for (let i = 1; i < addrs.length; i++) {
        if (s.family === 4) expect(num4(addrs[i - 1]!)).toBeLessThan(num4(addrs[i]!));
        else expect(num6(addrs[i - 1]!) < num6(addrs[i]!)).toBe(true);
      }
    }
  });

  it('the payload scan accepts the rendered text and refuses exactly what the grammar refuses', () => {
    const text = renderIpsetStage(big().sets);
    expect(() => checkPayload('ipset', text)).not.toThrow();
    const bad = [
      'add bandguard-all-4.n 10.0.0.01 timeout 5',
      'add bandguard-all-4.n 256.0.0.1 timeout 5',
      'add bandguard-all-6.n ::ffff:1.2.3.4 timeout 5',
      'add bandguard-all-6.n abcd timeout 5',
      'add bandguard-all-4.n 10.0.0.1 timeout 5; reboot',
      'add bandguard-all-4.n 10.0.0.1  timeout 5',
      'add other-set 10.0.0.1 timeout 5',
      '',
      'flush bandguard-all-4\r',
    ];
    for (const line of bad) {
      for (const t of [`${line}\n`, `flush bandguard-all-4\n${line}\nflush bandguard-all-4\n`, `${text}${line}\n`]) {
        if (t === '\n') continue; // a lone trailing newline is an empty payload, which is fine
        expect(() => checkPayload('ipset', t), JSON.stringify(line)).toThrow(PlanValidationError);
      }
    }
    expect(() => checkPayload('ipset', 'add bandguard-all-6.n 2001:db8::1 timeout 5')).not.toThrow();
    expect(() => checkPayload('ipset', '')).not.toThrow();
  });
});

const reason =
  netnsUnavailableReason() ??
  (hasCommand('ipset') && hasCommand('iptables-restore') ? null : 'iptables/ipset not installed');

describe.skipIf(reason !== null)(`apply without conntrack${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const lab = new NetnsLab();
  let ns = '';
  beforeAll(async () => {
    ns = await lab.addNamespace('hub');
  });
  afterAll(async () => {
    await lab.dispose();
  });

  it('succeeds, blocks, and reports the tool as missing (asked once)', async () => {
    const inner = execFileExecutor({ netns: ns });
    const calls: ExecRequest[] = [];
    // A host without the conntrack program: its runs fail the way a missing program does.
    const exec = {
      dryRun: false,
      async run(req: ExecRequest): Promise<ExecResult> {
        calls.push(req);
        if (req.argv[0] === 'conntrack') {
          return {
            id: -1,
            argv: req.argv,
            code: 255,
            stdout: '',
            stderr: 'exec of "conntrack" failed: No such file or directory',
            durationMs: 0,
          };
        }
        return inner.run(req);
      },
    };
    const applier = new FirewallApplier(exec);
    const p = plan(
      [entry({ kind: 'domain', target: 'umeng.com', client: PHONE_A })],
      [obs(PHONE_A, 'ulogs.umeng.com', '203.0.113.20')],
    );
    const r = await applier.apply(p, null, { verify: 'full' });
    expect(r.result.changed).toBe(true);
    expect(r.result.cut).toBe(0);
    expect(applier.cutStats.tool).toBe('missing');
    const set = await lab.exec('hub', ['ipset', 'list', 'bandguard-64cc2e112233-4']);
    expect(set.stdout).toContain('203.0.113.20');
    // The feed keeps working and does not ask again.
    const before = calls.filter((c) => c.argv[0] === 'conntrack').length;
    await applier.add([{ set: 'bandguard-64cc2e112233-4', address: '203.0.113.21', timeout: 600 }]);
    expect(calls.filter((c) => c.argv[0] === 'conntrack').length).toBe(before);
    expect((await lab.exec('hub', ['ipset', 'list', 'bandguard-64cc2e112233-4'])).stdout).toContain('203.0.113.21');
    await applier.off();
  });
});
