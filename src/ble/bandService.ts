/**
 * The BLE service facade the HTTP API and the CLI call: scan, pair, sync, list, forget, samples, export,
 * live values (EventEmitter 'live' events and per-device subscriptions) and the sync schedule.
 * It owns the wiring (store, key vault, registry, adapter); everything else in src/ble stays injectable.
 */
import { EventEmitter } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceError, isReadingKind, READING_KINDS } from '../sdk/index.js';
import { BandStore, type SampleQuery, type SampleRow, type StoredSample } from '../store/bandStore.js';
import { type Db, openDatabase } from '../store/db.js';
import { type AdapterState, type BleAdapter, createNobleAdapter } from './adapter.js';
import { KeyVault } from './bonds.js';
import { type ExportFormat, exportSamples } from './export.js';
import { type Candidate, type PairOptions, type PairResult, pairDevice, scanCandidates } from './pairing.js';
import { loadRegistry, type Registry } from './registry.js';
import { type Cron, createNodeCron, SyncScheduler } from './scheduler.js';
import { demoBindings } from './simulator/world.js';
import { type BleContext, DEFAULT_TIMEOUTS, type SyncResult, startLive, syncDevice, type Timeouts } from './sync.js';

export const DB_FILE = 'bandguard.db';
export const SIM_KEYS_FILE = 'simulator-keys.json';

export interface BandServiceOptions {
  dataDir: string;
  /** Use the built-in simulated devices instead of the radio (same noble code path). */
  simulate: boolean;
  now?: () => number;
  timeZone?: string;
  timeouts?: Partial<Timeouts>;
  options?: Record<string, number>;
  /** Inject an adapter (tests); otherwise noble with the platform or simulator bindings. */
  adapter?: BleAdapter;
  /** Use an already open database (the agent shares one); otherwise `<dataDir>/bandguard.db` is opened. */
  db?: Db;
  log?: (level: 'debug' | 'info' | 'warn', message: string) => void;
}

export interface DeviceSummary {
  id: string;
  name: string | null;
  definitionId: string;
  vendor: string | null;
  model: string | null;
  pairedAt: string;
  lastSyncAt: string | null;
  lastError: string | null;
  failures: number;
  samples: number;
  cursors: Record<string, number>;
  info: Record<string, string>;
}

export interface SyncOutcome {
  deviceId: string;
  ok: boolean;
  result?: SyncResult;
  error?: { code: string; message: string };
}

export interface LiveEvent {
  deviceId: string;
  samples: StoredSample[];
}

function errorInfo(e: unknown): { code: string; message: string } {
  if (e instanceof DeviceError) return { code: e.code, message: e.message };
  if (e instanceof Error) return { code: (e as { code?: string }).code ?? e.name, message: e.message };
  return { code: 'unknown', message: String(e) };
}

export class BandService extends EventEmitter {
  readonly store: BandStore;
  readonly registry: Registry;
  readonly ctx: BleContext;
  private readonly ownsDb: boolean;
  private scheduler: SyncScheduler | null = null;
  private readonly lives = new Map<string, { stop(): Promise<void> }>();
  private readonly liveSubscribers = new Map<string, number>();

  private constructor(
    private readonly db: Db,
    ownsDb: boolean,
    readonly adapter: BleAdapter,
    vault: KeyVault,
    opts: BandServiceOptions,
  ) {
    super();
    this.ownsDb = ownsDb;
    this.store = new BandStore(db);
    this.registry = loadRegistry(undefined, (m) => opts.log?.('warn', m));
    this.ctx = {
      adapter,
      store: this.store,
      registry: this.registry,
      vault,
      now: opts.now ?? Date.now,
      timeZone: opts.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC',
      timeouts: { ...DEFAULT_TIMEOUTS, ...opts.timeouts },
      options: { ...opts.options },
      onLive: (deviceId, samples) => this.emit('live', { deviceId, samples } satisfies LiveEvent),
      onProgress: (deviceId, message) => this.emit('progress', { deviceId, message }),
      onDrop: (deviceId, reason, hex) => opts.log?.('debug', `${deviceId}: dropped ${reason} frame ${hex}`),
    };
  }

  static open(opts: BandServiceOptions): BandService {
    const ownsDb = !opts.db;
    const db = opts.db ?? openDatabase(join(opts.dataDir, DB_FILE));
    try {
      const vault = KeyVault.open(opts.dataDir);
      const now = opts.now ?? Date.now;
      const adapter =
        opts.adapter ??
        (opts.simulate
          ? createNobleAdapter({ bindings: demoBindings(now, simKeyStore(opts.dataDir)) })
          : createNobleAdapter());
      return new BandService(db, ownsDb, adapter, vault, opts);
    } catch (e) {
      if (ownsDb) db.close();
      throw e;
    }
  }

  /** Adapter state for status / doctor: never throws. */
  async status(): Promise<{ adapter: AdapterState; kind: string; devices: number; quarantined: string[] }> {
    const state = await this.adapter.waitReady(2000);
    return {
      adapter: state,
      kind: this.adapter.kind,
      devices: this.store.listDevices().length,
      quarantined: this.registry.quarantined.map((q) => q.id),
    };
  }

  scan(durationMs = 10_000): Promise<Candidate[]> {
    return scanCandidates(this.ctx, durationMs);
  }

  pair(id: string, opts: PairOptions = {}): Promise<PairResult> {
    return pairDevice(this.ctx, id.toLowerCase().replace(/:/g, ''), opts);
  }

