import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../../src/net/capture/pcapFile.js';
import { decodePacket } from '../../../../src/net/decode/packet.js';
import type { DecodedPacket } from '../../../../src/net/decode/types.js';
import { IpReassembler } from '../../../../src/net/flows/ipReassembly.js';
import { CAPTURES_DIR } from '../../../helpers/captures.js';
import { Bytes, concat, ipv4, ipv6, tcp, udp } from '../capture/builders.js';

const SRC = [192, 168, 1, 10];
const DST = [8, 8, 4, 4];
const V6A = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const V6B = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);

function bytesOf(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function decoded(raw: Uint8Array): DecodedPacket {
  const d = decodePacket(101, raw);
  if (typeof d === 'string') throw new Error(`fixture does not decode: ${d}`);
  return d;
}

/** IPv4 fragment of `datagram` (a whole IP payload) covering [start, end). */
function frag4(
  datagram: Uint8Array,
  start: number,
  end: number,
  opts: { id?: number; protocol?: number; src?: number[] } = {},
) {
  return decoded(
    ipv4({
      src: opts.src ?? SRC,
      dst: DST,
      protocol: opts.protocol ?? 17,
      id: opts.id ?? 0x4242,
      fragOffset: start,
      more: end < datagram.length,
      payload: datagram.subarray(start, end),
    }),
  );
}

/** IPv6 fragment: fixed header, a fragment header naming `nextHeader`, then datagram[start, end). */
function frag6(datagram: Uint8Array, start: number, end: number, nextHeader = 17, id = 0xdeadbeef) {
  const fh = new Bytes(false)
    .u8(nextHeader)
    .u8(0)
    .u16(start | (end < datagram.length ? 1 : 0))
    .u32(id)
    .build();
  return decoded(ipv6({ src: V6A, dst: V6B, nextHeader: 44, payload: concat(fh, datagram.subarray(start, end)) }));
}

const dnsLike = bytesOf(1200);
const udpDatagram = udp(5353, 53, dnsLike);

describe('IpReassembler', () => {
  it('passes whole packets through untouched', () => {
    const r = new IpReassembler();
    const p = decoded(ipv4({ src: SRC, dst: DST, protocol: 17, payload: udp(1, 2, bytesOf(10)) }));
    expect(r.add(p, 0)).toBe(p);
    expect(r.stats.fragments).toBe(0);
  });

  it('reassembles an IPv4 UDP datagram in order and out of order', () => {
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 2, 0],
    ]) {
      const r = new IpReassembler();
      const parts = [
        frag4(udpDatagram, 0, 400),
        frag4(udpDatagram, 400, 800),
        frag4(udpDatagram, 800, udpDatagram.length),
      ];
      expect(parts[0]!.fragment).toEqual({ id: 0x4242, offset: 0, more: true });
      const results = order.map((i, k) => r.add(parts[i]!, 1000 + k));
      expect(results.slice(0, 2)).toEqual([null, null]);
      const whole = results[2]!;
      expect(whole).toMatchObject({
        src: '192.168.1.10',
        dst: '8.8.4.4',
        protocol: 17,
        srcPort: 5353,
        dstPort: 53,
        fragment: null,
        truncated: false,
      });
      expect(Array.from(whole.payload)).toEqual(Array.from(dnsLike));
      expect(r.stats).toMatchObject({ fragments: 3, reassembled: 1, inProgress: 0, errors: 0, overlaps: 0 });
    }
  });

  it('decodes TCP headers of a reassembled datagram', () => {
    const seg = tcp({ sport: 443, dport: 50000, seq: 0xfffffff0, ack: 0x80000001, flags: 0x18, payload: bytesOf(100) });
    const r = new IpReassembler();
    expect(r.add(frag4(seg, 0, 64, { protocol: 6 }), 0)).toBeNull();
    const whole = r.add(frag4(seg, 64, seg.length, { protocol: 6 }), 1)!;
    expect(whole.tcp).toEqual({ seq: 0xfffffff0, ack: 0x80000001, flags: 0x18, window: 65535 });
    expect(whole.payload.length).toBe(100);
  });

  it('keeps the bytes that arrived first when fragments overlap, and ignores duplicates', () => {
    const r = new IpReassembler();
    const other = udp(5353, 53, bytesOf(1200, 99));
    expect(r.add(frag4(udpDatagram, 0, 400), 0)).toBeNull();
    // A fragment overlapping [200, 600) with different content: only [400, 600) is new.
    expect(r.add(frag4(other, 200, 600), 1)).toBeNull();
    expect(r.add(frag4(udpDatagram, 0, 400), 2)).toBeNull();
    const whole = r.add(frag4(udpDatagram, 600, udpDatagram.length), 3)!;
    const expected = concat(udpDatagram.subarray(8, 400), other.subarray(400, 600), udpDatagram.subarray(600));
    expect(Array.from(whole.payload)).toEqual(Array.from(expected));
    expect(r.stats.overlaps).toBe(2);
  });

  it('does not mix datagrams that differ in source, protocol or id', () => {
    const r = new IpReassembler();
    expect(r.add(frag4(udpDatagram, 0, 400), 0)).toBeNull();
    expect(r.add(frag4(udpDatagram, 400, udpDatagram.length, { id: 1 }), 0)).toBeNull();
    expect(r.add(frag4(udpDatagram, 400, udpDatagram.length, { src: [1, 2, 3, 4] }), 0)).toBeNull();
    expect(r.add(frag4(udpDatagram, 400, udpDatagram.length, { protocol: 6 }), 0)).toBeNull();
    expect(r.size).toBe(4);
    expect(r.add(frag4(udpDatagram, 400, udpDatagram.length), 0)).not.toBeNull();
  });

  it('times datagrams out by capture time', () => {
    const r = new IpReassembler({ timeoutMs: 30_000 });
    expect(r.add(frag4(udpDatagram, 0, 400), 1_000)).toBeNull();
    expect(r.add(frag4(udpDatagram, 400, 800), 20_000)).toBeNull();
    // 31 s after the first fragment: the datagram is gone, this fragment starts a new one.
    expect(r.add(frag4(udpDatagram, 800, udpDatagram.length), 31_001)).toBeNull();
    expect(r.stats.timeouts).toBe(1);
    expect(r.size).toBe(1);
    r.expire(100_000);
    expect(r.size).toBe(0);
    expect(r.stats.timeouts).toBe(2);
  });

  it('evicts the oldest datagram when full', () => {
    const r = new IpReassembler({ maxDatagrams: 2 });
    for (const id of [1, 2, 3]) r.add(frag4(udpDatagram, 0, 400, { id }), id);
    expect(r.stats.evictions).toBe(1);
    expect(r.size).toBe(2);
    // id 1 was evicted: its last fragment cannot complete it.
    expect(r.add(frag4(udpDatagram, 400, udpDatagram.length, { id: 1 }), 4)).toBeNull();
    expect(r.add(frag4(udpDatagram, 400, udpDatagram.length, { id: 3 }), 5)).not.toBeNull();
  });

  it('rejects oversize datagrams, conflicting ends and bad middle sizes', () => {
    const big = new Uint8Array(65_600);
    const r = new IpReassembler();
    expect(r.add(frag4(big, 65_528, 65_600), 0)).toBeNull();
    expect(r.stats.errors).toBe(1);
    expect(r.size).toBe(0);

    // Two different "last" fragments.
    expect(r.add(frag4(udpDatagram, 800, udpDatagram.length), 0)).toBeNull();
    const shorter = udpDatagram.subarray(0, 1000);
    expect(r.add(frag4(shorter, 800, 1000), 0)).toBeNull();
    expect(r.stats.errors).toBe(2);
    expect(r.size).toBe(0);

    // A middle fragment whose length is not a multiple of 8.
    expect(r.add(frag4(udpDatagram, 0, 13), 0)).toBeNull();
    expect(r.stats.errors).toBe(3);

    // Data past the end a last fragment announced.
    expect(r.add(frag4(udpDatagram.subarray(0, 800), 400, 800, { id: 7 }), 0)).toBeNull();
    expect(r.add(frag4(udpDatagram, 800, 1200, { id: 7 }), 0)).toBeNull();
    expect(r.stats.errors).toBe(4);
  });

  it('bounds the number of pieces per datagram', () => {
    const r = new IpReassembler({ maxFragmentsPerDatagram: 4 });
    for (let i = 0; i < 4; i++) expect(r.add(frag4(udpDatagram, i * 16, i * 16 + 8), i)).toBeNull();
    expect(r.stats.errors).toBe(0);
    expect(r.add(frag4(udpDatagram, 200, 208), 5)).toBeNull();
    expect(r.stats.errors).toBe(1);
    expect(r.size).toBe(0);
  });

  it('hands out a snap-length-cut first fragment on its own, flagged truncated', () => {
    const r = new IpReassembler();
    const raw = ipv4({
      src: SRC,
      dst: DST,
      protocol: 17,
      fragOffset: 0,
      more: true,
      payload: udpDatagram.subarray(0, 400),
    });
    const d = decoded(raw.subarray(0, 120));
    expect(d.truncated).toBe(true);
    const out = r.add(d, 0)!;
    expect(out).toMatchObject({ srcPort: 5353, dstPort: 53, truncated: true, fragment: null });
    expect(out.payload.length).toBe(120 - 20 - 8);
    const later = decoded(
      ipv4({
        src: SRC,
        dst: DST,
        protocol: 17,
        fragOffset: 400,
        more: true,
        payload: udpDatagram.subarray(400, 800),
      }).subarray(0, 100),
    );
    expect(r.add(later, 1)).toBeNull();
    expect(r.stats.truncated).toBe(2);
  });

  it('reassembles IPv6 fragments, including extension headers inside the fragmentable part', () => {
    const r = new IpReassembler();
    const a = frag6(udpDatagram, 0, 600);
    expect(a).toMatchObject({ ipVersion: 6, protocol: 17, fragment: { id: 0xdeadbeef, offset: 0, more: true } });
    expect(r.add(frag6(udpDatagram, 600, udpDatagram.length), 0)).toBeNull();
    const whole = r.add(a, 1)!;
    expect(whole).toMatchObject({ src: '2001:db8::1', dst: '2001:db8::2', srcPort: 5353, dstPort: 53, protocol: 17 });
    expect(whole.payload.length).toBe(dnsLike.length);

    // Destination options (8 bytes) then UDP, fragmented after the fragment header.
    const withOpts = concat(Uint8Array.from([17, 0, 1, 4, 0, 0, 0, 0]), udpDatagram);
    const b1 = frag6(withOpts, 0, 504, 60, 5);
    const b2 = frag6(withOpts, 504, withOpts.length, 60, 5);
    expect(r.add(b1, 2)).toBeNull();
    const w2 = r.add(b2, 3)!;
    expect(w2).toMatchObject({ protocol: 17, srcPort: 5353, dstPort: 53 });
    expect(w2.payload.length).toBe(dnsLike.length);
  });

  it('puts any fragmentation back together, whatever the order and duplicates (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 9, max: 3000 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.integer({ min: 0, max: 255 }),
        (len, cuts, shuffle, seed) => {
          const datagram = udp(1234, 4321, bytesOf(len, seed));
          // Fragment boundaries at multiples of 8.
          const bounds = [0];
          for (const c of cuts) {
            const next = bounds[bounds.length - 1]! + c * 8;
            if (next >= datagram.length) break;
            bounds.push(next);
          }
          bounds.push(datagram.length);
          const frags = bounds.slice(0, -1).map((s, i) => frag4(datagram, s, bounds[i + 1]!));
          // Reorder and duplicate using the shuffle numbers.
          const order = frags.map((_, i) => i);
          for (let i = order.length - 1; i > 0; i--) {
            const j = (shuffle[i] ?? 0) % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          const dup = shuffle.length > 0 ? shuffle[0]! % frags.length : -1;
          const r = new IpReassembler();
          let result: DecodedPacket | null = null;
          let completions = 0;
          const feed = [...order];
          if (dup >= 0) feed.splice(feed.length > 1 ? 1 : 0, 0, dup);
          for (const i of feed) {
            const out = r.add(frags[i]!, 0);
            if (out !== null) {
              result = out;
              completions++;
            }
          }
          if (frags.length === 1) return; // not a fragment at all: decodePacket returned it whole
          expect(completions).toBe(1);
          expect(Array.from(result!.payload)).toEqual(Array.from(datagram.subarray(8)));
        },
      ),
      { numRuns: 150 },
    );
  });
});

