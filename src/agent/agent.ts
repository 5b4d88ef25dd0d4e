/**
 * The composition root of `bandguard start`: configuration → database → store writer (a PipelineObserver)
 * → pipeline ← packet queue ← capture source (live interface, or a capture file replayed as if live), the
 * BLE BandService, the scheduler (retention, BLE sync), health/status and a graceful stop that flushes.
 *
 * Failures are isolated per part: an unavailable capture (no libpcap, no rights, no interface) or BLE
 * adapter is reported in status and the rest keeps running. `safe` starts without device writes (no
 * scheduled sync) and, once the firewall exists, without rule changes.
 *
 * The HTTP API and dashboard (a later issue) plug in through `Agent.services` — the store, the BLE service
 * and `status()` — without reaching into the capture internals.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { BandService } from '../ble/bandService.js';
import type { Cron, CronTask } from '../ble/scheduler.js';
import type { Config } from '../config/schema.js';
import { parseListen } from '../config/schema.js';
import { logger } from '../core/logger.js';
import { dryRunExecutor, execFileExecutor } from '../firewall/executor.js';
import { FirewallService, type FirewallStatus } from '../firewall/firewallService.js';
import {
  buildCaptureFilter,
  type CaptureSource,
  type CaptureSourceStatus,
  interfaceAddresses,
  LiveSource,
} from '../net/capture/liveSource.js';
import { RingWriter, type RingWriterStatus } from '../net/capture/ringWriter.js';
import type { CapturedPacket } from '../net/capture/types.js';
import { defaultClassifier } from '../net/classify/classifier.js';
import { defaultPartiesKnowledgeBase } from '../net/classify/parties.js';
import { LeakInspector } from '../net/inspect/inspector.js';
import { teeObservers } from '../net/inspect/tee.js';
import { Pipeline } from '../net/pipeline.js';
import { type Db, openDatabase } from '../store/db.js';
import { NetStore, type RetentionResult } from '../store/netStore.js';
import { GeoEnricher, type GeoEnricherStatus, openGeo } from './geo.js';
import { PacketQueue } from './packetQueue.js';
import { acquirePidFile, releasePidFile, writeStatusFile } from './pidFile.js';
import { StoreWriter } from './storeWriter.js';

export const DB_FILE = 'bandguard.db';
export const VERSION = '0.1.0';
const log = logger('agent');

export interface AgentStatus {
  pid: number;
  version: string;
  startedAt: string;
  updatedAt: string;
  dataDir: string;
  safe: boolean;
  /** The process's memory (process.memoryUsage): RSS, and the JavaScript heap inside it. */
  memory: { rssBytes: number; heapUsedBytes: number; heapTotalBytes: number; externalBytes: number };
  capture: CaptureSourceStatus & {
    enabled: boolean;
    queueDrops: number;
    queueLength: number;
    queueHighWater: number;
    pipelinePackets: number;
    malformed: number;
    flowsActive: number;
    flowsEvicted: number;
    /** The on-disk pcap ring (capture.ringBuffer), null when off. */
    ringBuffer: RingWriterStatus | null;
  };
  store: {
    path: string;
    sizeBytes: number;
    walBytes: number;
    lastSeq: number;
    lastWriteAt: string | null;
    writeErrors: number;
    lastError: string | null;
    pendingRows: number;
    droppedRecords: number;
    flowsWritten: number;
  };
  ble: { enabled: boolean; state: string; kind: string | null; devices: number; detail: string };
  /** Server owners: mmdb files, the owner cache and (geo.rdap) RDAP rounds. */
  geo: GeoEnricherStatus;
  /** Null when the firewall is left alone (firewall.mode off, or --safe). */
  firewall: (FirewallStatus & { mode: string }) | null;
  retention: {
    schedule: string;
    lastRunAt: string | null;
    lastResult: RetentionResult | null;
    lastError: string | null;
  };
}

