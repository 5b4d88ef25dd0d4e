/**
 * Crash safety: `kill -9` of the agent (a real child process) in the middle of heavy ingest — a large capture
 * replayed through the live path at full speed, with a write every 50 ms — then a restart on the same data
 * dir. The database must open cleanly (PRAGMA integrity_check), hold every committed batch whole (the batch
 * journal is contiguous and its counts equal what the aggregate tables hold), and ingest must resume.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist, CLI, waitFor } from './agentHarness.js';

const SRC = join(import.meta.dirname, '..', 'fixtures', 'pcap', 'real', 'mixed-phones.pcap');
const REPEAT = 1500;

let work: string;
let big: string;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'bg-agent-crash-'));
  big = join(work, 'big.pcap');
  writeFileSync(big, repeatCapture(readFileSync(SRC), REPEAT, 600));
  await buildDist();
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A classic little-endian pcap repeated `times` times, each copy shifted by `shiftS` seconds. */
function repeatCapture(pcap: Buffer, times: number, shiftS: number): Buffer {
  expect(pcap.readUInt32LE(0)).toBe(0xa1b2c3d4);
  const records: Buffer[] = [];
  for (let p = 24; p + 16 <= pcap.length; ) {
    const len = pcap.readUInt32LE(p + 8);
    records.push(pcap.subarray(p, p + 16 + len));
    p += 16 + len;
  }
  const out: Buffer[] = [pcap.subarray(0, 24)];
  for (let k = 0; k < times; k++) {
    for (const r of records) {
      const c = Buffer.from(r);
      c.writeUInt32LE(c.readUInt32LE(0) + k * shiftS, 0);
      out.push(c);
    }
  }
  return Buffer.concat(out);
}

interface Invariants {
  integrity: string;
  batches: number;
  minSeq: number;
  maxSeq: number;
  batchFlows: number;
  contactFlows: number;
  batchPackets: number;
  capturePackets: number;
  state: string | null;
}

function inspect(dbPath: string): Invariants {
  const db = new Database(dbPath, { readonly: true });
  // One read transaction: the agent may commit between two statements, and every count must come from the
  // same snapshot (separate statements raced with a running agent's next batch).
  db.exec('BEGIN');
  try {
    const one = <T>(sql: string) => db.prepare(sql).get() as T;
    const b = one<{ n: number; lo: number | null; hi: number | null; f: number | null; p: number | null }>(
      'SELECT COUNT(*) AS n, MIN(seq) AS lo, MAX(seq) AS hi, SUM(flows) AS f, SUM(packets) AS p FROM write_batches',
    );
    return {
      integrity: (db.pragma('integrity_check', { simple: true }) as string) ?? '',
      batches: b.n,
      minSeq: b.lo ?? 0,
      maxSeq: b.hi ?? 0,
      batchFlows: b.f ?? 0,
      contactFlows: one<{ f: number | null }>('SELECT SUM(flows) AS f FROM net_contacts').f ?? 0,
      batchPackets: b.p ?? 0,
      capturePackets: one<{ p: number | null }>('SELECT SUM(packets) AS p FROM net_capture_buckets').p ?? 0,
      state:
        one<{ state: string } | undefined>("SELECT state FROM capture_status WHERE source LIKE 'replay:%'")?.state ??
        null,
    };
  } finally {
    db.exec('COMMIT');
    db.close();
  }
}

function expectWhole(i: Invariants): void {
  expect(i.integrity).toBe('ok');
  // Every committed batch is there, numbered without holes, and its counts are exactly what the tables hold.
  expect(i.minSeq).toBe(1);
  expect(i.maxSeq).toBe(i.batches);
  expect(i.contactFlows).toBe(i.batchFlows);
  expect(i.capturePackets).toBe(i.batchPackets);
}

function startAgent(dataDir: string, config: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [CLI, 'start', '--config', config, '--data-dir', dataDir, '--replay', big, '--speed', '0'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  child.stderr?.resume();
  return child;
}

const exitOf = (c: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null }>((r) =>
    c.once('exit', (code, signal) => r({ code, signal })),
  );

describe('crash safety', () => {
  it('kill -9 during heavy ingest loses no committed batch, and ingest resumes after restart', {
    timeout: 240_000,
  }, async () => {
    const dataDir = join(work, 'data');
    const dbPath = join(dataDir, 'bandguard.db');
    const config = join(work, 'bandguard.json');
    writeFileSync(
      config,
      JSON.stringify({ store: { flushIntervalMs: 50, bucketMinutes: 5 }, ble: { enabled: false } }),
    );

    const first = startAgent(dataDir, config);
    const firstExit = exitOf(first);
    const before = await waitFor(
      'ten committed batches',
      () => {
        if (!existsSync(dbPath)) return undefined;
        const i = inspect(dbPath);
        return i.batches >= 10 ? i : undefined;
      },
      120_000,
      50,
    );
    expect(before.state).toBe('capturing');
    first.kill('SIGKILL');
    expect((await firstExit).signal).toBe('SIGKILL');

    const afterCrash = inspect(dbPath);
    expectWhole(afterCrash);
    expect(afterCrash.batches).toBeGreaterThanOrEqual(before.batches);
    expect(afterCrash.state).toBe('capturing'); // the crash left the last status as it was
    expect(afterCrash.batchPackets).toBeLessThan(REPEAT * 114);

    // Restart on the same data dir: the stale pid file is taken over and ingest goes on.
    const second = startAgent(dataDir, config);
    const secondExit = exitOf(second);
    const resumed = await waitFor(
      'ingest to resume',
      () => {
        const i = inspect(dbPath);
        return i.batches >= afterCrash.batches + 5 ? i : undefined;
      },
      120_000,
      50,
    );
    expectWhole(resumed);
    second.kill('SIGTERM');
    expect((await secondExit).code).toBe(0);
    const end = inspect(dbPath);
    expectWhole(end);
    expect(end.state === 'stopped' || end.state === 'done').toBe(true);
    expect(existsSync(join(dataDir, 'agent.pid'))).toBe(false);
  });
});
