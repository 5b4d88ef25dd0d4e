/**
 * Any Weight Scale profile scale: service 0x181D.
 * Weight Measurement 0x2A9D (indicate): flags (bit 0 imperial, bit 1 time stamp, bit 2 user id, bit 3 BMI
 * and height); weight uint16 × 0.005 kg (× 0.01 lb imperial; 0xFFFF = measurement unsuccessful); optional
 * Date Time; optional user id (0xFF unknown); optional BMI uint16 × 0.1 then height uint16 × 0.001 m
 * (× 0.1 in imperial). Weight Scale Feature 0x2A9E (read, uint32) describes resolutions.
 */
import {
  type DateTimeFields,
  type Decoder,
  defineDevice,
  encodeDateTime,
  isValidDateTime,
  localToUtc,
  type MetaValue,
  type Reading,
  readDateTime,
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

export const WEIGHT_UNSUCCESSFUL = 0xffff;

export const decodeWeightMeasurement: Decoder = (r, ctx) => {
  const flags = r.u8();
  const imperial = (flags & 0x01) !== 0;
  const rawWeight = r.u16le();
  const meta: Record<string, MetaValue> = { unit: imperial ? 'lb' : 'kg' };
  let ts: number | undefined;
  if (flags & 0x02) {
    const dt = readDateTime(r);
    if (isValidDateTime(dt)) ts = localToUtc(dt, ctx.timeZone);
  }
  if (flags & 0x04) {
    const user = r.u8();
    if (user !== 0xff) meta.userId = user;
  }
  const out: Reading[] = [];
  const push = (kind: Reading['kind'], value: number) =>
    out.push(ts === undefined ? { kind, value, meta } : { kind, value, ts, meta });
  if (rawWeight === WEIGHT_UNSUCCESSFUL) meta.unsuccessful = true;
  else push('weight', imperial ? rawWeight * 0.01 * UNIT.LB_TO_KG : rawWeight * 0.005);
  if (flags & 0x08) {
    const bmi = r.u16le();
    const height = r.u16le();
    if (rawWeight !== WEIGHT_UNSUCCESSFUL) push('bmi', bmi * 0.1);
    push('height', imperial ? height * 0.1 * UNIT.IN_TO_M : height * 0.001);
  }
  return out;
};

/** Encode a measurement in SI units (simulator and round-trip tests). */
export function encodeWeightMeasurement(m: {
  weightKg: number;
  time?: DateTimeFields;
  userId?: number;
  bmi?: number;
  heightM?: number;
}): Uint8Array {
  let flags = 0;
  if (m.time) flags |= 0x02;
  if (m.userId !== undefined) flags |= 0x04;
  if (m.bmi !== undefined && m.heightM !== undefined) flags |= 0x08;
  const w = Math.round(m.weightKg / 0.005);
  const out = [flags, w & 0xff, w >> 8];
  if (m.time) out.push(...encodeDateTime(m.time));
  if (m.userId !== undefined) out.push(m.userId);
  if (flags & 0x08) {
    const b = Math.round(m.bmi! / 0.1);
    const h = Math.round(m.heightM! / 0.001);
    out.push(b & 0xff, b >> 8, h & 0xff, h >> 8);
  }
  return Uint8Array.from(out);
}

export const weightScaleService = {
  uuid: SVC.weightScale,
  name: 'Weight Scale',
  characteristics: [
    { uuid: CHR.weightMeasurement, name: 'Weight Measurement', decode: decodeWeightMeasurement },
    { uuid: CHR.weightScaleFeature, name: 'Weight Scale Feature' },
  ],
};

export default defineDevice({
  id: 'standard-weight-scale',
  vendor: 'Bluetooth SIG',
  model: 'Weight Scale',
  description: 'Any scale with the standard Weight Scale service: weight, BMI, height, user id.',
  priority: 0,
  match: [{ serviceUuid: SVC.weightScale }],
  readings: ['weight', 'bmi', 'height', 'battery'],
  pairing: 'connect',
  pairingHint: 'Step on the scale to wake it, then pair while it shows the weight.',
  gatt: {
    services: [weightScaleService, currentTimeService, batteryService, deviceInformationService],
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
      collectUntilQuiet(SVC.weightScale, CHR.weightMeasurement, decodeWeightMeasurement, 'weight'),
    ],
  },
});
