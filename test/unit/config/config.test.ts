/**
 * Configuration: defaults < config file < environment < flags, one zod schema, and a table of bad files,
 * environment variables and flags, each with its exact message (key, source and why). A bad configuration
 * starts nothing: `bandguard start` exits 2 before the data directory is touched.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli.js';
import { ConfigError, type FlagValues, loadConfig, stripJsonComments } from '../../../src/config/load.js';
import { configJsonSchema, configLeaves, configReferenceMarkdown, envNameOf } from '../../../src/config/schema.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(text: string): string {
  const p = join(dir, 'bandguard.json');
  writeFileSync(p, text);
  return p;
}

describe('sources and precedence', () => {
  it('defaults alone give a complete, valid configuration', () => {
    const { config, file: f, warnings } = loadConfig({ env: {}, home: '/home/pi', cwd: '/' });
    expect(f).toBeNull();
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      dataDir: '/home/pi/.bandguard',
      safe: false,
      api: { listen: '0.0.0.0:8080' },
      capture: {
        enabled: true,
        interface: 'wlan0',
        bufferMiB: 16,
        queuePackets: 16384,
        excludeOwnTraffic: true,
        filter: '',
        maxFlows: 100000,
        tcpIdleSeconds: 300,
        tcpClosedIdleSeconds: 30,
        udpIdleSeconds: 120,
        checkpointSeconds: 60,
        ringBuffer: { enabled: false, fileMiB: 64, files: 8 },
      },
      store: { bucketMinutes: 60, flushIntervalMs: 1000, maxPendingRows: 20000 },
      retention: { detailDays: 14, aggregateDays: 400, eventsDays: 180, auditDays: 730, schedule: '17 3 * * *' },
      ble: { enabled: true, simulate: false, syncSchedule: '*/15 * * * *' },
      firewall: { mode: 'apply', dnsmasqConf: '' },
      geo: { rdap: false, rdapIntervalSeconds: 60, mmdb: [] },
    });
  });

  it('file < environment < flags, per key; comments allowed; relative data dir against cwd', () => {
    const f = file(`{
      // the AP bridge
      "dataDir": "data", /* relative */
      "capture": { "interface": "br-lan", "bufferMiB": 32, "udpIdleSeconds": 5 },
      "api": { "listen": "192.0.2.1:8443" }
    }`);
    const { config, origins } = loadConfig({
      file: f,
      cwd: '/srv',
      env: { BANDGUARD_CAPTURE_BUFFER_MIB: '64', BANDGUARD_INTERFACE: 'wlan1', BANDGUARD_SAFE: 'yes' },
      flags: { 'capture.interface': 'br0' },
    });
    expect(config.dataDir).toBe('/srv/data');
    expect(config.capture.interface).toBe('br0');
    expect(config.capture.bufferMiB).toBe(64);
    expect(config.capture.udpIdleSeconds).toBe(5);
    expect(config.api.listen).toBe('192.0.2.1:8443');
    expect(config.safe).toBe(true);
    expect(origins['capture.interface']).toBe('flag --interface');
    expect(origins['capture.bufferMiB']).toBe('environment BANDGUARD_CAPTURE_BUFFER_MIB');
    expect(origins['capture.udpIdleSeconds']).toBe(`config file ${f}`);
  });

  it('BANDGUARD_CONFIG names the file when --config is not given; unknown BANDGUARD_* is a warning', () => {
    const f = file('{"capture": {"interface": "eth1"}}');
    const r = loadConfig({ env: { BANDGUARD_CONFIG: f, BANDGUARD_CAPTURE_INTERFAC: 'x' }, home: '/h' });
    expect(r.file).toBe(f);
    expect(r.config.capture.interface).toBe('eth1');
    expect(r.warnings).toEqual([
      'unknown environment variable BANDGUARD_CAPTURE_INTERFAC ignored (did you mean BANDGUARD_CAPTURE_INTERFACE?)',
    ]);
  });

  it('strips comments but not comment-like text inside strings', () => {
    expect(JSON.parse(stripJsonComments('{"a": "x//y", /* z */ "b": "/*c*/" // d\n}'))).toEqual({
      a: 'x//y',
      b: '/*c*/',
    });
  });
});

const F = (name: string) => `config file ${join('<dir>', name)}`;

