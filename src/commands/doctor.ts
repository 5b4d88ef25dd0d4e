/**
 * `bandguard doctor [--format table|json]`: checks what the agent needs and says what to fix — BLE adapter,
 * capture rights (root or CAP_NET_RAW + CAP_NET_ADMIN), the capture interface (exists, up), libpcap/cap,
 * iptables/ipset, the access point (hostapd, dnsmasq running), the database (quick_check) and free disk.
 * Each line is OK, WARN or FAIL; the exit code is 1 when anything FAILs.
 *
 * The facts come from a `DoctorProbe` (the machine: /proc, /sys, PATH, statfs, the BLE adapter); the
 * verdicts and advice (`diagnose`) are pure, so every branch is tested with a fake probe.
 */
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DB_FILE } from '../agent/agent.js';
import { readPidFile } from '../agent/pidFile.js';
import { type Io, parseCommandArgs, UsageError } from '../cli.js';
import { COMMON_FLAGS, configFromFlags } from '../config/flags.js';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { capAvailability } from '../net/capture/liveSource.js';
import { inspectDatabaseFile } from './backup.js';

export type Verdict = 'OK' | 'WARN' | 'FAIL';

export interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
  /** What to do about it (empty when OK). */
  fix: string;
}

export interface DoctorFacts {
  ble: { state: string; error: string | null };
  uid: number | null;
  /** Effective capabilities (bit mask) from /proc/self/status, or null when unknown. */
  capEff: bigint | null;
  iface: { name: string; exists: boolean; operstate: string | null; available: string[] };
  cap: { ok: boolean; reason: string | null };
  commands: Record<'iptables' | 'ipset' | 'hostapd' | 'dnsmasq', boolean> & { conntrack?: boolean };
  running: Record<'hostapd' | 'dnsmasq', boolean>;
  database: { path: string; exists: boolean; version: number | null; error: string | null };
  disk: { path: string; freeBytes: number | null };
  agentPid: number | null;
}

const CAP_NET_ADMIN = 12n;
const CAP_NET_RAW = 13n;
const MIB = 1024 * 1024;

