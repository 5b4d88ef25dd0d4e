/**
 * `bandguard setup-ap --ssid NAME --passphrase TEXT --country CC [--channel N] [--interface wlan0]
 *  [--address 192.168.4.1/24] [--target /etc] [--dry-run] [--force]`
 *
 * Writes what a Raspberry Pi needs to be the home's access point with bandguard on it: hostapd.conf (WPA2
 * personal), a dnsmasq drop-in (DHCP and DNS for the AP subnet, with a conf-dir where the firewall adds its
 * `ipset=` lines), the agent's config file and a systemd unit for the agent. `renderApFiles` is pure and
 * validates everything first; `--dry-run` prints the files instead of writing them.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Io, parseCommandArgs, UsageError } from '../cli.js';
import { findShipped } from '../core/paths.js';

export interface ApOptions {
  ssid: string;
  passphrase: string;
  country: string;
  channel: number;
  interface: string;
  /** The hub's address on the AP subnet, with its prefix (a /24 is assumed for the DHCP range). */
  address: string;
  /** Absolute paths written into the systemd unit. */
  nodePath: string;
  cliPath: string;
}

export interface ApFile {
  /** Path relative to the target directory (normally /etc). */
  path: string;
  content: string;
  mode: number;
}

const CHANNELS_24 = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
const CHANNELS_5 = new Set([
  36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 140, 149, 153, 157, 161, 165,
]);

/** Validates the options; returns the problems (empty when all is well). */
export function validateAp(o: Omit<ApOptions, 'nodePath' | 'cliPath'>): string[] {
  const p: string[] = [];
  const ssidBytes = Buffer.byteLength(o.ssid, 'utf8');
  if (ssidBytes < 1 || ssidBytes > 32) p.push(`--ssid must be 1 to 32 bytes (got ${ssidBytes})`);
  if (/[\u0000-\u001f\u007f]/.test(o.ssid)) p.push('--ssid must not contain control characters or line breaks');
  const hex64 = /^[0-9a-fA-F]{64}$/.test(o.passphrase);
  if (!hex64 && !/^[\x20-\x7e]{8,63}$/.test(o.passphrase)) {
    p.push('--passphrase must be 8 to 63 printable ASCII characters (WPA2), or 64 hex digits');
  }
  if (!/^[A-Z]{2}$/.test(o.country))
    p.push(`--country must be a two-letter ISO 3166 code in capitals, e.g. DE, GB, US (got '${o.country}')`);
  if (!CHANNELS_24.has(o.channel) && !CHANNELS_5.has(o.channel)) {
    p.push(`--channel must be 1-13 (2.4 GHz) or a 5 GHz channel such as 36, 40, 44, 48, 149 (got ${o.channel})`);
  }
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(o.interface))
    p.push(`--interface must be an interface name (got '${o.interface}')`);
  const [ip = '', len] = o.address.split('/');
  if (isIP(ip) !== 4 || len !== '24')
    p.push(`--address must be an IPv4 address with /24, e.g. 192.168.4.1/24 (got '${o.address}')`);
  else {
    const last = Number(ip.split('.')[3]);
    if (last === 0 || last === 255) p.push(`--address must be a host address, not ${ip}`);
  }
  return p;
}

