/**
 * Property tests: decodePacket never throws and keeps its invariants on random bytes and on mutated real
 * frames from the capture corpus (or hand-built frames when the corpus is absent).
 */
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../../src/net/capture/pcapFile.js';
import { decodeIpv4, decodeIpv6 } from '../../../../src/net/decode/ip.js';
import { decodeLink } from '../../../../src/net/decode/link.js';
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  LINKTYPE_ETHERNET,
  SUPPORTED_LINK_TYPES,
} from '../../../../src/net/decode/linkTypes.js';
import { blankPacket, decodePacket } from '../../../../src/net/decode/packet.js';
import type { DecodedPacket, DropReason } from '../../../../src/net/decode/types.js';
import { IpReassembler } from '../../../../src/net/flows/ipReassembly.js';
import { CAPTURES_DIR } from '../../../helpers/captures.js';
import { sampleFrame } from '../capture/builders.js';

const REASONS: DropReason[] = [
  'truncated',
  'unsupported-link',
  'not-ip',
  'bad-ip-header',
  'bad-transport-header',
  'fragment-error',
];

function checkResult(data: Uint8Array, r: DecodedPacket | DropReason): void {
  if (typeof r === 'string') {
    expect(REASONS).toContain(r);
    return;
  }
  expect([4, 6]).toContain(r.ipVersion);
  expect(r.src.length).toBeGreaterThan(0);
  expect(r.srcPort).toBeGreaterThanOrEqual(0);
  expect(r.srcPort).toBeLessThan(65536);
  expect(r.dstPort).toBeLessThan(65536);
  expect(r.protocol).toBeGreaterThanOrEqual(0);
  expect(r.protocol).toBeLessThan(256);
  // The payload is a view inside the frame (or the shared empty array).
  if (r.payload.length > 0) {
    expect(r.payload.buffer).toBe(data.buffer);
    expect(r.payload.byteOffset).toBeGreaterThanOrEqual(data.byteOffset);
    expect(r.payload.byteOffset + r.payload.length).toBeLessThanOrEqual(data.byteOffset + data.length);
  }
  if (r.tcp) {
    expect(r.tcp.seq).toBeGreaterThanOrEqual(0);
    expect(r.tcp.seq).toBeLessThanOrEqual(0xffffffff);
    expect(r.tcp.ack).toBeLessThanOrEqual(0xffffffff);
  }
}

const FILES = [
  `${CAPTURES_DIR}/ndpi/quic-v2.pcapng`,
  `${CAPTURES_DIR}/ndpi/badpackets.pcap`,
  `${CAPTURES_DIR}/ndpi/dns.pcap`,
  `${CAPTURES_DIR}/ndpi/fuzz-2021-10-13.pcap`,
  `${CAPTURES_DIR}/public/tcpdump/nflog.pcap`,
  `${CAPTURES_DIR}/public/tcpdump/quic_handshake.pcap`,
  `${CAPTURES_DIR}/public/zeek/dns_ech.pcap`,
  `${CAPTURES_DIR}/public/zeek/quic_interop_quic-go_quic-go_retry.pcap`,
  `${CAPTURES_DIR}/ndpi/quic-fuzz-overflow.pcapng`,
  `${CAPTURES_DIR}/ndpi/android.pcap`,
];
const frames: { linkType: number; data: Uint8Array }[] = [];

beforeAll(async () => {
  for (const f of FILES.filter((p) => existsSync(p))) {
    let n = 0;
    await readCaptureFile(f, (p) => {
      if (n++ < 40) frames.push({ linkType: p.linkType, data: p.data.slice() });
    });
  }
  for (let i = 0; i < 8; i++) frames.push({ linkType: 1, data: sampleFrame(i, i * 9) });
});

/** A copy of `frame` with `edits` applied (positions wrap around), cut at `cut` when given. */
function mutated(frame: Uint8Array, edits: [number, number][], cut: number | null): Uint8Array {
  const data = frame.slice();
  for (const [at, v] of edits) if (data.length > 0) data[at % data.length] = v;
  return cut === null ? data : data.subarray(0, cut % (data.length + 1));
}

