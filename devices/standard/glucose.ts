/**
 * Any Glucose profile meter: service 0x1808, with stored records read through the Record Access Control
 * Point (RACP, 0x2A52: write + indicate).
 *
 * Glucose Measurement 0x2A18 (notify): flags (bit 0 time offset, bit 1 concentration + type/location,
 * bit 2 units 0 kg/L 1 mol/L, bit 3 sensor status, bit 4 context follows); sequence number uint16; base
 * time (Date Time); optional time offset sint16 minutes; optional concentration SFLOAT then a byte with
 * type (low nibble) and sample location (high nibble); optional sensor status annunciation (16 bit).
 *
 * Glucose Measurement Context 0x2A34 (notify): flags (bit 0 carbohydrate, 1 meal, 2 tester/health,
 * 3 exercise, 4 medication, 5 medication unit litres, 6 HbA1c, 7 extended flags); sequence number;
 * [extended flags]; [carbohydrate id, SFLOAT kg]; [meal]; [tester low nibble / health high nibble];
 * [exercise duration uint16 s, intensity uint8 %]; [medication id, SFLOAT kg or L]; [HbA1c SFLOAT %].
 *
 * RACP: opcode, operator, operand. Sync asks for "records with sequence number ≥ cursor + 1" (operator 3,
 * filter type 1) or all records on the first sync, collects the notified records and commits them with the
 * new cursor only when the meter answers "success" (06 00 01 01) — a cut-off transfer stores nothing.
 */
import {
  ByteReader,
  type DateTimeFields,
  type Decoder,
  DeviceError,
  type DeviceSession,
  defineDevice,
  encodeDateTime,
  encodeSfloat,
  isValidDateTime,
  localToUtc,
  MalformedError,
  type MetaValue,
  type Reading,
  readDateTime,
  readSfloat,
  sfloatKind,
  step,
  UNIT,
} from '../../src/sdk/index.js';
import {
  batteryService,
  CHR,
  currentTimeService,
  decodeBatteryLevel,
  deviceInformationService,
  isFrameError,
  readDeviceInformation,
  SVC,
} from './common.js';

export const GLUCOSE_TYPES: Record<number, string> = {
  1: 'capillary-whole-blood',
  2: 'capillary-plasma',
  3: 'venous-whole-blood',
  4: 'venous-plasma',
  5: 'arterial-whole-blood',
  6: 'arterial-plasma',
  7: 'undetermined-whole-blood',
  8: 'undetermined-plasma',
  9: 'interstitial-fluid',
  10: 'control-solution',
};
export const GLUCOSE_LOCATIONS: Record<number, string> = {
  1: 'finger',
  2: 'alternate-site',
  3: 'earlobe',
  4: 'control-solution',
  15: 'not-available',
};
const STATUS_BITS = [
  'batteryLow',
  'sensorMalfunction',
  'sampleSizeInsufficient',
  'stripInsertionError',
  'wrongStripType',
  'resultTooHigh',
  'resultTooLow',
  'temperatureTooHigh',
  'temperatureTooLow',
  'stripPulledTooSoon',
  'generalDeviceFault',
  'timeFault',
];

export interface GlucoseRecord {
  seq: number;
  /** UTC ms of base time + offset (device clock). */
  ts: number | undefined;
  reading: Reading | null;
  contextFollows: boolean;
  meta: Record<string, MetaValue>;
}

export function decodeGlucoseRecord(r: ByteReader, timeZone: string): GlucoseRecord {
  const flags = r.u8();
  const seq = r.u16le();
  const base: DateTimeFields = readDateTime(r);
  let offsetMin = 0;
  if (flags & 0x01) {
    const o = r.u16le();
    offsetMin = o >= 0x8000 ? o - 0x10000 : o;
  }
  const meta: Record<string, MetaValue> = {};
  let reading: Reading | null = null;
  const ts = isValidDateTime(base) ? localToUtc(base, timeZone) + offsetMin * 60_000 : undefined;
  if (flags & 0x02) {
    const raw = r.u16le();
    const typeLoc = r.u8();
    meta.sampleType = GLUCOSE_TYPES[typeLoc & 0x0f] ?? `reserved-${typeLoc & 0x0f}`;
    meta.sampleLocation = GLUCOSE_LOCATIONS[typeLoc >> 4] ?? `reserved-${typeLoc >> 4}`;
    const special = sfloatKind(raw);
    if (special === 'number') {
      const v = new ByteReader(Uint8Array.of(raw & 0xff, raw >> 8));
      const conc = readSfloat(v);
      reading =
        flags & 0x04
          ? { kind: 'glucose_molar', value: conc * UNIT.MOL_PER_L_TO_MMOL_PER_L, seq, meta }
          : { kind: 'glucose', value: conc * UNIT.KG_PER_L_TO_MG_PER_DL, seq, meta };
      if (ts !== undefined) reading.ts = ts;
    } else meta.concentrationSpecial = special;
  }
  if (flags & 0x08) {
    const st = r.u16le();
    STATUS_BITS.forEach((name, bit) => {
      if (st & (1 << bit)) meta[name] = true;
    });
  }
  return { seq, ts, reading, contextFollows: (flags & 0x10) !== 0, meta };
}

