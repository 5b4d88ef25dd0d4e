/**
 * Replays a capture file through the live path (the agent's packet queue → pipeline → store), as if the
 * packets came from the access point: at the file's own pace (`speed` 1), faster (`speed` N) or as fast as
 * the pipeline takes them (`speed` 0). Used by `bandguard demo` and by tests of the live path.
 *
 * The file reader is paced through its `beforeRead` hook: packets of one read chunk are copied, handed over
 * on schedule, and only then is the next chunk read, so memory stays at about one chunk whatever the file
 * size. A full queue makes the replay wait (it never drops: `lossless`).
 */

import type { CaptureSource, CaptureSourceStatus, PacketAccept } from './liveSource.js';
import { readCaptureFile } from './pcapFile.js';
import type { CapturedPacket } from './types.js';

export interface ReplayOptions {
  /** 1 = the file's pace, N = N times faster, 0 = as fast as possible. */
  speed: number;
  /** Shift timestamps so that the first packet is "now" (the file's spacing is kept). */
  retime?: boolean;
  now?: () => number;
  /** Bytes per read (bounds memory: one chunk of packets is held at a time). */
  chunkSize?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ReplaySource implements CaptureSource {
  readonly name: string;
  readonly lossless = true;
  readonly done: Promise<void>;
  private resolveDone: () => void = () => {};
  private readonly st: CaptureSourceStatus;
  private readonly abort = new AbortController();
  private pending: CapturedPacket[] = [];
  private firstTs: number | null = null;
  private wallStart = 0;
  private accept: PacketAccept = () => true;

  readonly paths: string[];

  /** One file, or several replayed one after the other (as `analyze FILE...` reads them). */
  constructor(
    paths: string | readonly string[],
    private readonly opts: ReplayOptions,
  ) {
    if (!(opts.speed >= 0) || !Number.isFinite(opts.speed)) throw new RangeError('replay speed must be 0 or more');
    this.paths = typeof paths === 'string' ? [paths] : [...paths];
    if (this.paths.length === 0) throw new RangeError('replay needs at least one capture file');
    this.name = `replay:${this.paths.join(',')}`;
    this.st = {
      source: this.name,
      state: 'starting',
      detail: '',
      filter: '',
      packets: 0,
      bytes: 0,
      kernelDrops: 0,
      interfaceDrops: null,
      startedAt: null,
    };
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private async handOver(): Promise<void> {
    const speed = this.opts.speed;
    const list = this.pending;
    this.pending = [];
    for (const p of list) {
      if (this.abort.signal.aborted) return;
      if (this.firstTs === null) this.firstTs = p.tsMs;
      if (speed > 0) {
        const due = this.wallStart + (p.tsMs - this.firstTs) / speed;
        const wait = due - this.now();
        if (wait >= 1) await sleep(Math.min(wait, 60_000));
      }
      if (this.opts.retime) p.tsMs = this.wallStart + (p.tsMs - this.firstTs);
      while (!this.accept(p)) {
        if (this.abort.signal.aborted) return;
        await sleep(1);
      }
      this.st.packets++;
      this.st.bytes += p.data.length;
    }
  }

  async start(accept: PacketAccept): Promise<void> {
    this.accept = accept;
    this.wallStart = this.now();
    this.st.startedAt = this.wallStart;
    this.st.state = 'capturing';
    this.st.detail = `replaying ${this.paths.join(', ')} at ${this.opts.speed === 0 ? 'full speed' : `${this.opts.speed}x`}`;
    void this.run();
  }

  private async run(): Promise<void> {
    try {
      for (const path of this.paths) {
        await readCaptureFile(
          path,
          (p) => {
            this.pending.push({
              tsMs: p.tsMs,
              linkType: p.linkType,
              data: Buffer.from(p.data),
              origLen: p.origLen,
              interfaceId: p.interfaceId,
            });
          },
          {
            signal: this.abort.signal,
            chunkSize: this.opts.chunkSize ?? 256 * 1024,
            beforeRead: () => this.handOver(),
          },
        );
        await this.handOver();
        if (this.abort.signal.aborted) return;
      }
      this.st.state = 'done';
      this.st.detail = `replayed ${this.st.packets} packets from ${this.paths.join(', ')}`;
    } catch (e) {
      if (this.abort.signal.aborted) return;
      this.st.state = 'failed';
      this.st.detail = e instanceof Error ? e.message : String(e);
    } finally {
      this.resolveDone();
    }
  }

  async stop(): Promise<void> {
    if (this.st.state === 'starting') {
      this.st.state = 'stopped';
      this.resolveDone();
    }
    if (this.st.state === 'capturing') {
      this.abort.abort();
      this.st.state = 'stopped';
      this.st.detail = `replay of ${this.paths.join(', ')} stopped after ${this.st.packets} packets`;
    }
    await this.done;
  }

  status(): CaptureSourceStatus {
    return { ...this.st };
  }
}
