/**
 * Common codec building blocks for device definitions: IEEE-11073 SFLOAT/FLOAT, the Bluetooth SIG Date Time
 * structure, UUID normalisation and local-time → UTC conversion for an IANA time zone.
 *
 * Everything here is pure: bytes (plus explicit context such as a time-zone name) in, values out. Reads go
 * through the bounds-checked ByteReader, so a short frame throws TruncatedError and nothing else.
 */
import { type ByteReader, MalformedError } from './byteReader.js';

// ---------------------------------------------------------------------------------------------------------
// IEEE-11073-20601 SFLOAT (16 bit: 4-bit signed exponent, 12-bit signed mantissa) and FLOAT (8 + 24 bit)
// ---------------------------------------------------------------------------------------------------------

/** What an 11073 number is: a finite value or one of the reserved special values. */
export type MderKind = 'number' | 'nan' | 'nres' | 'reserved' | '+inf' | '-inf';

export const SFLOAT_NAN = 0x07ff;
export const SFLOAT_NRES = 0x0800;
export const SFLOAT_POS_INF = 0x07fe;
export const SFLOAT_NEG_INF = 0x0802;
export const SFLOAT_RESERVED = 0x0801;

export const FLOAT_NAN = 0x007fffff;
export const FLOAT_NRES = 0x00800000;
export const FLOAT_POS_INF = 0x007ffffe;
export const FLOAT_NEG_INF = 0x00800002;
export const FLOAT_RESERVED = 0x00800001;

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16];

function scale(mantissa: number, exponent: number): number {
  if (exponent === 0) return mantissa;
  // Dividing by an exact power of ten gives the correctly rounded decimal (e.g. 1234 / 10 = 123.4),
  // where multiplying by 10^-1 would not.
  if (exponent < 0) {
    const p = -exponent < POW10.length ? POW10[-exponent]! : 10 ** -exponent;
    return mantissa / p;
  }
  return mantissa * (exponent < POW10.length ? POW10[exponent]! : 10 ** exponent);
}

/** Classify a raw 16-bit SFLOAT. */
export function sfloatKind(raw: number): MderKind {
  switch (raw & 0xffff) {
    case SFLOAT_NAN:
      return 'nan';
    case SFLOAT_NRES:
      return 'nres';
    case SFLOAT_RESERVED:
      return 'reserved';
    case SFLOAT_POS_INF:
      return '+inf';
    case SFLOAT_NEG_INF:
      return '-inf';
    default:
      return 'number';
  }
}

/** Decode a raw 16-bit SFLOAT: NaN for NaN/NRes/reserved, ±Infinity for ±INF. */
export function decodeSfloat(raw: number): number {
  const v = raw & 0xffff;
  const kind = sfloatKind(v);
  if (kind === '+inf') return Number.POSITIVE_INFINITY;
  if (kind === '-inf') return Number.NEGATIVE_INFINITY;
  if (kind !== 'number') return Number.NaN;
  let mantissa = v & 0x0fff;
  if (mantissa >= 0x0800) mantissa -= 0x1000;
  let exponent = v >> 12;
  if (exponent >= 0x8) exponent -= 0x10;
  return scale(mantissa, exponent);
}

/** Read a little-endian SFLOAT. */
export function readSfloat(r: ByteReader): number {
  return decodeSfloat(r.u16le());
}

/**
 * Encode a number as SFLOAT. With `exponent` the value is rounded to that exponent; without it the most
 * precise exponent whose mantissa fits is chosen. NaN → NaN, ±Infinity → ±INF; a value too large → ±INF.
 */
export function encodeSfloat(value: number, exponent?: number): number {
  if (Number.isNaN(value)) return SFLOAT_NAN;
  if (value === Number.POSITIVE_INFINITY) return SFLOAT_POS_INF;
  if (value === Number.NEGATIVE_INFINITY) return SFLOAT_NEG_INF;
  const fits = (m: number, e: number) =>
    m >= -2048 && m <= 2047 && !(e === 0 && (m === 2047 || m === 2046 || m <= -2046));
  const exps = exponent === undefined ? [-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7] : [exponent];
  for (const e of exps) {
    if (e < -8 || e > 7) throw new RangeError(`SFLOAT exponent ${e} out of range`);
    const m = Math.round(e < 0 ? value * POW10[-e]! : value / POW10[e]!);
    // Only accept an automatically chosen exponent when it represents the value exactly enough.
    if (fits(m, e) && (exponent !== undefined || Math.abs(scale(m, e) - value) <= Math.abs(value) * 1e-9 + 1e-12)) {
      return ((e & 0xf) << 12) | (m & 0x0fff);
    }
  }
  if (exponent === undefined) {
    // No exact representation: pick the smallest exponent that fits, rounding the mantissa.
    for (let e = -8; e <= 7; e++) {
      const m = Math.round(e < 0 ? value * POW10[-e]! : value / POW10[e]!);
      if (fits(m, e)) return ((e & 0xf) << 12) | (m & 0x0fff);
    }
  }
  return value > 0 ? SFLOAT_POS_INF : SFLOAT_NEG_INF;
}

/** Classify a raw 32-bit FLOAT (Wireshark's specials, which fit the 8/24-bit layout). */
export function floatKind(raw: number): MderKind {
  switch (raw >>> 0) {
    case FLOAT_NAN:
      return 'nan';
    case FLOAT_NRES:
      return 'nres';
    case FLOAT_RESERVED:
      return 'reserved';
    case FLOAT_POS_INF:
      return '+inf';
    case FLOAT_NEG_INF:
      return '-inf';
    default:
      return 'number';
  }
}

