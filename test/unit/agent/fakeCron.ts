/** A Cron whose ticks the test fires by hand (the scheduler interface of src/ble/scheduler.ts). */
import type { Cron } from '../../../src/ble/scheduler.js';

export class FakeCron implements Cron {
  readonly tasks: { expression: string; fn: () => void; stopped: boolean }[] = [];
  schedule(expression: string, fn: () => void) {
    const t = { expression, fn, stopped: false };
    this.tasks.push(t);
    return {
      stop: () => {
        t.stopped = true;
      },
    };
  }
  fire(expression: string): number {
    let n = 0;
    for (const t of this.tasks) {
      if (t.expression === expression && !t.stopped) {
        t.fn();
        n++;
      }
    }
    return n;
  }
}