export const decodeGlucoseMeasurement: Decoder = (r, ctx) => {
  const rec = decodeGlucoseRecord(r, ctx.timeZone);
  return rec.reading ? [rec.reading] : [];
};

const MEALS: Record<number, string> = { 1: 'preprandial', 2: 'postprandial', 3: 'fasting', 4: 'casual', 5: 'bedtime' };
const TESTERS: Record<number, string> = { 1: 'self', 2: 'health-care-professional', 3: 'lab-test', 15: 'n/a' };
const HEALTH: Record<number, string> = {
  1: 'minor-health-issues',
  2: 'major-health-issues',
  3: 'during-menses',
  4: 'under-stress',
  5: 'no-health-issues',
  15: 'n/a',
};

export function decodeGlucoseContext(r: ByteReader): { seq: number; meta: Record<string, MetaValue> } {
  const flags = r.u8();
  const seq = r.u16le();
  const meta: Record<string, MetaValue> = {};
  if (flags & 0x80) meta.extendedFlags = r.u8();
  if (flags & 0x01) {
    meta.carbohydrateId = r.u8();
    meta.carbohydrateG = readSfloat(r) * 1000;
  }
  if (flags & 0x02) meta.meal = MEALS[r.u8()] ?? 'reserved';
  if (flags & 0x04) {
    const b = r.u8();
    meta.tester = TESTERS[b & 0x0f] ?? 'reserved';
    meta.health = HEALTH[b >> 4] ?? 'reserved';
  }
  if (flags & 0x08) {
    meta.exerciseDurationS = r.u16le();
    meta.exerciseIntensityPct = r.u8();
  }
  if (flags & 0x10) {
    meta.medicationId = r.u8();
    const v = readSfloat(r);
    // Medication is in kg or litres; keep milligrams / millilitres.
    if (flags & 0x20) meta.medicationMl = v * 1000;
    else meta.medicationMg = v * 1e6;
  }
  if (flags & 0x40) meta.hba1cPct = readSfloat(r);
  return { seq, meta };
}

