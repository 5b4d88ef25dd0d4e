import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ByteReader,
  decodeFloat,
  decodeSfloat,
  defineDevice,
  encodeDateTime,
  encodeFloat,
  encodeSfloat,
  floatKind,
  fromHex,
  isValidDateTime,
  localToUtc,
  normalizeUuid,
  readDateTime,
  sfloatKind,
  TruncatedError,
  tzOffsetMinutes,
  validateDefinition,
} from '../../../src/sdk/index.js';

describe('IEEE-11073 SFLOAT', () => {
  it('decodes the HL7 worked examples', () => {
    expect(decodeSfloat(0xf014)).toBe(2);
    expect(decodeSfloat(0xe0c8)).toBe(2);
    expect(decodeSfloat(0x1002)).toBe(20);
    expect(decodeSfloat(0x0b2e)).toBe(-1234);
    expect(decodeSfloat(0xf3a5)).toBe(93.3);
  });

  it('maps every special value', () => {
    expect(sfloatKind(0x07ff)).toBe('nan');
    expect(sfloatKind(0x0800)).toBe('nres');
    expect(sfloatKind(0x0801)).toBe('reserved');
    expect(sfloatKind(0x07fe)).toBe('+inf');
    expect(sfloatKind(0x0802)).toBe('-inf');
    expect(decodeSfloat(0x07ff)).toBeNaN();
    expect(decodeSfloat(0x0800)).toBeNaN();
    expect(decodeSfloat(0x0801)).toBeNaN();
    expect(decodeSfloat(0x07fe)).toBe(Number.POSITIVE_INFINITY);
    expect(decodeSfloat(0x0802)).toBe(Number.NEGATIVE_INFINITY);
    // The same mantissas with a non-zero exponent are ordinary numbers.
    expect(sfloatKind(0x17ff)).toBe('number');
    expect(decodeSfloat(0x17ff)).toBe(20470);
  });

  it('encodes specials and picks an exact exponent', () => {
    expect(encodeSfloat(Number.NaN)).toBe(0x07ff);
    expect(encodeSfloat(Number.POSITIVE_INFINITY)).toBe(0x07fe);
    expect(encodeSfloat(Number.NEGATIVE_INFINITY)).toBe(0x0802);
    expect(encodeSfloat(120)).toBe(0xf4b0); // exp -1, mantissa 1200: the most precise exponent that fits
    expect(decodeSfloat(encodeSfloat(120))).toBe(120);
    expect(encodeSfloat(2, -2)).toBe(0xe0c8);
    expect(encodeSfloat(1e12)).toBe(0x07fe); // too large → +INF
    expect(() => encodeSfloat(1, 9)).toThrow(RangeError);
  });

  it('round-trips every raw 16-bit value that is a number (same exponent)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (raw) => {
        if (sfloatKind(raw) !== 'number') return;
        let exp = raw >> 12;
        if (exp >= 8) exp -= 16;
        const back = encodeSfloat(decodeSfloat(raw), exp);
        expect(decodeSfloat(back)).toBe(decodeSfloat(raw));
      }),
      { numRuns: 5000 },
    );
  });

  it('auto-encoded values decode to themselves within one unit in the last place', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2045, max: 2045 }), fc.integer({ min: -3, max: 3 }), (m, e) => {
        const v = m * 10 ** e;
        const got = decodeSfloat(encodeSfloat(v));
        expect(Math.abs(got - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-9 + 1e-9);
      }),
    );
  });

  it('reads little-endian from a ByteReader and throws TruncatedError on one byte', async () => {
    const { readSfloat } = await import('../../../src/sdk/index.js');
    expect(readSfloat(new ByteReader(fromHex('78 00')))).toBe(120);
    expect(() => readSfloat(new ByteReader(fromHex('78')))).toThrow(TruncatedError);
  });
});

