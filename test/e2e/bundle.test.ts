/**
 * The shipped executable is a bundle (scripts/bundle.mjs: dist/bundle/bandguard.js and chunks loaded per
 * command). It must behave exactly as the compiled modules do: the same analyze report byte for byte, data
 * files found from the bundle's directory, the same exit codes, and no module of other commands loaded.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { capturePath } from '../helpers/captures.js';
import { buildDist, CLI, cli, ROOT } from './agentHarness.js';

// Fixtures made in namespaces (TEST-NET addresses, a leaking HTTP app) and a public capture with real
// addresses (countries from the bundled database).
const CAPTURES = [
  ...['mixed-phones.pcap', 'apps-phone.pcap', 'http-curl.pcap'].map((f) =>
    join(ROOT, 'test', 'fixtures', 'pcap', 'real', f),
  ),
  capturePath('ndpi', 'android.pcap'),
];

beforeAll(async () => {
  await buildDist();
}, 300_000);

async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe('the bundled executable', () => {
  it('gives the analyze report of the compiled modules, in every format', async () => {
    for (const format of ['json', 'csv', 'table']) {
      const args = ['analyze', '--format', format, ...CAPTURES];
      const bundled = await cli(args, 60_000);
      const direct = await inProcess(args);
      expect(bundled.code).toBe(0);
      expect(direct.code).toBe(0);
      expect(bundled.stdout).toBe(direct.stdout);
    }
    const report = JSON.parse((await cli(['analyze', '--format', 'json', ...CAPTURES], 60_000)).stdout);
    // Vendors (OUI table), countries (mmdb), parties and leaks (dictionaries): every shipped data file was found.
    expect(report.clients.some((c: { vendor: string | null }) => c.vendor !== null)).toBe(true);
    expect(report.contacts.some((c: { country: string | null }) => c.country !== null)).toBe(true);
    expect(report.contacts.some((c: { organization: string | null }) => c.organization !== null)).toBe(true);
    expect(report.leaks.length).toBeGreaterThan(0);
  }, 120_000);

  it('keeps the exit codes and messages: bad input is 2 with one line, help is 0', async () => {
    const notCapture = await cli(['analyze', join(ROOT, 'package.json')]);
    expect(notCapture.code).toBe(2);
    expect(notCapture.stdout).toBe('');
    expect(notCapture.stderr.trim().split('\n')).toHaveLength(1);
    expect(notCapture.stderr).toBe((await inProcess(['analyze', join(ROOT, 'package.json')])).stderr);
    const help = await cli(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: bandguard <command>');
  });

  it('loads only what analyze needs (no express, SQLite or BLE chunks)', async () => {
    // The bundle's own trace: list the chunks the process imported, via a loader hook that records them.
    const code = `
      import { register } from 'node:module';
      const seen = [];
      register('data:text/javascript,' + encodeURIComponent(\`
        export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.includes('/dist/bundle/')) console.error('LOADED ' + r.url); return r; }
        export async function load(u, c, next) { return next(u, c); }\`), import.meta.url);
      process.argv.splice(1, 0, ${JSON.stringify(CLI)});
      await import(${JSON.stringify(`file://${CLI}`)});`;
    const out = await new Promise<string>((resolve) => {
      execFile(
        process.execPath,
        ['--input-type=module', '-e', code, '--', 'analyze', '--format', 'json', '--out', '/dev/null', CAPTURES[0]!],
        { timeout: 60_000 },
        (_err, _stdout, stderr) => resolve(stderr),
      );
    });
    const loaded = out
      .split('\n')
      .filter((l) => l.startsWith('LOADED '))
      .map((l) => l.slice(l.lastIndexOf('/') + 1));
    expect(loaded.some((f) => f.startsWith('analyze-'))).toBe(true);
    const commandChunks = readdirSync(join(ROOT, 'dist', 'bundle', 'chunks')).filter((f) =>
      /^(start|demo|band|firewall|db|doctor|status|report|block|rules|setupAp|backup|restore)-/.test(f),
    );
    expect(commandChunks.length).toBeGreaterThan(5);
    for (const f of commandChunks) expect(loaded).not.toContain(f);
  }, 60_000);
});
