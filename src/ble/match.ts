/**
 * Pure advert → definition matching (Home Assistant's bluetooth matcher vocabulary). No I/O, no clock.
 */
import { type Advertisement, type DeviceDefinition, type Matcher, normalizeUuid, toHex } from '../sdk/index.js';

const globCache = new Map<string, RegExp>();

/** `*` matches any run, `?` one character; everything else literally. Anchored at both ends. */
export function globToRegExp(glob: string, caseSensitive = false): RegExp {
  const key = `${caseSensitive ? 'S' : 'i'}${glob}`;
  let re = globCache.get(key);
  if (!re) {
    const body = glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, caseSensitive ? 's' : 'is');
    globCache.set(key, re);
  }
  return re;
}

/** The company identifier (little-endian first two bytes) of manufacturer data, or -1. */
export function manufacturerId(adv: Advertisement): number {
  const m = adv.manufacturerData;
  return m && m.length >= 2 ? m[0]! | (m[1]! << 8) : -1;
}

export function matcherMatches(m: Matcher, adv: Advertisement): boolean {
  if (m.localName !== undefined) {
    if (adv.localName === undefined || !globToRegExp(m.localName, m.caseSensitive).test(adv.localName)) return false;
  }
  if (m.serviceUuid !== undefined && !adv.serviceUuids.includes(m.serviceUuid)) return false;
  if (m.serviceDataUuid !== undefined) {
    const sd = adv.serviceData.find(
      (d) =>
        d.uuid === m.serviceDataUuid && (m.serviceDataLength === undefined || d.data.length === m.serviceDataLength),
    );
    if (!sd) return false;
  }
  if (m.manufacturerId !== undefined && manufacturerId(adv) !== m.manufacturerId) return false;
  if (m.manufacturerDataPrefix !== undefined) {
    const md = adv.manufacturerData;
    if (!md || md.length < 2 || !toHex(md.subarray(2)).startsWith(m.manufacturerDataPrefix)) return false;
  }
  if (m.connectable !== undefined && adv.connectable !== undefined && adv.connectable !== m.connectable) return false;
  return true;
}

export function definitionMatches(def: DeviceDefinition, adv: Advertisement): boolean {
  return def.match.some((m) => matcherMatches(m, adv));
}

/** The best definition for an advert: highest priority wins; on a tie the first in registry order. */
export function matchAdvertisement(adv: Advertisement, defs: readonly DeviceDefinition[]): DeviceDefinition | null {
  let best: DeviceDefinition | null = null;
  for (const d of defs) {
    if ((best === null || (d.priority ?? 0) > (best.priority ?? 0)) && definitionMatches(d, adv)) best = d;
  }
  return best;
}

/** A one-line description of what a device advertises (for unknown devices). */
export function describeAdvertisement(adv: Advertisement): string {
  const parts: string[] = [];
  parts.push(adv.localName ? `name "${adv.localName}"` : 'no name');
  if (adv.serviceUuids.length) parts.push(`services ${adv.serviceUuids.join(',')}`);
  for (const sd of adv.serviceData) parts.push(`service data ${sd.uuid}=${toHex(sd.data)}`);
  const mid = manufacturerId(adv);
  if (mid >= 0)
    parts.push(`manufacturer 0x${mid.toString(16).padStart(4, '0')} ${toHex(adv.manufacturerData!.subarray(2))}`);
  return parts.join(', ');
}

/** noble's advertisement shape (Buffers, possibly missing fields) → our normalised Advertisement. */
export interface NobleAdvertisementLike {
  localName?: string;
  txPowerLevel?: number;
  serviceUuids?: string[];
  serviceData?: { uuid: string; data: Uint8Array }[];
  manufacturerData?: Uint8Array;
}

export function fromNobleAdvertisement(a: NobleAdvertisementLike, connectable?: boolean): Advertisement {
  const out: Advertisement = {
    serviceUuids: (a.serviceUuids ?? []).map(normalizeUuid),
    serviceData: (a.serviceData ?? []).map((d) => ({ uuid: normalizeUuid(d.uuid), data: new Uint8Array(d.data) })),
  };
  if (a.localName) out.localName = a.localName;
  if (a.manufacturerData && a.manufacturerData.length > 0) out.manufacturerData = new Uint8Array(a.manufacturerData);
  if (typeof a.txPowerLevel === 'number') out.txPowerLevel = a.txPowerLevel;
  if (connectable !== undefined) out.connectable = connectable;
  return out;
}
