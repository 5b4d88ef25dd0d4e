import { describe, expect, it } from 'vitest';
import { benchBle } from '../../../src/ble/bench.js';

describe('benchBle', () => {
  it('decodes and stores every record and runs a full simulated sync (small sizes)', async () => {
    const r = await benchBle({ days: 2, devices: 2, syncDays: 1 });
    expect(r.records).toBe(2 * 2 * 1440);
    // 3 readings per minute plus heart rate on every 10th minute.
    expect(r.readings).toBe(2 * 2 * (1440 * 3 + 144));
    expect(r.syncRecords).toBe(1440);
    expect(r.samplesPerSec).toBeGreaterThan(0);
    expect(r.syncCpuMs).toBeGreaterThan(0);
  });
});
