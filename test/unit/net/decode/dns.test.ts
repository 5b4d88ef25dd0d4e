/**
 * decodeDns on hand-built messages: header flags, every typed record, mDNS bits, malformed rdata kept in place.
 * Messages are written as commented hex; `rr()` only adds the RDLENGTH so the comments stay about the content.
 */
import { describe, expect, it } from 'vitest';
import {
  type DnsMessage,
  DnsType,
  decodeDns,
  dnsAddressAnswers,
  dnsTcpMessages,
  ipv6Text,
  MAX_ADDRESS_ANSWERS,
} from '../../../../src/net/decode/dns.js';
import { fromHex, MalformedError, TruncatedError } from '../../../../src/sdk/byteReader.js';

/** Hex with '#' comments to end of line. */
function hex(text: string): string {
  return text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
}
/** A resource record: owner (hex), type, class, TTL, rdata (hex); RDLENGTH computed. */
function rr(owner: string, type: number, cls: number, ttl: number, rdata: string): string {
  const rd = hex(rdata);
  const h4 = (n: number) => n.toString(16).padStart(4, '0');
  return hex(owner) + h4(type) + h4(cls) + ttl.toString(16).padStart(8, '0') + h4(rd.length / 2) + rd;
}
function header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): string {
  return [id, flags, qd, an, ns, ar].map((n) => n.toString(16).padStart(4, '0')).join('');
}

const QNAME = `
  07 65 78 61 6d 70 6c 65   # offset 12: "example"
  03 63 6f 6d               # offset 20: "com"
  00                        # root
`;
// A pointer to offset 12 (c0 0c) is "example.com", to offset 20 (c0 14) is "com".

const answers = [
  rr('c00c', 1, 1, 60, '5d b8 d8 22'), // A 93.184.216.34
  rr('c00c', 28, 1, 3600, '2001 0db8 0000 0000 0000 0000 0000 0001'), // AAAA 2001:db8::1
  rr('03 777777 c00c', 5, 1, 300, 'c00c'), // www.example.com CNAME example.com
  rr('c00c', 2, 1, 300, '03 6e7331 c00c'), // NS ns1.example.com
  rr('01 31 01 30 01 30 03 313237 07 696e2d61646472 04 61727061 00', 12, 1, 10, '09 6c6f63616c686f7374 00'), // 1.0.0.127.in-addr.arpa PTR localhost
  rr('c00c', 39, 1, 10, '03 6e6574 00'), // DNAME net
  rr('c00c', 15, 1, 10, '000a 04 6d61696c c00c'), // MX 10 mail.example.com
  rr('05 5f73697073 04 5f746370 c00c', 33, 1, 10, '0001 0002 13c5 03 736970 c00c'), // _sips._tcp SRV 1 2 5061 sip.example.com
  rr('c00c', 16, 1, 10, '05 68656c6c6f  00  05 c3a9e282ac  02 e9ff'), // TXT "hello" "" "é€" (UTF-8) "éÿ" (Latin-1)
  rr(
    'c00c',
    65,
    1,
    300,
    `0001 00                      # priority 1, target "." (the owner)
     0000 0002 0001               # mandatory: alpn
     0001 0006 02 6833 02 6832    # alpn: h3, h2
     0003 0002 01bb               # port 443
     0004 0008 c0000201 c0000202  # ipv4hint 192.0.2.1, 192.0.2.2
     0005 0003 aabbcc             # ech (config list, opaque here)
     0006 0010 20010db8000000000000000000000053  # ipv6hint 2001:db8::53
     0009 0001 ff                 # unknown key 9`,
  ),
  rr(
    '04 5f646e73 c00c', // _dns.example.com
    64,
    1,
    300,
    `0001 03 646f68 07 6578616d706c65 03 636f6d 00  # priority 1, target doh.example.com (uncompressed)
     0001 0003 02 6832                             # alpn h2
     0007 0010 2f646e732d71756572797b3f646e737d    # dohpath "/dns-query{?dns}"`,
  ),
  rr('c00c', 13, 1, 10, '03 414d44 05 4c696e7578'), // HINFO "AMD" "Linux": no typed decoder → raw
  rr('c00c', 1, 1, 60, '01 02 03'), // A with 3 bytes of rdata → malformed, the message goes on
  rr('c00c', 5, 1, 60, 'c3 ff'), // CNAME whose rdata points forward (offset 1023) → malformed
];
const soa = rr(
  'c00c',
  6,
  1,
  3600,
  `03 6e7331 c00c                   # mname ns1.example.com
   0a 686f73746d6173746572 c00c     # rname hostmaster.example.com
   78a1b2c3 00000e10 00000384 00093a80 0000012c  # serial, refresh 3600, retry 900, expire 604800, minimum 300`,
);
const opt = rr(
  '00', // root
  41,
  4096, // CLASS = UDP payload size
  0x00008000, // TTL = extended RCODE 0, version 0, DO bit
  `0008 0007 0001 18 00 c00002   # client subnet: family 1, source /24, scope 0, 192.0.2
   000a 0008 0102030405060708   # cookie`,
);
const FULL = fromHex(
  header(0x1234, 0x81a0, 1, answers.length, 1, 1) + // QR, RD, RA, AD
    hex(QNAME) +
    '0001 0001'.replace(/ /g, '') + // QTYPE A, QCLASS IN
    answers.join('') +
    soa +
    opt,
);

