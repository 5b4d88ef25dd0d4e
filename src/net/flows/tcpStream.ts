/**
 * One direction of a TCP connection, reassembled into an in-order byte prefix with hard bounds.
 *
 * Used for the first bytes of a connection (TLS ClientHello, HTTP request heads and bodies, DNS over TCP).
 * Sequence numbers are mapped to stream offsets (numbers counted from the first byte: ISN+1 with a SYN, else
 * the first sequence number seen), so 32-bit wraparound is handled once, on arrival.
 *
 * Policies:
 * - First arrival wins on overlaps; differing overlapping bytes are counted as conflicts.
 * - Out-of-order segments wait in a bounded pending list (count and bytes); beyond the limits they are dropped.
 * - At most `cap` unconsumed bytes are held; bytes beyond that are dropped (and counted), which leaves a gap.
 * - A gap (missing segment) stalls the stream; `hasGap`/`gapAge` tell the caller, and `skipGap()` jumps it.
 * - Without a SYN, an earlier segment that touches the start is prepended while nothing has been consumed.
 * - With flags given to `push`, a 1–2 byte segment without PSH (a keep-alive probe or a "pure ACK" carrying
 *   padding) is held back until the next segment shows whether it is real data (see research dpi.md about
 *   nDPI's heuristic_tcp_ack_payload capture).
 *
 * Everything kept is copied: callers may reuse their packet buffers. No I/O, no clock.
 */

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_PSH = 0x08;

export interface TcpStreamOptions {
  /** Maximum unconsumed in-order bytes kept (e.g. 16384 for handshakes). */
  cap: number;
  /** Maximum out-of-order segments waiting for a gap to fill (default 64). */
  maxPendingSegments?: number;
  /** Maximum bytes in waiting out-of-order segments (default `cap`). */
  maxPendingBytes?: number;
  /** Without a SYN: how far before the first byte an earlier segment may start and still be prepended. */
  prependWindow?: number;
}

export interface TcpStreamStats {
  /** Segments pushed with a payload. */
  segments: number;
  /** Payload bytes pushed. */
  bytes: number;
  /** Bytes of segments that lay entirely in already-received data. */
  retransmittedBytes: number;
  /** Bytes of segments that partly overlapped received or waiting data. */
  overlapBytes: number;
  /** Overlapping bytes whose value differed from the first arrival (kept: first arrival wins). */
  conflictBytes: number;
  /** Segments that arrived ahead of a gap. */
  outOfOrderSegments: number;
  /** Gaps jumped with skipGap(), and the bytes missing in them. */
  gaps: number;
  gapBytes: number;
  /** Bytes dropped because they lay beyond the cap. */
  droppedBytes: number;
  /** Out-of-order segments dropped because the pending list was full. */
  pendingDroppedSegments: number;
  /** Small no-PSH segments recognised as keep-alives / ACK padding and ignored. */
  keepalives: number;
  /** Bytes before the stream's first byte that could not be placed. */
  beforeStartBytes: number;
  /** Unconsumed bytes thrown away by skipGap(). */
  discardedBytes: number;
}

interface Pending {
  off: number;
  data: Uint8Array;
}

function newStats(): TcpStreamStats {
  return {
    segments: 0,
    bytes: 0,
    retransmittedBytes: 0,
    overlapBytes: 0,
    conflictBytes: 0,
    outOfOrderSegments: 0,
    gaps: 0,
    gapBytes: 0,
    droppedBytes: 0,
    pendingDroppedSegments: 0,
    keepalives: 0,
    beforeStartBytes: 0,
    discardedBytes: 0,
  };
}

export class TcpStream {
  readonly stats: TcpStreamStats = newStats();
  private readonly cap: number;
  private readonly maxPendingSegments: number;
  private readonly maxPendingBytes: number;
  private readonly prependWindow: number;

  private started = false;
  private synSeen = false;
  private consumedAny = false;
  /** Sequence number of the byte at stream offset `nextOff`. */
  private nextSeq = 0;
  /** Stream offset of the first unconsumed byte and of the byte after the contiguous prefix. */
  private readOff = 0;
  private nextOff = 0;
  private buf: Uint8Array;
  private bufStart = 0;
  private bufEnd = 0;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  private tentative: Uint8Array | null = null;
  private segmentsSinceGap = 0;
  private overflowed = false;
  /** Bytes still to be skipped (consumed by the caller before they arrived). */
  private skipAhead = 0;

