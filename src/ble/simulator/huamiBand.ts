/**
 * A simulated Huami band (Mi Band 2/3/4, Amazfit Bip): the FEE1 auth challenge with AES-128-ECB, the FEE0
 * fetch protocol with rolling packet counters, battery info, the Current Time characteristic with its
 * time-zone byte, and live heart rate on the standard HRM after the continuous-HR command.
 *
 * Bytes are built here from the protocol description, independently of devices/huami, so the tests check
 * the device code against the protocol rather than against itself.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { type SimAdvertisement, SimPeripheral, type SimService } from './peripheral.js';

const BASE = '0000351221180009af100700';
const u = (short: number) => `0000${short.toString(16).padStart(4, '0')}${BASE}`;
export const SIM_HUAMI = {
  fee0: 'fee0',
  fee1: 'fee1',
  auth: u(0x0009),
  fetch: u(0x0004),
  activity: u(0x0005),
  battery: u(0x0006),
  steps: u(0x0007),
  time: '2a2b',
  hr: '180d',
  hrm: '2a37',
  hrcp: '2a39',
};

export interface HuamiBandOptions {
  name: string;
  address: string;
  authFlags: number;
  cryptFlags: number;
  /** The key the band already holds (Mi Band 4 class: from vendor pairing). */
  key?: Uint8Array;
  /** Hub clock. */
  now: () => number;
  /** Band clock minus real time, ms (clock drift). */
  clockOffsetMs?: number;
  /** The band's configured UTC offset in minutes. */
  tzOffsetMin?: number;
  /** First minute (real UTC ms) of stored history. */
  historyStart: number;
  /** Cap on records per fetch round (bands cap each round). */
  recordsPerRound?: number;
  battery?: number;
  hrIntervalMs?: number;
  /** Refuse a new key in step 1 (the user did not tap the band). */
  refuseKey?: boolean;
  /** Drop the link after this many activity packets, once. */
  disconnectAfterPackets?: number;
  /** Skip one counter value at this packet index, once. */
  counterGapAtPacket?: number;
  /** Send one activity packet with no bytes at all at this index, once (a malformed notification). */
  emptyPacketAt?: number;
  /** Never answer fetch commands (a band that hangs mid-protocol). */
  fetchSilent?: boolean;
  /** Told when the band accepts a new key (so a simulated world can remember it across runs). */
  onKey?: (key: Uint8Array) => void;
}

/** The deterministic per-minute record the band stores for minute index m (epoch minutes, band clock). */
export function simActivityRecord(m: number): [kind: number, intensity: number, steps: number, hr: number] {
  const h = Math.imul(m ^ 0x5bd1e995, 0x27d4eb2d) >>> 0;
  const hourOfDay = Math.floor(m / 60) % 24;
  const asleep = hourOfDay < 6;
  const kind = asleep ? (h & 1 ? 9 : 11) : h % 7 === 0 ? 3 : 1;
  const intensity = asleep ? h % 10 : (h >>> 8) % 120;
  const steps = asleep || kind === 3 ? 0 : (h >>> 16) % 110;
  const hr = m % 10 === 0 ? 55 + ((h >>> 4) % 60) : 255;
  return [kind, intensity, steps, hr];
}

function aesEcb(key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}

function wallClock(utcMs: number, tzMin: number) {
  const d = new Date(utcMs + tzMin * 60_000);
  return {
    y: d.getUTCFullYear(),
    mo: d.getUTCMonth() + 1,
    d: d.getUTCDate(),
    h: d.getUTCHours(),
    mi: d.getUTCMinutes(),
    s: d.getUTCSeconds(),
    dow: d.getUTCDay() === 0 ? 7 : d.getUTCDay(),
  };
}

export class SimHuamiBand extends SimPeripheral {
  key: Uint8Array | null;
  authenticated = false;
  private challenge: Uint8Array | null = null;
  clockOffsetMs: number;
  tzOffsetMin: number;
  private pending: { start: number; count: number } | null = null;
  private streaming = false;
  private hrTimer: NodeJS.Timeout | null = null;
  packetsSent = 0;
  readonly fetchRequests: number[] = [];
  acks = 0;

  constructor(readonly opts: HuamiBandOptions) {
    super(opts.address, true, -58);
    this.key = opts.key ?? null;
    this.clockOffsetMs = opts.clockOffsetMs ?? 0;
    this.tzOffsetMin = opts.tzOffsetMin ?? 0;
  }

  /** Band clock, UTC ms. */
  bandNow(): number {
    return this.opts.now() + this.clockOffsetMs;
  }

  advertisement(): SimAdvertisement | null {
    if (this.isConnected) return null;
    return { localName: this.opts.name, serviceUuids: ['fee0'], txPowerLevel: -6 };
  }

