/**
 * Test helper: a minimal MaxMind DB writer and tree walker written from the published format spec
 * (maxmind.github.io/MaxMind-DB), independent of mmdb-lib, so tests can build tiny files with known
 * contents and check the production reader against a second implementation.
 *
 * Format facts used: binary search tree of `node_count` nodes, each two records of `record_size` bits
 * (24: 3+3 bytes; 28: 3 bytes, a shared nibble byte (left high, right low), 3 bytes; 32: 4+4 bytes); a
 * record < node_count is a node, == node_count is "no data", > node_count points into the data section at
 * (record - node_count - 16); 16 zero bytes separate the tree from the data section; the metadata map
 * follows the marker "\xAB\xCD\xEFMaxMind.com". Data fields: a control byte with the type in the top 3
 * bits (1 pointer, 2 string, 3 double, 4 bytes, 5 uint16, 6 uint32, 7 map; 0 = extended, type − 7 in the
 * next byte: 8 int32, 9 uint64, 10 uint128, 11 array, 14 boolean, 15 float) and a 5-bit size (29, 30, 31
 * mean 29 + 1 byte, 285 + 2 bytes, 65821 + 3 bytes). IPv4 addresses in an IPv6 tree live at ::/96.
 */

export type Value = string | number | boolean | bigint | Value[] | { [k: string]: Value };

export interface Network {
  /** Address bytes (4 or 16). */
  addr: Uint8Array;
  prefix: number;
  data: { [k: string]: Value };
}

function ctrl(type: number, size: number): number[] {
  const out: number[] = [];
  let first: number;
  let ext: number[] = [];
  if (size < 29) first = size;
  else if (size < 285) {
    first = 29;
    ext = [size - 29];
  } else if (size < 65821) {
    first = 30;
    const v = size - 285;
    ext = [v >> 8, v & 0xff];
  } else {
    first = 31;
    const v = size - 65821;
    ext = [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
  }
  if (type <= 7) out.push((type << 5) | first);
  else out.push(first, type - 7);
  out.push(...ext);
  return out;
}

function uintBytes(n: bigint): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0n) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

export function encodeValue(v: Value, hints: { [k: string]: 'uint16' | 'uint32' | 'uint64' } = {}): number[] {
  return encode(v, undefined, hints);
}

function encode(v: Value, key: string | undefined, hints: { [k: string]: 'uint16' | 'uint32' | 'uint64' }): number[] {
  if (typeof v === 'string') {
    const b = [...Buffer.from(v, 'utf8')];
    return [...ctrl(2, b.length), ...b];
  }
  if (typeof v === 'boolean') return ctrl(14, v ? 1 : 0);
  if (typeof v === 'bigint' || typeof v === 'number') {
    if (typeof v === 'number' && !Number.isInteger(v)) {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v);
      return [...ctrl(3, 8), ...b];
    }
    const n = BigInt(v);
    const hint = (key && hints[key]) ?? (n > 0xffffffffn ? 'uint64' : n > 0xffffn ? 'uint32' : 'uint16');
    const b = uintBytes(n);
    return [...ctrl(hint === 'uint16' ? 5 : hint === 'uint32' ? 6 : 9, b.length), ...b];
  }
  if (Array.isArray(v)) {
    const out = ctrl(11, v.length);
    for (const x of v) out.push(...encode(x, undefined, hints));
    return out;
  }
  const entries = Object.entries(v);
  const out = ctrl(7, entries.length);
  for (const [k, x] of entries) out.push(...encode(k, undefined, hints), ...encode(x, k, hints));
  return out;
}

type Rec = { kind: 'empty' } | { kind: 'node'; index: number } | { kind: 'data'; offset: number };

export interface WriteOptions {
  ipVersion: 4 | 6;
  recordSize: 24 | 28 | 32;
  databaseType: string;
  description?: string;
  buildEpoch?: number;
  languages?: string[];
}

