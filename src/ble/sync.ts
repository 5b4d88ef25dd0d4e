/**
 * Sync sessions: connect to a bonded device, run its `connect` recipe (auth) and `sync` recipe, and store
 * what it produces through the session's atomic commits. Advert-only devices (scales) are synced by
 * listening to their broadcasts instead. Failures are recorded on the device row for the scheduler's
 * backoff and surface as DeviceError with a clear message.
 */
import {
  ByteReader,
  type DeviceDefinition,
  DeviceError,
  MalformedError,
  type Reading,
  TruncatedError,
} from '../sdk/index.js';
import type { BandStore, StoredSample } from '../store/bandStore.js';
import type { BleAdapter, GattLink } from './adapter.js';
import type { KeyVault } from './bonds.js';
import type { Registry } from './registry.js';
import { GattSession } from './session.js';

export interface Timeouts {
  /** Connection set-up. */
  connectMs: number;
  /** One GATT read/write/subscribe/discovery. */
  opMs: number;
  /** Waiting for a notification the protocol promises. */
  notifyMs: number;
  /** Scanning for a device before connecting. */
  scanMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 15_000, opMs: 10_000, notifyMs: 10_000, scanMs: 15_000 };

export interface BleContext {
  adapter: BleAdapter;
  store: BandStore;
  registry: Registry;
  vault: KeyVault;
  now: () => number;
  /** IANA zone the hub lives in (device wall-clock times are read in it). */
  timeZone: string;
  timeouts: Timeouts;
  /** Recipe tuning (quietMs, maxRounds, batchRecords, advertListenMs …). */
  options: Record<string, number>;
  onLive?: (deviceId: string, readings: StoredSample[]) => void;
  onProgress?: (deviceId: string, message: string) => void;
  onDrop?: (deviceId: string, reason: string, hex: string) => void;
}

export interface SyncResult {
  deviceId: string;
  definitionId: string;
  /** New samples stored (duplicates excluded). */
  inserted: number;
  dropped: Record<string, number>;
  cursors: Record<string, number>;
  startedAt: number;
  finishedAt: number;
}

export function sessionFor(
  ctx: BleContext,
  link: GattLink,
  def: DeviceDefinition,
  deviceId: string,
  key: Uint8Array | null,
  canStore = true,
) {
  return new GattSession(
    link,
    def,
    deviceId,
    key,
    {
      store: ctx.store,
      now: ctx.now,
      context: { timeZone: ctx.timeZone },
      options: ctx.options,
      notifyTimeoutMs: ctx.timeouts.notifyMs,
      onLive: ctx.onLive,
      onProgress: ctx.onProgress,
      onDrop: ctx.onDrop,
    },
    canStore,
  );
}

export function definitionOf(ctx: BleContext, deviceId: string): DeviceDefinition {
  const row = ctx.store.getDevice(deviceId);
  if (!row) throw new DeviceError('not_found', `device ${deviceId} is not paired (run \`band pair ${deviceId}\`)`);
  const def = ctx.registry.get(row.definitionId);
  if (!def) throw new DeviceError('unsupported', `device ${deviceId} uses unknown definition ${row.definitionId}`);
  return def;
}

export function bondKey(ctx: BleContext, deviceId: string): Uint8Array | null {
  const bond = ctx.store.getBond(deviceId);
  return bond?.sealedKey ? ctx.vault.unseal(bond.sealedKey, deviceId) : null;
}

/** Run the sync recipe on an already connected (and, for pairing, authenticated) session. */
export async function runSyncRecipe(ctx: BleContext, session: GattSession): Promise<SyncResult> {
  const startedAt = ctx.now();
  await session.run(session.definition.gatt?.sync, 'sync');
  return {
    deviceId: session.deviceId,
    definitionId: session.definition.id,
    inserted: session.inserted,
    dropped: { ...session.dropCounts },
    cursors: ctx.store.cursors(session.deviceId),
    startedAt,
    finishedAt: ctx.now(),
  };
}

