import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLink, ETHERTYPE_BY_VERSION, type LinkInfo, macAt } from '../../../../src/net/decode/link.js';
import { linkTypeName, SUPPORTED_LINK_TYPES } from '../../../../src/net/decode/linkTypes.js';
import { decodePacket } from '../../../../src/net/decode/packet.js';
import type { DecodedPacket } from '../../../../src/net/decode/types.js';
import { Bytes, concat, ether, hex, ipv4, ipv6, MAC_A, MAC_B, udp } from '../capture/builders.js';

const ip4 = ipv4({ src: [10, 1, 2, 3], dst: [10, 9, 8, 7], protocol: 17, payload: udp(68, 67, hex('01020304')) });
const V6A = hex('fe80000000000000021122fffe334455');
const V6B = hex('ff020000000000000000000000000002');
const ip6 = ipv6({ src: V6A, dst: V6B, nextHeader: 17, payload: udp(546, 547, hex('0102')) });

function link(linkType: number, frame: Uint8Array): LinkInfo {
  const r = decodeLink(linkType, frame);
  if (typeof r === 'string') throw new Error(`expected a link header, got ${r}`);
  return r;
}

function pkt(linkType: number, frame: Uint8Array): DecodedPacket {
  const r = decodePacket(linkType, frame);
  if (typeof r === 'string') throw new Error(`expected a packet, got ${r}`);
  return r;
}