  constructor(options: TcpStreamOptions) {
    const cap = Math.floor(options.cap);
    if (!(cap > 0)) throw new RangeError('TcpStream cap must be positive');
    this.cap = cap;
    this.maxPendingSegments = Math.max(0, options.maxPendingSegments ?? 64);
    this.maxPendingBytes = Math.max(0, options.maxPendingBytes ?? cap);
    this.prependWindow = Math.max(0, options.prependWindow ?? 65536);
    this.buf = new Uint8Array(Math.min(cap, 2048));
  }

  /** Stream offset of the first byte of `contiguous()` (bytes consumed or skipped so far). */
  get offset(): number {
    return this.readOff;
  }
  /** Bytes that `consume` asked to skip and that have not arrived yet. */
  get pendingSkip(): number {
    return this.skipAhead;
  }
  /** Number of bytes in `contiguous()`. */
  get available(): number {
    return this.bufEnd - this.bufStart;
  }
  /** Out-of-order data waits behind a missing segment. */
  get hasGap(): boolean {
    return this.pending.length > 0;
  }
  /** Segments pushed since the current gap appeared (0 without a gap). */
  get gapAge(): number {
    return this.pending.length > 0 ? this.segmentsSinceGap : 0;
  }
  /** Bytes were dropped because the cap was reached. */
  get truncated(): boolean {
    return this.overflowed;
  }
  /** The buffer holds `cap` unconsumed bytes: nothing more can be appended until the caller consumes. */
  get full(): boolean {
    return this.bufEnd - this.bufStart >= this.cap;
  }
  /** Whether any byte or a SYN has been seen. */
  get isStarted(): boolean {
    return this.started;
  }
  /** Sequence number expected next (valid once started). */
  get nextSequence(): number {
    return this.nextSeq;
  }

  /** The in-order bytes received and not yet consumed. A view: valid until the next push/consume/skipGap. */
  contiguous(): Uint8Array {
    return this.buf.subarray(this.bufStart, this.bufEnd);
  }

  /**
   * Drop the first n bytes of `contiguous()` (e.g. after parsing one HTTP request or DNS message). When n is
   * larger than what is available, the rest is skipped as it arrives (a large body the caller does not keep).
   */
  consume(n: number): void {
    if (!(n > 0)) return;
    const want = Math.floor(n);
    const k = Math.min(want, this.bufEnd - this.bufStart);
    this.skipAhead += want - k;
    if (want > 0) this.consumedAny = true;
    if (k === 0) {
      if (this.skipAhead > 0 && this.pending.length > 0) this.drainPending();
      return;
    }
    this.readOff += k;
    this.bufStart += k;
    if (this.bufStart === this.bufEnd) this.bufStart = this.bufEnd = 0;
    if (this.pending.length > 0) this.drainPending();
  }

  /** A SYN (or SYN-ACK) with this initial sequence number: data starts at isn + 1. */
  onSyn(isn: number): void {
    const first = (isn + 1) >>> 0;
    if (!this.started || (this.nextOff === 0 && this.pending.length === 0 && this.tentative === null)) {
      this.started = true;
      this.synSeen = true;
      this.nextSeq = first;
      return;
    }
    if (this.synSeen || this.consumedAny) return;
    // Data was seen before the SYN (capture reordering): re-base if the SYN lies shortly before it.
    const baseSeq = (this.nextSeq - this.nextOff) >>> 0;
    const back = (baseSeq - first) | 0;
    this.synSeen = true;
    if (back <= 0 || back > this.prependWindow) return;
    this.rebase(back);
    this.nextSeq = first;
    this.nextOff = 0;
    this.readOff = 0;
    // Everything received so far now waits behind the gap [0, back).
    const held = this.bufEnd - this.bufStart;
    if (held > 0) {
      const data = this.buf.slice(this.bufStart, this.bufEnd);
      this.bufStart = this.bufEnd = 0;
      this.pending.unshift({ off: back, data });
      this.pendingBytes += held;
    }
    if (this.tentative !== null) this.tentative = null;
  }

