/** Builds a hub context over the simulator: real noble API, real SQLite file in a tmp dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNobleAdapter } from '../../../src/ble/adapter.js';
import { KeyVault } from '../../../src/ble/bonds.js';
import { loadRegistry } from '../../../src/ble/registry.js';
import { SimBindings } from '../../../src/ble/simulator/bindings.js';
import type { SimPeripheral } from '../../../src/ble/simulator/peripheral.js';
import type { BleContext } from '../../../src/ble/sync.js';
import type { StoredSample } from '../../../src/store/bandStore.js';
import { BandStore } from '../../../src/store/bandStore.js';
import { openDatabase } from '../../../src/store/db.js';

/** 2024-05-15 10:00:00 UTC: the hub's "now" in every flow test. */
export const NOW = Date.UTC(2024, 4, 15, 10, 0, 0);

export interface Harness {
  ctx: BleContext;
  dir: string;
  bindings: SimBindings;
  live: { deviceId: string; samples: StoredSample[] }[];
  progress: string[];
  drops: string[];
  close(): void;
}

export function harness(peripherals: SimPeripheral[], over: Partial<BleContext> = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'bandguard-ble-'));
  const db = openDatabase(join(dir, 'bandguard.db'));
  const bindings = new SimBindings({ peripherals, advertIntervalMs: 20 });
  const live: Harness['live'] = [];
  const progress: string[] = [];
  const drops: string[] = [];
  const ctx: BleContext = {
    adapter: createNobleAdapter({ bindings }),
    store: new BandStore(db),
    registry: loadRegistry(),
    vault: KeyVault.open(dir),
    now: () => NOW,
    timeZone: 'UTC',
    timeouts: { connectMs: 1000, opMs: 500, notifyMs: 500, scanMs: 300 },
    options: { quietMs: 150, advertListenMs: 150, racpTimeoutMs: 300 },
    onLive: (deviceId, samples) => live.push({ deviceId, samples }),
    onProgress: (_id, m) => progress.push(m),
    onDrop: (_id, reason, hex) => drops.push(`${reason}:${hex}`),
    ...over,
  };
  return {
    ctx,
    dir,
    bindings,
    live,
    progress,
    drops,
    close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
