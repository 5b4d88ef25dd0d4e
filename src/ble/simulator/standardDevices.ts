/**
 * Simulated devices speaking the SIG profiles (glucose meter with RACP, heart-rate strap, blood-pressure
 * monitor), the Mi Scales (adverts only), a FitPro band, and an unknown device. Frames are built here from
 * the profile layouts, independently of the decoders in devices/.
 */
import { type SimAdvertisement, SimPeripheral, type SimService } from './peripheral.js';

interface LocalTime {
  year: number;
  month: number;
  day: number;
  hours: number;
  minutes: number;
  seconds: number;
}

function dateTime(t: LocalTime): number[] {
  return [t.year & 0xff, t.year >> 8, t.month, t.day, t.hours, t.minutes, t.seconds];
}

const battery: SimService = { uuid: '180f', characteristics: [{ uuid: '2a19', properties: ['read', 'notify'] }] };
const dis: SimService = {
  uuid: '180a',
  characteristics: [
    { uuid: '2a29', properties: ['read'] },
    { uuid: '2a24', properties: ['read'] },
    { uuid: '2a26', properties: ['read'] },
  ],
};

function disValue(chr: string, maker: string, model: string): Uint8Array | null {
  if (chr === '2a29') return new TextEncoder().encode(maker);
  if (chr === '2a24') return new TextEncoder().encode(model);
  if (chr === '2a26') return new TextEncoder().encode('1.4.2\0');
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Glucose meter with Record Access Control Point
// ---------------------------------------------------------------------------------------------------------

export interface SimGlucoseRecord {
  seq: number;
  time: LocalTime;
  mgdl: number;
  /** Meal context (1 preprandial, 2 postprandial …) sent as a Glucose Measurement Context. */
  meal?: number;
}

export interface GlucoseMeterOptions {
  address: string;
  name?: string;
  records: SimGlucoseRecord[];
  /** Never answer RACP requests. */
  racpSilent?: boolean;
  /** Drop the link after sending this many records, once. */
  disconnectAfterRecords?: number;
  /** Send a truncated measurement frame in place of this sequence number. */
  truncateSeq?: number;
}

export class SimGlucoseMeter extends SimPeripheral {
  constructor(readonly opts: GlucoseMeterOptions) {
    super(opts.address, true, -70);
  }

  advertisement(): SimAdvertisement | null {
    if (this.isConnected) return null;
    return { localName: this.opts.name ?? 'Meter+06412345', serviceUuids: ['1808'] };
  }

  override gatt(): SimService[] {
    return [
      {
        uuid: '1808',
        characteristics: [
          { uuid: '2a18', properties: ['notify'] },
          { uuid: '2a34', properties: ['notify'] },
          { uuid: '2a51', properties: ['read'] },
          { uuid: '2a52', properties: ['write', 'indicate'] },
        ],
      },
      battery,
      dis,
    ];
  }

  override onRead(service: string, chr: string): Uint8Array | null {
    if (service === '180f') return Uint8Array.of(64);
    if (service === '180a') return disValue(chr, 'Roche', 'Accu-Chek Guide');
    if (chr === '2a51') return Uint8Array.of(0x03, 0x04);
    return null;
  }

  private measurement(r: SimGlucoseRecord): Uint8Array {
    // flags: concentration+type/location (bit 1), kg/L, context follows (bit 4) when there is a meal.
    const flags = 0x02 | (r.meal !== undefined ? 0x10 : 0);
    // mg/dL → kg/L is × 1e-5: SFLOAT exponent −5 (0xB), mantissa = mg/dL.
    const sfloat = (0xb << 12) | (r.mgdl & 0x0fff);
    return Uint8Array.of(flags, r.seq & 0xff, r.seq >> 8, ...dateTime(r.time), sfloat & 0xff, sfloat >> 8, 0x11);
  }

  private racp(...b: number[]): void {
    this.notify('1808', '2a52', Uint8Array.from(b));
  }

  override onWrite(service: string, chr: string, d: Uint8Array): void {
    super.onWrite(service, chr, d);
    if (service !== '1808' || chr !== '2a52' || this.opts.racpSilent) return;
    const [op, operator] = [d[0], d[1]];
    let selected: SimGlucoseRecord[];
    if (operator === 0x01) selected = this.opts.records;
    else if (operator === 0x03 && d[2] === 0x01 && d.length >= 5) {
      const from = d[3]! | (d[4]! << 8);
      selected = this.opts.records.filter((r) => r.seq >= from);
    } else if (op === 0x03) {
      this.racp(0x06, 0x00, 0x03, 0x01);
      return;
    } else {
      this.racp(0x06, 0x00, op ?? 0, 0x04);
      return;
    }
    if (op === 0x04) {
      this.racp(0x05, 0x00, selected.length & 0xff, selected.length >> 8);
      return;
    }
    if (op !== 0x01) {
      this.racp(0x06, 0x00, op ?? 0, 0x02);
      return;
    }
    if (selected.length === 0) {
      this.racp(0x06, 0x00, 0x01, 0x06);
      return;
    }
    let sent = 0;
    for (const r of selected) {
      if (this.opts.disconnectAfterRecords !== undefined && sent === this.opts.disconnectAfterRecords) {
        this.opts.disconnectAfterRecords = undefined;
        this.hangUp();
        return;
      }
      const m = this.measurement(r);
      this.notify('1808', '2a18', r.seq === this.opts.truncateSeq ? m.subarray(0, 6) : m);
      // Context: flags bit 1 (meal), sequence number, meal.
      if (r.meal !== undefined) this.notify('1808', '2a34', Uint8Array.of(0x02, r.seq & 0xff, r.seq >> 8, r.meal));
      sent++;
    }
    this.racp(0x06, 0x00, 0x01, 0x01);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Heart-rate strap
// ---------------------------------------------------------------------------------------------------------

export class SimHeartRateStrap extends SimPeripheral {
  private timer: NodeJS.Timeout | null = null;
  private beat = 0;
  constructor(
    address: string,
    readonly name = 'Polar H10 8A2B3C4D',
    readonly intervalMs = 1000,
  ) {
    super(address, true, -52);
  }
  advertisement(): SimAdvertisement | null {
    if (this.isConnected) return null;
    return { localName: this.name, serviceUuids: ['180d', '180f'] };
  }
  override gatt(): SimService[] {
    return [
      {
        uuid: '180d',
        characteristics: [
          { uuid: '2a37', properties: ['notify'] },
          { uuid: '2a38', properties: ['read'] },
        ],
      },
      battery,
      dis,
    ];
  }
  override onRead(service: string, chr: string): Uint8Array | null {
    if (service === '180f') return Uint8Array.of(91);
    if (service === '180a') return disValue(chr, 'Polar Electro Oy', 'H10');
    if (chr === '2a38') return Uint8Array.of(0x01);
    return null;
  }
  override onSubscribe(service: string, chr: string, on: boolean): void {
    if (service !== '180d' || chr !== '2a37') return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!on) return;
    this.timer = setInterval(() => {
      const bpm = 62 + (this.beat++ % 5);
      const rr = Math.round((60 / bpm) * 1024);
      // flags 0x16: uint8, contact detected, RR present.
      this.notify('180d', '2a37', Uint8Array.of(0x16, bpm, rr & 0xff, rr >> 8));
    }, this.intervalMs);
    this.timer.unref();
  }
  protected override onDisconnect(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Blood-pressure monitor: indicates its stored measurements once the hub subscribes.
// ---------------------------------------------------------------------------------------------------------

export class SimBloodPressureMonitor extends SimPeripheral {
  constructor(
    address: string,
    readonly stored: { time: LocalTime; sys: number; dia: number; map: number; pulse: number }[],
  ) {
    super(address, true, -66);
  }
  advertisement(): SimAdvertisement | null {
    if (this.isConnected) return null;
    return { localName: 'BLESmart_0000021F', serviceUuids: ['1810'] };
  }
  override gatt(): SimService[] {
    return [
      {
        uuid: '1810',
        characteristics: [
          { uuid: '2a35', properties: ['indicate'] },
          { uuid: '2a49', properties: ['read'] },
        ],
      },
      { uuid: '1805', characteristics: [{ uuid: '2a2b', properties: ['read', 'write', 'notify'] }] },
    ];
  }
  override onRead(service: string, chr: string): Uint8Array | null {
    if (chr === '2a49') return Uint8Array.of(0x00, 0x00);
    if (service === '1805' && chr === '2a2b') return Uint8Array.of(...dateTime(this.stored[0]!.time), 1, 0, 0);
    return null;
  }
  override onSubscribe(service: string, chr: string, on: boolean): void {
    if (service !== '1810' || chr !== '2a35' || !on) return;
    for (const m of this.stored) {
      // flags 0x06: mmHg, time stamp, pulse; SFLOATs with exponent 0.
      this.notify('1810', '2a35', Uint8Array.of(0x06, m.sys, 0, m.dia, 0, m.map, 0, ...dateTime(m.time), m.pulse, 0));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Mi Scale v1 and Mi Body Composition Scale v2: measurement in the advert, not connectable.
// ---------------------------------------------------------------------------------------------------------

export class SimMiScale extends SimPeripheral {
  private frames = 0;
  constructor(
    address: string,
    readonly version: 1 | 2,
    readonly kg: number,
    readonly time: LocalTime,
    readonly impedance = 0,
    /** Adverts before the weight stabilises. */
    readonly settleFrames = 2,
  ) {
    super(address, false, -75);
  }
  advertisement(): SimAdvertisement | null {
    const stable = this.frames++ >= this.settleFrames;
    const w = Math.round(this.kg * 200);
    if (this.version === 1) {
      const ctrl = stable ? 0x22 : 0x02;
      return {
        localName: 'MI_SCALE',
        serviceData: [{ uuid: '181d', data: Buffer.from([ctrl, w & 0xff, w >> 8, ...dateTime(this.time)]) }],
      };
    }
    const c1 = (stable ? 0x20 : 0x00) | (this.impedance > 0 ? 0x02 : 0x00);
    return {
      localName: 'MIBCS',
      serviceData: [
        {
          uuid: '181b',
          data: Buffer.from([
            0x02,
            c1,
            ...dateTime(this.time),
            this.impedance & 0xff,
            this.impedance >> 8,
            w & 0xff,
            w >> 8,
          ]),
        },
      ],
    };
  }
}

// ---------------------------------------------------------------------------------------------------------
// FitPro band (Nordic-UART style frames, 20-byte notification pieces)
// ---------------------------------------------------------------------------------------------------------

const NUS = '6e400001b5a3f393e0a9e50e24dcca9d';
const NUS_TX = '6e400002b5a3f393e0a9e50e24dcca9d';
const NUS_RX = '6e400003b5a3f393e0a9e50e24dcca9d';

function fitFrame(group: number, cmd: number, payload: number[]): Uint8Array {
  const rest = 5 + payload.length;
  return Uint8Array.from([
    0xcd,
    rest >> 8,
    rest & 0xff,
    group,
    0x01,
    cmd,
    payload.length >> 8,
    payload.length & 0xff,
    ...payload,
  ]);
}

export interface FitProDay {
  date: { year: number; month: number; day: number };
  /** [15-minute slot, steps, distance m] */
  steps: [number, number, number][];
  /** [minute of day, sleep kind] */
  sleep: [number, number][];
}

export class SimFitProBand extends SimPeripheral {
  readonly acks: string[] = [];
  private hrTimer: NodeJS.Timeout | null = null;
  constructor(
    address: string,
    readonly days: FitProDay[],
    readonly name = 'M4',
  ) {
    super(address, true, -63);
  }
  advertisement(): SimAdvertisement | null {
    if (this.isConnected) return null;
    return { localName: this.name, serviceUuids: [NUS] };
  }
  override gatt(): SimService[] {
    return [
      {
        uuid: NUS,
        characteristics: [
          { uuid: NUS_TX, properties: ['write', 'writeWithoutResponse'] },
          { uuid: NUS_RX, properties: ['notify'] },
        ],
      },
      battery,
    ];
  }
  override onRead(service: string): Uint8Array | null {
    return service === '180f' ? Uint8Array.of(38) : null;
  }
  private send(frame: Uint8Array): void {
    for (let off = 0; off < frame.length; off += 20) this.notify(NUS, NUS_RX, frame.subarray(off, off + 20));
  }
  override onWrite(service: string, chr: string, d: Uint8Array): void {
    super.onWrite(service, chr, d);
    if (service !== NUS || chr !== NUS_TX) return;
    if (d[0] === 0xdc) {
      this.acks.push(Buffer.from(d).toString('hex'));
      return;
    }
    const [group, cmd] = [d[3], d[5]];
    if (group === 0x15 && cmd === 0x06) {
      for (const day of this.days) {
        const date = ((day.date.year - 2000) << 9) | (day.date.month << 5) | day.date.day;
        const steps: number[] = [date >> 8, date & 0xff];
        for (const [slot, n, dist] of day.steps) {
          const hi = ((n & 0xfff) * 2 ** 20 + (1 << 16) + (dist & 0xffff)) >>> 0;
          const lo = ((slot & 0x7ff) * 2 ** 21 + (1 << 19) + 1234) >>> 0;
          steps.push(
            hi >>> 24,
            (hi >>> 16) & 0xff,
            (hi >>> 8) & 0xff,
            hi & 0xff,
            lo >>> 24,
            (lo >>> 16) & 0xff,
            (lo >>> 8) & 0xff,
            lo & 0xff,
          );
        }
        this.send(fitFrame(0x15, 0x02, steps));
        const sleep: number[] = [date >> 8, date & 0xff];
        for (const [minute, kind] of day.sleep) sleep.push(minute >> 8, minute & 0xff, 0, kind);
        this.send(fitFrame(0x15, 0x03, sleep));
      }
      this.send(fitFrame(0x15, 0x0c, [0, 0, 0, 0]));
    } else if (group === 0x12 && cmd === 0x18) {
      if (this.hrTimer) clearInterval(this.hrTimer);
      this.hrTimer = null;
      if (d[8] === 0x01) {
        this.hrTimer = setInterval(() => {
          this.send(fitFrame(0x15, 0x0e, [0, 0, 0, 0, 0, 97, 0, 0, 0, 121, 79, 73]));
        }, 20);
        this.hrTimer.unref();
      }
    }
  }
  protected override onDisconnect(): void {
    if (this.hrTimer) clearInterval(this.hrTimer);
    this.hrTimer = null;
  }
}

/** Something nearby that no definition knows: a speaker with a vendor service and manufacturer data. */
export class SimUnknownDevice extends SimPeripheral {
  advertisement(): SimAdvertisement | null {
    return {
      localName: 'JBL Flip 5',
      serviceUuids: ['fe8f'],
      manufacturerData: Buffer.from([0x57, 0x00, 0x01, 0x02]),
    };
  }
}
