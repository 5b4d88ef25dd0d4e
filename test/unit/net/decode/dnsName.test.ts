/**
 * Names on the wire: compression pointers (backward, forward, self, loops, long chains), label types, length
 * limits, presentation escapes. Each message is a DNS header followed by commented hex.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDns } from '../../../../src/net/decode/dns.js';
import { bytesText, labelText, MAX_POINTER_JUMPS, readName } from '../../../../src/net/decode/dnsName.js';
import { fromHex, MalformedError, TruncatedError } from '../../../../src/sdk/byteReader.js';

function hex(text: string): string {
  return text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
}
/** Header: id 0, the given flags, QDCOUNT, ANCOUNT, then the body. */
function message(qd: number, an: number, body: string, flags = 0x8000): Uint8Array {
  const h = [0, flags, qd, an, 0, 0].map((n) => n.toString(16).padStart(4, '0')).join('');
  return fromHex(h + hex(body));
}
const label = (s: string) => s.length.toString(16).padStart(2, '0') + Buffer.from(s, 'latin1').toString('hex');

describe('compression pointers', () => {
  it('follows a backward pointer to a suffix', () => {
    const m = decodeDns(
      message(
        2,
        0,
        `03 777777 07 6578616d706c65 03 636f6d 00  0001 0001  # offset 12: www.example.com
         04 6d61696c c010                        0001 0001  # mail + pointer to 16 ("example.com")`,
      ),
    );
    expect(m.questions.map((q) => q.name)).toEqual(['www.example.com', 'mail.example.com']);
  });

  it('rejects a pointer to itself (tcpdump dns-zlip: c0 0c at offset 12)', () => {
    expect(() => decodeDns(message(1, 0, 'c00c 0001 0001'))).toThrow(MalformedError);
  });

  it('rejects a forward pointer, even to a valid name (tcpdump dns_fwdptr)', () => {
    expect(() =>
      decodeDns(
        message(
          2,
          0,
          `c0 12  0001 0001               # offset 12: pointer to 18, after itself
           01 61 00  0001 0001            # offset 18: "a"`,
        ),
      ),
    ).toThrow(MalformedError);
  });

  it('rejects a pointer loop (zeek dns-invalid-names)', () => {
    expect(() =>
      decodeDns(
        message(
          1,
          1,
          `01 61 c0 13  0001 0001         # offset 12: "a" + pointer to 19 (forward)
           c0 0c 0001 0001 00000000 0000  # offset 19: answer owner → 12 → "a" → 19 → …`,
        ),
      ),
    ).toThrow(MalformedError);
    // A loop entered backwards: the CNAME rdata at 31 points back into the record's TTL bytes (25), which hold a
    // pointer forward to 31 again. The record is marked malformed; the message survives.
    const m = decodeDns(
      message(
        1,
        1,
        `01 61 00  0001 0001          # offset 12: question "a"
         c0 0c  0005 0001             # offset 19: owner "a", CNAME, IN
         c0 1f 00 00  0002            # offset 25: TTL bytes = pointer to 31; RDLENGTH 2
         c0 19                        # offset 31: rdata = pointer to 25`,
      ),
    );
    expect(m.answers[0]!.data).toEqual({ malformed: true, raw: 'c019' });
  });

  it('follows a chain of 6 pointers to pointers (zeek max-compression-depth)', () => {
    // Answer owners: literal "a" at 19, then each later owner points at the previous owner.
    let body = '01 61 00 0001 0001'; // question "a" at 12, ends at 19
    let at = 19;
    body += '01 61 00 0001 0001 0000012c 0004 7f000001'; // answer 1, owner "a" at 19, 17 bytes
    let prev = at;
    at += 17;
    for (let i = 2; i <= 7; i++) {
      body += `c0${prev.toString(16).padStart(2, '0')} 0001 0001 0000012c 0004 7f00000${i}`;
      prev = at;
      at += 16;
    }
    const m = decodeDns(message(1, 7, body));
    expect(m.answers.map((r) => [r.name, r.data])).toEqual(
      Array.from({ length: 7 }, (_, i) => ['a', `127.0.0.${i + 1}`]),
    );
  });

  it(`caps a chain at ${MAX_POINTER_JUMPS} jumps`, () => {
    // A name "a" at 0, then pointers at 3, 5, 7, … each to the previous one.
    const build = (count: number) => {
      const b = new Uint8Array(3 + 2 * count);
      b.set([1, 0x61, 0], 0);
      for (let i = 0; i < count; i++) {
        const target = i === 0 ? 0 : 3 + 2 * (i - 1);
        b[3 + 2 * i] = 0xc0 | (target >> 8);
        b[4 + 2 * i] = target & 0xff;
      }
      return b;
    };
    const ok = build(MAX_POINTER_JUMPS);
    expect(readName(ok, ok.length - 2)).toEqual({ name: 'a', end: ok.length });
    const tooMany = build(MAX_POINTER_JUMPS + 1);
    expect(() => readName(tooMany, tooMany.length - 2)).toThrow(MalformedError);
  });

  it('reports where the name ends: after the first pointer, or after the root label', () => {
    const b = fromHex(hex('01 61 00  01 62 c0 00'));
    expect(readName(b, 0)).toEqual({ name: 'a', end: 3 });
    expect(readName(b, 3)).toEqual({ name: 'b.a', end: 7 });
  });

  it('refuses pointers where compression is not allowed', () => {
    const b = fromHex(hex('01 61 00  01 62 c0 00'));
    expect(() => readName(b, 3, b.length, false)).toThrow(MalformedError);
  });
});

