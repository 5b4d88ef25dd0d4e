/**
 * Helpers for the agent's end-to-end tests: build dist/ once per test file (the agent runs as a real child
 * process of the shipped executable, `node dist/bundle/bandguard.js start ...`), run CLI commands, and wait
 * for conditions with bounds.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'bundle', 'bandguard.js');

/** Compiles src/ into dist/ (type errors elsewhere in the tree do not stop the emit), then bundles it. */
export async function buildDist(): Promise<void> {
  const run = (args: string[]) =>
    new Promise<string>((resolve) => {
      execFile(process.execPath, args, { cwd: ROOT, timeout: 240_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
        resolve(`${err?.message ?? ''} ${stdout} ${stderr}`),
      );
    });
  const tsc = await run([
    join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join(ROOT, 'tsconfig.build.json'),
  ]);
  const bundle = await run([join(ROOT, 'scripts', 'bundle.mjs')]);
  if (!existsSync(CLI)) throw new Error(`the build did not produce ${CLI}: ${tsc} ${bundle}`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/bundle/bandguard.js ...args` on the host (bounded). */
export function cli(args: string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20, env },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : null
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Polls `check` until it returns a value (not undefined) or the time is up; then throws with `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
