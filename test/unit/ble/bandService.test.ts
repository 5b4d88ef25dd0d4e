/** The service facade over the simulated neighbourhood: status, pair, samples query, shared live streams. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BandService, type LiveEvent } from '../../../src/ble/bandService.js';

const NOW = Date.UTC(2024, 4, 15, 10, 0, 0);
let dir: string;
let svc: BandService | undefined;
afterEach(async () => {
  await svc?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('BandService', () => {
  it('reports status, pairs, answers sample queries and shares one live connection', async () => {
    dir = mkdtempSync(join(tmpdir(), 'bandguard-svc-'));
    svc = BandService.open({
      dataDir: dir,
      simulate: true,
      now: () => NOW,
      timeZone: 'UTC',
      options: { quietMs: 100 },
    });
    expect(await svc.status()).toEqual({ adapter: 'poweredOn', kind: 'simulated', devices: 0, quarantined: [] });

    const strap = 'a09e1a445566';
    await svc.pair(strap);
    expect(svc.list()).toMatchObject([{ id: strap, definitionId: 'standard-heart-rate', samples: 1, lastError: null }]);
    expect(svc.samples({ deviceId: strap, kinds: ['battery'] })).toEqual([
      { deviceId: strap, kind: 'battery', ts: NOW, value: 91 },
    ]);
    expect(() => svc!.samples({ kinds: ['nonsense'] })).toThrow(/unknown kind/);

    const a: LiveEvent[] = [];
    const b: LiveEvent[] = [];
    const events: LiveEvent[] = [];
    svc.on('live', (e: LiveEvent) => events.push(e));
    const stopA = await svc.subscribeLive(strap, (e) => a.push(e));
    const stopB = await svc.subscribeLive(strap, (e) => b.push(e));
    await new Promise((r) => setTimeout(r, 2300)); // the simulated strap beats once a second
    await stopA();
    expect(a.length).toBeGreaterThanOrEqual(2);
    expect(b.length).toBe(a.length);
    expect(a[0]!.samples[0]).toMatchObject({ kind: 'heart_rate', value: 62, meta: { sensorContact: 'contact' } });
    await stopB();
    const n = events.length;
    await new Promise((r) => setTimeout(r, 1100));
    expect(events.length).toBe(n); // the last unsubscribe closed the link
  });
});
