/**
 * `bandguard backup FILE [--force]`: a consistent copy of the database with SQLite's online backup API,
 * safe while the agent runs and writes. The copy is checked (quick_check) before the command says so.
 */
import { chmodSync, existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE } from '../agent/agent.js';
import { type Io, parseCommandArgs, UsageError } from '../cli.js';
import { COMMON_FLAGS, configFromFlags } from '../config/flags.js';
import { ConfigError } from '../config/load.js';
import { openDatabase } from '../store/db.js';
import { NetStore } from '../store/netStore.js';

export function dataDirFrom(values: Record<string, string | boolean | string[] | undefined>): string {
  try {
    return configFromFlags(values).config.dataDir;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** Checks that a file is a bandguard database: opens, passes quick_check, has a schema version. */
export function inspectDatabaseFile(path: string): { version: number; pages: number } {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new Error(`${path}: not a readable SQLite database (${e instanceof Error ? e.message : String(e)})`);
  }
  try {
    let check: unknown;
    try {
      check = db.pragma('quick_check', { simple: true });
    } catch (e) {
      throw new Error(`${path}: not a SQLite database (${e instanceof Error ? e.message : String(e)})`);
    }
    if (check !== 'ok') throw new Error(`${path}: damaged database (quick_check: ${String(check)})`);
    const hasVersion = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
    if (!hasVersion) throw new Error(`${path}: not a bandguard database (no schema_version table)`);
    const v = (db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null }).v ?? 0;
    return { version: v, pages: db.pragma('page_count', { simple: true }) as number };
  } finally {
    db.close();
  }
}

export async function backupDatabase(
  dataDir: string,
  target: string,
  force = false,
): Promise<{ bytes: number; version: number }> {
  const source = resolve(dataDir, DB_FILE);
  if (!existsSync(source)) throw new Error(`nothing to back up: ${source} does not exist`);
  if (existsSync(target) && !force) throw new UsageError(`${target} exists; use --force to overwrite it`);
  const db = openDatabase(source);
  try {
    // Audited first, so that the copy records its own making.
    new NetStore(db).audit('cli', 'backup', target);
    await db.backup(target);
    chmodSync(target, 0o600); // the copy holds the same health data as the database
  } finally {
    db.close();
  }
  const info = inspectDatabaseFile(target);
  return { bytes: statSync(target).size, version: info.version };
}

export async function runBackup(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...COMMON_FLAGS,
    force: { type: 'boolean', default: false },
  });
  if (positionals.length !== 1) throw new UsageError('backup needs exactly one target FILE');
  const target = resolve(positionals[0]!);
  const r = await backupDatabase(dataDirFrom(values), target, values.force === true);
  io.stdout(`backed up to ${target} (${r.bytes} bytes, schema version ${r.version}, quick_check ok)\n`);
  return 0;
}