describe('MAC text', () => {
  it('is right in any order of addresses (memo and last-two shortcut included)', () => {
    const pool = fc.array(fc.uint8Array({ minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(pool, fc.array(fc.nat(), { minLength: 1, maxLength: 60 }), (macs, picks) => {
        for (const i of picks) {
          const m = macs[i % macs.length]!;
          expect(macAt(m, 0)).toBe(Array.from(m, (b) => b.toString(16).padStart(2, '0')).join(':'));
        }
      }),
      { numRuns: 300 },
    );
    // Same low 32 bits, different high 16 (and the reverse): never mistaken for one another.
    expect(macAt(hex('0001c0a80001'), 0)).toBe('00:01:c0:a8:00:01');
    expect(macAt(hex('0002c0a80001'), 0)).toBe('00:02:c0:a8:00:01');
    expect(macAt(hex('0001c0a80002'), 0)).toBe('00:01:c0:a8:00:02');
    expect(macAt(hex('ffffffffffff'), 0)).toBe('ff:ff:ff:ff:ff:ff');
  });
});

describe('Ethernet (1)', () => {
  it('reads MACs in lowercase colon form and finds IPv4 and IPv6', () => {
    const l = link(1, ether(MAC_B, MAC_A, 0x0800, ip4));
    expect(l).toEqual({ dstMac: MAC_B, srcMac: MAC_A, vlans: [], etherType: 0x0800, offset: 14, end: 14 + ip4.length });
    const p = pkt(1, ether(MAC_B, MAC_A, 0x86dd, ip6));
    expect(p).toMatchObject({
      ipVersion: 6,
      src: 'fe80::211:22ff:fe33:4455',
      dst: 'ff02::2',
      srcPort: 546,
      dstPort: 547,
    });
  });

  it('walks 802.1Q, 802.1ad (QinQ) and the old 0x9100 tag, outermost first', () => {
    const f = ether(MAC_B, MAC_A, 0x0800, ip4, [
      [0x88a8, 0x2064],
      [0x8100, 0xe00a],
    ]);
    expect(link(1, f)).toMatchObject({ vlans: [100, 10], etherType: 0x0800, offset: 22 });
    const g = ether(MAC_B, MAC_A, 0x86dd, ip6, [
      [0x9100, 7],
      [0x8100, 4095],
    ]);
    expect(pkt(1, g)).toMatchObject({ vlans: [7, 4095], ipVersion: 6, srcPort: 546 });
  });

  it('reads LLC/SNAP-encapsulated IP and refuses other 802.3 frames', () => {
    const snap = concat(hex('aaaa03000000 0800'), ip4);
    const f = ether(MAC_B, MAC_A, snap.length, snap);
    expect(pkt(1, f)).toMatchObject({ src: '10.1.2.3', srcPort: 68 });
    const stp = ether(
      '0180c2000000',
      MAC_A,
      38,
      hex('424203000000000000000000000000000000000000000000000000000000000000000000'),
    );
    expect(decodePacket(1, stp)).toBe('not-ip');
  });

  it('reads IP inside PPPoE sessions, bounded by the PPPoE length', () => {
    const session = new Bytes(false)
      .u8(0x11)
      .u8(0)
      .u16(0x1234)
      .u16(ip4.length + 2)
      .u16(0x0021)
      .bytes(ip4)
      .build();
    const f = concat(ether(MAC_B, MAC_A, 0x8864, session), new Uint8Array(6));
    expect(link(1, f)).toMatchObject({ etherType: 0x0800, offset: 22, end: 22 + ip4.length });
    expect(pkt(1, f).src).toBe('10.1.2.3');
    const lcp = new Bytes(false).u8(0x11).u8(0).u16(1).u16(6).u16(0xc021).u32(0).build();
    expect(decodePacket(1, ether(MAC_B, MAC_A, 0x8864, lcp))).toBe('not-ip');
  });

  it('says not-ip for ARP and truncated for a cut header or tag', () => {
    expect(decodePacket(1, ether('ffffffffffff', MAC_A, 0x0806, new Uint8Array(28)))).toBe('not-ip');
    expect(decodePacket(1, hex('0011223344'))).toBe('truncated');
    expect(decodePacket(1, ether(MAC_B, MAC_A, 0x8100, hex('00')))).toBe('truncated');
  });
});

describe('Linux cooked captures', () => {
  it('SLL (113): the stored address is the sender MAC', () => {
    const hdr = new Bytes(false).u16(0).u16(1).u16(6).bytes(hex('0011223344550000')).u16(0x0800).build();
    const p = pkt(113, concat(hdr, ip4));
    expect(p).toMatchObject({ srcMac: MAC_A, dstMac: null, src: '10.1.2.3', dstPort: 67 });
  });

  it('SLL with a VLAN tag left in place, and non-Ethernet hardware without a MAC', () => {
    const hdr = new Bytes(false)
      .u16(4)
      .u16(1)
      .u16(6)
      .bytes(hex('0011223344550000'))
      .u16(0x8100)
      .u16(42)
      .u16(0x86dd)
      .build();
    expect(pkt(113, concat(hdr, ip6))).toMatchObject({ vlans: [42], ipVersion: 6 });
    const tun = new Bytes(false).u16(0).u16(65534).u16(0).bytes(new Uint8Array(8)).u16(0x0800).build();
    expect(pkt(113, concat(tun, ip4))).toMatchObject({ srcMac: null, src: '10.1.2.3' });
  });

  it('SLL2 (276)', () => {
    const hdr = new Bytes(false).u16(0x86dd).u16(0).u32(3).u16(1).u8(4).u8(6).bytes(hex('aabbccddee0f0000')).build();
    expect(pkt(276, concat(hdr, ip6))).toMatchObject({ srcMac: MAC_B, ipVersion: 6, dst: 'ff02::2' });
    expect(decodePacket(276, hdr.subarray(0, 19))).toBe('truncated');
  });

  it('non-IP cooked protocols are not-ip', () => {
    const hdr = new Bytes(false).u16(0).u16(1).u16(6).bytes(new Uint8Array(8)).u16(0x0004).build();
    expect(decodePacket(113, concat(hdr, new Uint8Array(20)))).toBe('not-ip');
  });
});

describe('raw IP link types', () => {
  for (const lt of [101, 12, 14]) {
    it(`${lt} (${linkTypeName(lt)}) picks the version from the first nibble`, () => {
      expect(link(lt, ip4)).toMatchObject({ etherType: ETHERTYPE_BY_VERSION, offset: 0, srcMac: null });
      expect(pkt(lt, ip4).ipVersion).toBe(4);
      expect(pkt(lt, ip6).ipVersion).toBe(6);
      expect(decodePacket(lt, hex('50000000'))).toBe('not-ip');
      expect(decodePacket(lt, new Uint8Array(0))).toBe('truncated');
    });
  }
  it('228 is IPv4 only and 229 IPv6 only', () => {
    expect(pkt(228, ip4).src).toBe('10.1.2.3');
    expect(decodePacket(228, ip6)).toBe('bad-ip-header');
    expect(pkt(229, ip6).src).toBe('fe80::211:22ff:fe33:4455');
    expect(decodePacket(229, ip4)).toBe('truncated');
  });
});

describe('BSD null/loopback (0) and OpenBSD loop (108)', () => {
  const fams: [number, Uint8Array][] = [
    [2, ip4],
    [24, ip6],
    [28, ip6],
    [30, ip6],
  ];
  for (const [af, body] of fams) {
    for (const le of [true, false]) {
      it(`AF ${af} in ${le ? 'little' : 'big'}-endian`, () => {
        const f = concat(new Bytes(le).u32(af).build(), body);
        for (const lt of [0, 108]) {
          expect(link(lt, f)).toMatchObject({ offset: 4, srcMac: null, etherType: af === 2 ? 0x0800 : 0x86dd });
          expect(pkt(lt, f).ipVersion).toBe(af === 2 ? 4 : 6);
        }
      });
    }
  }
  it('other families are not IP', () => {
    expect(decodePacket(0, concat(new Bytes(true).u32(7).build(), ip4))).toBe('not-ip');
    expect(decodePacket(0, hex('0200'))).toBe('truncated');
  });
});

describe('PPP (9) and NFLOG (239)', () => {
  it('PPP with and without address/control, with a compressed protocol field', () => {
    expect(pkt(9, concat(hex('ff030021'), ip4)).src).toBe('10.1.2.3');
    expect(pkt(9, concat(hex('0057'), ip6)).ipVersion).toBe(6);
    expect(pkt(50, concat(hex('ff0321'), ip4)).src).toBe('10.1.2.3');
    expect(decodePacket(9, hex('ff03c021'))).toBe('not-ip');
  });

  it('NFLOG: the packet is the NFULA_PAYLOAD TLV (little-endian TLV header)', () => {
    const prefix = new TextEncoder().encode('fw');
    const f = new Bytes(true)
      .u8(2)
      .u8(0)
      .bytes([0, 1])
      .u16(4 + 4)
      .u16(1)
      .bytes([8, 0, 3, 0])
      .u16(4 + prefix.length + 1)
      .u16(10)
      .bytes(prefix)
      .u8(0)
      .pad4()
      .u16(4 + ip4.length)
      .u16(9)
      .bytes(ip4)
      .build();
    expect(link(239, f)).toMatchObject({ offset: 24, end: 24 + ip4.length });
    expect(pkt(239, f)).toMatchObject({ src: '10.1.2.3', dstPort: 67 });
    expect(decodePacket(239, new Bytes(true).u8(2).u8(0).u16(0).u16(8).u16(1).u32(0).build())).toBe('not-ip');
  });
});

it('refuses link types it does not know', () => {
  expect(decodePacket(127, ip4)).toBe('unsupported-link');
  expect(decodePacket(-1, ip4)).toBe('unsupported-link');
  expect(SUPPORTED_LINK_TYPES).toEqual([0, 1, 9, 12, 14, 50, 101, 108, 113, 228, 229, 239, 276]);
  expect(linkTypeName(147)).toBe('linktype-147');
});
