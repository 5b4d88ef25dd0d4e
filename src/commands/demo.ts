/**
 * `bandguard demo`: what bandguard does, in seconds, on any machine. It analyzes the bundled capture of
 * phones running wearable companion apps (recorded from real clients), then pairs and syncs simulated bands
 * through the same BLE code as the radio, all on a throwaway data directory.
 */

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBandCommand } from '../ble/cli.js';
import { type Io, parseCommandArgs } from '../cli.js';
import { findShipped } from '../core/paths.js';
import { analyzeFiles } from '../net/analyze.js';
import { defaultClassifier } from '../net/classify/classifier.js';
import { formatTable } from '../net/format.js';

/** data/demo, found by walking up from this module (works from src/ and from dist/src/). */
export function demoDir(): string {
  return findShipped('data/demo', 'dir');
}

export async function runDemo(args: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs(args, { keep: { type: 'boolean', default: false } });
  const dataDir = mkdtempSync(join(tmpdir(), 'bandguard-demo-'));
  try {
    const dir = demoDir();
    const captures = readdirSync(dir)
      .filter((f) => /\.pcap(ng)?(\.gz)?$/.test(f))
      .map((f) => join(dir, f));
    io.stdout(`bandguard demo — throwaway data dir ${dataDir}\n\n`);
    io.stdout(
      `1. Who the companion apps talk to (bundled capture: ${captures.map((c) => c.split('/').pop()).join(', ')})\n\n`,
    );
    const report = await analyzeFiles(captures, { classifier: defaultClassifier() });
    io.stdout(formatTable(report));
    io.stdout('\n2. A band, paired and synced locally (simulated radio, real protocol bytes)\n\n');
    const ctx = { dataDir, simulate: true, stdout: io.stdout, stderr: io.stderr };
    for (const cmd of [['scan'], ['pair', 'c80f10a1b203'], ['pair', 'd05fb8112233'], ['sync'], ['list']]) {
      io.stdout(`$ bandguard band ${cmd.join(' ')} --simulate\n`);
      const code = await runBandCommand(cmd, ctx);
      if (code !== 0) return code;
      io.stdout('\n');
    }
    io.stdout('Try it on your own capture: bandguard analyze FILE.pcap --format table|json|csv\n');
    return 0;
  } finally {
    if (values.keep) io.stdout(`(data kept in ${dataDir})\n`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}