describe('decodePacket on hostile input', () => {
  it('never throws on random bytes for any link type', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...SUPPORTED_LINK_TYPES), fc.integer({ min: -5, max: 300 })),
        fc.uint8Array({ maxLength: 200 }),
        (lt, data) => {
          checkResult(data, decodePacket(lt, data));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never throws on random bytes behind plausible headers', () => {
    const heads = [
      Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00, 0x45]),
      Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd, 0x60]),
      Uint8Array.from([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0, 1, 0x88, 0x64, 0x11, 0, 0, 1, 0, 40, 0, 0x21, 0x45,
      ]),
      Uint8Array.from([0x60, 0, 0, 0, 0, 40, 44]),
      Uint8Array.from([0x45, 0, 0, 60, 0, 0, 0x20, 0, 64, 6]),
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: heads.length - 1 }), fc.uint8Array({ maxLength: 120 }), (h, tail) => {
        const head = heads[h]!;
        const data = new Uint8Array(head.length + tail.length);
        data.set(head);
        data.set(tail, head.length);
        const lt = h < 3 ? 1 : 101;
        checkResult(data, decodePacket(lt, data));
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on mutated and truncated real frames, and the reassembler takes whatever comes out', () => {
    expect(frames.length).toBeGreaterThan(8);
    const reasm = new IpReassembler({ maxDatagrams: 16 });
    let ts = 0;
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.option(fc.nat()),
        (pick, edits, cut) => {
          const f = frames[pick % frames.length]!;
          const view = mutated(f.data, edits, cut);
          const r = decodePacket(f.linkType, view);
          checkResult(view, r);
          if (typeof r !== 'string') {
            ts += 10;
            const w = reasm.add(r, ts);
            if (w !== null) expect(w.fragment).toBeNull();
          }
        },
      ),
      { numRuns: 5000 },
    );
    expect(reasm.size).toBeLessThanOrEqual(16);
  });

  it('decoding into one reused packet gives what decoding into new ones does (sequences of mutated real frames)', () => {
    const tcp = { seq: 0, ack: 0, flags: 0, window: 0 };
    const into = blankPacket();
    const frame = fc.tuple(
      fc.nat(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.option(fc.nat()),
    );
    let tcpSeen = 0;
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 12 }), fc.boolean(), (seq, keepTcp) => {
        for (const [pick, edits, cut] of seq) {
          const f = frames[pick % frames.length]!;
          const view = mutated(f.data, edits, cut);
          // As the pipeline does (its TCP object handed back every time), or leaving whatever the last left.
          if (keepTcp) into.tcp = tcp;
          const fresh = decodePacket(f.linkType, view);
          const reused = decodePacket(f.linkType, view, into);
          if (typeof fresh === 'string') {
            expect(reused).toBe(fresh);
            continue;
          }
          expect(reused).toBe(into);
          expect({ ...into, tcp: into.tcp === null ? null : { ...into.tcp } }).toEqual(fresh);
          if (fresh.tcp !== null) {
            tcpSeen++;
            if (keepTcp) expect(into.tcp).toBe(tcp);
          }
        }
      }),
      { numRuns: 1500 },
    );
    expect(tcpSeen).toBeGreaterThan(100);
  });

  it('the untagged-Ethernet shortcut answers as the general link-layer path does (mutated real frames)', () => {
    const general = (data: Uint8Array): DecodedPacket | DropReason => {
      const link = decodeLink(LINKTYPE_ETHERNET, data);
      if (typeof link === 'string') return link;
      if (link.etherType === ETHERTYPE_IPV4)
        return decodeIpv4(data, link.offset, link.end, link.srcMac, link.dstMac, link.vlans);
      if (link.etherType === ETHERTYPE_IPV6)
        return decodeIpv6(data, link.offset, link.end, link.srcMac, link.dstMac, link.vlans);
      return 'not-ip';
    };
    const ethernet = frames.filter((f) => f.linkType === LINKTYPE_ETHERNET);
    expect(ethernet.length).toBeGreaterThan(8);
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.option(fc.nat()),
        (pick, edits, cut) => {
          const data = ethernet[pick % ethernet.length]!.data.slice();
          // Half the edits aim at the Ethernet header (MACs, EtherType, a VLAN tag's place).
          for (const [at, v] of edits)
            if (data.length > 0) data[at % 2 === 0 ? ((at >> 1) % 18) % data.length : at % data.length] = v;
          const view = cut === null ? data : data.subarray(0, cut % (data.length + 1));
          expect(decodePacket(LINKTYPE_ETHERNET, view)).toEqual(general(view));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