  /**
   * One segment's payload. `flags` (TCP flags byte) is optional; when given, tiny no-PSH segments are treated
   * as possible keep-alives (see the module comment). The payload is copied if kept.
   */
  push(seq: number, payload: Uint8Array, flags?: number): void {
    const len = payload.length;
    if (len === 0) return;
    this.stats.segments++;
    this.stats.bytes += len;
    const small = flags !== undefined && len <= 2 && (flags & (TCP_PSH | TCP_SYN | TCP_FIN)) === 0;
    if (!this.started) {
      if (small) {
        // Mid-stream capture starting on a keep-alive: do not anchor the stream on its garbage byte.
        this.stats.keepalives++;
        return;
      }
      this.started = true;
      this.nextSeq = seq >>> 0;
    }
    let off = this.nextOff + ((seq - this.nextSeq) | 0);

    if (this.tentative !== null) {
      const t = this.tentative;
      this.tentative = null;
      if (off === this.nextOff) {
        // Real data at the same sequence number: the held bytes were a keep-alive / padding.
        this.stats.keepalives++;
      } else if (off > this.nextOff) {
        // Data after it: the held bytes were real.
        this.appendInOrder(t, 0);
        off = this.nextOff + ((seq - this.nextSeq) | 0);
      } else {
        this.tentative = t; // older data (a retransmission) says nothing about it
      }
    }

    const end = off + len;
    if (off < 0 && !this.synSeen && !this.consumedAny && this.stats.gaps === 0) {
      // Earlier than the first byte seen, no SYN: prepend when it reaches the start.
      if (end >= 0 && -off <= this.prependWindow && !small) {
        this.prepend(payload, off);
      } else {
        this.stats.beforeStartBytes += len;
      }
      return;
    }
    if (end <= this.nextOff) {
      if (small) this.stats.keepalives++;
      else {
        this.stats.retransmittedBytes += len;
        this.compareBuffered(payload, off, off, end);
      }
      return;
    }
    let start = 0;
    if (off < this.nextOff) {
      start = this.nextOff - off;
      this.stats.overlapBytes += start;
      this.compareBuffered(payload, off, off, this.nextOff);
      off = this.nextOff;
    }
    if (off === this.nextOff) {
      if (small && start === 0 && this.pending.length === 0) {
        this.tentative = payload.slice();
        return;
      }
      this.appendInOrder(payload, start);
      this.drainPending();
    } else {
      this.stats.outOfOrderSegments++;
      this.insertPending(payload, off - start, start);
    }
    if (this.pending.length > 0) this.segmentsSinceGap++;
    else this.segmentsSinceGap = 0;
  }

  /**
   * Give up on the missing bytes before the first waiting segment: unconsumed bytes are discarded (the caller
   * resynchronises on fresh data) and the stream continues at that segment. Returns the missing byte count.
   */
  skipGap(): number {
    const first = this.pending[0];
    if (first === undefined) return 0;
    const missing = first.off - this.nextOff;
    this.stats.gaps++;
    this.stats.gapBytes += missing;
    this.stats.discardedBytes += this.bufEnd - this.bufStart;
    this.bufStart = this.bufEnd = 0;
    this.tentative = null;
    this.skipAhead = 0;
    this.consumedAny = true;
    this.nextSeq = (this.nextSeq + missing) >>> 0;
    this.nextOff = first.off;
    this.readOff = first.off;
    this.drainPending();
    this.segmentsSinceGap = 0;
    return missing;
  }

  // --- internals -------------------------------------------------------------------------------------------

  /** Count overlapping bytes of payload[off..] against the buffered copy of [from, to). */
  private compareBuffered(payload: Uint8Array, off: number, from: number, to: number): void {
    const a = Math.max(from, this.readOff);
    const b = Math.min(to, this.nextOff);
    if (a >= b) return;
    const buf = this.buf;
    const bo = this.bufStart + (a - this.readOff);
    const po = a - off;
    let conflicts = 0;
    for (let i = 0; i < b - a; i++) if (buf[bo + i] !== payload[po + i]) conflicts++;
    this.stats.conflictBytes += conflicts;
  }

  private ensureRoom(extra: number): void {
    const used = this.bufEnd - this.bufStart;
    if (this.bufEnd + extra <= this.buf.length) return;
    if (used + extra <= this.buf.length) {
      this.buf.copyWithin(0, this.bufStart, this.bufEnd);
    } else {
      let size = this.buf.length * 2;
      while (size < used + extra) size *= 2;
      const next = new Uint8Array(Math.min(size, this.cap));
      next.set(this.buf.subarray(this.bufStart, this.bufEnd));
      this.buf = next;
    }
    this.bufStart = 0;
    this.bufEnd = used;
  }

  /** Append payload[start..] at nextOff, clipped to the cap. */
  private appendInOrder(payload: Uint8Array, from: number): void {
    let start = from;
    if (this.skipAhead > 0 && start < payload.length) {
      // Skipped bytes advance the stream without being stored (the buffer is empty while skipping).
      const k = Math.min(this.skipAhead, payload.length - start);
      this.skipAhead -= k;
      this.readOff += k;
      this.nextOff += k;
      this.nextSeq = (this.nextSeq + k) >>> 0;
      start += k;
    }
    const want = payload.length - start;
    const room = this.cap - (this.bufEnd - this.bufStart);
    const take = Math.min(want, room);
    if (take < want) {
      this.stats.droppedBytes += want - take;
      this.overflowed = true;
    }
    if (take <= 0) return;
    this.ensureRoom(take);
    this.buf.set(start === 0 && take === payload.length ? payload : payload.subarray(start, start + take), this.bufEnd);
    this.bufEnd += take;
    this.nextOff += take;
    this.nextSeq = (this.nextSeq + take) >>> 0;
  }

