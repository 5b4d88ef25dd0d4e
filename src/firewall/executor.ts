/**
 * The one place where the firewall runs programs (style rule 11): `Executor` with a real implementation
 * (`execFileExecutor`: child_process.execFile with an argv array, never a shell; payloads on stdin; a timeout;
 * every invocation logged with an id, its exit code and stderr) and a dry-run one (`dryRunExecutor`:
 * records and prints what would run, runs nothing).
 *
 * Only the netfilter tools are allowed (an allowlist of program names), and every argument is checked to
 * be a plain printable token: no newline or NUL can sneak into an argv even though no shell is involved.
 * `prefix` runs every command inside a network namespace (`ip netns exec NAME`), which is how the tests
 * drive a hub namespace; it is argv too.
 */
import { execFile } from 'node:child_process';
import { logger } from '../core/logger.js';

const log = logger('firewall:exec');

/** Programs the firewall may run. */
export const ALLOWED_PROGRAMS: ReadonlySet<string> = new Set([
  'iptables',
  'ip6tables',
  'iptables-restore',
  'ip6tables-restore',
  'iptables-save',
  'ip6tables-save',
  'ipset',
  // connection tracking: apply deletes the entries of connections a new block covers (conntrack.ts)
  'conntrack',
]);

export interface ExecRequest {
  argv: readonly string[];
  /** Written to the program's stdin (restore payloads). */
  stdin?: string;
  timeoutMs?: number;
  /**
   * True for commands that change nothing (listing, `--test`). A dry-run executor answers these with
   * an empty, successful result; a real one runs them.
   */
  readOnly?: boolean;
}

export interface ExecResult {
  id: number;
  argv: readonly string[];
  /** Exit code; 124 on timeout, 127 when the program could not be started. */
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface Executor {
  /** True when nothing is really applied (dry-run). */
  readonly dryRun: boolean;
  /** Runs one program. Resolves with its result whatever the exit code; rejects only on a refused argv. */
  run(req: ExecRequest): Promise<ExecResult>;
}

/** An argv the executor refused to run (not an allowed program, or an argument that is not plain text). */
export class ExecRefusedError extends Error {
  override readonly name = 'ExecRefusedError';
}

const ARG = /^[\x21-\x7e]{1,256}$/;
const NETNS = /^[A-Za-z0-9_.-]{1,64}$/;

/** Checks an argv against the allowlist and the plain-token rule. Throws {@link ExecRefusedError}. */
export function checkArgv(argv: readonly string[]): void {
  const program = argv[0];
  if (program === undefined || !ALLOWED_PROGRAMS.has(program)) {
    throw new ExecRefusedError(`refusing to run ${JSON.stringify(program)}: not a netfilter tool`);
  }
  for (const a of argv) {
    if (!ARG.test(a))
      throw new ExecRefusedError(`refusing argument ${JSON.stringify(a.slice(0, 80))}: not a plain token`);
  }
}

let nextId = 1;

export interface ExecFileExecutorOptions {
  /** Run inside this network namespace (`ip netns exec NAME …`). */
  netns?: string;
  /** Default timeout per command (ms); default 30 s. */
  timeoutMs?: number;
  /** Called with every result (after logging); tests and `status` use it. */
  onResult?: (r: ExecResult) => void;
}

/** The production executor: execFile with argv arrays, no shell. */
export function execFileExecutor(opts: ExecFileExecutorOptions = {}): Executor {
  if (opts.netns !== undefined && !NETNS.test(opts.netns)) {
    throw new ExecRefusedError(`bad network namespace name ${JSON.stringify(opts.netns)}`);
  }
  const prefix = opts.netns !== undefined ? ['netns', 'exec', opts.netns] : [];
  return {
    dryRun: false,
    run(req: ExecRequest): Promise<ExecResult> {
      checkArgv(req.argv);
      const id = nextId++;
      const [file, args] = prefix.length > 0 ? ['ip', [...prefix, ...req.argv]] : [req.argv[0]!, req.argv.slice(1)];
      const timeout = req.timeoutMs ?? opts.timeoutMs ?? 30_000;
      const t0 = performance.now();
      log.debug(
        () => `#${id} ${req.argv.join(' ')}${req.stdin !== undefined ? ` <stdin ${req.stdin.length} bytes>` : ''}`,
      );
      return new Promise((resolve) => {
        const child = execFile(
          file,
          args,
          { timeout, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 * 1024, encoding: 'utf8', shell: false },
          (err, stdout, stderr) => {
            const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
            let code = 0;
            if (e) {
              if (typeof e.code === 'number') code = e.code;
              else if (e.killed) code = 124;
              else code = 127;
            }
            const result: ExecResult = {
              id,
              argv: req.argv,
              code,
              stdout: String(stdout ?? ''),
              stderr: String(stderr ?? '') || (e && typeof e.code !== 'number' ? e.message : ''),
              durationMs: Math.round((performance.now() - t0) * 10) / 10,
            };
            const line = `#${id} exit ${code} in ${result.durationMs} ms: ${req.argv.join(' ')}`;
            if (code === 0) log.debug(line);
            else log.debug(() => `${line}: ${result.stderr.trim().slice(0, 500)}`);
            opts.onResult?.(result);
            resolve(result);
          },
        );
        child.stdin?.on('error', () => {
          // The program exited before reading all of stdin; its exit code says why.
        });
        if (req.stdin !== undefined) child.stdin?.end(req.stdin);
        else child.stdin?.end();
      });
    },
  };
}

export interface DryRunRecord {
  id: number;
  argv: readonly string[];
  stdin?: string;
}

/** Records (and optionally prints) every command instead of running it. Read-only commands answer empty. */
export interface DryRunExecutor extends Executor {
  readonly records: DryRunRecord[];
}

export function dryRunExecutor(print?: (text: string) => void): DryRunExecutor {
  const records: DryRunRecord[] = [];
  return {
    dryRun: true,
    records,
    async run(req: ExecRequest): Promise<ExecResult> {
      checkArgv(req.argv);
      const id = nextId++;
      const rec: DryRunRecord = { id, argv: [...req.argv] };
      if (req.stdin !== undefined) rec.stdin = req.stdin;
      records.push(rec);
      if (print && !req.readOnly) {
        print(`# would run: ${req.argv.join(' ')}\n${req.stdin ?? ''}`);
      }
      return { id, argv: req.argv, code: 0, stdout: '', stderr: '', durationMs: 0 };
    },
  };
}
