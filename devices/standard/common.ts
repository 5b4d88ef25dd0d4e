/**
 * Building blocks shared by every definition that speaks the Bluetooth SIG profiles: Battery (0x180F),
 * Device Information (0x180A), Current Time (0x1805), and a "collect indications until quiet" recipe step.
 * Layouts: Bluetooth SIG GATT XML (see docs/devices.md for sources).
 */
import {
  ByteReader,
  type CharacteristicSpec,
  type DateTimeFields,
  type Decoder,
  DeviceError,
  type DeviceSession,
  encodeDateTime,
  fieldsAt,
  isValidDateTime,
  localToUtc,
  MalformedError,
  type Reading,
  readDateTime,
  type ServiceSpec,
  type Step,
  step,
  TruncatedError,
  toHex,
  tzOffsetMinutes,
} from '../../src/sdk/index.js';

/** A bad frame (short or inconsistent): counted and skipped, never fatal. */
export function isFrameError(e: unknown): e is TruncatedError | MalformedError {
  return e instanceof TruncatedError || e instanceof MalformedError;
}

export const SVC = {
  battery: '180f',
  deviceInformation: '180a',
  currentTime: '1805',
  heartRate: '180d',
  bloodPressure: '1810',
  weightScale: '181d',
  bodyComposition: '181b',
  glucose: '1808',
} as const;

export const CHR = {
  batteryLevel: '2a19',
  manufacturerName: '2a29',
  modelNumber: '2a24',
  serialNumber: '2a25',
  hardwareRevision: '2a27',
  firmwareRevision: '2a26',
  softwareRevision: '2a28',
  systemId: '2a23',
  pnpId: '2a50',
  currentTime: '2a2b',
  localTimeInformation: '2a0f',
  heartRateMeasurement: '2a37',
  bodySensorLocation: '2a38',
  heartRateControlPoint: '2a39',
  bloodPressureMeasurement: '2a35',
  intermediateCuffPressure: '2a36',
  bloodPressureFeature: '2a49',
  weightScaleFeature: '2a9e',
  weightMeasurement: '2a9d',
  bodyCompositionFeature: '2a9b',
  bodyCompositionMeasurement: '2a9c',
  glucoseMeasurement: '2a18',
  glucoseMeasurementContext: '2a34',
  glucoseFeature: '2a51',
  recordAccessControlPoint: '2a52',
} as const;

// ---------------------------------------------------------------------------------------------------------
// Battery Level 0x2A19: uint8 percentage 0–100.
// ---------------------------------------------------------------------------------------------------------

export const decodeBatteryLevel: Decoder = (r) => {
  const level = r.u8();
  if (level > 100) throw new MalformedError(`battery level ${level} > 100`);
  return [{ kind: 'battery', value: level }];
};

export const batteryService: ServiceSpec = {
  uuid: SVC.battery,
  name: 'Battery',
  optional: true,
  characteristics: [{ uuid: CHR.batteryLevel, name: 'Battery Level', decode: decodeBatteryLevel }],
};

// ---------------------------------------------------------------------------------------------------------
// Device Information 0x180A: optional read-only strings, System ID and PnP ID.
// ---------------------------------------------------------------------------------------------------------

const DIS_STRINGS: [string, string][] = [
  [CHR.manufacturerName, 'manufacturer'],
  [CHR.modelNumber, 'model'],
  [CHR.serialNumber, 'serial'],
  [CHR.hardwareRevision, 'hardware'],
  [CHR.firmwareRevision, 'firmware'],
  [CHR.softwareRevision, 'software'],
];

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A DIS UTF-8 string; some devices pad with NULs, which are trimmed. */
export function decodeDisString(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return utf8.decode(bytes.subarray(0, end)).trim();
}

/** PnP ID 0x2A50: vendor id source (1 = SIG, 2 = USB), vendor id, product id, product version (LE16 each). */
export function decodePnpId(r: ByteReader): { source: number; vendorId: number; productId: number; version: number } {
  return { source: r.u8(), vendorId: r.u16le(), productId: r.u16le(), version: r.u16le() };
}

export const deviceInformationService: ServiceSpec = {
  uuid: SVC.deviceInformation,
  name: 'Device Information',
  optional: true,
  characteristics: [
    ...DIS_STRINGS.map(([uuid, name]): CharacteristicSpec => ({ uuid, name })),
    { uuid: CHR.systemId, name: 'System ID' },
    { uuid: CHR.pnpId, name: 'PnP ID' },
  ],
};

/** Read whichever DIS characteristics the device has and remember them on the device record. */
export const readDeviceInformation: Step = step.run('device-information', async (s: DeviceSession) => {
  const info: Record<string, string> = {};
  for (const [uuid, key] of DIS_STRINGS) {
    if (s.has(SVC.deviceInformation, uuid)) {
      const v = decodeDisString(await s.read(SVC.deviceInformation, uuid));
      if (v) info[key] = v;
    }
  }
  if (s.has(SVC.deviceInformation, CHR.systemId)) {
    info.systemId = toHex(await s.read(SVC.deviceInformation, CHR.systemId));
  }
  if (s.has(SVC.deviceInformation, CHR.pnpId)) {
    const raw = await s.read(SVC.deviceInformation, CHR.pnpId);
    try {
      const p = decodePnpId(new ByteReader(raw));
      info.pnp = `${p.source === 1 ? 'bt' : 'usb'}:${p.vendorId.toString(16).padStart(4, '0')}:${p.productId
        .toString(16)
        .padStart(4, '0')}:${p.version}`;
    } catch (e) {
      if (!isFrameError(e)) throw e;
      s.dropped('pnp-id', raw);
    }
  }
  if (Object.keys(info).length > 0) s.setInfo(info);
});

