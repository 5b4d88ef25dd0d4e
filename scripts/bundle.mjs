#!/usr/bin/env node
// Bundles the compiled command line (dist/src/bin/bandguard.js) into dist/bundle/: the executable plus
// chunks that commands load on demand (esbuild code splitting keeps `analyze` from loading express, SQLite
// or BLE). Packages stay in node_modules (native modules, data files found next to their package.json).
// Shipped files (data/, dist/web) are still found by walking up from the bundle (src/core/paths.ts).
//
// Files are replaced atomically (written aside, then renamed) and only when they changed, so an agent started
// from the bundle by one test file keeps working while another test file builds again; chunks no longer
// referenced are removed afterwards.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const result = await build({
  entryPoints: [join(root, 'dist', 'src', 'bin', 'bandguard.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  write: false,
});
const written = new Set();
for (const f of result.outputFiles) {
  written.add(f.path);
  if (existsSync(f.path) && Buffer.from(f.contents).equals(readFileSync(f.path))) continue;
  mkdirSync(dirname(f.path), { recursive: true });
  const tmp = `${f.path}.${process.pid}.tmp`;
  writeFileSync(tmp, f.contents, { mode: f.path.endsWith('bandguard.js') ? 0o755 : 0o644 });
  renameSync(tmp, f.path);
}
chmodSync(join(outdir, 'bandguard.js'), 0o755);
const chunks = join(outdir, 'chunks');
for (const name of existsSync(chunks) ? readdirSync(chunks) : []) {
  const p = join(chunks, name);
  if (!written.has(p) && !name.endsWith('.tmp')) rmSync(p, { force: true });
}
process.stdout.write(`bundle: dist/bundle/bandguard.js and ${result.outputFiles.length - 1} chunk(s)\n`);