export function decodeFloat(raw: number): number {
  const v = raw >>> 0;
  const kind = floatKind(v);
  if (kind === '+inf') return Number.POSITIVE_INFINITY;
  if (kind === '-inf') return Number.NEGATIVE_INFINITY;
  if (kind !== 'number') return Number.NaN;
  let mantissa = v & 0x00ffffff;
  if (mantissa >= 0x00800000) mantissa -= 0x01000000;
  let exponent = v >>> 24;
  if (exponent >= 0x80) exponent -= 0x100;
  return scale(mantissa, exponent);
}

export function readFloat(r: ByteReader): number {
  return decodeFloat(r.u32le());
}

export function encodeFloat(value: number, exponent: number): number {
  if (Number.isNaN(value)) return FLOAT_NAN;
  if (value === Number.POSITIVE_INFINITY) return FLOAT_POS_INF;
  if (value === Number.NEGATIVE_INFINITY) return FLOAT_NEG_INF;
  if (!Number.isInteger(exponent) || exponent < -128 || exponent > 127) throw new RangeError('FLOAT exponent');
  const m = Math.round(exponent < 0 ? value * 10 ** -exponent : value / 10 ** exponent);
  if (m < -0x800000 || m > 0x7fffff || (exponent === 0 && (m >= 0x7ffffe || m <= -0x7ffffe))) {
    return value > 0 ? FLOAT_POS_INF : FLOAT_NEG_INF;
  }
  return (((exponent & 0xff) << 24) | (m & 0x00ffffff)) >>> 0;
}

// ---------------------------------------------------------------------------------------------------------
// Date Time (0x2A08): year LE16, month, day, hours, minutes, seconds. 0 in year/month/day = unknown.
// ---------------------------------------------------------------------------------------------------------

export interface DateTimeFields {
  year: number;
  month: number;
  day: number;
  hours: number;
  minutes: number;
  seconds: number;
}

export function readDateTime(r: ByteReader): DateTimeFields {
  const year = r.u16le();
  const month = r.u8();
  const day = r.u8();
  const hours = r.u8();
  const minutes = r.u8();
  const seconds = r.u8();
  return { year, month, day, hours, minutes, seconds };
}

/** True when every field is known and in range (year 1582–9999 per the SIG definition). */
export function isValidDateTime(d: DateTimeFields): boolean {
  if (d.year < 1582 || d.year > 9999 || d.month < 1 || d.month > 12 || d.day < 1) return false;
  if (d.hours > 23 || d.minutes > 59 || d.seconds > 59) return false;
  const daysInMonth = new Date(Date.UTC(d.year, d.month, 0)).getUTCDate();
  return d.day <= daysInMonth;
}

export function encodeDateTime(d: DateTimeFields): Uint8Array {
  return Uint8Array.of(d.year & 0xff, d.year >> 8, d.month, d.day, d.hours, d.minutes, d.seconds);
}

/** The Date Time fields of a UTC instant shifted by `offsetMinutes` (the wall clock of that offset). */
export function fieldsAt(utcMs: number, offsetMinutes: number): DateTimeFields & { dayOfWeek: number } {
  const d = new Date(utcMs + offsetMinutes * 60_000);
  const dow = d.getUTCDay();
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hours: d.getUTCHours(),
    minutes: d.getUTCMinutes(),
    seconds: d.getUTCSeconds(),
    dayOfWeek: dow === 0 ? 7 : dow,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Time zones. Devices keep wall-clock time without a zone; the hub knows its IANA zone and converts.
// ---------------------------------------------------------------------------------------------------------

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new MalformedError(`unknown time zone ${timeZone}`);
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** The UTC offset (minutes east of UTC) of `timeZone` at the instant `utcMs`. */
export function tzOffsetMinutes(utcMs: number, timeZone: string): number {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return 0;
  const parts = formatter(timeZone).formatToParts(new Date(utcMs));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60_000);
}

/**
 * Convert wall-clock fields in `timeZone` to a UTC instant. In a DST gap the later offset wins; in an
 * overlap the earlier instant wins (the usual "compatible" disambiguation).
 */
export function localToUtc(d: DateTimeFields, timeZone: string): number {
  const naive = Date.UTC(d.year, d.month - 1, d.day, d.hours, d.minutes, d.seconds);
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return naive;
  const before = tzOffsetMinutes(naive - 86_400_000, timeZone);
  const after = tzOffsetMinutes(naive + 86_400_000, timeZone);
  const a = naive - before * 60_000;
  const b = naive - after * 60_000;
  const aOk = tzOffsetMinutes(a, timeZone) === before;
  const bOk = tzOffsetMinutes(b, timeZone) === after;
  if (aOk && bOk) return Math.min(a, b);
  if (aOk) return a;
  if (bOk) return b;
  // A wall-clock time inside a DST gap does not exist: read it with the offset in force before the gap.
  return a;
}

// ---------------------------------------------------------------------------------------------------------
// UUIDs: noble reports lowercase hex without dashes; SIG base UUIDs in their 16-bit short form.
// ---------------------------------------------------------------------------------------------------------

const SIG_BASE_SUFFIX = '00001000800000805f9b34fb';

/** Lowercase, no dashes; a 128-bit UUID on the SIG base becomes its 16-bit short form ("180d"). */
export function normalizeUuid(uuid: string): string {
  const u = uuid.toLowerCase().replace(/-/g, '');
  if (u.length === 32 && u.startsWith('0000') && u.endsWith(SIG_BASE_SUFFIX)) return u.slice(4, 8);
  return u;
}

export function isValidUuid(uuid: string): boolean {
  return /^([0-9a-f]{4}|[0-9a-f]{32})$/.test(uuid);
}

/** Little-endian uint16 as two bytes. */
export function le16(v: number): [number, number] {
  return [v & 0xff, (v >> 8) & 0xff];
}

/** Little-endian uint32 as four bytes. */
export function le32(v: number): [number, number, number, number] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
