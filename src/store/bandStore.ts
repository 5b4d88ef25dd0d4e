/**
 * Repository for the BLE side: paired devices, sealed bonds, samples and sync cursors.
 * `commit` is the only way samples enter the store: samples and the cursor move together in one
 * transaction, and the (device, kind, ts) key makes a re-sync insert nothing twice.
 */
import type { Db } from './db.js';

export interface DeviceRow {
  id: string;
  address: string | null;
  definitionId: string;
  name: string | null;
  info: Record<string, string>;
  pairedAt: number;
  lastSyncAt: number | null;
  lastError: string | null;
  failures: number;
}

export interface StoredSample {
  kind: string;
  ts: number;
  value: number;
  seq?: number | undefined;
  meta?: Record<string, string | number | boolean> | undefined;
}

export interface SampleRow extends StoredSample {
  deviceId: string;
}

export interface SampleQuery {
  deviceId?: string;
  kinds?: readonly string[];
  /** Inclusive lower bound, epoch ms. */
  since?: number;
  /** Exclusive upper bound, epoch ms. */
  until?: number;
  limit?: number;
  order?: 'asc' | 'desc';
}

interface RawDevice {
  id: string;
  address: string | null;
  definition_id: string;
  name: string | null;
  info: string;
  paired_at: number;
  last_sync_at: number | null;
  last_error: string | null;
  failures: number;
}

function toDevice(r: RawDevice): DeviceRow {
  let info: Record<string, string> = {};
  try {
    info = JSON.parse(r.info) as Record<string, string>;
  } catch {
    info = {};
  }
  return {
    id: r.id,
    address: r.address,
    definitionId: r.definition_id,
    name: r.name,
    info,
    pairedAt: r.paired_at,
    lastSyncAt: r.last_sync_at,
    lastError: r.last_error,
    failures: r.failures,
  };
}

export class BandStore {
  private readonly insertSample;
  private readonly upsertCursor;
  private readonly commitTx;