/** Encode a glucose measurement (simulator and round-trip tests). Concentration in mg/dL or mmol/L. */
export function encodeGlucoseMeasurement(m: {
  seq: number;
  time: DateTimeFields;
  offsetMin?: number;
  mgdl?: number;
  mmoll?: number;
  type?: number;
  location?: number;
  status?: number;
  contextFollows?: boolean;
}): Uint8Array {
  let flags = 0;
  if (m.offsetMin !== undefined) flags |= 0x01;
  if (m.mgdl !== undefined || m.mmoll !== undefined) flags |= 0x02;
  if (m.mmoll !== undefined) flags |= 0x04;
  if (m.status !== undefined) flags |= 0x08;
  if (m.contextFollows) flags |= 0x10;
  const out = [flags, m.seq & 0xff, m.seq >> 8, ...encodeDateTime(m.time)];
  if (m.offsetMin !== undefined) out.push(m.offsetMin & 0xff, (m.offsetMin >> 8) & 0xff);
  if (flags & 0x02) {
    // mg/dL → kg/L is × 1e-5: 120 mg/dL = 120e-5 kg/L, SFLOAT mantissa 120, exponent -5.
    const s = m.mmoll !== undefined ? encodeSfloat(m.mmoll / 1000) : encodeSfloat(m.mgdl! / 100_000);
    out.push(s & 0xff, s >> 8, ((m.location ?? 1) << 4) | (m.type ?? 1));
  }
  if (m.status !== undefined) out.push(m.status & 0xff, m.status >> 8);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------------------------
// RACP
// ---------------------------------------------------------------------------------------------------------

export const RACP = {
  op: { report: 1, delete: 2, abort: 3, reportCount: 4, countResponse: 5, response: 6 },
  operator: { null: 0, all: 1, lessOrEqual: 2, greaterOrEqual: 3, range: 4, first: 5, last: 6 },
  filter: { sequenceNumber: 1, userFacingTime: 2 },
} as const;

export const RACP_CODES: Record<number, string> = {
  1: 'success',
  2: 'op code not supported',
  3: 'invalid operator',
  4: 'operator not supported',
  5: 'invalid operand',
  6: 'no records found',
  7: 'abort unsuccessful',
  8: 'procedure not completed',
  9: 'operand not supported',
};

export function racpReportAll(): Uint8Array {
  return Uint8Array.of(RACP.op.report, RACP.operator.all);
}
export function racpReportFrom(seq: number): Uint8Array {
  return Uint8Array.of(RACP.op.report, RACP.operator.greaterOrEqual, RACP.filter.sequenceNumber, seq & 0xff, seq >> 8);
}
export function racpCount(): Uint8Array {
  return Uint8Array.of(RACP.op.reportCount, RACP.operator.all);
}

export type RacpResponse =
  | { type: 'count'; count: number }
  | { type: 'response'; requestOpCode: number; code: number; message: string };

export function decodeRacp(r: ByteReader): RacpResponse {
  const op = r.u8();
  const operator = r.u8();
  if (operator !== RACP.operator.null) throw new MalformedError(`RACP response operator ${operator} is not Null`);
  if (op === RACP.op.countResponse) return { type: 'count', count: r.u16le() };
  if (op === RACP.op.response) {
    const requestOpCode = r.u8();
    const code = r.u8();
    return { type: 'response', requestOpCode, code, message: RACP_CODES[code] ?? `reserved code ${code}` };
  }
  throw new MalformedError(`RACP opcode ${op} is not a response`);
}

const G = SVC.glucose;
const MEAS = { service: G, characteristic: CHR.glucoseMeasurement };
const CTX = { service: G, characteristic: CHR.glucoseMeasurementContext };
const CP = { service: G, characteristic: CHR.recordAccessControlPoint };

/** Read the stored records newer than the cursor through RACP; all-or-nothing commit. */
export async function syncGlucoseRecords(s: DeviceSession): Promise<void> {
  const timeoutMs = s.options.racpTimeoutMs;
  const hasContext = s.has(G, CHR.glucoseMeasurementContext);
  await s.subscribe(G, CHR.glucoseMeasurement);
  if (hasContext) await s.subscribe(G, CHR.glucoseMeasurementContext);
  await s.subscribe(G, CHR.recordAccessControlPoint);
  const last = s.cursor('glucose');
  // Sequence numbers are uint16: once the cursor reaches 0xFFFF ask for "≥ 0xFFFF" and filter.
  const request = last === null ? racpReportAll() : racpReportFrom(Math.min(last + 1, 0xffff));
  await s.write(G, CHR.recordAccessControlPoint, request);
  const records = new Map<number, GlucoseRecord>();
  const watched = hasContext ? [MEAS, CTX, CP] : [MEAS, CP];
  for (;;) {
    let n: { service: string; characteristic: string; data: Uint8Array };
    try {
      n = await s.nextOf(watched, timeoutMs);
    } catch (e) {
      if (e instanceof DeviceError && e.code === 'timeout') {
        // Tell the meter to stop; it may be gone, so do not wait long for that either.
        await s
          .write(G, CHR.recordAccessControlPoint, Uint8Array.of(RACP.op.abort, RACP.operator.null))
          .catch(() => {});
        throw new DeviceError(
          'timeout',
          `glucose meter stopped answering after ${records.size} record(s); nothing stored`,
        );
      }
      throw e;
    }
    const r = new ByteReader(n.data);
    try {
      if (n.characteristic === CHR.glucoseMeasurement) {
        const rec = decodeGlucoseRecord(r, s.context.timeZone);
        if (last === null || rec.seq > last) records.set(rec.seq, rec);
      } else if (n.characteristic === CHR.glucoseMeasurementContext) {
        const c = decodeGlucoseContext(r);
        const rec = records.get(c.seq);
        if (rec) Object.assign(rec.meta, c.meta);
      } else {
        const resp = decodeRacp(r);
        if (resp.type === 'count') continue;
        if (resp.code === 6) return; // no records found: nothing new
        if (resp.code !== 1)
          throw new DeviceError('protocol', `glucose meter refused the record request: ${resp.message}`);
        const readings: Reading[] = [];
        let maxSeq = last ?? -1;
        for (const rec of records.values()) {
          if (rec.reading) readings.push({ ...rec.reading, meta: { ...rec.meta } });
          if (rec.seq > maxSeq) maxSeq = rec.seq;
        }
        if (maxSeq >= 0) s.commit(readings, { stream: 'glucose', value: maxSeq });
        s.progress(`${records.size} glucose record(s)`);
        return;
      }
    } catch (e) {
      if (!isFrameError(e)) throw e;
      s.dropped(e.name === 'TruncatedError' ? 'truncated' : 'malformed', n.data);
    }
  }
}

export default defineDevice({
  id: 'standard-glucose',
  vendor: 'Bluetooth SIG',
  model: 'Glucose Meter',
  description: 'Any meter with the standard Glucose service: stored records via RACP, with measurement context.',
  priority: 0,
  match: [{ serviceUuid: SVC.glucose }],
  readings: ['glucose', 'glucose_molar', 'battery'],
  pairing: 'connect',
  pairingHint: 'Turn the meter on in its Bluetooth/pairing mode, then pair. Some meters show a PIN to confirm.',
  gatt: {
    services: [
      {
        uuid: SVC.glucose,
        name: 'Glucose',
        characteristics: [
          { uuid: CHR.glucoseMeasurement, name: 'Glucose Measurement', decode: decodeGlucoseMeasurement },
          { uuid: CHR.glucoseMeasurementContext, name: 'Glucose Measurement Context' },
          { uuid: CHR.glucoseFeature, name: 'Glucose Feature' },
          { uuid: CHR.recordAccessControlPoint, name: 'Record Access Control Point' },
        ],
      },
      currentTimeService,
      batteryService,
      deviceInformationService,
    ],
    sync: [
      readDeviceInformation,
      {
        op: 'read',
        service: SVC.battery,
        characteristic: CHR.batteryLevel,
        decode: decodeBatteryLevel,
        optional: true,
      },
      step.run('racp-records', syncGlucoseRecords),
    ],
  },
});
