/**
 * FitPro / M4-class cheap bands ("M4…", "M6…", LH716, Sunset 6, Watch7, Fit1900).
 *
 * Transport: the Nordic-UART-style service 6e400001-b5a3-f393-e0a9-e50e24dcca9d; the hub writes to
 * 6e400002 and the band notifies on 6e400003 (frames longer than one notification arrive in pieces).
 * Frame: 0xCD (0xDC for ACKs), length of the rest BE16 (= total − 3), group, 0x01, command,
 * payload length BE16, payload.
 *
 * - Set time (group 0x12, cmd 0x01): BE32 bitfield (year−2000)<<26 | month<<22 | day<<17 | hour<<12 |
 *   minute<<6 | second, in the hub's wall-clock time.
 * - Fetch (group 0x15, cmd 0x06, payload 01): the band sends step packets (cmd 0x02), sleep packets
 *   (cmd 0x03) and day totals (cmd 0x0C, taken as the end of the transfer). Each data packet is ACKed with
 *   `DC 00 05 <group> 01 <frame length BE16> 01`.
 * - Data packets: date BE16 (day bits 0–4, month bits 5–8, year−2000 bits 9+), then records. Step records:
 *   8 bytes BE64 — steps bits 52+, duration bits 48–51, distance bits 32–47, time of day in 15-minute
 *   slots bits 21–31, kind bit 19, calories bits 0–18. Sleep records: 4 bytes, minutes of day in the top
 *   16 bits, sleep kind in the low byte.
 * - Live heart rate (group 0x15, cmd 0x0E): frame bytes 13 SpO2, 17 systolic, 18 diastolic, 19 heart rate.
 */
import {
  ByteReader,
  type Decoder,
  DeviceError,
  type DeviceSession,
  defineDevice,
  fieldsAt,
  localToUtc,
  MalformedError,
  type Reading,
  step,
  tzOffsetMinutes,
} from '../../src/sdk/index.js';
import { batteryService, CHR, decodeBatteryLevel, isFrameError, SVC } from '../standard/common.js';

export const FITPRO = {
  service: '6e400001b5a3f393e0a9e50e24dcca9d',
  tx: '6e400002b5a3f393e0a9e50e24dcca9d',
  rx: '6e400003b5a3f393e0a9e50e24dcca9d',
  group: { general: 0x12, bind: 0x14, sports: 0x15, hr: 0x16, request: 0x1a, buttons: 0x1c, reset: 0x1d, info: 0x20 },
  cmd: { setTime: 0x01, hrMeasure: 0x18, steps: 0x02, sleep: 0x03, fetch: 0x06, dayTotals: 0x0c, realtime: 0x0e },
} as const;

export interface FitProFrame {
  ack: boolean;
  group: number;
  cmd: number;
  payload: Uint8Array;
  /** Total frame length in bytes. */
  length: number;
}

export function encodeFitPro(group: number, cmd: number, payload: Uint8Array | number[]): Uint8Array {
  const p = payload instanceof Uint8Array ? payload : Uint8Array.from(payload);
  const rest = 5 + p.length;
  const out = new Uint8Array(3 + rest);
  out.set([0xcd, rest >> 8, rest & 0xff, group, 0x01, cmd, p.length >> 8, p.length & 0xff], 0);
  out.set(p, 8);
  return out;
}

export function encodeFitProAck(group: number, frameLength: number): Uint8Array {
  return Uint8Array.of(0xdc, 0x00, 0x05, group, 0x01, frameLength >> 8, frameLength & 0xff, 0x01);
}

/** Total length a frame announces in its first 3 bytes, or -1 when fewer than 3 bytes are available. */
export function fitProFrameLength(bytes: Uint8Array): number {
  if (bytes.length < 3) return -1;
  return ((bytes[1]! << 8) | bytes[2]!) + 3;
}

export function decodeFitProFrame(r: ByteReader): FitProFrame {
  const start = r.offset;
  const magic = r.u8();
  if (magic !== 0xcd && magic !== 0xdc) throw new MalformedError(`frame starts with 0x${magic.toString(16)}`);
  const rest = r.u16();
  const body = r.sub(rest);
  const group = body.u8();
  const one = body.u8();
  if (one !== 0x01) throw new MalformedError(`byte 4 is 0x${one.toString(16)}, not 0x01`);
  const cmd = body.u8();
  if (magic === 0xdc) return { ack: true, group, cmd, payload: new Uint8Array(0), length: r.offset - start };
  const plen = body.u16();
  const payload = body.bytesView(plen);
  if (!body.done) throw new MalformedError('payload length does not match frame length');
  return { ack: false, group, cmd, payload, length: r.offset - start };
}

