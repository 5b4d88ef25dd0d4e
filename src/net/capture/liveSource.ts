/**
 * Live capture on the access point's interface with libpcap, through the `cap` binding. This is the ONLY
 * file that loads `cap`, lazily (createRequire inside `loadCap`), so that everything else works on a machine
 * without libpcap: the source then reports "live capture unavailable: install libpcap-dev" and the agent
 * keeps running.
 *
 * Timestamps: `cap` hands over the bytes but not libpcap's timestamp, so each packet is stamped with
 * Date.now() when its callback runs. cap drains the kernel ring in one loop per poll wake-up and runs the
 * callback synchronously, so the stamp is the time the agent read the packet: millisecond resolution, and
 * late by the time the packet waited in the kernel buffer (usually well under a millisecond; up to the
 * libpcap read timeout of 1 s when libpcap's immediate mode could not be enabled).
 *
 * Drops: cap exposes no pcap_stats(), so the drops of the capture socket's ring are not visible here
 * (`kernelDrops` is null); the interface's own receive drops (/sys/class/net/IF/statistics/rx_dropped and
 * rx_missed_errors) are reported instead, and the queue behind the callback counts its own drops.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import type { CapturedPacket } from './types.js';

export type CaptureState = 'starting' | 'capturing' | 'unavailable' | 'stopped' | 'done' | 'failed';

export interface CaptureSourceStatus {
  /** `live:<interface>` or `replay:<file>`. */
  source: string;
  state: CaptureState;
  /** What is wrong and how to fix it, or what is going on. */
  detail: string;
  filter: string;
  packets: number;
  bytes: number;
  /** Drops of the capture socket, null when the platform does not report them. */
  kernelDrops: number | null;
  /** Receive drops of the interface itself since the capture started (driver/NIC), when known. */
  interfaceDrops: number | null;
  startedAt: number | null;
}

/** Accepts a packet (copying what it keeps); false when there was no room (the caller counts it). */
export type PacketAccept = (pkt: CapturedPacket) => boolean;

/** A source of packets for the agent: the live interface or a capture file replayed as if live. */
export interface CaptureSource {
  readonly name: string;
  /** The source can wait for room (a file); a live interface cannot, its overflow is counted as drops. */
  readonly lossless: boolean;
  /** Starts delivering packets. Never throws for an unavailable source: it reports it in status(). */
  start(accept: PacketAccept): Promise<void>;
  stop(): Promise<void>;
  status(): CaptureSourceStatus;
  /** Resolves when the source has nothing more to deliver (end of file, stopped, or unavailable). */
  readonly done: Promise<void>;
}

export const LIBPCAP_MISSING = 'live capture unavailable: install libpcap-dev';

interface CapInstance {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  on(event: 'packet', fn: (nbytes: number, truncated: boolean) => void): void;
}
interface CapModule {
  Cap: new () => CapInstance;
}

/** Loads the native binding; throws with the reason when it (or libpcap) is missing. */
export function loadCap(): CapModule {
  const require = createRequire(import.meta.url);
  return require('cap') as CapModule;
}

/** Whether `cap` and libpcap load here, and why not. */
export function capAvailability(): { ok: true } | { ok: false; reason: string } {
  try {
    loadCap();
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message.split('\n')[0]! : String(e) };
  }
}

/**
 * Cap instances whose open() failed. cap's native destructor calls uv_poll_stop() on a poll handle that a
 * failed open never initialised, which crashes the process when the object is garbage-collected; keeping a
 * reference (one per failed start, bounded by how often the agent starts a capture) avoids it.
 */
const failedOpens: unknown[] = [];

const CAP_LINK_TYPES: Record<string, number> = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LINKTYPE_LINUX_SLL: 113,
  IEEE802_11_RADIO: 127,
};

export interface FilterOptions {
  /** Addresses of the hub on the capture interface. */
  hubAddresses: readonly string[];
  /** TCP ports of the hub's own services reached over the LAN (API/dashboard, SSH). */
  managementPorts: readonly number[];
  excludeOwnTraffic: boolean;
  /** Extra user expression, ANDed. */
  extra: string;
}

/**
 * The BPF filter. On the AP interface the phones' internet traffic is forwarded, so its packets carry the
 * phone's and the server's addresses, never the hub's; what does carry a hub address is traffic with the hub
 * itself. Of that, only the management sessions (dashboard/API, SSH) are left out: DNS and DHCP served by
 * the hub are what names the phones' contacts and must stay in.
 */
export function buildCaptureFilter(o: FilterOptions): string {
  const parts: string[] = [];
  if (o.extra.trim() !== '') parts.push(`(${o.extra.trim()})`);
  if (o.excludeOwnTraffic && o.hubAddresses.length > 0 && o.managementPorts.length > 0) {
    const hosts = o.hubAddresses.map((a) => `host ${a}`).join(' or ');
    const ports = [...new Set(o.managementPorts)].map((p) => `tcp port ${p}`).join(' or ');
    parts.push(`not ((${hosts}) and (${ports}))`);
  }
  return parts.join(' and ');
}

/** The interface's addresses (IPv4 and IPv6, without zone). */
export function interfaceAddresses(name: string): string[] {
  const list = networkInterfaces()[name] ?? [];
  return list.map((a) => a.address.replace(/%.*$/, ''));
}

