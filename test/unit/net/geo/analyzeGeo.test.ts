/**
 * Geo in classification and in `bandguard analyze`: country from the bundled database on every contact,
 * --mmdb files, --rdap against a registry on loopback (BANDGUARD_RDAP_URL), bounded wait, stderr notes.
 * The capture files here are bytes on disk: their server addresses are only looked up, never contacted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../../src/cli.js';
import { KnowledgeClassifier } from '../../../../src/net/classify/classifier.js';
import { defaultPartiesKnowledgeBase } from '../../../../src/net/classify/parties.js';
import { RdapBootstrap } from '../../../../src/net/geo/bootstrap.js';
import { OfflineCountryDb } from '../../../../src/net/geo/country.js';
import { GeoService } from '../../../../src/net/geo/geoService.js';
import { OwnerCache } from '../../../../src/net/geo/ownerCache.js';
import { RdapClient } from '../../../../src/net/geo/rdap.js';
import type { AnalyzeReport } from '../../../../src/net/report.js';
import { openDatabase } from '../../../../src/store/db.js';
import { frame, pcapFile } from '../../../helpers/frames.js';
import { fixture, type Handler, type RdapTestServer, sendJson, startRdapServer } from './rdapServer.js';

const TINY = new URL('../../../fixtures/geo/tiny-asn.mmdb', import.meta.url).pathname;
const country = new OfflineCountryDb();
const dir = mkdtempSync(join(tmpdir(), 'bandguard-geo-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let srv: RdapTestServer | null = null;
afterEach(async () => {
  delete process.env.BANDGUARD_RDAP_URL;
  await srv?.close();
  srv = null;
});

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

const PHONE = '64:cc:2e:11:22:33';
const SERVERS = ['8.8.8.8', '193.0.6.139', '2400:cb00::1', '198.51.100.80'];
/** A phone opening TCP connections (SYN only) to a few servers: global ones and a documentation one. */
const capture = join(dir, 'servers.pcap');
writeFileSync(
  capture,
  pcapFile(
    SERVERS.map((dst, i) => ({
      tsMs: 1_700_000_000_000 + i,
      data: frame({
        srcMac: PHONE,
        src: dst.includes(':') ? '2001:db8::10' : '192.0.2.10',
        dst,
        proto: 'tcp',
        sport: 40000 + i,
        dport: 443,
        flags: 0x02,
        payload: '',
      }),
    })),
  ),
);

const registry: Handler = (_req, res, path) => {
  const ip = decodeURIComponent(path.split('/').pop()!);
  if (ip === '8.8.8.8') return sendJson(res, fixture('arin-ip-v4.json'));
  if (ip === '193.0.6.139') return sendJson(res, fixture('ripe-ip-v4.json'));
  if (ip === '2400:cb00::1') return sendJson(res, fixture('apnic-ip-v6.json'));
  sendJson(res, { errorCode: 404 }, 404);
};

describe('KnowledgeClassifier with a GeoService', () => {
  it('fills country, ASN and AS organization, memoized per address until the service learns more', async () => {
    srv = await startRdapServer(registry);
    const geo = new GeoService({
      countryDb: country,
      cache: new OwnerCache(openDatabase(':memory:')),
      rdap: new RdapClient({ bootstrap: new RdapBootstrap([], [`${srv.base}/`]) }),
    });
    const c = new KnowledgeClassifier(defaultPartiesKnowledgeBase(), geo);
    const spy = vi.spyOn(geo, 'lookup');
    const first = c.classify('dns.google', '8.8.8.8', 443, 'tls', []);
    expect(first).toMatchObject({ country: country.countryOf('8.8.8.8'), asn: null, asOrganization: null });
    c.classify('dns.google', '8.8.8.8', 853, 'tls', []);
    c.classify(null, '8.8.8.8', 443, 'quic', []);
    expect(spy).toHaveBeenCalledTimes(1);
    await geo.enrich(['8.8.8.8']);
    expect(c.classify('dns.google', '8.8.8.8', 443, 'tls', [])).toMatchObject({
      asn: 15169,
      asOrganization: 'Google LLC',
    });
    expect(spy).toHaveBeenCalledTimes(2);
    // LAN addresses are local: no geo at all.
    expect(c.classify('printer.local', '192.168.1.20', 631, 'other', [])).toMatchObject({
      party: 'local',
      country: null,
    });
    geo.close();
  });
});