  private drainPending(): void {
    const pending = this.pending;
    while (pending.length > 0) {
      const p = pending[0]!;
      if (p.off > this.nextOff) break;
      const room = this.cap - (this.bufEnd - this.bufStart) + this.skipAhead;
      if (room <= 0) break;
      pending.shift();
      this.pendingBytes -= p.data.length;
      const end = p.off + p.data.length;
      if (end <= this.nextOff) continue;
      // Any overlap with bytes already appended was counted when the later arrival was trimmed.
      const from = this.nextOff - p.off;
      const take = Math.min(room, p.data.length - from);
      this.appendInOrder(p.data.subarray(from, from + take), 0);
      if (from + take < p.data.length) {
        const rest = p.data.subarray(from + take);
        pending.unshift({ off: this.nextOff, data: rest });
        this.pendingBytes += rest.length;
        break;
      }
    }
  }

  /** Insert payload[start..] (whose byte `start` has stream offset `base + start`) into the pending list. */
  private insertPending(payload: Uint8Array, base: number, start: number): void {
    const from = base + start;
    let to = base + payload.length;
    const limit = this.readOff + this.skipAhead + this.cap;
    if (to > limit) {
      this.stats.droppedBytes += to - Math.max(from, limit);
      this.overflowed = true;
      to = limit;
      if (from >= to) return;
    }
    const pending = this.pending;
    // Pieces of [from, to) not covered by waiting segments (first arrival wins).
    let i = 0;
    while (i < pending.length && pending[i]!.off + pending[i]!.data.length <= from) i++;
    const pieces: Pending[] = [];
    let cur = from;
    let j = i;
    for (; j < pending.length && cur < to; j++) {
      const p = pending[j]!;
      const pEnd = p.off + p.data.length;
      if (p.off >= to) break;
      if (p.off > cur) pieces.push({ off: cur, data: payload.slice(cur - base, p.off - base) });
      const a = Math.max(cur, p.off);
      const b = Math.min(to, pEnd);
      if (b > a) {
        this.stats.overlapBytes += b - a;
        let conflicts = 0;
        for (let k = a; k < b; k++) if (p.data[k - p.off] !== payload[k - base]) conflicts++;
        this.stats.conflictBytes += conflicts;
      }
      cur = Math.max(cur, pEnd);
    }
    if (cur < to) pieces.push({ off: cur, data: payload.slice(cur - base, to - base) });
    if (pieces.length === 0) return;
    let newBytes = 0;
    for (const p of pieces) newBytes += p.data.length;
    if (
      pending.length + pieces.length > this.maxPendingSegments ||
      this.pendingBytes + newBytes > this.maxPendingBytes
    ) {
      this.stats.pendingDroppedSegments++;
      return;
    }
    // Pieces are sorted and fall between pending[i-1] and the segments they skipped around: merge-insert.
    for (const piece of pieces) {
      let k = i;
      while (k < pending.length && pending[k]!.off < piece.off) k++;
      pending.splice(k, 0, piece);
      i = k + 1;
    }
    this.pendingBytes += newBytes;
  }

  /** Prepend data that starts before the first byte (no SYN seen, nothing consumed yet). */
  private prepend(payload: Uint8Array, off: number): void {
    const k = -off; // bytes before the current start
    const held = this.bufEnd - this.bufStart;
    if (k + held > this.cap) {
      this.stats.beforeStartBytes += payload.length;
      return;
    }
    // Overlap with what we already hold: first arrival wins.
    const overlapEnd = Math.min(off + payload.length, this.nextOff);
    if (overlapEnd > 0) {
      this.stats.overlapBytes += overlapEnd;
      this.compareBuffered(payload, off, 0, overlapEnd);
    }
    const next = new Uint8Array(Math.max(this.buf.length, Math.min(this.cap, k + held + 1024)));
    next.set(payload.subarray(0, k), 0);
    next.set(this.buf.subarray(this.bufStart, this.bufEnd), k);
    this.buf = next;
    this.bufStart = 0;
    this.bufEnd = k + held;
    this.rebase(k);
    // The payload now starts at offset 0; a part past the held bytes (if any) continues in order.
    if (payload.length > this.nextOff) {
      this.appendInOrder(payload, this.nextOff);
      this.drainPending();
    }
  }

  /** Shift every stream offset by k (the stream start moved k bytes earlier). */
  private rebase(k: number): void {
    this.nextOff += k;
    for (const p of this.pending) p.off += k;
  }
}
