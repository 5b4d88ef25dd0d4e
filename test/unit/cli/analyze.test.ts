import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli.js';
import { CSV_COLUMNS } from '../../../src/net/format.js';
import { dnsQuery, dnsResponse, frame, pcapFile } from '../../helpers/frames.js';

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
  });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'bandguard-cli-'));
const PHONE = '64:cc:2e:11:22:33';
const t = 1_700_000_000_000;
const packets = [
  {
    tsMs: t,
    data: frame({
      srcMac: PHONE,
      src: '192.0.2.10',
      dst: '198.51.100.53',
      proto: 'udp',
      sport: 4000,
      dport: 53,
      payload: dnsQuery(7, 'api-mifit.huami.com', 1),
    }),
  },
  {
    tsMs: t + 3,
    data: frame({
      dstMac: PHONE,
      src: '198.51.100.53',
      dst: '192.0.2.10',
      proto: 'udp',
      sport: 53,
      dport: 4000,
      payload: dnsResponse(7, 'api-mifit.huami.com', 1, [
        { name: 'api-mifit.huami.com', type: 1, ttl: 60, data: '203.0.113.20' },
      ]),
    }),
  },
  {
    tsMs: t + 10,
    data: frame({
      srcMac: PHONE,
      src: '192.0.2.10',
      dst: '203.0.113.20',
      proto: 'tcp',
      sport: 50000,
      dport: 80,
      seq: 1,
      payload: 'GET /v1/user?uid=42 HTTP/1.1\r\nHost: api-mifit.huami.com\r\n\r\n',
    }),
  },
];
const good = join(dir, 'good.pcap');
writeFileSync(good, pcapFile(packets));
const gz = join(dir, 'good.pcap.gz');
writeFileSync(gz, gzipSync(readFileSync(good)));

describe('bandguard analyze', () => {
  it('prints the JSON contract on stdout and nothing on stderr', async () => {
    const r = await cli(['analyze', '--format', 'json', good]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j)).toEqual(['version', 'capture', 'clients', 'contacts', 'lookups', 'leaks', 'events']);
    expect(j.version).toBe(1);
    expect(j.capture).toMatchObject({ files: [good], packets: 3, linkTypes: ['ether'], malformed: 0, truncated: 0 });
    expect(j.clients).toEqual([
      expect.objectContaining({ id: PHONE, mac: PHONE, ips: ['192.0.2.10'], vendor: expect.any(String) }),
    ]);
    const c = j.contacts.find((x: { serverIp: string }) => x.serverIp === '203.0.113.20');
    expect(c).toMatchObject({
      client: PHONE,
      name: 'api-mifit.huami.com',
      names: ['api-mifit.huami.com'],
      registrableDomain: 'huami.com',
      port: 80,
      transport: 'tcp',
      protocol: 'http',
      nameSource: 'http-host',
      party: 'first',
      app: 'huami',
      role: 'api',
      encrypted: false,
      flows: 1,
      packets: 1,
    });
    for (const k of [
      'organization',
      'ownerCountry',
      'country',
      'asn',
      'asOrganization',
      'bytesOut',
      'bytesIn',
      'firstSeen',
      'lastSeen',
    ]) {
      expect(c).toHaveProperty(k);
    }
    expect(j.lookups).toEqual([
      expect.objectContaining({
        client: PHONE,
        name: 'api-mifit.huami.com',
        type: 'A',
        answers: ['203.0.113.20'],
        contacted: true,
      }),
    ]);
  });

  it('reads gzip-compressed captures the same way', async () => {
    const a = JSON.parse((await cli(['analyze', '--format', 'json', good])).stdout);
    const b = JSON.parse((await cli(['analyze', '--format', 'json', gz])).stdout);
    expect(b.contacts).toEqual(a.contacts);
  });

  it('writes CSV with one row per contact, and --out keeps stdout empty', async () => {
    const out = join(dir, 'r.csv');
    const r = await cli(['analyze', '--format', 'csv', '--out', out, good]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const lines = readFileSync(out, 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(1 + 2); // DNS contact + HTTP contact
    expect(lines.some((l) => l.includes('api-mifit.huami.com') && l.includes(',first,'))).toBe(true);
  });

  it('prints a readable table by default', async () => {
    const r = await cli(['analyze', good]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Capture: 1 file\(s\), 3 packets/);
    expect(r.stdout).toMatch(/api-mifit\.huami\.com\s+http-host\s+203\.0\.113\.20:80\/tcp\s+http\s+first\s+api/);
  });

  it('exits 2 with one line and no output for a file that is not a capture', async () => {
    const bad = join(dir, 'notes.txt');
    writeFileSync(bad, 'hello, this is not a capture file\n');
    const r = await cli(['analyze', '--format', 'json', bad]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(bad);
  });

  it('exits 2 for a capture cut short, and --partial analyzes what is complete', async () => {
    const cut = join(dir, 'cut.pcap');
    const full = readFileSync(good);
    writeFileSync(cut, full.subarray(0, full.length - 10));
    const r = await cli(['analyze', cut]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/cut short.*--partial/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const p = await cli(['analyze', '--partial', '--format', 'json', cut]);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout).capture.packets).toBe(2);
  });

  it('exits 2 for a missing file, an empty file and bad flags', async () => {
    for (const args of [
      ['analyze', join(dir, 'missing.pcap')],
      [
        'analyze',
        (() => {
          const f = join(dir, 'empty.pcap');
          writeFileSync(f, '');
          return f;
        })(),
      ],
      ['analyze', '--format', 'xml', good],
      ['analyze', '--bogus', good],
      ['analyze'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
