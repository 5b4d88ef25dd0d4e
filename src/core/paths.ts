/** Where the data that ships with bandguard (data/…) lives, from src/ in development and dist/src/ installed. */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));

/**
 * The first `rel` (e.g. 'data/parties') found walking up from this module, checked to be a directory or a
 * file as asked; throws with a clear message when the package is incomplete.
 */
export function findShipped(rel: string, kind: 'dir' | 'file'): string {
  let dir = root;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, rel);
    try {
      const st = statSync(candidate);
      if (kind === 'dir' ? st.isDirectory() : st.isFile()) return candidate;
    } catch {
      // not here; go up
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`${rel} not found above ${root}: is the bandguard package complete?`);
}
