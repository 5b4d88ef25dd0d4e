/**
 * Periodic sync with per-device exponential backoff. node-cron sits behind the tiny `Cron` interface
 * (this file is its only importer, loaded lazily) so tests drive ticks directly.
 */

export interface CronTask {
  stop(): void;
}

export interface Cron {
  schedule(expression: string, fn: () => void): CronTask;
}

/** The production cron: node-cron, imported on first use. */
export async function createNodeCron(): Promise<Cron> {
  const mod = await import('node-cron');
  const cron = mod.default ?? mod;
  return {
    schedule(expression, fn) {
      if (!cron.validate(expression)) throw new Error(`invalid cron expression "${expression}"`);
      const task = cron.schedule(expression, fn, { noOverlap: true, name: 'bandguard-ble-sync' });
      return { stop: () => void task.stop() };
    },
  };
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Wait after `failures` consecutive failures: 0 → none, then base, 2×base, 4×base … capped at max. */
export function backoffDelay(failures: number, p: BackoffPolicy): number {
  if (failures <= 0) return 0;
  return Math.min(p.maxMs, p.baseMs * 2 ** Math.min(30, failures - 1));
}

export interface SchedulerDeps {
  cron: Cron;
  now: () => number;
  /** Devices to sync with their consecutive failure count. */
  devices: () => { id: string; failures: number }[];
  syncOne: (id: string) => Promise<unknown>;
  backoff?: BackoffPolicy;
  onError?: (id: string, error: unknown) => void;
}

export class SyncScheduler {
  private task: CronTask | null = null;
  private running: Promise<void> | null = null;
  private readonly lastAttempt = new Map<string, number>();
  private readonly policy: BackoffPolicy;

  constructor(private readonly deps: SchedulerDeps) {
    this.policy = deps.backoff ?? { baseMs: 5 * 60_000, maxMs: 6 * 3_600_000 };
  }

  start(expression: string): void {
    this.stop();
    this.task = this.deps.cron.schedule(expression, () => {
      void this.tick();
    });
  }

  stop(): void {
    this.task?.stop();
    this.task = null;
  }

  /** When a device may be tried next (epoch ms). */
  nextAllowed(id: string, failures: number): number {
    const last = this.lastAttempt.get(id);
    return last === undefined ? 0 : last + backoffDelay(failures, this.policy);
  }

  /** One round: sync every device whose backoff has expired, one at a time. Overlapping ticks are skipped. */
  tick(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        for (const d of this.deps.devices()) {
          const now = this.deps.now();
          if (now < this.nextAllowed(d.id, d.failures)) continue;
          this.lastAttempt.set(d.id, now);
          try {
            await this.deps.syncOne(d.id);
          } catch (e) {
            this.deps.onError?.(d.id, e);
          }
        }
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}
