/**
 * Small hand-built capture files for edge cases, written to test/fixtures/pcap/edge/ so that other tests
 * (and people) can use them as files. edgeFixtures.test.ts checks the files on disk still equal this
 * generator's output; run it with UPDATE_FIXTURES=1 to rewrite them.
 */
import { gzipSync } from 'node:zlib';
import {
  Bytes,
  concat,
  epb,
  ether,
  idb,
  ipv4,
  ipv6,
  isb,
  MAC_A,
  MAC_B,
  opb,
  pcapFile,
  sampleFrame,
  shb,
  spb,
  tsresol,
  udp,
} from './builders.js';

const T0 = 1_700_000_000;
const V6A = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a]);
const V6B = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b]);

function dnsish(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}

function fragments4(): Uint8Array[] {
  const dgram = udp(53, 33000, dnsish(2000));
  const out: Uint8Array[] = [];
  for (let s = 0; s < dgram.length; s += 1480) {
    const e = Math.min(s + 1480, dgram.length);
    out.push(
      ether(
        MAC_B,
        MAC_A,
        0x0800,
        ipv4({
          src: [9, 9, 9, 9],
          dst: [192, 168, 1, 20],
          protocol: 17,
          id: 0x77,
          fragOffset: s,
          more: e < dgram.length,
          payload: dgram.subarray(s, e),
        }),
      ),
    );
  }
  return out.reverse();
}

function fragments6(): Uint8Array[] {
  const dgram = udp(443, 50000, dnsish(1500));
  const out: Uint8Array[] = [];
  for (let s = 0; s < dgram.length; s += 1232) {
    const e = Math.min(s + 1232, dgram.length);
    const fh = new Bytes(false)
      .u8(17)
      .u8(0)
      .u16(s | (e < dgram.length ? 1 : 0))
      .u32(0x01020304)
      .build();
    out.push(
      ether(
        MAC_A,
        MAC_B,
        0x86dd,
        ipv6({ src: V6B, dst: V6A, nextHeader: 44, payload: concat(fh, dgram.subarray(s, e)) }),
      ),
    );
  }
  return out;
}

/** A Linux cooked (SLL) frame sent by 00:11:22:33:44:55 carrying sampleFrame(n)'s IPv4 packet. */
function sllFrame(n: number): Uint8Array {
  const hdr = new Bytes(false).u16(0).u16(1).u16(6).bytes([0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0]).u16(0x0800).build();
  return concat(hdr, sampleFrame(n).subarray(14));
}

/** name → file bytes. */
export function edgeFixtures(): Record<string, Uint8Array> {
  const three = [0, 1, 2].map((i) => ({ sec: T0 + i, frac: i * 250_000, data: sampleFrame(i + 1, 10 * i) }));
  const le = pcapFile({ le: true, linkType: 1, records: three });
  const multi = concat(
    shb(true),
    idb(true, 1, 0),
    idb(true, 101, 0, [tsresol(9)]),
    epb(true, 0, BigInt(T0) * 1_000_000n + 1n, sampleFrame(1)),
    epb(true, 1, BigInt(T0) * 1_000_000_000n + 2_000_000n, sampleFrame(2).subarray(14)),
    isb(true, 0),
    shb(false),
    idb(false, 113, 128, [tsresol(0x80 | 16)]),
    epb(false, 0, BigInt(T0 + 1) << 16n, sllFrame(3)),
    spb(false, sllFrame(4)),
    opb(false, 0, BigInt(T0 + 2) << 16n, sllFrame(5)),
  );
  const frag4 = fragments4();
  const frag6 = fragments6();
  return {
    'le-usec-ether.pcap': le,
    'be-nsec-rawip.pcap': pcapFile({
      le: false,
      nano: true,
      linkType: 101,
      records: three.map((r) => ({ ...r, frac: r.frac * 1000 + 7, data: r.data.subarray(14) })),
    }),
    'multi-section.pcapng': multi,
    // gzip-compressed although the name says .pcapng: formats are found by magic.
    'gzipped.pcapng': gzipSync(multi, { level: 9 }),
    'cut-short.pcap': le.subarray(0, le.length - 5),
    'corrupt-caplen.pcap': pcapFile({
      le: true,
      linkType: 1,
      records: [three[0]!, { ...three[1]!, caplenField: 0x00f00000 }, three[2]!],
    }),
    'not-a-capture.pcap': new TextEncoder().encode('# this is a text file, not a capture\n'),
    'null-loopback.pcap': pcapFile({
      le: true,
      linkType: 0,
      records: [
        { sec: T0, frac: 0, data: concat(new Bytes(true).u32(2).build(), sampleFrame(6).subarray(14)) },
        {
          sec: T0,
          frac: 1,
          data: concat(
            new Bytes(false).u32(30).build(),
            ipv6({ src: V6A, dst: V6B, nextHeader: 17, payload: udp(1, 2, dnsish(3)) }),
          ),
        },
      ],
    }),
    'qinq.pcap': pcapFile({
      le: true,
      linkType: 1,
      records: [
        {
          sec: T0,
          frac: 0,
          data: ether(MAC_B, MAC_A, 0x0800, sampleFrame(7).subarray(14), [
            [0x88a8, 100],
            [0x8100, 200],
          ]),
        },
      ],
    }),
    'ipv4-fragments.pcap': pcapFile({
      le: true,
      linkType: 1,
      records: frag4.map((data, i) => ({ sec: T0, frac: i, data })),
    }),
    'ipv6-fragments.pcapng': concat(
      shb(true),
      idb(true, 1, 0),
      ...frag6.map((d, i) => epb(true, 0, BigInt(T0) * 1_000_000n + BigInt(i), d)),
    ),
  };
}
