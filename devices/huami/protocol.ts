/**
 * Huami (Xiaomi Mi Band 2/3/4, Amazfit Bip) protocol: UUIDs, pure codecs, and the two recipe hooks that do
 * not fit plain steps: the AES-128-ECB challenge/response auth, and the chunked activity-history fetch.
 * Facts (UUIDs, byte layouts, command bytes) from the research notes (docs/devices.md lists the sources).
 *
 * Auth, on 00000009-0000-3512-2118-0009af100700 in service FEE1 (replies are notifications `10 <req> <status>`):
 *   1. (first pairing, cryptFlags 0 only) `01 <authFlags> <key16>` → `10 01 01`
 *   2. request a challenge: `02 <authFlags>`, or `82 00 02 01 00` when cryptFlags = 0x80 → `10 02|82 01 <rand16>`
 *   3. answer AES-128-ECB(key, rand): `03|83 <authFlags> <cipher16>` → `10 03|83 01` ok, `… 04`/`… 08` wrong key
 *
 * Activity fetch, on FEE0 0x0004 (control) and 0x0005 (data):
 *   `01 01 <time8>` → `10 01 01 <length LE32> <start time8>`; `02` starts the transfer; each data notification is
 *   `<counter> <payload>` with a rolling counter from 0; `10 02 01` ends it; `03` acknowledges (band: `10 03 …`).
 *   Records are 4 bytes per minute from the start time: kind, intensity, steps, heart rate.
 *   time8 = year LE16, month, day, hour, minute, 0x00, tz (signed, 15-minute units).
 */
import {
  ByteReader,
  type Decoder,
  DeviceError,
  type DeviceSession,
  fieldsAt,
  MalformedError,
  type Reading,
  type ServiceSpec,
  tzOffsetMinutes,
} from '../../src/sdk/index.js';
import { CHR, decodeCurrentTime, encodeCurrentTime, isFrameError, SVC } from '../standard/common.js';
import { decodeHeartRateMeasurement } from '../standard/heartrate.js';

export function huamiUuid(short: number): string {
  return `0000${short.toString(16).padStart(4, '0')}0000351221180009af100700`;
}

export const HUAMI = {
  service: 'fee0',
  authService: 'fee1',
  auth: huamiUuid(0x0009),
  fetch: huamiUuid(0x0004),
  activity: huamiUuid(0x0005),
  battery: huamiUuid(0x0006),
  realtimeSteps: huamiUuid(0x0007),
  config: huamiUuid(0x0003),
  /** The bands expose the standard Current Time characteristic inside FEE0. */
  currentTime: CHR.currentTime,
  hrService: SVC.heartRate,
  hrMeasurement: CHR.heartRateMeasurement,
  hrControl: CHR.heartRateControlPoint,
} as const;

export interface HuamiModel {
  /** 0x08 for Mi Band 2 / Bip, 0x00 otherwise. */
  authFlags: number;
  /** 0x80 for Mi Band 4 class (key from the vendor server), 0x00 otherwise. */
  cryptFlags: number;
  /** Mi Band 2 keeps only the low nibble of the activity kind. */
  kindMask: number;
}

export const AUTH_OK = 0x01;

// ---------------------------------------------------------------------------------------------------------
// Auth codecs
// ---------------------------------------------------------------------------------------------------------

export function encodeSendKey(m: HuamiModel, key: Uint8Array): Uint8Array {
  if (key.length !== 16) throw new MalformedError('auth key must be 16 bytes');
  const out = new Uint8Array(18);
  out[0] = 0x01;
  out[1] = m.authFlags;
  out.set(key, 2);
  return out;
}

export function encodeRequestRandom(m: HuamiModel): Uint8Array {
  return m.cryptFlags ? Uint8Array.of(0x80 | 0x02, 0x00, 0x02, 0x01, 0x00) : Uint8Array.of(0x02, m.authFlags);
}