  constructor(readonly db: Db) {
    this.insertSample = db.prepare(
      'INSERT OR IGNORE INTO samples (device_id, kind, ts, value, seq, meta) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.upsertCursor = db.prepare(
      `INSERT INTO sync_cursors (device_id, stream, value, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (device_id, stream) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    );
    this.commitTx = db.transaction(
      (
        deviceId: string,
        samples: readonly StoredSample[],
        cursor: { stream: string; value: number } | undefined,
        at: number,
      ) => {
        let inserted = 0;
        for (const s of samples) {
          if (!Number.isFinite(s.value) || !Number.isFinite(s.ts)) continue;
          inserted += this.insertSample.run(
            deviceId,
            s.kind,
            Math.round(s.ts),
            s.value,
            s.seq ?? null,
            s.meta && Object.keys(s.meta).length > 0 ? JSON.stringify(s.meta) : null,
          ).changes;
        }
        if (cursor) this.upsertCursor.run(deviceId, cursor.stream, Math.round(cursor.value), at);
        return inserted;
      },
    );
  }

  upsertDevice(
    d: { id: string; address?: string | null; definitionId: string; name?: string | null },
    at: number,
  ): void {
    this.db
      .prepare(
        `INSERT INTO devices (id, address, definition_id, name, paired_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET address = excluded.address, definition_id = excluded.definition_id,
           name = excluded.name, paired_at = excluded.paired_at, last_error = NULL, failures = 0`,
      )
      .run(d.id, d.address ?? null, d.definitionId, d.name ?? null, at);
  }

  getDevice(id: string): DeviceRow | undefined {
    const r = this.db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as RawDevice | undefined;
    return r ? toDevice(r) : undefined;
  }

  listDevices(): DeviceRow[] {
    return (this.db.prepare('SELECT * FROM devices ORDER BY paired_at, id').all() as RawDevice[]).map(toDevice);
  }

  mergeInfo(id: string, info: Record<string, string>): void {
    const d = this.getDevice(id);
    if (!d) return;
    this.db.prepare('UPDATE devices SET info = ? WHERE id = ?').run(JSON.stringify({ ...d.info, ...info }), id);
  }

  /** Forget a device: its bond, samples and cursors go with it (ON DELETE CASCADE). */
  removeDevice(id: string): boolean {
    return this.db.prepare('DELETE FROM devices WHERE id = ?').run(id).changes > 0;
  }

  saveBond(deviceId: string, sealedKey: Uint8Array | null, at: number): void {
    this.db
      .prepare(
        `INSERT INTO bonds (device_id, key_sealed, created_at) VALUES (?, ?, ?)
         ON CONFLICT (device_id) DO UPDATE SET key_sealed = excluded.key_sealed, created_at = excluded.created_at`,
      )
      .run(deviceId, sealedKey ? Buffer.from(sealedKey) : null, at);
  }

  getBond(deviceId: string): { sealedKey: Uint8Array | null; createdAt: number } | undefined {
    const r = this.db.prepare('SELECT key_sealed, created_at FROM bonds WHERE device_id = ?').get(deviceId) as
      | { key_sealed: Buffer | null; created_at: number }
      | undefined;
    if (!r) return undefined;
    return { sealedKey: r.key_sealed ? new Uint8Array(r.key_sealed) : null, createdAt: r.created_at };
  }

  /**
   * Store samples and (optionally) move a cursor, atomically. Returns the number of new samples
   * (duplicates of (device, kind, ts) are ignored).
   */
  commit(
    deviceId: string,
    samples: readonly StoredSample[],
    cursor?: { stream: string; value: number },
    at = 0,
  ): number {
    return this.commitTx(deviceId, samples, cursor, at) as number;
  }

  cursor(deviceId: string, stream: string): number | null {
    const r = this.db
      .prepare('SELECT value FROM sync_cursors WHERE device_id = ? AND stream = ?')
      .get(deviceId, stream) as { value: number } | undefined;
    return r ? r.value : null;
  }

  cursors(deviceId: string): Record<string, number> {
    const rows = this.db.prepare('SELECT stream, value FROM sync_cursors WHERE device_id = ?').all(deviceId) as {
      stream: string;
      value: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.stream, r.value]));
  }

  recordSync(deviceId: string, at: number, error: string | null): void {
    if (error === null) {
      this.db
        .prepare('UPDATE devices SET last_sync_at = ?, last_error = NULL, failures = 0 WHERE id = ?')
        .run(at, deviceId);
    } else {
      this.db.prepare('UPDATE devices SET last_error = ?, failures = failures + 1 WHERE id = ?').run(error, deviceId);
    }
  }

  samples(q: SampleQuery = {}): SampleRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.deviceId !== undefined) {
      where.push('device_id = ?');
      args.push(q.deviceId);
    }
    if (q.kinds && q.kinds.length > 0) {
      where.push(`kind IN (${q.kinds.map(() => '?').join(',')})`);
      args.push(...q.kinds);
    }
    if (q.since !== undefined) {
      where.push('ts >= ?');
      args.push(q.since);
    }
    if (q.until !== undefined) {
      where.push('ts < ?');
      args.push(q.until);
    }
    const sql =
      `SELECT device_id, kind, ts, value, seq, meta FROM samples${where.length ? ` WHERE ${where.join(' AND ')}` : ''}` +
      ` ORDER BY ts ${q.order === 'desc' ? 'DESC' : 'ASC'}, kind` +
      (q.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(q.limit))}` : '');
    const rows = this.db.prepare(sql).all(...args) as {
      device_id: string;
      kind: string;
      ts: number;
      value: number;
      seq: number | null;
      meta: string | null;
    }[];
    return rows.map((r) => {
      const out: SampleRow = { deviceId: r.device_id, kind: r.kind, ts: r.ts, value: r.value };
      if (r.seq !== null) out.seq = r.seq;
      if (r.meta !== null) out.meta = JSON.parse(r.meta) as Record<string, string | number | boolean>;
      return out;
    });
  }

  countSamples(deviceId?: string): number {
    const r = (
      deviceId === undefined
        ? this.db.prepare('SELECT COUNT(*) AS n FROM samples').get()
        : this.db.prepare('SELECT COUNT(*) AS n FROM samples WHERE device_id = ?').get(deviceId)
    ) as { n: number };
    return r.n;
  }
}
