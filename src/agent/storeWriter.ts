/**
 * The pipeline observer of the agent: it aggregates FlowRecords, LookupRecords and ClientObservations in
 * memory per (time bucket, key) — a contact per bucket, never a row per packet or flow — and writes them in
 * one transaction per flush (NetStore.writeBatch).
 *
 * Memory is bounded: when the pending aggregates reach `maxPendingRows` the writer flushes at once
 * (backpressure on the pipeline, which runs on the same thread). If the database cannot be written (disk
 * full, locked), the pending rows are kept for the next attempt up to twice the bound; past it, new records
 * are dropped and counted in `stats.droppedRecords`, never an unbounded queue.
 */
import { isIP } from 'node:net';
import type { ClientObservation, FlowRecord, LookupRecord, PipelineObserver } from '../net/flows/flowTypes.js';
import { bestName } from '../net/report.js';
import {
  type CaptureAgg,
  type CaptureStatusRow,
  type ClientAgg,
  type ContactAgg,
  contactKey,
  type EventRecord,
  type LeakRecord,
  type LookupAgg,
  lookupKey,
  mergeCapture,
  mergeClient,
  mergeContact,
  mergeLookup,
  type NameRecord,
  type NetStore,
} from '../store/netStore.js';

export interface StoreWriterOptions {
  bucketMs: number;
  maxPendingRows: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

export interface StoreWriterStats {
  batches: number;
  lastSeq: number;
  lastWriteAt: number | null;
  writeErrors: number;
  lastError: string | null;
  droppedRecords: number;
  flowsWritten: number;
  lookupsWritten: number;
}

function nonEmptyIp(ip: string | null): ip is string {
  return ip !== null && ip !== '' && ip !== '0.0.0.0' && ip !== '::';
}

export class StoreWriter implements PipelineObserver {
  private contacts = new Map<string, ContactAgg>();
  private lookups = new Map<string, LookupAgg>();
  private clients = new Map<string, ClientAgg>();
  private names = new Map<string, NameRecord>();
  private capture = new Map<string, CaptureAgg>();
  private leaks: LeakRecord[] = [];
  private events: EventRecord[] = [];
  private pendingFlows = 0;
  private flushing = false;
  readonly stats: StoreWriterStats = {
    batches: 0,
    lastSeq: 0,
    lastWriteAt: null,
    writeErrors: 0,
    lastError: null,
    droppedRecords: 0,
    flowsWritten: 0,
    lookupsWritten: 0,
  };

  constructor(
    private readonly store: NetStore,
    private readonly opts: StoreWriterOptions,
  ) {}

  get pendingRows(): number {
    return (
      this.contacts.size +
      this.lookups.size +
      this.clients.size +
      this.names.size +
      this.capture.size +
      this.leaks.length +
      this.events.length
    );
  }

  private bucket(ts: number): number {
    return Math.floor(ts / this.opts.bucketMs) * this.opts.bucketMs;
  }

  /** Room for one more record? Flushes when full; false (counted) when even that could not make room. */
  private admit(): boolean {
    if (this.pendingRows < this.opts.maxPendingRows) return true;
    if (!this.flushing) this.flush();
    if (this.pendingRows < 2 * this.opts.maxPendingRows) return true;
    this.stats.droppedRecords++;
    return false;
  }

  private client(id: string, ts: number): ClientAgg {
    let c = this.clients.get(id);
    if (!c) {
      c = {
        id,
        mac: null,
        hostname: null,
        vendorClass: null,
        mdnsName: null,
        dhcpFingerprint: null,
        userAgents: [],
        ips: new Map(),
        firstSeen: ts,
        lastSeen: ts,
      };
      this.clients.set(id, c);
    }
    return c;
  }

  private touchClient(id: string, delta: Partial<ClientAgg>, ip: string | null, first: number, last: number): void {
    const c = this.client(id, first);
    mergeClient(c, {
      id,
      mac: delta.mac ?? null,
      hostname: delta.hostname ?? null,
      vendorClass: delta.vendorClass ?? null,
      mdnsName: delta.mdnsName ?? null,
      dhcpFingerprint: delta.dhcpFingerprint ?? null,
      userAgents: delta.userAgents ?? [],
      ips: nonEmptyIp(ip) ? new Map([[ip, [first, last]]]) : new Map(),
      firstSeen: first,
      lastSeen: last,
    });
  }

