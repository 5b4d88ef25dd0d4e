/**
 * doctor (every verdict from a fake probe; the real probe on this machine), setup-ap (validation messages,
 * rendered files, --dry-run writes nothing, files written into a target directory), report/status commands
 * on a store filled through the agent's live path.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent/agent.js';
import { main } from '../../../src/cli.js';
import { type DoctorFacts, diagnose, probeMachine } from '../../../src/commands/doctor.js';
import { parseSince } from '../../../src/commands/report.js';
import { renderApFiles, validateAp } from '../../../src/commands/setupAp.js';
import { loadConfig } from '../../../src/config/load.js';
import { ReplaySource } from '../../../src/net/capture/replaySource.js';
import type { AnalyzeReport } from '../../../src/net/report.js';
import { FakeCron } from '../agent/fakeCron.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-cmds-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { stdout: (s) => out.push(s), stderr: (s) => err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

const good: DoctorFacts = {
  ble: { state: 'poweredOn', error: null },
  uid: 0,
  capEff: 0n,
  iface: { name: 'wlan0', exists: true, operstate: 'up', available: ['eth0', 'lo', 'wlan0'] },
  cap: { ok: true, reason: null },
  commands: { iptables: true, ipset: true, hostapd: true, dnsmasq: true },
  running: { hostapd: true, dnsmasq: true },
  database: { path: '/var/lib/bandguard/bandguard.db', exists: true, version: 2, error: null },
  disk: { path: '/var/lib/bandguard', freeBytes: 20 * 1024 ** 3 },
  agentPid: 42,
};

describe('doctor', () => {
  const config = loadConfig({ env: {}, home: '/root' }).config;

  it('all OK on a ready Pi', () => {
    const checks = diagnose(good, config);
    expect(checks.map((c) => `${c.verdict} ${c.name}`)).toEqual([
      'OK ble adapter',
      'OK capture rights',
      'OK interface',
      'OK libpcap',
      'OK iptables',
      'OK ipset',
      'OK hostapd',
      'OK dnsmasq',
      'OK database',
      'OK free disk',
      'OK agent',
    ]);
  });

  it('says what to fix for each problem', () => {
    const bad: DoctorFacts = {
      ...good,
      ble: { state: 'unsupported', error: null },
      uid: 1000,
      capEff: 1n << 13n, // CAP_NET_RAW but not CAP_NET_ADMIN
      iface: { name: 'wlan0', exists: false, operstate: null, available: ['eth0', 'lo'] },
      cap: { ok: false, reason: 'libpcap.so.0.8: cannot open shared object file' },
      commands: { iptables: false, ipset: true, hostapd: true, dnsmasq: false },
      running: { hostapd: false, dnsmasq: false },
      database: {
        path: '/d/bandguard.db',
        exists: true,
        version: null,
        error: '/d/bandguard.db: damaged database (quick_check: x)',
      },
      disk: { path: '/d', freeBytes: 50 * 1024 * 1024 },
      agentPid: null,
    };
    const byName = Object.fromEntries(diagnose(bad, config).map((c) => [c.name, c]));
    expect(byName['ble adapter']).toMatchObject({
      verdict: 'WARN',
      fix: expect.stringContaining('systemctl enable --now bluetooth'),
    });
    expect(byName['capture rights']).toMatchObject({
      verdict: 'FAIL',
      detail: 'not root and without CAP_NET_ADMIN: live capture will be refused',
      fix: expect.stringContaining('setcap cap_net_raw,cap_net_admin+eip'),
    });
    expect(byName.interface).toMatchObject({
      verdict: 'FAIL',
      detail: 'interface wlan0 does not exist (have: eth0, lo)',
    });
    expect(byName.libpcap).toMatchObject({
      verdict: 'FAIL',
      fix: 'sudo apt install libpcap-dev build-essential && npm rebuild cap',
    });
    expect(byName.iptables).toMatchObject({ verdict: 'WARN', fix: 'sudo apt install iptables' });
    expect(byName.hostapd).toMatchObject({ verdict: 'WARN', fix: 'sudo systemctl enable --now hostapd' });
    expect(byName.dnsmasq?.detail).toContain('not installed');
    expect(byName.database).toMatchObject({ verdict: 'FAIL', fix: expect.stringContaining('bandguard restore') });
    expect(byName['free disk']).toMatchObject({ verdict: 'FAIL', detail: '50 MiB free at /d' });
    expect(byName.agent?.detail).toBe('not running on this data dir');
  });

  it('probes this machine and exits 1 only when something FAILs', async () => {
    const cfg = loadConfig({
      env: {},
      flags: { dataDir: dir, 'ble.enabled': false, 'capture.interface': 'lo' },
    }).config;
    const facts = await probeMachine(cfg);
    expect(facts.iface.exists).toBe(true);
    expect(facts.database.exists).toBe(false);
    expect(facts.disk.freeBytes).toBeGreaterThan(0);
    const r = await run(['doctor', '--data-dir', dir, '--interface', 'lo', '--format', 'json']);
    const checks = JSON.parse(r.out) as { name: string; verdict: string }[];
    expect(checks.map((c) => c.name)).toContain('free disk');
    expect(r.code).toBe(checks.some((c) => c.verdict === 'FAIL') ? 1 : 0);
  });
});

describe('setup-ap', () => {
  const base = {
    ssid: 'Home Wi-Fi ✓',
    passphrase: 'correct horse battery',
    country: 'DE',
    channel: 6,
    interface: 'wlan0',
    address: '192.168.4.1/24',
  };

  it('validates every field with a message', () => {
    expect(validateAp(base)).toEqual([]);
    expect(
      validateAp({
        ...base,
        ssid: 'x'.repeat(33),
        passphrase: 'short',
        country: 'de',
        channel: 14,
        interface: 'w lan',
        address: '192.168.4.0/16',
      }),
    ).toEqual([
      '--ssid must be 1 to 32 bytes (got 33)',
      '--passphrase must be 8 to 63 printable ASCII characters (WPA2), or 64 hex digits',
      "--country must be a two-letter ISO 3166 code in capitals, e.g. DE, GB, US (got 'de')",
      '--channel must be 1-13 (2.4 GHz) or a 5 GHz channel such as 36, 40, 44, 48, 149 (got 14)',
      "--interface must be an interface name (got 'w lan')",
      "--address must be an IPv4 address with /24, e.g. 192.168.4.1/24 (got '192.168.4.0/16')",
    ]);
    expect(validateAp({ ...base, ssid: 'a\nb' })).toEqual([
      '--ssid must not contain control characters or line breaks',
    ]);
  });

  it('renders hostapd, dnsmasq, config and the systemd unit', () => {
    const files = renderApFiles({
      ...base,
      channel: 36,
      nodePath: '/usr/bin/node',
      cliPath: '/opt/bg/dist/src/cli.js',
    });
    const f = Object.fromEntries(files.map((x) => [x.path, x.content]));
    expect(f['hostapd/hostapd.conf']).toContain(`ssid2=${Buffer.from('Home Wi-Fi ✓').toString('hex')}\n`);
    expect(f['hostapd/hostapd.conf']).toContain('hw_mode=a\nchannel=36\n');
    expect(f['hostapd/hostapd.conf']).toContain('country_code=DE\n');
    expect(f['hostapd/hostapd.conf']).toContain('wpa_passphrase=correct horse battery\n');
    expect(f['dnsmasq.d/bandguard.conf']).toContain('dhcp-range=192.168.4.20,192.168.4.250,255.255.255.0,12h\n');
    expect(f['dnsmasq.d/bandguard.conf']).toContain('conf-dir=/etc/bandguard/dnsmasq.d/,*.conf\n');
    expect(JSON.parse(f['bandguard/config.json'] ?? '')).toEqual({
      dataDir: '/var/lib/bandguard',
      capture: { interface: 'wlan0' },
      api: { listen: '192.168.4.1:8080' },
    });
    // The config it writes is one the agent accepts.
    expect(() => loadConfig({ file: undefined, env: {}, flags: { 'api.listen': '192.168.4.1:8080' } })).not.toThrow();
    expect(f['systemd/system/bandguard.service']).toContain(
      'ExecStart=/usr/bin/node /opt/bg/dist/src/cli.js start --config /etc/bandguard/config.json\n',
    );
  });

  it('--dry-run prints and writes nothing; otherwise writes, and refuses to overwrite without --force', async () => {
    const args = ['setup-ap', '--ssid', 'bg', '--passphrase', '12345678', '--country', 'GB', '--target', dir];
    const dry = await run([...args, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`# ---- ${join(dir, 'hostapd/hostapd.conf')} ----`);
    expect(existsSync(join(dir, 'hostapd'))).toBe(false);
    const real = await run(args);
    expect(real.code).toBe(0);
    expect(statSync(join(dir, 'hostapd/hostapd.conf')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'systemd/system/bandguard.service'), 'utf8')).toContain('[Install]');
    const again = await run(args);
    expect(again.code).toBe(2);
    expect(again.err).toContain('use --force');
    const bad = await run([
      'setup-ap',
      '--ssid',
      'bg',
      '--passphrase',
      'short',
      '--country',
      'GB',
      '--target',
      dir,
      '--force',
    ]);
    expect(bad).toMatchObject({
      code: 2,
      err: 'bandguard: --passphrase must be 8 to 63 printable ASCII characters (WPA2), or 64 hex digits\n',
    });
  });
});

describe('report and status', () => {
  it('report --format json|csv|table, --client and --since, and status, on a store the agent filled', async () => {
    const { config } = loadConfig({ env: {}, flags: { dataDir: dir, 'ble.enabled': false, 'capture.enabled': false } });
    const pcap = join(import.meta.dirname, '..', '..', 'fixtures', 'pcap', 'real', 'mixed-phones.pcap');
    const agent = await Agent.start({ config, source: new ReplaySource(pcap, { speed: 0 }), cron: new FakeCron() });
    await agent.finishSource();
    await agent.stop();
    const json = await run(['report', '--data-dir', dir, '--format', 'json']);
    expect(json.code).toBe(0);
    const rep = JSON.parse(json.out) as AnalyzeReport;
    expect(rep.version).toBe(1);
    const one = await run(['report', '--data-dir', dir, '--format', 'json', '--client', '8C-71-F8-12-9B-44']);
    const r1 = JSON.parse(one.out) as AnalyzeReport;
    expect(r1.clients.map((c) => c.id)).toEqual(['8c:71:f8:12:9b:44']);
    expect(new Set(r1.contacts.map((c) => c.client))).toEqual(new Set(['8c:71:f8:12:9b:44']));
    const since = async (v: string) =>
      JSON.parse((await run(['report', '--data-dir', dir, '--format', 'json', '--since', v])).out) as AnalyzeReport;
    expect((await since('2099-01-01')).contacts).toEqual([]);
    expect((await since('2000-01-01')).contacts).toEqual(rep.contacts);
    expect((await run(['report', '--data-dir', dir, '--format', 'csv'])).out.split('\n')[0]).toContain('client');
    expect((await run(['report', '--data-dir', dir])).out).toContain('Galaxy-S23');
    expect(await run(['report', '--data-dir', dir, '--since', 'yesterday'])).toMatchObject({ code: 2 });
    expect(await run(['report', '--data-dir', join(dir, 'none')])).toMatchObject({ code: 1 });
    const st = await run(['status', '--data-dir', dir]);
    expect(st.out).toContain('agent:    not running');
    expect(st.out).toMatch(/capture: {2}replay:.*mixed-phones\.pcap: (done|stopped)/);
    expect(st.out).toContain('drops: queue 0');
  });

  it('parses --since', () => {
    const now = Date.UTC(2025, 0, 31, 12);
    expect(parseSince('90s', now)).toBe(now - 90_000);
    expect(parseSince('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseSince('2025-01-30T00:00Z', now)).toBe(Date.UTC(2025, 0, 30));
    expect(() => parseSince('soon', now)).toThrow(/--since must be a duration/);
  });
});