describe('bad configuration: exact messages', () => {
  const cases: { name: string; file?: string; env?: Record<string, string>; flags?: FlagValues; message: string }[] = [
    {
      name: 'unknown key with a typo',
      file: '{"capture": {"bufer": 3}}',
      message: `${F('bandguard.json')}: unknown key "capture.bufer" (did you mean "capture.bufferMiB"?)`,
    },
    {
      name: 'unknown section',
      file: '{"retension": {"detailDays": 3}}',
      message: `${F('bandguard.json')}: unknown key "retension" (did you mean "retention"?)`,
    },
    {
      name: 'unknown key, nothing close',
      file: '{"telemetry": true}',
      message: `${F('bandguard.json')}: unknown key "telemetry"`,
    },
    {
      name: 'below the minimum',
      file: '{"capture": {"bufferMiB": 0}}',
      message: `${F('bandguard.json')}: capture.bufferMiB: must be at least 1 (MiB of kernel capture buffer) (got 0)`,
    },
    {
      name: 'not a whole number',
      file: '{"capture": {"queuePackets": 1000.5}}',
      message: `${F('bandguard.json')}: capture.queuePackets: must be a whole number (packets) (got 1000.5)`,
    },
    {
      name: 'a string where a number goes',
      file: '{"store": {"flushIntervalMs": "1s"}}',
      message: `${F('bandguard.json')}: store.flushIntervalMs: must be a number (milliseconds) (got "1s")`,
    },
    {
      name: 'a section that is not an object',
      file: '{"capture": 5}',
      message: `${F('bandguard.json')}: capture: must be an object of settings (got 5)`,
    },
    {
      name: 'bucket size not allowed',
      file: '{"store": {"bucketMinutes": 7}}',
      message: `${F('bandguard.json')}: store.bucketMinutes: must be one of 5, 10, 15, 30, 60 (got 7)`,
    },
    {
      name: 'cron expression',
      file: '{"retention": {"schedule": "every night"}}',
      message: `${F('bandguard.json')}: retention.schedule: must be a 5-field cron expression such as "17 3 * * *" (minute hour day month weekday) (got "every night")`,
    },
    {
      name: 'aggregates shorter than detail',
      file: '{"retention": {"detailDays": 30, "aggregateDays": 10}}',
      message: `${F('bandguard.json')}: retention.aggregateDays: must be at least retention.detailDays (got 10)`,
    },
    {
      name: 'BPF filter on two lines',
      file: '{"capture": {"filter": "tcp\\nport 1"}}',
      message: `${F('bandguard.json')}: capture.filter: must be one line of BPF (pcap-filter) syntax (got "tcp\\nport 1")`,
    },
    {
      name: 'not JSON',
      file: '{"capture": {"bufferMiB": 3,}}',
      message: `${F('bandguard.json')}: not valid JSON at line 1 column 29: Expected double-quoted property name`,
    },
    {
      name: 'JSON but not an object',
      file: '["wlan0"]',
      message: `${F('bandguard.json')}: must hold one JSON object of settings`,
    },
    {
      name: 'environment boolean',
      env: { BANDGUARD_SAFE: 'maybe' },
      message: 'environment BANDGUARD_SAFE: safe: must be true or false (got "maybe")',
    },
    {
      name: 'environment number',
      env: { BANDGUARD_CAPTURE_BUFFER_MIB: 'lots' },
      message:
        'environment BANDGUARD_CAPTURE_BUFFER_MIB: capture.bufferMiB: must be a number (MiB of kernel capture buffer) (got "lots")',
    },
    {
      name: 'flag --interface too long',
      flags: { 'capture.interface': 'this-name-is-too-long0' },
      message:
        'flag --interface: capture.interface: must be a network interface name (1-15 letters, digits, . _ - : @) (got "this-name-is-too-long0")',
    },
    {
      name: 'flag --listen with a bad port',
      flags: { 'api.listen': 'localhost:99999' },
      message:
        'flag --listen: api.listen: must be HOST:PORT, [IPv6]:PORT or :PORT with a port from 1 to 65535 (got "localhost:99999")',
    },
    {
      name: 'flag --data-dir empty',
      flags: { dataDir: '' },
      message: 'flag --data-dir: dataDir: must not be empty (got "")',
    },
    {
      name: 'ring buffer with a single file',
      file: '{"capture": {"ringBuffer": {"enabled": true, "files": 1}}}',
      message: `${F('bandguard.json')}: capture.ringBuffer.files: must be at least 2 (files) (got 1)`,
    },
    {
      name: 'geo.mmdb as one string in the file',
      file: '{"geo": {"mmdb": "/srv/GeoLite2-ASN.mmdb"}}',
      message: `${F('bandguard.json')}: geo.mmdb: must be a list of file paths (got "/srv/GeoLite2-ASN.mmdb")`,
    },
    {
      name: 'environment geo.mmdb with an empty item',
      env: { BANDGUARD_GEO_MMDB: '/srv/a.mmdb,,/srv/b.mmdb' },
      message: 'environment BANDGUARD_GEO_MMDB: geo.mmdb.1: must not be empty (got "")',
    },
  ];

  it('list keys from the environment: comma-separated or a JSON array', () => {
    expect(loadConfig({ env: { BANDGUARD_GEO_MMDB: '/srv/a.mmdb, /srv/b.mmdb' } }).config.geo.mmdb).toEqual([
      '/srv/a.mmdb',
      '/srv/b.mmdb',
    ]);
    expect(loadConfig({ env: { BANDGUARD_GEO_MMDB: '["/srv/a,b.mmdb"]' } }).config.geo.mmdb).toEqual(['/srv/a,b.mmdb']);
    expect(loadConfig({ env: { BANDGUARD_GEO_MMDB: '' } }).config.geo.mmdb).toEqual([]);
  });

  it.each(cases)('$name', ({ file: text, env, flags, message }) => {
    const f = text === undefined ? undefined : file(text);
    let err: unknown;
    try {
      loadConfig({ file: f, env: env ?? {}, flags: flags ?? {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(`bad configuration: ${message.replaceAll('<dir>', dir)}`);
  });

  it('several problems are all reported, one per line', () => {
    const f = file('{"capture": {"bufferMiB": -1, "maxFlows": 10}, "colour": 1}');
    expect(() => loadConfig({ file: f, env: {} })).toThrow(
      new ConfigError([
        `config file ${f}: capture.bufferMiB: must be at least 1 (MiB of kernel capture buffer) (got -1)`,
        `config file ${f}: capture.maxFlows: must be at least 1000 (flows) (got 10)`,
        `config file ${f}: unknown key "colour"`,
      ]),
    );
  });

  it('a missing config file is one clear line', () => {
    expect(() => loadConfig({ file: join(dir, 'nope.json'), env: {} })).toThrow(
      `bad configuration: config file ${join(dir, 'nope.json')}: cannot read it (no such file)`,
    );
  });

  it('bandguard start with a bad configuration exits 2 and starts nothing', async () => {
    const f = file('{"capture": {"bufferMiB": 0}}');
    const dataDir = join(dir, 'data');
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['start', '--config', f, '--data-dir', dataDir], {
      stdout: (s) => out.push(s),
      stderr: (s) => err.push(s),
    });
    expect(code).toBe(2);
    expect(err.join('')).toBe(
      `bandguard: bad configuration: config file ${f}: capture.bufferMiB: must be at least 1 (MiB of kernel capture buffer) (got 0)\n`,
    );
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('derived artefacts', () => {
  it('environment names follow the keys', () => {
    expect(envNameOf('capture.bufferMiB')).toBe('BANDGUARD_CAPTURE_BUFFER_MIB');
    expect(envNameOf('dataDir')).toBe('BANDGUARD_DATA_DIR');
    expect(envNameOf('retention.aggregateDays')).toBe('BANDGUARD_RETENTION_AGGREGATE_DAYS');
    const names = configLeaves().map((l) => l.env);
    expect(new Set(names).size).toBe(names.length);
  });

  it('the JSON Schema is strict and carries defaults and descriptions', () => {
    const s = configJsonSchema() as {
      additionalProperties: boolean;
      properties: Record<
        string,
        { additionalProperties?: boolean; properties?: Record<string, { default: unknown; description?: string }> }
      >;
    };
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.capture?.additionalProperties).toBe(false);
    expect(s.properties.capture?.properties?.bufferMiB?.default).toBe(16);
    for (const l of configLeaves()) expect(l.description.length, l.path).toBeGreaterThan(10);
  });

  it("the README's configuration reference is the schema's", () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(configReferenceMarkdown());
  });
});
