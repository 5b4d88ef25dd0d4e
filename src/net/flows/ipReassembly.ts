/**
 * IPv4 and IPv6 fragment reassembly, bounded in every direction: datagrams in progress, bytes per
 * datagram, pieces per datagram, and time (capture timestamps passed in; the clock is never read).
 * Overlaps are resolved deterministically: bytes already received win, later copies are ignored.
 * Fragment data is copied on arrival (captured packet buffers are reused by the readers).
 */
import { decodeTransport } from '../decode/packet.js';
import type { DecodedPacket } from '../decode/types.js';

export interface IpReassemblerOptions {
  /** Datagrams in progress at once; adding one more evicts the oldest. */
  maxDatagrams: number;
  /** Largest reassembled IP payload accepted (bytes). */
  maxDatagramSize: number;
  /** Most fragments kept for one datagram (a flood of tiny fragments is dropped). */
  maxFragmentsPerDatagram: number;
  /** A datagram not complete this long after its first fragment is dropped (ms of capture time). */
  timeoutMs: number;
}

export const DEFAULT_REASSEMBLER_OPTIONS: Readonly<IpReassemblerOptions> = Object.freeze({
  maxDatagrams: 256,
  maxDatagramSize: 65_535,
  maxFragmentsPerDatagram: 256,
  // Linux's ipfrag_time default is 30 s.
  timeoutMs: 30_000,
});

export interface IpReassemblerStats {
  /** Fragments offered to add(). */
  fragments: number;
  /** Datagrams completed and returned. */
  reassembled: number;
  /** Datagrams dropped because they did not complete within timeoutMs. */
  timeouts: number;
  /** Datagrams dropped to make room (maxDatagrams). */
  evictions: number;
  /** Datagrams or fragments dropped as impossible (oversize, conflicting ends, too many pieces...). */
  errors: number;
  /** Fragments (or parts of them) that repeated bytes already held; the earlier bytes were kept. */
  overlaps: number;
  /**
   * Fragments whose bytes were cut by the snap length: they cannot complete a datagram. A cut first
   * fragment is returned on its own (truncated = true, transport decoded); later ones are ignored.
   */
  truncated: number;
  /** Completed datagrams whose transport header did not decode. */
  badTransport: number;
  /** Datagrams currently waiting for more fragments. */
  inProgress: number;
}

interface Piece {
  start: number;
  end: number;
  data: Uint8Array;
}

interface Datagram {
  key: string;
  firstTsMs: number;
  /** The fragment at offset 0, once seen (its headers describe the whole datagram). */
  head: DecodedPacket | null;
  /** Disjoint pieces sorted by start. */
  pieces: Piece[];
  /** Payload length once the last fragment (more = false) is seen, else -1. */
  total: number;
  received: number;
}

function keyOf(p: DecodedPacket): string {
  return `${p.ipVersion}|${p.src}|${p.dst}|${p.protocol}|${p.fragment!.id}`;
}

export class IpReassembler {
  readonly stats: IpReassemblerStats = {
    fragments: 0,
    reassembled: 0,
    timeouts: 0,
    evictions: 0,
    errors: 0,
    overlaps: 0,
    truncated: 0,
    badTransport: 0,
    inProgress: 0,
  };
  private readonly opts: IpReassemblerOptions;
  /** Insertion order = arrival order of the first fragment, which expire() relies on. */
  private readonly pending = new Map<string, Datagram>();

  constructor(options: Partial<IpReassemblerOptions> = {}) {
    this.opts = { ...DEFAULT_REASSEMBLER_OPTIONS, ...options };
  }

