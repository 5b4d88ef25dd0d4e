/**
 * The simulated neighbourhood used by `band … --simulate` and `bandguard demo`: one of each supported
 * device family plus an unknown device, with a week of history, all on the hub's clock.
 */
import { SimBindings } from './bindings.js';
import { SimHuamiBand } from './huamiBand.js';
import type { SimPeripheral } from './peripheral.js';
import {
  SimBloodPressureMonitor,
  SimFitProBand,
  SimGlucoseMeter,
  SimHeartRateStrap,
  SimMiScale,
  SimUnknownDevice,
} from './standardDevices.js';

const DAY = 86_400_000;

/** Fixed demo key of the simulated Mi Band 4 (as if extracted from the vendor app). */
export const DEMO_MIBAND4_KEY = '8f1e2d3c4b5a69788796a5b4c3d2e1f0';

/** Device wall-clock fields: devices without a zone keep the local time of the home they live in. */
function local(ms: number) {
  const d = new Date(ms);
  return {
    year: d.getFullYear(),
    month: d.getMonth() + 1,
    day: d.getDate(),
    hours: d.getHours(),
    minutes: d.getMinutes(),
    seconds: d.getSeconds(),
  };
}

/** Keys the simulated bands were given, kept between CLI runs (address → hex). */
export interface SimKeyStore {
  load(): Record<string, string>;
  save(keys: Record<string, string>): void;
}

export function demoPeripherals(now: () => number, keyStore?: SimKeyStore): SimPeripheral[] {
  const t0 = now();
  const keys = keyStore?.load() ?? {};
  const remembered = (address: string) => {
    const hex = keys[address];
    return hex ? { key: Buffer.from(hex, 'hex') } : {};
  };
  const remember = (address: string) => ({
    onKey: (k: Uint8Array) => {
      keys[address] = Buffer.from(k).toString('hex');
      keyStore?.save(keys);
    },
  });
  const weekAgo = Math.floor((t0 - 7 * DAY) / 60_000) * 60_000;
  const day = (offset: number) => {
    const d = new Date(t0 - offset * DAY);
    return { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate() };
  };
  return [
    new SimHuamiBand({
      name: 'Mi Band 3',
      address: 'C8:0F:10:A1:B2:03',
      ...remembered('C8:0F:10:A1:B2:03'),
      ...remember('C8:0F:10:A1:B2:03'),
      authFlags: 0x00,
      cryptFlags: 0x00,
      now,
      historyStart: weekAgo,
      clockOffsetMs: 90_000,
      hrIntervalMs: 1000,
    }),
    new SimHuamiBand({
      name: 'Mi Smart Band 4',
      address: 'E4:7A:2C:A1:B2:04',
      authFlags: 0x00,
      cryptFlags: 0x80,
      key: Buffer.from(DEMO_MIBAND4_KEY, 'hex'),
      now,
      historyStart: weekAgo,
      hrIntervalMs: 1000,
    }),
    new SimHuamiBand({
      name: 'Amazfit Bip Watch',
      address: 'F0:1A:2B:3C:4D:5E',
      ...remembered('F0:1A:2B:3C:4D:5E'),
      ...remember('F0:1A:2B:3C:4D:5E'),
      authFlags: 0x08,
      cryptFlags: 0x00,
      now,
      historyStart: weekAgo,
    }),
    new SimGlucoseMeter({
      address: 'D0:5F:B8:11:22:33',
      records: Array.from({ length: 14 }, (_, i) => ({
        seq: i + 1,
        time: local(t0 - ((14 - i) * DAY) / 2),
        mgdl: 90 + ((i * 37) % 80),
        ...(i % 3 === 0 ? { meal: 1 + (i % 5) } : {}),
      })),
    }),
    new SimHeartRateStrap('A0:9E:1A:44:55:66'),
    new SimBloodPressureMonitor('00:09:1F:77:88:99', [
      { time: local(t0 - 2 * DAY), sys: 128, dia: 84, map: 99, pulse: 71 },
      { time: local(t0 - DAY), sys: 121, dia: 79, map: 93, pulse: 66 },
    ]),
    new SimMiScale('88:0F:10:12:34:56', 1, 71.35, local(t0 - 60_000)),
    new SimMiScale('5C:CA:D3:12:34:57', 2, 72.4, local(t0 - 120_000), 480),
    new SimFitProBand(
      'DA:12:34:56:78:9A',
      [1, 0].map((o) => ({
        date: day(o),
        steps: [
          [32, 420, 300],
          [33, 880, 640],
          [48, 120, 90],
        ],
        sleep: [
          [60, 2],
          [120, 3],
        ],
      })),
    ),
    new SimUnknownDevice('11:22:33:44:55:66', true, -80),
  ];
}

/** Bindings for noble over the demo neighbourhood. */
export function demoBindings(now: () => number, keyStore?: SimKeyStore): SimBindings {
  return new SimBindings({ peripherals: demoPeripherals(now, keyStore) });
}
