/**
 * Opens the SQLite database (better-sqlite3): WAL, foreign keys, busy timeout, then applies the numbered
 * migrations that are missing, each in its own transaction, recording them in schema_version.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrations as allMigrations, type Migration } from './migrations.js';

export type Db = Database.Database;

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export interface OpenOptions {
  migrations?: readonly Migration[];
  busyTimeoutMs?: number;
  readonly?: boolean;
}

/** Open (creating the directory and file if needed) and migrate. `:memory:` works for tests. */
export function openDatabase(path: string, opts: OpenOptions = {}): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly: opts.readonly ?? false });
  try {
    if (path !== ':memory:' && !opts.readonly) db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    db.pragma('synchronous = NORMAL');
    if (!opts.readonly) migrate(db, opts.migrations ?? allMigrations);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

export function currentVersion(db: Db): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
  if (!exists) return 0;
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

/** Apply the missing migrations in order. Returns the versions applied. */
export function migrate(db: Db, list: readonly Migration[]): number[] {
  for (let i = 0; i < list.length; i++) {
    const m = list[i]!;
    if (!Number.isInteger(m.version) || m.version !== i + 1) {
      throw new MigrationError(`migration #${i} has version ${m.version}; versions must be 1, 2, 3 … in order`);
    }
  }
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const have = currentVersion(db);
  if (have > list.length) {
    throw new MigrationError(`database schema version ${have} is newer than this bandguard (${list.length})`);
  }
  const applied: number[] = [];
  const record = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of list.slice(have)) {
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    })();
    applied.push(m.version);
  }
  return applied;
}
