/**
 * The device-definition SDK (version 1): the only surface that files in `devices/` may import.
 *
 * A definition is data first: advert matchers, the GATT services it uses with pure decoders, and pairing /
 * sync / live recipes made of small steps. Genuinely odd protocols (Huami's auth and chunked history fetch,
 * RACP) use `run` steps: async hooks that receive a narrow `DeviceSession`, never noble or the store.
 */
import type { ByteReader } from './byteReader.js';
import { isValidUuid, normalizeUuid } from './codecs.js';

export const SDK_VERSION = 1;

// ---------------------------------------------------------------------------------------------------------
// Reading kinds: a closed vocabulary with one canonical unit each (decoders convert to it).
// ---------------------------------------------------------------------------------------------------------

export const READING_KINDS = {
  heart_rate: { unit: 'bpm', ucum: '/min', label: 'Heart rate' },
  rr_interval: { unit: 's', ucum: 's', label: 'RR interval' },
  energy_expended: { unit: 'kJ', ucum: 'kJ', label: 'Energy expended' },
  steps: { unit: 'steps', ucum: '{steps}', label: 'Steps' },
  distance: { unit: 'm', ucum: 'm', label: 'Distance' },
  activity_intensity: { unit: 'raw', ucum: '1', label: 'Activity intensity (0–255)' },
  activity_kind: { unit: 'code', ucum: '1', label: 'Activity kind (vendor code)' },
  sleep_kind: { unit: 'code', ucum: '1', label: 'Sleep kind (vendor code)' },
  battery: { unit: '%', ucum: '%', label: 'Battery level' },
  systolic: { unit: 'mmHg', ucum: 'mm[Hg]', label: 'Systolic pressure' },
  diastolic: { unit: 'mmHg', ucum: 'mm[Hg]', label: 'Diastolic pressure' },
  mean_arterial_pressure: { unit: 'mmHg', ucum: 'mm[Hg]', label: 'Mean arterial pressure' },
  cuff_pressure: { unit: 'mmHg', ucum: 'mm[Hg]', label: 'Cuff pressure' },
  pulse_rate: { unit: 'bpm', ucum: '/min', label: 'Pulse rate' },
  spo2: { unit: '%', ucum: '%', label: 'Oxygen saturation' },
  weight: { unit: 'kg', ucum: 'kg', label: 'Body weight' },
  height: { unit: 'm', ucum: 'm', label: 'Height' },
  bmi: { unit: 'kg/m2', ucum: 'kg/m2', label: 'Body mass index' },
  body_fat: { unit: '%', ucum: '%', label: 'Body fat' },
  basal_metabolism: { unit: 'kJ', ucum: 'kJ', label: 'Basal metabolism' },
  muscle_percent: { unit: '%', ucum: '%', label: 'Muscle percentage' },
  muscle_mass: { unit: 'kg', ucum: 'kg', label: 'Muscle mass' },
  fat_free_mass: { unit: 'kg', ucum: 'kg', label: 'Fat-free mass' },
  soft_lean_mass: { unit: 'kg', ucum: 'kg', label: 'Soft lean mass' },
  body_water_mass: { unit: 'kg', ucum: 'kg', label: 'Body water mass' },
  impedance: { unit: 'ohm', ucum: 'Ohm', label: 'Impedance' },
  glucose: { unit: 'mg/dL', ucum: 'mg/dL', label: 'Glucose (mass concentration)' },
  glucose_molar: { unit: 'mmol/L', ucum: 'mmol/L', label: 'Glucose (molar concentration)' },
} as const;

export type ReadingKind = keyof typeof READING_KINDS;
export const READING_KIND_NAMES = Object.keys(READING_KINDS) as ReadingKind[];

export function isReadingKind(s: string): s is ReadingKind {
  return Object.hasOwn(READING_KINDS, s);
}

export type MetaValue = string | number | boolean;

/** One decoded value. `ts` is UTC epoch ms when the frame carries a time, else the session stamps it. */
export interface Reading {
  kind: ReadingKind;
  value: number;
  ts?: number;
  /** Offset in ms relative to the time the frame was received, for readings without their own time. */
  dtMs?: number;
  /** A source sequence number (glucose record number, …). */
  seq?: number;
  meta?: Record<string, MetaValue>;
}

/** Conversion factors into the canonical units above. */
export const UNIT = {
  LB_TO_KG: 0.45359237,
  IN_TO_M: 0.0254,
  KPA_TO_MMHG: 7.500615758456563,
  /** 1 kg/L = 100 000 mg/dL */
  KG_PER_L_TO_MG_PER_DL: 100_000,
  /** 1 mol/L = 1000 mmol/L */
  MOL_PER_L_TO_MMOL_PER_L: 1000,
  JIN_TO_KG: 0.5,
} as const;

