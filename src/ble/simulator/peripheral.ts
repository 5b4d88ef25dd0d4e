/**
 * Base class of simulated peripherals: an advert, a GATT table, and handlers for reads, writes and
 * subscriptions. Subclasses send notifications with `notify()` and can drop the link with `hangUp()`.
 */

export interface SimAdvertisement {
  localName?: string;
  txPowerLevel?: number;
  serviceUuids?: string[];
  serviceData?: { uuid: string; data: Buffer }[];
  manufacturerData?: Buffer;
  serviceSolicitationUuids?: string[];
}

export interface SimCharacteristic {
  uuid: string;
  properties: ('read' | 'write' | 'writeWithoutResponse' | 'notify' | 'indicate')[];
}

export interface SimService {
  uuid: string;
  characteristics: SimCharacteristic[];
}

export interface SimFaults {
  /** connect() never completes. */
  neverConnect?: boolean;
  /** Connected, but never answers any GATT request. */
  silent?: boolean;
}

export interface SimLink {
  notify(service: string, characteristic: string, data: Uint8Array): void;
  disconnect(reason: string): void;
}

export abstract class SimPeripheral {
  readonly addressType: 'public' | 'random' = 'public';
  readonly faults: SimFaults = {};
  private link: SimLink | null = null;
  private readonly subscribed = new Set<string>();
  /** Every write the hub made, for assertions: `service/characteristic hex`. */
  readonly writes: string[] = [];

  constructor(
    readonly address: string,
    readonly connectable: boolean,
    private readonly baseRssi = -60,
  ) {}

  /** noble-style id: the address, lowercase, without colons. */
  get id(): string {
    return this.address.toLowerCase().replace(/:/g, '');
  }

  get isConnected(): boolean {
    return this.link !== null;
  }

  rssi(): number {
    return this.baseRssi;
  }

  /** The current advertisement, or null while not advertising (e.g. connected). */
  abstract advertisement(): SimAdvertisement | null;

  gatt(): SimService[] {
    return [];
  }

  attach(link: SimLink): void {
    this.link = link;
    this.subscribed.clear();
    this.onConnect();
  }

  detach(): void {
    this.link = null;
    this.subscribed.clear();
    this.onDisconnect();
  }

  isSubscribed(service: string, characteristic: string): boolean {
    return this.subscribed.has(`${service}/${characteristic}`);
  }

  setSubscribed(service: string, characteristic: string, on: boolean): void {
    if (on) this.subscribed.add(`${service}/${characteristic}`);
    else this.subscribed.delete(`${service}/${characteristic}`);
  }

  protected notify(service: string, characteristic: string, data: Uint8Array): void {
    this.link?.notify(service, characteristic, data);
  }

  /** Drop the link from the device side (a band walking out of range). */
  hangUp(reason = 'connection timeout'): void {
    this.link?.disconnect(reason);
  }

  protected onConnect(): void {}
  protected onDisconnect(): void {}

  /** The value of a read, or null to never answer. */
  onRead(_service: string, _characteristic: string): Uint8Array | null {
    return null;
  }

  onWrite(service: string, characteristic: string, data: Uint8Array): void {
    this.writes.push(`${service}/${characteristic} ${Buffer.from(data).toString('hex')}`);
  }

  onSubscribe(_service: string, _characteristic: string, _enabled: boolean): void {}
}
