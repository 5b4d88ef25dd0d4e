/**
 * Offline analysis of capture files: the same pipeline as live capture, fed from pcap/pcapng files.
 */
import { type CaptureFileStatsExt, readCaptureFile } from './capture/pcapFile.js';
import { CaptureFormatError } from './capture/types.js';
import { linkTypeName } from './decode/linkTypes.js';
import type { PipelineObserver } from './flows/flowTypes.js';
import { LeakInspector, type LeakInspectorOptions } from './inspect/inspector.js';
import { teeObservers } from './inspect/tee.js';
import { Pipeline, type PipelineOptions } from './pipeline.js';
import { type AnalyzeReport, type ContactClassifier, ReportBuilder } from './report.js';

export interface AnalyzeOptions {
  /** Accept files that end inside a packet record (analyze the complete packets before the cut). */
  partial?: boolean;
  pipeline?: Partial<PipelineOptions>;
  classifier?: ContactClassifier | null;
  /** Extra observers (e.g. leak inspection) that see the same records as the report. */
  onBuilder?: (builder: ReportBuilder, pipeline: Pipeline) => void;
  /**
   * Plaintext inspection (leaks and events; src/net/inspect): on by default; `false` turns it off (the
   * report then has empty `leaks` and `events`, as the benchmark's baseline does).
   */
  inspect?: boolean | LeakInspectorOptions;
  signal?: AbortSignal;
}

/** A capture file ends inside a record, or a length field is damaged part-way. */
export class CaptureCutShortError extends CaptureFormatError {}

export interface AnalyzeResult {
  report: AnalyzeReport;
  files: CaptureFileStatsExt[];
}

export async function analyzeCaptures(paths: string[], opts: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  const builder = new ReportBuilder(opts.classifier ?? null);
  let observer: PipelineObserver = builder;
  if (opts.inspect !== false) {
    const inspector = new LeakInspector(typeof opts.inspect === 'object' ? opts.inspect : {});
    builder.setLeakSource(inspector);
    observer = teeObservers(builder, inspector);
  }
  const pipeline = new Pipeline(observer, opts.pipeline);
  opts.onBuilder?.(builder, pipeline);
  const files: CaptureFileStatsExt[] = [];
  for (const path of paths) {
    const st = await readCaptureFile(path, (p) => pipeline.push(p), { signal: opts.signal });
    if (st.cutShort && !opts.partial) {
      throw new CaptureCutShortError(
        `${path}: the capture file is cut short at byte ${st.cutShort.offset} (inside the record after packet ${st.cutShort.afterPackets}); use --partial to analyze the ${st.cutShort.afterPackets} complete packets`,
      );
    }
    if (st.corrupt && !opts.partial) {
      throw new CaptureCutShortError(
        `${path}: the capture file is damaged at byte ${st.corrupt.offset} (${st.corrupt.reason}); use --partial to analyze the ${st.corrupt.afterPackets} packets before it`,
      );
    }
    files.push(st);
  }
  pipeline.flush();
  const s = pipeline.stats;
  const linkTypes = new Set<number>();
  for (const f of files) for (const l of f.linkTypes) linkTypes.add(l);
  const report = builder.build({
    files: paths,
    packets: s.packets,
    bytes: s.bytes,
    start: s.firstTsMs === null ? null : new Date(Math.round(s.firstTsMs)).toISOString(),
    end: s.lastTsMs === null ? null : new Date(Math.round(s.lastTsMs)).toISOString(),
    linkTypes: [...linkTypes].sort((a, b) => a - b).map(linkTypeName),
    malformed: s.malformed,
    truncated: s.truncated,
    drops: s.drops,
    flows: s.flowsCreated,
    flowsEvicted: s.flowsEvicted,
  });
  return { report, files };
}

/** The `analyze --format json` object for the given capture files. */
export async function analyzeFiles(paths: string[], opts: AnalyzeOptions = {}): Promise<AnalyzeReport> {
  return (await analyzeCaptures(paths, opts)).report;
}
