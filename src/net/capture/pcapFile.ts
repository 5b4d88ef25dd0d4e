/**
 * Streaming reader for capture files: classic pcap (both byte orders, µs and ns resolution, the old
 * "modified" variant) and pcapng (several sections and interfaces, EPB/SPB/OPB), optionally gzip-compressed.
 * The format is detected by magic number, never by file name.
 *
 * Memory stays constant: the file is read in chunks into one window buffer that only grows to hold the
 * largest record (bounded), and packets are handed to the sink as views into that buffer (no copy for
 * plain files). A file cut short or corrupt part-way delivers everything before the damage and says where
 * it stopped in the stats; only a file that is not a capture at all throws CaptureFormatError.
 */
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { type CapturedPacket, type CaptureFileStats, CaptureFormatError, type PacketSink } from './types.js';

export const DEFAULT_CHUNK_SIZE = 1 << 20;
/** Largest captured length accepted for one packet (libpcap's and Wireshark's maximum snap length). */
export const MAX_CAPLEN = 262_144;
/** Largest pcapng block that is buffered whole (packet blocks with options, interface descriptions). */
const MAX_BUFFERED_BLOCK = 1 << 20;
/** Larger pcapng blocks than this are taken as corruption rather than skipped. */
const MAX_BLOCK = 1 << 28;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
/** Alexey Kuznetzov's modified pcap: 8 more bytes per record header (ifindex, protocol, pkt_type, pad). */
const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
const PCAPNG_IDB = 1;
const PCAPNG_OPB = 2;
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;

export interface ReadCaptureOptions {
  signal?: AbortSignal;
  /** Bytes per read (default 1 MiB); tiny values exercise record reassembly across reads. */
  chunkSize?: number;
  /** Awaited before every read from the file: lets a consumer pace the reader (replay at a given speed). */
  beforeRead?: () => Promise<void> | void;
}

/** Extra findings beyond CaptureFileStats' required fields. */
export interface CaptureFileStatsExt extends CaptureFileStats {
  /** Set when a corrupt length field made the reader stop before the end of the file. */
  corrupt: { offset: number; afterPackets: number; reason: string } | null;
  /** pcapng sections (Section Header Blocks) read; 1 for classic pcap. */
  sections: number;
  /** Timestamp resolution of the pcap file or the first pcapng interface, in ns per tick (1000 = µs). */
  tsResolutionNs: number | null;
}

// ---------------------------------------------------------------------------------------------------------
// Byte sources: a plain file read with FileHandle.read at explicit positions, or a gunzip stream. A source
// hands out its data chunk by chunk, each time after the unread bytes of the previous one (`tail`: the end of
// a record cut by the chunk's end), so the window needs no buffer of its own.

interface ByteSource {
  /**
   * `tail` followed by the next bytes of the data, as one view that stays valid until the next call; null
   * when the data has ended. `tail` may be (a view of) the previous result.
   */
  next(tail: Uint8Array): Promise<Uint8Array | null>;
  close(): Promise<void>;
}

/** Room kept before each file chunk for the previous chunk's unread end (the largest packet record fits). */
const HEADROOM = MAX_CAPLEN + 64;

/**
 * A plain file, read one chunk ahead: as soon as a chunk is handed out, the next one is requested into the
 * other buffer, so the disk (a thread of libuv's pool) works while the caller parses instead of the caller
 * waiting for it at every chunk. Chunks are read behind HEADROOM free bytes, where the previous chunk's
 * unread end is copied: the bytes of the file are never copied as a whole, only those tails.
 */
