/**
 * RDAP in the live agent (geo.rdap): the agent replays a capture through the live path, hands the server
 * addresses it stored to the registry (here a real HTTP server on loopback) in a round, and the stored report
 * (storedReport and `bandguard report`) then shows asn/asOrganization from the owner cache in the agent's
 * database. A hanging registry blocks nothing: capture, storage, reports and stop go on; requests stay
 * within the concurrency cap. Off by default: nothing is asked.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent/agent.js';
import { openGeo, storedClassifier } from '../../../src/agent/geo.js';
import { storedReport } from '../../../src/agent/storedReport.js';
import { main } from '../../../src/cli.js';
import { loadConfig } from '../../../src/config/load.js';
import { ReplaySource } from '../../../src/net/capture/replaySource.js';
import { parseIp } from '../../../src/net/geo/ip.js';
import type { AnalyzeReport } from '../../../src/net/report.js';
import { frame, pcapFile } from '../../helpers/frames.js';
import { writeMmdb } from '../net/geo/mmdbSpec.js';
import { fixture, type Handler, type RdapTestServer, sendJson, startRdapServer } from '../net/geo/rdapServer.js';
import { FakeCron } from './fakeCron.js';

const PHONE = '64:cc:2e:11:22:33';
const SERVERS = ['8.8.8.8', '193.0.6.139', '2400:cb00::1', '198.51.100.80'];

let dir: string;
let srv: RdapTestServer | null = null;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-agent-rdap-'));
});
afterEach(async () => {
  await srv?.close();
  srv = null;
  rmSync(dir, { recursive: true, force: true });
});

/** A phone opening TCP connections (SYN, SYN-ACK, a request) to global servers and one documentation address. */
function capture(): string {
  const packets: { tsMs: number; data: Uint8Array }[] = [];
  let t = Date.now() - 60_000;
  SERVERS.forEach((server, i) => {
    const phone = server.includes(':') ? '2001:db8::10' : '192.0.2.10';
    const sport = 40_000 + i;
    packets.push(
      {
        tsMs: t++,
        data: frame({ srcMac: PHONE, src: phone, dst: server, proto: 'tcp', sport, dport: 443, flags: 0x02 }),
      },
      {
        tsMs: t++,
        data: frame({ dstMac: PHONE, src: server, dst: phone, proto: 'tcp', sport: 443, dport: sport, flags: 0x12 }),
      },
      {
        tsMs: t++,
        data: frame({
          srcMac: PHONE,
          src: phone,
          dst: server,
          proto: 'tcp',
          sport,
          dport: 443,
          payload: 'x'.repeat(40),
        }),
      },
    );
  });
  const path = join(dir, 'servers.pcap');
  writeFileSync(path, pcapFile(packets));
  return path;
}

const registry: Handler = (_req, res, path) => {
  const ip = decodeURIComponent(path.split('/').pop()!);
  if (ip === '8.8.8.8') return sendJson(res, fixture('arin-ip-v4.json'));
  if (ip === '193.0.6.139') return sendJson(res, fixture('ripe-ip-v4.json'));
  if (ip === '2400:cb00::1') return sendJson(res, fixture('apnic-ip-v6.json'));
  sendJson(res, { errorCode: 404 }, 404);
};

function config(rdap: boolean) {
  return loadConfig({
    env: {},
    flags: {
      dataDir: dir,
      'ble.enabled': false,
      'firewall.mode': 'off',
      'geo.rdap': rdap,
      'geo.rdapIntervalSeconds': 5,
    },
  }).config;
}

async function startAgent(rdap: boolean, rdapUrl: string) {
  const cfg = config(rdap);
  const agent = await Agent.start({
    config: cfg,
    source: new ReplaySource(capture(), { speed: 0 }),
    cron: new FakeCron(),
    lock: false,
    rdapUrl,
  });
  await agent.finishSource();
  return { agent, cfg };
}

function byServer(report: AnalyzeReport) {
  return new Map(report.contacts.map((c) => [c.serverIp, c]));
}

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

