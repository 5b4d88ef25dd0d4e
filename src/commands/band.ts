/** `bandguard band ...`: the BLE side for people on SSH (src/ble/cli.ts does the work). */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { runBandCommand } from '../ble/cli.js';
import type { Io } from '../cli.js';

export function dataDirFrom(args: string[]): { dataDir: string; rest: string[] } {
  const rest: string[] = [];
  let dataDir = process.env.BANDGUARD_DATA_DIR ?? join(homedir(), '.bandguard');
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--data-dir' && args[i + 1] !== undefined) {
      dataDir = args[++i]!;
    } else if (a.startsWith('--data-dir=')) {
      dataDir = a.slice('--data-dir='.length);
    } else {
      rest.push(a);
    }
  }
  return { dataDir, rest };
}

export async function runBand(args: string[], io: Io): Promise<number> {
  const { dataDir, rest } = dataDirFrom(args);
  const simulate = rest.includes('--simulate');
  return runBandCommand(
    rest.filter((a) => a !== '--simulate'),
    { dataDir, simulate, stdout: io.stdout, stderr: io.stderr },
  );
}