const BADPACKETS = `${CAPTURES_DIR}/ndpi/badpackets.pcap`;

describe.skipIf(!existsSync(BADPACKETS))(
  'IpReassembler on ndpi/badpackets.pcap (first fragments cut by the snap length)',
  () => {
    it('returns each cut DNS first fragment with its UDP ports, flagged truncated', async () => {
      const r = new IpReassembler();
      const out: DecodedPacket[] = [];
      const capLens: number[] = [];
      let fragments = 0;
      await readCaptureFile(BADPACKETS, (p) => {
        const d = decodePacket(p.linkType, p.data);
        if (typeof d === 'string') return;
        if (d.fragment) fragments++;
        const w = r.add(d, p.tsMs);
        if (w) {
          out.push({ ...w, payload: w.payload.slice() });
          capLens.push(p.data.length);
        }
      });
      // tshark: 93 IPv4 first fragments (MF set, offset 0, total length 1500), all from UDP port 53.
      expect(fragments).toBe(93);
      expect(out.length).toBe(93);
      expect(out.every((p) => p.truncated && p.protocol === 17 && p.srcPort === 53 && p.dstPort > 0)).toBe(true);
      // The payload is what was captured after Ethernet (14), IPv4 (20) and UDP (8) headers.
      expect(out.map((p) => p.payload.length)).toEqual(capLens.map((n) => n - 42));
      expect(r.stats).toMatchObject({ fragments: 93, truncated: 93, reassembled: 0, inProgress: 0 });
    });
  },
);