describe('decodeDns: a response with every typed record', () => {
  const m = decodeDns(FULL);

  it('reads the header', () => {
    expect(m).toMatchObject({
      id: 0x1234,
      response: true,
      opcode: 0,
      rcode: 0,
      authoritative: false,
      truncated: false,
      recursionDesired: true,
      recursionAvailable: true,
      authenticData: true,
      checkingDisabled: false,
      incomplete: false,
    });
    expect(m.questions).toEqual([{ name: 'example.com', type: 1, class: 1, unicastResponse: false }]);
    expect(m.answers).toHaveLength(answers.length);
    expect(m.authorities).toHaveLength(1);
    expect(m.additionals).toHaveLength(1);
  });

  it('decodes each record type', () => {
    const data = m.answers.map((r) => [r.name, r.type, r.ttl, r.data]);
    expect(data).toEqual([
      ['example.com', DnsType.A, 60, '93.184.216.34'],
      ['example.com', DnsType.AAAA, 3600, '2001:db8::1'],
      ['www.example.com', DnsType.CNAME, 300, 'example.com'],
      ['example.com', DnsType.NS, 300, 'ns1.example.com'],
      ['1.0.0.127.in-addr.arpa', DnsType.PTR, 10, 'localhost'],
      ['example.com', DnsType.DNAME, 10, 'net'],
      ['example.com', DnsType.MX, 10, { preference: 10, exchange: 'mail.example.com' }],
      ['_sips._tcp.example.com', DnsType.SRV, 10, { priority: 1, weight: 2, port: 5061, target: 'sip.example.com' }],
      ['example.com', DnsType.TXT, 10, ['hello', '', 'é€', 'éÿ']],
      [
        'example.com',
        DnsType.HTTPS,
        300,
        {
          priority: 1,
          target: '',
          mandatory: [1],
          alpn: ['h3', 'h2'],
          port: 443,
          ipv4hint: ['192.0.2.1', '192.0.2.2'],
          ech: true,
          ipv6hint: ['2001:db8::53'],
          other: [{ key: 9, value: 'ff' }],
        },
      ],
      [
        '_dns.example.com',
        DnsType.SVCB,
        300,
        { priority: 1, target: 'doh.example.com', alpn: ['h2'], dohpath: '/dns-query{?dns}' },
      ],
      ['example.com', DnsType.HINFO, 10, { raw: '03414d44054c696e7578' }],
      ['example.com', DnsType.A, 60, { malformed: true, raw: '010203' }],
      ['example.com', DnsType.CNAME, 60, { malformed: true, raw: 'c3ff' }],
    ]);
  });

  it('decodes SOA and OPT (EDNS, client subnet)', () => {
    expect(m.authorities[0]!.data).toEqual({
      mname: 'ns1.example.com',
      rname: 'hostmaster.example.com',
      serial: 0x78a1b2c3,
      refresh: 3600,
      retry: 900,
      expire: 604800,
      minimum: 300,
    });
    const o = m.additionals[0]!;
    expect(o).toMatchObject({ name: '', type: 41, class: 4096, cacheFlush: false });
    expect(o.data).toEqual({
      udpSize: 4096,
      extendedRcode: 0,
      version: 0,
      dnssecOk: true,
      clientSubnet: '192.0.2.0/24',
      options: [
        { code: 8, data: '00011800c00002' },
        { code: 10, data: '0102030405060708' },
      ],
    });
  });

  it('maps addresses to the asked name through the CNAME chain, hints included', () => {
    expect(dnsAddressAnswers(m)).toEqual([
      { name: 'example.com', address: '93.184.216.34', ttl: 60, via: [] },
      { name: 'example.com', address: '2001:db8::1', ttl: 3600, via: [] },
      { name: 'example.com', address: '192.0.2.1', ttl: 300, via: [] },
      { name: 'example.com', address: '192.0.2.2', ttl: 300, via: [] },
      { name: 'example.com', address: '2001:db8::53', ttl: 300, via: [] },
    ]);
  });

  it('every strict prefix throws TruncatedError, and decodes partially with allowTruncated', () => {
    for (let n = 0; n < FULL.length; n++) {
      const cut = FULL.subarray(0, n);
      expect(() => decodeDns(cut), `prefix ${n}`).toThrow(TruncatedError);
      if (n >= 12) {
        const partial = decodeDns(cut, { allowTruncated: true });
        expect(partial.incomplete).toBe(true);
        const records = partial.answers.length + partial.authorities.length + partial.additionals.length;
        expect(records).toBeLessThan(m.answers.length + 2);
      } else {
        expect(() => decodeDns(cut, { allowTruncated: true })).toThrow(TruncatedError);
      }
    }
  });
});

