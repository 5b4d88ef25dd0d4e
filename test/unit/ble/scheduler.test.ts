import { describe, expect, it } from 'vitest';
import { backoffDelay, type Cron, SyncScheduler } from '../../../src/ble/scheduler.js';

function fakeCron() {
  const jobs: { expr: string; fn: () => void; stopped: boolean }[] = [];
  const cron: Cron = {
    schedule(expr, fn) {
      const j = { expr, fn, stopped: false };
      jobs.push(j);
      return {
        stop: () => {
          j.stopped = true;
        },
      };
    },
  };
  return { cron, jobs };
}

describe('backoff', () => {
  it('doubles from the base up to the cap', () => {
    const p = { baseMs: 60_000, maxMs: 600_000 };
    expect([0, 1, 2, 3, 4, 5, 50].map((n) => backoffDelay(n, p))).toEqual([
      0, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000,
    ]);
  });
});

describe('SyncScheduler', () => {
  it('syncs every device each tick, backs off a failing one, and resumes when it recovers', async () => {
    let now = 0;
    const failures = new Map([
      ['ok', 0],
      ['bad', 0],
    ]);
    const calls: string[] = [];
    let badWorks = false;
    const { cron, jobs } = fakeCron();
    const s = new SyncScheduler({
      cron,
      now: () => now,
      backoff: { baseMs: 10_000, maxMs: 40_000 },
      devices: () => [...failures].map(([id, f]) => ({ id, failures: f })),
      syncOne: async (id) => {
        calls.push(`${now}:${id}`);
        if (id === 'bad' && !badWorks) {
          failures.set('bad', failures.get('bad')! + 1);
          throw new Error('out of range');
        }
        failures.set(id, 0);
      },
      onError: (id, e) => calls.push(`error ${id} ${(e as Error).message}`),
    });
    s.start('*/5 * * * *');
    expect(jobs[0]!.expr).toBe('*/5 * * * *');
    for (const t of [0, 5_000, 10_000, 20_000, 30_000, 50_000, 70_000]) {
      now = t;
      if (t === 50_000) badWorks = true;
      await s.tick();
    }
    const bad = calls.filter((c) => c.endsWith(':bad')).map((c) => Number(c.split(':')[0]));
    // Fails at 0 (wait 10 s), at 10 000 (wait 20 s; skipped at 20 000), at 30 000 (wait 40 s, capped; skipped
    // at 50 000 although the device is back), then succeeds at 70 000 and its failure count is reset.
    expect(bad).toEqual([0, 10_000, 30_000, 70_000]);
    expect(failures.get('bad')).toBe(0);
    expect(calls.filter((c) => c.endsWith(':ok'))).toHaveLength(7);
    expect(calls).toContain('error bad out of range');
    s.stop();
    expect(jobs[0]!.stopped).toBe(true);
  });

  it('never runs two rounds at once', async () => {
    let release: () => void = () => {};
    let started = 0;
    const { cron, jobs } = fakeCron();
    const s = new SyncScheduler({
      cron,
      now: () => 0,
      devices: () => [{ id: 'a', failures: 0 }],
      syncOne: () => {
        started++;
        return new Promise<void>((r) => {
          release = r;
        });
      },
    });
    s.start('* * * * *');
    jobs[0]!.fn();
    jobs[0]!.fn();
    const p = s.tick();
    expect(started).toBe(1);
    release();
    await p;
  });
});
