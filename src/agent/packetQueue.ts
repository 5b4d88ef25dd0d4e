/**
 * The bounded queue between a capture callback and the pipeline. The callback copies each packet in (the
 * capture reuses its buffer) and returns at once; the agent drains the queue in slices so that timers (store
 * writes, status) keep running under load. Bounded by packets and by bytes: what does not fit is dropped and
 * counted (a live interface cannot wait), or refused without counting for a source that can wait (`offer`).
 */
import type { CapturedPacket } from '../net/capture/types.js';

export interface PacketQueueStats {
  enqueued: number;
  drops: number;
  /** Most packets ever waiting at once. */
  highWater: number;
}

export class PacketQueue {
  private readonly ring: (CapturedPacket | undefined)[];
  private head = 0;
  private size = 0;
  private bytes = 0;
  readonly stats: PacketQueueStats = { enqueued: 0, drops: 0, highWater: 0 };

  constructor(
    readonly capacity: number,
    readonly maxBytes: number = capacity * 2048,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('queue capacity must be a positive integer');
    this.ring = new Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  hasRoom(len: number): boolean {
    return this.size < this.capacity && this.bytes + len <= this.maxBytes;
  }

  /** Copies the packet in; false (and one counted drop) when the queue is full. */
  push(p: CapturedPacket): boolean {
    if (!this.hasRoom(p.data.length)) {
      this.stats.drops++;
      return false;
    }
    this.put(p);
    return true;
  }

  /** Like push, but a full queue is not a drop: the caller will try again. */
  offer(p: CapturedPacket): boolean {
    if (!this.hasRoom(p.data.length)) return false;
    this.put(p);
    return true;
  }

  private put(p: CapturedPacket): void {
    const copy: CapturedPacket = {
      tsMs: p.tsMs,
      linkType: p.linkType,
      data: Buffer.from(p.data),
      origLen: p.origLen,
      interfaceId: p.interfaceId,
    };
    this.ring[(this.head + this.size) % this.capacity] = copy;
    this.size++;
    this.bytes += copy.data.length;
    this.stats.enqueued++;
    if (this.size > this.stats.highWater) this.stats.highWater = this.size;
  }

  shift(): CapturedPacket | undefined {
    if (this.size === 0) return undefined;
    const p = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    if (p) this.bytes -= p.data.length;
    return p;
  }
}
