/**
 * Hand-built capture bytes for tests: classic pcap records and pcapng blocks in either byte order.
 * Every length and field is written explicitly so a test shows exactly what it feeds the reader.
 */

export class Bytes {
  private readonly parts: number[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    if (this.le) this.parts.push(v & 0xff, (v >>> 8) & 0xff);
    else this.parts.push((v >>> 8) & 0xff, v & 0xff);
    return this;
  }
  u32(v: number): this {
    const b = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    this.parts.push(...(this.le ? b.reverse() : b));
    return this;
  }
  /** 64-bit value as two 32-bit halves in this byte order. */
  u64(hi: number, lo: number): this {
    return this.le ? this.u32(lo).u32(hi) : this.u32(hi).u32(lo);
  }
  bytes(b: Uint8Array | number[]): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  pad4(): this {
    while (this.parts.length % 4 !== 0) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface PcapRecord {
  sec: number;
  /** µs or ns depending on the file's magic. */
  frac: number;
  data: Uint8Array;
  origLen?: number;
  /** Override the captured-length field (for corrupt-length tests). */
  caplenField?: number;
}

export function pcapFile(opts: {
  le: boolean;
  nano?: boolean;
  linkType: number;
  snapLen?: number;
  records: PcapRecord[];
}): Uint8Array {
  const b = new Bytes(opts.le);
  b.u32(opts.nano ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(2)
    .u16(4)
    .u32(0)
    .u32(0)
    .u32(opts.snapLen ?? 262144)
    .u32(opts.linkType);
  for (const r of opts.records) {
    b.u32(r.sec)
      .u32(r.frac)
      .u32(r.caplenField ?? r.data.length)
      .u32(r.origLen ?? r.data.length)
      .bytes(r.data);
  }
  return b.build();
}

/** A pcapng block: type, total length, body (padded to 4), total length again. */
export function block(le: boolean, type: number, body: Uint8Array, lengthOverride?: number): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const total = lengthOverride ?? 12 + padded;
  const b = new Bytes(le).u32(type).u32(total).bytes(body);
  b.pad4();
  b.u32(total);
  return b.build();
}

export interface Opt {
  code: number;
  value: Uint8Array | number[];
}

function options(le: boolean, opts: Opt[]): Uint8Array {
  if (opts.length === 0) return new Uint8Array(0);
  const b = new Bytes(le);
  for (const o of opts) {
    const v = Uint8Array.from(o.value);
    b.u16(o.code).u16(v.length).bytes(v).pad4();
  }
  b.u16(0).u16(0);
  return b.build();
}

export function shb(le: boolean, opts: Opt[] = []): Uint8Array {
  const body = new Bytes(le).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).bytes(options(le, opts));
  return block(le, 0x0a0d0d0a, body.build());
}

export function idb(le: boolean, linkType: number, snapLen: number, opts: Opt[] = []): Uint8Array {
  const body = new Bytes(le).u16(linkType).u16(0).u32(snapLen).bytes(options(le, opts));
  return block(le, 1, body.build());
}

/** if_tsresol option value. */
export function tsresol(v: number): Opt {
  return { code: 9, value: [v] };
}

/** if_tsoffset option (signed 64-bit seconds, small values only). */
export function tsoffset(le: boolean, seconds: number): Opt {
  const hi = seconds < 0 ? 0xffffffff : 0;
  return { code: 14, value: new Bytes(le).u64(hi, seconds >>> 0).build() };
}

/** Split a tick count below 2^53 into the two 32-bit halves of a pcapng timestamp. */
export function ticks(t: bigint): [number, number] {
  return [Number(t >> 32n), Number(t & 0xffffffffn)];
}

export function epb(
  le: boolean,
  ifId: number,
  ts: bigint,
  data: Uint8Array,
  origLen = data.length,
  opts: Opt[] = [],
): Uint8Array {
  const [hi, lo] = ticks(ts);
  const body = new Bytes(le).u32(ifId).u32(hi).u32(lo).u32(data.length).u32(origLen).bytes(data).pad4();
  return block(le, 6, concat(body.build(), options(le, opts)));
}

export function opb(le: boolean, ifId: number, ts: bigint, data: Uint8Array, origLen = data.length): Uint8Array {
  const [hi, lo] = ticks(ts);
  const body = new Bytes(le).u16(ifId).u16(0).u32(hi).u32(lo).u32(data.length).u32(origLen).bytes(data).pad4();
  return block(le, 2, body.build());
}

export function spb(le: boolean, data: Uint8Array, origLen = data.length): Uint8Array {
  return block(le, 3, new Bytes(le).u32(origLen).bytes(data).pad4().build());
}

/** Interface statistics block (ignored by the reader): stands for any block it does not use. */
export function isb(le: boolean, ifId: number): Uint8Array {
  return block(le, 5, new Bytes(le).u32(ifId).u32(0).u32(0).build());
}

// ---------------------------------------------------------------------------------------------------------
// Frames

export function hex(s: string): Uint8Array {
  const clean = s.replace(/[\s:]/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** IPv4 header (no options unless given) + payload, with a correct total length. */
export function ipv4(opts: {
  src: number[];
  dst: number[];
  protocol: number;
  payload: Uint8Array;
  id?: number;
  ttl?: number;
  /** Fragment offset in bytes (multiple of 8). */
  fragOffset?: number;
  more?: boolean;
  options?: number[];
  totalLength?: number;
}): Uint8Array {
  const opt = opts.options ?? [];
  const ihl = 20 + opt.length;
  const total = opts.totalLength ?? ihl + opts.payload.length;
  const ff = ((opts.fragOffset ?? 0) / 8) | (opts.more ? 0x2000 : 0);
  const b = new Bytes(false)
    .u8(0x40 | (ihl / 4))
    .u8(0)
    .u16(total)
    .u16(opts.id ?? 0x1234)
    .u16(ff)
    .u8(opts.ttl ?? 64)
    .u8(opts.protocol)
    .u16(0)
    .bytes(opts.src)
    .bytes(opts.dst)
    .bytes(opt)
    .bytes(opts.payload);
  return b.build();
}

/** IPv6 header + extension bytes + payload; payload length covers ext + payload. */
export function ipv6(opts: {
  src: Uint8Array;
  dst: Uint8Array;
  nextHeader: number;
  payload: Uint8Array;
  hopLimit?: number;
  payloadLength?: number;
}): Uint8Array {
  return new Bytes(false)
    .u32(0x60000000)
    .u16(opts.payloadLength ?? opts.payload.length)
    .u8(opts.nextHeader)
    .u8(opts.hopLimit ?? 64)
    .bytes(opts.src)
    .bytes(opts.dst)
    .bytes(opts.payload)
    .build();
}

export function tcp(opts: {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  options?: number[];
  payload?: Uint8Array;
}): Uint8Array {
  const opt = opts.options ?? [];
  const hl = 20 + opt.length;
  return new Bytes(false)
    .u16(opts.sport)
    .u16(opts.dport)
    .u32(opts.seq ?? 0)
    .u32(opts.ack ?? 0)
    .u8((hl / 4) << 4)
    .u8(opts.flags ?? 0x18)
    .u16(opts.window ?? 65535)
    .u16(0)
    .u16(0)
    .bytes(opt)
    .bytes(opts.payload ?? new Uint8Array(0))
    .build();
}

export function udp(sport: number, dport: number, payload: Uint8Array, lengthField?: number): Uint8Array {
  return new Bytes(false)
    .u16(sport)
    .u16(dport)
    .u16(lengthField ?? 8 + payload.length)
    .u16(0)
    .bytes(payload)
    .build();
}

export function ether(dst: string, src: string, type: number, payload: Uint8Array, vlans: number[][] = []): Uint8Array {
  const b = new Bytes(false).bytes(hex(dst)).bytes(hex(src));
  for (const [tpid, id] of vlans) b.u16(tpid!).u16(id!);
  return b.u16(type).bytes(payload).build();
}

export const MAC_A = '00:11:22:33:44:55';
export const MAC_B = 'aa:bb:cc:dd:ee:0f';

/** A small Ethernet/IPv4/UDP frame 10.0.0.<n> -> 10.0.0.1, for reader tests. */
export function sampleFrame(n: number, payloadLen = 4): Uint8Array {
  const payload = new Uint8Array(payloadLen).fill(n & 0xff);
  return ether(
    MAC_B,
    MAC_A,
    0x0800,
    ipv4({ src: [10, 0, 0, n & 0xff], dst: [10, 0, 0, 1], protocol: 17, payload: udp(1000 + n, 53, payload) }),
  );
}
