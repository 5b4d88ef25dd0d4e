/**
 * Whole flows through noble against the simulated SIG-profile devices, Mi Scales and a FitPro band.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pairDevice, scanCandidates } from '../../../src/ble/pairing.js';
import { SimHuamiBand } from '../../../src/ble/simulator/huamiBand.js';
import {
  SimBloodPressureMonitor,
  SimFitProBand,
  SimGlucoseMeter,
  type SimGlucoseRecord,
  SimHeartRateStrap,
  SimMiScale,
  SimUnknownDevice,
} from '../../../src/ble/simulator/standardDevices.js';
import { startLive, syncDevice } from '../../../src/ble/sync.js';
import { type Harness, harness, NOW } from './harness.js';

let h: Harness | undefined;
afterEach(() => h?.close());

const t = (day: number, hours: number, minutes = 0) => ({ year: 2024, month: 5, day, hours, minutes, seconds: 0 });
const iso = (ms: number) => new Date(ms).toISOString();

function meterRecords(n: number): SimGlucoseRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    time: t(10 + i, 7, 30),
    mgdl: 95 + i * 5,
    ...(i === 1 ? { meal: 2 } : {}),
  }));
}

describe('glucose meter via RACP', () => {
  it('reads all stored records first, then only records after the cursor; re-sync adds nothing', async () => {
    const meter = new SimGlucoseMeter({ address: 'D0:5F:B8:00:00:01', records: meterRecords(5) });
    h = harness([meter]);
    const res = await pairDevice(h.ctx, meter.id);
    expect(res.definition.id).toBe('standard-glucose');
    expect(meter.writes).toContain('1808/2a52 0101'); // report all records
    const rows = h.ctx.store.samples({ deviceId: meter.id, kinds: ['glucose'] });
    expect(rows.map((r) => [iso(r.ts), r.value, r.seq])).toEqual([
      ['2024-05-10T07:30:00.000Z', 95, 1],
      ['2024-05-11T07:30:00.000Z', 100, 2],
      ['2024-05-12T07:30:00.000Z', 105, 3],
      ['2024-05-13T07:30:00.000Z', 110, 4],
      ['2024-05-14T07:30:00.000Z', 115, 5],
    ]);
    // The context (meal = postprandial) was merged into record 2; type/location from the measurement.
    expect(rows[1]!.meta).toEqual({
      sampleType: 'capillary-whole-blood',
      sampleLocation: 'finger',
      meal: 'postprandial',
    });
    expect(h.ctx.store.cursor(meter.id, 'glucose')).toBe(5);
    expect(h.ctx.store.getDevice(meter.id)!.info).toMatchObject({
      manufacturer: 'Roche',
      model: 'Accu-Chek Guide',
      firmware: '1.4.2',
    });

    meter.opts.records.push({ seq: 6, time: t(15, 6), mgdl: 140 }, { seq: 7, time: t(15, 8), mgdl: 101 });
    const second = await syncDevice(h.ctx, meter.id);
    expect(meter.writes.at(-1)).toBe('1808/2a52 0103010600'); // ≥ sequence 6
    expect(second.inserted).toBe(2); // two records (the battery reading at the same instant is a duplicate)
    expect(h.ctx.store.cursor(meter.id, 'glucose')).toBe(7);

    const third = await syncDevice(h.ctx, meter.id);
    expect(meter.writes.at(-1)).toBe('1808/2a52 0103010800');
    expect(third.inserted).toBe(0); // "no records found"; battery at the same instant is a duplicate
    expect(h.ctx.store.countSamples(meter.id)).toBe(7 + 1);
  });

  it('times out with a clear error when the meter never answers RACP, aborts, and stores nothing', async () => {
    const meter = new SimGlucoseMeter({ address: 'D0:5F:B8:00:00:02', records: meterRecords(3), racpSilent: true });
    h = harness([meter]);
    const res = await pairDevice(h.ctx, meter.id);
    expect(res.firstSync).toEqual({
      error: expect.stringMatching(/glucose meter stopped answering after 0 record\(s\); nothing stored/),
    });
    expect(h.ctx.store.samples({ deviceId: meter.id, kinds: ['glucose'] })).toEqual([]);
    expect(h.ctx.store.cursor(meter.id, 'glucose')).toBeNull();
    expect(h.ctx.store.getDevice(meter.id)).toMatchObject({ failures: 1 });
  });

  it('stores nothing of a transfer cut by a disconnect, then gets everything on the next sync', async () => {
    const meter = new SimGlucoseMeter({
      address: 'D0:5F:B8:00:00:03',
      records: meterRecords(4),
      disconnectAfterRecords: 2,
    });
    h = harness([meter]);
    await pairDevice(h.ctx, meter.id, { skipFirstSync: true });
    const err = await syncDevice(h.ctx, meter.id).catch((e) => e);
    expect(err.code).toBe('disconnected');
    expect(h.ctx.store.samples({ deviceId: meter.id, kinds: ['glucose'] })).toEqual([]);
    expect(h.ctx.store.cursor(meter.id, 'glucose')).toBeNull();
    await syncDevice(h.ctx, meter.id);
    expect(h.ctx.store.samples({ deviceId: meter.id, kinds: ['glucose'] })).toHaveLength(4);
  });

  it('counts a truncated record frame and keeps the good ones', async () => {
    const meter = new SimGlucoseMeter({ address: 'D0:5F:B8:00:00:04', records: meterRecords(3), truncateSeq: 2 });
    h = harness([meter]);
    const res = await pairDevice(h.ctx, meter.id);
    expect(res.firstSync && 'dropped' in res.firstSync && res.firstSync.dropped).toEqual({ truncated: 1 });
    expect(h.ctx.store.samples({ deviceId: meter.id, kinds: ['glucose'] }).map((r) => r.seq)).toEqual([1, 3]);
    // Record 2 was cut after 6 bytes: flags 12 (concentration, context follows), sequence 02 00, year, month.
    expect(h.drops).toEqual(['truncated:120200e80705']);
  });
});

describe('Mi Scale adverts (no connection)', () => {
  it('parses the v1 advert once the weight is stable and stores it once', async () => {
    const scale = new SimMiScale('88:0F:10:00:00:01', 1, 71.35, t(15, 9, 58));
    h = harness([scale]);
    const res = await pairDevice(h.ctx, scale.id);
    expect(res.definition.id).toBe('xiaomi-miscale');
    expect(h.ctx.store.samples({ deviceId: scale.id })).toEqual([
      { deviceId: scale.id, kind: 'weight', ts: Date.UTC(2024, 4, 15, 9, 58), value: 71.35, meta: { unit: 'kg' } },
    ]);
    await syncDevice(h.ctx, scale.id);
    expect(h.ctx.store.countSamples(scale.id)).toBe(1);
  });

  it('parses the v2 advert with impedance', async () => {
    const scale = new SimMiScale('5C:CA:D3:00:00:02', 2, 72.4, t(15, 9, 0), 480);
    h = harness([scale]);
    await pairDevice(h.ctx, scale.id);
    expect(h.ctx.store.samples({ deviceId: scale.id }).map((s) => [s.kind, s.value])).toEqual([
      ['impedance', 480],
      ['weight', 72.4],
    ]);
  });
});

describe('heart-rate strap and blood-pressure monitor', () => {
  it('reads battery and device information, and streams live heart rate with RR intervals', async () => {
    const strap = new SimHeartRateStrap('A0:9E:1A:00:00:01', 'Polar H10 8A2B3C4D', 10);
    h = harness([strap]);
    await pairDevice(h.ctx, strap.id);
    expect(h.ctx.store.samples({ deviceId: strap.id }).map((s) => [s.kind, s.value])).toEqual([['battery', 91]]);
    expect(h.ctx.store.getDevice(strap.id)!.info).toMatchObject({ manufacturer: 'Polar Electro Oy', model: 'H10' });
    const got: [string, number][] = [];
    const live = await startLive(h.ctx, strap.id, (rs) =>
      got.push(...rs.map((r): [string, number] => [r.kind, r.value])),
    );
    await new Promise((r) => setTimeout(r, 60));
    await live.stop();
    expect(got.slice(0, 2)).toEqual([
      ['heart_rate', 62],
      ['rr_interval', Math.round((60 / 62) * 1024) / 1024],
    ]);
  });

  it('collects the stored measurements a BP monitor indicates, and sets its clock', async () => {
    const bp = new SimBloodPressureMonitor('00:09:1F:00:00:01', [
      { time: t(13, 7, 45), sys: 128, dia: 84, map: 99, pulse: 71 },
      { time: t(14, 7, 50), sys: 121, dia: 79, map: 93, pulse: 66 },
    ]);
    h = harness([bp]);
    await pairDevice(h.ctx, bp.id);
    const rows = h.ctx.store.samples({ deviceId: bp.id, kinds: ['systolic', 'diastolic', 'pulse_rate'] });
    // The monitor's clock read 2024-05-13 07:45 while the hub said 2024-05-15 10:00: the drift is applied.
    const drift = NOW - Date.UTC(2024, 4, 13, 7, 45);
    expect(rows.map((r) => [r.kind, r.value, r.ts - drift])).toEqual([
      ['diastolic', 84, Date.UTC(2024, 4, 13, 7, 45)],
      ['pulse_rate', 71, Date.UTC(2024, 4, 13, 7, 45)],
      ['systolic', 128, Date.UTC(2024, 4, 13, 7, 45)],
      ['diastolic', 79, Date.UTC(2024, 4, 14, 7, 50)],
      ['pulse_rate', 66, Date.UTC(2024, 4, 14, 7, 50)],
      ['systolic', 121, Date.UTC(2024, 4, 14, 7, 50)],
    ]);
    expect(bp.writes.some((w) => w.startsWith('1805/2a2b e80705'))).toBe(true);
  });
});

describe('FitPro band', () => {
  it('fetches steps, distance and sleep, ACKs every data frame, and streams live values', async () => {
    const band = new SimFitProBand('DA:12:34:00:00:01', [
      {
        date: { year: 2024, month: 5, day: 14 },
        steps: [
          [32, 420, 300],
          [33, 880, 640],
        ],
        sleep: [[60, 2]],
      },
    ]);
    h = harness([band]);
    await pairDevice(h.ctx, band.id);
    const rows = h.ctx.store.samples({ deviceId: band.id, kinds: ['steps', 'distance', 'sleep_kind'] });
    expect(rows.map((r) => [iso(r.ts), r.kind, r.value])).toEqual([
      ['2024-05-14T01:00:00.000Z', 'sleep_kind', 2],
      ['2024-05-14T08:00:00.000Z', 'distance', 300],
      ['2024-05-14T08:00:00.000Z', 'steps', 420],
      ['2024-05-14T08:15:00.000Z', 'distance', 640],
      ['2024-05-14T08:15:00.000Z', 'steps', 880],
    ]);
    // One ACK per data frame with its total length: steps 8 + 2 + 2×8 = 26 (0x1a), sleep 8 + 2 + 4 = 14,
    // day totals 8 + 4 = 12.
    expect(band.acks).toEqual(['dc00051501001a01', 'dc00051501000e01', 'dc00051501000c01']);
    const got: string[] = [];
    const live = await startLive(h.ctx, band.id, (rs) => got.push(...rs.map((r) => `${r.kind}=${r.value}`)));
    await new Promise((r) => setTimeout(r, 60));
    await live.stop();
    expect(got.slice(0, 4)).toEqual(['heart_rate=73', 'spo2=97', 'systolic=121', 'diastolic=79']);
  });
});

describe('scan', () => {
  it('lists candidates with RSSI and definition, unknown devices with what they advertise', async () => {
    const band = new SimHuamiBand({
      name: 'Mi Band 3',
      address: 'C8:0F:10:00:00:09',
      authFlags: 0,
      cryptFlags: 0,
      now: () => NOW,
      historyStart: NOW,
    });
    const unknown = new SimUnknownDevice('11:22:33:44:55:66', true, -80);
    h = harness([unknown, band]);
    const c = await scanCandidates(h.ctx, 100);
    expect(c.map((x) => [x.id, x.definition?.id ?? null, x.rssi])).toEqual([
      [band.id, 'huami-miband3', -58],
      [unknown.id, null, -80],
    ]);
    expect(c[1]!.advertised).toBe('name "JBL Flip 5", services fe8f, manufacturer 0x0057 0102');
    expect(c[0]!.definition!.pairing).toBe('generated-key');
  });
});