export interface AgentDeps {
  config: Config;
  /** Replaces the live interface (demo, tests): e.g. a ReplaySource. */
  source?: CaptureSource;
  now?: () => number;
  /** The scheduler; node-cron when omitted. */
  cron?: Cron;
  /** Open the BLE side (default: when config.ble.enabled). Injected in tests. */
  openBand?: (db: Db) => Promise<BandService>;
  /** Take the data dir's pid/lock file (default true; demo's throwaway dir too). */
  lock?: boolean;
  /** Where RDAP queries go instead of the registries (default BANDGUARD_RDAP_URL; tests). */
  rdapUrl?: string;
}

function snapshotStats(p: Pipeline) {
  const s = p.stats;
  return {
    packets: s.packets,
    bytes: s.bytes,
    malformed: s.malformed,
    truncated: s.truncated,
    flows: s.flowsCreated,
    flowsEvicted: s.flowsEvicted,
    drops: { ...s.drops },
  };
}

export class Agent {
  readonly db: Db;
  readonly store: NetStore;
  readonly writer: StoreWriter;
  readonly pipeline: Pipeline;
  /** Plaintext inspection of the live traffic: leaks go to the store as they are found. */
  readonly inspector: LeakInspector;
  /** Blocking (issue 5): restored at start, fed by the DNS answers the capture sees; null when left alone. */
  readonly firewall: FirewallService | null;
  /**
   * Server owners (geo.mmdb files, the owner cache, RDAP rounds with geo.rdap): the API and reports classify
   * with `geo` so that country/asn/asOrganization of live contacts come from the same place.
   */
  readonly geoEnricher: GeoEnricher;
  private stopWatchingPolicy: (() => void) | null = null;
  private lastEventDrain = 0;
  readonly queue: PacketQueue;
  readonly source: CaptureSource | null;
  /** The optional on-disk pcap ring: every accepted packet is also written there. */
  readonly ring: RingWriter | null;
  band: BandService | null = null;
  private bleState = { state: 'off', kind: null as string | null, detail: 'disabled in the configuration' };
  private readonly startedAt: number;
  private readonly now: () => number;
  private flushTimer: NodeJS.Timeout | null = null;
  private drainScheduled = false;
  private stopped = false;
  private tasks: CronTask[] = [];
  private last = {
    packets: 0,
    bytes: 0,
    malformed: 0,
    truncated: 0,
    flows: 0,
    flowsEvicted: 0,
    drops: {} as Record<string, number>,
  };
  private windowFirst: number | null = null;
  private windowLast: number | null = null;
  private retention = {
    lastRunAt: null as number | null,
    lastResult: null as RetentionResult | null,
    lastError: null as string | null,
  };
  private lastStatusWrite = 0;
  private readonly locked: boolean;
  readonly dbPath: string;

  private constructor(
    readonly config: Config,
    db: Db,
    source: CaptureSource | null,
    private readonly deps: AgentDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.startedAt = this.now();
    this.db = db;
    this.dbPath = join(config.dataDir, DB_FILE);
    this.store = new NetStore(db);
    this.writer = new StoreWriter(this.store, {
      bucketMs: config.store.bucketMinutes * 60_000,
      maxPendingRows: config.store.maxPendingRows,
      now: this.now,
      onError: (e) => log.error('store write failed; keeping the batch for the next attempt', e),
    });
    this.inspector = new LeakInspector({
      onLeak: (l) =>
        this.writer.addLeak({
          clientId: l.client,
          name: l.name,
          serverIp: l.serverIp,
          protocol: l.protocol,
          kind: l.kind,
          term: l.term,
          evidence: l.evidence,
          encoding: l.encoding,
          tsMs: l.tsMs,
          count: 1,
        }),
    });
    const fwMode = config.safe ? 'off' : config.firewall.mode;
    this.firewall =
      fwMode === 'off'
        ? null
        : new FirewallService({
            db,
            executor:
              fwMode === 'dry-run'
                ? dryRunExecutor((text) => log.debug(() => `firewall (dry run): ${text}`))
                : execFileExecutor(),
            parties: defaultPartiesKnowledgeBase(),
            dnsmasqConfPath: config.firewall.dnsmasqConf || join(config.dataDir, 'dnsmasq-bandguard.conf'),
          });
    this.geoEnricher = new GeoEnricher(
      openGeo(config, db, { online: true, rdapUrl: deps.rdapUrl }),
      config.geo.rdapIntervalSeconds,
      this.now,
    );
    const observers = [
      this.writer,
      this.inspector,
      ...(this.firewall ? [this.firewall.attachTo()] : []),
      ...(this.geoEnricher.geo.online ? [this.geoEnricher] : []),
    ];
    this.pipeline = new Pipeline(teeObservers(...observers), {
      maxFlows: config.capture.maxFlows,
      tcpIdleMs: config.capture.tcpIdleSeconds * 1000,
      tcpClosedIdleMs: config.capture.tcpClosedIdleSeconds * 1000,
      udpIdleMs: config.capture.udpIdleSeconds * 1000,
    });
    this.queue = new PacketQueue(config.capture.queuePackets, Math.max(4 << 20, config.capture.queuePackets * 2048));
    this.source = source;
    const rb = config.capture.ringBuffer;
    this.ring =
      rb.enabled && source
        ? new RingWriter({ dir: join(config.dataDir, 'pcap'), fileBytes: rb.fileMiB * 1024 * 1024, files: rb.files })
        : null;
    this.locked = deps.lock !== false;
  }