export function renderApFiles(o: ApOptions): ApFile[] {
  const problems = validateAp(o);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  const five = CHANNELS_5.has(o.channel);
  const ip = o.address.split('/')[0]!;
  const net = ip.split('.').slice(0, 3).join('.');
  const hostapd = [
    '# Written by bandguard setup-ap. The Wi-Fi access point whose traffic bandguard watches.',
    `interface=${o.interface}`,
    'driver=nl80211',
    `ssid2=${Buffer.from(o.ssid, 'utf8').toString('hex')}`, // hex: any UTF-8 name, no quoting issues
    'utf8_ssid=1',
    `country_code=${o.country}`,
    'ieee80211d=1',
    `hw_mode=${five ? 'a' : 'g'}`,
    `channel=${o.channel}`,
    'ieee80211n=1',
    ...(five ? ['ieee80211ac=1'] : []),
    'wmm_enabled=1',
    'auth_algs=1',
    'ignore_broadcast_ssid=0',
    'wpa=2',
    'wpa_key_mgmt=WPA-PSK',
    'rsn_pairwise=CCMP',
    o.passphrase.length === 64 ? `wpa_psk=${o.passphrase.toLowerCase()}` : `wpa_passphrase=${o.passphrase}`,
    '',
  ].join('\n');
  const dnsmasq = [
    '# Written by bandguard setup-ap: DHCP and DNS for the access point subnet.',
    `interface=${o.interface}`,
    'bind-dynamic',
    'domain-needed',
    'bogus-priv',
    `dhcp-range=${net}.20,${net}.250,255.255.255.0,12h`,
    `dhcp-option=option:router,${ip}`,
    `dhcp-option=option:dns-server,${ip}`,
    'dhcp-authoritative',
    // Phones send their host name in DHCP: bandguard reads it from the capture, nothing to configure.
    '# The firewall (bandguard rules) drops `ipset=/domain/set` lines here so that answers fill its sets.',
    'conf-dir=/etc/bandguard/dnsmasq.d/,*.conf',
    '# Uncomment to keep a log of every query (wears SD cards; bandguard does not need it):',
    '#log-queries=extra',
    '#log-facility=/var/log/dnsmasq-bandguard.log',
    '',
  ].join('\n');
  const config = `${JSON.stringify(
    {
      dataDir: '/var/lib/bandguard',
      capture: { interface: o.interface },
      api: { listen: `${ip}:8080` },
    },
    null,
    2,
  )}\n`;
  const unit = [
    '# Written by bandguard setup-ap.',
    '[Unit]',
    'Description=bandguard agent: wearable companion-app traffic and local BLE sync',
    'Documentation=https://github.com/bandguard/bandguard#raspberry-pi-setup',
    'After=network-online.target hostapd.service dnsmasq.service bluetooth.service',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${o.nodePath} ${o.cliPath} start --config /etc/bandguard/config.json`,
    'Restart=on-failure',
    'RestartSec=5',
    '# SIGTERM lets the agent write what it holds in memory before it exits.',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=30',
    'StateDirectory=bandguard',
    'NoNewPrivileges=true',
    'PrivateTmp=true',
    'ProtectHome=true',
    'ProtectSystem=full',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
  return [
    { path: 'hostapd/hostapd.conf', content: hostapd, mode: 0o600 },
    { path: 'dnsmasq.d/bandguard.conf', content: dnsmasq, mode: 0o644 },
    {
      path: 'bandguard/dnsmasq.d/README',
      content: '# ipset= lines written by bandguard rules go here.\n',
      mode: 0o644,
    },
    { path: 'bandguard/config.json', content: config, mode: 0o644 },
    { path: 'systemd/system/bandguard.service', content: unit, mode: 0o644 },
  ];
}

export async function runSetupAp(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ssid: { type: 'string' },
    passphrase: { type: 'string' },
    country: { type: 'string' },
    channel: { type: 'string', default: '6' },
    interface: { type: 'string', default: 'wlan0' },
    address: { type: 'string', default: '192.168.4.1/24' },
    target: { type: 'string', default: '/etc' },
    'dry-run': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    config: { type: 'string' },
    'data-dir': { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`setup-ap takes no arguments (got '${positionals[0]}')`);
  for (const k of ['ssid', 'passphrase', 'country'] as const) {
    if (typeof values[k] !== 'string') throw new UsageError(`setup-ap needs --${k}`);
  }
  const channel = Number(values.channel);
  if (!/^\d+$/.test(String(values.channel)))
    throw new UsageError(`--channel must be a number (got '${String(values.channel)}')`);
  const files = renderApFiles({
    ssid: values.ssid as string,
    passphrase: values.passphrase as string,
    country: values.country as string,
    channel,
    interface: values.interface as string,
    address: values.address as string,
    nodePath: process.execPath,
    cliPath: executablePath(),
  });
  const target = resolve(values.target as string);
  if (values['dry-run']) {
    for (const f of files) io.stdout(`# ---- ${join(target, f.path)} ----\n${f.content}\n`);
    return 0;
  }
  const clash = files.filter((f) => existsSync(join(target, f.path)));
  if (clash.length > 0 && !values.force) {
    throw new UsageError(
      `would overwrite ${clash.map((f) => join(target, f.path)).join(', ')}; use --force, or --dry-run to see the files`,
    );
  }
  for (const f of files) {
    const p = join(target, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content, { mode: f.mode });
    io.stdout(`wrote ${p}\n`);
  }
  io.stdout(
    '\nNext: sudo systemctl unmask hostapd && sudo systemctl enable --now hostapd dnsmasq bandguard\n' +
      `      (give ${values.interface as string} the address ${values.address as string} first: see README, Raspberry Pi setup)\n`,
  );
  return 0;
}

/**
 * The executable a service should start: the bundled one of this package (dist/bundle/bandguard.js), or, before
 * a build, the compiled command line next to this module.
 */
function executablePath(): string {
  try {
    return findShipped('dist/bundle/bandguard.js', 'file');
  } catch {
    return fileURLToPath(new URL('../cli.js', import.meta.url));
  }
}