// ---------------------------------------------------------------------------------------------------------
// Adverts and matchers (Home Assistant's vocabulary).
// ---------------------------------------------------------------------------------------------------------

export interface ServiceData {
  uuid: string;
  data: Uint8Array;
}

/** A normalised advertisement: UUIDs lowercase without dashes, SIG UUIDs in 16-bit short form. */
export interface Advertisement {
  localName?: string;
  serviceUuids: string[];
  serviceData: ServiceData[];
  /** Manufacturer-specific data including the 2-byte little-endian company identifier. */
  manufacturerData?: Uint8Array;
  txPowerLevel?: number;
  connectable?: boolean;
}

/** All present conditions must hold. A definition matches when any of its matchers does. */
export interface Matcher {
  /** Glob on the advertised name: `*` any run, `?` one character. Case-insensitive unless caseSensitive. */
  localName?: string;
  caseSensitive?: boolean;
  serviceUuid?: string;
  serviceDataUuid?: string;
  /** Exact length of the service data for `serviceDataUuid`. */
  serviceDataLength?: number;
  manufacturerId?: number;
  /** Hex bytes that must follow the 2-byte company identifier. */
  manufacturerDataPrefix?: string;
  connectable?: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding context and errors.
// ---------------------------------------------------------------------------------------------------------

export interface DecodeContext {
  /** IANA time zone of the hub (device wall-clock times are read in it). */
  timeZone: string;
}

export type DeviceErrorCode =
  | 'auth_failed'
  | 'auth_key_required'
  | 'timeout'
  | 'malformed'
  | 'protocol'
  | 'unsupported'
  | 'disconnected'
  | 'not_found';

/** The one error type device code raises on purpose; the sync layer maps it to user-facing messages. */
export class DeviceError extends Error {
  override readonly name = 'DeviceError';
  constructor(
    readonly code: DeviceErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A pure decoder from a characteristic value (or an advert payload) to readings. */
export type Decoder = (r: ByteReader, ctx: DecodeContext) => Reading[];
export type AdvertDecoder = (adv: Advertisement, ctx: DecodeContext) => Reading[] | null;

// ---------------------------------------------------------------------------------------------------------
// The session a recipe runs in: narrow, async, no noble, no store.
// ---------------------------------------------------------------------------------------------------------

export interface CursorUpdate {
  stream: string;
  value: number;
}

export interface DeviceSession {
  readonly deviceId: string;
  readonly definitionId: string;
  /** The bond's 16-byte auth key, the user's key during pairing, or null. */
  authKey: Uint8Array | null;
  readonly context: DecodeContext;
  /** Options from the pairing/sync caller (per-recipe tuning such as maxRounds). */
  readonly options: Readonly<Record<string, number>>;
  /** Hub clock, epoch ms. */
  now(): number;
  /**
   * Hub time minus device time, in ms, once a recipe has read the device clock (0 until then). Readings
   * that carry their own `ts` are in device time; `commit` and `live` add this drift to them.
   */
  clockDriftMs: number;
  /** Remember device facts (model, firmware, serial …) on the device record. */
  setInfo(info: Record<string, string>): void;
  has(service: string, characteristic: string): boolean;
  read(service: string, characteristic: string): Promise<Uint8Array>;
  write(service: string, characteristic: string, data: Uint8Array, withoutResponse?: boolean): Promise<void>;
  subscribe(service: string, characteristic: string): Promise<void>;
  unsubscribe(service: string, characteristic: string): Promise<void>;
  /** The next queued notification/indication of a subscribed characteristic (FIFO), or a timeout error. */
  next(service: string, characteristic: string, timeoutMs?: number): Promise<Uint8Array>;
  /** The next queued notification of any of the given characteristics, in arrival order. */
  nextOf(
    characteristics: readonly { service: string; characteristic: string }[],
    timeoutMs?: number,
  ): Promise<{ service: string; characteristic: string; data: Uint8Array }>;
  /** Drop queued notifications of a characteristic. */
  drain(service: string, characteristic: string): void;
  aes128EcbEncrypt(key: Uint8Array, block: Uint8Array): Uint8Array;
  randomBytes(n: number): Uint8Array;
  /** The stored resume point of a stream, or null before the first sync. */
  cursor(stream: string): number | null;
  /** Store readings (and optionally move a cursor) atomically: all or nothing. */
  commit(readings: Reading[], cursor?: CursorUpdate): void;
  /** Forward live readings to subscribers (they are not stored). */
  live(readings: Reading[]): void;
  /** A count of a dropped frame, by reason (malformed, truncated, counter gap …). */
  dropped(reason: string, frame: Uint8Array): void;
  progress(message: string): void;
}

export type Bytes = Uint8Array | ((s: DeviceSession) => Uint8Array);

export type Step =
  | { op: 'read'; service: string; characteristic: string; decode: Decoder; optional?: boolean }
  | {
      op: 'write';
      service: string;
      characteristic: string;
      value: Bytes;
      withoutResponse?: boolean;
      optional?: boolean;
    }
  | { op: 'subscribe'; service: string; characteristic: string; optional?: boolean }
  | { op: 'unsubscribe'; service: string; characteristic: string; optional?: boolean }
  | { op: 'run'; name: string; run: (s: DeviceSession) => Promise<void> };

export interface CharacteristicSpec {
  uuid: string;
  name: string;
  /** Decoder for reads and notifications of this characteristic (what fixtures and live updates use). */
  decode?: Decoder;
}

export interface ServiceSpec {
  uuid: string;
  name: string;
  optional?: boolean;
  characteristics: CharacteristicSpec[];
}

export interface LiveSpec {
  service: string;
  characteristic: string;
  /** Steps run after subscribing (e.g. the Huami "continuous HR" command). */
  start?: Step[];
  stop?: Step[];
}

/** How a device bonds (Gadgetbridge's bonding styles, reduced to what the hub does). */
export type PairingStyle =
  /** Advert-only device: nothing to connect to, the bond just remembers the address. */
  | 'none'
  /** Connect and run the pair recipe. */
  | 'connect'
  /** The hub generates a fresh 16-byte key and hands it to the device during pairing. */
  | 'generated-key'
  /** The user must supply the device's 16-byte key (vendor server-side pairing). */
  | 'user-key';

export interface DeviceDefinitionInput {
  id: string;
  vendor: string;
  model: string;
  description: string;
  /** Higher wins when several definitions match one advert (vendor-specific over generic profiles). */
  priority?: number;
  match: Matcher[];
  readings: ReadingKind[];
  pairing: PairingStyle;
  /** How to pair, in words, shown by `band pair` and in docs. */
  pairingHint?: string;
  advert?: { decode: AdvertDecoder };
  gatt?: {
    services: ServiceSpec[];
    /** Run on every connection except the pairing one (e.g. authenticate with the bonded key). */
    connect?: Step[];
    /** Run once when pairing, instead of `connect` (e.g. hand the device a new key, then authenticate). */
    pair?: Step[];
    sync?: Step[];
    live?: LiveSpec;
  };
  /** Companion apps (package names) and vendor domains, for first-party classification. */
  companion?: { apps: string[]; domains: string[] };
}

export interface DeviceDefinition extends Readonly<DeviceDefinitionInput> {
  readonly sdkVersion: number;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && !(o instanceof Uint8Array)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

function normalizeStep(s: Step): Step {
  if (s.op === 'run') return s;
  return { ...s, service: normalizeUuid(s.service), characteristic: normalizeUuid(s.characteristic) };
}

/**
 * Build a frozen definition. UUIDs are normalised; nothing is thrown here (an import must not crash the
 * hub): `validateDefinition` reports problems and the registry quarantines invalid definitions.
 */
export function defineDevice(input: DeviceDefinitionInput): DeviceDefinition {
  const gatt = input.gatt
    ? {
        ...input.gatt,
        services: input.gatt.services.map((s) => ({
          ...s,
          uuid: normalizeUuid(s.uuid),
          characteristics: s.characteristics.map((c) => ({ ...c, uuid: normalizeUuid(c.uuid) })),
        })),
        connect: input.gatt.connect?.map(normalizeStep),
        pair: input.gatt.pair?.map(normalizeStep),
        sync: input.gatt.sync?.map(normalizeStep),
        live: input.gatt.live
          ? {
              ...input.gatt.live,
              service: normalizeUuid(input.gatt.live.service),
              characteristic: normalizeUuid(input.gatt.live.characteristic),
              start: input.gatt.live.start?.map(normalizeStep),
              stop: input.gatt.live.stop?.map(normalizeStep),
            }
          : undefined,
      }
    : undefined;
  const match = input.match.map((m) => ({
    ...m,
    serviceUuid: m.serviceUuid === undefined ? undefined : normalizeUuid(m.serviceUuid),
    serviceDataUuid: m.serviceDataUuid === undefined ? undefined : normalizeUuid(m.serviceDataUuid),
    manufacturerDataPrefix: m.manufacturerDataPrefix?.toLowerCase().replace(/\s/g, ''),
  }));
  for (const m of match) for (const k of Object.keys(m) as (keyof Matcher)[]) if (m[k] === undefined) delete m[k];
  const def: DeviceDefinition = { ...input, match, gatt, sdkVersion: SDK_VERSION };
  if (!gatt) delete (def as { gatt?: unknown }).gatt;
  return deepFreeze(def);
}

const ID_RE = /^[a-z0-9]+(-[a-z0-9]+)+$/;

/** Every problem with a definition, as human-readable strings; empty when valid. */
export function validateDefinition(def: DeviceDefinition): string[] {
  const errors: string[] = [];
  const at = (m: string) => errors.push(`${def.id ?? '?'}: ${m}`);
  if (typeof def.id !== 'string' || !ID_RE.test(def.id)) at('id must be kebab-case vendor-model');
  if (!def.vendor || !def.model || !def.description) at('vendor, model and description are required');
  if (def.sdkVersion !== SDK_VERSION) at(`sdkVersion ${def.sdkVersion} is not ${SDK_VERSION}`);
  if (!Array.isArray(def.match) || def.match.length === 0) at('at least one matcher is required');
  for (const [i, m] of (def.match ?? []).entries()) {
    const keys = Object.keys(m).filter((k) => k !== 'caseSensitive' && k !== 'connectable');
    if (keys.length === 0) at(`matcher ${i} has no condition`);
    if (m.serviceUuid !== undefined && !isValidUuid(m.serviceUuid)) at(`matcher ${i}: bad serviceUuid`);
    if (m.serviceDataUuid !== undefined && !isValidUuid(m.serviceDataUuid)) at(`matcher ${i}: bad serviceDataUuid`);
    if (m.serviceDataLength !== undefined && m.serviceDataUuid === undefined) {
      at(`matcher ${i}: serviceDataLength needs serviceDataUuid`);
    }
    if (m.manufacturerDataPrefix !== undefined && !/^([0-9a-f]{2})+$/.test(m.manufacturerDataPrefix)) {
      at(`matcher ${i}: manufacturerDataPrefix must be hex bytes`);
    }
    if (m.manufacturerId !== undefined && (!Number.isInteger(m.manufacturerId) || m.manufacturerId > 0xffff)) {
      at(`matcher ${i}: manufacturerId must be a uint16`);
    }
  }
  if (!Array.isArray(def.readings) || def.readings.length === 0) at('readings must list at least one kind');
  for (const k of def.readings ?? []) if (!isReadingKind(k)) at(`unknown reading kind ${k}`);
  if (!['none', 'connect', 'generated-key', 'user-key'].includes(def.pairing)) at('bad pairing style');
  if (def.pairing !== 'none' && !def.gatt) at('a connectable device needs gatt');
  if (def.pairing === 'none' && !def.advert) at('an advert-only device needs an advert decoder');
  if (def.gatt) {
    const known = new Set<string>();
    for (const s of def.gatt.services) {
      if (!isValidUuid(s.uuid)) at(`bad service uuid ${s.uuid}`);
      for (const c of s.characteristics) {
        if (!isValidUuid(c.uuid)) at(`bad characteristic uuid ${c.uuid}`);
        known.add(`${s.uuid}/${c.uuid}`);
      }
    }
    const checkSteps = (name: string, steps: readonly Step[] | undefined) => {
      for (const st of steps ?? []) {
        if (st.op === 'run') {
          if (typeof st.run !== 'function' || !st.name) at(`${name}: run step needs name and function`);
        } else if (!known.has(`${st.service}/${st.characteristic}`)) {
          at(`${name}: step ${st.op} uses ${st.service}/${st.characteristic}, not declared in services`);
        }
      }
    };
    checkSteps('connect', def.gatt.connect);
    checkSteps('pair', def.gatt.pair);
    checkSteps('sync', def.gatt.sync);
    if (def.gatt.live) {
      const l = def.gatt.live;
      if (!known.has(`${l.service}/${l.characteristic}`)) at('live characteristic not declared in services');
      checkSteps('live.start', l.start);
      checkSteps('live.stop', l.stop);
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------------------
// Small step helpers so that recipes read as data.
// ---------------------------------------------------------------------------------------------------------

export const step = {
  read: (service: string, characteristic: string, decode: Decoder, optional = false): Step => ({
    op: 'read',
    service,
    characteristic,
    decode,
    optional,
  }),
  write: (service: string, characteristic: string, value: Bytes, optional = false): Step => ({
    op: 'write',
    service,
    characteristic,
    value,
    optional,
  }),
  subscribe: (service: string, characteristic: string, optional = false): Step => ({
    op: 'subscribe',
    service,
    characteristic,
    optional,
  }),
  unsubscribe: (service: string, characteristic: string, optional = false): Step => ({
    op: 'unsubscribe',
    service,
    characteristic,
    optional,
  }),
  run: (name: string, run: (s: DeviceSession) => Promise<void>): Step => ({ op: 'run', name, run }),
};