/** Build a MaxMind DB file. Networks are inserted in order; a later, longer prefix splits an earlier one. */
export function writeMmdb(networks: Network[], opts: WriteOptions): Buffer {
  const bits = opts.ipVersion === 4 ? 32 : 128;
  const nodes: [Rec, Rec][] = [[{ kind: 'empty' }, { kind: 'empty' }]];
  const data: number[] = [];
  const offsets = new Map<string, number>();
  for (const n of networks) {
    let addr = n.addr;
    let prefix = n.prefix;
    if (addr.length === 4 && opts.ipVersion === 6) {
      const a = new Uint8Array(16);
      a.set(addr, 12);
      addr = a;
      prefix += 96;
    }
    if (addr.length * 8 !== bits) throw new Error('an IPv6 network in an IPv4 tree');
    const key = JSON.stringify(n.data, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
    let off = offsets.get(key);
    if (off === undefined) {
      off = data.length;
      data.push(...encodeValue(n.data, { autonomous_system_number: 'uint32' }));
      offsets.set(key, off);
    }
    let node = 0;
    for (let depth = 0; depth < prefix; depth++) {
      const bit = (addr[depth >> 3]! >> (7 - (depth & 7))) & 1;
      const rec = nodes[node]![bit]!;
      if (depth === prefix - 1) {
        nodes[node]![bit] = { kind: 'data', offset: off };
        break;
      }
      if (rec.kind === 'node') {
        node = rec.index;
        continue;
      }
      // Empty or data: a new node whose two records inherit it.
      nodes.push([rec, rec]);
      const idx = nodes.length - 1;
      nodes[node]![bit] = { kind: 'node', index: idx };
      node = idx;
    }
  }
  const nodeCount = nodes.length;
  const value = (r: Rec): number =>
    r.kind === 'empty' ? nodeCount : r.kind === 'node' ? r.index : nodeCount + 16 + r.offset;
  const tree: number[] = [];
  for (const [l, r] of nodes) {
    const a = value(l);
    const b = value(r);
    if (opts.recordSize === 24) {
      tree.push((a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff, (b >> 16) & 0xff, (b >> 8) & 0xff, b & 0xff);
    } else if (opts.recordSize === 28) {
      tree.push(
        (a >> 16) & 0xff,
        (a >> 8) & 0xff,
        a & 0xff,
        (((a >>> 24) & 0x0f) << 4) | ((b >>> 24) & 0x0f),
        (b >> 16) & 0xff,
        (b >> 8) & 0xff,
        b & 0xff,
      );
    } else {
      tree.push(...[24, 16, 8, 0].map((s) => (a >>> s) & 0xff), ...[24, 16, 8, 0].map((s) => (b >>> s) & 0xff));
    }
  }
  const meta: Value = {
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: BigInt(opts.buildEpoch ?? 1_700_000_000),
    database_type: opts.databaseType,
    description: { en: opts.description ?? 'bandguard test database' },
    ip_version: opts.ipVersion,
    languages: opts.languages ?? ['en'],
    node_count: nodeCount,
    record_size: opts.recordSize,
  };
  const metaBytes = encodeValue(meta, {
    node_count: 'uint32',
    record_size: 'uint16',
    ip_version: 'uint16',
    binary_format_major_version: 'uint16',
    binary_format_minor_version: 'uint16',
    build_epoch: 'uint64',
  });
  return Buffer.from([
    ...tree,
    ...new Array<number>(16).fill(0),
    ...data,
    0xab,
    0xcd,
    0xef,
    ...Buffer.from('MaxMind.com', 'latin1'),
    ...metaBytes,
  ]);
}

// ---- an independent reader: tree walk and the data types the test files use ----

export interface Walked {
  /** Address bytes of the network (4 for IPv4 files, 16 for IPv6 files). */
  addr: Uint8Array;
  prefix: number;
  value: Value;
}

export function readRecord(buf: Buffer, node: number, bit: number, recordSize: number): number {
  const nodeBytes = recordSize / 4;
  const o = node * nodeBytes;
  if (recordSize === 24) return bit === 0 ? buf.readUIntBE(o, 3) : buf.readUIntBE(o + 3, 3);
  if (recordSize === 28) {
    const mid = buf[o + 3]!;
    return bit === 0 ? ((mid >> 4) << 24) | buf.readUIntBE(o, 3) : ((mid & 0x0f) << 24) | buf.readUIntBE(o + 4, 3);
  }
  return bit === 0 ? buf.readUInt32BE(o) : buf.readUInt32BE(o + 4);
}

export function decodeAt(buf: Buffer, dataStart: number, offset: number): { value: Value; next: number } {
  let p = dataStart + offset;
  const c = buf[p++]!;
  let type = c >> 5;
  if (type === 1) {
    const ss = (c >> 3) & 3;
    const vvv = c & 7;
    let ptr: number;
    if (ss === 0) ptr = (vvv << 8) | buf[p++]!;
    else if (ss === 1) {
      ptr = ((vvv << 16) | buf.readUInt16BE(p)) + 2048;
      p += 2;
    } else if (ss === 2) {
      ptr = ((vvv << 24) | buf.readUIntBE(p, 3)) + 526336;
      p += 3;
    } else {
      ptr = buf.readUInt32BE(p);
      p += 4;
    }
    return { value: decodeAt(buf, dataStart, ptr).value, next: p - dataStart };
  }
  if (type === 0) type = 7 + buf[p++]!;
  let size = c & 0x1f;
  if (size === 29) size = 29 + buf[p++]!;
  else if (size === 30) {
    size = 285 + buf.readUInt16BE(p);
    p += 2;
  } else if (size === 31) {
    size = 65821 + buf.readUIntBE(p, 3);
    p += 3;
  }
  switch (type) {
    case 2:
      return { value: buf.toString('utf8', p, p + size), next: p + size - dataStart };
    case 3:
      return { value: buf.readDoubleBE(p), next: p + 8 - dataStart };
    case 5:
    case 6:
    case 8:
      return { value: size === 0 ? 0 : buf.readUIntBE(p, size), next: p + size - dataStart };
    case 9:
    case 10: {
      let n = 0n;
      for (let i = 0; i < size; i++) n = (n << 8n) | BigInt(buf[p + i]!);
      return { value: n, next: p + size - dataStart };
    }
    case 14:
      return { value: size !== 0, next: p - dataStart };
    case 7: {
      const obj: { [k: string]: Value } = {};
      let off = p - dataStart;
      for (let i = 0; i < size; i++) {
        const k = decodeAt(buf, dataStart, off);
        const v = decodeAt(buf, dataStart, k.next);
        obj[String(k.value)] = v.value;
        off = v.next;
      }
      return { value: obj, next: off };
    }
    case 11: {
      const arr: Value[] = [];
      let off = p - dataStart;
      for (let i = 0; i < size; i++) {
        const v = decodeAt(buf, dataStart, off);
        arr.push(v.value);
        off = v.next;
      }
      return { value: arr, next: off };
    }
    default:
      throw new Error(`data type ${type} not supported by the test reader`);
  }
}

/** Metadata map of a file (marker searched from the end). */
export function readMetadata(buf: Buffer): { [k: string]: Value } {
  const marker = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com', 'latin1')]);
  const at = buf.lastIndexOf(marker);
  if (at < 0) throw new Error('no metadata marker');
  const start = at + marker.length;
  return decodeAt(buf, start, 0).value as { [k: string]: Value };
}

/**
 * Walk the tree below a prefix and return up to `limit` data networks found depth-first, taking the
 * `pick(depth)` branch first (so different calls can sample different parts of the space).
 */
export function walkNetworks(
  buf: Buffer,
  start: { addr: Uint8Array; prefix: number },
  limit: number,
  pick: (depth: number) => 0 | 1 = () => 0,
): Walked[] {
  const meta = readMetadata(buf);
  const nodeCount = Number(meta.node_count);
  const recordSize = Number(meta.record_size);
  const dataStart = (nodeCount * recordSize) / 4 + 16;
  const width = start.addr.length * 8;
  let node = 0;
  for (let d = 0; d < start.prefix; d++) {
    const bit = (start.addr[d >> 3]! >> (7 - (d & 7))) & 1;
    const r = readRecord(buf, node, bit, recordSize);
    if (r === nodeCount) return [];
    if (r > nodeCount) {
      const value = decodeAt(buf, dataStart, r - nodeCount - 16).value;
      return [{ addr: start.addr, prefix: d + 1, value }];
    }
    node = r;
  }
  const out: Walked[] = [];
  const addr = new Uint8Array(start.addr);
  const visit = (n: number, depth: number): void => {
    if (out.length >= limit || depth >= width) return;
    const first = pick(depth);
    for (const bit of [first, 1 - first] as const) {
      if (out.length >= limit) return;
      const byte = depth >> 3;
      const mask = 1 << (7 - (depth & 7));
      if (bit) addr[byte]! |= mask;
      else addr[byte]! &= ~mask;
      const r = readRecord(buf, n, bit, recordSize);
      if (r > nodeCount) {
        const copy = new Uint8Array(addr);
        // Clear host bits below the prefix.
        for (let i = depth + 1; i < width; i++) copy[i >> 3]! &= ~(1 << (7 - (i & 7)));
        out.push({ addr: copy, prefix: depth + 1, value: decodeAt(buf, dataStart, r - nodeCount - 16).value });
      } else if (r < nodeCount) {
        visit(r, depth + 1);
      }
    }
  };
  visit(node, start.prefix);
  return out;
}
