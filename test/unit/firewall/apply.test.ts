/**
 * apply.ts against the real iptables (nf_tables backend) and ipset of a throw-away network namespace:
 * first apply, read-back, idempotence (same hash, no writing command), growth keeps live entries, a policy
 * that shrinks rebuilds the set, rollback after an injected failure at each writing step (previous state
 * restored and verified), and `off` leaving iptables-save/ip6tables-save/ipset save exactly as before,
 * with a foreign ruleset and a foreign set in place that must never be touched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirewallApplier, FirewallApplyError } from '../../../src/firewall/apply.js';
import { type Executor, execFileExecutor } from '../../../src/firewall/executor.js';
import { buildPlan, type FirewallPlan } from '../../../src/firewall/plan.js';
import type { BlockEntry, ObservedAddress } from '../../../src/firewall/policy.js';
import { hasCommand, NetnsLab, netnsUnavailableReason } from '../../helpers/netns.js';
import { entry, failingExecutor, NOW, normalizeSave, obs, PHONE_A, parties, settings } from './helpers.js';

const reason =
  netnsUnavailableReason() ??
  (hasCommand('ipset') && hasCommand('iptables-restore') ? null : 'iptables/ipset not installed');

function plan(entries: BlockEntry[], observed: ObservedAddress[], now = NOW): FirewallPlan {
  return buildPlan({
    entries,
    settings: settings({ bypass: { dot: true, doh: false, quic: false, foreignDns: false, canary: true } }),
    parties,
    observed,
    clients: [],
    now,
  });
}

describe.skipIf(reason !== null)(`apply in a namespace${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const lab = new NetnsLab();
  let ns = '';
  let exec: Executor;
  const save = async () => {
    const parts = await Promise.all([
      lab.exec('hub', ['iptables-save']),
      lab.exec('hub', ['ip6tables-save']),
      lab.exec('hub', ['ipset', 'save']),
    ]);
    return parts.map((p) => normalizeSave(p.stdout)).join('\n----\n');
  };
  let before = '';

  beforeAll(async () => {
    ns = await lab.addNamespace('hub');
    exec = execFileExecutor({ netns: ns });
    // Somebody else's firewall: rules, a chain, a set. bandguard must leave them exactly as they are.
    await lab.exec('hub', ['ipset', 'create', 'home-allow', 'hash:ip']);
    await lab.exec('hub', ['ipset', 'add', 'home-allow', '192.0.2.99']);
    for (const t of ['iptables', 'ip6tables']) {
      await lab.exec('hub', [t, '-N', 'HOME-FWD']);
      await lab.exec('hub', [t, '-A', 'HOME-FWD', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
      await lab.exec('hub', [t, '-A', 'FORWARD', '-j', 'HOME-FWD']);
      await lab.exec('hub', [t, '-A', 'INPUT', '-p', 'udp', '--dport', '53', '-j', 'ACCEPT']);
    }
    await lab.exec('hub', [
      'iptables',
      '-A',
      'FORWARD',
      '-m',
      'set',
      '--match-set',
      'home-allow',
      'src',
      '-j',
      'ACCEPT',
    ]);
    before = await save();
  });
  afterAll(async () => {
    await lab.dispose();
  });

  const A = [
    entry({ kind: 'domain', target: 'umeng.com' }),
    entry({ kind: 'role', target: 'advertising', client: PHONE_A }),
  ];
  const O = [
    obs(PHONE_A, 'ulogs.umeng.com', '203.0.113.20'),
    obs(PHONE_A, 'ulogs.umeng.com', '2001:db8:3::20'),
    obs(PHONE_A, 'api16-access-sg.pangle.io', '203.0.113.30'),
    obs(PHONE_A, 'api-mifit.huami.com', '203.0.113.10'),
  ];

  it('applies, reads back exactly what was planned, and is idempotent', async () => {
    const applier = new FirewallApplier(exec);
    const p = plan(A, O);
    const { result, state } = await applier.apply(p, null, { verify: 'full' });
    expect(result.changed).toBe(true);
    expect(await applier.verify(p, new Map(), 'full')).toEqual([]);
    const s4 = await lab.exec('hub', ['iptables', '-S', 'FORWARD']);
    expect(s4.stdout.split('\n').filter((l) => l.includes('BANDGUARD'))).toEqual(['-A FORWARD -j BANDGUARD-FWD']);
    // Our hook is first, the foreign rules are still there after it.
    expect(s4.stdout).toMatch(/-P FORWARD ACCEPT\n-A FORWARD -j BANDGUARD-FWD\n-A FORWARD -j HOME-FWD/);
    const members = await lab.exec('hub', ['ipset', 'list', 'bandguard-all-4']);
    expect(members.stdout).toContain('203.0.113.20');
    const a6 = await lab.exec('hub', ['ipset', 'list', 'bandguard-all-6']);
    expect(a6.stdout).toContain('2001:db8:3::20');

    // Same plan again: nothing written (only read-only commands), same hash.
    const rec = failingExecutor(exec, () => false);
    const again = await new FirewallApplier(rec).apply(plan(A, O), state);
    expect(again.result.changed).toBe(false);
    expect(again.result.hash).toBe(result.hash);
    const writing = rec.calls.filter((c) => !c.readOnly);
    expect(writing).toEqual([]);
  });

  it('keeps entries added at run time when the policy only grows, and drops them when it shrinks', async () => {
    const applier = new FirewallApplier(exec);
    const p1 = plan(A, O);
    const first = await applier.apply(p1, null);
    // dnsmasq (or the feed) adds an address the plan does not know.
    await applier.add([{ set: 'bandguard-all-4', address: '203.0.113.21', timeout: 600 }]);
    const grown = [...A, entry({ kind: 'domain', target: 'applovin.com' })];
    const p2 = plan(grown, O);
    const r2 = await applier.apply(p2, first.state, { verify: 'full' });
    expect(r2.result.grown).toContain('bandguard-all-4');
    expect((await lab.exec('hub', ['ipset', 'list', 'bandguard-all-4'])).stdout).toContain('203.0.113.21');
    // Remove the umeng block: the set is rebuilt, the unknown run-time entry goes with it.
    const p3 = plan(
      grown.filter((e) => e.target !== 'umeng.com'),
      O,
    );
    const r3 = await applier.apply(p3, r2.state, { verify: 'full' });
    expect(r3.result.replaced).toContain('bandguard-all-4');
    const list = (await lab.exec('hub', ['ipset', 'list', 'bandguard-all-4'])).stdout;
    expect(list).not.toContain('203.0.113.21');
    expect(list).not.toContain('203.0.113.20');
  });

  for (const step of [
    'ipset restore (stage)',
    'iptables-restore --test',
    'ipset swap',
    'ip6tables-restore (apply)',
  ] as const) {
    it(`rolls back to the previous state when "${step}" fails`, async () => {
      const good = new FirewallApplier(exec);
      const p1 = plan(A, O);
      const first = await good.apply(p1, null);
      const snapshot = await save();
      const bigger = plan(
        [...A, entry({ kind: 'organization', target: 'AppLovin', client: '02:00:00:00:00:0b' })],
        [...O, obs('', 'a.applovin.com', '203.0.113.40')],
      );
      let swaps = 0;
      let applies = 0;
      const bad = failingExecutor(exec, (req) => {
        const a = req.argv;
        if (step === 'ipset restore (stage)') return a[0] === 'ipset' && a[2] === 'restore';
        if (step === 'iptables-restore --test') return a[0] === 'iptables-restore' && a.includes('--test');
        if (step === 'ipset swap') return a[0] === 'ipset' && a[1] === 'swap' && ++swaps === 3;
        // The first real ip6tables apply fails; the roll-back's own restore must then succeed.
        return a[0] === 'ip6tables-restore' && !a.includes('--test') && ++applies === 1;
      });
      const err = await new FirewallApplier(bad).apply(bigger, first.state).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FirewallApplyError);
      expect((err as FirewallApplyError).rolledBack).toBe(true);
      expect((err as Error).message).toContain('injected failure');
      expect(await save()).toBe(snapshot);
      expect(await good.verify(p1, new Map(), 'full')).toEqual([]);
    });
  }

  it('repairs a duplicated hook and a hand-deleted rule on the next apply', async () => {
    const applier = new FirewallApplier(exec);
    const p = plan(A, O);
    const first = await applier.apply(p, null);
    await lab.exec('hub', ['iptables', '-A', 'FORWARD', '-j', 'BANDGUARD-FWD']);
    await lab.exec('hub', ['ip6tables', '-D', 'BANDGUARD-FWD', '1']);
    expect((await applier.verify(p, new Map(), 'counts')).length).toBeGreaterThan(0);
    const again = await applier.apply(p, first.state);
    expect(again.result.changed).toBe(true);
    expect(await applier.verify(p, new Map(), 'full')).toEqual([]);
  });

  it('the full anti-bypass plan (DoT, DoH set, QUIC, foreign DNS, INPUT hook, allow sets) applies and reads back exactly', async () => {
    const applier = new FirewallApplier(exec);
    const p = buildPlan({
      entries: [
        ...A,
        entry({ kind: 'domain', target: 'ok.umeng.com', action: 'allow' }),
        entry({ kind: 'domain', target: 'a.applovin.com', client: PHONE_A, action: 'allow' }),
      ],
      settings: settings({ bypass: { dot: true, doh: true, quic: true, foreignDns: true, canary: true } }),
      parties,
      observed: O,
      clients: [],
      now: NOW,
    });
    expect(p.v4.hooks.map((h) => h.chain)).toEqual(['FORWARD', 'INPUT']);
    await applier.apply(p, null, { verify: 'full' });
    expect(await applier.verify(p, new Map(), 'full')).toEqual([]);
    expect((await lab.exec('hub', ['ip6tables', '-S', 'INPUT'])).stdout).toContain('-A INPUT -j BANDGUARD-IN');
    // Back to a plan without anti-bypass rules: the INPUT hook, its chain and the DoH/allow sets go away.
    const plain = buildPlan({ entries: A, settings: settings(), parties, observed: O, clients: [], now: NOW });
    await applier.apply(plain, null, { verify: 'full' });
    expect(await applier.verify(plain, new Map(), 'full')).toEqual([]);
    expect((await lab.exec('hub', ['iptables', '-S'])).stdout).not.toContain('BANDGUARD-IN');
    expect((await lab.exec('hub', ['ipset', 'list', '-n'])).stdout).not.toContain('bandguard-doh-4');
  });

  it('off removes everything it added: the saved rulesets are exactly as before', async () => {
    const applier = new FirewallApplier(exec);
    await applier.apply(plan(A, O), null);
    expect(await save()).not.toBe(before);
    const removed = await applier.off();
    expect(removed.chains).toContain('BANDGUARD-FWD');
    expect(removed.sets).toContain('bandguard-all-4');
    expect(await save()).toBe(before);
    // And off twice is harmless.
    await applier.off();
    expect(await save()).toBe(before);
  });
});
