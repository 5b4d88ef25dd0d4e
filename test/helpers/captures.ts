/**
 * Where the public test captures are: `$BANDGUARD_CAPTURES`, else `shared/captures` beside the repository (how
 * CI lays out a clone), else `/work/shared/captures`. One place, so that no test hard-codes a machine's path.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '..', '..');

export const CAPTURES_DIR: string =
  [process.env.BANDGUARD_CAPTURES, resolve(repoRoot, '..', 'shared', 'captures'), '/work/shared/captures'].find(
    (p): p is string => p !== undefined && existsSync(p),
  ) ?? resolve(repoRoot, '..', 'shared', 'captures');

/** A path under the captures directory, e.g. `capturePath('ndpi', 'dns.pcap')`. */
export function capturePath(...parts: string[]): string {
  return join(CAPTURES_DIR, ...parts);
}
