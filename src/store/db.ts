/**
 * Opens the SQLite database (better-sqlite3): WAL, foreign keys, busy timeout, then applies the numbered
 * migrations that are missing, each in its own transaction, recording them in schema_version.
 */
import { chmodSync, mkdirSync } from 'node:fs';
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
  // Health data and personal traffic: the data directory and the database are the owner's alone.
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path, { readonly: opts.readonly ?? false });
  if (path !== ':memory:' && !opts.readonly) {
    try {
      chmodSync(path, 0o600); // SQLite gives the -wal and -shm files the database file's mode
    } catch {
      // not ours to change (e.g. a file owned by another user opened read-write): leave it as it is
    }
  }
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

/** Apply the migrations not yet recorded, in version order. Returns the versions applied. */
export function migrate(db: Db, list: readonly Migration[]): number[] {
  // Versions are strictly increasing but may have gaps: migrations written in parallel arrive in any order,
  // and each one is applied once, by its number, whatever was applied before it.
  for (let i = 0; i < list.length; i++) {
    const m = list[i]!;
    const prev = i > 0 ? list[i - 1]!.version : 0;
    if (!Number.isInteger(m.version) || m.version <= prev) {
      throw new MigrationError(
        `migration #${i} has version ${m.version}; versions must be positive whole numbers in increasing order`,
      );
    }
  }
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const have = new Set(
    (db.prepare('SELECT version FROM schema_version').all() as { version: number }[]).map((r) => r.version),
  );
  const known = new Set(list.map((m) => m.version));
  const unknown = [...have].filter((v) => !known.has(v));
  if (unknown.length > 0) {
    throw new MigrationError(
      `database schema version ${Math.max(...unknown)} is newer than this bandguard (${list.at(-1)?.version ?? 0})`,
    );
  }
  const applied: number[] = [];
  const record = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of list) {
    if (have.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    })();
    applied.push(m.version);
  }
  return applied;
}