  /** The live source the configuration asks for, with the own-traffic filter. */
  static liveSourceFor(config: Config): LiveSource {
    const listen = parseListen(config.api.listen);
    const filter = buildCaptureFilter({
      hubAddresses: interfaceAddresses(config.capture.interface),
      managementPorts: [...(listen ? [listen.port] : []), 22],
      excludeOwnTraffic: config.capture.excludeOwnTraffic,
      extra: config.capture.filter,
    });
    return new LiveSource({
      interface: config.capture.interface,
      bufferBytes: config.capture.bufferMiB * 1024 * 1024,
      filter,
    });
  }

  static async start(deps: AgentDeps): Promise<Agent> {
    const config = deps.config;
    if (deps.lock !== false) {
      acquirePidFile(config.dataDir, {
        pid: process.pid,
        startedAt: new Date().toISOString(),
        interface: deps.source ? null : config.capture.enabled ? config.capture.interface : null,
        listen: config.api.listen,
        safe: config.safe,
        version: VERSION,
      });
    }
    let db: Db;
    try {
      db = openDatabase(join(config.dataDir, DB_FILE));
    } catch (e) {
      if (deps.lock !== false) releasePidFile(config.dataDir);
      throw e;
    }
    const source = deps.source ?? (config.capture.enabled ? Agent.liveSourceFor(config) : null);
    const agent = new Agent(config, db, source, deps);
    try {
      await agent.boot();
    } catch (e) {
      await agent.stop().catch(() => undefined);
      throw e;
    }
    return agent;
  }

  private async boot(): Promise<void> {
    const c = this.config;
    this.store.audit('agent', 'start', c.dataDir, { safe: c.safe, source: this.source?.name ?? null }, this.now());
    if (this.ring) {
      await this.ring.start();
      const r = this.ring.status();
      if (r.lastError) log.warn(`pcap ring buffer: ${r.lastError}`);
      else log.info(`pcap ring buffer: ${r.dir}, ${r.maxFiles} files of ${c.capture.ringBuffer.fileMiB} MiB`);
    }
    if (this.source) {
      const src = this.source;
      const accept = src.lossless
        ? (p: CapturedPacket) => this.enqueue(p, true)
        : (p: CapturedPacket) => this.enqueue(p, false);
      await src.start(accept);
      const st = src.status();
      if (st.state === 'unavailable' || st.state === 'failed') log.warn(`capture: ${st.detail}`);
      else log.info(`capture: ${st.detail}${st.filter ? ` (filter: ${st.filter})` : ''}`);
    }
    await this.bootFirewall();
    for (const p of this.geoEnricher.status().problems) log.warn(p);
    if (this.geoEnricher.geo.online) log.info(`RDAP: server owners asked every ${c.geo.rdapIntervalSeconds} s`);
    this.geoEnricher.start();
    this.flushTimer = setInterval(() => this.tick(), c.store.flushIntervalMs);
    this.flushTimer.unref?.();
    await this.bootBle();
    await this.bootScheduler();
    this.tick();
  }

