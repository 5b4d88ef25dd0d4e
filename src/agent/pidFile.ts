/**
 * The agent's pid/lock file in the data directory, so that CLI commands find the running agent of a data
 * dir and a second agent on the same data dir refuses to start. A file left by a crashed agent (its pid is
 * no longer alive) is taken over. The agent's health is published next to it (agent-status.json), written
 * atomically (temp file + rename).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PID_FILE = 'agent.pid';
export const STATUS_FILE = 'agent-status.json';

export interface PidInfo {
  pid: number;
  startedAt: string;
  interface: string | null;
  listen: string;
  safe: boolean;
  version: string;
}

export class AgentLockedError extends Error {
  override readonly name = 'AgentLockedError';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running agent of a data dir, or null (no file, unreadable, or its process is gone). */
export function readPidFile(dataDir: string): PidInfo | null {
  let info: PidInfo;
  try {
    info = JSON.parse(readFileSync(join(dataDir, PID_FILE), 'utf8')) as PidInfo;
  } catch {
    return null;
  }
  if (!Number.isInteger(info.pid) || info.pid <= 0) return null;
  return alive(info.pid) ? info : null;
}

/** Takes the lock; throws AgentLockedError when a live agent holds it. */
export function acquirePidFile(dataDir: string, info: PidInfo): void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, PID_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(info)}\n`, { flag: 'wx', mode: 0o644 });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const other = readPidFile(dataDir);
      if (other && other.pid !== process.pid) {
        throw new AgentLockedError(
          `another agent (pid ${other.pid}, since ${other.startedAt}) is running on ${dataDir}; stop it first or use another --data-dir`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new AgentLockedError(`cannot take the lock ${path}`);
}

export function releasePidFile(dataDir: string): void {
  const path = join(dataDir, PID_FILE);
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as PidInfo;
    if (info.pid === process.pid) rmSync(path, { force: true });
  } catch {
    // not ours or already gone
  }
}

export function writeStatusFile(dataDir: string, status: unknown): void {
  const path = join(dataDir, STATUS_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(status, null, 2)}\n`);
  renameSync(tmp, path);
}

export function readStatusFile(dataDir: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(join(dataDir, STATUS_FILE), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}
