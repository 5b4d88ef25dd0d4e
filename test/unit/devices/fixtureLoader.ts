/** Loads test/fixtures/ble/<vendor>/<model>.json and turns them into typed cases. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Advertisement, fromHex, normalizeUuid, type Reading } from '../../../src/sdk/index.js';

export const FIXTURE_ROOT = fileURLToPath(new URL('../../fixtures/ble/', import.meta.url));

export interface JsonAdvert {
  localName?: string;
  serviceUuids?: string[];
  serviceData?: { uuid: string; hex: string }[];
  manufacturerData?: string;
  connectable?: boolean;
}

export interface ExpectedReading {
  kind: string;
  value: number;
  ts?: string;
  dtMs?: number;
  seq?: number;
  meta?: Record<string, unknown>;
}

export interface Fixture {
  file: string;
  device: string;
  adverts: { name: string; advert: JsonAdvert; context?: { timeZone: string }; expect?: ExpectedReading[] }[];
  mustNotMatch: { name: string; advert: JsonAdvert }[];
  frames: {
    name: string;
    service: string;
    characteristic: string;
    hex: string;
    context?: { timeZone: string };
    expect: ExpectedReading[];
  }[];
  malformed?: { name: string; service: string; characteristic: string; hex: string; error: string }[];
}

export function loadFixtures(): Fixture[] {
  const out: Fixture[] = [];
  for (const vendor of readdirSync(FIXTURE_ROOT).sort()) {
    for (const f of readdirSync(join(FIXTURE_ROOT, vendor)).sort()) {
      if (!f.endsWith('.json')) continue;
      const file = `${vendor}/${f}`;
      out.push({ file, ...(JSON.parse(readFileSync(join(FIXTURE_ROOT, file), 'utf8')) as Omit<Fixture, 'file'>) });
    }
  }
  return out;
}

export function toAdvertisement(a: JsonAdvert): Advertisement {
  const adv: Advertisement = {
    serviceUuids: (a.serviceUuids ?? []).map(normalizeUuid),
    serviceData: (a.serviceData ?? []).map((d) => ({ uuid: normalizeUuid(d.uuid), data: fromHex(d.hex) })),
  };
  if (a.localName !== undefined) adv.localName = a.localName;
  if (a.manufacturerData !== undefined) adv.manufacturerData = fromHex(a.manufacturerData);
  if (a.connectable !== undefined) adv.connectable = a.connectable;
  return adv;
}

/** A reading in fixture form: ISO time, value rounded to 9 significant decimals for comparison. */
export function normalizeReading(r: Reading): ExpectedReading {
  const out: ExpectedReading = { kind: r.kind, value: round(r.value) };
  if (r.ts !== undefined) out.ts = new Date(r.ts).toISOString();
  if (r.dtMs !== undefined) out.dtMs = r.dtMs;
  if (r.seq !== undefined) out.seq = r.seq;
  if (r.meta !== undefined) out.meta = { ...r.meta };
  return out;
}

export function normalizeExpected(e: ExpectedReading): ExpectedReading {
  return { ...e, value: round(e.value) };
}

function round(v: number): number {
  return Math.round(v * 1e9) / 1e9;
}