  /** Re-applies the stored block policy (the kernel forgets it at reboot) and follows CLI/API changes. */
  private async bootFirewall(): Promise<void> {
    const fw = this.firewall;
    if (!fw) return;
    try {
      // Nothing blocked and nothing applied before: leave the kernel's ruleset untouched until the first block.
      const st = fw.status();
      if (st.entries > 0 || st.appliedHash !== null) {
        await fw.probeConntrack();
        await fw.restore('agent');
      }
    } catch (e) {
      // Recorded in the firewall's status (last error); the rest of the agent keeps running.
      log.error('firewall restore failed', e);
    }
    this.stopWatchingPolicy = fw.watchPolicy(2000, (e) =>
      log.warn(`firewall: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  private async bootBle(): Promise<void> {
    const c = this.config;
    if (!c.ble.enabled) return;
    try {
      const open =
        this.deps.openBand ??
        (async (db: Db) => {
          const { BandService } = await import('../ble/bandService.js');
          return BandService.open({ dataDir: c.dataDir, simulate: c.ble.simulate, db });
        });
      this.band = await open(this.db);
      const st = await this.band.status();
      this.bleState = {
        state: st.adapter,
        kind: st.kind,
        detail: st.adapter === 'poweredOn' ? `${st.devices} paired device(s)` : `BLE adapter ${st.adapter}`,
      };
    } catch (e) {
      this.bleState = {
        state: 'unavailable',
        kind: null,
        detail: `BLE unavailable: ${e instanceof Error ? e.message : String(e)} (bandguard doctor says what to fix)`,
      };
      log.warn(this.bleState.detail);
    }
  }

  private async bootScheduler(): Promise<void> {
    const c = this.config;
    let cron = this.deps.cron;
    if (!cron) {
      const { createNodeCron } = await import('../ble/scheduler.js');
      cron = await createNodeCron();
    }
    this.tasks.push(cron.schedule(c.retention.schedule, () => void this.runRetention()));
    if (this.band && !c.safe && this.bleState.state === 'poweredOn') {
      await this.band.startSchedule(c.ble.syncSchedule, cron);
    }
  }

  /** Runs the retention job now (the cron calls this). */
  runRetention(): RetentionResult | null {
    try {
      this.writer.flush();
      const r = this.store.enforceRetention(this.config.retention, this.now());
      this.geoEnricher.geo.cache?.purgeExpired();
      this.retention = { lastRunAt: this.now(), lastResult: r, lastError: null };
      this.store.audit('scheduler', 'retention', null, { ...r }, this.now());
      log.info(() => `retention: ${JSON.stringify(r)}`);
      return r;
    } catch (e) {
      this.retention.lastError = e instanceof Error ? e.message : String(e);
      log.error('retention job failed', e);
      return null;
    }
  }

  private enqueue(p: CapturedPacket, lossless: boolean): boolean {
    const ok = lossless ? this.queue.offer(p) : this.queue.push(p);
    if (ok) this.ring?.write(p);
    if (ok && !this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(this.drain);
    }
    return ok;
  }

  private readonly drain = (): void => {
    this.drainScheduled = false;
    const q = this.queue;
    for (let n = 0; n < 2048; n++) {
      const p = q.shift();
      if (!p) return;
      this.ingest(p);
    }
    if (q.length > 0 && !this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(this.drain);
    }
  };

  private ingest(p: CapturedPacket): void {
    if (this.windowFirst === null || p.tsMs < this.windowFirst) this.windowFirst = p.tsMs;
    if (this.windowLast === null || p.tsMs > this.windowLast) this.windowLast = p.tsMs;
    this.pipeline.push(p);
  }

  /** Drains the queue completely (shutdown, end of a replay). */
  drainAll(): void {
    for (let p = this.queue.shift(); p; p = this.queue.shift()) this.ingest(p);
  }

  /** Counters of the pipeline since the last call, into the writer's capture bucket. */
  private noteCapture(): void {
    const s = snapshotStats(this.pipeline);
    const d = this.last;
    const packets = s.packets - d.packets;
    const flows = s.flows - d.flows;
    const evicted = s.flowsEvicted - d.flowsEvicted;
    if (packets === 0 && flows === 0 && evicted === 0) return;
    const drops: Record<string, number> = {};
    for (const [k, v] of Object.entries(s.drops)) if (v - (d.drops[k] ?? 0) > 0) drops[k] = v - (d.drops[k] ?? 0);
    const bucketMs = this.config.store.bucketMinutes * 60_000;
    const ref = this.windowLast ?? this.pipeline.stats.lastTsMs ?? this.now();
    this.writer.addCapture({
      bucketStart: Math.floor(ref / bucketMs) * bucketMs,
      bucketMs,
      source: this.source?.name ?? 'none',
      packets,
      bytes: s.bytes - d.bytes,
      malformed: s.malformed - d.malformed,
      truncated: s.truncated - d.truncated,
      flows,
      flowsEvicted: evicted,
      linkTypes: [...this.pipeline.stats.linkTypes].map(String),
      drops,
      firstTs: this.windowFirst,
      lastTs: this.windowLast,
    });
    this.last = s;
    this.windowFirst = null;
    this.windowLast = null;
  }

  /**
   * Events (device use inferred from traffic) of the sessions that have settled — marks older than ten minutes,
   * or all of them at stop — classified with the bundled knowledge, into the store.
   */
  private drainEvents(all: boolean): void {
    const now = this.now();
    if (!all && now - this.lastEventDrain < 60_000) return;
    this.lastEventDrain = now;
    const cls = defaultClassifier();
    const namesOf = this.inspector.markedNames();
    const appsOf = new Map<string, string[]>();
    const clientApps = (c: string): string[] => {
      let a = appsOf.get(c);
      if (!a) {
        a = cls.appsOf(namesOf.get(c) ?? [], []);
        appsOf.set(c, a);
      }
      return a;
    };
    const events = this.inspector.drainEvents(
      all ? Number.POSITIVE_INFINITY : now - 10 * 60_000,
      (client, name, serverIp, port) => {
        const k = cls.classify(name, serverIp, port, 'other', clientApps(client));
        return { app: k.app, party: k.party, role: k.role, name };
      },
      clientApps,
    );
    for (const e of events) {
      this.writer.addEvent({
        clientId: e.client,
        app: e.app,
        kind: e.kind,
        tsMs: Date.parse(e.at),
        evidence: e.evidence,
      });
    }
  }

  /** One flush tick: expire idle flows (live clock), write pending aggregates and the status. */
  tick(): void {
    if (this.stopped) return;
    try {
      if (this.source && !this.source.lossless) {
        const now = this.now();
        this.pipeline.sweep(now);
        // Long-lived connections show up while they last, not only when they end.
        this.pipeline.checkpoint(now, this.config.capture.checkpointSeconds * 1000);
      }
      this.drainEvents(false);
      this.flush();
    } catch (e) {
      log.error('flush tick failed', e);
    }
  }

  /** Writes what is pending now (one transaction), with the capture status row. */
  flush(forceStatus = false): number {
    this.noteCapture();
    const st = this.source?.status();
    const status = st
      ? [
          {
            source: st.source,
            state: st.state,
            detail: st.detail,
            filter: st.filter,
            packets: st.packets,
            bytes: st.bytes,
            kernelDrops: st.kernelDrops,
            queueDrops: this.queue.stats.drops,
            startedAt: st.startedAt,
            updatedAt: this.now(),
          },
        ]
      : [];
    const seq = this.writer.flush(status);
    if (this.locked && (forceStatus || this.now() - this.lastStatusWrite >= 2_000)) {
      this.lastStatusWrite = this.now();
      try {
        writeStatusFile(this.config.dataDir, this.status());
      } catch (e) {
        log.debug(() => `status file: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return seq;
  }

  /** Waits until a replay source has delivered everything, then finalises all flows and writes them. */
  async finishSource(): Promise<void> {
    if (!this.source) return;
    await this.source.done;
    this.drainAll();
    this.pipeline.flush();
    this.flush(true);
  }

  status(): AgentStatus {
    const st: CaptureSourceStatus = this.source?.status() ?? {
      source: 'none',
      state: 'stopped',
      detail: 'live capture is disabled in the configuration (capture.enabled)',
      filter: '',
      packets: 0,
      bytes: 0,
      kernelDrops: null,
      interfaceDrops: null,
      startedAt: null,
    };
    const ps = this.pipeline.stats;
    const size = (p: string) => {
      try {
        return statSync(p).size;
      } catch {
        return 0;
      }
    };
    const w = this.writer.stats;
    const mem = process.memoryUsage();
    return {
      pid: process.pid,
      version: VERSION,
      startedAt: new Date(this.startedAt).toISOString(),
      updatedAt: new Date(this.now()).toISOString(),
      dataDir: this.config.dataDir,
      safe: this.config.safe,
      memory: {
        rssBytes: mem.rss,
        heapUsedBytes: mem.heapUsed,
        heapTotalBytes: mem.heapTotal,
        externalBytes: mem.external,
      },
      capture: {
        ...st,
        enabled: this.source !== null,
        queueDrops: this.queue.stats.drops,
        queueLength: this.queue.length,
        queueHighWater: this.queue.stats.highWater,
        pipelinePackets: ps.packets,
        malformed: ps.malformed,
        flowsActive: this.pipeline.activeFlows,
        flowsEvicted: ps.flowsEvicted,
        ringBuffer: this.ring?.status() ?? null,
      },
      store: {
        path: this.dbPath,
        sizeBytes: size(this.dbPath),
        walBytes: size(`${this.dbPath}-wal`),
        lastSeq: w.lastSeq,
        lastWriteAt: w.lastWriteAt === null ? null : new Date(w.lastWriteAt).toISOString(),
        writeErrors: w.writeErrors,
        lastError: w.lastError,
        pendingRows: this.writer.pendingRows,
        droppedRecords: w.droppedRecords,
        flowsWritten: w.flowsWritten,
      },
      geo: this.geoEnricher.status(),
      ble: { enabled: this.config.ble.enabled, ...this.bleState, devices: this.band?.store.listDevices().length ?? 0 },
      firewall: this.firewall ? { mode: this.config.firewall.mode, ...this.firewall.status() } : null,
      retention: {
        schedule: this.config.retention.schedule,
        lastRunAt: this.retention.lastRunAt === null ? null : new Date(this.retention.lastRunAt).toISOString(),
        lastResult: this.retention.lastResult,
        lastError: this.retention.lastError,
      },
    };
  }

  /** Graceful stop: no more packets, everything in memory finalised and written, then the database closed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
    for (const t of this.tasks) t.stop();
    this.tasks = [];
    try {
      await this.source?.stop();
      await this.ring?.close();
      this.drainAll();
      this.pipeline.flush();
      this.drainEvents(true);
      this.stopWatchingPolicy?.();
      await this.firewall
        ?.drain()
        .catch((e) => log.warn(`firewall drain: ${e instanceof Error ? e.message : String(e)}`));
      this.flush();
      this.store.audit(
        'agent',
        'stop',
        this.config.dataDir,
        { flowsWritten: this.writer.stats.flowsWritten },
        this.now(),
      );
    } finally {
      this.stopped = true;
      try {
        await this.band?.close();
      } catch (e) {
        log.warn(`BLE close: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (this.locked) {
        try {
          writeStatusFile(this.config.dataDir, { ...this.status(), stoppedAt: new Date(this.now()).toISOString() });
        } catch {
          // the data dir may be gone (demo)
        }
      }
      this.geoEnricher.close();
      this.db.close();
      if (this.locked) releasePidFile(this.config.dataDir);
    }
  }
}