describe('RDAP in the live agent', () => {
  it('every interval the stored servers go to the registry; the stored report then shows asn and owner', async () => {
    srv = await startRdapServer(registry);
    const { agent, cfg } = await startAgent(true, `${srv.base}/rdap`);
    try {
      // Before the round: country from the bundled database, no owner.
      const report = (r: typeof agent) =>
        storedReport(r.store, {}, storedClassifier(openGeo(cfg, r.db, { online: false }).geo));
      expect(byServer(report(agent)).get('8.8.8.8')).toMatchObject({ asn: null, asOrganization: null });
      expect(srv.requests).toEqual([]);

      // The agent's own timer (geo.rdapIntervalSeconds = 5) runs the round.
      const deadline = Date.now() + 15_000;
      while (agent.status().geo.lastResult === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(agent.status().geo.lastResult).toMatchObject({ resolved: 3, failed: 0, skipped: 1 });
      // The documentation address is never sent to a registry.
      expect([...srv.requests].sort()).toEqual(['/rdap/ip/193.0.6.139', '/rdap/ip/2400:cb00::1', '/rdap/ip/8.8.8.8']);
      expect(srv.maxOpen).toBeLessThanOrEqual(2);

      const after = byServer(report(agent));
      expect(after.get('8.8.8.8')).toMatchObject({ asn: 15169, asOrganization: 'Google LLC' });
      expect(after.get('193.0.6.139')?.asOrganization).toBe(
        'Reseaux IP Europeens Network Coordination Centre (RIPE NCC)',
      );
      expect(after.get('2400:cb00::1')).toMatchObject({ asn: 13335, asOrganization: 'Cloudflare, Inc.' });
      expect(after.get('198.51.100.80')).toMatchObject({ asn: null, asOrganization: null, country: null });
      expect(agent.status().geo).toMatchObject({ rdap: true, rounds: 1, resolved: 3, failed: 0, waiting: 0 });

      // Nothing new since the last round: no round, no request.
      expect(agent.geoEnricher.round()).toBeNull();
    } finally {
      await agent.stop();
    }
    // `bandguard report` (another process in real life) reads the same cache from the data dir.
    const r = await cli(['report', '--data-dir', dir, '--format', 'json']);
    expect(r.code).toBe(0);
    const fromCli = byServer(JSON.parse(r.stdout) as AnalyzeReport);
    expect(fromCli.get('8.8.8.8')).toMatchObject({ asn: 15169, asOrganization: 'Google LLC' });
    expect(fromCli.get('2400:cb00::1')).toMatchObject({ asn: 13335, asOrganization: 'Cloudflare, Inc.' });
    expect(srv.requests).toHaveLength(3);
  });

  it('a registry that hangs blocks nothing: capture, storage, report and stop go on', async () => {
    srv = await startRdapServer(() => {
      /* never answers */
    });
    const t0 = performance.now();
    const { agent, cfg } = await startAgent(true, srv.base);
    let settled = false;
    try {
      const round = agent.geoEnricher.round();
      expect(round).not.toBeNull();
      void round!.then(() => {
        settled = true;
      });
      // Requests are open, within the cap; the event loop stays free.
      const deadline = Date.now() + 5_000;
      while (srv.open === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(srv.open).toBeGreaterThan(0);
      expect(srv.maxOpen).toBeLessThanOrEqual(2);
      const lag0 = performance.now();
      await new Promise((r) => setImmediate(r));
      expect(performance.now() - lag0).toBeLessThan(100);
      agent.tick();
      const report = storedReport(agent.store, {}, storedClassifier(openGeo(cfg, agent.db, { online: false }).geo));
      expect(report.contacts).toHaveLength(4);
      expect(report.contacts.every((c) => c.asn === null && c.asOrganization === null)).toBe(true);
      expect(agent.status().geo).toMatchObject({ rounds: 1 });
      expect(agent.status().geo.backlog).toBeGreaterThan(0);
      expect(settled).toBe(false);
    } finally {
      const s0 = performance.now();
      await agent.stop();
      expect(performance.now() - s0).toBeLessThan(2_000);
    }
    // Stopping cancelled the lookups: the round settles (as unfinished).
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(true);
    expect(performance.now() - t0).toBeLessThan(8_000); // well inside the client's 8 s request timeout
  });

  it('geo.mmdb files give the stored report asn/owner without any network; a bad file is one line, the rest works', async () => {
    const mmdb = join(dir, 'asn.mmdb');
    writeFileSync(
      mmdb,
      writeMmdb(
        [
          {
            addr: parseIp('8.8.8.0')!,
            prefix: 24,
            data: { autonomous_system_number: 64511, autonomous_system_organization: 'From The User File' },
          },
        ],
        { ipVersion: 4, recordSize: 24, databaseType: 'GeoLite2-ASN', description: 'bandguard live test' },
      ),
    );
    const { agent } = await startAgent(false, 'http://127.0.0.1:9/');
    await agent.stop();
    const cfgFile = join(dir, 'bandguard.json');
    writeFileSync(cfgFile, JSON.stringify({ dataDir: dir, geo: { mmdb: [mmdb, join(dir, 'missing.mmdb')] } }));
    const r = await cli(['report', '--config', cfgFile, '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^bandguard: geo\.mmdb: .*missing\.mmdb.*ENOENT/);
    const contacts = byServer(JSON.parse(r.stdout) as AnalyzeReport);
    expect(contacts.get('8.8.8.8')).toMatchObject({ asn: 64511, asOrganization: 'From The User File' });
    expect(contacts.get('193.0.6.139')).toMatchObject({ asn: null, asOrganization: null });
  });

  it('off by default: no address is handed to a registry', async () => {
    srv = await startRdapServer(registry);
    const { agent } = await startAgent(false, srv.base);
    try {
      expect(agent.geoEnricher.round()).toBeNull();
      expect(agent.status().geo).toMatchObject({ rdap: false, rounds: 0, waiting: 0 });
    } finally {
      await agent.stop();
    }
    expect(srv.requests).toEqual([]);
  });
});