describe('decodeDns: header and variants', () => {
  it('reads every header flag and opcode/rcode', () => {
    // QR=1 opcode=2 (STATUS) AA TC RD RA Z=0 AD CD rcode=3 (NXDOMAIN)
    const m = decodeDns(
      fromHex(header(0xbeef, 0x8000 | (2 << 11) | 0x0400 | 0x0200 | 0x0100 | 0x0080 | 0x30 | 3, 0, 0, 0, 0)),
    );
    expect(m).toMatchObject({
      id: 0xbeef,
      response: true,
      opcode: 2,
      authoritative: true,
      truncated: true,
      recursionDesired: true,
      recursionAvailable: true,
      authenticData: true,
      checkingDisabled: true,
      rcode: 3,
    });
  });

  it('splits the mDNS QU and cache-flush bits off the class', () => {
    const msg = fromHex(
      header(0, 0x8400, 1, 1, 0, 0) +
        hex(`05 5f68617070 04 5f746370 05 6c6f63616c 00  # _happ._tcp.local (offset 12)
             000c 8001                                     # PTR, QU + IN`) +
        rr('c00c', 12, 0x8001, 4500, '0d 4c7563612773206950686f6e65 c00c'), // "Luca's iPhone._happ._tcp.local", cache flush
    );
    const m = decodeDns(msg);
    expect(m.questions).toEqual([{ name: '_happ._tcp.local', type: 12, class: 1, unicastResponse: true }]);
    expect(m.answers[0]).toMatchObject({ class: 1, cacheFlush: true, data: "Luca's iPhone._happ._tcp.local" });
  });

  it('keeps the original case of names', () => {
    const m = decodeDns(fromHex(header(1, 0, 1, 0, 0, 0) + hex('02 55 73 03 56 32 37 00  0001 0001')));
    expect(m.questions[0]!.name).toBe('Us.V27');
  });

  it('names the root ""', () => {
    const m = decodeDns(fromHex(header(1, 0, 1, 0, 0, 0) + '00' + '0002' + '0001'));
    expect(m.questions[0]!.name).toBe('');
  });

  it('ignores bytes after the counted sections', () => {
    const m = decodeDns(fromHex(header(1, 0, 0, 0, 0, 0) + 'deadbeef'));
    expect(m.questions).toEqual([]);
  });

  it('a bad owner name throws, a bad rdata name only marks its record', () => {
    const ownerLoop = fromHex(header(1, 0x8000, 0, 1, 0, 0) + rr('c00c', 1, 1, 1, '01020304'));
    expect(() => decodeDns(ownerLoop)).toThrow(MalformedError);
    const rdataCut = fromHex(
      header(1, 0x8000, 0, 2, 0, 0) + rr('00', 5, 1, 1, '03 6162') + rr('00', 1, 1, 1, '0a000001'),
    );
    const m = decodeDns(rdataCut);
    expect(m.answers.map((r) => r.data)).toEqual([{ malformed: true, raw: '036162' }, '10.0.0.1']);
  });

  it('rdata running past the message end is truncation', () => {
    const msg = fromHex(header(1, 0x8000, 0, 1, 0, 0) + hex('00 0001 0001 00000001 0004 0a00'));
    expect(() => decodeDns(msg)).toThrow(TruncatedError);
  });

  it('rejects malformed SVCB parameters as a malformed record', () => {
    const keysOutOfOrder = rr('00', 65, 1, 1, '0001 00  0003 0002 01bb  0001 0003 02 6832');
    const badHint = rr('00', 65, 1, 1, '0001 00  0004 0003 c00002');
    const m = decodeDns(fromHex(header(1, 0x8000, 0, 2, 0, 0) + keysOutOfOrder + badHint));
    expect(m.answers.every((r) => (r.data as { malformed?: boolean }).malformed === true)).toBe(true);
  });
});