export function encodeAnswer(m: HuamiModel, cipher: Uint8Array): Uint8Array {
  if (cipher.length !== 16) throw new MalformedError('auth answer must be 16 bytes');
  const out = new Uint8Array(18);
  out[0] = m.cryptFlags | 0x03;
  out[1] = m.authFlags;
  out.set(cipher, 2);
  return out;
}

export interface AuthResponse {
  /** The request byte echoed (0x01/0x02/0x03 or 0x82/0x83). */
  request: number;
  status: number;
  /** The 16-byte challenge, in a successful reply to a random request. */
  random?: Uint8Array;
}

export function decodeAuthResponse(r: ByteReader): AuthResponse {
  const tag = r.u8();
  if (tag !== 0x10) throw new MalformedError(`auth reply starts with 0x${tag.toString(16)}, not 0x10`);
  const request = r.u8();
  const status = r.u8();
  const out: AuthResponse = { request, status };
  if ((request & 0x0f) === 0x02 && status === AUTH_OK) out.random = r.bytesView(16).slice();
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Time codecs
// ---------------------------------------------------------------------------------------------------------

/** The 8-byte minute-precision form used by fetch commands: wall clock at `offsetMin` plus the tz byte. */
export function encodeFetchTime(utcMs: number, offsetMin: number): Uint8Array {
  const f = fieldsAt(utcMs, offsetMin);
  return Uint8Array.of(
    f.year & 0xff,
    f.year >> 8,
    f.month,
    f.day,
    f.hours,
    f.minutes,
    0x00,
    Math.trunc(offsetMin / 15) & 0xff,
  );
}

/** Decode the 8-byte form back to a UTC instant (the tz byte says which wall clock it is). */
export function decodeFetchTime(r: ByteReader): number {
  const year = r.u16le();
  const month = r.u8();
  const day = r.u8();
  const hour = r.u8();
  const minute = r.u8();
  const second = r.u8();
  const tzRaw = r.u8();
  const tz = (tzRaw >= 0x80 ? tzRaw - 0x100 : tzRaw) * 15;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59 || year < 2000) {
    throw new MalformedError('bad fetch time');
  }
  return Date.UTC(year, month - 1, day, hour, minute, second) - tz * 60_000;
}

/** Set-time value: the 11-byte Current Time with the Huami tz byte. */
export function encodeHuamiTime(utcMs: number, offsetMin: number): Uint8Array {
  return encodeCurrentTime(utcMs, offsetMin, 0x00, true);
}

// ---------------------------------------------------------------------------------------------------------
// Fetch codecs
// ---------------------------------------------------------------------------------------------------------

export const FETCH = { start: 0x01, transfer: 0x02, ack: 0x03, activityType: 0x01 } as const;

export function encodeFetchStart(dataType: number, sinceUtc: number, offsetMin: number): Uint8Array {
  const t = encodeFetchTime(sinceUtc, offsetMin);
  const out = new Uint8Array(2 + t.length);
  out[0] = FETCH.start;
  out[1] = dataType;
  out.set(t, 2);
  return out;
}

export type ControlReply =
  | { type: 'start'; status: number; length: number; start: number }
  | { type: 'end'; status: number }
  | { type: 'ack'; status: number };

/** Replies on the fetch control characteristic: `10 01 01 <len LE32> <time8>`, `10 02 01`, `10 03 …`. */
export function decodeControlReply(r: ByteReader): ControlReply {
  const tag = r.u8();
  if (tag !== 0x10) throw new MalformedError(`control reply starts with 0x${tag.toString(16)}`);
  const op = r.u8();
  const status = r.u8();
  if (op === FETCH.start) {
    if (status !== 0x01) return { type: 'start', status, length: 0, start: 0 };
    const length = r.u32le();
    const start = decodeFetchTime(r);
    return { type: 'start', status, length, start };
  }
  if (op === FETCH.transfer) return { type: 'end', status };
  if (op === FETCH.ack) return { type: 'ack', status };
  throw new MalformedError(`unknown control reply 0x${op.toString(16)}`);
}

