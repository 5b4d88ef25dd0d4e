// Copies the dashboard's static files (HTML, CSS, icons) from src/web to dist/web, next to the modules tsc
// compiled there. Part of `npm run build`.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'src', 'web');
const to = join(root, 'dist', 'web');
mkdirSync(to, { recursive: true });
let n = 0;
for (const f of readdirSync(from)) {
  if (/\.(html|css|svg|png|ico|webmanifest)$/.test(f)) {
    copyFileSync(join(from, f), join(to, f));
    n++;
  }
}
console.log(`copy-web: ${n} static file(s) to dist/web`);
