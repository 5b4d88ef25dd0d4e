/**
 * Any Body Composition profile scale: service 0x181B.
 * Body Composition Measurement 0x2A9C (indicate): 16-bit flags (bit 0 imperial, 1 time stamp, 2 user id,
 * 3 basal metabolism, 4 muscle %, 5 muscle mass, 6 fat-free mass, 7 soft lean mass, 8 body water mass,
 * 9 impedance, 10 weight, 11 height, 12 multiple packets); body fat % uint16 × 0.1 (0xFFFF =
 * unsuccessful); then the optional fields in flag order: Date Time, user id, basal metabolism (kJ),
 * muscle % (× 0.1), four masses (× 0.005 kg / × 0.01 lb), impedance (× 0.1 Ω), weight, height
 * (× 0.001 m / × 0.1 in).
 */
import {
  type Decoder,
  defineDevice,
  isValidDateTime,
  localToUtc,
  type MetaValue,
  type Reading,
  type ReadingKind,
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
import { weightScaleService } from './weightscale.js';

export const decodeBodyCompositionMeasurement: Decoder = (r, ctx) => {
  const flags = r.u16le();
  const imperial = (flags & 0x0001) !== 0;
  const mass = (raw: number) => (imperial ? raw * 0.01 * UNIT.LB_TO_KG : raw * 0.005);
  const meta: Record<string, MetaValue> = { unit: imperial ? 'lb' : 'kg' };
  if (flags & 0x1000) meta.multiplePacket = true;
  const fields: [ReadingKind, number][] = [];
  const fat = r.u16le();
  if (fat === 0xffff) meta.unsuccessful = true;
  else fields.push(['body_fat', fat * 0.1]);
  let ts: number | undefined;
  if (flags & 0x0002) {
    const dt = readDateTime(r);
    if (isValidDateTime(dt)) ts = localToUtc(dt, ctx.timeZone);
  }
  if (flags & 0x0004) {
    const user = r.u8();
    if (user !== 0xff) meta.userId = user;
  }
  if (flags & 0x0008) fields.push(['basal_metabolism', r.u16le()]);
  if (flags & 0x0010) fields.push(['muscle_percent', r.u16le() * 0.1]);
  if (flags & 0x0020) fields.push(['muscle_mass', mass(r.u16le())]);
  if (flags & 0x0040) fields.push(['fat_free_mass', mass(r.u16le())]);
  if (flags & 0x0080) fields.push(['soft_lean_mass', mass(r.u16le())]);
  if (flags & 0x0100) fields.push(['body_water_mass', mass(r.u16le())]);
  if (flags & 0x0200) fields.push(['impedance', r.u16le() * 0.1]);
  if (flags & 0x0400) fields.push(['weight', mass(r.u16le())]);
  if (flags & 0x0800) {
    const h = r.u16le();
    fields.push(['height', imperial ? h * 0.1 * UNIT.IN_TO_M : h * 0.001]);
  }
  if (meta.unsuccessful) return [];
  return fields.map(([kind, value]): Reading => (ts === undefined ? { kind, value, meta } : { kind, value, ts, meta }));
};

export default defineDevice({
  id: 'standard-body-composition',
  vendor: 'Bluetooth SIG',
  model: 'Body Composition Scale',
  description: 'Any scale with the standard Body Composition service: body fat, masses, impedance, weight.',
  priority: 1,
  match: [{ serviceUuid: SVC.bodyComposition }],
  readings: [
    'body_fat',
    'basal_metabolism',
    'muscle_percent',
    'muscle_mass',
    'fat_free_mass',
    'soft_lean_mass',
    'body_water_mass',
    'impedance',
    'weight',
    'height',
    'bmi',
    'battery',
  ],
  pairing: 'connect',
  pairingHint: 'Step on the scale barefoot to wake it, then pair while it measures.',
  gatt: {
    services: [
      {
        uuid: SVC.bodyComposition,
        name: 'Body Composition',
        characteristics: [
          {
            uuid: CHR.bodyCompositionMeasurement,
            name: 'Body Composition Measurement',
            decode: decodeBodyCompositionMeasurement,
          },
          { uuid: CHR.bodyCompositionFeature, name: 'Body Composition Feature' },
        ],
      },
      { ...weightScaleService, optional: true },
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
      collectUntilQuiet(SVC.bodyComposition, CHR.bodyCompositionMeasurement, decodeBodyCompositionMeasurement, 'bc'),
    ],
  },
});
