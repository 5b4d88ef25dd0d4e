/**
 * BLE benchmark for `npm run bench`:
 *  1. decode and store 30 days of per-minute Huami records for 5 devices (real SQLite file, WAL), and
 *  2. one full simulated sync session (connect, auth, 7 days of history over noble + simulator, commit).
 * Physical floor for comparison (research notes §5): at the default ATT MTU 23 a notification carries 19
 * Huami data bytes, so one day of 4-byte records is 304 notifications — ~0.4 s at 800 notifications/s
 * (CI 7.5 ms, 6 packets/event) and ~15 s at 20/s (CI 50 ms, 1 packet/event).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeActivityRecords } from '../../devices/huami/protocol.js';
import type { Reading } from '../sdk/index.js';
import { BandStore, type StoredSample } from '../store/bandStore.js';
import { openDatabase } from '../store/db.js';
import { createNobleAdapter } from './adapter.js';
import { KeyVault } from './bonds.js';
import { pairDevice } from './pairing.js';
import { loadRegistry } from './registry.js';
import { SimBindings } from './simulator/bindings.js';
import { SimHuamiBand, simActivityRecord } from './simulator/huamiBand.js';
import { syncDevice } from './sync.js';

const DAY = 86_400_000;

export interface BleBenchResult {
  /** Per-minute records decoded and stored per second (each record is 3–4 readings). */
  samplesPerSec: number;
  /** CPU time (user + system) of one simulated sync session of 7 days of history. */
  syncCpuMs: number;
  records: number;
  readings: number;
  decodeStoreMs: number;
  syncRecords: number;
  syncWallMs: number;
}

export async function benchBle(
  opts: { days?: number; devices?: number; syncDays?: number } = {},
): Promise<BleBenchResult> {
  const days = opts.days ?? 30;
  const devices = opts.devices ?? 5;
  const syncDays = opts.syncDays ?? 7;
  const dir = mkdtempSync(join(tmpdir(), 'bandguard-bench-'));
  const now = Date.UTC(2024, 4, 15, 10, 0, 0);
  try {
    // --- 1. decode + store --------------------------------------------------------------------------
    const db = openDatabase(join(dir, 'bench.db'));
    const store = new BandStore(db);
    const day = new Uint8Array(1440 * 4);
    let readings = 0;
    const t0 = process.hrtime.bigint();
    for (let d = 0; d < devices; d++) {
      const id = `bench${d}`;
      store.upsertDevice({ id, definitionId: 'huami-miband3' }, now);
      for (let k = days; k > 0; k--) {
        const start = now - k * DAY;
        const m0 = start / 60_000;
        for (let i = 0; i < 1440; i++) day.set(simActivityRecord(m0 + i + d), i * 4);
        const out: Reading[] = [];
        decodeActivityRecords(day, 0, 1440, start, 0xff, out);
        const samples: StoredSample[] = out.map((r) => ({ kind: r.kind, ts: r.ts!, value: r.value }));
        readings += store.commit(id, samples, { stream: 'activity', value: start + DAY }, now);
      }
    }
    const decodeStoreMs = Number(process.hrtime.bigint() - t0) / 1e6;
    db.close();
    const records = devices * days * 1440;

    // --- 2. one simulated sync session ---------------------------------------------------------------
    const band = new SimHuamiBand({
      name: 'Mi Band 3',
      address: 'C8:0F:10:BE:4C:01',
      authFlags: 0,
      cryptFlags: 0,
      now: () => now,
      historyStart: now - syncDays * DAY,
    });
    const db2 = openDatabase(join(dir, 'sync.db'));
    const ctx = {
      adapter: createNobleAdapter({ bindings: new SimBindings({ peripherals: [band], advertIntervalMs: 10 }) }),
      store: new BandStore(db2),
      registry: loadRegistry(),
      vault: KeyVault.open(dir),
      now: () => now,
      timeZone: 'UTC',
      timeouts: { connectMs: 5000, opMs: 5000, notifyMs: 5000, scanMs: 2000 },
      options: {},
    };
    await pairDevice(ctx, band.id, { skipFirstSync: true });
    const cpu0 = process.cpuUsage();
    const w0 = process.hrtime.bigint();
    await syncDevice(ctx, band.id);
    const cpu = process.cpuUsage(cpu0);
    const syncWallMs = Number(process.hrtime.bigint() - w0) / 1e6;
    const syncRecords = ctx.store.samples({ deviceId: band.id, kinds: ['steps'] }).length;
    db2.close();
    return {
      samplesPerSec: Math.round(records / (decodeStoreMs / 1000)),
      syncCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      records,
      readings,
      decodeStoreMs: Math.round(decodeStoreMs),
      syncRecords,
      syncWallMs: Math.round(syncWallMs),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
