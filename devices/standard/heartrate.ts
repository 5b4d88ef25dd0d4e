/**
 * Any Heart Rate profile sensor (chest straps, arm bands, watches in "broadcast HR" mode): service 0x180D.
 * Heart Rate Measurement 0x2A37 (notify):
 *   byte 0 flags: bit 0 value format (0 uint8, 1 uint16), bits 1–2 sensor contact (0/1 unsupported,
 *   2 supported but no contact, 3 contact), bit 3 Energy Expended present (uint16 kJ), bit 4 RR present;
 *   then the HR value, optional energy, then RR intervals (uint16, 1/1024 s, oldest first).
 */
import { type Decoder, defineDevice, type Reading } from '../../src/sdk/index.js';
import {
  batteryService,
  CHR,
  decodeBatteryLevel,
  deviceInformationService,
  readDeviceInformation,
  SVC,
} from './common.js';

const CONTACT = ['unsupported', 'unsupported', 'no-contact', 'contact'] as const;

export const decodeHeartRateMeasurement: Decoder = (r) => {
  const flags = r.u8();
  const bpm = flags & 0x01 ? r.u16le() : r.u8();
  const contact = CONTACT[(flags >> 1) & 0x03]!;
  const out: Reading[] = [{ kind: 'heart_rate', value: bpm, meta: { sensorContact: contact } }];
  if (flags & 0x08) out.push({ kind: 'energy_expended', value: r.u16le() });
  if (flags & 0x10) {
    const rr: number[] = [];
    while (r.remaining >= 2) rr.push(r.u16le());
    // A dangling odd byte means the frame was cut.
    if (r.remaining !== 0) r.skip(2);
    // The newest interval ends at (about) the time the frame arrives; earlier ones lie before it.
    let offset = 0;
    for (let i = rr.length - 1; i >= 0; i--) {
      const seconds = rr[i]! / 1024;
      out.push({ kind: 'rr_interval', value: seconds, dtMs: 0 - Math.round(offset * 1000) });
      offset += seconds;
    }
  }
  return out;
};

/** Encode a measurement (used by the simulator and the round-trip tests). */
export function encodeHeartRateMeasurement(m: {
  bpm: number;
  contact?: 'unsupported' | 'no-contact' | 'contact';
  energyKj?: number;
  rr1024?: number[];
}): Uint8Array {
  const wide = m.bpm > 255;
  let flags = wide ? 0x01 : 0;
  if (m.contact === 'no-contact') flags |= 0x04;
  if (m.contact === 'contact') flags |= 0x06;
  if (m.energyKj !== undefined) flags |= 0x08;
  if (m.rr1024 && m.rr1024.length > 0) flags |= 0x10;
  const out = [flags];
  if (wide) out.push(m.bpm & 0xff, m.bpm >> 8);
  else out.push(m.bpm);
  if (m.energyKj !== undefined) out.push(m.energyKj & 0xff, m.energyKj >> 8);
  for (const rr of m.rr1024 ?? []) out.push(rr & 0xff, rr >> 8);
  return Uint8Array.from(out);
}

export const heartRateService = {
  uuid: SVC.heartRate,
  name: 'Heart Rate',
  characteristics: [
    { uuid: CHR.heartRateMeasurement, name: 'Heart Rate Measurement', decode: decodeHeartRateMeasurement },
    { uuid: CHR.bodySensorLocation, name: 'Body Sensor Location' },
    { uuid: CHR.heartRateControlPoint, name: 'Heart Rate Control Point' },
  ],
};

export default defineDevice({
  id: 'standard-heart-rate',
  vendor: 'Bluetooth SIG',
  model: 'Heart Rate Sensor',
  description: 'Any sensor with the standard Heart Rate service: live heart rate, RR intervals, energy expended.',
  priority: 0,
  match: [{ serviceUuid: SVC.heartRate }],
  readings: ['heart_rate', 'rr_interval', 'energy_expended', 'battery'],
  pairing: 'connect',
  pairingHint: 'Wear the strap (wet the electrodes) so it advertises, then pair. No key is needed.',
  gatt: {
    services: [heartRateService, batteryService, deviceInformationService],
    sync: [
      readDeviceInformation,
      {
        op: 'read',
        service: SVC.battery,
        characteristic: CHR.batteryLevel,
        decode: decodeBatteryLevel,
        optional: true,
      },
    ],
    live: { service: SVC.heartRate, characteristic: CHR.heartRateMeasurement },
  },
});
