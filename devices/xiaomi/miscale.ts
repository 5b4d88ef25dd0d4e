/**
 * Xiaomi Mi Scale (v1: "MI_SCALE" / "MI SCALE2") and Mi Body Composition Scale (v2: "MIBCS" / "MIBFS").
 * Both broadcast their measurement in advertisement service data; no connection is needed.
 *
 * v1, service data 0x181D, 10 bytes: control (bit 0 lb, bit 4 jin, bit 5 stabilised, bit 7 removed),
 *   weight LE16 (/200 kg, /100 lb or jin), year LE16, month, day, hour, minute, second (scale wall clock).
 * v2, service data 0x181B, 13 bytes: control 0 (bit 0 lb), control 1 (bit 1 impedance present, bit 5
 *   stabilised, bit 6 jin, bit 7 load removed), year LE16, month, day, hour, minute, second,
 *   impedance LE16 (Ω; 0 or ≥ 3000 is not a measurement), weight LE16.
 * Only stabilised frames without "removed" are final; others decode to no readings.
 */
import {
  type AdvertDecoder,
  type Advertisement,
  ByteReader,
  defineDevice,
  isValidDateTime,
  localToUtc,
  type Reading,
  readDateTime,
  UNIT,
} from '../../src/sdk/index.js';

function serviceData(adv: Advertisement, uuid: string, length: number): Uint8Array | null {
  for (const sd of adv.serviceData) if (sd.uuid === uuid && sd.data.length === length) return sd.data;
  return null;
}

function toKg(raw: number, lb: boolean, jin: boolean): number {
  if (lb) return (raw / 100) * UNIT.LB_TO_KG;
  if (jin) return (raw / 100) * UNIT.JIN_TO_KG;
  return raw / 200;
}

export const decodeMiScaleV1: AdvertDecoder = (adv, ctx) => {
  const data = serviceData(adv, '181d', 10);
  if (!data) return null;
  const r = new ByteReader(data);
  const ctrl = r.u8();
  const raw = r.u16le();
  const dt = readDateTime(r);
  const lb = (ctrl & 0x01) !== 0;
  const jin = (ctrl & 0x10) !== 0;
  const stable = (ctrl & 0x20) !== 0;
  const removed = (ctrl & 0x80) !== 0;
  if (!stable || removed || raw === 0) return [];
  const reading: Reading = {
    kind: 'weight',
    value: toKg(raw, lb, jin),
    meta: { unit: lb ? 'lb' : jin ? 'jin' : 'kg' },
  };
  if (isValidDateTime(dt)) reading.ts = localToUtc(dt, ctx.timeZone);
  return [reading];
};

export const decodeMiScaleV2: AdvertDecoder = (adv, ctx) => {
  const data = serviceData(adv, '181b', 13);
  if (!data) return null;
  const r = new ByteReader(data);
  const c0 = r.u8();
  const c1 = r.u8();
  const dt = readDateTime(r);
  const impedance = r.u16le();
  const raw = r.u16le();
  const lb = (c0 & 0x01) !== 0;
  const jin = (c1 & 0x40) !== 0;
  const hasImpedance = (c1 & 0x02) !== 0;
  const stable = (c1 & 0x20) !== 0;
  const removed = (c1 & 0x80) !== 0;
  if (!stable || removed || raw === 0) return [];
  const meta = { unit: lb ? 'lb' : jin ? 'jin' : 'kg' };
  const ts = isValidDateTime(dt) ? localToUtc(dt, ctx.timeZone) : undefined;
  const out: Reading[] = [{ kind: 'weight', value: toKg(raw, lb, jin), meta }];
  if (hasImpedance && impedance > 0 && impedance < 3000) out.push({ kind: 'impedance', value: impedance, meta });
  if (ts !== undefined) for (const o of out) o.ts = ts;
  return out;
};

const companion = { apps: ['com.xiaomi.hm.health', 'com.mi.health'], domains: ['huami.com', 'mi.com', 'xiaomi.com'] };

export const miScale = defineDevice({
  id: 'xiaomi-miscale',
  vendor: 'Xiaomi',
  model: 'Mi Smart Scale (v1, Mi Scale 2)',
  description: 'Weight from advertisements (service data 0x181D); no connection needed.',
  priority: 10,
  match: [
    { serviceDataUuid: '181d', serviceDataLength: 10 },
    { localName: 'MI_SCALE', caseSensitive: true },
    { localName: 'MI SCALE2', caseSensitive: true },
  ],
  readings: ['weight'],
  pairing: 'none',
  pairingHint: 'Step on the scale so it wakes and broadcasts, then pair: the hub just remembers its address.',
  advert: { decode: decodeMiScaleV1 },
  companion,
});

export const miBodyCompositionScale = defineDevice({
  id: 'xiaomi-mibcs',
  vendor: 'Xiaomi',
  model: 'Mi Body Composition Scale (v2)',
  description: 'Weight and impedance from advertisements (service data 0x181B); no connection needed.',
  priority: 10,
  match: [
    { serviceDataUuid: '181b', serviceDataLength: 13 },
    { localName: 'MIBCS', caseSensitive: true },
    { localName: 'MIBFS', caseSensitive: true },
  ],
  readings: ['weight', 'impedance'],
  pairing: 'none',
  pairingHint: 'Step on the scale barefoot so it broadcasts weight and impedance, then pair.',
  advert: { decode: decodeMiScaleV2 },
  companion,
});
