/** The `band` CLI end to end against the simulated neighbourhood, with a real data dir. */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BandCommandContext, parseTime, runBandCommand } from '../../../src/ble/cli.js';
import { DEMO_MIBAND4_KEY } from '../../../src/ble/simulator/world.js';

const NOW = Date.UTC(2024, 4, 15, 10, 0, 0);
let dir: string;
let out: string[];
let err: string[];
let ctx: BandCommandContext;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bandguard-cli-'));
  out = [];
  err = [];
  ctx = {
    dataDir: dir,
    simulate: true,
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    now: () => NOW,
    timeZone: 'UTC',
  };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const run = async (...args: string[]) => {
  out.length = 0;
  err.length = 0;
  return runBandCommand(args, ctx);
};

describe('band CLI (--simulate)', () => {
  it('scan lists supported devices first and the unknown one with what it advertises', async () => {
    expect(await run('scan', '--format', 'json', '--duration', '0.3')).toBe(0);
    const { devices } = JSON.parse(out.join('')) as {
      devices: { id: string; definition: { id: string } | null; advertised: string }[];
    };
    const ids = devices.map((d) => d.definition?.id ?? 'unknown');
    expect(ids).toEqual(
      expect.arrayContaining([
        'huami-miband3',
        'huami-miband4',
        'huami-amazfit-bip',
        'standard-glucose',
        'standard-heart-rate',
        'standard-blood-pressure',
        'xiaomi-miscale',
        'xiaomi-mibcs',
        'fitpro-m4',
        'unknown',
      ]),
    );
    expect(ids.at(-1)).toBe('unknown');
    expect(devices.at(-1)!.advertised).toContain('JBL Flip 5');
    expect(await run('scan', '--duration', '0.2')).toBe(0);
    expect(out.join('')).toMatch(/^ID\s+RSSI\s+NAME\s+DEVICE/);
  });

  it('pair → list → sync → export → forget across separate runs (keys remembered, sealed at rest)', async () => {
    expect(await run('pair', 'C8:0F:10:A1:B2:03')).toBe(0);
    expect(out.join('')).toMatch(/paired c80f10a1b203: Huami \/ Xiaomi Mi Band 3\nfirst sync: \d+ new sample\(s\)/);
    expect(statSync(join(dir, 'bond.key')).mode & 0o777).toBe(0o600);

    expect(await run('list', '--format', 'json')).toBe(0);
    const { devices } = JSON.parse(out.join(''));
    expect(devices[0]).toMatchObject({ id: 'c80f10a1b203', definitionId: 'huami-miband3', failures: 0 });
    expect(devices[0].samples).toBeGreaterThan(7 * 1440 * 3);

    // A new process: the simulated band still knows the key the hub gave it.
    expect(await run('sync', 'c80f10a1b203')).toBe(0);
    expect(out.join('')).toBe('c80f10a1b203: 0 new sample(s)\n');

    expect(await run('export', 'c80f10a1b203', '--format', 'csv', '--since', '2h')).toBe(0);
    const csv = out.join('').trim().split('\n');
    expect(csv[0]).toBe('device_id,kind,unit,timestamp,value,seq,meta');
    expect(csv.length).toBeGreaterThan(120 * 3);
    expect(csv.slice(1).every((l) => l >= 'c80f10a1b203,' && Date.parse(l.split(',')[3]!) >= NOW - 2 * 3_600_000)).toBe(
      true,
    );

    expect(await run('export', 'c80f10a1b203', '--format', 'fhir', '--since', '10m')).toBe(0);
    const bundle = JSON.parse(out.join(''));
    expect(bundle.resourceType).toBe('Bundle');
    const codes = new Set(
      bundle.entry.map(
        (e: { resource: { code?: { coding: { code: string }[] } } }) => e.resource.code?.coding[0]?.code,
      ),
    );
    expect(codes.has('55423-8')).toBe(true);

    expect(await run('forget', 'c80f10a1b203')).toBe(0);
    expect(await run('list')).toBe(0);
    expect(out.join('')).toBe('no paired devices\n');
    expect(readFileSync(join(dir, 'simulator-keys.json'), 'utf8')).toContain('C8:0F:10:A1:B2:03');
  });

  it('Mi Band 4 needs --auth-key; the error says how to get one', async () => {
    expect(await run('pair', 'e47a2ca1b204')).toBe(1);
    expect(err.join('')).toMatch(/needs its auth key.*huami-token.*--auth-key 8f1e2d3c/);
    expect(await run('pair', 'e47a2ca1b204', '--auth-key', 'nothex')).toBe(1);
    expect(err.join('')).toMatch(/32 hex digits/);
    expect(await run('pair', 'e47a2ca1b204', '--auth-key', DEMO_MIBAND4_KEY)).toBe(0);
  });

  it('usage errors exit 2 without touching the data dir', async () => {
    expect(await run('export', 'x')).toBe(2);
    expect(err.join('')).toMatch(/needs --format/);
    expect(await run('scan', '--format', 'xml')).toBe(2);
    expect(await run('pair')).toBe(2);
    expect(await run('teleport')).toBe(2);
    expect(await run('sync', '--bogus')).toBe(2);
    expect(await run('help')).toBe(0);
  });

  it('reports an unpaired device and an adapter-less machine clearly', async () => {
    expect(await run('sync', 'aabbccddeeff')).toBe(1);
    expect(out.join('')).toMatch(/aabbccddeeff: failed: device aabbccddeeff is not paired/);
    ctx.simulate = false;
    expect(await run('scan', '--duration', '0.1')).toBe(1);
    expect(err.join('')).toMatch(/^error: Bluetooth LE is not available \((unsupported|unauthorized|poweredOff)\)/);
  });

  it('parses --since durations and ISO times', () => {
    expect(parseTime('7d', NOW)).toBe(NOW - 7 * 86_400_000);
    expect(parseTime('90m', NOW)).toBe(NOW - 90 * 60_000);
    expect(parseTime('2024-05-01T00:00:00Z', NOW)).toBe(Date.UTC(2024, 4, 1));
    expect(() => parseTime('yesterday', NOW)).toThrow(/cannot read/);
  });
});