export function diagnose(f: DoctorFacts, config: Config): Check[] {
  const out: Check[] = [];
  const add = (name: string, verdict: Verdict, detail: string, fix = '') => out.push({ name, verdict, detail, fix });

  if (!config.ble.enabled) add('ble adapter', 'OK', 'BLE is disabled in the configuration (ble.enabled)');
  else if (config.ble.simulate) add('ble adapter', 'OK', 'simulated devices (ble.simulate)');
  else if (f.ble.state === 'poweredOn') add('ble adapter', 'OK', 'Bluetooth adapter powered on');
  else if (f.ble.state === 'unauthorized') {
    add(
      'ble adapter',
      'FAIL',
      `no permission to use the Bluetooth adapter${f.ble.error ? ` (${f.ble.error})` : ''}`,
      'run the agent as root, or: sudo setcap cap_net_raw,cap_net_admin+eip "$(readlink -f "$(command -v node)")"',
    );
  } else if (f.ble.state === 'poweredOff') {
    add(
      'ble adapter',
      'WARN',
      'the Bluetooth adapter is powered off',
      'sudo rfkill unblock bluetooth && sudo hciconfig hci0 up',
    );
  } else {
    add(
      'ble adapter',
      'WARN',
      `no usable Bluetooth adapter (${f.ble.state}${f.ble.error ? `: ${f.ble.error}` : ''}); bands cannot be synced`,
      'on a Raspberry Pi: sudo apt install bluez && sudo systemctl enable --now bluetooth && sudo rfkill unblock bluetooth; elsewhere plug in a BLE dongle, or set ble.enabled=false',
    );
  }

  const root = f.uid === 0;
  const hasCap = (bit: bigint) => f.capEff !== null && ((f.capEff >> bit) & 1n) === 1n;
  if (!config.capture.enabled) add('capture rights', 'OK', 'live capture is disabled in the configuration');
  else if (root) add('capture rights', 'OK', 'running as root');
  else if (hasCap(CAP_NET_RAW) && hasCap(CAP_NET_ADMIN)) add('capture rights', 'OK', 'CAP_NET_RAW and CAP_NET_ADMIN');
  else {
    add(
      'capture rights',
      'FAIL',
      `not root and without ${hasCap(CAP_NET_RAW) ? 'CAP_NET_ADMIN' : 'CAP_NET_RAW'}: live capture will be refused`,
      'run the agent as root (the systemd unit from setup-ap does), or: sudo setcap cap_net_raw,cap_net_admin+eip "$(readlink -f "$(command -v node)")"',
    );
  }

  const i = f.iface;
  if (!config.capture.enabled) add('interface', 'OK', 'live capture is disabled');
  else if (!i.exists) {
    add(
      'interface',
      'FAIL',
      `interface ${i.name} does not exist (have: ${i.available.join(', ') || 'none'})`,
      `set capture.interface (or --interface) to the access point's interface; on a Pi with setup-ap it is wlan0`,
    );
  } else if (i.operstate === 'down') {
    add('interface', 'WARN', `interface ${i.name} is down`, `sudo ip link set ${i.name} up (hostapd brings wlan0 up)`);
  } else add('interface', 'OK', `interface ${i.name} is ${i.operstate ?? 'present'}`);

  if (f.cap.ok) add('libpcap', 'OK', 'the cap binding and libpcap load');
  else {
    add(
      'libpcap',
      config.capture.enabled ? 'FAIL' : 'WARN',
      `live capture unavailable: ${f.cap.reason ?? 'the cap module did not load'}`,
      'sudo apt install libpcap-dev build-essential && npm rebuild cap',
    );
  }

  for (const tool of ['iptables', 'ipset'] as const) {
    if (f.commands[tool]) add(tool, 'OK', `${tool} found`);
    else add(tool, 'WARN', `${tool} not found: blocking will not work`, `sudo apt install ${tool}`);
  }

  if (f.commands.conntrack === false) {
    add(
      'conntrack',
      'WARN',
      'conntrack not found: a block stops new connections, but connections already open keep running until they end',
      'sudo apt install conntrack',
    );
  } else if (f.commands.conntrack) add('conntrack', 'OK', 'conntrack found (a block also cuts open connections)');

  for (const svc of ['hostapd', 'dnsmasq'] as const) {
    if (f.running[svc]) add(svc, 'OK', `${svc} is running`);
    else if (f.commands[svc]) {
      add(
        svc,
        'WARN',
        `${svc} is installed but not running: this machine is not serving the Wi-Fi AP`,
        `sudo systemctl enable --now ${svc}`,
      );
    } else {
      add(
        svc,
        'WARN',
        `${svc} is not installed (fine on a machine that only analyses captures)`,
        `sudo apt install ${svc} && sudo bandguard setup-ap --ssid ... --passphrase ... --country ..`,
      );
    }
  }

  const d = f.database;
  if (!d.exists) add('database', 'WARN', `${d.path} does not exist yet`, 'bandguard start creates it');
  else if (d.error) {
    add(
      'database',
      'FAIL',
      d.error,
      `stop the agent, then bandguard restore BACKUP (or move ${d.path} away to start afresh)`,
    );
  } else add('database', 'OK', `${d.path}: quick_check ok, schema version ${d.version}`);

  const free = f.disk.freeBytes;
  if (free === null) add('free disk', 'WARN', `cannot tell the free space at ${f.disk.path}`);
  else if (free < 100 * MIB) {
    add(
      'free disk',
      'FAIL',
      `${(free / MIB).toFixed(0)} MiB free at ${f.disk.path}`,
      'free space, or lower retention.detailDays / retention.aggregateDays',
    );
  } else if (free < 1024 * MIB) {
    add(
      'free disk',
      'WARN',
      `${(free / MIB).toFixed(0)} MiB free at ${f.disk.path}`,
      'keep at least 1 GiB free for months of data',
    );
  } else add('free disk', 'OK', `${(free / 1024 / MIB).toFixed(1)} GiB free at ${f.disk.path}`);

  add('agent', 'OK', f.agentPid === null ? 'not running on this data dir' : `running (pid ${f.agentPid})`);
  return out;
}

function onPath(cmd: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => d !== '' && existsSync(join(d, cmd)));
}