  override gatt(): SimService[] {
    return [
      {
        uuid: SIM_HUAMI.fee0,
        characteristics: [
          { uuid: SIM_HUAMI.fetch, properties: ['write', 'notify'] },
          { uuid: SIM_HUAMI.activity, properties: ['notify'] },
          { uuid: SIM_HUAMI.battery, properties: ['read', 'notify'] },
          { uuid: SIM_HUAMI.steps, properties: ['read', 'notify'] },
          { uuid: SIM_HUAMI.time, properties: ['read', 'write', 'notify'] },
        ],
      },
      { uuid: SIM_HUAMI.fee1, characteristics: [{ uuid: SIM_HUAMI.auth, properties: ['write', 'notify'] }] },
      {
        uuid: SIM_HUAMI.hr,
        characteristics: [
          { uuid: SIM_HUAMI.hrm, properties: ['notify'] },
          { uuid: SIM_HUAMI.hrcp, properties: ['read', 'write'] },
        ],
      },
    ];
  }

  protected override onDisconnect(): void {
    this.authenticated = false;
    this.challenge = null;
    this.pending = null;
    this.streaming = false;
    if (this.hrTimer) clearInterval(this.hrTimer);
    this.hrTimer = null;
  }

  override onRead(service: string, characteristic: string): Uint8Array | null {
    if (service === SIM_HUAMI.fee0 && characteristic === SIM_HUAMI.battery) {
      const b = new Uint8Array(20);
      b[0] = 0x0f;
      b[1] = this.opts.battery ?? 77;
      b[2] = 0x00;
      return b;
    }
    if (service === SIM_HUAMI.fee0 && characteristic === SIM_HUAMI.time) {
      const w = wallClock(this.bandNow(), this.tzOffsetMin);
      return Uint8Array.of(
        w.y & 0xff,
        w.y >> 8,
        w.mo,
        w.d,
        w.h,
        w.mi,
        w.s,
        w.dow,
        0,
        0,
        (this.tzOffsetMin / 15) & 0xff,
      );
    }
    if (service === SIM_HUAMI.fee0 && characteristic === SIM_HUAMI.steps) {
      return Uint8Array.of(0x0c, 0x10, 0x27, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }
    return null;
  }

  override onWrite(service: string, characteristic: string, data: Uint8Array): void {
    super.onWrite(service, characteristic, data);
    if (service === SIM_HUAMI.fee1 && characteristic === SIM_HUAMI.auth) this.auth(data);
    else if (service === SIM_HUAMI.fee0 && characteristic === SIM_HUAMI.fetch) this.fetch(data);
    else if (service === SIM_HUAMI.fee0 && characteristic === SIM_HUAMI.time) this.setTime(data);
    else if (service === SIM_HUAMI.hr && characteristic === SIM_HUAMI.hrcp) this.hrControl(data);
  }

  private reply(...bytes: number[]): void {
    this.notify(SIM_HUAMI.fee1, SIM_HUAMI.auth, Uint8Array.from(bytes));
  }

  private auth(d: Uint8Array): void {
    const crypt = this.opts.cryptFlags !== 0;
    const op = d[0];
    if (op === 0x01 && !crypt && d.length === 18 && d[1] === this.opts.authFlags) {
      if (this.opts.refuseKey) {
        this.reply(0x10, 0x01, 0x04);
        return;
      }
      this.key = d.slice(2);
      this.opts.onKey?.(this.key);
      this.reply(0x10, 0x01, 0x01);
      return;
    }
    const isRandomRequest = crypt
      ? d.length === 5 && d[0] === 0x82 && d[1] === 0x00 && d[2] === 0x02
      : d.length === 2 && d[0] === 0x02 && d[1] === this.opts.authFlags;
    if (isRandomRequest) {
      if (!this.key) {
        this.reply(0x10, d[0]!, 0x04);
        return;
      }
      this.challenge = new Uint8Array(randomBytes(16));
      this.reply(0x10, d[0]!, 0x01, ...this.challenge);
      return;
    }
    const answerOp = crypt ? 0x83 : 0x03;
    if (op === answerOp && d.length === 18) {
      const ok =
        this.key !== null &&
        this.challenge !== null &&
        Buffer.from(aesEcb(this.key, this.challenge)).equals(Buffer.from(d.subarray(2)));
      this.challenge = null;
      this.authenticated = ok;
      // Mi Band 4 class firmware reports a wrong key as 0x08 (harbour-amazfish #375), older ones as 0x04.
      this.reply(0x10, answerOp, ok ? 0x01 : crypt ? 0x08 : 0x04);
      return;
    }
    this.reply(0x10, op ?? 0, 0x02);
  }

  private control(...bytes: number[]): void {
    this.notify(SIM_HUAMI.fee0, SIM_HUAMI.fetch, Uint8Array.from(bytes));
  }

  private time8(utcMs: number): number[] {
    const w = wallClock(utcMs, this.tzOffsetMin);
    return [w.y & 0xff, w.y >> 8, w.mo, w.d, w.h, w.mi, 0x00, (this.tzOffsetMin / 15) & 0xff];
  }

  private fetch(d: Uint8Array): void {
    if (!this.authenticated || this.opts.fetchSilent) return;
    if (d[0] === 0x01 && d[1] === 0x01 && d.length >= 10) {
      const y = d[2]! | (d[3]! << 8);
      const tzRaw = d[9]!;
      const tz = (tzRaw >= 0x80 ? tzRaw - 0x100 : tzRaw) * 15;
      const since = Date.UTC(y, d[4]! - 1, d[5]!, d[6]!, d[7]!) - tz * 60_000;
      this.fetchRequests.push(since);
      // Records exist for every full minute from historyStart (band clock) to the band's current minute.
      const first = Math.max(since, this.opts.historyStart + this.clockOffsetMs);
      const start = Math.ceil(first / 60_000) * 60_000;
      const end = Math.floor(this.bandNow() / 60_000) * 60_000;
      const available = Math.max(0, (end - start) / 60_000);
      const count = Math.min(available, this.opts.recordsPerRound ?? 1440);
      this.pending = { start, count };
      const len = count * 4;
      this.control(
        0x10,
        0x01,
        0x01,
        len & 0xff,
        (len >> 8) & 0xff,
        (len >> 16) & 0xff,
        len >>> 24,
        ...this.time8(start),
      );
      return;
    }
    if (d[0] === 0x02 && d.length === 1 && this.pending && !this.streaming) {
      this.stream(this.pending);
      return;
    }
    if (d[0] === 0x03) {
      this.acks++;
      this.pending = null;
      this.control(0x10, 0x03, 0x01);
    }
  }

  private stream(p: { start: number; count: number }): void {
    this.streaming = true;
    const bytes = new Uint8Array(p.count * 4);
    const m0 = p.start / 60_000;
    for (let i = 0; i < p.count; i++) bytes.set(simActivityRecord(m0 + i), i * 4);
    let off = 0;
    let counter = 0;
    const step = () => {
      if (!this.isConnected || !this.streaming) return;
      if (off >= bytes.length) {
        this.streaming = false;
        this.control(0x10, 0x02, 0x01);
        return;
      }
      const idx = this.packetsSent++;
      if (this.opts.disconnectAfterPackets !== undefined && idx === this.opts.disconnectAfterPackets) {
        this.opts.disconnectAfterPackets = undefined;
        this.hangUp('remote user terminated connection');
        return;
      }
      if (this.opts.emptyPacketAt !== undefined && idx === this.opts.emptyPacketAt) {
        this.opts.emptyPacketAt = undefined;
        this.notify(SIM_HUAMI.fee0, SIM_HUAMI.activity, new Uint8Array(0));
        setImmediate(step);
        return;
      }
      if (this.opts.counterGapAtPacket !== undefined && idx === this.opts.counterGapAtPacket) {
        this.opts.counterGapAtPacket = undefined;
        counter++;
      }
      const n = Math.min(19, bytes.length - off);
      const pkt = new Uint8Array(n + 1);
      pkt[0] = counter & 0xff;
      pkt.set(bytes.subarray(off, off + n), 1);
      counter++;
      off += n;
      this.notify(SIM_HUAMI.fee0, SIM_HUAMI.activity, pkt);
      setImmediate(step);
    };
    setImmediate(step);
  }

  private setTime(d: Uint8Array): void {
    if (d.length < 7) return;
    const tzRaw = d.length >= 11 ? d[10]! : 0;
    const tz = (tzRaw >= 0x80 ? tzRaw - 0x100 : tzRaw) * 15;
    const utc = Date.UTC(d[0]! | (d[1]! << 8), d[2]! - 1, d[3]!, d[4]!, d[5]!, d[6]!) - tz * 60_000;
    this.tzOffsetMin = tz;
    this.clockOffsetMs = Math.round((utc - this.opts.now()) / 1000) * 1000;
  }

  private hrControl(d: Uint8Array): void {
    if (!this.authenticated || d[0] !== 0x15) return;
    if (d[1] === 0x01 && d[2] === 0x01) {
      if (this.hrTimer) clearInterval(this.hrTimer);
      let i = 0;
      this.hrTimer = setInterval(() => {
        this.notify(SIM_HUAMI.hr, SIM_HUAMI.hrm, Uint8Array.of(0x00, 68 + (i++ % 8)));
      }, this.opts.hrIntervalMs ?? 1000);
      this.hrTimer.unref();
    } else if (d[1] === 0x01 && d[2] === 0x00 && this.hrTimer) {
      clearInterval(this.hrTimer);
      this.hrTimer = null;
    }
  }
}
