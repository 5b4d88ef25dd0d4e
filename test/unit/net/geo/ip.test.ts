import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { embeddedIpv4, formatIp, ipHex, parseIp, prefixRange, specialPurpose } from '../../../../src/net/geo/ip.js';

describe('parseIp / formatIp', () => {
  it('round-trips every IPv6 address and matches the WHATWG URL serializer (RFC 5952 form)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 8 }), (bytes, zeros) => {
        // Bias towards zero runs, where compression rules matter.
        const b = new Uint8Array(bytes);
        b.fill(0, zeros * 2, Math.min(16, zeros * 2 + zeros * 2));
        const text = formatIp(b);
        expect(parseIp(text)).toEqual(b);
        expect(text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
      }),
      { numRuns: 500 },
    );
  });

  it('accepts exactly what node:net isIP accepts (zones refused), with the bytes the URL parser reads', () => {
    // Valid addresses, then the same texts mutated (characters dropped, doubled, replaced) into near misses.
    const near = (gen: fc.Arbitrary<string>) =>
      fc
        .tuple(gen, fc.nat(40), fc.constantFrom('', ':', '::', '0', 'f', '.', '%', 'g', '00000', '1.2.3.4'), fc.nat(3))
        .map(([a, at, ins, cut]) => a.slice(0, at % (a.length + 1)) + ins + a.slice((at % (a.length + 1)) + cut));
    const texts = fc.oneof(fc.ipV6(), fc.ipV4(), near(fc.ipV6()), near(fc.ipV4()), fc.string({ maxLength: 20 }));
    fc.assert(
      fc.property(texts, (a) => {
        const b = parseIp(a);
        const family = a.includes('%') ? 0 : isIP(a);
        expect(b === null ? 0 : b.length === 4 ? 4 : 6, a).toBe(family);
        if (b !== null && family === 6) {
          expect(formatIp(b), a).toBe(new URL(`http://[${a.toLowerCase()}]/`).hostname.slice(1, -1));
        }
        if (b !== null && family === 4) expect(formatIp(b), a).toBe(a);
      }),
      { numRuns: 4000 },
    );
  });

  it('round-trips IPv4 and reads embedded dotted quads', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
        expect(parseIp(formatIp(b))).toEqual(b);
      }),
    );
    expect(formatIp(parseIp('::ffff:192.0.2.1')!)).toBe('::ffff:c000:201');
    expect(parseIp('64:ff9b::203.0.113.5')).toEqual(parseIp('64:ff9b::cb00:7105'));
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.256',
    '01.2.3.4x',
    '1::2::3',
    '12345::',
    'fe80::1%eth0',
    '10.0.0.0/8',
    ' 1.2.3.4',
    'example.com',
  ])('refuses %j', (s) => {
    expect(parseIp(s)).toBeNull();
  });
});

describe('embedded IPv4 and special-purpose ranges', () => {
  it('finds the IPv4 address in mapped, NAT64 and 6to4 addresses', () => {
    const v4 = (s: string): string | null => {
      const e = embeddedIpv4(parseIp(s)!);
      return e ? formatIp(e) : null;
    };
    expect(v4('::ffff:8.8.8.8')).toBe('8.8.8.8');
    expect(v4('64:ff9b::1.1.1.1')).toBe('1.1.1.1');
    expect(v4('2002:c633:6401::1')).toBe('198.51.100.1');
    expect(v4('2001:4860::8888')).toBeNull();
  });

  it.each([
    ['192.0.2.1', /TEST-NET-1/],
    ['198.51.100.200', /TEST-NET-2/],
    ['203.0.113.9', /TEST-NET-3/],
    ['10.1.2.3', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['100.64.0.1', /shared/],
    ['127.0.0.1', /loopback/],
    ['169.254.1.1', /link-local/],
    ['224.0.0.251', /multicast/],
    ['255.255.255.255', /reserved/],
    ['0.1.2.3', /this network/],
    ['2001:db8::1', /documentation/],
    ['3fff::1', /documentation/],
    ['fd00::1', /unique local/],
    ['fe80::1', /link-local/],
    ['ff02::fb', /multicast/],
    ['::1', /loopback/],
    ['::ffff:10.0.0.1', /private/],
    ['2002:c000:0201::1', /TEST-NET-1/],
    ['2001::1', /IETF/],
    ['4000::1', /not global unicast/],
  ])('%s is special (%s)', (addr, why) => {
    expect(specialPurpose(parseIp(addr)!)).toMatch(why);
  });

  it.each([
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '193.0.6.139',
    '2a00:1450:4001::1',
    '2400:cb00::1',
    '::ffff:1.1.1.1',
  ])('%s is global', (addr) => {
    expect(specialPurpose(parseIp(addr)!)).toBeNull();
  });

  it('prefix ranges and hex keys sort like addresses', () => {
    const r = prefixRange(parseIp('198.51.100.77')!, 22);
    expect(formatIp(r.first)).toBe('198.51.100.0');
    expect(formatIp(r.last)).toBe('198.51.103.255');
    const r6 = prefixRange(parseIp('2001:db8:abcd:1234::1')!, 36);
    expect(formatIp(r6.first)).toBe('2001:db8:a000::');
    expect(formatIp(r6.last)).toBe('2001:db8:afff:ffff:ffff:ffff:ffff:ffff');
    expect(ipHex(parseIp('9.255.255.255')!) < ipHex(parseIp('10.0.0.0')!)).toBe(true);
    expect(ipHex(parseIp('10.0.0.0')!)).toBe('0a000000');
  });
});
