/**
 * The BLE boundary: the ONLY file that loads @abandonware/noble, lazily (createRequire inside a function),
 * so that a machine without Bluetooth never crashes at import time. With `bindings` (the simulator) it
 * builds `new Noble(bindings)` from `@abandonware/noble/lib/noble`; the same noble API serves both.
 *
 * Every noble call is wrapped with a timeout and fails fast when the link drops, because noble itself
 * never reports errors for reads, writes or subscriptions: its callbacks simply never fire.
 */
import { createRequire } from 'node:module';
import { type Advertisement, DeviceError, normalizeUuid } from '../sdk/index.js';
import { fromNobleAdvertisement, type NobleAdvertisementLike } from './match.js';

export type AdapterState = 'unknown' | 'resetting' | 'unsupported' | 'unauthorized' | 'poweredOff' | 'poweredOn';

export class AdapterUnavailableError extends Error {
  override readonly name = 'AdapterUnavailableError';
  constructor(
    readonly state: AdapterState,
    readonly detail: string,
  ) {
    super(`Bluetooth LE is not available (${state}): ${detail}`);
  }
}

export interface Discovered {
  id: string;
  address: string;
  rssi: number;
  connectable: boolean;
  advertisement: Advertisement;
}

export interface ScanOptions {
  durationMs: number;
  serviceUuids?: string[];
  allowDuplicates?: boolean;
  /** Resolve early when this returns true. */
  until?: (d: Discovered) => boolean;
}

/** A connected peripheral with its discovered GATT table. */
export interface GattLink {
  readonly id: string;
  readonly connected: boolean;
  /** service uuid → characteristic uuids (normalised). */
  readonly gatt: ReadonlyMap<string, ReadonlySet<string>>;
  read(service: string, characteristic: string): Promise<Uint8Array>;
  write(service: string, characteristic: string, data: Uint8Array, withoutResponse?: boolean): Promise<void>;
  subscribe(service: string, characteristic: string, onData: (data: Uint8Array) => void): Promise<void>;
  unsubscribe(service: string, characteristic: string): Promise<void>;
  onDisconnect(cb: (reason: string) => void): void;
  disconnect(): Promise<void>;
}

export interface ConnectOptions {
  timeoutMs: number;
  /** Per GATT operation (read, write, subscribe, discovery). */
  opTimeoutMs: number;
  /** How long to scan for a device that has not been seen yet. */
  scanTimeoutMs?: number;
}

export interface BleAdapter {
  readonly kind: 'noble' | 'simulated';
  state(): AdapterState;
  /** Wait until the adapter reports a final state; resolves with it (poweredOn or the reason it is not). */
  waitReady(timeoutMs: number): Promise<AdapterState>;
  scan(opts: ScanOptions, onDiscover: (d: Discovered) => void): Promise<void>;
  connect(id: string, opts: ConnectOptions): Promise<GattLink>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Minimal typings of the part of noble we use (its own typings cover only the default singleton).
// ---------------------------------------------------------------------------------------------------------

interface NobleCharacteristic {
  uuid: string;
  properties: string[];
  on(ev: 'data', cb: (data: Buffer, isNotification: boolean) => void): void;
  removeAllListeners(ev?: string): void;
  read(cb: (err: Error | null, data: Buffer) => void): void;
  write(data: Buffer, withoutResponse: boolean, cb: (err: Error | null) => void): void;
  subscribe(cb: (err: Error | null) => void): void;
  unsubscribe(cb: (err: Error | null) => void): void;
}

interface NobleService {
  uuid: string;
  characteristics: NobleCharacteristic[] | null;
}

interface NoblePeripheral {
  id: string;
  address: string;
  rssi: number;
  connectable: boolean;
  state: string;
  advertisement: NobleAdvertisementLike;
  connect(cb: (err: Error | null) => void): void;
  disconnect(cb?: () => void): void;
  cancelConnect?(): void;
  once(ev: 'disconnect', cb: (reason?: unknown) => void): void;
  removeAllListeners(ev?: string): void;
  discoverAllServicesAndCharacteristics(
    cb: (err: Error | null, services: NobleService[], characteristics: NobleCharacteristic[]) => void,
  ): void;
}

interface NobleLike {
  state: string;
  on(ev: 'stateChange', cb: (s: string) => void): void;
  on(ev: 'discover', cb: (p: NoblePeripheral) => void): void;
  on(ev: 'warning', cb: (m: string) => void): void;
  removeListener(ev: string, cb: (...a: never[]) => void): void;
  startScanning(uuids: string[], allowDuplicates: boolean, cb: (err: Error | null) => void): void;
  stopScanning(cb?: () => void): void;
}

/** Map a load/initialisation error to the adapter state it means. */
export function stateForError(e: unknown): AdapterState {
  const code = (e as { code?: string } | null)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'EPERM' || code === 'EACCES' || /EPERM|EACCES|permission/i.test(msg)) return 'unauthorized';
  return 'unsupported';
}