class FileSource implements ByteSource {
  private pos = 0;
  private readonly bufs: [Uint8Array, Uint8Array];
  /** Which buffer the next fetch fills. */
  private nextBuf = 0;
  /** The read of the next chunk, under way. */
  private ahead: Promise<{ buf: Uint8Array; n: number }> | null = null;
  private eof = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly chunkSize: number,
  ) {
    this.bufs = [new Uint8Array(HEADROOM + chunkSize), new Uint8Array(HEADROOM + chunkSize)];
  }

  private fetch(): Promise<{ buf: Uint8Array; n: number }> {
    const buf = this.bufs[this.nextBuf]!;
    this.nextBuf ^= 1;
    const p = this.fh.read(buf, HEADROOM, this.chunkSize, this.pos).then(({ bytesRead }) => {
      this.pos += bytesRead;
      return { buf, n: bytesRead };
    });
    p.catch(() => {}); // a read-ahead nobody waits for (the caller stopped) must not become an unhandled rejection
    return p;
  }

  async next(tail: Uint8Array): Promise<Uint8Array | null> {
    if (this.eof) return null;
    const { buf, n } = await (this.ahead ?? this.fetch());
    this.ahead = null;
    if (n === 0) {
      this.eof = true;
      return null;
    }
    // `tail` is in the other buffer (or a joined copy): take it over before that buffer is read into again.
    let out: Uint8Array;
    if (tail.length <= HEADROOM) {
      buf.set(tail, HEADROOM - tail.length);
      out = buf.subarray(HEADROOM - tail.length, HEADROOM + n);
    } else {
      out = joined(tail, buf.subarray(HEADROOM, HEADROOM + n));
    }
    this.ahead = this.fetch();
    return out;
  }

  async close(): Promise<void> {
    await this.ahead?.catch(() => undefined);
    this.ahead = null;
    await this.fh.close();
  }
}

