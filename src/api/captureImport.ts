/**
 * Import of a capture file uploaded through the dashboard: the upload is streamed to a temporary file (size
 * capped), read with the same streaming reader and pipeline as `analyze` and live capture, and stored by the
 * agent's own StoreWriter (same buckets and merge rules as live traffic) — plus what the plaintext
 * inspection found (leaks, events), attributed with the same ReportBuilder as `analyze`. The DNS answers of
 * the file also feed the firewall's sets when a firewall observer is given. One import at a time.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { StoreWriter } from '../agent/storeWriter.js';
import { readCaptureFile } from '../net/capture/pcapFile.js';
import { CaptureFormatError } from '../net/capture/types.js';
import type { PipelineObserver } from '../net/flows/flowTypes.js';
import { LeakInspector } from '../net/inspect/inspector.js';
import { teeObservers } from '../net/inspect/tee.js';
import { Pipeline } from '../net/pipeline.js';
import { type ContactClassifier, ReportBuilder } from '../net/report.js';
import type { NetStore } from '../store/netStore.js';
import { ApiError } from './errors.js';

export interface ImportResult {
  id: string;
  name: string;
  startedAt: string;
  durationMs: number;
  bytes: number;
  packets: number;
  format: string;
  start: string | null;
  end: string | null;
  clients: number;
  contacts: number;
  names: number;
  leaks: number;
  events: number;
  malformed: number;
  ok: boolean;
  error: string | null;
}

export interface CaptureImporterOptions {
  store: NetStore;
  classifier: ContactClassifier;
  /** Temporary directory for uploads (created). */
  tmpDir: string;
  bucketMs: number;
  maxBytes?: number;
  /** Extra observer (the firewall's DNS feed). */
  observer?: PipelineObserver | null;
  onImported?: (r: ImportResult) => void;
  now?: () => number;
}

export const DEFAULT_MAX_UPLOAD = 256 * 1024 * 1024;

/** Passes bytes through until `max`, then fails the stream with a too_large ApiError. */
function capBytes(max: number, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      count.n += chunk.length;
      if (count.n > max) cb(new ApiError('too_large', `the capture is larger than ${Math.round(max / 1048576)} MiB`));
      else cb(null, chunk);
    },
  });
}

export class CaptureImporter {
  private busy = false;
  private readonly history: ImportResult[] = [];
  private readonly now: () => number;
  readonly maxBytes: number;

  constructor(private readonly opts: CaptureImporterOptions) {
    this.now = opts.now ?? Date.now;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_UPLOAD;
  }

  get running(): boolean {
    return this.busy;
  }

  recent(): ImportResult[] {
    return [...this.history].reverse();
  }

  /** Streams `body` to a temporary file and imports it. */
  async importStream(body: Readable, name: string): Promise<ImportResult> {
    if (this.busy) throw new ApiError('busy', 'another capture is being imported; try again when it is done');
    this.busy = true;
    const id = randomBytes(6).toString('hex');
    mkdirSync(this.opts.tmpDir, { recursive: true, mode: 0o700 });
    const path = join(this.opts.tmpDir, `upload-${id}.pcap`);
    const count = { n: 0 };
    try {
      await streamPipeline(body, capBytes(this.maxBytes, count), createWriteStream(path, { mode: 0o600 }));
      if (count.n === 0) throw new ApiError('not_a_capture', 'the upload is empty');
      return await this.importFile(path, name, id, count.n);
    } finally {
      rmSync(path, { force: true });
      this.busy = false;
    }
  }

  private async importFile(path: string, name: string, id: string, bytes: number): Promise<ImportResult> {
    const t0 = this.now();
    const writer = new StoreWriter(this.opts.store, {
      bucketMs: this.opts.bucketMs,
      maxPendingRows: 20_000,
      now: this.now,
    });
    const builder = new ReportBuilder(this.opts.classifier);
    const inspector = new LeakInspector();
    builder.setLeakSource(inspector);
    const observers: PipelineObserver[] = [writer, builder, inspector];
    if (this.opts.observer) observers.push(this.opts.observer);
    const pipeline = new Pipeline(teeObservers(...observers));
    const base = {
      id,
      name,
      startedAt: new Date(t0).toISOString(),
      bytes,
    };
    let st: Awaited<ReturnType<typeof readCaptureFile>>;
    try {
      st = await readCaptureFile(path, (p) => pipeline.push(p));
    } catch (err) {
      if (err instanceof CaptureFormatError) {
        const msg = err.message.replace(path, name);
        this.remember({ ...base, ...empty(), durationMs: this.now() - t0, ok: false, error: msg });
        throw new ApiError('not_a_capture', msg);
      }
      throw err;
    }
    pipeline.flush();
    const s = pipeline.stats;
    const bucketMs = this.opts.bucketMs;
    writer.addCapture({
      bucketStart: Math.floor((s.lastTsMs ?? t0) / bucketMs) * bucketMs,
      bucketMs,
      source: `import:${name}`,
      packets: s.packets,
      bytes: s.bytes,
      malformed: s.malformed,
      truncated: s.truncated,
      flows: s.flowsCreated,
      flowsEvicted: s.flowsEvicted,
      linkTypes: st.linkTypes.map(String),
      drops: { ...s.drops },
      firstTs: s.firstTsMs,
      lastTs: s.lastTsMs,
    });
    const report = builder.build({
      files: [name],
      packets: s.packets,
      bytes: s.bytes,
      start: s.firstTsMs === null ? null : new Date(Math.round(s.firstTsMs)).toISOString(),
      end: s.lastTsMs === null ? null : new Date(Math.round(s.lastTsMs)).toISOString(),
      linkTypes: [],
      malformed: s.malformed,
      truncated: s.truncated,
      drops: s.drops,
      flows: s.flowsCreated,
      flowsEvicted: s.flowsEvicted,
    });
    for (const k of report.leaks) {
      writer.addLeak({
        clientId: k.client,
        name: k.name,
        serverIp: k.serverIp,
        protocol: k.protocol,
        kind: k.kind,
        term: k.term,
        evidence: k.evidence,
        encoding: k.encoding,
        tsMs: Date.parse(k.firstSeen),
        count: k.count,
      });
    }
    for (const e of report.events) {
      writer.addEvent({ clientId: e.client, app: e.app, kind: e.kind, tsMs: Date.parse(e.at), evidence: e.evidence });
    }
    if (writer.flush() < 0) {
      throw new Error(`the store could not be written: ${writer.stats.lastError ?? 'unknown error'}`);
    }
    const r: ImportResult = {
      ...base,
      durationMs: this.now() - t0,
      packets: s.packets,
      format: st.format,
      start: report.capture.start,
      end: report.capture.end,
      clients: report.clients.length,
      contacts: report.contacts.length,
      names: new Set(report.contacts.map((c) => c.name).filter((n) => n !== null)).size,
      leaks: report.leaks.length,
      events: report.events.length,
      malformed: s.malformed,
      ok: true,
      error: null,
    };
    this.remember(r);
    this.opts.onImported?.(r);
    return r;
  }

  private remember(r: ImportResult): void {
    this.history.push(r);
    if (this.history.length > 20) this.history.shift();
  }
}

function empty() {
  return {
    packets: 0,
    format: '',
    start: null,
    end: null,
    clients: 0,
    contacts: 0,
    names: 0,
    leaks: 0,
    events: 0,
    malformed: 0,
  };
}