describe('ipv6Text (RFC 5952)', () => {
  const cases: [string, string][] = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000000000000000000', '2001:db8::'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'], // longest run wins
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'], // first of equal runs
    ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'], // a single zero group is not shortened
    ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'], // IPv4-mapped
    ['fe800000000000000202b3fffe1e8329', 'fe80::202:b3ff:fe1e:8329'],
  ];
  for (const [h, text] of cases) it(text, () => expect(ipv6Text(fromHex(h), 0)).toBe(text));
});

describe('dnsTcpMessages', () => {
  it('splits by the length prefix, leaving an incomplete tail', () => {
    const stream = fromHex('0003 aabbcc  0000  0002 ddee  0005 0102'.replace(/ /g, ''));
    const { messages, consumed } = dnsTcpMessages(stream);
    expect(messages.map((m) => Buffer.from(m).toString('hex'))).toEqual(['aabbcc', 'ddee']);
    expect(consumed).toBe(11);
    expect(dnsTcpMessages(stream.subarray(0, 1))).toEqual({ messages: [], consumed: 0 });
    expect(dnsTcpMessages(new Uint8Array())).toEqual({ messages: [], consumed: 0 });
  });

  it('returns views, not copies', () => {
    const stream = fromHex('0002abcd');
    const [m] = dnsTcpMessages(stream).messages;
    expect(m!.buffer).toBe(stream.buffer);
    expect(m!.byteOffset).toBe(2);
  });
});