/** A fresh array holding a then b (a block or record larger than a chunk's headroom: rare). */
function joined(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** gunzip output pulled chunk by chunk (the stream pauses while the reader is busy: constant memory). */
class GzipSource implements ByteSource {
  private readonly file: ReturnType<typeof createReadStream>;
  private readonly stream: ReturnType<typeof createGunzip>;
  private readonly iter: AsyncIterator<Buffer>;
  private ended = false;
  /** Set when zlib reported damaged or cut-short compressed data. */
  error: Error | null = null;

  constructor(path: string, chunkSize: number) {
    const file = createReadStream(path, { highWaterMark: Math.max(64, chunkSize) });
    this.file = file;
    this.stream = createGunzip({ chunkSize: Math.max(64, Math.min(chunkSize, 1 << 20)) });
    file.on('error', (e) => this.stream.destroy(e));
    file.pipe(this.stream);
    this.iter = this.stream[Symbol.asyncIterator]();
  }

  async next(tail: Uint8Array): Promise<Uint8Array | null> {
    while (!this.ended) {
      try {
        const r = await this.iter.next();
        if (r.done) break;
        const chunk: Uint8Array = r.value;
        if (chunk.length === 0) continue;
        // zlib hands out a new buffer per chunk: only a cut record's bytes need joining to it.
        return tail.length === 0 ? chunk : joined(tail, chunk);
      } catch (e) {
        this.error = e instanceof Error ? e : new Error(String(e));
        break;
      }
    }
    this.ended = true;
    return null;
  }

  async close(): Promise<void> {
    this.stream.destroy();
    // Unpiped by the destroy above, the file stream would otherwise keep its descriptor open.
    this.file.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The window: buf[start..end) holds unread bytes (a view handed out by the source); `base` is the stream
// offset of buf[0].

class Window {
  buf: Uint8Array = new Uint8Array(0);
  /** A DataView of `buf`, for the hot loops: one load per field instead of four byte loads and shifts. */
  dv: DataView = new DataView(this.buf.buffer);
  start = 0;
  end = 0;
  base = 0;
  eof = false;

  constructor(
    private readonly src: ByteSource,
    private readonly beforeRead?: () => Promise<void> | void,
  ) {}

  get available(): number {
    return this.end - this.start;
  }
  get offset(): number {
    return this.base + this.start;
  }

  /** Read until at least `need` bytes are available or the data ends; returns whether they are. */
  async ensure(need: number, signal: AbortSignal | undefined): Promise<boolean> {
    while (this.end - this.start < need) {
      if (this.eof) return false;
      signal?.throwIfAborted();
      if (this.beforeRead) await this.beforeRead();
      const offset = this.base + this.start;
      const v = await this.src.next(this.buf.subarray(this.start, this.end));
      if (v === null) {
        this.eof = true;
        continue;
      }
      this.buf = v;
      this.dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
      this.start = 0;
      this.end = v.length;
      this.base = offset;
    }
    return true;
  }

  /** Drop up to n bytes (reading as needed); returns how many were dropped. */
  async discard(n: number, signal: AbortSignal | undefined): Promise<number> {
    let left = n;
    while (left > 0) {
      if (this.available === 0 && !(await this.ensure(1, signal))) break;
      const k = Math.min(left, this.available);
      this.start += k;
      left -= k;
    }
    return n - left;
  }
}

// ---------------------------------------------------------------------------------------------------------

function u16(b: Uint8Array, p: number, le: boolean): number {
  return le ? b[p]! | (b[p + 1]! << 8) : (b[p]! << 8) | b[p + 1]!;
}
function u32(b: Uint8Array, p: number, le: boolean): number {
  return le
    ? (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0
    : ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

function hexStart(b: Uint8Array, n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < Math.min(n, b.length); i++) parts.push(b[i]!.toString(16).padStart(2, '0'));
  return parts.join(' ');
}

interface Iface {
  linkType: number;
  snapLen: number;
  /** tsMs = ticks * tsMul / tsDiv + tsOffsetMs */
  tsMul: number;
  tsDiv: number;
  tsOffsetMs: number;
  resolutionNs: number;
}

/** Timestamp scale for an if_tsresol byte: bit 7 clear = 10^-v s per tick, set = 2^-v s per tick. */
function tsScale(resol: number): { mul: number; div: number; ns: number } {
  const v = resol & 0x7f;
  if ((resol & 0x80) !== 0) return { mul: 1000, div: 2 ** v, ns: 1e9 / 2 ** v };
  return v >= 3 ? { mul: 1, div: 10 ** (v - 3), ns: 10 ** (9 - v) } : { mul: 10 ** (3 - v), div: 1, ns: 10 ** (9 - v) };
}

interface ReaderState {
  path: string;
  stats: CaptureFileStatsExt;
  sink: PacketSink;
  signal: AbortSignal | undefined;
  linkTypeSeen: Set<number>;
  lastTsMs: number;
}

function addLinkType(st: ReaderState, lt: number): void {
  if (!st.linkTypeSeen.has(lt)) {
    st.linkTypeSeen.add(lt);
    st.stats.linkTypes.push(lt);
  }
}

/** One reusable packet object: the sink must not keep it (nor its data) past the call. */
function deliver(st: ReaderState, pkt: CapturedPacket, hasTs: boolean): void {
  const s = st.stats;
  s.packets++;
  s.bytes += pkt.data.length;
  if (pkt.data.length < pkt.origLen) s.snapTruncated++;
  if (hasTs) {
    if (s.firstTsMs === null) s.firstTsMs = pkt.tsMs;
    s.lastTsMs = pkt.tsMs;
    st.lastTsMs = pkt.tsMs;
  }
  st.sink(pkt);
}

function stopCut(st: ReaderState, w: Window): void {
  st.stats.cutShort = { offset: w.offset, afterPackets: st.stats.packets };
}

function stopCorrupt(st: ReaderState, offset: number, reason: string): void {
  st.stats.skippedBlocks++;
  st.stats.corrupt = { offset, afterPackets: st.stats.packets, reason };
}

// ---------------------------------------------------------------------------------------------------------
// Classic pcap

/**
 * Files older than format 2.3 store the original length before the captured length (libpcap swapped the
 * two fields at 2.3, and some 2.3 files still have the old order, recognisable by captured > original).
 */
function lengthsSwapped(minor: number, first: number, second: number): boolean {
  return minor < 3 || (minor === 3 && first > second);
}
function recordCaplen(buf: Uint8Array, p: number, le: boolean, minor: number): number {
  const first = u32(buf, p + 8, le);
  const second = u32(buf, p + 12, le);
  return lengthsSwapped(minor, first, second) ? second : first;
}

async function readPcap(st: ReaderState, w: Window, magicLe: boolean, magic: number): Promise<void> {
  if (!(await w.ensure(24, st.signal))) {
    throw new CaptureFormatError(`${st.path}: pcap file header cut short (${w.available} of 24 bytes)`);
  }
  const b = w.buf;
  const h = w.start;
  const le = magicLe;
  const major = u16(b, h + 4, le);
  if (major !== 2) throw new CaptureFormatError(`${st.path}: unsupported pcap version ${major}.${u16(b, h + 6, le)}`);
  const minor = u16(b, h + 6, le);
  const snapLen = u32(b, h + 16, le);
  const linkType = u32(b, h + 20, le) & 0xffff;
  const nano = magic === PCAP_MAGIC_NS;
  const recHdr = magic === PCAP_MAGIC_MODIFIED ? 24 : 16;
  st.stats.format = 'pcap';
  st.stats.tsResolutionNs = nano ? 1 : 1000;
  addLinkType(st, linkType);
  void snapLen;
  w.start += 24;
  const pkt: CapturedPacket = { tsMs: 0, linkType, data: b, origLen: 0, interfaceId: 0 };
  const fracDiv = nano ? 1e6 : 1e3;
  let n = 0;
  for (;;) {
    // Synchronous inner loop over whatever the window already holds.
    const dv = w.dv;
    for (;;) {
      const avail = w.end - w.start;
      if (avail < recHdr) break;
      const p = w.start;
      const len1 = dv.getUint32(p + 8, le);
      const len2 = dv.getUint32(p + 12, le);
      const swapped = lengthsSwapped(minor, len1, len2);
      const caplen = swapped ? len2 : len1;
      if (caplen > MAX_CAPLEN) {
        stopCorrupt(st, w.offset, `record captured length ${caplen} exceeds ${MAX_CAPLEN}`);
        return;
      }
      if (avail < recHdr + caplen) break;
      pkt.tsMs = dv.getUint32(p, le) * 1000 + dv.getUint32(p + 4, le) / fracDiv;
      pkt.data = w.buf.subarray(p + recHdr, p + recHdr + caplen);
      pkt.origLen = Math.max(swapped ? len1 : len2, caplen);
      w.start = p + recHdr + caplen;
      deliver(st, pkt, true);
      if ((++n & 1023) === 0) st.signal?.throwIfAborted();
    }
    // Need more bytes for the next record.
    const avail = w.available;
    let need = recHdr;
    if (avail >= recHdr) need = recHdr + recordCaplen(w.buf, w.start, le, minor);
    if (!(await w.ensure(need, st.signal))) {
      if (w.available > 0) stopCut(st, w);
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// pcapng

/** The packet of an enhanced (or obsolete) packet block at `p` whose interface and lengths were checked. */
function fillFromPacketBlock(
  pkt: CapturedPacket,
  w: Window,
  p: number,
  le: boolean,
  iface: Iface,
  ifId: number,
  caplen: number,
): void {
  const dv = w.dv;
  const hi = dv.getUint32(p + 12, le);
  const lo = dv.getUint32(p + 16, le);
  pkt.tsMs = ((hi * 4294967296 + lo) * iface.tsMul) / iface.tsDiv + iface.tsOffsetMs;
  pkt.linkType = iface.linkType;
  pkt.interfaceId = ifId;
  pkt.data = w.buf.subarray(p + 28, p + 28 + caplen);
  pkt.origLen = Math.max(dv.getUint32(p + 24, le), caplen);
}

/**
 * Delivers the enhanced packet blocks that lie whole in the window, as long as every check of the general
 * loop in readPcapng passes (it is the same checks, in the same order); stops at the first block that needs
 * more bytes or anything else, leaving it to the general loop. Returns the running packet count.
 */
function enhancedPacketRun(
  st: ReaderState,
  w: Window,
  ifaces: readonly Iface[],
  le: boolean,
  pkt: CapturedPacket,
  count: number,
): number {
  const dv = w.dv;
  let n = count;
  for (;;) {
    const p = w.start;
    const avail = w.end - p;
    if (avail < 32 || dv.getUint32(p, le) !== PCAPNG_EPB) return n;
    const blockLen = dv.getUint32(p + 4, le);
    if (blockLen < 32 || blockLen % 4 !== 0 || blockLen > MAX_BUFFERED_BLOCK || blockLen > avail) return n;
    if (dv.getUint32(p + blockLen - 4, le) !== blockLen) return n;
    const ifId = dv.getUint32(p + 8, le);
    const caplen = dv.getUint32(p + 20, le);
    const iface = ifaces[ifId];
    if (iface === undefined || iface.linkType < 0 || caplen > MAX_CAPLEN || 28 + caplen > blockLen - 4) return n;
    fillFromPacketBlock(pkt, w, p, le, iface, ifId, caplen);
    w.start = p + blockLen;
    deliver(st, pkt, true);
    n++;
    if ((n & 1023) === 0) return n; // back to the general loop now and then, which checks for an abort
  }
}

async function readPcapng(st: ReaderState, w: Window): Promise<void> {
  st.stats.format = 'pcapng';
  let le = true;
  let ifaces: Iface[] = [];
  let first = true;
  const pkt: CapturedPacket = { tsMs: 0, linkType: 0, data: w.buf, origLen: 0, interfaceId: 0 };
  let n = 0;

  for (;;) {
    // The common case — enhanced packet blocks, whole in the window, well-formed — in a small synchronous
    // loop; anything else (other blocks, bad lengths, a block cut by the window's end) goes the general way.
    if (!first) {
      n = enhancedPacketRun(st, w, ifaces, le, pkt, n);
      if ((n & 1023) === 0) st.signal?.throwIfAborted();
    }
    // Await only when the window lacks the bytes: a promise per block would dominate the cost of small packets.
    if (w.end - w.start < 12 && !(await w.ensure(12, st.signal))) {
      if (first) {
        throw new CaptureFormatError(`${st.path}: pcapng section header cut short (${w.available} bytes)`);
      }
      if (w.available > 0) stopCut(st, w);
      return;
    }
    let b = w.buf;
    let p = w.start;
    const type = u32(b, p, le);
    if (type === PCAPNG_SHB) {
      const bom = u32(b, p + 8, true);
      if (bom === PCAPNG_BOM) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else {
        if (first) throw new CaptureFormatError(`${st.path}: pcapng section header has a bad byte-order magic`);
        stopCorrupt(st, w.offset, 'section header with a bad byte-order magic');
        return;
      }
    } else if (first) {
      throw new CaptureFormatError(`${st.path}: pcapng file does not start with a section header`);
    }
    const blockLen = u32(b, p + 4, le);
    if (blockLen < 12 || blockLen % 4 !== 0 || blockLen > MAX_BLOCK || (type === PCAPNG_SHB && blockLen < 28)) {
      if (first) throw new CaptureFormatError(`${st.path}: pcapng section header has a bad length ${blockLen}`);
      stopCorrupt(st, w.offset, `block of type 0x${type.toString(16)} has a bad total length ${blockLen}`);
      return;
    }
    const interesting =
      type === PCAPNG_SHB || type === PCAPNG_IDB || type === PCAPNG_EPB || type === PCAPNG_SPB || type === PCAPNG_OPB;
    const blockOffset = w.offset;
    if (!interesting || blockLen > MAX_BUFFERED_BLOCK) {
      // Unknown or uninteresting block (ISB, NRB, DSB, custom...): stream past it, then check the trailer.
      if (interesting) st.stats.skippedBlocks++;
      w.start += 8;
      const dropped = await w.discard(blockLen - 12, st.signal);
      if (dropped < blockLen - 12 || !(await w.ensure(4, st.signal))) {
        st.stats.cutShort = { offset: blockOffset, afterPackets: st.stats.packets };
        return;
      }
      if (u32(w.buf, w.start, le) !== blockLen) {
        stopCorrupt(st, blockOffset, `block trailer length does not match ${blockLen}`);
        return;
      }
      w.start += 4;
      continue;
    }
    if (w.end - w.start < blockLen && !(await w.ensure(blockLen, st.signal))) {
      if (first) throw new CaptureFormatError(`${st.path}: pcapng section header cut short`);
      st.stats.cutShort = { offset: blockOffset, afterPackets: st.stats.packets };
      return;
    }
    b = w.buf;
    p = w.start;
    if (u32(b, p + blockLen - 4, le) !== blockLen) {
      if (first) throw new CaptureFormatError(`${st.path}: pcapng section header trailer does not match its length`);
      stopCorrupt(st, blockOffset, `block trailer length does not match ${blockLen}`);
      return;
    }
    const bodyEnd = p + blockLen - 4;
    switch (type) {
      case PCAPNG_SHB: {
        const major = u16(b, p + 12, le);
        if (major !== 1) {
          if (first) throw new CaptureFormatError(`${st.path}: unsupported pcapng version ${major}`);
          stopCorrupt(st, blockOffset, `section of unsupported pcapng version ${major}`);
          return;
        }
        first = false;
        ifaces = [];
        st.stats.sections++;
        break;
      }
      case PCAPNG_IDB: {
        if (blockLen < 20) {
          st.stats.skippedBlocks++;
          // The interface still takes an index, so later packet blocks keep pointing at the right one.
          ifaces.push({ linkType: -1, snapLen: 0, tsMul: 1, tsDiv: 1000, tsOffsetMs: 0, resolutionNs: 1000 });
          break;
        }
        const iface: Iface = {
          linkType: u16(b, p + 8, le),
          snapLen: u32(b, p + 12, le),
          tsMul: 1,
          tsDiv: 1000,
          tsOffsetMs: 0,
          resolutionNs: 1000,
        };
        // Options: code(2) length(2) value padded to 4 bytes.
        let o = p + 16;
        while (o + 4 <= bodyEnd) {
          const code = u16(b, o, le);
          const len = u16(b, o + 2, le);
          if (code === 0) break;
          const v = o + 4;
          if (v + len > bodyEnd) break;
          if (code === 9 && len >= 1) {
            const s = tsScale(b[v]!);
            iface.tsMul = s.mul;
            iface.tsDiv = s.div;
            iface.resolutionNs = s.ns;
          } else if (code === 14 && len >= 8) {
            const hi = u32(b, le ? v + 4 : v, le);
            const lo = u32(b, le ? v : v + 4, le);
            iface.tsOffsetMs = ((hi | 0) * 4294967296 + lo) * 1000;
          }
          o = v + ((len + 3) & ~3);
        }
        ifaces.push(iface);
        addLinkType(st, iface.linkType);
        if (st.stats.tsResolutionNs === null) st.stats.tsResolutionNs = iface.resolutionNs;
        break;
      }
      case PCAPNG_EPB:
      case PCAPNG_OPB: {
        if (blockLen < 32) {
          st.stats.skippedBlocks++;
          break;
        }
        const ifId = type === PCAPNG_EPB ? u32(b, p + 8, le) : u16(b, p + 8, le);
        const caplen = u32(b, p + 20, le);
        const iface = ifaces[ifId];
        if (iface === undefined || iface.linkType < 0 || caplen > MAX_CAPLEN || p + 28 + caplen > bodyEnd) {
          st.stats.skippedBlocks++;
          break;
        }
        fillFromPacketBlock(pkt, w, p, le, iface, ifId, caplen);
        w.start = p + blockLen;
        deliver(st, pkt, true);
        if ((++n & 1023) === 0) st.signal?.throwIfAborted();
        continue;
      }
      case PCAPNG_SPB: {
        const iface = ifaces[0];
        if (blockLen < 16 || iface === undefined || iface.linkType < 0) {
          st.stats.skippedBlocks++;
          break;
        }
        const orig = u32(b, p + 8, le);
        let caplen = Math.min(orig, blockLen - 16);
        if (iface.snapLen !== 0 && caplen > iface.snapLen) caplen = iface.snapLen;
        if (caplen > MAX_CAPLEN) {
          st.stats.skippedBlocks++;
          break;
        }
        // A simple packet block has no timestamp: it keeps the previous packet's time (not counted in first/last).
        pkt.tsMs = st.lastTsMs;
        pkt.linkType = iface.linkType;
        pkt.interfaceId = 0;
        pkt.data = b.subarray(p + 12, p + 12 + caplen);
        pkt.origLen = Math.max(orig, caplen);
        w.start = p + blockLen;
        deliver(st, pkt, false);
        continue;
      }
    }
    w.start = p + blockLen;
  }
}

// ---------------------------------------------------------------------------------------------------------

function newStats(path: string): CaptureFileStatsExt {
  return {
    path,
    format: 'pcap',
    compressed: false,
    packets: 0,
    bytes: 0,
    snapTruncated: 0,
    linkTypes: [],
    firstTsMs: null,
    lastTsMs: null,
    cutShort: null,
    skippedBlocks: 0,
    corrupt: null,
    sections: 0,
    tsResolutionNs: null,
  };
}

async function openFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new CaptureFormatError(`${path}: cannot read file (${code})`);
  }
}

/** Read the stream's magic and hand over to the pcap or pcapng reader. */
async function readStream(st: ReaderState, w: Window, gz: GzipSource | null): Promise<void> {
  const what = gz === null ? 'file' : 'gzip-compressed file';
  if (!(await w.ensure(4, st.signal))) {
    if (gz?.error) throw new CaptureFormatError(`${st.path}: gzip data is corrupt (${gz.error.message})`);
    if (w.available === 0) throw new CaptureFormatError(`${st.path}: empty ${what}, not a capture`);
    throw new CaptureFormatError(`${st.path}: ${what} too short to be a capture (${w.available} bytes)`);
  }
  const b = w.buf;
  const magicLe = u32(b, w.start, true);
  const magicBe = u32(b, w.start, false);
  if (magicBe === PCAPNG_SHB) {
    await readPcapng(st, w);
  } else if (magicBe === PCAP_MAGIC_US || magicBe === PCAP_MAGIC_NS || magicBe === PCAP_MAGIC_MODIFIED) {
    await readPcap(st, w, false, magicBe);
  } else if (magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS || magicLe === PCAP_MAGIC_MODIFIED) {
    await readPcap(st, w, true, magicLe);
  } else {
    throw new CaptureFormatError(
      `${st.path}: not a pcap or pcapng capture${gz === null ? '' : ' inside gzip'} (starts with ${hexStart(b.subarray(w.start), 4)})`,
    );
  }
  // Compressed data that ends early or breaks looks like a file cut short at the last good byte.
  if (gz?.error && st.stats.cutShort === null && st.stats.corrupt === null) {
    st.stats.cutShort = { offset: w.offset, afterPackets: st.stats.packets };
  }
}

/**
 * Read a pcap/pcapng file (optionally gzip-compressed) and call sink for every packet, in file order.
 * The CapturedPacket object and its data are reused: copy what you keep. Throws CaptureFormatError when
 * the file is not a capture (or cannot be opened); the sink's own exceptions and an abort propagate.
 */
export async function readCaptureFile(
  path: string,
  sink: PacketSink,
  opts: ReadCaptureOptions = {},
): Promise<CaptureFileStatsExt> {
  const chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK_SIZE));
  const st: ReaderState = {
    path,
    stats: newStats(path),
    sink,
    signal: opts.signal,
    linkTypeSeen: new Set(),
    lastTsMs: 0,
  };
  opts.signal?.throwIfAborted();
  const fh = await openFile(path);
  let src: ByteSource = new FileSource(fh, chunkSize);
  let gz: GzipSource | null = null;
  try {
    const head = new Uint8Array(2);
    let got = 0;
    try {
      got = (await fh.read(head, 0, 2, 0)).bytesRead;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new CaptureFormatError(`${path}: cannot read file (${code})`);
    }
    if (got === 2 && head[0] === 0x1f && head[1] === 0x8b) {
      await fh.close();
      gz = new GzipSource(path, chunkSize);
      src = gz;
      st.stats.compressed = true;
    }
    const w = new Window(src, opts.beforeRead);
    await readStream(st, w, gz);
    return st.stats;
  } finally {
    await src.close().catch(() => undefined);
  }
}
