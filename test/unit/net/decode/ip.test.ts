import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeIpv4, decodeIpv6, ipToString, ipv4At, ipv6At } from '../../../../src/net/decode/ip.js';
import { decodePacket, decodeTransport } from '../../../../src/net/decode/packet.js';
import { type DecodedPacket, TCP_ACK, TCP_SYN } from '../../../../src/net/decode/types.js';
import { MalformedError } from '../../../../src/sdk/byteReader.js';
import { Bytes, concat, hex, ipv4, ipv6, tcp, udp } from '../capture/builders.js';

function raw(bytes: Uint8Array): DecodedPacket {
  const r = decodePacket(101, bytes);
  if (typeof r === 'string') throw new Error(`expected a packet, got ${r}`);
  return r;
}

describe('RFC 5952 IPv6 text', () => {
  const cases: [string, string][] = [
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['fe800000000000000000000000000000', 'fe80::'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010000000000010000000000000001', '2001:0:0:1::1'],
    ['20010DB8ABCD0012FFFF000000000000', '2001:db8:abcd:12:ffff::'],
    ['000a000b000c000d000e000f00100011', 'a:b:c:d:e:f:10:11'],
    ['00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
  ];
  for (const [h, text] of cases) {
    it(`${h} -> ${text}`, () => {
      expect(ipv6At(hex(h), 0)).toBe(text);
      expect(ipToString(hex(h))).toBe(text);
    });
  }
  it('dotted quads are right in any order of addresses (memo and last-two shortcut included)', () => {
    // Addresses from a small pool, so that repeats, swaps and evictions of the last-two entries all happen.
    const pool = fc.array(fc.uint8Array({ minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(pool, fc.array(fc.nat(), { minLength: 1, maxLength: 60 }), fc.nat(3), (addrs, picks, at) => {
        for (const i of picks) {
          const a = addrs[i % addrs.length]!;
          const frame = new Uint8Array(at + 4);
          frame.set(a, at);
          expect(ipv4At(frame, at)).toBe(Array.from(a).join('.'));
        }
      }),
      { numRuns: 300 },
    );
    expect(ipv4At(new Uint8Array(4), 0)).toBe('0.0.0.0');
    expect(ipv4At(Uint8Array.from([255, 255, 255, 255]), 0)).toBe('255.255.255.255');
  });

  it('formats IPv4 and refuses other lengths', () => {
    expect(ipToString(hex('c0a80001'))).toBe('192.168.0.1');
    expect(() => ipToString(hex('0102'))).toThrow(MalformedError);
  });
});

describe('IPv4', () => {
  const payload = udp(1111, 2222, hex('deadbeef'));

  it('skips options and reads TTL, protocol and addresses', () => {
    const p = raw(
      ipv4({ src: [1, 2, 3, 4], dst: [255, 0, 0, 9], protocol: 17, ttl: 3, payload, options: [1, 1, 1, 0] }),
    );
    expect(p).toMatchObject({ ipVersion: 4, src: '1.2.3.4', dst: '255.0.0.9', ttl: 3, protocol: 17, srcPort: 1111 });
    expect(Array.from(p.payload)).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  it('clips to the total length (Ethernet padding) and flags a capture shorter than it', () => {
    const pkt = ipv4({ src: [1, 2, 3, 4], dst: [5, 6, 7, 8], protocol: 17, payload });
    const padded = raw(concat(pkt, new Uint8Array(10)));
    expect(padded.payload.length).toBe(4);
    expect(padded.truncated).toBe(false);
    const cut = raw(pkt.subarray(0, pkt.length - 2));
    expect(cut).toMatchObject({ truncated: true, srcPort: 1111 });
    expect(cut.payload.length).toBe(2);
  });

  it('uses the captured length when the total length is 0 (segmentation offload)', () => {
    const p = raw(ipv4({ src: [1, 2, 3, 4], dst: [5, 6, 7, 8], protocol: 17, payload, totalLength: 0 }));
    expect(p).toMatchObject({ truncated: false, srcPort: 1111 });
  });

  it('rejects impossible headers', () => {
    const good = ipv4({ src: [1, 2, 3, 4], dst: [5, 6, 7, 8], protocol: 17, payload });
    const v5 = good.slice();
    v5[0] = 0x55;
    expect(decodePacket(228, v5)).toBe('bad-ip-header');
    const ihl4 = good.slice();
    ihl4[0] = 0x44;
    expect(decodePacket(228, ihl4)).toBe('bad-ip-header');
    const short = good.slice();
    short[3] = 10; // total length 10 < header length 20
    expect(decodePacket(228, short)).toBe('bad-ip-header');
    expect(decodePacket(228, good.subarray(0, 19))).toBe('truncated');
    const ihl15 = good.slice();
    ihl15[0] = 0x4f;
    expect(decodePacket(228, ihl15.subarray(0, 40))).toBe('truncated');
  });

  it('marks fragments and leaves their data undecoded', () => {
    const first = raw(ipv4({ src: [1, 2, 3, 4], dst: [5, 6, 7, 8], protocol: 17, id: 77, more: true, payload }));
    expect(first).toMatchObject({ fragment: { id: 77, offset: 0, more: true }, srcPort: 0, tcp: null });
    expect(first.payload.length).toBe(payload.length);
    const last = raw(ipv4({ src: [1, 2, 3, 4], dst: [5, 6, 7, 8], protocol: 17, id: 77, fragOffset: 1480, payload }));
    expect(last.fragment).toEqual({ id: 77, offset: 1480, more: false });
    // DF alone is not fragmentation.
    const df = ipv4({ src: [1, 2, 3, 4], dst: [5, 6, 7, 8], protocol: 17, payload });
    df[6] = 0x40;
    expect(raw(df).fragment).toBeNull();
  });

  it('decodeIpv4 works at an offset inside a larger buffer', () => {
    const body = ipv4({ src: [9, 9, 9, 9], dst: [8, 8, 8, 8], protocol: 1, payload: hex('0800f7ff00000000') });
    const buf = concat(new Uint8Array(5), body, new Uint8Array(3));
    const p = decodeIpv4(buf, 5, 5 + body.length, null, null, []);
    expect(p).toMatchObject({ protocol: 1, src: '9.9.9.9', srcPort: 0 });
    expect((p as DecodedPacket).payload.length).toBe(8);
  });
});

describe('IPv6 extension headers', () => {
  const A = hex('20010db8000000000000000000000001');
  const B = hex('20010db8000000000000000000000002');
  const u = udp(53, 5353, hex('0102030405'));
  const ext = (nh: number, len8: number) => {
    const b = new Bytes(false).u8(nh).u8(len8);
    for (let i = 0; i < len8 * 8 + 6; i++) b.u8(i === 0 ? 1 : 0);
    return b.build();
  };

  it('walks hop-by-hop, routing and destination options to UDP', () => {
    const payload = concat(ext(43, 0), ext(60, 1), ext(17, 0), u);
    const p = raw(ipv6({ src: A, dst: B, nextHeader: 0, payload, hopLimit: 1 }));
    expect(p).toMatchObject({
      protocol: 17,
      srcPort: 53,
      dstPort: 5353,
      ttl: 1,
      src: '2001:db8::1',
      dst: '2001:db8::2',
    });
    expect(p.payload.length).toBe(5);
  });

  it('walks AH (length in 4-byte units) to TCP', () => {
    const ah = new Bytes(false).u8(6).u8(4).u16(0).u32(0x100).u32(1).bytes(new Uint8Array(12)).build();
    const t = tcp({ sport: 80, dport: 40000, flags: TCP_SYN | TCP_ACK, seq: 1, ack: 2 });
    const p = raw(ipv6({ src: A, dst: B, nextHeader: 51, payload: concat(ah, t) }));
    expect(p).toMatchObject({ protocol: 6, srcPort: 80, tcp: { seq: 1, ack: 2, flags: 0x12, window: 65535 } });
  });

  it('stops at ESP, no-next-header and unknown protocols with the rest as payload', () => {
    const esp = raw(ipv6({ src: A, dst: B, nextHeader: 50, payload: hex('0000000100000001aabb') }));
    expect(esp).toMatchObject({ protocol: 50, srcPort: 0, tcp: null });
    expect(esp.payload.length).toBe(10);
    const none = raw(ipv6({ src: A, dst: B, nextHeader: 59, payload: new Uint8Array(0) }));
    expect(none).toMatchObject({ protocol: 59 });
    const icmp = raw(ipv6({ src: A, dst: B, nextHeader: 0, payload: concat(ext(58, 0), hex('8000ffff00010001')) }));
    expect(icmp).toMatchObject({ protocol: 58 });
    expect(icmp.payload.length).toBe(8);
  });

  it('marks fragments, treats atomic fragments as whole packets', () => {
    const fh = (off: number, m: number) =>
      new Bytes(false)
        .u8(17)
        .u8(0)
        .u16(off | m)
        .u32(0xabcdef01)
        .build();
    const f = raw(ipv6({ src: A, dst: B, nextHeader: 44, payload: concat(fh(0, 1), u) }));
    expect(f).toMatchObject({ protocol: 17, fragment: { id: 0xabcdef01, offset: 0, more: true }, srcPort: 0 });
    const atomic = raw(ipv6({ src: A, dst: B, nextHeader: 44, payload: concat(fh(0, 0), u) }));
    expect(atomic).toMatchObject({ protocol: 17, fragment: null, srcPort: 53 });
  });

  it('says truncated when the capture ends in a header and bad when the payload length does', () => {
    const payload = concat(ext(60, 1), ext(17, 0), u);
    const whole = ipv6({ src: A, dst: B, nextHeader: 0, payload });
    expect(decodePacket(229, whole.subarray(0, 45))).toBe('truncated');
    expect(decodePacket(229, ipv6({ src: A, dst: B, nextHeader: 0, payload, payloadLength: 12 }))).toBe(
      'bad-ip-header',
    );
    expect(decodePacket(229, whole.subarray(0, 39))).toBe('truncated');
    // Captured bytes end inside the UDP payload: decoded, flagged.
    const cut = raw(whole.subarray(0, whole.length - 2));
    expect(cut).toMatchObject({ truncated: true, srcPort: 53 });
  });

  it('never walks more than a bounded chain of extension headers', () => {
    let payload = concat(ext(17, 0), u);
    for (let i = 0; i < 40; i++) payload = concat(ext(60, 0), payload);
    const p = raw(ipv6({ src: A, dst: B, nextHeader: 60, payload }));
    expect(p.protocol).toBe(60);
  });

  it('decodeIpv6 honours the frame end it is given', () => {
    const body = ipv6({ src: A, dst: B, nextHeader: 17, payload: u });
    expect(decodeIpv6(body, 0, 39, null, null, [])).toBe('truncated');
  });
});

describe('TCP and UDP', () => {
  const S = [10, 0, 0, 1];
  const D = [10, 0, 0, 2];

  it('reads TCP options length, unsigned seq/ack, flags incl. NS, window', () => {
    const t = tcp({
      sport: 65535,
      dport: 1,
      seq: 0xffffffff,
      ack: 0x80000000,
      flags: 0x11,
      window: 512,
      options: [2, 4, 5, 0xb4, 1, 1, 4, 2],
      payload: hex('4745540d0a'),
    });
    t[12] = t[12]! | 1; // NS bit
    const p = raw(ipv4({ src: S, dst: D, protocol: 6, payload: t }));
    expect(p.tcp).toEqual({ seq: 0xffffffff, ack: 0x80000000, flags: 0x111, window: 512 });
    expect(p).toMatchObject({ srcPort: 65535, dstPort: 1 });
    expect(new TextDecoder().decode(p.payload)).toBe('GET\r\n');
  });

  it('flags impossible TCP headers and cut ones', () => {
    const t = tcp({ sport: 1, dport: 2 });
    const bad = t.slice();
    bad[12] = 0x40; // data offset 16 bytes
    expect(decodePacket(228, ipv4({ src: S, dst: D, protocol: 6, payload: bad }))).toBe('bad-transport-header');
    const tooLong = t.slice();
    tooLong[12] = 0xf0; // 60 bytes of header in a 20-byte segment
    expect(decodePacket(228, ipv4({ src: S, dst: D, protocol: 6, payload: tooLong }))).toBe('bad-transport-header');
    expect(decodePacket(228, ipv4({ src: S, dst: D, protocol: 6, payload: t.subarray(0, 12) }))).toBe(
      'bad-transport-header',
    );
    const whole = ipv4({ src: S, dst: D, protocol: 6, payload: t });
    expect(decodePacket(228, whole.subarray(0, 30))).toBe('truncated');
    // Options cut by the snap length: header fields are there, payload empty, flagged.
    const withOpts = ipv4({
      src: S,
      dst: D,
      protocol: 6,
      payload: tcp({ sport: 1, dport: 2, options: new Array(20).fill(1) }),
    });
    const cutOpts = raw(withOpts.subarray(0, 45));
    expect(cutOpts).toMatchObject({ truncated: true, srcPort: 1, payload: new Uint8Array(0) });
  });

  it('uses a sane UDP length and falls back to the IP length otherwise', () => {
    const trailer = concat(udp(1, 2, hex('aabbcc'), 9), hex('ffff'));
    expect(Array.from(raw(ipv4({ src: S, dst: D, protocol: 17, payload: trailer })).payload)).toEqual([0xaa]);
    const zero = udp(1, 2, hex('aabbcc'), 0);
    expect(raw(ipv4({ src: S, dst: D, protocol: 17, payload: zero })).payload.length).toBe(3);
    const huge = udp(1, 2, hex('aabbcc'), 5000);
    expect(raw(ipv4({ src: S, dst: D, protocol: 17, payload: huge })).payload.length).toBe(3);
    expect(decodePacket(228, ipv4({ src: S, dst: D, protocol: 17, payload: hex('0001000200') }))).toBe(
      'bad-transport-header',
    );
  });

  it('decodeTransport decodes a whole IP payload into a new packet', () => {
    const frag = raw(ipv4({ src: S, dst: D, protocol: 17, id: 5, more: true, payload: udp(7, 8, hex('00')) }));
    const whole = decodeTransport(frag);
    expect(whole).toMatchObject({ srcPort: 7, dstPort: 8, fragment: null });
    expect(frag.fragment).not.toBeNull();
    expect(decodeTransport({ ...frag, protocol: 6 })).toBe('bad-transport-header');
  });
});