function loadNoble(bindings: object | undefined): NobleLike {
  const require = createRequire(import.meta.url);
  if (bindings) {
    const Noble = require('@abandonware/noble/lib/noble') as new (b: object) => NobleLike;
    return new Noble(bindings);
  }
  // The default entry picks the platform bindings and opens an HCI socket right here: on a machine
  // without AF_BLUETOOTH this throws EAFNOSUPPORT, which becomes state 'unsupported'.
  return require('@abandonware/noble') as NobleLike;
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new DeviceError('timeout', `${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

class NobleLink implements GattLink {
  readonly gatt = new Map<string, Set<string>>();
  private readonly chars = new Map<string, NobleCharacteristic>();
  private readonly pending = new Set<(e: Error) => void>();
  private readonly disconnectCbs: ((reason: string) => void)[] = [];
  private isConnected = true;

  constructor(
    private readonly p: NoblePeripheral,
    private readonly opTimeoutMs: number,
  ) {
    p.once('disconnect', (reason) => {
      this.isConnected = false;
      const why = reason === undefined || reason === null ? 'link lost' : String(reason);
      const err = new DeviceError('disconnected', `device ${p.id} disconnected (${why})`);
      for (const rej of [...this.pending]) rej(err);
      this.pending.clear();
      for (const c of this.chars.values()) c.removeAllListeners('data');
      for (const cb of this.disconnectCbs) cb(why);
    });
  }

  get id(): string {
    return this.p.id;
  }
  get connected(): boolean {
    return this.isConnected;
  }

  setTable(services: NobleService[]): void {
    for (const s of services) {
      const su = normalizeUuid(s.uuid);
      const set = new Set<string>();
      for (const c of s.characteristics ?? []) {
        const cu = normalizeUuid(c.uuid);
        set.add(cu);
        this.chars.set(`${su}/${cu}`, c);
      }
      this.gatt.set(su, set);
    }
  }

  /** Run a noble callback operation with a timeout that also fails at once on disconnect. */
  op<T>(what: string, start: (done: (err: Error | null, v: T) => void) => void): Promise<T> {
    if (!this.isConnected) return Promise.reject(new DeviceError('disconnected', `${what}: not connected`));
    let rejectFn: (e: Error) => void = () => {};
    const p = new Promise<T>((resolve, reject) => {
      rejectFn = reject;
      this.pending.add(reject);
      try {
        start((err, v) => (err ? reject(err) : resolve(v)));
      } catch (e) {
        reject(e);
      }
    });
    return timeout(p, this.opTimeoutMs, what).finally(() => this.pending.delete(rejectFn));
  }

  private char(service: string, characteristic: string): NobleCharacteristic {
    const c = this.chars.get(`${normalizeUuid(service)}/${normalizeUuid(characteristic)}`);
    if (!c)
      throw new DeviceError('not_found', `device ${this.p.id} has no characteristic ${service}/${characteristic}`);
    return c;
  }

  async read(service: string, characteristic: string): Promise<Uint8Array> {
    const c = this.char(service, characteristic);
    const b = await this.op<Buffer>(`read ${characteristic}`, (done) => c.read((e, d) => done(e, d)));
    return new Uint8Array(b);
  }

  async write(service: string, characteristic: string, data: Uint8Array, withoutResponse = false): Promise<void> {
    const c = this.char(service, characteristic);
    await this.op<void>(`write ${characteristic}`, (done) =>
      c.write(Buffer.from(data), withoutResponse, (e) => done(e, undefined)),
    );
  }

  async subscribe(service: string, characteristic: string, onData: (data: Uint8Array) => void): Promise<void> {
    const c = this.char(service, characteristic);
    c.removeAllListeners('data');
    c.on('data', (data, isNotification) => {
      if (isNotification) onData(new Uint8Array(data));
    });
    await this.op<void>(`subscribe ${characteristic}`, (done) => c.subscribe((e) => done(e, undefined)));
  }

  async unsubscribe(service: string, characteristic: string): Promise<void> {
    const c = this.char(service, characteristic);
    c.removeAllListeners('data');
    await this.op<void>(`unsubscribe ${characteristic}`, (done) => c.unsubscribe((e) => done(e, undefined)));
  }

  onDisconnect(cb: (reason: string) => void): void {
    this.disconnectCbs.push(cb);
  }

  async disconnect(): Promise<void> {
    if (!this.isConnected) return;
    await timeout(
      new Promise<void>((resolve) => this.p.disconnect(() => resolve())),
      this.opTimeoutMs,
      'disconnect',
    ).catch(() => {});
    this.isConnected = false;
  }
}

export interface NobleAdapterOptions {
  /** A noble bindings object (the simulator). Without it the platform's HCI bindings are used. */
  bindings?: object;
}

/** The production adapter (and, with simulator bindings, the test/demo one). Never throws at creation. */
export function createNobleAdapter(opts: NobleAdapterOptions = {}): BleAdapter {
  let noble: NobleLike | null = null;
  let current: AdapterState = 'unknown';
  let loadError = '';
  const peripherals = new Map<string, NoblePeripheral>();
  const stateWaiters = new Set<(s: AdapterState) => void>();

  const ensure = (): NobleLike | null => {
    if (noble || loadError) return noble;
    try {
      noble = loadNoble(opts.bindings);
      noble.on('warning', () => {});
      noble.on('stateChange', (s) => {
        current = s as AdapterState;
        for (const w of [...stateWaiters]) w(current);
      });
      noble.on('discover', (p) => peripherals.set(p.id, p));
      // Reading `state` triggers the bindings' lazy init.
      current = noble.state as AdapterState;
    } catch (e) {
      noble = null;
      current = stateForError(e);
      loadError = e instanceof Error ? e.message : String(e);
    }
    return noble;
  };

  const requireReady = async (ms: number): Promise<NobleLike> => {
    const n = ensure();
    const s = await adapter.waitReady(ms);
    if (!n || s !== 'poweredOn') {
      const detail =
        loadError ||
        (s === 'poweredOff'
          ? 'the adapter is powered off (try `bluetoothctl power on` or `rfkill unblock bluetooth`)'
          : s === 'unauthorized'
            ? 'no permission to open the HCI socket (run as root or grant cap_net_raw,cap_net_admin)'
            : 'no usable Bluetooth LE adapter was found');
      throw new AdapterUnavailableError(s, detail);
    }
    return n;
  };

  const adapter: BleAdapter = {
    kind: opts.bindings ? 'simulated' : 'noble',
    state: () => {
      ensure();
      return current;
    },
    waitReady(ms) {
      ensure();
      if (current !== 'unknown' && current !== 'resetting') return Promise.resolve(current);
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          stateWaiters.delete(w);
          resolve(current);
        }, ms);
        const w = (s: AdapterState) => {
          if (s === 'unknown' || s === 'resetting') return;
          clearTimeout(t);
          stateWaiters.delete(w);
          resolve(s);
        };
        stateWaiters.add(w);
      });
    },
    async scan(o, onDiscover) {
      const n = await requireReady(5000);
      await new Promise<void>((resolve, reject) => {
        let finished = false;
        const onP = (p: NoblePeripheral) => {
          if (finished) return;
          const d: Discovered = {
            id: p.id,
            address: p.address,
            rssi: p.rssi,
            connectable: p.connectable,
            advertisement: fromNobleAdvertisement(p.advertisement ?? {}, p.connectable),
          };
          onDiscover(d);
          if (o.until?.(d)) finish();
        };
        const finish = () => {
          if (finished) return;
          finished = true;
          clearTimeout(t);
          n.removeListener('discover', onP as never);
          n.stopScanning();
          resolve();
        };
        const t = setTimeout(finish, o.durationMs);
        n.on('discover', onP);
        n.startScanning((o.serviceUuids ?? []).map(normalizeUuid), o.allowDuplicates ?? true, (err) => {
          if (err) {
            finished = true;
            clearTimeout(t);
            n.removeListener('discover', onP as never);
            reject(err);
          }
        });
      });
    },
    async connect(id, o) {
      await requireReady(5000);
      let p = peripherals.get(id);
      if (!p) {
        await adapter.scan({ durationMs: o.scanTimeoutMs ?? 10_000, until: (d) => d.id === id }, () => {});
        p = peripherals.get(id);
        if (!p) throw new DeviceError('not_found', `device ${id} was not seen nearby (is it awake and in range?)`);
      }
      const peripheral = p;
      peripheral.removeAllListeners('disconnect');
      try {
        await timeout(
          new Promise<void>((resolve, reject) => peripheral.connect((e) => (e ? reject(e) : resolve()))),
          o.timeoutMs,
          `connect to ${id}`,
        );
      } catch (e) {
        peripheral.cancelConnect?.();
        throw e;
      }
      const link = new NobleLink(peripheral, o.opTimeoutMs);
      try {
        const services = await link.op<NobleService[]>('service discovery', (done) =>
          peripheral.discoverAllServicesAndCharacteristics((e, s) => done(e, s)),
        );
        link.setTable(services);
      } catch (e) {
        await link.disconnect();
        throw e;
      }
      return link;
    },
    async close() {
      if (noble) noble.stopScanning();
    },
  };
  return adapter;
}
