/**
 * `bandguard demo`: what bandguard does, in seconds, on any machine. The agent starts on a throwaway data
 * directory and the bundled captures of phones running wearable companion apps (recorded from real clients)
 * are replayed through its live path — packet queue, pipeline, store — as if they came from the access
 * point; the demo prints what the store then holds (the same table as `analyze`) and the agent's status.
 * Then simulated bands are paired and synced through the same BLE code as the radio.
 * `--serve` keeps the agent running until Ctrl-C with the dashboard on 127.0.0.1 (`--listen HOST:PORT` to
 * change; a free port when 8080 is taken), a generated password, the simulated bands and the firewall in
 * dry-run (rules are shown, never applied).
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../agent/agent.js';
import { storedReport } from '../agent/storedReport.js';
import { type RunningApi, startApi } from '../api/compose.js';
import { runBandCommand } from '../ble/cli.js';
import { type Io, parseCommandArgs } from '../cli.js';
import { loadConfig } from '../config/load.js';
import { findShipped } from '../core/paths.js';
import { ReplaySource } from '../net/capture/replaySource.js';
import { defaultClassifier } from '../net/classify/classifier.js';
import { formatTable } from '../net/format.js';
import { parseSpeed } from './start.js';
import { collectStatus, formatStatus } from './status.js';

/** data/demo, found by walking up from this module (works from src/ and from dist/src/). */
export function demoDir(): string {
  return findShipped('data/demo', 'dir');
}

export async function runDemo(args: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const { values } = parseCommandArgs(args, {
    keep: { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
    speed: { type: 'string' },
    listen: { type: 'string' },
  });
  const speed = parseSpeed((values.speed as string | undefined) ?? '0');
  const dataDir = mkdtempSync(join(tmpdir(), 'bandguard-demo-'));
  let agent: Agent | null = null;
  let api: RunningApi | null = null;
  try {
    const dir = demoDir();
    const captures = readdirSync(dir)
      .filter((f) => /\.pcap(ng)?(\.gz)?$/.test(f))
      .sort()
      .map((f) => join(dir, f));
    io.stdout(`bandguard demo — throwaway data dir ${dataDir}\n\n`);
    io.stdout(
      `1. The agent, fed the bundled capture (${captures.map((c) => c.split('/').pop()).join(', ')}) through its live path\n\n`,
    );
    // The demo's own settings only: the user's environment and config files are not involved.
    // With --serve the agent also runs the simulated bands, so the dashboard can pair and sync them.
    const { config } = loadConfig({
      env: {},
      flags: {
        dataDir,
        'ble.enabled': values.serve === true,
        'ble.simulate': true,
        safe: true,
        'capture.enabled': false,
      },
    });
    agent = await Agent.start({ config, source: new ReplaySource(captures, { speed }) });
    await agent.finishSource();
    io.stdout(formatTable(storedReport(agent.store, {}, defaultClassifier())));
    io.stdout('\n$ bandguard status\n');
    io.stdout(formatStatus(collectStatus(dataDir)));
    io.stdout('\n2. A band, paired and synced locally (simulated radio, real protocol bytes)\n\n');
    const ctx = { dataDir, simulate: true, stdout: io.stdout, stderr: io.stderr };
    for (const cmd of [['scan'], ['pair', 'c80f10a1b203'], ['pair', 'd05fb8112233'], ['sync'], ['list']]) {
      io.stdout(`$ bandguard band ${cmd.join(' ')} --simulate\n`);
      const code = await runBandCommand(cmd, ctx);
      if (code !== 0) return code;
      io.stdout('\n');
    }
    if (values.serve) {
      const password = randomBytes(12).toString('base64url');
      const listen = typeof values.listen === 'string' ? values.listen : '127.0.0.1:8080';
      const open = (l: string) => startApi({ agent: agent!, config, firewallDryRun: true, password, listen: l });
      try {
        api = await open(listen);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || values.listen !== undefined) throw e;
        api = await open('127.0.0.1:0');
      }
      io.stdout(
        `Dashboard: ${api.url}\nLogin password: ${password}\n(firewall in dry-run: rules are shown, never applied)\n\n`,
      );
      io.stdout(`The agent keeps running on ${dataDir} (pid ${process.pid}); Ctrl-C stops it.\n`);
      io.stdout(`In another shell: bandguard report --data-dir ${dataDir} --format json\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    io.stdout('Try it on your own capture: bandguard analyze FILE.pcap --format table|json|csv\n');
    return 0;
  } finally {
    await api?.close();
    await agent?.stop();
    if (values.keep) io.stdout(`(data kept in ${dataDir})\n`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}
