import { describe, expect, it } from 'vitest';
import { exportSamples, stableUuid, toCsv, toFhirBundle } from '../../../src/ble/export.js';
import type { DeviceRow, SampleRow } from '../../../src/store/bandStore.js';

const device: DeviceRow = {
  id: 'd0aabbccddee',
  address: 'D0:AA:BB:CC:DD:EE',
  definitionId: 'standard-blood-pressure',
  name: 'BLESmart',
  info: { serial: 'SN-1' },
  pairedAt: 0,
  lastSyncAt: null,
  lastError: null,
  failures: 0,
};
const T = Date.UTC(2024, 4, 14, 7, 50);
const s = (kind: string, value: number, ts = T, extra: Partial<SampleRow> = {}): SampleRow => ({
  deviceId: device.id,
  kind,
  ts,
  value,
  ...extra,
});

describe('export', () => {
  const samples = [
    s('systolic', 121),
    s('diastolic', 79),
    s('pulse_rate', 66),
    s('weight', 70.5),
    s('glucose', 104, T + 1000, { seq: 7, meta: { meal: 'fasting, "early"' } }),
    s('glucose_molar', 5.8, T + 2000),
    s('steps', 42, T + 3000),
    s('battery', 80, T + 4000),
  ];
  const input = { device, vendor: 'Bluetooth SIG', model: 'Blood Pressure Monitor', samples, exportedAt: T + 60_000 };

  it('CSV has one row per sample, ISO times, units, quoted meta', () => {
    const lines = toCsv(input).trimEnd().split('\n');
    expect(lines[0]).toBe('device_id,kind,unit,timestamp,value,seq,meta');
    expect(lines[1]).toBe('d0aabbccddee,systolic,mmHg,2024-05-14T07:50:00.000Z,121,,');
    expect(lines[5]).toBe(
      'd0aabbccddee,glucose,mg/dL,2024-05-14T07:50:01.000Z,104,7,"{""meal"":""fasting, \\""early\\""""}"',
    );
    expect(lines).toHaveLength(samples.length + 1);
  });

  it('JSON carries the device and every sample with its unit', () => {
    const j = JSON.parse(exportSamples('json', input));
    expect(j.device).toMatchObject({ id: device.id, model: 'Blood Pressure Monitor', info: { serial: 'SN-1' } });
    expect(j.samples[4]).toEqual({
      kind: 'glucose',
      unit: 'mg/dL',
      ts: '2024-05-14T07:50:01.000Z',
      value: 104,
      seq: 7,
      meta: { meal: 'fasting, "early"' },
    });
  });

  it('FHIR R4: LOINC codes, UCUM units, a BP panel with components, no code-less kinds', () => {
    const b = toFhirBundle(input);
    expect(b).toMatchObject({ resourceType: 'Bundle', type: 'collection', timestamp: '2024-05-14T07:51:00.000Z' });
    // biome-ignore lint/suspicious/noExplicitAny: walking FHIR JSON in assertions
    type Json = any;
    const res = b.entry.map((e) => e.resource as Record<string, Json>);
    expect(res[0]).toMatchObject({ resourceType: 'Device', serialNumber: 'SN-1', manufacturer: 'Bluetooth SIG' });
    const obs = res.filter((r) => r.resourceType === 'Observation');
    const byCode = Object.fromEntries(obs.map((o) => [o.code.coding[0].code, o]));
    expect(Object.keys(byCode).sort()).toEqual(['15074-8', '2339-0', '29463-7', '55423-8', '85354-9', '8867-4']);
    expect(byCode['8867-4'].valueQuantity).toEqual({
      value: 66,
      unit: 'beats/minute',
      system: 'http://unitsofmeasure.org',
      code: '/min',
    });
    expect(byCode['29463-7'].valueQuantity.code).toBe('kg');
    expect(byCode['2339-0'].valueQuantity.code).toBe('mg/dL');
    expect(byCode['15074-8'].valueQuantity.code).toBe('mmol/L');
    expect(byCode['55423-8'].category[0].coding[0].code).toBe('activity');
    const panel = byCode['85354-9'];
    expect(panel.valueQuantity).toBeUndefined();
    expect(
      panel.component.map((c: Json) => [c.code.coding[0].code, c.valueQuantity.value, c.valueQuantity.code]),
    ).toEqual([
      ['8480-6', 121, 'mm[Hg]'],
      ['8462-4', 79, 'mm[Hg]'],
    ]);
    expect(panel.effectiveDateTime).toBe('2024-05-14T07:50:00.000Z');
    expect(obs.every((o) => o.status === 'final' && o.device.reference === b.entry[0]!.fullUrl)).toBe(true);
    // Stable ids: the same export twice gives the same fullUrls.
    expect(toFhirBundle(input).entry.map((e) => e.fullUrl)).toEqual(b.entry.map((e) => e.fullUrl));
    expect(stableUuid('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
