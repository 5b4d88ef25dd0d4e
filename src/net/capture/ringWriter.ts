/**
 * Optional rotating pcap ring buffer on disk (off by default): every packet the agent accepts is also written
 * to classic pcap files (the packet's link type, microsecond timestamps) in a 0700 directory under the data
 * dir, files 0600. A file is closed when the next record would take it past `fileBytes`, and the oldest files
 * beyond `files` are deleted, so the ring never holds more than `files × fileBytes` bytes.
 *
 * It never blocks or crashes the capture path: `write()` is synchronous, copies the record into a memory
 * buffer and returns; buffers are written by one asynchronous loop (libuv's thread pool, so a slow SD card
 * stalls the loop, not the event loop). When the backlog of unwritten bytes is full, or after a disk error
 * (read-only, full, removed directory), packets are dropped and counted, and the error is kept for status;
 * after `retryMs` a new file is tried.
 */
import { chmod, type FileHandle, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_CAPLEN } from './pcapFile.js';
import type { CapturedPacket } from './types.js';

export interface RingWriterOptions {
  /** Directory of the ring (created 0700). */
  dir: string;
  /** A file is rotated before it would grow past this many bytes. */
  fileBytes: number;
  /** At most this many files are kept (the oldest is deleted first). */
  files: number;
  /** Bytes gathered in memory before a write is handed to the disk. Default 256 KiB. */
  chunkBytes?: number;
  /** Bytes accepted but not yet on disk, at most; more packets are dropped (counted). Default 8 MiB. */
  maxPendingBytes?: number;
  /** A partly filled chunk is written after this long. Default 1000 ms. */
  flushIntervalMs?: number;
  /** After a disk error, packets are dropped for this long, then a new file is tried. Default 10 s. */
  retryMs?: number;
  /** Wall clock for file names and the retry timer (tests). */
  now?: () => number;
}

export type RingState = 'stopped' | 'writing' | 'error';

export interface RingWriterStatus {
  dir: string;
  state: RingState;
  fileBytes: number;
  maxFiles: number;
  /** The file being written, or null. */
  currentFile: string | null;
  /** Ring files on disk now and their total size (as written by this process, plus what it found at start). */
  files: number;
  bytesOnDisk: number;
  /** Packets and record bytes (headers included) that reached the disk. */
  packetsWritten: number;
  bytesWritten: number;
  /** Files closed because they were full. */
  rotations: number;
  /** Old files deleted to keep `maxFiles`. */
  deleted: number;
  /** Packets not written: backlog full, after a disk error, or lost in a failed write. */
  dropped: number;
  /** Bytes waiting in memory for the disk. */
  pendingBytes: number;
  errors: number;
  lastError: string | null;
  lastErrorAt: number | null;
}

const FILE_RE = /^bandguard-(\d{8})-\d{8}T\d{6}Z\.pcap$/;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

type Op = { k: 'open'; path: string; linkType: number } | { k: 'write'; buf: Buffer; packets: number } | { k: 'close' };

/** The 24-byte classic pcap header: little-endian magic, version 2.4, microsecond timestamps. */
export function pcapGlobalHeader(linkType: number, snapLen = MAX_CAPLEN): Buffer {
  const h = Buffer.alloc(GLOBAL_HEADER);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeInt32LE(0, 8); // thiszone
  h.writeUInt32LE(0, 12); // sigfigs
  h.writeUInt32LE(snapLen, 16);
  h.writeUInt32LE(linkType >>> 0, 20);
  return h;
}

function stamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function describe(op: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return `${op}: ${err?.code ? `${err.code} ` : ''}${err instanceof Error ? err.message : String(e)}`.slice(0, 300);
}

export class RingWriter {
  private readonly dir: string;
  private readonly fileBytes: number;
  private readonly maxFiles: number;
  private readonly chunkBytes: number;
  private readonly maxPending: number;
  private readonly retryMs: number;
  private readonly now: () => number;
  private readonly flushIntervalMs: number;

  private state: RingState = 'stopped';
  private seq = 0;
  /** The file the synchronous side is filling (its ops may not have reached the disk yet). */
  private fileLinkType: number | null = null;
  private fileSize = 0;
  private chunk: Buffer;
  private chunkUsed = 0;
  private chunkPackets = 0;
  private ops: Op[] = [];
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private retryAt = 0;
  private handle: FileHandle | null = null;
  private currentPath: string | null = null;
  /** Ring files on disk, oldest first, with their sizes. */
  private readonly onDisk: { path: string; size: number }[] = [];
  private readonly st = {
    packetsWritten: 0,
    bytesWritten: 0,
    rotations: 0,
    deleted: 0,
    dropped: 0,
    pendingBytes: 0,
    errors: 0,
    lastError: null as string | null,
    lastErrorAt: null as number | null,
  };

