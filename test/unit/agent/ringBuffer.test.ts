/**
 * The agent's optional pcap ring (capture.ringBuffer): a real capture replayed through the live path lands in
 * <dataDir>/pcap (0700, files 0600), readable by our reader and by tshark with the packet count the pipeline
 * saw; with the ring off nothing is written; the ring's counters are in the agent's status.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent/agent.js';
import { loadConfig } from '../../../src/config/load.js';
import { readCaptureFile } from '../../../src/net/capture/pcapFile.js';
import { ReplaySource } from '../../../src/net/capture/replaySource.js';
import { hasTshark } from '../../helpers/tshark.js';
import { FakeCron } from './fakeCron.js';

const REAL = new URL('../../fixtures/pcap/real/', import.meta.url).pathname;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-agent-ring-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function run(ring: boolean) {
  const config = loadConfig({
    env: {},
    flags: {
      dataDir: dir,
      'ble.enabled': false,
      'firewall.mode': 'off',
      'capture.ringBuffer.enabled': ring,
      'capture.ringBuffer.fileMiB': 1,
    },
  }).config;
  const files = ['apps-phone.pcap', 'mixed-phones.pcap', 'dhcp.pcap'].map((f) => join(REAL, f));
  const agent = await Agent.start({
    config,
    source: new ReplaySource(files, { speed: 0 }),
    cron: new FakeCron(),
    lock: false,
  });
  try {
    await agent.finishSource();
    return { status: agent.status(), packets: agent.pipeline.stats.packets };
  } finally {
    await agent.stop();
  }
}

describe('agent pcap ring buffer', () => {
  it('writes every accepted packet to <dataDir>/pcap, as tshark and our reader read it back', async () => {
    const { status, packets } = await run(true);
    expect(packets).toBeGreaterThan(400);
    const ringDir = join(dir, 'pcap');
    expect(statSync(ringDir).mode & 0o777).toBe(0o700);
    const files = readdirSync(ringDir).filter((f) => f.endsWith('.pcap'));
    expect(files.length).toBe(1);
    const path = join(ringDir, files[0]!);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(status.capture.ringBuffer).toMatchObject({ dropped: 0, errors: 0, files: 1, maxFiles: 8 });
    let n = 0;
    await readCaptureFile(path, () => {
      n++;
    });
    expect(n).toBe(packets);
    if (hasTshark()) {
      const r = spawnSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout.trim().split('\n').length).toBe(packets);
    }
  });

  it('is off by default: nothing on disk, null in status', async () => {
    const { status } = await run(false);
    expect(existsSync(join(dir, 'pcap'))).toBe(false);
    expect(status.capture.ringBuffer).toBeNull();
  });
});