/** Valid heart rates in Huami history; anything else (0, 255 …) means "not measured". */
export function isMeasuredHeartRate(bpm: number): boolean {
  return bpm >= 10 && bpm <= 250;
}

/**
 * Decode `count` 4-byte records from `bytes` at `offset`, the first stamped `startUtc`. Appends to `out`
 * (one array for the whole transfer: no per-record allocation besides the readings themselves).
 */
export function decodeActivityRecords(
  bytes: Uint8Array,
  offset: number,
  count: number,
  startUtc: number,
  kindMask: number,
  out: Reading[],
): void {
  if (offset < 0 || offset + count * 4 > bytes.length) throw new MalformedError('activity records out of range');
  for (let i = 0; i < count; i++) {
    const p = offset + i * 4;
    const ts = startUtc + i * 60_000;
    out.push({ kind: 'activity_kind', value: bytes[p]! & kindMask, ts });
    out.push({ kind: 'activity_intensity', value: bytes[p + 1]!, ts });
    out.push({ kind: 'steps', value: bytes[p + 2]!, ts });
    const hr = bytes[p + 3]!;
    if (isMeasuredHeartRate(hr)) out.push({ kind: 'heart_rate', value: hr, ts });
  }
}

/** Battery info 0x0006: byte 1 level %, byte 2 state (0 normal, 1 charging); the rest is charge history. */
export const decodeHuamiBattery: Decoder = (r) => {
  r.u8();
  const level = r.u8();
  const state = r.u8();
  if (level > 100) throw new MalformedError(`battery level ${level}`);
  return [{ kind: 'battery', value: level, meta: { charging: state === 1 } }];
};

// ---------------------------------------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------------------------------------

async function authReply(s: DeviceSession, request: number): Promise<AuthResponse> {
  // Ignore stray frames (up to a few) that are not the reply to this request.
  for (let i = 0; i < 8; i++) {
    const frame = await s.next(HUAMI.authService, HUAMI.auth, s.options.authTimeoutMs);
    try {
      const rep = decodeAuthResponse(new ByteReader(frame));
      if ((rep.request & 0x0f) === (request & 0x0f)) return rep;
      s.dropped('unexpected-auth-reply', frame);
    } catch (e) {
      if (!isFrameError(e)) throw e;
      s.dropped(e.name === 'TruncatedError' ? 'truncated' : 'malformed', frame);
    }
  }
  throw new DeviceError('protocol', 'the band never answered the auth request');
}