  constructor(opts: RingWriterOptions) {
    if (!(opts.fileBytes > GLOBAL_HEADER)) throw new RangeError('ring buffer files must be larger than 24 bytes');
    if (!(Number.isInteger(opts.files) && opts.files >= 1)) throw new RangeError('ring buffer needs at least 1 file');
    this.dir = opts.dir;
    this.fileBytes = opts.fileBytes;
    this.maxFiles = opts.files;
    this.chunkBytes = Math.max(4096, opts.chunkBytes ?? 256 * 1024);
    this.maxPending = Math.max(this.chunkBytes, opts.maxPendingBytes ?? 8 << 20);
    this.retryMs = opts.retryMs ?? 10_000;
    this.flushIntervalMs = opts.flushIntervalMs ?? 1_000;
    this.now = opts.now ?? Date.now;
    this.chunk = Buffer.allocUnsafe(this.chunkBytes);
  }

  /**
   * Creates the directory (0700), takes up the numbering of the files already there and deletes the oldest
   * beyond the limit. Never throws: a failure is counted, and writing is retried later.
   */
  async start(): Promise<void> {
    this.state = 'writing';
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await chmod(this.dir, 0o700);
      const found: { path: string; seq: number; size: number }[] = [];
      for (const name of await readdir(this.dir)) {
        const m = FILE_RE.exec(name);
        if (!m) continue;
        const path = join(this.dir, name);
        const s = await stat(path).catch(() => null);
        if (s?.isFile()) found.push({ path, seq: Number(m[1]), size: s.size });
      }
      found.sort((a, b) => a.seq - b.seq);
      for (const f of found) this.onDisk.push({ path: f.path, size: f.size });
      this.seq = found.at(-1)?.seq ?? 0;
      // Room for the file this run opens first.
      await this.prune(this.maxFiles - 1);
    } catch (e) {
      this.fail(describe('start', e));
    }
    if (this.flushIntervalMs > 0) {
      this.timer = setInterval(() => this.flushChunk(), this.flushIntervalMs);
      this.timer.unref?.();
    }
  }

  /** Copies one packet into the ring. Synchronous, never throws, never waits. */
  write(p: CapturedPacket): void {
    if (this.state === 'stopped') return;
    if (this.state === 'error') {
      if (this.now() < this.retryAt) {
        this.st.dropped++;
        return;
      }
      this.state = 'writing';
      this.fileLinkType = null; // start a new file
    }
    try {
      const caplen = Math.min(p.data.length, MAX_CAPLEN);
      const rec = RECORD_HEADER + caplen;
      if (this.st.pendingBytes + rec + GLOBAL_HEADER > this.maxPending) {
        this.st.dropped++;
        return;
      }
      if (this.fileLinkType !== p.linkType || (this.fileSize + rec > this.fileBytes && this.fileSize > GLOBAL_HEADER)) {
        this.rotate(p.linkType);
      }
      if (this.chunkUsed + rec > this.chunk.length) {
        this.flushChunk();
        if (rec > this.chunk.length) this.chunk = Buffer.allocUnsafe(rec);
      }
      const b = this.chunk;
      let o = this.chunkUsed;
      const ts = Number.isFinite(p.tsMs) && p.tsMs > 0 ? p.tsMs : 0;
      let sec = Math.floor(ts / 1000);
      let usec = Math.round((ts - sec * 1000) * 1000);
      if (usec >= 1_000_000) {
        sec++;
        usec -= 1_000_000;
      }
      b.writeUInt32LE(Math.min(sec, 0xffffffff) >>> 0, o);
      b.writeUInt32LE(usec, o + 4);
      b.writeUInt32LE(caplen, o + 8);
      b.writeUInt32LE(Math.max(p.origLen, caplen) >>> 0, o + 12);
      o += RECORD_HEADER;
      b.set(caplen === p.data.length ? p.data : p.data.subarray(0, caplen), o);
      this.chunkUsed = o + caplen;
      this.chunkPackets++;
      this.fileSize += rec;
      this.st.pendingBytes += rec;
    } catch (e) {
      this.st.dropped++;
      this.fail(describe('write', e));
    }
  }

  /** Closes the file being written (its pending bytes written first) and begins a new one. */
  private rotate(linkType: number): void {
    if (this.fileLinkType !== null) {
      this.flushChunk();
      this.ops.push({ k: 'close' });
      this.st.rotations++;
    }
    this.seq++;
    const path = join(this.dir, `bandguard-${String(this.seq).padStart(8, '0')}-${stamp(this.now())}.pcap`);
    this.ops.push({ k: 'open', path, linkType });
    this.fileLinkType = linkType;
    this.fileSize = GLOBAL_HEADER;
    this.st.pendingBytes += GLOBAL_HEADER;
    this.kick();
  }

  /** Hands the gathered records to the disk loop. */
  flushChunk(): void {
    if (this.chunkUsed === 0) return;
    // The chunk is handed over as is; a fresh one takes its place (the loop owns the old one).
    this.ops.push({ k: 'write', buf: this.chunk.subarray(0, this.chunkUsed), packets: this.chunkPackets });
    this.chunk = Buffer.allocUnsafe(this.chunkBytes);
    this.chunkUsed = 0;
    this.chunkPackets = 0;
    this.kick();
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.loop().finally(() => {
      this.running = null;
      if (this.ops.length > 0) this.kick();
    });
  }

  private async loop(): Promise<void> {
    for (let op = this.ops.shift(); op; op = this.ops.shift()) {
      try {
        if (op.k === 'open') {
          await this.closeHandle();
          await mkdir(this.dir, { recursive: true, mode: 0o700 });
          this.handle = await open(op.path, 'wx', 0o600);
          this.currentPath = op.path;
          this.onDisk.push({ path: op.path, size: 0 });
          await this.prune(this.maxFiles);
          await this.writeAll(pcapGlobalHeader(op.linkType));
          this.st.pendingBytes -= GLOBAL_HEADER;
        } else if (op.k === 'write') {
          if (!this.handle) throw new Error('no open file');
          await this.writeAll(op.buf);
          this.st.pendingBytes -= op.buf.length;
          this.st.packetsWritten += op.packets;
        } else {
          await this.closeHandle();
        }
      } catch (e) {
        this.fail(describe(op.k === 'open' ? `open ${op.path}` : op.k, e));
        if (op.k === 'write') {
          this.st.dropped += op.packets;
          this.st.pendingBytes -= op.buf.length;
        } else if (op.k === 'open') this.st.pendingBytes -= GLOBAL_HEADER;
        await this.closeHandle().catch(() => undefined);
        this.discardQueued();
      }
    }
  }

  private async writeAll(buf: Buffer): Promise<void> {
    const h = this.handle!;
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await h.write(buf, off, buf.length - off);
      if (bytesWritten <= 0) throw new Error('the disk took no bytes');
      off += bytesWritten;
      this.st.bytesWritten += bytesWritten;
      const last = this.onDisk.at(-1);
      if (last) last.size += bytesWritten;
    }
  }

  private async closeHandle(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    this.currentPath = null;
    if (h) await h.close();
  }

  /** Deletes the oldest files until at most `keep` are left. */
  private async prune(keep: number): Promise<void> {
    while (this.onDisk.length > Math.max(0, keep)) {
      const old = this.onDisk[0]!;
      if (old.path === this.currentPath) return;
      try {
        await unlink(old.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      this.onDisk.shift();
      this.st.deleted++;
    }
  }

  /** After a disk error: what is queued for the disk is dropped (counted), and the sync side pauses. */
  private discardQueued(): void {
    for (const op of this.ops.splice(0)) {
      if (op.k === 'write') {
        this.st.dropped += op.packets;
        this.st.pendingBytes -= op.buf.length;
      } else if (op.k === 'open') this.st.pendingBytes -= GLOBAL_HEADER;
    }
    this.st.dropped += this.chunkPackets;
    this.st.pendingBytes -= this.chunkUsed;
    this.chunkUsed = 0;
    this.chunkPackets = 0;
    this.fileLinkType = null;
    this.fileSize = 0;
  }

  private fail(message: string): void {
    this.st.errors++;
    this.st.lastError = message;
    this.st.lastErrorAt = this.now();
    if (this.state !== 'stopped') this.state = 'error';
    this.retryAt = this.now() + this.retryMs;
  }

  /** Writes what is buffered, closes the file and stops taking packets. Never throws. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.state === 'writing' && this.fileLinkType !== null) {
      this.flushChunk();
      this.ops.push({ k: 'close' });
      this.kick();
    }
    this.state = 'stopped';
    while (this.running) await this.running;
    await this.closeHandle().catch(() => undefined);
  }

  /** Resolves when everything handed over so far has reached the disk (tests, status). */
  async settle(): Promise<void> {
    this.flushChunk();
    while (this.running) await this.running;
  }

  status(): RingWriterStatus {
    return {
      dir: this.dir,
      state: this.state,
      fileBytes: this.fileBytes,
      maxFiles: this.maxFiles,
      currentFile: this.currentPath,
      files: this.onDisk.length,
      bytesOnDisk: this.onDisk.reduce((n, f) => n + f.size, 0),
      ...this.st,
    };
  }
}
