/**
 * `bandguard restore FILE`: replaces the database with a backup. Refused while the agent runs on the data
 * dir. The backup is checked first; the current database is kept beside it (bandguard.db.pre-restore-<time>)
 * and the restored one is migrated to this version's schema.
 */
import { chmodSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE } from '../agent/agent.js';
import { readPidFile } from '../agent/pidFile.js';
import { type Io, parseCommandArgs, UsageError } from '../cli.js';
import { COMMON_FLAGS } from '../config/flags.js';
import { currentVersion, openDatabase } from '../store/db.js';
import { migrations } from '../store/migrations.js';
import { NetStore } from '../store/netStore.js';
import { dataDirFrom, inspectDatabaseFile } from './backup.js';

export async function restoreDatabase(
  dataDir: string,
  file: string,
  now = new Date(),
): Promise<{ kept: string | null; version: number }> {
  const running = readPidFile(dataDir);
  if (running) throw new Error(`the agent (pid ${running.pid}) is running on ${dataDir}: stop it before restoring`);
  if (!existsSync(file)) throw new UsageError(`${file} does not exist`);
  const info = inspectDatabaseFile(file);
  const known = migrations.at(-1)?.version ?? 0;
  if (info.version > known)
    throw new Error(`${file} has schema version ${info.version}, newer than this bandguard (${known})`);
  const target = join(dataDir, DB_FILE);
  let kept: string | null = null;
  if (existsSync(target)) {
    kept = `${target}.pre-restore-${now.toISOString().replace(/[:.]/g, '-')}`;
    const cur = new Database(target);
    try {
      await cur.backup(kept);
      chmodSync(kept, 0o600);
    } finally {
      cur.close();
    }
  }
  const src = new Database(file, { readonly: true });
  try {
    await src.backup(target);
  } finally {
    src.close();
  }
  const db = openDatabase(target);
  try {
    new NetStore(db).audit('cli', 'restore', file, { kept });
    return { kept, version: currentVersion(db) };
  } finally {
    db.close();
  }
}

export async function runRestore(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { ...COMMON_FLAGS });
  if (positionals.length !== 1) throw new UsageError('restore needs exactly one backup FILE');
  const r = await restoreDatabase(dataDirFrom(values), resolve(positionals[0]!));
  io.stdout(
    `restored ${positionals[0]} (schema version ${r.version})${r.kept ? `; the previous database is kept as ${r.kept}` : ''}\n`,
  );
  return 0;
}