/** Authenticate: optionally hand the band a new key (first pairing), then answer its challenge. */
export function authenticate(m: HuamiModel, sendKey: boolean) {
  return async (s: DeviceSession): Promise<void> => {
    const key = s.authKey;
    if (key?.length !== 16) {
      throw new DeviceError('auth_key_required', 'this band needs its 16-byte auth key (32 hex digits)');
    }
    await s.subscribe(HUAMI.authService, HUAMI.auth);
    s.drain(HUAMI.authService, HUAMI.auth);
    if (sendKey && m.cryptFlags === 0) {
      s.progress('tap the band when it vibrates to confirm pairing');
      await s.write(HUAMI.authService, HUAMI.auth, encodeSendKey(m, key));
      const rep = await authReply(s, 0x01);
      if (rep.status !== AUTH_OK) {
        throw new DeviceError(
          'auth_failed',
          `the band refused the new key (status 0x${hex(rep.status)}); tap the band to confirm`,
        );
      }
    }
    await s.write(HUAMI.authService, HUAMI.auth, encodeRequestRandom(m));
    const challenge = await authReply(s, 0x02);
    if (challenge.status !== AUTH_OK || !challenge.random) {
      throw new DeviceError(
        'auth_failed',
        `the band refused the challenge request (status 0x${hex(challenge.status)})`,
      );
    }
    const cipher = s.aes128EcbEncrypt(key, challenge.random);
    await s.write(HUAMI.authService, HUAMI.auth, encodeAnswer(m, cipher));
    const result = await authReply(s, 0x03);
    if (result.status !== AUTH_OK) {
      throw new DeviceError(
        'auth_failed',
        `wrong auth key: the band rejected the answer (status 0x${hex(result.status)}); check the key`,
      );
    }
    s.progress('authenticated');
  };
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

const DAY = 86_400_000;

/**
 * Read the band clock (drift), fetch per-minute history since the cursor in rounds, and set the clock.
 * Samples are committed with the cursor in batches, so a disconnect keeps every complete record before it
 * and the next sync resumes right after the last one.
 */
export function fetchActivity(m: HuamiModel) {
  return async (s: DeviceSession): Promise<void> => {
    const F = HUAMI.service;
    const ctrl = { service: F, characteristic: HUAMI.fetch };
    const data = { service: F, characteristic: HUAMI.activity };
    const timeoutMs = s.options.fetchTimeoutMs;
    const maxRounds = s.options.maxRounds ?? 100;
    const batchRecords = s.options.batchRecords ?? 1440;

    // Band clock → drift, rounded to whole minutes so records stay on the minute grid.
    const ct = decodeCurrentTime(new ByteReader(await s.read(F, HUAMI.currentTime)));
    const d = ct.dateTime;
    const bandNow =
      Date.UTC(d.year, d.month - 1, d.day, d.hours, d.minutes, d.seconds) - (ct.tzOffsetMinutes ?? 0) * 60_000;
    const drift = Math.round((s.now() - bandNow) / 60_000) * 60_000;
    s.clockDriftMs = drift;

    await s.subscribe(ctrl.service, ctrl.characteristic);
    let cursor = s.cursor('activity') ?? Math.floor((bandNow - 100 * DAY) / 60_000) * 60_000;
    let dataSubscribed = false;
    let total = 0;

    for (let round = 0; round < maxRounds; round++) {
      s.drain(ctrl.service, ctrl.characteristic);
      s.drain(data.service, data.characteristic);
      const offset = tzOffsetMinutes(cursor, s.context.timeZone);
      await s.write(F, HUAMI.fetch, encodeFetchStart(FETCH.activityType, cursor, offset));
      const start = decodeControlReply(new ByteReader(await s.next(ctrl.service, ctrl.characteristic, timeoutMs)));
      if (start.type !== 'start' || start.status !== 0x01) {
        throw new DeviceError('protocol', `the band refused the history request (status 0x${hex(start.status)})`);
      }
      if (start.length === 0) {
        await s.write(F, HUAMI.fetch, Uint8Array.of(FETCH.ack));
        break;
      }
      if (!dataSubscribed) {
        await s.subscribe(data.service, data.characteristic);
        dataSubscribed = true;
      }
      await s.write(F, HUAMI.fetch, Uint8Array.of(FETCH.transfer));

      // Records may straddle notifications: keep the bytes of an incomplete record in `carry`.
      const carry = new Uint8Array(3);
      let carryLen = 0;
      let counter = 0;
      let received = 0;
      let done = 0; // records decoded this round
      let pending: Reading[] = [];
      let pendingRecords = 0;
      const flush = () => {
        if (pendingRecords === 0) return;
        cursor = start.start + done * 60_000;
        s.commit(pending, { stream: 'activity', value: cursor });
        total += pendingRecords;
        pending = [];
        pendingRecords = 0;
      };
      try {
        for (;;) {
          const n = await s.nextOf([data, ctrl], timeoutMs);
          if (n.characteristic === HUAMI.fetch) {
            const end = decodeControlReply(new ByteReader(n.data));
            if (end.type !== 'end') continue;
            if (end.status !== 0x01)
              throw new DeviceError('protocol', `history transfer failed (0x${hex(end.status)})`);
            break;
          }
          const frame = n.data;
          if (frame.length < 1) {
            s.dropped('empty', frame);
            continue;
          }
          if (frame[0] !== (counter & 0xff)) {
            throw new DeviceError(
              'protocol',
              `history packet counter jumped from ${counter & 0xff} to ${frame[0]}; resuming from the last full minute`,
            );
          }
          counter++;
          const payloadLen = frame.length - 1;
          received += payloadLen;
          // Join carry + payload only when a record straddles; otherwise decode in place.
          let buf = frame;
          let off = 1;
          let len = payloadLen;
          if (carryLen > 0) {
            buf = new Uint8Array(carryLen + payloadLen);
            buf.set(carry.subarray(0, carryLen), 0);
            buf.set(frame.subarray(1), carryLen);
            off = 0;
            len = buf.length;
          }
          const whole = len >> 2;
          decodeActivityRecords(buf, off, whole, start.start + done * 60_000, m.kindMask, pending);
          done += whole;
          pendingRecords += whole;
          carryLen = len - whole * 4;
          carry.set(buf.subarray(off + whole * 4, off + len), 0);
          if (pendingRecords >= batchRecords) flush();
        }
      } catch (e) {
        // Keep every complete record received before the failure, then report it.
        flush();
        throw e;
      }
      flush();
      if (received !== start.length) s.dropped('short-transfer', Uint8Array.of());
      await s.write(F, HUAMI.fetch, Uint8Array.of(FETCH.ack));
      try {
        await s.next(ctrl.service, ctrl.characteristic, timeoutMs);
      } catch (e) {
        if (!(e instanceof DeviceError && e.code === 'timeout')) throw e;
      }
      if (done === 0 || cursor >= bandNow - 60_000) break;
    }
    s.progress(`${total} minute(s) of activity`);

    // Set the band clock to hub time; the cursor moves with it so the next fetch neither skips nor repeats.
    const now = s.now();
    await s.write(F, HUAMI.currentTime, encodeHuamiTime(now, tzOffsetMinutes(now, s.context.timeZone)));
    if (drift !== 0) s.commit([], { stream: 'activity', value: cursor + drift });
  };
}

/** Services every Huami band in this family exposes. */
export function huamiServices(): ServiceSpec[] {
  return [
    {
      uuid: HUAMI.service,
      name: 'Mi Band',
      characteristics: [
        { uuid: HUAMI.fetch, name: 'Fetch control' },
        { uuid: HUAMI.activity, name: 'Activity data' },
        { uuid: HUAMI.battery, name: 'Battery info', decode: decodeHuamiBattery },
        { uuid: HUAMI.realtimeSteps, name: 'Realtime steps' },
        { uuid: HUAMI.currentTime, name: 'Current Time' },
      ],
    },
    { uuid: HUAMI.authService, name: 'Mi Band 2 (auth)', characteristics: [{ uuid: HUAMI.auth, name: 'Auth' }] },
    {
      uuid: HUAMI.hrService,
      name: 'Heart Rate',
      characteristics: [
        { uuid: HUAMI.hrMeasurement, name: 'Heart Rate Measurement', decode: decodeHeartRateMeasurement },
        { uuid: HUAMI.hrControl, name: 'Heart Rate Control Point' },
      ],
    },
  ];
}

export const HR_COMMAND = {
  manualStop: Uint8Array.of(0x15, 0x02, 0x00),
  continuousStart: Uint8Array.of(0x15, 0x01, 0x01),
  continuousStop: Uint8Array.of(0x15, 0x01, 0x00),
} as const;

export const HUAMI_COMPANION = {
  apps: ['com.xiaomi.hm.health', 'com.huami.watch.hmwatchmanager', 'com.mi.health'],
  domains: ['huami.com', 'amazfit.com', 'zepp.com', 'mi.com', 'xiaomi.com'],
};
