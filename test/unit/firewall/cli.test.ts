/**
 * The firewall commands through `main` (no kernel: `--dry-run`): block add/list/remove with exit codes and
 * the JSON contract (id, kind, target, client), `rules` text and JSON, `firewall apply --dry-run` printing
 * the commands without running them (and not recording anything as applied), `firewall set`, usage errors.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'bandguard-fw-cli-'));
async function cli(...args: string[]) {
  let out = '';
  let err = '';
  const code = await main([...args, '--data-dir', dir], {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

describe('bandguard block / rules / firewall', () => {
  it('adds, lists (json contract), removes', async () => {
    expect((await cli('block', 'list')).out).toBe('no block entries\n');
    const a = await cli('block', 'add', 'Ulogs.Umeng.com', '--client', '64-cc-2e-11-22-33');
    expect(a.code).toBe(0);
    expect(a.out).toContain('added #1 block ulogs.umeng.com (and its subdomains) for 64:cc:2e:11:22:33');
    expect(a.out).toContain('`bandguard firewall apply` applies the change now');
    expect((await cli('block', 'add', '--role', 'advertising')).code).toBe(0);
    expect((await cli('block', 'add', '--org', 'AppLovin', '--allow', '--client', '192.0.2.10')).out).toContain(
      'no phone has been seen with 192.0.2.10 yet',
    );
    const again = await cli('block', 'add', 'ulogs.umeng.com', '--client', '64:cc:2e:11:22:33');
    expect(again.out).toContain('already there: #1');
    const list = JSON.parse((await cli('block', 'list', '--format', 'json')).out) as Record<string, unknown>[];
    expect(list.map((e) => [e.id, e.kind, e.target, e.client, e.action])).toEqual([
      [1, 'domain', 'ulogs.umeng.com', '64:cc:2e:11:22:33', 'block'],
      [2, 'role', 'advertising', null, 'block'],
      [3, 'organization', 'AppLovin', '192.0.2.10', 'allow'],
    ]);
    expect((await cli('block', 'remove', '3')).out).toContain('removed #3 allow organization "AppLovin"');
    const gone = await cli('block', 'remove', '3');
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('no block entry #3');
  });

  it('rejects bad usage with exit code 2', async () => {
    expect((await cli('block', 'add')).code).toBe(2);
    expect((await cli('block', 'add', 'a.com', '--role', 'advertising')).code).toBe(2);
    expect((await cli('block', 'add', '--role', 'everything')).code).toBe(2);
    expect((await cli('block', 'remove', 'x')).code).toBe(2);
    expect((await cli('firewall', 'explode')).code).toBe(2);
    expect((await cli('firewall', 'set', 'doh', 'maybe')).code).toBe(2);
  });

  it('prints the plan, in text and JSON, and the dnsmasq lines', async () => {
    const text = await cli('rules');
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^# plan [0-9a-f]{16}\n/);
    expect(text.out).toContain('-A BANDGUARD-FWD -m mac --mac-source 64:cc:2e:11:22:33 -g BANDGUARD-64CC2E112233');
    const json = JSON.parse((await cli('rules', '--format', 'json')).out) as {
      sets: { name: string }[];
      dnsmasq: string[];
    };
    expect(json.sets.map((s) => s.name)).toContain('bandguard-all-6');
    expect((await cli('rules', '--dnsmasq')).out).toContain('ipset=/pangle.io/bandguard-all-4,bandguard-all-6\n');
  });

  it('firewall apply --dry-run prints the commands and applies nothing; settings are validated and stored', async () => {
    const r = await cli('firewall', 'apply', '--dry-run');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('# would run: ipset -exist restore');
    expect(r.out).toContain('# would run: iptables-restore -w 5 --noflush');
    expect(r.out).toContain('-I FORWARD 1 -j BANDGUARD-FWD');
    expect(r.out).toMatch(/dry-run: nothing applied/);
    const st = JSON.parse((await cli('firewall', 'status', '--format', 'json')).out) as {
      appliedHash: string | null;
      enabled: boolean;
    };
    expect(st).toMatchObject({ appliedHash: null, enabled: true });
    const set = await cli('firewall', 'set', 'doh', 'on');
    expect(set.code).toBe(0);
    expect((await cli('rules')).out).toContain('bandguard-doh-4');
  });
});