// ---------------------------------------------------------------------------------------------------------
// Current Time 0x2A2B (10 bytes): Date Time, day of week (1 = Monday … 7 = Sunday, 0 unknown),
// Fractions256, Adjust Reason. Huami bands append an 11th byte: UTC offset in 15-minute units.
// ---------------------------------------------------------------------------------------------------------

export interface CurrentTime {
  dateTime: DateTimeFields;
  dayOfWeek: number;
  fractions256: number;
  adjustReason: number;
  /** Minutes east of UTC when the device sent the Huami 11-byte form, else undefined. */
  tzOffsetMinutes?: number;
}

export function decodeCurrentTime(r: ByteReader): CurrentTime {
  const dateTime = readDateTime(r);
  const dayOfWeek = r.u8();
  const fractions256 = r.u8();
  const adjustReason = r.u8();
  if (dayOfWeek > 7) throw new MalformedError(`day of week ${dayOfWeek}`);
  const out: CurrentTime = { dateTime, dayOfWeek, fractions256, adjustReason };
  if (!r.done) {
    const tz = r.u8();
    out.tzOffsetMinutes = (tz >= 0x80 ? tz - 0x100 : tz) * 15;
  }
  return out;
}

/**
 * Encode a Current Time value for `utcMs` as wall-clock time at `offsetMinutes`. `withTz` appends the
 * Huami time-zone byte (offset / 15 min, rounded toward zero to whole quarter hours).
 */
export function encodeCurrentTime(utcMs: number, offsetMinutes: number, adjustReason = 0x01, withTz = false) {
  const f = fieldsAt(utcMs, offsetMinutes);
  const frac = Math.floor((((utcMs % 1000) + 1000) % 1000) / (1000 / 256));
  const base = [...encodeDateTime(f), f.dayOfWeek, frac, adjustReason];
  if (withTz) base.push(Math.trunc(offsetMinutes / 15) & 0xff);
  return Uint8Array.from(base);
}

/** The UTC instant a Current Time value stands for, using its own tz byte when present. */
export function currentTimeToUtc(ct: CurrentTime, timeZone: string): number {
  if (!isValidDateTime(ct.dateTime)) throw new MalformedError('device clock is not set');
  const fracMs = Math.round((ct.fractions256 * 1000) / 256);
  if (ct.tzOffsetMinutes !== undefined) {
    const d = ct.dateTime;
    return Date.UTC(d.year, d.month - 1, d.day, d.hours, d.minutes, d.seconds) - ct.tzOffsetMinutes * 60_000 + fracMs;
  }
  return localToUtc(ct.dateTime, timeZone) + fracMs;
}

export const currentTimeService: ServiceSpec = {
  uuid: SVC.currentTime,
  name: 'Current Time',
  optional: true,
  characteristics: [{ uuid: CHR.currentTime, name: 'Current Time' }],
};

/**
 * Read the device clock (if the device has CTS), record the drift so device-stamped readings are corrected,
 * then set the clock to hub time in the hub's zone (writing fails silently on read-only CTS servers).
 */
export function syncClock(service: string = SVC.currentTime, withTz = false): Step {
  return step.run('clock', async (s) => {
    if (!s.has(service, CHR.currentTime)) return;
    const raw = await s.read(service, CHR.currentTime);
    try {
      const ct = decodeCurrentTime(new ByteReader(raw));
      s.clockDriftMs = s.now() - currentTimeToUtc(ct, s.context.timeZone);
    } catch (e) {
      if (!isFrameError(e)) throw e;
      s.dropped('current-time', raw);
    }
    const now = s.now();
    await s.write(
      service,
      CHR.currentTime,
      encodeCurrentTime(now, tzOffsetMinutes(now, s.context.timeZone), 1, withTz),
    );
  });
}

// ---------------------------------------------------------------------------------------------------------
// "Collect indications until quiet": blood-pressure monitors and scales send their stored measurements as
// indications once the hub subscribes, then go quiet (or disconnect).
// ---------------------------------------------------------------------------------------------------------

export function collectUntilQuiet(service: string, characteristic: string, decode: Decoder, name: string): Step {
  return step.run(`collect-${name}`, async (s) => {
    const quietMs = s.options.quietMs ?? 3000;
    const max = s.options.maxRecords ?? 1000;
    await s.subscribe(service, characteristic);
    const all: Reading[] = [];
    for (let i = 0; i < max; i++) {
      let frame: Uint8Array;
      try {
        frame = await s.next(service, characteristic, quietMs);
      } catch (e) {
        // Quiet for quietMs, or the device hung up after sending its stored records: either ends the transfer.
        if (e instanceof DeviceError && (e.code === 'timeout' || e.code === 'disconnected')) break;
        throw e;
      }
      try {
        all.push(...decode(new ByteReader(frame), s.context));
      } catch (e) {
        if (!isFrameError(e)) throw e;
        s.dropped(e.name === 'TruncatedError' ? 'truncated' : 'malformed', frame);
      }
    }
    if (all.length > 0) s.commit(all);
  });
}
