/**
 * Any Blood Pressure profile monitor: service 0x1810.
 * Blood Pressure Measurement 0x2A35 (indicate) and Intermediate Cuff Pressure 0x2A36 (notify):
 *   flags: bit 0 units (0 mmHg, 1 kPa), bit 1 time stamp, bit 2 pulse rate, bit 3 user id, bit 4 status;
 *   systolic, diastolic, mean arterial pressure as IEEE-11073 SFLOAT; optional Date Time (7 bytes);
 *   optional pulse rate (SFLOAT bpm); optional user id (uint8, 255 = unknown); optional status (16 bit):
 *   bit 0 body movement, bit 1 cuff too loose, bit 2 irregular pulse, bits 3–4 pulse range
 *   (0 in range, 1 above, 2 below), bit 5 improper position.
 * Readings are converted to mmHg. NaN/NRes/±INF values produce no reading (the special is kept in meta).
 */
import {
  type DateTimeFields,
  type Decoder,
  decodeSfloat,
  defineDevice,
  encodeDateTime,
  encodeSfloat,
  isValidDateTime,
  localToUtc,
  type MetaValue,
  type Reading,
  type ReadingKind,
  readDateTime,
  sfloatKind,
  UNIT,
} from '../../src/sdk/index.js';
import {
  batteryService,
  CHR,
  collectUntilQuiet,
  currentTimeService,
  decodeBatteryLevel,
  deviceInformationService,
  readDeviceInformation,
  SVC,
  syncClock,
} from './common.js';

const PULSE_RANGE = ['in-range', 'above-upper-limit', 'below-lower-limit', 'reserved'] as const;

function decodeBp(intermediate: boolean): Decoder {
  return (r, ctx) => {
    const flags = r.u8();
    const kpa = (flags & 0x01) !== 0;
    const raw = [r.u16le(), r.u16le(), r.u16le()];
    const meta: Record<string, MetaValue> = { unit: kpa ? 'kPa' : 'mmHg' };
    let ts: number | undefined;
    if (flags & 0x02) {
      const dt = readDateTime(r);
      if (isValidDateTime(dt)) ts = localToUtc(dt, ctx.timeZone);
    }
    let pulseRaw: number | undefined;
    if (flags & 0x04) pulseRaw = r.u16le();
    if (flags & 0x08) {
      const user = r.u8();
      if (user !== 0xff) meta.userId = user;
    }
    if (flags & 0x10) {
      const st = r.u16le();
      meta.bodyMovement = (st & 0x01) !== 0;
      meta.cuffTooLoose = (st & 0x02) !== 0;
      meta.irregularPulse = (st & 0x04) !== 0;
      meta.pulseRange = PULSE_RANGE[(st >> 3) & 0x03]!;
      meta.improperPosition = (st & 0x20) !== 0;
    }
    const kinds: ReadingKind[] = intermediate ? ['cuff_pressure'] : ['systolic', 'diastolic', 'mean_arterial_pressure'];
    const out: Reading[] = [];
    kinds.forEach((kind, i) => {
      const v = raw[i]!;
      const special = sfloatKind(v);
      if (special !== 'number') {
        meta[`${kind}Special`] = special;
        return;
      }
      const value = decodeSfloat(v) * (kpa ? UNIT.KPA_TO_MMHG : 1);
      out.push(ts === undefined ? { kind, value, meta } : { kind, value, ts, meta });
    });
    if (pulseRaw !== undefined) {
      if (sfloatKind(pulseRaw) === 'number') {
        const value = decodeSfloat(pulseRaw);
        out.push(ts === undefined ? { kind: 'pulse_rate', value, meta } : { kind: 'pulse_rate', value, ts, meta });
      } else meta.pulseSpecial = sfloatKind(pulseRaw);
    }
    return out;
  };
}

export const decodeBloodPressureMeasurement = decodeBp(false);
export const decodeIntermediateCuffPressure = decodeBp(true);

/** Encode a measurement (simulator and round-trip tests). Values are in the given unit, SFLOAT 1 decimal. */
export function encodeBloodPressureMeasurement(m: {
  unit?: 'mmHg' | 'kPa';
  systolic: number;
  diastolic: number;
  map: number;
  time?: DateTimeFields;
  pulse?: number;
  userId?: number;
  status?: number;
}): Uint8Array {
  let flags = m.unit === 'kPa' ? 0x01 : 0;
  if (m.time) flags |= 0x02;
  if (m.pulse !== undefined) flags |= 0x04;
  if (m.userId !== undefined) flags |= 0x08;
  if (m.status !== undefined) flags |= 0x10;
  const out = [flags];
  for (const v of [m.systolic, m.diastolic, m.map]) {
    const s = encodeSfloat(v);
    out.push(s & 0xff, s >> 8);
  }
  if (m.time) out.push(...encodeDateTime(m.time));
  if (m.pulse !== undefined) {
    const s = encodeSfloat(m.pulse);
    out.push(s & 0xff, s >> 8);
  }
  if (m.userId !== undefined) out.push(m.userId);
  if (m.status !== undefined) out.push(m.status & 0xff, m.status >> 8);
  return Uint8Array.from(out);
}

export default defineDevice({
  id: 'standard-blood-pressure',
  vendor: 'Bluetooth SIG',
  model: 'Blood Pressure Monitor',
  description: 'Any monitor with the standard Blood Pressure service: systolic, diastolic, MAP, pulse, status.',
  priority: 0,
  match: [{ serviceUuid: SVC.bloodPressure }],
  readings: ['systolic', 'diastolic', 'mean_arterial_pressure', 'pulse_rate', 'cuff_pressure', 'battery'],
  pairing: 'connect',
  pairingHint: 'Press the Bluetooth/memory button on the monitor so it advertises, then pair.',
  gatt: {
    services: [
      {
        uuid: SVC.bloodPressure,
        name: 'Blood Pressure',
        characteristics: [
          {
            uuid: CHR.bloodPressureMeasurement,
            name: 'Blood Pressure Measurement',
            decode: decodeBloodPressureMeasurement,
          },
          {
            uuid: CHR.intermediateCuffPressure,
            name: 'Intermediate Cuff Pressure',
            decode: decodeIntermediateCuffPressure,
          },
          { uuid: CHR.bloodPressureFeature, name: 'Blood Pressure Feature' },
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
      syncClock(),
      collectUntilQuiet(SVC.bloodPressure, CHR.bloodPressureMeasurement, decodeBloodPressureMeasurement, 'bp'),
    ],
    live: { service: SVC.bloodPressure, characteristic: CHR.intermediateCuffPressure },
  },
});