  onFlow(f: FlowRecord): void {
    if (!this.admit()) return;
    this.touchClient(f.clientId, { mac: f.clientMac, userAgents: f.userAgents }, f.clientIp, f.firstTsMs, f.lastTsMs);
    const c: ContactAgg = {
      bucketStart: this.bucket(f.firstTsMs),
      bucketMs: this.opts.bucketMs,
      clientId: f.clientId,
      name: bestName(f).name ?? '',
      serverIp: f.serverIp,
      port: f.serverPort,
      transport: f.transport,
      protocol: f.protocol,
      sni: f.sni,
      quicSni: f.quicSni,
      httpHosts: [...f.httpHosts],
      dnsNames: [...f.dnsNames],
      alpn: [...f.alpn],
      userAgents: [...f.userAgents],
      ja3: f.ja3,
      ja4: f.ja4,
      tlsVersion: f.tlsVersion,
      ech: f.ech,
      quicVersion: f.quicVersion,
      flows: f.continued ? 0 : 1,
      packets: f.packetsOut + f.packetsIn,
      bytesOut: f.bytesOut,
      bytesIn: f.bytesIn,
      firstTs: f.firstTsMs,
      lastTs: f.lastTsMs,
      encrypted: f.encrypted,
    };
    const k = contactKey(c);
    const have = this.contacts.get(k);
    if (have) mergeContact(have, c);
    else this.contacts.set(k, c);
    this.pendingFlows++;
  }

  onLookup(l: LookupRecord): void {
    if (!this.admit()) return;
    // ReportBuilder registers the client only through flows and observations; a lookup alone does not.
    const row: LookupAgg = {
      bucketStart: this.bucket(l.tsMs),
      bucketMs: this.opts.bucketMs,
      clientId: l.clientId,
      name: l.name,
      type: l.type,
      protocol: l.protocol,
      questions: l.answers.length === 0 ? 1 : 0,
      answeredFirst: l.answers.length > 0,
      answers: l.answers.slice(0, 64),
      firstTs: l.tsMs,
      lastTs: l.tsMs,
    };
    const k = lookupKey(row);
    const have = this.lookups.get(k);
    if (have) mergeLookup(have, row);
    else this.lookups.set(k, row);
    for (const a of l.answers) {
      if (isIP(a) === 0) continue;
      const nk = `${a}\u0000${l.name}`;
      const n = this.names.get(nk);
      if (n) n.tsMs = Math.max(n.tsMs, l.tsMs);
      else this.names.set(nk, { ip: a, name: l.name, tsMs: l.tsMs });
    }
  }

  onClient(o: ClientObservation): void {
    if (!this.admit()) return;
    this.touchClient(
      o.clientId,
      {
        mac: o.mac,
        hostname: o.hostname ?? null,
        vendorClass: o.vendorClass ?? null,
        mdnsName: o.mdnsName ?? null,
        dhcpFingerprint: o.dhcpFingerprint ?? null,
      },
      o.ip,
      o.tsMs,
      o.tsMs,
    );
  }

  /** Leaks found by plaintext inspection (the inspector calls this). */
  addLeak(k: LeakRecord): void {
    if (this.admit()) this.leaks.push(k);
  }

  addEvent(e: EventRecord): void {
    if (this.admit()) this.events.push(e);
  }

  /** Packet counters of the capture since the last call (summed per bucket and source). */
  addCapture(c: CaptureAgg): void {
    const k = `${c.bucketStart}\u0000${c.source}`;
    const have = this.capture.get(k);
    if (have) mergeCapture(have, c);
    else this.capture.set(k, c);
  }

  /**
   * Writes everything pending (and the given capture status rows) in one transaction. Returns the batch
   * sequence number, 0 when nothing but status was written, -1 when the write failed (pending data kept).
   */
  flush(status: CaptureStatusRow[] = []): number {
    if (this.flushing) return -1;
    this.flushing = true;
    const batch = {
      contacts: [...this.contacts.values()],
      lookups: [...this.lookups.values()],
      clients: [...this.clients.values()],
      names: [...this.names.values()],
      capture: [...this.capture.values()],
      leaks: this.leaks,
      events: this.events,
      status,
    };
    try {
      const seq = this.store.writeBatch(batch, (this.opts.now ?? Date.now)());
      this.contacts = new Map();
      this.lookups = new Map();
      this.clients = new Map();
      this.names = new Map();
      this.capture = new Map();
      this.leaks = [];
      this.events = [];
      this.stats.flowsWritten += this.pendingFlows;
      this.stats.lookupsWritten += batch.lookups.length;
      this.pendingFlows = 0;
      if (seq > 0) {
        this.stats.batches++;
        this.stats.lastSeq = seq;
        this.stats.lastWriteAt = (this.opts.now ?? Date.now)();
      }
      return seq;
    } catch (e) {
      this.stats.writeErrors++;
      this.stats.lastError = e instanceof Error ? e.message : String(e);
      this.opts.onError?.(e);
      return -1;
    } finally {
      this.flushing = false;
    }
  }
}