  /** Sync one device, or every paired device (one at a time; a failure does not stop the others). */
  async sync(id?: string): Promise<SyncOutcome[]> {
    const ids = id ? [id.toLowerCase().replace(/:/g, '')] : this.store.listDevices().map((d) => d.id);
    const out: SyncOutcome[] = [];
    for (const deviceId of ids) {
      try {
        out.push({ deviceId, ok: true, result: await syncDevice(this.ctx, deviceId) });
      } catch (e) {
        out.push({ deviceId, ok: false, error: errorInfo(e) });
      }
    }
    return out;
  }

  list(): DeviceSummary[] {
    return this.store.listDevices().map((d) => {
      const def = this.registry.get(d.definitionId);
      return {
        id: d.id,
        name: d.name,
        definitionId: d.definitionId,
        vendor: def?.vendor ?? null,
        model: def?.model ?? null,
        pairedAt: new Date(d.pairedAt).toISOString(),
        lastSyncAt: d.lastSyncAt === null ? null : new Date(d.lastSyncAt).toISOString(),
        lastError: d.lastError,
        failures: d.failures,
        samples: this.store.countSamples(d.id),
        cursors: this.store.cursors(d.id),
        info: d.info,
      };
    });
  }

  async forget(id: string): Promise<boolean> {
    const deviceId = id.toLowerCase().replace(/:/g, '');
    await this.lives.get(deviceId)?.stop();
    this.lives.delete(deviceId);
    return this.store.removeDevice(deviceId);
  }

  samples(q: SampleQuery): SampleRow[] {
    if (q.kinds)
      for (const k of q.kinds) if (!isReadingKind(k)) throw new DeviceError('malformed', `unknown kind ${k}`);
    return this.store.samples(q);
  }

  export(id: string, format: ExportFormat, range: { since?: number; until?: number } = {}): string {
    const deviceId = id.toLowerCase().replace(/:/g, '');
    const device = this.store.getDevice(deviceId);
    if (!device) throw new DeviceError('not_found', `device ${id} is not paired`);
    const def = this.registry.get(device.definitionId);
    const q: SampleQuery = { deviceId };
    if (range.since !== undefined) q.since = range.since;
    if (range.until !== undefined) q.until = range.until;
    return exportSamples(format, {
      device,
      vendor: def?.vendor,
      model: def?.model,
      samples: this.store.samples(q),
      exportedAt: this.ctx.now(),
    });
  }

  /**
   * Stream a device's live values (heart rate …) to `cb` and to 'live' events. One connection per device is
   * shared by all subscribers; the returned function unsubscribes (the link closes with the last one).
   */
  async subscribeLive(id: string, cb: (e: LiveEvent) => void): Promise<() => Promise<void>> {
    const deviceId = id.toLowerCase().replace(/:/g, '');
    const listener = (e: LiveEvent) => {
      if (e.deviceId === deviceId) cb(e);
    };
    this.on('live', listener);
    this.liveSubscribers.set(deviceId, (this.liveSubscribers.get(deviceId) ?? 0) + 1);
    if (!this.lives.has(deviceId)) {
      try {
        const handle = await startLive(this.ctx, deviceId, (samples) =>
          this.emit('live', { deviceId, samples } satisfies LiveEvent),
        );
        this.lives.set(deviceId, handle);
        void handle.done.then(() => this.lives.delete(deviceId));
      } catch (e) {
        this.off('live', listener);
        this.liveSubscribers.set(deviceId, (this.liveSubscribers.get(deviceId) ?? 1) - 1);
        throw e;
      }
    }
    let unsubscribed = false;
    return async () => {
      if (unsubscribed) return;
      unsubscribed = true;
      this.off('live', listener);
      const left = (this.liveSubscribers.get(deviceId) ?? 1) - 1;
      this.liveSubscribers.set(deviceId, left);
      if (left <= 0) {
        this.liveSubscribers.delete(deviceId);
        await this.lives.get(deviceId)?.stop();
        this.lives.delete(deviceId);
      }
    };
  }

  /** Sync all devices on a cron schedule with per-device backoff. */
  async startSchedule(expression = '*/15 * * * *', cron?: Cron): Promise<SyncScheduler> {
    this.scheduler?.stop();
    const s = new SyncScheduler({
      cron: cron ?? (await createNodeCron()),
      now: this.ctx.now,
      devices: () => this.store.listDevices().map((d) => ({ id: d.id, failures: d.failures })),
      syncOne: (deviceId) => syncDevice(this.ctx, deviceId),
      onError: (deviceId, e) => this.emit('syncError', { deviceId, error: errorInfo(e) }),
    });
    s.start(expression);
    this.scheduler = s;
    return s;
  }

  async close(): Promise<void> {
    this.scheduler?.stop();
    for (const l of this.lives.values()) await l.stop().catch(() => {});
    this.lives.clear();
    await this.adapter.close();
    if (this.ownsDb) this.db.close();
  }
}

export function kindUnit(kind: string): string {
  return isReadingKind(kind) ? READING_KINDS[kind].unit : '';
}

function simKeyStore(dataDir: string) {
  const path = join(dataDir, SIM_KEYS_FILE);
  return {
    load(): Record<string, string> {
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
      } catch {
        return {};
      }
    },
    save(keys: Record<string, string>): void {
      writeFileSync(path, JSON.stringify(keys, null, 2), { mode: 0o600 });
    },
  };
}