/** Listen to an advert-only device's broadcasts for a while and store what they carry. */
export async function syncAdverts(ctx: BleContext, deviceId: string, def: DeviceDefinition): Promise<SyncResult> {
  const startedAt = ctx.now();
  const dropped: Record<string, number> = {};
  let inserted = 0;
  const listenMs = ctx.options.advertListenMs ?? 10_000;
  await ctx.adapter.scan({ durationMs: listenMs, allowDuplicates: true }, (d) => {
    if (d.id !== deviceId || !def.advert) return;
    let readings: Reading[] | null;
    try {
      readings = def.advert.decode(d.advertisement, { timeZone: ctx.timeZone });
    } catch (e) {
      if (!(e instanceof TruncatedError || e instanceof MalformedError)) throw e;
      dropped.malformed = (dropped.malformed ?? 0) + 1;
      return;
    }
    if (!readings || readings.length === 0) return;
    const now = ctx.now();
    const samples = readings.map((r) => ({
      kind: r.kind,
      ts: r.ts ?? now,
      value: r.value,
      seq: r.seq,
      meta: r.meta,
    }));
    inserted += ctx.store.commit(deviceId, samples, undefined, now);
    ctx.onLive?.(deviceId, samples);
  });
  return { deviceId, definitionId: def.id, inserted, dropped, cursors: {}, startedAt, finishedAt: ctx.now() };
}

/** Sync one bonded device end to end. Records success/failure on the device row. */
export async function syncDevice(ctx: BleContext, deviceId: string): Promise<SyncResult> {
  const def = definitionOf(ctx, deviceId);
  try {
    let result: SyncResult;
    if (def.pairing === 'none') {
      result = await syncAdverts(ctx, deviceId, def);
    } else {
      const key = bondKey(ctx, deviceId);
      const link = await ctx.adapter.connect(deviceId, {
        timeoutMs: ctx.timeouts.connectMs,
        opTimeoutMs: ctx.timeouts.opMs,
        scanTimeoutMs: ctx.timeouts.scanMs,
      });
      try {
        const session = sessionFor(ctx, link, def, deviceId, key);
        await session.run(def.gatt?.connect, 'connect');
        result = await runSyncRecipe(ctx, session);
      } finally {
        await link.disconnect();
      }
    }
    ctx.store.recordSync(deviceId, ctx.now(), null);
    return result;
  } catch (e) {
    ctx.store.recordSync(deviceId, ctx.now(), e instanceof Error ? e.message : String(e));
    throw e;
  }
}

export interface LiveHandle {
  stop(): Promise<void>;
  readonly done: Promise<void>;
}

/**
 * Connect, authenticate, subscribe to the definition's live characteristic and forward every decoded value
 * to `onReadings` until `stop()` or the link drops.
 */
export async function startLive(
  ctx: BleContext,
  deviceId: string,
  onReadings: (readings: StoredSample[]) => void,
): Promise<LiveHandle> {
  const def = definitionOf(ctx, deviceId);
  const live = def.gatt?.live;
  if (!live) throw new DeviceError('unsupported', `${def.model} has no live values`);
  const decode = def.gatt?.services
    .find((s) => s.uuid === live.service)
    ?.characteristics.find((c) => c.uuid === live.characteristic)?.decode;
  if (!decode) throw new DeviceError('unsupported', `${def.model} has no decoder for its live values`);
  const key = bondKey(ctx, deviceId);
  const link = await ctx.adapter.connect(deviceId, {
    timeoutMs: ctx.timeouts.connectMs,
    opTimeoutMs: ctx.timeouts.opMs,
    scanTimeoutMs: ctx.timeouts.scanMs,
  });
  const session = sessionFor(ctx, link, def, deviceId, key);
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  link.onDisconnect(() => resolveDone());
  try {
    await session.run(def.gatt?.connect, 'connect');
    await link.subscribe(live.service, live.characteristic, (data) => {
      try {
        const readings = decode(new ByteReader(data), { timeZone: ctx.timeZone });
        if (readings.length > 0) {
          const now = ctx.now();
          onReadings(readings.map((r) => session.toSample(r, now)));
        }
      } catch (e) {
        if (!(e instanceof TruncatedError || e instanceof MalformedError)) throw e;
        session.dropped(e instanceof TruncatedError ? 'truncated' : 'malformed', data);
      }
    });
    await session.run(live.start, 'live');
  } catch (e) {
    await link.disconnect();
    throw e;
  }
  return {
    done,
    async stop() {
      if (link.connected) {
        await session.run(live.stop, 'live stop').catch(() => {});
        await link.disconnect();
      }
      resolveDone();
    },
  };
}