export function encodeFitProTime(utcMs: number, offsetMin: number): Uint8Array {
  const f = fieldsAt(utcMs, offsetMin);
  const v =
    (((f.year - 2000) & 0x3f) * 2 ** 26 +
      (f.month << 22) +
      (f.day << 17) +
      (f.hours << 12) +
      (f.minutes << 6) +
      f.seconds) >>>
    0;
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

export function decodeFitProDate(v: number): { year: number; month: number; day: number } {
  return { year: 2000 + (v >> 9), month: (v >> 5) & 0x0f, day: v & 0x1f };
}

export function encodeFitProDate(year: number, month: number, day: number): number {
  return ((year - 2000) << 9) | (month << 5) | day;
}

function dayStart(v: number, timeZone: string): number {
  const d = decodeFitProDate(v);
  if (d.month < 1 || d.month > 12 || d.day < 1) throw new MalformedError(`bad date 0x${v.toString(16)}`);
  return localToUtc({ year: d.year, month: d.month, day: d.day, hours: 0, minutes: 0, seconds: 0 }, timeZone);
}

/** Step packet payload: date, then 8-byte records. Steps and distance per record slot. */
export function decodeFitProSteps(payload: Uint8Array, timeZone: string): Reading[] {
  const r = new ByteReader(payload);
  const base = dayStart(r.u16(), timeZone);
  if (r.remaining % 8 !== 0) throw new MalformedError('step records are 8 bytes each');
  const out: Reading[] = [];
  while (!r.done) {
    const hi = r.u32();
    const lo = r.u32();
    const steps = hi >>> 20;
    const duration = (hi >>> 16) & 0x0f;
    const distance = hi & 0xffff;
    const slot = (lo >>> 21) & 0x7ff;
    const kind = (lo >>> 19) & 0x01;
    const calories = lo & 0x7ffff;
    if (slot >= 96) throw new MalformedError(`time slot ${slot} is past the end of the day`);
    const ts = base + slot * 15 * 60_000;
    const meta = { duration, kind, caloriesRaw: calories };
    out.push({ kind: 'steps', value: steps, ts, meta }, { kind: 'distance', value: distance, ts, meta });
  }
  return out;
}

export function encodeFitProStepRecord(r: {
  steps: number;
  duration: number;
  distance: number;
  slot: number;
  kind: number;
  calories: number;
}): Uint8Array {
  const hi = ((r.steps & 0xfff) * 2 ** 20 + ((r.duration & 0xf) << 16) + (r.distance & 0xffff)) >>> 0;
  const lo = ((r.slot & 0x7ff) * 2 ** 21 + ((r.kind & 1) << 19) + (r.calories & 0x7ffff)) >>> 0;
  return Uint8Array.of(
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

/** Sleep packet payload: date, then 4-byte records (minutes of day, sleep kind). */
export function decodeFitProSleep(payload: Uint8Array, timeZone: string): Reading[] {
  const r = new ByteReader(payload);
  const base = dayStart(r.u16(), timeZone);
  if (r.remaining % 4 !== 0) throw new MalformedError('sleep records are 4 bytes each');
  const out: Reading[] = [];
  while (!r.done) {
    const minutes = r.u16();
    r.u8();
    const kind = r.u8();
    if (minutes >= 1440) throw new MalformedError(`minute of day ${minutes}`);
    out.push({ kind: 'sleep_kind', value: kind, ts: base + minutes * 60_000 });
  }
  return out;
}

/** Notifications on RX: realtime frames carry heart rate, SpO2 and blood pressure; others carry none. */
export const decodeFitProNotification: Decoder = (r) => {
  const f = decodeFitProFrame(r);
  if (f.ack || f.group !== FITPRO.group.sports || f.cmd !== FITPRO.cmd.realtime) return [];
  // Frame bytes 13/17/18/19 are payload bytes 5/9/10/11.
  if (f.payload.length < 12) throw new MalformedError('realtime frame too short');
  const out: Reading[] = [];
  const spo2 = f.payload[5]!;
  const sys = f.payload[9]!;
  const dia = f.payload[10]!;
  const hr = f.payload[11]!;
  if (hr > 0) out.push({ kind: 'heart_rate', value: hr });
  if (spo2 > 0 && spo2 <= 100) out.push({ kind: 'spo2', value: spo2 });
  if (sys > 0 && dia > 0) out.push({ kind: 'systolic', value: sys }, { kind: 'diastolic', value: dia });
  return out;
};

/** Reassembles frames from notification pieces. */
export class FitProAssembler {
  private buf = new Uint8Array(0);
  push(piece: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buf.length + piece.length);
    joined.set(this.buf, 0);
    joined.set(piece, this.buf.length);
    const frames: Uint8Array[] = [];
    let off = 0;
    for (;;) {
      // Resynchronise on a frame start if junk precedes it.
      while (off < joined.length && joined[off] !== 0xcd && joined[off] !== 0xdc) off++;
      const len = fitProFrameLength(joined.subarray(off));
      if (len < 0 || off + len > joined.length) break;
      frames.push(joined.subarray(off, off + len));
      off += len;
    }
    this.buf = joined.slice(off);
    if (this.buf.length > 4096) throw new MalformedError('frame larger than 4 KiB');
    return frames;
  }
}

async function setTime(s: DeviceSession): Promise<void> {
  const now = s.now();
  const payload = encodeFitProTime(now, tzOffsetMinutes(now, s.context.timeZone));
  await s.write(FITPRO.service, FITPRO.tx, encodeFitPro(FITPRO.group.general, FITPRO.cmd.setTime, payload));
}

/** Request the stored history and store it packet by packet (each packet atomically with its cursor). */
async function fetchHistory(s: DeviceSession): Promise<void> {
  const timeoutMs = s.options.fetchTimeoutMs;
  await s.subscribe(FITPRO.service, FITPRO.rx);
  s.drain(FITPRO.service, FITPRO.rx);
  await s.write(FITPRO.service, FITPRO.tx, encodeFitPro(FITPRO.group.sports, FITPRO.cmd.fetch, [0x01]));
  const asm = new FitProAssembler();
  let stepCursor = s.cursor('steps') ?? -1;
  let sleepCursor = s.cursor('sleep') ?? -1;
  for (let packets = 0; packets < 10_000; packets++) {
    const piece = await s.next(FITPRO.service, FITPRO.rx, timeoutMs);
    let frames: Uint8Array[];
    try {
      frames = asm.push(piece);
    } catch (e) {
      if (!isFrameError(e)) throw e;
      throw new DeviceError('malformed', 'band sent an oversized frame');
    }
    for (const bytes of frames) {
      let f: FitProFrame;
      try {
        f = decodeFitProFrame(new ByteReader(bytes));
      } catch (e) {
        if (!isFrameError(e)) throw e;
        s.dropped('malformed', bytes);
        continue;
      }
      if (f.ack || f.group !== FITPRO.group.sports) continue;
      if (f.cmd === FITPRO.cmd.dayTotals) {
        await s.write(FITPRO.service, FITPRO.tx, encodeFitProAck(f.group, f.length));
        return;
      }
      if (f.cmd !== FITPRO.cmd.steps && f.cmd !== FITPRO.cmd.sleep) continue;
      try {
        if (f.cmd === FITPRO.cmd.steps) {
          const rs = decodeFitProSteps(f.payload, s.context.timeZone).filter((x) => (x.ts ?? 0) > stepCursor);
          const max = rs.reduce((m, x) => Math.max(m, x.ts ?? 0), stepCursor);
          if (rs.length > 0) s.commit(rs, { stream: 'steps', value: max });
          stepCursor = max;
        } else {
          const rs = decodeFitProSleep(f.payload, s.context.timeZone).filter((x) => (x.ts ?? 0) > sleepCursor);
          const max = rs.reduce((m, x) => Math.max(m, x.ts ?? 0), sleepCursor);
          if (rs.length > 0) s.commit(rs, { stream: 'sleep', value: max });
          sleepCursor = max;
        }
      } catch (e) {
        if (!isFrameError(e)) throw e;
        s.dropped('malformed', bytes);
      }
      await s.write(FITPRO.service, FITPRO.tx, encodeFitProAck(f.group, f.length));
    }
  }
  throw new DeviceError('protocol', 'the band never ended its history transfer');
}

export default defineDevice({
  id: 'fitpro-m4',
  vendor: 'FitPro',
  model: 'M4 / M6 class band',
  description: 'Cheap FitPro-app bands: 15-minute steps and distance, sleep phases, live heart rate/SpO2/BP.',
  priority: 5,
  match: [
    { localName: 'M4*' },
    { localName: 'M6*' },
    { localName: 'LH716' },
    { localName: 'Sunset 6' },
    { localName: 'Watch7' },
    { localName: 'Fit1900' },
  ],
  readings: ['steps', 'distance', 'sleep_kind', 'heart_rate', 'spo2', 'systolic', 'diastolic', 'battery'],
  pairing: 'connect',
  pairingHint: 'Disconnect the band from the FitPro app (or turn the phone’s Bluetooth off), then pair. No key.',
  gatt: {
    services: [
      {
        uuid: FITPRO.service,
        name: 'FitPro UART',
        characteristics: [
          { uuid: FITPRO.tx, name: 'TX (write)' },
          { uuid: FITPRO.rx, name: 'RX (notify)', decode: decodeFitProNotification },
        ],
      },
      batteryService,
    ],
    sync: [
      {
        op: 'read',
        service: SVC.battery,
        characteristic: CHR.batteryLevel,
        decode: decodeBatteryLevel,
        optional: true,
      },
      step.run('set-time', setTime),
      step.run('history', fetchHistory),
    ],
    live: {
      service: FITPRO.service,
      characteristic: FITPRO.rx,
      start: [step.write(FITPRO.service, FITPRO.tx, encodeFitPro(FITPRO.group.general, FITPRO.cmd.hrMeasure, [0x01]))],
      stop: [step.write(FITPRO.service, FITPRO.tx, encodeFitPro(FITPRO.group.general, FITPRO.cmd.hrMeasure, [0x00]))],
    },
  },
});
