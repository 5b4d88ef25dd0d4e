/**
 * The agent's live path (ReplaySource → packet queue → pipeline → StoreWriter → SQLite) read back with
 * `storedReport` must equal `analyze` of the same capture: the same clients, contacts (names, counters,
 * classification), lookups and capture counters. Real captures, a real SQLite file.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent/agent.js';
import { storedReport } from '../../../src/agent/storedReport.js';
import { loadConfig } from '../../../src/config/load.js';
import { analyzeFiles } from '../../../src/net/analyze.js';
import { ReplaySource } from '../../../src/net/capture/replaySource.js';
import { defaultClassifier } from '../../../src/net/classify/classifier.js';
import type { AnalyzeReport } from '../../../src/net/report.js';
import { CAPTURES_DIR } from '../../helpers/captures.js';
import { FakeCron } from './fakeCron.js';

const REAL = join(import.meta.dirname, '..', '..', 'fixtures', 'pcap', 'real');
const NDPI_DIR = process.env.BANDGUARD_NDPI_CAPTURES ?? `${CAPTURES_DIR}/ndpi`;
const NDPI = ['android.pcap', 'facebook.pcap', 'quic-23.pcap', 'dns.pcap', 'google_ssl.pcap', 'tls_2_reasms.pcapng'];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-stored-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function throughAgent(files: string[], bucketMinutes = 60): Promise<AnalyzeReport> {
  const { config } = loadConfig({
    env: {},
    flags: { dataDir: dir, 'ble.enabled': false, 'capture.enabled': false, 'store.bucketMinutes': bucketMinutes },
  });
  const agent = await Agent.start({ config, source: new ReplaySource(files, { speed: 0 }), cron: new FakeCron() });
  try {
    await agent.finishSource();
    return storedReport(agent.store, {}, defaultClassifier());
  } finally {
    await agent.stop();
  }
}

function comparable(r: AnalyzeReport) {
  const { files: _files, ...capture } = r.capture;
  return { capture, clients: r.clients, contacts: r.contacts, lookups: r.lookups };
}

describe('report from the store equals analyze of the same capture', () => {
  it('mixed-phones.pcap (two phones, IPv4 and IPv6, DHCP host names)', async () => {
    const file = join(REAL, 'mixed-phones.pcap');
    const [stored, analyzed] = [
      await throughAgent([file]),
      await analyzeFiles([file], { classifier: defaultClassifier() }),
    ];
    expect(
      stored.clients
        .map((c) => c.hostname)
        .filter(Boolean)
        .sort(),
    ).toEqual(['Galaxy-S23', 'Redmi-Note-12']);
    expect(stored.contacts.length).toBeGreaterThan(5);
    expect(comparable(stored)).toEqual(comparable(analyzed));
  });

  it('every real-client capture together, in 5-minute buckets', async () => {
    const files = [
      'dhcp.pcap',
      'dns-dig.pcap',
      'http-curl.pcap',
      'tls-openssl.pcap',
      'tls-chromium-pq.pcap',
      'mixed-phones.pcap',
    ].map((f) => join(REAL, f));
    const stored = await throughAgent(files, 5);
    const analyzed = await analyzeFiles(files, { classifier: defaultClassifier() });
    expect(comparable(stored)).toEqual(comparable(analyzed));
  });

  const ndpi = NDPI.map((f) => join(NDPI_DIR, f)).filter((f) => existsSync(f));
  it.skipIf(ndpi.length === 0)(
    `nDPI captures${ndpi.length === 0 ? ` (skipped: none in ${NDPI_DIR})` : ''}`,
    async () => {
      for (const file of ndpi) {
        const stored = await throughAgent([file]);
        const analyzed = await analyzeFiles([file], { classifier: defaultClassifier() });
        expect(comparable(stored), file).toEqual(comparable(analyzed));
        rmSync(dir, { recursive: true, force: true });
        dir = mkdtempSync(join(tmpdir(), 'bg-stored-'));
      }
    },
  );
});
