/**
 * The DeviceSession a definition's recipes run in, over one GattLink: serialised GATT calls with timeouts,
 * a FIFO of notifications, cursor reads and atomic commits into the store, live forwarding, drop counts.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import {
  ByteReader,
  type CursorUpdate,
  type DecodeContext,
  type DeviceDefinition,
  DeviceError,
  type DeviceSession,
  MalformedError,
  type Reading,
  type Step,
  TruncatedError,
  toHex,
} from '../sdk/index.js';
import type { BandStore, StoredSample } from '../store/bandStore.js';
import type { GattLink } from './adapter.js';

export interface SessionHooks {
  store: BandStore;
  now: () => number;
  context: DecodeContext;
  options: Record<string, number>;
  /** Default wait for a notification when a recipe does not say. */
  notifyTimeoutMs: number;
  onLive?: (deviceId: string, readings: StoredSample[]) => void;
  onProgress?: (deviceId: string, message: string) => void;
  onDrop?: (deviceId: string, reason: string, hex: string) => void;
}

interface Waiter {
  keys: Set<string>;
  resolve: (n: { service: string; characteristic: string; data: Uint8Array }) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const MAX_QUEUE = 20_000;

export class GattSession implements DeviceSession {
  clockDriftMs = 0;
  inserted = 0;
  readonly dropCounts: Record<string, number> = {};
  private readonly queue: { service: string; characteristic: string; data: Uint8Array }[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly subscribed = new Set<string>();
  private closedError: DeviceError | null = null;
  readonly info: Record<string, string> = {};

  constructor(
    readonly link: GattLink,
    readonly definition: DeviceDefinition,
    readonly deviceId: string,
    public authKey: Uint8Array | null,
    private readonly hooks: SessionHooks,
    /** False while pairing, before the device row exists: commits are held until `flushHeld`. */
    private canStore = true,
  ) {
    link.onDisconnect((reason) => {
      this.closedError = new DeviceError('disconnected', `${definition.model} disconnected (${reason})`);
      for (const w of [...this.waiters]) {
        clearTimeout(w.timer);
        w.reject(this.closedError);
      }
      this.waiters.clear();
    });
  }

  get definitionId(): string {
    return this.definition.id;
  }
  get context(): DecodeContext {
    return this.hooks.context;
  }
  get options(): Readonly<Record<string, number>> {
    return this.hooks.options;
  }

  now(): number {
    return this.hooks.now();
  }

  has(service: string, characteristic: string): boolean {
    return this.link.gatt.get(service)?.has(characteristic) ?? false;
  }

  read(service: string, characteristic: string): Promise<Uint8Array> {
    return this.link.read(service, characteristic);
  }

  write(service: string, characteristic: string, data: Uint8Array, withoutResponse = false): Promise<void> {
    return this.link.write(service, characteristic, data, withoutResponse);
  }

  async subscribe(service: string, characteristic: string): Promise<void> {
    const key = `${service}/${characteristic}`;
    if (this.subscribed.has(key)) return;
    await this.link.subscribe(service, characteristic, (data) => this.push(service, characteristic, data));
    this.subscribed.add(key);
  }

  async unsubscribe(service: string, characteristic: string): Promise<void> {
    const key = `${service}/${characteristic}`;
    if (!this.subscribed.has(key)) return;
    this.subscribed.delete(key);
    await this.link.unsubscribe(service, characteristic);
  }

  private push(service: string, characteristic: string, data: Uint8Array): void {
    const key = `${service}/${characteristic}`;
    for (const w of this.waiters) {
      if (w.keys.has(key)) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve({ service, characteristic, data });
        return;
      }
    }
    if (this.queue.length >= MAX_QUEUE) this.dropped('queue-overflow', this.queue.shift()!.data);
    this.queue.push({ service, characteristic, data });
  }

  next(service: string, characteristic: string, timeoutMs?: number): Promise<Uint8Array> {
    return this.nextOf([{ service, characteristic }], timeoutMs).then((n) => n.data);
  }

