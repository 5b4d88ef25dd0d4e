/**
 * A noble *bindings* object backed by simulated peripherals: `new Noble(new SimBindings(world))` gives the
 * real noble API (scan, connect, discover, read, write, subscribe) over devices that advertise and answer
 * with the bytes real devices send. Events are delivered asynchronously, as a radio would.
 *
 * The contract (methods noble calls, events it listens to) is the one in the research notes §4.2.
 */
import { EventEmitter } from 'node:events';
import type { AdapterState } from '../adapter.js';
import type { SimPeripheral } from './peripheral.js';

export interface SimWorldOptions {
  peripherals: SimPeripheral[];
  /** What the adapter reports after init (default poweredOn). */
  state?: AdapterState;
  /** Interval between advertising rounds while scanning (ms). */
  advertIntervalMs?: number;
}

export class SimBindings extends EventEmitter {
  private readonly byId = new Map<string, SimPeripheral>();
  private scanTimer: NodeJS.Timeout | null = null;
  private scanning = false;
  private filter: string[] = [];
  readonly state: AdapterState;
  private readonly advertIntervalMs: number;

  constructor(opts: SimWorldOptions) {
    super();
    for (const p of opts.peripherals) this.byId.set(p.id, p);
    this.state = opts.state ?? 'poweredOn';
    this.advertIntervalMs = opts.advertIntervalMs ?? 50;
  }

  peripheral(id: string): SimPeripheral | undefined {
    return this.byId.get(id);
  }

  private later(fn: () => void): void {
    setImmediate(fn);
  }

  // --- adapter ---------------------------------------------------------------------------------------
  init(): void {
    this.later(() => {
      this.emit('addressChange', '00:1a:7d:da:71:13');
      this.emit('stateChange', this.state);
    });
  }

  /** stoprocent's name for init. */
  start(): void {
    this.init();
  }

  setScanParameters(): void {
    this.later(() => this.emit('scanParametersSet'));
  }

  startScanning(serviceUuids: string[] | undefined, allowDuplicates: boolean): void {
    this.filter = (serviceUuids ?? []).map((u) => u.toLowerCase());
    this.scanning = true;
    this.later(() => {
      this.emit('scanStart', !allowDuplicates);
      this.advertise();
    });
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.scanTimer = setInterval(() => this.advertise(), this.advertIntervalMs);
    this.scanTimer.unref();
  }

  stopScanning(): void {
    this.scanning = false;
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.scanTimer = null;
    this.later(() => this.emit('scanStop'));
  }

  private advertise(): void {
    if (!this.scanning) return;
    for (const p of this.byId.values()) {
      const adv = p.advertisement();
      if (!adv) continue;
      if (this.filter.length > 0 && !(adv.serviceUuids ?? []).some((u) => this.filter.includes(u))) continue;
      this.emit('discover', p.id, p.address, p.addressType, p.connectable, adv, p.rssi(), true);
    }
  }

  reset(): void {}
  stop(): void {
    this.stopScanning();
  }

  // --- connection ------------------------------------------------------------------------------------
  connect(id: string): void {
    const p = this.byId.get(id);
    if (!p) {
      this.later(() => this.emit('connect', id, new Error('unknown peripheral')));
      return;
    }
    if (p.faults.neverConnect) return; // the radio never completes the connection
    if (!p.connectable || p.isConnected) {
      this.later(() => this.emit('connect', id, new Error(p.isConnected ? 'already connected' : 'not connectable')));
      return;
    }
    this.later(() => {
      p.attach({
        notify: (svc, chr, data) => {
          if (!p.isSubscribed(svc, chr)) return;
          this.later(() => this.emit('read', id, svc, chr, Buffer.from(data), true));
        },
        disconnect: (reason) => {
          if (!p.isConnected) return;
          p.detach();
          this.later(() => this.emit('disconnect', id, reason));
        },
      });
      this.emit('connect', id, null);
    });
  }

  cancelConnect(): void {}

  disconnect(id: string): void {
    const p = this.byId.get(id);
    if (p?.isConnected) p.detach();
    this.later(() => this.emit('disconnect', id, 'local host terminated connection'));
  }

  updateRssi(id: string): void {
    const p = this.byId.get(id);
    this.later(() => this.emit('rssiUpdate', id, p?.rssi() ?? -127));
  }

  // --- GATT ------------------------------------------------------------------------------------------
  discoverServices(id: string, uuids: string[] | undefined): void {
    const p = this.byId.get(id);
    if (!p?.isConnected || p.faults.silent) return;
    const all = p.gatt().map((s) => s.uuid);
    const want = uuids && uuids.length > 0 ? all.filter((u) => uuids.includes(u)) : all;
    this.later(() => this.emit('servicesDiscover', id, want));
  }

  discoverIncludedServices(id: string, svc: string): void {
    this.later(() => this.emit('includedServicesDiscover', id, svc, []));
  }

  discoverCharacteristics(id: string, svc: string, uuids: string[] | undefined): void {
    const p = this.byId.get(id);
    if (!p?.isConnected || p.faults.silent) return;
    const s = p.gatt().find((x) => x.uuid === svc);
    const chars = (s?.characteristics ?? []).filter((c) => !uuids || uuids.length === 0 || uuids.includes(c.uuid));
    this.later(() => this.emit('characteristicsDiscover', id, svc, chars));
  }

  discoverDescriptors(id: string, svc: string, chr: string): void {
    this.later(() => this.emit('descriptorsDiscover', id, svc, chr, ['2902']));
  }

  read(id: string, svc: string, chr: string): void {
    const p = this.byId.get(id);
    if (!p?.isConnected || p.faults.silent) return;
    const v = p.onRead(svc, chr);
    if (v === null) return; // no answer: the caller's timeout fires
    this.later(() => this.emit('read', id, svc, chr, Buffer.from(v), false));
  }

  write(id: string, svc: string, chr: string, data: Buffer): void {
    const p = this.byId.get(id);
    if (!p?.isConnected || p.faults.silent) return;
    this.later(() => {
      if (!p.isConnected) return;
      this.emit('write', id, svc, chr);
      p.onWrite(svc, chr, new Uint8Array(data));
    });
  }

  notify(id: string, svc: string, chr: string, enable: boolean): void {
    const p = this.byId.get(id);
    if (!p?.isConnected || p.faults.silent) return;
    p.setSubscribed(svc, chr, enable);
    this.later(() => {
      this.emit('notify', id, svc, chr, enable);
      p.onSubscribe(svc, chr, enable);
    });
  }

  broadcast(id: string, svc: string, chr: string, enable: boolean): void {
    this.later(() => this.emit('broadcast', id, svc, chr, enable));
  }

  readValue(id: string, svc: string, chr: string, desc: string): void {
    this.later(() => this.emit('valueRead', id, svc, chr, desc, Buffer.alloc(2)));
  }

  writeValue(id: string, svc: string, chr: string, desc: string): void {
    this.later(() => this.emit('valueWrite', id, svc, chr, desc));
  }

  readHandle(id: string, handle: number): void {
    this.later(() => this.emit('handleRead', id, handle, Buffer.alloc(0)));
  }

  writeHandle(id: string, handle: number): void {
    this.later(() => this.emit('handleWrite', id, handle));
  }
}