  /**
   * Offer a decoded packet. Non-fragments are returned as they are; a fragment returns null until the
   * datagram is complete, then the whole datagram with its transport header decoded (fragment = null).
   */
  add(pkt: DecodedPacket, tsMs: number): DecodedPacket | null {
    const frag = pkt.fragment;
    if (frag === null) return pkt;
    this.stats.fragments++;
    this.expire(tsMs);
    if (pkt.truncated) {
      // Bytes cut by the snap length can never be filled in. A cut first fragment still carries the
      // transport header and the start of the payload: hand that out, flagged truncated; drop the others.
      this.stats.truncated++;
      if (frag.offset !== 0) return null;
      const r = decodeTransport({ ...pkt, fragment: null, truncated: true });
      if (typeof r === 'string') {
        this.stats.badTransport++;
        return null;
      }
      return r;
    }
    const start = frag.offset;
    const end = start + pkt.payload.length;
    const key = keyOf(pkt);
    if (end > this.opts.maxDatagramSize || (frag.more && (pkt.payload.length === 0 || pkt.payload.length % 8 !== 0))) {
      // Oversize ("ping of death") or a middle fragment that is not a multiple of 8 bytes: impossible.
      this.stats.errors++;
      this.drop(key);
      return null;
    }
    let dg = this.pending.get(key);
    if (dg === undefined) {
      if (this.pending.size >= this.opts.maxDatagrams) this.evictOldest();
      dg = { key, firstTsMs: tsMs, head: null, pieces: [], total: -1, received: 0 };
      this.pending.set(key, dg);
      this.stats.inProgress = this.pending.size;
    }
    if (!frag.more) {
      if ((dg.total >= 0 && dg.total !== end) || this.maxEnd(dg) > end) {
        this.stats.errors++;
        this.drop(key);
        return null;
      }
      dg.total = end;
    } else if (dg.total >= 0 && end > dg.total) {
      this.stats.errors++;
      this.drop(key);
      return null;
    }
    // A copy: the caller may reuse its packet object for the next frame (decodePacket's `into`).
    if (start === 0 && dg.head === null) dg.head = { ...pkt, tcp: null };
    if (!this.insert(dg, start, end, pkt.payload)) {
      this.stats.errors++;
      this.drop(key);
      return null;
    }
    if (dg.total < 0 || dg.received !== dg.total || dg.head === null) return null;
    this.drop(key);
    return this.finish(dg);
  }

  /** Drop datagrams whose first fragment is older than the timeout at capture time nowMs. */
  expire(nowMs: number): void {
    const limit = nowMs - this.opts.timeoutMs;
    for (const dg of this.pending.values()) {
      if (dg.firstTsMs >= limit) break;
      this.pending.delete(dg.key);
      this.stats.timeouts++;
    }
    this.stats.inProgress = this.pending.size;
  }

  /** Forget everything in progress (counted as timeouts). */
  clear(): void {
    this.stats.timeouts += this.pending.size;
    this.pending.clear();
    this.stats.inProgress = 0;
  }

  get size(): number {
    return this.pending.size;
  }

  private drop(key: string): void {
    this.pending.delete(key);
    this.stats.inProgress = this.pending.size;
  }

  private evictOldest(): void {
    const first = this.pending.keys().next();
    if (first.done) return;
    this.drop(first.value);
    this.stats.evictions++;
  }

  private maxEnd(dg: Datagram): number {
    const last = dg.pieces[dg.pieces.length - 1];
    return last === undefined ? 0 : last.end;
  }

  /** Add the bytes of [start, end) that no piece holds yet; false when the piece limit is hit. */
  private insert(dg: Datagram, start: number, end: number, payload: Uint8Array): boolean {
    const pieces = dg.pieces;
    const fresh: Piece[] = [];
    let cur = start;
    let overlapped = false;
    for (const p of pieces) {
      if (p.end <= cur) continue;
      if (p.start >= end) break;
      if (p.start > cur) fresh.push({ start: cur, end: p.start, data: payload.slice(cur - start, p.start - start) });
      overlapped = true;
      cur = p.end;
      if (cur >= end) break;
    }
    if (cur < end) fresh.push({ start: cur, end, data: payload.slice(cur - start, end - start) });
    if (overlapped) this.stats.overlaps++;
    if (fresh.length === 0) return true;
    if (pieces.length + fresh.length > this.opts.maxFragmentsPerDatagram) return false;
    for (const f of fresh) {
      dg.received += f.end - f.start;
      // Keep pieces sorted by start (few pieces per datagram: a linear search is enough).
      let i = pieces.length;
      while (i > 0 && pieces[i - 1]!.start > f.start) i--;
      pieces.splice(i, 0, f);
    }
    return true;
  }

  private finish(dg: Datagram): DecodedPacket | null {
    const payload = new Uint8Array(dg.total);
    for (const p of dg.pieces) payload.set(p.data, p.start);
    const head = dg.head!;
    const whole: DecodedPacket = { ...head, payload, fragment: null, truncated: false, tcp: null };
    const r = decodeTransport(whole);
    if (typeof r === 'string') {
      this.stats.badTransport++;
      return null;
    }
    this.stats.reassembled++;
    return r;
  }
}
