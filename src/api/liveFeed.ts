/**
 * Feeds the event hub: BLE progress, errors and live values from the BandService events, and — while at
 * least one page listens — new parties and leaks from the store, checked when a new write batch committed
 * (one indexed read per tick otherwise).
 */
import { logger } from '../core/logger.js';
import type { NetViews } from './netViews.js';
import type { BandApi } from './services.js';
import type { EventHub } from './sse.js';

const log = logger('api:feed');

export class LiveFeed {
  private timer: NodeJS.Timeout | null = null;
  private lastSeq = -1;
  private partyMark = 0;
  private leakMark = 0;
  private readonly unhook: (() => void)[] = [];

  constructor(
    private readonly hub: EventHub,
    private readonly views: NetViews,
    private readonly band: BandApi | null,
  ) {}

  start(intervalMs = 2000): void {
    if (this.timer) return;
    this.lastSeq = this.seq();
    this.partyMark = this.maxFirstSeen();
    this.leakMark = this.views.maxLeakId();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
    const band = this.band;
    if (band) {
      const progress = (e: { deviceId: string; message: string }) =>
        this.hub.publish('sync', { ...e, kind: 'progress' });
      const failed = (e: { deviceId: string; error: { code: string; message: string } }) =>
        this.hub.publish('sync', { deviceId: e.deviceId, kind: 'error', message: e.error.message, code: e.error.code });
      const live = (e: { deviceId: string; samples: { kind: string; ts: number; value: number }[] }) =>
        this.hub.publish(
          'live',
          { deviceId: e.deviceId, samples: e.samples.map((s) => ({ kind: s.kind, ts: s.ts, value: s.value })) },
          e.deviceId,
        );
      band.on('progress', progress);
      band.on('syncError', failed);
      band.on('live', live);
      this.unhook.push(() => {
        band.off('progress', progress);
        band.off('syncError', failed);
        band.off('live', live);
      });
    }
  }

  private seq(): number {
    const r = this.views.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM write_batches').get() as { s: number };
    return r.s;
  }

  private maxFirstSeen(): number {
    const r = this.views.db.prepare('SELECT COALESCE(MAX(first_ts), 0) AS m FROM net_contact_totals').get() as {
      m: number;
    };
    return r.m;
  }

  /** One check (exported for tests): publishes what is new since the last one. */
  tick(): void {
    try {
      const seq = this.seq();
      if (seq === this.lastSeq) return;
      this.lastSeq = seq;
      if (this.hub.size === 0) {
        this.partyMark = this.maxFirstSeen();
        this.leakMark = this.views.maxLeakId();
        return;
      }
      const ch = this.views.changesSince(this.partyMark, this.leakMark);
      for (const p of ch.parties) {
        this.hub.publish('party', p);
        this.partyMark = Math.max(this.partyMark, Date.parse(p.firstSeen));
      }
      for (const l of ch.leaks) this.hub.publish('leak', l);
      this.leakMark = ch.maxLeakId;
    } catch (e) {
      log.warn(`live feed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const u of this.unhook.splice(0)) u();
  }
}