  nextOf(
    chars: readonly { service: string; characteristic: string }[],
    timeoutMs?: number,
  ): Promise<{ service: string; characteristic: string; data: Uint8Array }> {
    const keys = new Set(chars.map((c) => `${c.service}/${c.characteristic}`));
    const i = this.queue.findIndex((q) => keys.has(`${q.service}/${q.characteristic}`));
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    if (this.closedError) return Promise.reject(this.closedError);
    const ms = timeoutMs ?? this.hooks.notifyTimeoutMs;
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        keys,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          const names = chars.map((c) => this.charName(c.service, c.characteristic)).join(' or ');
          reject(new DeviceError('timeout', `${this.definition.model} sent nothing on ${names} for ${ms} ms`));
        }, ms),
      };
      this.waiters.add(w);
    });
  }

  private charName(service: string, characteristic: string): string {
    const svc = this.definition.gatt?.services.find((s) => s.uuid === service);
    return svc?.characteristics.find((c) => c.uuid === characteristic)?.name ?? characteristic;
  }

  drain(service: string, characteristic: string): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const q = this.queue[i]!;
      if (q.service === service && q.characteristic === characteristic) this.queue.splice(i, 1);
    }
  }

  aes128EcbEncrypt(key: Uint8Array, block: Uint8Array): Uint8Array {
    if (key.length !== 16 || block.length % 16 !== 0) throw new MalformedError('AES-128-ECB needs a 16-byte key');
    const c = createCipheriv('aes-128-ecb', key, null);
    c.setAutoPadding(false);
    return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
  }

  randomBytes(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n));
  }

  cursor(stream: string): number | null {
    return this.hooks.store.cursor(this.deviceId, stream);
  }

  /** Resolve a reading's time: device time + drift, or receive time + offset. */
  toSample(r: Reading, received: number): StoredSample {
    const ts = r.ts !== undefined ? r.ts + this.clockDriftMs : received + (r.dtMs ?? 0);
    return { kind: r.kind, ts, value: r.value, seq: r.seq, meta: r.meta };
  }

  private held: { samples: StoredSample[]; cursor: CursorUpdate | undefined }[] = [];

  commit(readings: Reading[], cursor?: CursorUpdate): void {
    const now = this.now();
    const samples = readings.map((r) => this.toSample(r, now));
    if (!this.canStore) {
      this.held.push({ samples, cursor });
      return;
    }
    this.inserted += this.hooks.store.commit(this.deviceId, samples, cursor, now);
  }

  /** After pairing created the device row: store what the pair recipe produced. */
  flushHeld(): void {
    this.canStore = true;
    for (const h of this.held) this.inserted += this.hooks.store.commit(this.deviceId, h.samples, h.cursor, this.now());
    this.held = [];
  }

  live(readings: Reading[]): void {
    const now = this.now();
    this.hooks.onLive?.(
      this.deviceId,
      readings.map((r) => this.toSample(r, now)),
    );
  }

  dropped(reason: string, frame: Uint8Array): void {
    this.dropCounts[reason] = (this.dropCounts[reason] ?? 0) + 1;
    this.hooks.onDrop?.(this.deviceId, reason, toHex(frame));
  }

  progress(message: string): void {
    this.hooks.onProgress?.(this.deviceId, message);
  }

  setInfo(info: Record<string, string>): void {
    Object.assign(this.info, info);
    if (this.canStore) this.hooks.store.mergeInfo(this.deviceId, info);
  }

  /** Run recipe steps in order. A bad frame from a `read` step is counted, never fatal. */
  async run(steps: readonly Step[] | undefined, phase: string): Promise<void> {
    for (const st of steps ?? []) {
      const label = st.op === 'run' ? st.name : `${st.op} ${this.charName(st.service, st.characteristic)}`;
      try {
        if (st.op === 'run') {
          await st.run(this);
          continue;
        }
        if (st.optional && !this.has(st.service, st.characteristic)) continue;
        if (!this.has(st.service, st.characteristic)) {
          throw new DeviceError('unsupported', `the device has no ${this.charName(st.service, st.characteristic)}`);
        }
        if (st.op === 'read') {
          const data = await this.read(st.service, st.characteristic);
          try {
            this.commit(st.decode(new ByteReader(data), this.context));
          } catch (e) {
            if (!(e instanceof TruncatedError || e instanceof MalformedError)) throw e;
            this.dropped(e instanceof TruncatedError ? 'truncated' : 'malformed', data);
          }
        } else if (st.op === 'write') {
          const v = typeof st.value === 'function' ? st.value(this) : st.value;
          await this.write(st.service, st.characteristic, v, st.withoutResponse ?? false);
        } else if (st.op === 'subscribe') {
          await this.subscribe(st.service, st.characteristic);
        } else {
          await this.unsubscribe(st.service, st.characteristic);
        }
      } catch (e) {
        if (e instanceof DeviceError) throw new DeviceError(e.code, `${phase} (${label}): ${e.message}`);
        if (e instanceof TruncatedError || e instanceof MalformedError) {
          throw new DeviceError('malformed', `${phase} (${label}): the device sent a bad frame: ${e.message}`);
        }
        throw e;
      }
    }
  }
}
