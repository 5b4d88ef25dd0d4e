/**
 * `bandguard status [--format table|json]`: the agent's health — whether it runs, capture state, packets,
 * drops (kernel, interface, queue), database size and last write, BLE adapter state. Read from the data
 * dir (pid file, the status the agent publishes, the database), so it works whether the agent runs or not.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DB_FILE } from '../agent/agent.js';
import { readPidFile, readStatusFile } from '../agent/pidFile.js';
import { type Io, parseCommandArgs, UsageError } from '../cli.js';
import { COMMON_FLAGS, configFromFlags } from '../config/flags.js';
import { ConfigError } from '../config/load.js';
import type { RingWriterStatus } from '../net/capture/ringWriter.js';
import { openDatabase } from '../store/db.js';
import { NetStore } from '../store/netStore.js';

export interface StatusReport {
  running: boolean;
  pid: number | null;
  dataDir: string;
  agent: Record<string, unknown> | null;
  capture: ReturnType<NetStore['captureStatus']>;
  database: {
    path: string;
    exists: boolean;
    sizeBytes: number;
    walBytes: number;
    lastBatch: number | null;
    lastWriteAt: string | null;
  };
}

function size(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

export function collectStatus(dataDir: string): StatusReport {
  const pid = readPidFile(dataDir);
  const path = join(dataDir, DB_FILE);
  const exists = existsSync(path);
  let capture: StatusReport['capture'] = [];
  let lastBatch: { seq: number; committedAt: number } | null = null;
  if (exists) {
    const db = openDatabase(path);
    try {
      const store = new NetStore(db);
      capture = store.captureStatus();
      lastBatch = store.lastBatch();
    } finally {
      db.close();
    }
  }
  return {
    running: pid !== null,
    pid: pid?.pid ?? null,
    dataDir,
    agent: readStatusFile(dataDir),
    capture,
    database: {
      path,
      exists,
      sizeBytes: size(path),
      walBytes: size(`${path}-wal`),
      lastBatch: lastBatch?.seq ?? null,
      lastWriteAt: lastBatch ? new Date(lastBatch.committedAt).toISOString() : null,
    },
  };
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatStatus(s: StatusReport): string {
  const lines: string[] = [];
  const a = s.agent as {
    startedAt?: string;
    updatedAt?: string;
    safe?: boolean;
    capture?: {
      queueDrops?: number;
      interfaceDrops?: number | null;
      flowsActive?: number;
      queueHighWater?: number;
      ringBuffer?: RingWriterStatus | null;
    };
    store?: { writeErrors?: number; lastError?: string | null; pendingRows?: number; droppedRecords?: number };
    ble?: { state?: string; kind?: string | null; detail?: string };
    retention?: { lastRunAt?: string | null; schedule?: string };
  } | null;
  lines.push(
    s.running
      ? `agent:    running (pid ${s.pid}${a?.startedAt ? `, since ${a.startedAt}` : ''}${a?.safe ? ', safe mode' : ''})`
      : 'agent:    not running',
  );
  lines.push(`data dir: ${s.dataDir}`);
  if (s.capture.length === 0) lines.push('capture:  no capture recorded yet');
  for (const c of s.capture) {
    lines.push(`capture:  ${c.source}: ${c.state}${c.detail ? ` — ${c.detail}` : ''}`);
    if (c.filter) lines.push(`          filter: ${c.filter}`);
    const kernel = c.kernelDrops === null ? 'not reported by the cap binding' : String(c.kernelDrops);
    const iface = a?.capture?.interfaceDrops;
    lines.push(
      `          ${c.packets} packets, ${mib(c.bytes)}; drops: queue ${c.queueDrops}, kernel ${kernel}` +
        `${iface !== undefined && iface !== null ? `, interface ${iface}` : ''}; updated ${new Date(c.updatedAt).toISOString()}`,
    );
  }
  if (a?.capture?.flowsActive !== undefined) {
    lines.push(`          ${a.capture.flowsActive} flows in memory, queue high-water ${a.capture.queueHighWater ?? 0}`);
  }
  const ring = a?.capture?.ringBuffer;
  if (ring) {
    lines.push(
      `pcap ring: ${ring.dir}: ${ring.state}, ${ring.files} of ${ring.maxFiles} files, ${mib(ring.bytesOnDisk)}; ${ring.packetsWritten} packets written, dropped ${ring.dropped}, errors ${ring.errors}${ring.lastError ? ` (last: ${ring.lastError})` : ''}`,
    );
  }
  const d = s.database;
  lines.push(
    d.exists
      ? `database: ${d.path}, ${mib(d.sizeBytes)} (+ ${mib(d.walBytes)} WAL), last write ${d.lastWriteAt ?? 'never'}${d.lastBatch ? ` (batch #${d.lastBatch})` : ''}`
      : `database: ${d.path} does not exist yet`,
  );
  if (a?.store && (a.store.writeErrors || a.store.droppedRecords)) {
    lines.push(
      `          write errors ${a.store.writeErrors ?? 0}${a.store.lastError ? ` (last: ${a.store.lastError})` : ''}, dropped records ${a.store.droppedRecords ?? 0}`,
    );
  }
  if (a?.ble) lines.push(`ble:      ${a.ble.state}${a.ble.kind ? ` (${a.ble.kind})` : ''} — ${a.ble.detail ?? ''}`);
  if (a?.retention) lines.push(`retention: ${a.retention.schedule}, last run ${a.retention.lastRunAt ?? 'not yet'}`);
  return `${lines.join('\n')}\n`;
}

export async function runStatus(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...COMMON_FLAGS,
    format: { type: 'string', default: 'table' },
  });
  if (positionals.length > 0) throw new UsageError(`status takes no arguments (got '${positionals[0]}')`);
  const format = values.format as string;
  if (format !== 'table' && format !== 'json') throw new UsageError(`--format must be table or json (got '${format}')`);
  let dataDir: string;
  try {
    dataDir = configFromFlags(values).config.dataDir;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  const s = collectStatus(dataDir);
  io.stdout(format === 'json' ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
  return 0;
}