describe('labels and lengths', () => {
  it('rejects extended (0x40) and reserved (0x80) label types', () => {
    expect(() => decodeDns(message(1, 0, '41 00 0001 0001'))).toThrow(MalformedError);
    expect(() => decodeDns(message(1, 0, '80 00 0001 0001'))).toThrow(MalformedError);
  });

  it('accepts a 63-octet label and a 255-octet name, rejects 256 octets', () => {
    const l63 = label('x'.repeat(63));
    const l61 = label('y'.repeat(61));
    // 3 × 64 + 62 + 1 (root) = 255 octets
    const m = decodeDns(message(1, 0, l63 + l63 + l63 + l61 + '00 0001 0001'));
    expect(m.questions[0]!.name).toHaveLength(63 * 3 + 61 + 3);
    const l62 = label('y'.repeat(62));
    expect(() => decodeDns(message(1, 0, l63 + l63 + l63 + l62 + '00 0001 0001'))).toThrow(MalformedError);
  });

  it('counts octets across pointers (ndpi malformed_dns: backward chains building a huge name)', () => {
    // "x"*63 at 12, then names each adding a 63-octet label before a pointer to the previous one.
    let body = label('x'.repeat(63)) + '00 0001 0001'; // 12..80, next at 81
    let prev = 12;
    let at = 12 + 65 + 4;
    for (let i = 0; i < 4; i++) {
      body += label('z'.repeat(63)) + `c0${prev.toString(16).padStart(2, '0')} 0001 0001`;
      prev = at;
      at += 64 + 2 + 4;
    }
    expect(() => decodeDns(message(5, 0, body))).toThrow(MalformedError);
    // The first three still fit: 64 + 64 + 64 + 1 = 193 octets.
    const m = decodeDns(message(3, 0, body), { allowTruncated: true });
    expect(m.questions[2]!.name).toBe(`${'z'.repeat(63)}.${'z'.repeat(63)}.${'x'.repeat(63)}`);
  });

  it('a label running past the end is truncation', () => {
    expect(() => decodeDns(message(1, 0, '05 6162'))).toThrow(TruncatedError);
    expect(() => decodeDns(message(1, 0, '01 61'))).toThrow(TruncatedError);
    expect(() => decodeDns(message(1, 0, 'c0'))).toThrow(TruncatedError);
  });
});

describe('presentation escapes', () => {
  const text = (h: string) => {
    const b = fromHex(h);
    return labelText(b, 0, b.length);
  };
  it('escapes dot and backslash inside a label', () => {
    expect(text('612e625c63')).toBe('a\\.b\\\\c');
  });
  it('writes control and invalid bytes as \\DDD (decimal)', () => {
    expect(text('0004090a7f')).toBe('\\000\\004\\009\\010\\127');
    expect(text('ff80c0')).toBe('\\255\\128\\192');
  });
  it('keeps space and printable ASCII', () => {
    expect(text('4120427e21')).toBe('A B~!');
  });
  it('decodes well-formed UTF-8 (mDNS names) but not C1 controls, overlongs or surrogates', () => {
    expect(text('4c756361e2809973')).toBe('Luca’s');
    expect(text('f09f988047')).toBe('😀G');
    expect(text('c280')).toBe('\\194\\128'); // U+0080, a C1 control
    expect(text('c0af')).toBe('\\192\\175'); // overlong '/'
    expect(text('eda080')).toBe('\\237\\160\\128'); // surrogate
    expect(text('e282')).toBe('\\226\\130'); // cut sequence
  });
  it('escapes ndpi dns-invalid-chars bytes like tshark (which writes them as \\004 octal)', () => {
    const m = decodeDns(
      fromHex('9f6c010000010000000000000377777717616c6c796f7572626104050661726562656c6f6e67746f02636e0000010001'),
    );
    expect(m.questions[0]!.name).toBe('www.allyourba\\004\\005\\006arebelongto.cn');
  });
});

describe('text of option and string values (bytesText)', () => {
  it('is the bytes themselves for ASCII of any length and at any offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(8), fc.nat(8), (raw, a, b) => {
        const bytes = raw.map((x) => x & 0x7f);
        const end = Math.max(0, bytes.length - b);
        const start = Math.min(a, end);
        expect(bytesText(bytes, start, end)).toBe(String.fromCharCode(...bytes.subarray(start, end)));
      }),
      { numRuns: 1000 },
    );
  });
  it('decodes UTF-8 and keeps other bytes as Latin-1', () => {
    const t = (h: string) => {
      const b = fromHex(h);
      return bytesText(b, 0, b.length);
    };
    expect(t('4c756361e2809973206950686f6e65')).toBe('Luca’s iPhone');
    expect(t('e9746500')).toBe('\u00e9te\u0000');
    expect(t('c280')).toBe('\u0080');
  });
});
