/**
 * Builders for hand-made test frames and pcap files: Ethernet (optionally VLAN-tagged) + IPv4/IPv6 +
 * TCP/UDP, with correct lengths (checksums are left zero: bandguard does not verify them, as capture
 * offload makes them unreliable). For edge cases that real clients cannot produce.
 */
import { writeFileSync } from 'node:fs';

export interface FrameSpec {
  srcMac?: string;
  dstMac?: string;
  vlan?: number;
  src: string;
  dst: string;
  proto: 'tcp' | 'udp';
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags?: number;
  payload?: Uint8Array | string;
  ttl?: number;
}

function mac(s: string): number[] {
  return s.split(':').map((x) => Number.parseInt(x, 16));
}

function ipv4(s: string): number[] {
  return s.split('.').map(Number);
}

function ipv6(s: string): number[] {
  const [head = '', tail = ''] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = s.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out: number[] = [];
  for (const g of groups) {
    const v = Number.parseInt(g, 16);
    out.push(v >> 8, v & 0xff);
  }
  return out;
}

const u16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const u32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

export function bytes(p: Uint8Array | string | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  return typeof p === 'string' ? new TextEncoder().encode(p) : p;
}

/** An Ethernet frame carrying one IPv4/IPv6 TCP or UDP packet. */
export function frame(s: FrameSpec): Uint8Array {
  const payload = bytes(s.payload);
  const l4 =
    s.proto === 'tcp'
      ? [
          ...u16(s.sport),
          ...u16(s.dport),
          ...u32(s.seq ?? 1),
          ...u32(s.ack ?? 0),
          0x50,
          s.flags ?? 0x18,
          ...u16(65535),
          0,
          0,
          0,
          0,
        ]
      : [...u16(s.sport), ...u16(s.dport), ...u16(8 + payload.length), 0, 0];
  const v6 = s.src.includes(':');
  const protoNum = s.proto === 'tcp' ? 6 : 17;
  const l4len = l4.length + payload.length;
  const ip = v6
    ? [0x60, 0, 0, 0, ...u16(l4len), protoNum, s.ttl ?? 64, ...ipv6(s.src), ...ipv6(s.dst)]
    : [0x45, 0, ...u16(20 + l4len), 0, 0, 0x40, 0, s.ttl ?? 64, protoNum, 0, 0, ...ipv4(s.src), ...ipv4(s.dst)];
  const eth = [
    ...mac(s.dstMac ?? '02:00:00:00:00:01'),
    ...mac(s.srcMac ?? '02:00:00:00:00:02'),
    ...(s.vlan !== undefined ? [0x81, 0x00, ...u16(s.vlan)] : []),
    ...u16(v6 ? 0x86dd : 0x0800),
  ];
  const out = new Uint8Array(eth.length + ip.length + l4.length + payload.length);
  out.set(eth, 0);
  out.set(ip, eth.length);
  out.set(l4, eth.length + ip.length);
  out.set(payload, eth.length + ip.length + l4.length);
  return out;
}

/** A classic little-endian microsecond pcap file of Ethernet frames, timestamps in ms. */
export function pcapFile(packets: { tsMs: number; data: Uint8Array }[], linkType = 1): Uint8Array {
  const parts: number[] = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0];
  parts.push(linkType & 0xff, (linkType >> 8) & 0xff, 0, 0);
  const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  for (const p of packets) {
    const sec = Math.floor(p.tsMs / 1000);
    const usec = Math.round((p.tsMs - sec * 1000) * 1000);
    parts.push(...le32(sec), ...le32(usec), ...le32(p.data.length), ...le32(p.data.length), ...p.data);
  }
  return Uint8Array.from(parts);
}

export function writePcap(path: string, packets: { tsMs: number; data: Uint8Array }[]): string {
  writeFileSync(path, pcapFile(packets));
  return path;
}

/** A DNS response with A/AAAA/CNAME answers, enough for pipeline tests (no compression). */
export function dnsResponse(
  id: number,
  qname: string,
  qtype: number,
  answers: { name: string; type: 1 | 5 | 28; ttl: number; data: string }[],
): Uint8Array {
  const name = (n: string) => [...n.split('.').flatMap((l) => [l.length, ...new TextEncoder().encode(l)]), 0];
  const out: number[] = [...u16(id), 0x81, 0x80, ...u16(1), ...u16(answers.length), 0, 0, 0, 0];
  out.push(...name(qname), ...u16(qtype), 0, 1);
  for (const a of answers) {
    const rdata = a.type === 1 ? ipv4(a.data) : a.type === 28 ? ipv6(a.data) : name(a.data);
    out.push(...name(a.name), ...u16(a.type), 0, 1, ...u32(a.ttl), ...u16(rdata.length), ...rdata);
  }
  return Uint8Array.from(out);
}

export function dnsQuery(id: number, qname: string, qtype: number): Uint8Array {
  const name = [...qname.split('.').flatMap((l) => [l.length, ...new TextEncoder().encode(l)]), 0];
  return Uint8Array.from([...u16(id), 0x01, 0x00, ...u16(1), 0, 0, 0, 0, 0, 0, ...name, ...u16(qtype), 0, 1]);
}
