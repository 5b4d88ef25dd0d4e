/**
 * Export stored samples of one device as CSV, JSON, or a FHIR R4 Bundle of Observations (LOINC codes,
 * UCUM units). Pure functions of their input: the service layer does the querying.
 */
import { createHash } from 'node:crypto';
import { isReadingKind, READING_KINDS } from '../sdk/index.js';
import type { DeviceRow, SampleRow } from '../store/bandStore.js';

export type ExportFormat = 'csv' | 'json' | 'fhir';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'json', 'fhir'];

export interface ExportInput {
  device: DeviceRow;
  vendor?: string;
  model?: string;
  samples: readonly SampleRow[];
  /** When the export was made (FHIR Bundle.timestamp, JSON exportedAt). */
  exportedAt: number;
}

function unitOf(kind: string): string {
  return isReadingKind(kind) ? READING_KINDS[kind].unit : '';
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function toCsv(input: ExportInput): string {
  const lines = ['device_id,kind,unit,timestamp,value,seq,meta'];
  for (const s of input.samples) {
    lines.push(
      [
        csvField(s.deviceId),
        s.kind,
        csvField(unitOf(s.kind)),
        new Date(s.ts).toISOString(),
        String(s.value),
        s.seq === undefined ? '' : String(s.seq),
        s.meta ? csvField(JSON.stringify(s.meta)) : '',
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function toJson(input: ExportInput): string {
  const d = input.device;
  return `${JSON.stringify(
    {
      version: 1,
      exportedAt: new Date(input.exportedAt).toISOString(),
      device: {
        id: d.id,
        definitionId: d.definitionId,
        name: d.name,
        vendor: input.vendor ?? null,
        model: input.model ?? null,
        info: d.info,
      },
      samples: input.samples.map((s) => ({
        kind: s.kind,
        unit: unitOf(s.kind),
        ts: new Date(s.ts).toISOString(),
        value: s.value,
        ...(s.seq !== undefined ? { seq: s.seq } : {}),
        ...(s.meta ? { meta: s.meta } : {}),
      })),
    },
    null,
    2,
  )}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// FHIR R4
// ---------------------------------------------------------------------------------------------------------

const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

interface Coded {
  code: string;
  display: string;
  ucum: string;
  unit: string;
  category: 'vital-signs' | 'activity' | 'laboratory' | 'exam';
}

/** Kinds with a LOINC code. Other kinds (battery, intensity, vendor codes …) have none and are left out. */
export const FHIR_CODES: Partial<Record<string, Coded>> = {
  heart_rate: { code: '8867-4', display: 'Heart rate', ucum: '/min', unit: 'beats/minute', category: 'vital-signs' },
  pulse_rate: { code: '8867-4', display: 'Heart rate', ucum: '/min', unit: 'beats/minute', category: 'vital-signs' },
  steps: { code: '55423-8', display: 'Number of steps', ucum: '{steps}', unit: 'steps', category: 'activity' },
  weight: { code: '29463-7', display: 'Body weight', ucum: 'kg', unit: 'kg', category: 'vital-signs' },
  height: { code: '8302-2', display: 'Body height', ucum: 'm', unit: 'm', category: 'vital-signs' },
  bmi: {
    code: '39156-5',
    display: 'Body mass index (BMI) [Ratio]',
    ucum: 'kg/m2',
    unit: 'kg/m2',
    category: 'vital-signs',
  },
  body_fat: { code: '41982-0', display: 'Percentage of body fat Measured', ucum: '%', unit: '%', category: 'exam' },
  spo2: {
    code: '59408-5',
    display: 'Oxygen saturation in Arterial blood by Pulse oximetry',
    ucum: '%',
    unit: '%',
    category: 'vital-signs',
  },
  glucose: {
    code: '2339-0',
    display: 'Glucose [Mass/volume] in Blood',
    ucum: 'mg/dL',
    unit: 'mg/dL',
    category: 'laboratory',
  },
  glucose_molar: {
    code: '15074-8',
    display: 'Glucose [Moles/volume] in Blood',
    ucum: 'mmol/L',
    unit: 'mmol/L',
    category: 'laboratory',
  },
};

const BP_PANEL = { code: '85354-9', display: 'Blood pressure panel with all children optional' };
const SYSTOLIC = { code: '8480-6', display: 'Systolic blood pressure' };
const DIASTOLIC = { code: '8462-4', display: 'Diastolic blood pressure' };

/** A deterministic UUID (v5 layout over SHA-1) so re-exports of the same sample keep the same ids. */
export function stableUuid(key: string): string {
  const h = createHash('sha1').update(`bandguard:${key}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

function quantity(value: number, ucum: string, unit: string) {
  return { value, unit, system: UCUM, code: ucum };
}

function category(c: Coded['category']) {
  const display = { 'vital-signs': 'Vital Signs', activity: 'Activity', laboratory: 'Laboratory', exam: 'Exam' }[c];
  return [{ coding: [{ system: OBS_CATEGORY, code: c, display }] }];
}

export function toFhirBundle(input: ExportInput) {
  const d = input.device;
  const deviceUrl = `urn:uuid:${stableUuid(`device:${d.id}`)}`;
  const deviceRef = { reference: deviceUrl, display: input.model ?? d.name ?? d.id };
  const entries: { fullUrl: string; resource: Record<string, unknown> }[] = [
    {
      fullUrl: deviceUrl,
      resource: {
        resourceType: 'Device',
        identifier: [{ system: 'urn:bandguard:ble-device', value: d.id }],
        ...(input.vendor ? { manufacturer: input.vendor } : {}),
        ...(input.model ? { deviceName: [{ name: input.model, type: 'model-name' }] } : {}),
        ...(d.info.serial ? { serialNumber: d.info.serial } : {}),
      },
    },
  ];
  const bp = new Map<number, { systolic?: number; diastolic?: number }>();
  for (const s of input.samples) {
    if (s.kind === 'systolic' || s.kind === 'diastolic') {
      const e = bp.get(s.ts) ?? {};
      e[s.kind] = s.value;
      bp.set(s.ts, e);
      continue;
    }
    const c = FHIR_CODES[s.kind];
    if (!c) continue;
    const id = stableUuid(`obs:${d.id}:${s.kind}:${s.ts}`);
    entries.push({
      fullUrl: `urn:uuid:${id}`,
      resource: {
        resourceType: 'Observation',
        status: 'final',
        category: category(c.category),
        code: { coding: [{ system: LOINC, code: c.code, display: c.display }], text: c.display },
        effectiveDateTime: new Date(s.ts).toISOString(),
        valueQuantity: quantity(s.value, c.ucum, c.unit),
        device: deviceRef,
      },
    });
  }
  for (const [ts, v] of [...bp].sort((a, b) => a[0] - b[0])) {
    const component: Record<string, unknown>[] = [];
    if (v.systolic !== undefined) {
      component.push({
        code: { coding: [{ system: LOINC, ...SYSTOLIC }], text: SYSTOLIC.display },
        valueQuantity: quantity(v.systolic, 'mm[Hg]', 'mmHg'),
      });
    }
    if (v.diastolic !== undefined) {
      component.push({
        code: { coding: [{ system: LOINC, ...DIASTOLIC }], text: DIASTOLIC.display },
        valueQuantity: quantity(v.diastolic, 'mm[Hg]', 'mmHg'),
      });
    }
    entries.push({
      fullUrl: `urn:uuid:${stableUuid(`obs:${d.id}:bp:${ts}`)}`,
      resource: {
        resourceType: 'Observation',
        status: 'final',
        category: category('vital-signs'),
        code: { coding: [{ system: LOINC, ...BP_PANEL }], text: 'Blood pressure' },
        effectiveDateTime: new Date(ts).toISOString(),
        component,
        device: deviceRef,
      },
    });
  }
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: new Date(input.exportedAt).toISOString(),
    entry: entries,
  };
}

export function exportSamples(format: ExportFormat, input: ExportInput): string {
  if (format === 'csv') return toCsv(input);
  if (format === 'json') return toJson(input);
  return `${JSON.stringify(toFhirBundle(input), null, 2)}\n`;
}