describe('IEEE-11073 FLOAT', () => {
  it('decodes values and Wireshark special values', () => {
    expect(decodeFloat(0xff000065)).toBe(10.1); // exp -1, mantissa 101
    expect(decodeFloat(0x00fffffe)).toBe(-2); // exp 0, mantissa -2
    expect(floatKind(0x007fffff)).toBe('nan');
    expect(floatKind(0x00800000)).toBe('nres');
    expect(floatKind(0x00800001)).toBe('reserved');
    expect(decodeFloat(0x007ffffe)).toBe(Number.POSITIVE_INFINITY);
    expect(decodeFloat(0x00800002)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('round-trips with the same exponent', () => {
    fc.assert(
      fc.property(fc.integer({ min: -0x7ffff0, max: 0x7ffff0 }), fc.integer({ min: -6, max: 6 }), (m, e) => {
        const raw = encodeFloat(m * 10 ** e, e);
        expect(Math.abs(decodeFloat(raw) - m * 10 ** e)).toBeLessThanOrEqual(Math.abs(m * 10 ** e) * 1e-12 + 1e-12);
      }),
    );
    expect(encodeFloat(Number.NaN, 0)).toBe(0x007fffff);
  });
});

describe('Date Time and time zones', () => {
  it('reads, validates and encodes a Date Time', () => {
    const d = readDateTime(new ByteReader(fromHex('e807 02 1d 0c 00 00')));
    expect(d).toEqual({ year: 2024, month: 2, day: 29, hours: 12, minutes: 0, seconds: 0 });
    expect(isValidDateTime(d)).toBe(true);
    expect(encodeDateTime(d)).toEqual(fromHex('e807021d0c0000'));
    expect(isValidDateTime({ ...d, year: 2023 })).toBe(false); // no 29 February in 2023
    expect(isValidDateTime({ ...d, month: 0 })).toBe(false); // 0 = unknown
  });

  it('converts wall-clock time in an IANA zone, including DST edges', () => {
    const f = (s: string) => {
      const [date, time] = s.split(' ');
      const [year, month, day] = date!.split('-').map(Number);
      const [hours, minutes, seconds] = time!.split(':').map(Number);
      return { year: year!, month: month!, day: day!, hours: hours!, minutes: minutes!, seconds: seconds! };
    };
    expect(new Date(localToUtc(f('2024-07-01 12:00:00'), 'Europe/Berlin')).toISOString()).toBe(
      '2024-07-01T10:00:00.000Z',
    );
    expect(new Date(localToUtc(f('2024-01-01 12:00:00'), 'Europe/Berlin')).toISOString()).toBe(
      '2024-01-01T11:00:00.000Z',
    );
    // 02:30 on 31 March 2024 does not exist in Berlin: read with the pre-gap offset (= 03:30 CEST).
    expect(new Date(localToUtc(f('2024-03-31 02:30:00'), 'Europe/Berlin')).toISOString()).toBe(
      '2024-03-31T01:30:00.000Z',
    );
    // 02:30 on 27 October 2024 happens twice: the earlier instant (CEST) wins.
    expect(new Date(localToUtc(f('2024-10-27 02:30:00'), 'Europe/Berlin')).toISOString()).toBe(
      '2024-10-27T00:30:00.000Z',
    );
    expect(tzOffsetMinutes(Date.UTC(2024, 6, 1), 'Asia/Kolkata')).toBe(330);
    expect(() => tzOffsetMinutes(0, 'Not/AZone')).toThrow();
  });
});

describe('SDK definitions', () => {
  it('normalises UUIDs to noble form', () => {
    expect(normalizeUuid('0000180D-0000-1000-8000-00805F9B34FB')).toBe('180d');
    expect(normalizeUuid('00000009-0000-3512-2118-0009af100700')).toBe('000000090000351221180009af100700');
  });

  it('reports invalid definitions instead of throwing', () => {
    const bad = defineDevice({
      id: 'Bad Id',
      vendor: 'x',
      model: 'y',
      description: 'z',
      match: [{}],
      readings: ['nonsense' as never],
      pairing: 'connect',
      gatt: {
        services: [{ uuid: '180f', name: 'b', characteristics: [{ uuid: '2a19', name: 'l' }] }],
        sync: [{ op: 'read', service: '180d', characteristic: '2a37', decode: () => [] }],
      },
    });
    const errors = validateDefinition(bad).join('\n');
    expect(errors).toContain('kebab-case');
    expect(errors).toContain('matcher 0 has no condition');
    expect(errors).toContain('unknown reading kind nonsense');
    expect(errors).toContain('not declared in services');
    expect(Object.isFrozen(bad.gatt!.services[0]!.characteristics)).toBe(true);
  });
});
