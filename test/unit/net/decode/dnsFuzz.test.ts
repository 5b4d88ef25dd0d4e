/**
 * Robustness of the DNS decoder: every prefix of real messages, random bytes, mutated real messages and a
 * worst-case compression message. The decoder may only return or throw TruncatedError/MalformedError, fast.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDns, dnsAddressAnswers, dnsTcpMessages } from '../../../../src/net/decode/dns.js';
import { fromHex, MalformedError, TruncatedError } from '../../../../src/sdk/byteReader.js';

interface Sample {
  name: string;
  source: string;
  hex: string;
}
const here = dirname(fileURLToPath(import.meta.url));
const samples = (JSON.parse(readFileSync(resolve(here, '../../../fixtures/dns/samples.json'), 'utf8')) as Sample[]).map(
  (s) => {
    const raw = fromHex(s.hex);
    // The TCP sample carries its 2-byte length prefix.
    const msg = s.name === 'dns-tcp' ? dnsTcpMessages(raw).messages[0]! : raw;
    return { ...s, msg };
  },
);

/** Decode and exercise the helpers; only the two typed errors may escape. */
function exercise(bytes: Uint8Array): 'ok' | 'truncated' | 'malformed' {
  try {
    const m = decodeDns(bytes);
    dnsAddressAnswers(m);
    return 'ok';
  } catch (e) {
    if (e instanceof TruncatedError) {
      if (bytes.length >= 12) {
        const partial = decodeDns(bytes, { allowTruncated: true });
        expect(partial.incomplete).toBe(true);
        dnsAddressAnswers(partial);
      }
      return 'truncated';
    }
    if (e instanceof MalformedError) return 'malformed';
    throw e;
  }
}

describe('real messages', () => {
  for (const s of samples) {
    it(`${s.name} (${s.source}): decodes whole, and every strict prefix is TruncatedError`, () => {
      const m = decodeDns(s.msg);
      expect(m.answers.length + m.authorities.length + m.additionals.length).toBeGreaterThan(0);
      for (let n = 0; n < s.msg.length; n++) {
        expect(() => decodeDns(s.msg.subarray(0, n)), `prefix ${n}`).toThrow(TruncatedError);
      }
    });
  }

  it('splits the TCP sample and leaves every cut tail unconsumed', () => {
    const raw = fromHex(samples.find((s) => s.name === 'dns-tcp')!.hex);
    const twice = new Uint8Array(raw.length * 2);
    twice.set(raw);
    twice.set(raw, raw.length);
    for (let n = 0; n <= twice.length; n++) {
      const { messages, consumed } = dnsTcpMessages(twice.subarray(0, n));
      const expected = n >= twice.length ? 2 : n >= raw.length ? 1 : 0;
      expect(messages).toHaveLength(expected);
      expect(consumed).toBe(expected * raw.length);
    }
  });
});

describe('property: no other error, no hang', () => {
  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (b) => {
        exercise(b);
        const { consumed, messages } = dnsTcpMessages(b);
        expect(consumed).toBeLessThanOrEqual(b.length);
        for (const m of messages) exercise(m);
      }),
      { numRuns: 3000 },
    );
  });

  it('a plausible header with small counts, then random bytes (reaches names and records)', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 3 })),
        fc.uint8Array({ minLength: 0, maxLength: 400 }),
        ([qd, an, ar], body) => {
          const b = new Uint8Array(12 + body.length);
          b.set([0, 1, 0x81, 0x80, 0, qd, 0, an, 0, 0, 0, ar]);
          b.set(body, 12);
          exercise(b);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('mutated real messages', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        (which, edits, cut) => {
          const src = samples[which]!.msg;
          const b = src.slice(0, cut === undefined ? src.length : cut % (src.length + 1));
          for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v;
          exercise(b);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('pointer bytes sprinkled into real messages (compression paths)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(0x3fff)), { minLength: 1, maxLength: 6 }),
        (which, pointers) => {
          const b = samples[which]!.msg.slice();
          for (const [at, target] of pointers) {
            const p = 12 + (at % Math.max(1, b.length - 13));
            b[p] = 0xc0 | (target >> 8);
            b[p + 1] = target & 0xff;
          }
          exercise(b);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a worst-case 64 KB message of maximal pointer chains decodes quickly', () => {
    // Question "a" at 12, then 127 questions whose names are each a pointer to the previous question's name, then
    // as many answers as fit whose owner and CNAME rdata point at the last of those (128 jumps each).
    const b = new Uint8Array(65535);
    const view = new DataView(b.buffer);
    b.set([1, 0x61, 0, 0, 1, 0, 1], 12);
    let prev = 12;
    let p = 19;
    for (let i = 0; i < 127; i++) {
      view.setUint16(p, 0xc000 | prev);
      view.setUint32(p + 2, 0x00010001);
      prev = p;
      p += 6;
    }
    view.setUint16(4, 128);
    const questionsEnd = p;
    let count = 0;
    while (p + 14 <= b.length && count < 0xffff) {
      view.setUint16(p, 0xc000 | prev); // owner
      view.setUint16(p + 2, 5); // CNAME
      view.setUint16(p + 4, 1);
      view.setUint32(p + 6, 60);
      view.setUint16(p + 10, 2);
      view.setUint16(p + 12, 0xc000 | prev);
      p += 14;
      count++;
    }
    view.setUint16(6, count);
    expect(questionsEnd).toBeLessThan(0x3fff);
    const t0 = performance.now();
    const m = decodeDns(b);
    dnsAddressAnswers(m);
    const ms = performance.now() - t0;
    expect(m.answers).toHaveLength(count);
    expect(m.answers[count - 1]).toMatchObject({ name: 'a', data: 'a' });
    expect(ms).toBeLessThan(2000);
  });
});
