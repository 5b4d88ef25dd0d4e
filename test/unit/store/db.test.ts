import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BandStore } from '../../../src/store/bandStore.js';
import { currentVersion, MigrationError, migrate, openDatabase } from '../../../src/store/db.js';
import { migrations } from '../../../src/store/migrations.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bandguard-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('openDatabase and migrations', () => {
  it('creates the file with WAL, foreign keys and every migration recorded', () => {
    const path = join(dir, 'nested', 'bandguard.db');
    const db = openDatabase(path);
    expect(statSync(path).isFile()).toBe(true);
    // health data: only the owner may read the database and its directory
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    db.prepare('CREATE TABLE t (x)').run(); // makes the -wal file exist
    expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(currentVersion(db)).toBe(migrations.at(-1)!.version);
    const rows = db.prepare('SELECT version, name FROM schema_version').all();
    expect(rows).toEqual(migrations.map((m) => ({ version: m.version, name: m.name })));
    db.close();
    // Re-opening applies nothing twice.
    const again = openDatabase(path);
    expect(migrate(again, migrations)).toEqual([]);
    again.close();
  });

  it('applies later migrations incrementally and rolls back a failing one', () => {
    const db = openDatabase(':memory:', { migrations: migrations.slice(0, 1) });
    // Versions may have gaps (migrations written in parallel): count from the highest one.
    const top = migrations.at(-1)!.version;
    const extra = [
      ...migrations,
      { version: top + 1, name: 'ok', sql: 'CREATE TABLE extra_ok (x INTEGER)' },
      { version: top + 2, name: 'broken', sql: 'CREATE TABLE half (x INTEGER); THIS IS NOT SQL' },
    ];
    expect(() => migrate(db, extra)).toThrow();
    expect(currentVersion(db)).toBe(top + 1);
    // The broken migration left nothing behind.
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
    db.close();
  });

  it('refuses gaps and a database newer than the code', () => {
    const db = openDatabase(':memory:');
    expect(() => migrate(db, [{ version: 2, name: 'x', sql: '' }])).toThrow(MigrationError);
    expect(() => migrate(db, [])).toThrow(/newer than this bandguard/);
    db.close();
  });
});

describe('BandStore', () => {
  it('commits samples and cursor atomically and never duplicates', () => {
    const store = new BandStore(openDatabase(join(dir, 'a.db')));
    store.upsertDevice({ id: 'dev1', definitionId: 'huami-miband3', name: 'Mi Band 3' }, 1000);
    const samples = [
      { kind: 'steps', ts: 60_000, value: 12 },
      { kind: 'steps', ts: 120_000, value: 30 },
      { kind: 'heart_rate', ts: 120_000, value: 71, meta: { source: 'history' } },
    ];
    expect(store.commit('dev1', samples, { stream: 'activity', value: 180_000 }, 5)).toBe(3);
    expect(store.commit('dev1', samples, { stream: 'activity', value: 180_000 }, 6)).toBe(0);
    expect(store.countSamples('dev1')).toBe(3);
    expect(store.cursor('dev1', 'activity')).toBe(180_000);
    expect(store.samples({ deviceId: 'dev1', kinds: ['heart_rate'] })).toEqual([
      { deviceId: 'dev1', kind: 'heart_rate', ts: 120_000, value: 71, meta: { source: 'history' } },
    ]);
    expect(store.samples({ since: 100_000, until: 120_001 }).map((s) => s.kind)).toEqual(['heart_rate', 'steps']);
  });

  it('rolls back the whole batch when one row violates a constraint', () => {
    const store = new BandStore(openDatabase(':memory:'));
    store.upsertDevice({ id: 'dev1', definitionId: 'x-y' }, 1);
    // A sample for an unknown device violates the foreign key: nothing of the batch and no cursor.
    expect(() => store.commit('nobody', [{ kind: 'steps', ts: 1, value: 1 }], { stream: 's', value: 9 })).toThrow();
    expect(store.countSamples()).toBe(0);
    expect(store.cursor('nobody', 's')).toBeNull();
  });

  it('forgets a device with its bond, samples and cursors', () => {
    const store = new BandStore(openDatabase(':memory:'));
    store.upsertDevice({ id: 'd', definitionId: 'x-y' }, 1);
    store.saveBond('d', Uint8Array.of(1, 2, 3), 2);
    store.commit('d', [{ kind: 'battery', ts: 3, value: 50 }], { stream: 'x', value: 3 });
    store.mergeInfo('d', { firmware: '1.0' });
    store.recordSync('d', 10, 'boom');
    expect(store.getDevice('d')).toMatchObject({ info: { firmware: '1.0' }, lastError: 'boom', failures: 1 });
    expect(store.getBond('d')?.sealedKey).toEqual(Uint8Array.of(1, 2, 3));
    expect(store.removeDevice('d')).toBe(true);
    expect(store.getBond('d')).toBeUndefined();
    expect(store.countSamples()).toBe(0);
    expect(store.cursors('d')).toEqual({});
    expect(store.removeDevice('d')).toBe(false);
  });
});