describe('bandguard analyze with geo', () => {
  it('by default: country from the bundled database, no ASN, no network', async () => {
    const r = await cli(['analyze', capture, '--format', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as AnalyzeReport;
    const byIp = new Map(report.contacts.map((c) => [c.serverIp, c]));
    expect(byIp.get('8.8.8.8')).toMatchObject({ country: country.countryOf('8.8.8.8'), asn: null });
    expect(byIp.get('2400:cb00::1')?.country).toBe(country.countryOf('2400:cb00::1'));
    expect(byIp.get('198.51.100.80')).toMatchObject({ country: null, asn: null });
    expect(r.stderr).not.toMatch(/RDAP/);
  });

  it('--mmdb that is not an mmdb: exit 2 with one clear line', async () => {
    const r = await cli(['analyze', capture, '--mmdb', capture]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `bandguard: --mmdb: ${capture} is not a MaxMind DB (.mmdb) file: no metadata section (the "\\xAB\\xCD\\xEFMaxMind.com" marker) in the last 128 KiB\n`,
    );
    const missing = await cli(['analyze', capture, '--mmdb', join(dir, 'GeoLite2-ASN.mmdb')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read MaxMind DB file .*GeoLite2-ASN.mmdb: ENOENT/);
  });

  it('--mmdb (repeatable) files are used', async () => {
    const r = await cli(['analyze', capture, '--format', 'json', '--mmdb', TINY, '--mmdb', country.file(6).info.path]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as AnalyzeReport;
    expect(report.contacts.find((c) => c.serverIp === '2400:cb00::1')?.country).toBe(country.countryOf('2400:cb00::1'));
  });

  it('--rdap: asks the registry (here on loopback), caches in the data dir, says so on stderr', async () => {
    srv = await startRdapServer(registry);
    process.env.BANDGUARD_RDAP_URL = `${srv.base}/rdap`;
    const dataDir = join(dir, 'data');
    const r = await cli(['analyze', capture, '--format', 'json', '--rdap', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as AnalyzeReport;
    const byIp = new Map(report.contacts.map((c) => [c.serverIp, c]));
    expect(byIp.get('8.8.8.8')).toMatchObject({ asn: 15169, asOrganization: 'Google LLC' });
    expect(byIp.get('193.0.6.139')).toMatchObject({
      asn: null,
      asOrganization: 'Reseaux IP Europeens Network Coordination Centre (RIPE NCC)',
    });
    expect(byIp.get('2400:cb00::1')).toMatchObject({ asn: 13335, asOrganization: 'Cloudflare, Inc.' });
    expect(byIp.get('198.51.100.80')).toMatchObject({ asn: null, asOrganization: null });
    // The documentation address was never asked about.
    expect([...srv.requests].sort()).toEqual(['/rdap/ip/193.0.6.139', '/rdap/ip/2400:cb00::1', '/rdap/ip/8.8.8.8']);
    expect(r.stderr).toMatch(/RDAP: asking the registries .* at most 10 s/);
    expect(r.stderr).toMatch(/0 owner\(s\) already cached, 3 asked: 3 answered, 0 failed \(3 contact\(s\) filled\)/);

    // Second run: everything from the SQLite cache in the data dir.
    const again = await cli(['analyze', capture, '--format', 'json', '--rdap', '--data-dir', dataDir]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/3 owner\(s\) already cached, 0 asked/);
    expect(srv.requests).toHaveLength(3);
    expect((JSON.parse(again.stdout) as AnalyzeReport).contacts.find((c) => c.serverIp === '8.8.8.8')?.asn).toBe(15169);
  });

  it('--rdap with a registry that hangs: analyze waits at most --rdap-wait and says what is missing', async () => {
    srv = await startRdapServer(() => {
      /* hang */
    });
    process.env.BANDGUARD_RDAP_URL = srv.base;
    const t0 = performance.now();
    const r = await cli([
      'analyze',
      capture,
      '--format',
      'json',
      '--rdap',
      '--rdap-wait',
      '0.5',
      '--data-dir',
      join(dir, 'hang'),
    ]);
    const ms = performance.now() - t0;
    expect(r.code).toBe(0);
    expect(ms).toBeLessThan(3000);
    expect(r.stderr).toMatch(/3 asked: 0 answered, 0 failed, 3 unanswered after 0\.\d s \(left out\)/);
    const report = JSON.parse(r.stdout) as AnalyzeReport;
    expect(report.contacts.every((c) => c.asn === null)).toBe(true);
    expect(report.contacts.find((c) => c.serverIp === '8.8.8.8')?.country).toBe(country.countryOf('8.8.8.8'));
  });

  it('bad --rdap-wait and BANDGUARD_RDAP_URL are usage errors', async () => {
    expect((await cli(['analyze', capture, '--rdap', '--rdap-wait', 'soon'])).code).toBe(2);
    process.env.BANDGUARD_RDAP_URL = 'file:///etc/passwd';
    const r = await cli(['analyze', capture, '--rdap', '--data-dir', join(dir, 'bad')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/BANDGUARD_RDAP_URL must be an http\(s\) URL/);
  });
});
