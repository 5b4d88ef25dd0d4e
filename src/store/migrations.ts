/**
 * The numbered schema migrations. Append only: never edit a released migration, add the next version.
 * Each one runs in its own transaction together with its schema_version row.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'ble devices, bonds, samples, sync cursors',
    sql: `
      CREATE TABLE devices (
        id            TEXT PRIMARY KEY,              -- peripheral id as the BLE layer reports it
        address       TEXT,
        definition_id TEXT NOT NULL,                 -- devices/ definition id
        name          TEXT,
        info          TEXT NOT NULL DEFAULT '{}',    -- JSON: model, firmware, serial …
        paired_at     INTEGER NOT NULL,              -- epoch ms
        last_sync_at  INTEGER,
        last_error    TEXT,
        failures      INTEGER NOT NULL DEFAULT 0     -- consecutive failed syncs (scheduler backoff)
      );
      CREATE TABLE bonds (
        device_id  TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
        key_sealed BLOB,                             -- AES-256-GCM: iv(12) | tag(16) | ciphertext
        created_at INTEGER NOT NULL
      );
      CREATE TABLE samples (
        device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        kind      TEXT NOT NULL,
        ts        INTEGER NOT NULL,                  -- UTC epoch ms, hub-corrected
        value     REAL NOT NULL,
        seq       INTEGER,                           -- source record number where the device has one
        meta      TEXT,                              -- JSON
        PRIMARY KEY (device_id, kind, ts)
      ) WITHOUT ROWID;
      CREATE INDEX samples_by_time ON samples(ts);
      CREATE TABLE sync_cursors (
        device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        stream     TEXT NOT NULL,
        value      INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, stream)
      );
    `,
  },
];