function runningProcesses(): Set<string> {
  const names = new Set<string>();
  try {
    for (const p of readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      try {
        names.add(readFileSync(`/proc/${p}/comm`, 'utf8').trim());
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // not Linux
  }
  return names;
}

function nearestExisting(p: string): string {
  let cur = p;
  while (!existsSync(cur) && dirname(cur) !== cur) cur = dirname(cur);
  return cur;
}

/** The facts of this machine. */
export async function probeMachine(config: Config): Promise<DoctorFacts> {
  let ble: DoctorFacts['ble'] = { state: 'off', error: null };
  if (config.ble.enabled && !config.ble.simulate) {
    try {
      const { createNobleAdapter } = await import('../ble/adapter.js');
      const adapter = createNobleAdapter();
      try {
        ble = { state: await adapter.waitReady(3_000), error: null };
      } finally {
        await adapter.close().catch(() => undefined);
      }
    } catch (e) {
      ble = { state: 'unsupported', error: e instanceof Error ? e.message : String(e) };
    }
  }
  let capEff: bigint | null = null;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) capEff = BigInt(`0x${m[1]}`);
  } catch {
    capEff = null;
  }
  const name = config.capture.interface;
  let available: string[] = [];
  try {
    available = readdirSync('/sys/class/net').sort();
  } catch {
    available = [];
  }
  let operstate: string | null = null;
  try {
    operstate = readFileSync(`/sys/class/net/${name}/operstate`, 'utf8').trim();
  } catch {
    operstate = null;
  }
  const cap = capAvailability();
  const procs = runningProcesses();
  const dbPath = join(config.dataDir, DB_FILE);
  const database: DoctorFacts['database'] = { path: dbPath, exists: existsSync(dbPath), version: null, error: null };
  if (database.exists) {
    try {
      database.version = inspectDatabaseFile(dbPath).version;
    } catch (e) {
      database.error = e instanceof Error ? e.message : String(e);
    }
  }
  const diskPath = nearestExisting(config.dataDir);
  let freeBytes: number | null = null;
  try {
    const s = statfsSync(diskPath);
    freeBytes = Number(s.bavail) * Number(s.bsize);
  } catch {
    freeBytes = null;
  }
  return {
    ble,
    uid: process.getuid?.() ?? null,
    capEff,
    iface: { name, exists: available.includes(name), operstate, available },
    cap: cap.ok ? { ok: true, reason: null } : { ok: false, reason: cap.reason },
    commands: {
      iptables: onPath('iptables'),
      ipset: onPath('ipset'),
      conntrack: onPath('conntrack'),
      hostapd: onPath('hostapd'),
      dnsmasq: onPath('dnsmasq'),
    },
    running: { hostapd: procs.has('hostapd'), dnsmasq: procs.has('dnsmasq') },
    database,
    disk: { path: diskPath, freeBytes },
    agentPid: readPidFile(config.dataDir)?.pid ?? null,
  };
}

export function formatChecks(checks: Check[]): string {
  const w = Math.max(...checks.map((c) => c.name.length));
  return `${checks
    .map(
      (c) =>
        `${c.verdict.padEnd(4)}  ${c.name.padEnd(w)}  ${c.detail}${c.fix ? `\n${' '.repeat(w + 8)}fix: ${c.fix}` : ''}`,
    )
    .join('\n')}\n`;
}

export async function runDoctor(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...COMMON_FLAGS,
    format: { type: 'string', default: 'table' },
  });
  if (positionals.length > 0) throw new UsageError(`doctor takes no arguments (got '${positionals[0]}')`);
  const format = values.format as string;
  if (format !== 'table' && format !== 'json') throw new UsageError(`--format must be table or json (got '${format}')`);
  let config: Config;
  try {
    config = configFromFlags(values).config;
  } catch (e) {
    if (e instanceof ConfigError) {
      io.stdout(
        formatChecks([
          { name: 'configuration', verdict: 'FAIL', detail: e.message, fix: 'correct the key named above' },
        ]),
      );
      return 1;
    }
    throw e;
  }
  const checks = [
    { name: 'configuration', verdict: 'OK' as Verdict, detail: 'valid', fix: '' },
    ...diagnose(await probeMachine(config), config),
  ];
  io.stdout(format === 'json' ? `${JSON.stringify(checks, null, 2)}\n` : formatChecks(checks));
  return checks.some((c) => c.verdict === 'FAIL') ? 1 : 0;
}