describe('dnsAddressAnswers', () => {
  function answer(qname: string, records: string[], extra = ''): DnsMessage {
    return decodeDns(
      fromHex(header(7, 0x8180, 1, records.length, 0, 0) + hex(qname) + '00010001' + records.join('') + extra),
    );
  }
  // offset 12: "WWW.Shop.example" (c00c), QTYPE/QCLASS at 30, the first record at 34, its rdata at 46 (c02e).
  const Q = '03 575757 04 53686f70 07 6578616d706c65 00';

  it('follows the CNAME chain case-insensitively and lists unreached records under their own names', () => {
    const m = answer(Q, [
      rr('c00c', 5, 1, 300, '03 636476 03 6e6574 00'), // WWW.Shop.example CNAME cdv.net (rdata at 46)
      rr('03 434456 03 4e4554 00', 5, 1, 60, '04 65646765 c02e'), // CDV.NET (at 55) CNAME edge.cdv.net (rdata at 74)
      rr('c04a', 1, 1, 20, '0a000001'), // edge.cdv.net A 10.0.0.1
      rr('c00c', 28, 1, 30, '20010db8000000000000000000000001'), // asked name AAAA 2001:db8::1
      rr('05 6f74686572 00', 1, 1, 5, '0a000002'), // "other" A 10.0.0.2, not on any chain
    ]);
    expect(m.answers.map((r) => [r.name, r.data])).toEqual([
      ['WWW.Shop.example', 'cdv.net'],
      ['CDV.NET', 'edge.cdv.net'],
      ['edge.cdv.net', '10.0.0.1'],
      ['WWW.Shop.example', '2001:db8::1'],
      ['other', '10.0.0.2'],
    ]);
    expect(dnsAddressAnswers(m)).toEqual([
      { name: 'WWW.Shop.example', address: '2001:db8::1', ttl: 30, via: [] },
      { name: 'WWW.Shop.example', address: '10.0.0.1', ttl: 20, via: ['cdv.net', 'edge.cdv.net'] },
      { name: 'other', address: '10.0.0.2', ttl: 5, via: [] },
    ]);
  });

  it('takes the smallest TTL along the chain', () => {
    const m = answer(Q, [rr('c00c', 5, 1, 7, '01 78 00'), rr('01 58 00', 1, 1, 3600, '0a000009')]);
    expect(dnsAddressAnswers(m)).toEqual([{ name: 'WWW.Shop.example', address: '10.0.0.9', ttl: 7, via: ['x'] }]);
  });

  it('stops on a CNAME loop', () => {
    const m = answer(Q, [
      rr('c00c', 5, 1, 1, '01 61 00'), // → a (at 46)
      rr('c02e', 5, 1, 1, 'c00c'), // a → back to the asked name
      rr('c02e', 1, 1, 1, '0a000003'), // a A 10.0.0.3
    ]);
    expect(dnsAddressAnswers(m)).toEqual([{ name: 'WWW.Shop.example', address: '10.0.0.3', ttl: 1, via: ['a'] }]);
  });

  it('follows at most 16 CNAMEs', () => {
    // Question "n0"; n0 → n1 → … → n20 with the A record on n20: beyond the bound, so only under its own name.
    // With the A record on n16 (16 CNAMEs away) it is reached.
    const names = Array.from({ length: 21 }, (_, i) => `n${i}`);
    const enc = (s: string) => s.length.toString(16).padStart(2, '0') + Buffer.from(s).toString('hex') + '00';
    const recs = names.slice(0, 20).map((n, i) => rr(enc(n), 5, 1, 1, enc(names[i + 1]!)));
    recs.push(rr(enc('n20'), 1, 1, 1, '0a000004'));
    const m = decodeDns(fromHex(header(1, 0x8000, 1, recs.length, 0, 0) + enc('n0') + '00010001' + recs.join('')));
    expect(dnsAddressAnswers(m)).toEqual([{ name: 'n20', address: '10.0.0.4', ttl: 1, via: [] }]);
    recs.push(rr(enc('n16'), 1, 1, 1, '0a000005'));
    const m16 = decodeDns(fromHex(header(1, 0x8000, 1, recs.length, 0, 0) + enc('n0') + '00010001' + recs.join('')));
    expect(dnsAddressAnswers(m16)[0]).toEqual({ name: 'n0', address: '10.0.0.5', ttl: 1, via: names.slice(1, 17) });
  });

  it('bounds the output of a crafted message', () => {
    // 2500 distinct questions, each owning two A records: 5000 mappings, cut at the cap.
    const recs: string[] = [];
    const qs: string[] = [];
    const enc = (s: string) => s.length.toString(16).padStart(2, '0') + Buffer.from(s).toString('hex') + '00';
    for (let i = 0; i < 2500; i++) {
      qs.push(enc(`q${i}`) + '00010001');
      recs.push(
        rr(
          enc(`q${i}`),
          1,
          1,
          1,
          '0a' + (i >> 16).toString(16).padStart(2, '0') + (i & 0xffff).toString(16).padStart(4, '0'),
        ),
      );
    }
    recs.push(...recs.map((r) => r.slice(0, -8) + 'ffffffff'));
    const m = decodeDns(fromHex(header(1, 0x8000, qs.length, recs.length, 0, 0) + qs.join('') + recs.join('')));
    const out = dnsAddressAnswers(m);
    expect(out).toHaveLength(MAX_ADDRESS_ANSWERS);
  });
});