function readCounter(iface: string, counter: string): number | null {
  try {
    const v = Number(readFileSync(`/sys/class/net/${iface}/statistics/${counter}`, 'utf8').trim());
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

function interfaceDropCounter(iface: string): number | null {
  const a = readCounter(iface, 'rx_dropped');
  const b = readCounter(iface, 'rx_missed_errors');
  if (a === null && b === null) return null;
  return (a ?? 0) + (b ?? 0);
}

/** Explains a libpcap open error in terms of what to do. */
export function explainOpenError(iface: string, message: string): string {
  if (/permission|not permitted|EPERM|socket: Operation/i.test(message)) {
    return `no capture rights on ${iface} (${message}): run the agent as root, or give node CAP_NET_RAW and CAP_NET_ADMIN (sudo setcap cap_net_raw,cap_net_admin+eip "$(readlink -f "$(command -v node)")")`;
  }
  if (/No such device|doesn't exist|no such interface/i.test(message)) {
    return `interface ${iface} not found (${message}): set capture.interface or --interface to the access point's interface (see 'ip link')`;
  }
  if (/syntax error|filter|expression/i.test(message)) {
    return `bad capture filter (${message}): check capture.filter (pcap-filter syntax)`;
  }
  if (/not up|network is down/i.test(message))
    return `interface ${iface} is down (${message}): ip link set ${iface} up`;
  return `cannot capture on ${iface}: ${message}`;
}

export interface LiveSourceOptions {
  interface: string;
  bufferBytes: number;
  filter: string;
  now?: () => number;
  /** Override the binding loader (tests of the unavailable paths). */
  load?: () => CapModule;
}

export class LiveSource implements CaptureSource {
  readonly name: string;
  readonly lossless = false;
  readonly done: Promise<void>;
  private resolveDone: () => void = () => {};
  private cap: CapInstance | null = null;
  private readonly st: CaptureSourceStatus;
  private dropBase: number | null = null;

  constructor(private readonly opts: LiveSourceOptions) {
    this.name = `live:${opts.interface}`;
    this.st = {
      source: this.name,
      state: 'starting',
      detail: '',
      filter: opts.filter,
      packets: 0,
      bytes: 0,
      kernelDrops: null,
      interfaceDrops: null,
      startedAt: null,
    };
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  private fail(state: CaptureState, detail: string): void {
    this.st.state = state;
    this.st.detail = detail;
    this.resolveDone();
  }

  async start(accept: PacketAccept): Promise<void> {
    const iface = this.opts.interface;
    let mod: CapModule;
    try {
      mod = (this.opts.load ?? loadCap)();
    } catch (e) {
      const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
      this.fail('unavailable', `${LIBPCAP_MISSING} (the cap module did not load: ${why}), then npm rebuild cap`);
      return;
    }
    if (process.platform === 'linux' && !existsSync(`/sys/class/net/${iface}`)) {
      this.fail(
        'unavailable',
        `interface ${iface} not found: set capture.interface or --interface to the access point's interface (see 'ip link')`,
      );
      return;
    }
    const now = this.opts.now ?? Date.now;
    const buffer = Buffer.alloc(65_535);
    const cap = new mod.Cap();
    let linkName: string;
    try {
      linkName = cap.open(iface, this.opts.filter, this.opts.bufferBytes, buffer);
    } catch (e) {
      if (failedOpens.length < 64) failedOpens.push(cap, buffer);
      this.fail('unavailable', explainOpenError(iface, e instanceof Error ? e.message : String(e)));
      return;
    }
    const linkType = CAP_LINK_TYPES[linkName];
    if (linkType === undefined) {
      cap.close();
      this.fail('unavailable', `interface ${iface} has a link type bandguard cannot decode (${linkName})`);
      return;
    }
    this.cap = cap;
    this.dropBase = interfaceDropCounter(iface);
    this.st.state = 'capturing';
    this.st.startedAt = now();
    let operstate = '';
    try {
      operstate = readFileSync(`/sys/class/net/${iface}/operstate`, 'utf8').trim();
    } catch {
      operstate = '';
    }
    this.st.detail =
      operstate === 'down'
        ? `capturing on ${iface}, but the interface is down (ip link set ${iface} up)`
        : `capturing on ${iface} (${linkName.toLowerCase()})`;
    const pkt: CapturedPacket = { tsMs: 0, linkType, data: buffer, origLen: 0, interfaceId: 0 };
    const st = this.st;
    cap.on('packet', (nbytes: number) => {
      pkt.tsMs = now();
      pkt.data = buffer.subarray(0, nbytes);
      pkt.origLen = nbytes;
      st.packets++;
      st.bytes += nbytes;
      accept(pkt);
    });
  }

  async stop(): Promise<void> {
    if (this.cap) {
      this.cap.close();
      this.cap = null;
      this.st.state = 'stopped';
      this.st.detail = `stopped capturing on ${this.opts.interface}`;
    }
    this.resolveDone();
  }

  status(): CaptureSourceStatus {
    if (this.dropBase !== null) {
      const d = interfaceDropCounter(this.opts.interface);
      this.st.interfaceDrops = d === null ? null : Math.max(0, d - this.dropBase);
    }
    return { ...this.st };
  }
}
