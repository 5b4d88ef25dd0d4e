/**
 * Live capture benchmark (part of `npm run bench`): the agent (`bandguard start`, a real child process)
 * captures with `cap` on one end of a veth pair inside a network namespace while `tcpreplay` sends real app
 * traffic (the real-client fixtures and the nDPI captures) into the other end at rising rates. For each rate:
 * packets sent (tcpreplay) vs packets the agent received (kernel drops = the difference: `cap` exposes no
 * pcap_stats), the agent's queue drops, and its RSS. Reported: the highest rate with no drop at all.
 * Then the store alone: sustained contact-aggregate writes per second through NetStore.writeBatch.
 *
 * Needs root, iproute2, tcpreplay, mergecap. Namespaces are named bgbench<pid>-* and always removed.
 * BENCH_LIVE_RATES (Mbit/s, comma-separated) and BENCH_LIVE_SECONDS (per rate, default 4) tune it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openDatabase } from '../src/store/db.js';
import { type ContactAgg, NetStore } from '../src/store/netStore.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..'); // dist/bench → repo root
const cli = join(root, 'dist', 'src', 'cli.js');

function have(cmd: string): boolean {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (d && existsSync(join(d, cmd))) return true;
  }
  return false;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: 'ignore', timeout: 10_000 });
}

/** Classic pcap with Ethernet link type (tcpreplay puts frames on a veth as they are). */
function isEthernetPcap(path: string): boolean {
  const b = readFileSync(path).subarray(0, 24);
  if (b.length < 24) return false;
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const be = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  if (!le && !be) return false;
  return (le ? b.readUInt32LE(20) : b.readUInt32BE(20)) === 1;
}

function buildCapture(work: string): string {
  const files: string[] = [];
  const real = join(root, 'test', 'fixtures', 'pcap', 'real');
  for (const f of readdirSync(real)) if (f.endsWith('.pcap')) files.push(join(real, f));
  const ndpi = resolve(root, '..', 'shared', 'captures', 'ndpi');
  if (existsSync(ndpi)) {
    for (const f of readdirSync(ndpi)) {
      if (!/\.pcap$/.test(f) || /fuzz|malformed|bad|invalid|overflow|crash/.test(f)) continue;
      files.push(join(ndpi, f));
    }
  }
  const out = join(work, 'live-bench.pcap');
  execFileSync('mergecap', ['-a', '-F', 'pcap', '-s', '1514', '-w', out, ...files.filter(isEthernetPcap)]);
  return out;
}

interface RateResult {
  mbps: number;
  sentPackets: number;
  sentBytes: number;
  seconds: number;
  received: number;
  kernelDrops: number;
  queueDrops: number;
  rssMiB: number;
}

function agentCounters(dbPath: string): { packets: number; queueDrops: number } {
  const db = new Database(dbPath, { readonly: true });
  try {
    const r = db.prepare("SELECT packets, queue_drops FROM capture_status WHERE source LIKE 'live:%'").get() as
      | { packets: number; queue_drops: number }
      | undefined;
    return { packets: r?.packets ?? 0, queueDrops: r?.queue_drops ?? 0 };
  } finally {
    db.close();
  }
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForStable(
  dbPath: string,
  expected: number,
  timeoutMs: number,
): Promise<{ packets: number; queueDrops: number }> {
  const deadline = Date.now() + timeoutMs;
  let last = agentCounters(dbPath);
  for (;;) {
    await sleep(500);
    const now = agentCounters(dbPath);
    if ((now.packets >= expected && now.packets === last.packets) || Date.now() > deadline) return now;
    last = now;
  }
}

function storeWriteRate(): { rows: number; perSec: number } {
  const dir = mkdtempSync(join(tmpdir(), 'bg-bench-store-'));
  try {
    const store = new NetStore(openDatabase(join(dir, 'b.db')));
    const batchRows = 5_000;
    const batches = 40;
    const t0 = performance.now();
    for (let b = 0; b < batches; b++) {
      const contacts: ContactAgg[] = [];
      for (let i = 0; i < batchRows; i++) {
        const n = (b * batchRows + i) % 60_000; // later batches update earlier rows (read-merge-write)
        contacts.push({
          bucketStart: 0,
          bucketMs: 3_600_000,
          clientId: `02:00:00:00:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`,
          name: `host${n % 997}.example.com`,
          serverIp: `203.0.113.${n % 250}`,
          port: 443,
          transport: 'tcp',
          protocol: 'tls',
          sni: `host${n % 997}.example.com`,
          quicSni: null,
          httpHosts: [],
          dnsNames: [`host${n % 997}.example.com`],
          alpn: ['h2'],
          userAgents: [],
          ja3: null,
          ja4: 't13d1516h2_8daaf6152771_e5627efa2ab1',
          tlsVersion: 'TLS 1.3',
          ech: false,
          quicVersion: null,
          flows: 1,
          packets: 20,
          bytesOut: 2_000,
          bytesIn: 20_000,
          firstTs: i,
          lastTs: i + 1_000,
          encrypted: true,
        });
      }
      store.writeBatch({
        contacts,
        lookups: [],
        clients: [],
        names: [],
        capture: [],
        leaks: [],
        events: [],
        status: [],
      });
    }
    const s = (performance.now() - t0) / 1000;
    store.db.close();
    return { rows: batchRows * batches, perSec: (batchRows * batches) / s };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runLiveBench(): Promise<void> {
  console.log('\nLive capture (bandguard start with cap on a veth in a namespace, fed by tcpreplay):');
  const missing = ['ip', 'tcpreplay', 'mergecap'].filter((c) => !have(c));
  if (process.getuid?.() !== 0 || missing.length > 0) {
    console.log(`  skipped: ${process.getuid?.() !== 0 ? 'needs root' : `missing ${missing.join(', ')}`}`);
  } else {
    await liveRates();
  }
  const w = storeWriteRate();
  console.log(
    `  store: ${w.rows.toLocaleString('en')} contact aggregates written (upsert with merge, 5,000 per transaction): ${Math.round(w.perSec).toLocaleString('en')} rows/s`,
  );
}

async function liveRates(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bg-bench-live-'));
  const prefix = `bgbench${process.pid}`;
  const nsA = `${prefix}-tx`;
  const nsB = `${prefix}-hub`;
  let agent: ChildProcess | null = null;
  const rss: number[] = [];
  try {
    const pcap = buildCapture(work);
    const pcapBytes = statSync(pcap).size;
    ip(['netns', 'add', nsA]);
    ip(['netns', 'add', nsB]);
    ip(['-n', nsA, 'link', 'add', 'vtx', 'type', 'veth', 'peer', 'name', 'vcap', 'netns', nsB]);
    ip(['-n', nsA, 'link', 'set', 'vtx', 'up']);
    ip(['-n', nsB, 'link', 'set', 'vcap', 'up']);
    const dataDir = join(work, 'data');
    mkdirSync(dataDir);
    const config = join(work, 'config.json');
    writeFileSync(config, JSON.stringify({ ble: { enabled: false }, capture: { bufferMiB: 64 } }));
    agent = spawn(
      'ip',
      [
        'netns',
        'exec',
        nsB,
        process.execPath,
        cli,
        'start',
        '--config',
        config,
        '--data-dir',
        dataDir,
        '--interface',
        'vcap',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let log = '';
    agent.stderr?.on('data', (b: Buffer) => {
      log += b.toString();
    });
    const deadline = Date.now() + 20_000;
    while (!/capture live:vcap: capturing/.test(log)) {
      if (Date.now() > deadline || agent.exitCode !== null) throw new Error(`agent did not start: ${log}`);
      await sleep(100);
    }
    const pid = agent.pid ?? 0;
    const dbPath = join(dataDir, 'bandguard.db');
    const sampler = setInterval(() => rss.push(rssMiB(pid)), 500);
    const seconds = Number(process.env.BENCH_LIVE_SECONDS ?? 4);
    const rates = (process.env.BENCH_LIVE_RATES ?? '50,100,200,300,400,600,800,1000').split(',').map(Number);
    const results: RateResult[] = [];
    for (const mbps of rates) {
      const before = agentCounters(dbPath);
      const loops = Math.max(1, Math.round((mbps * 1e6 * seconds) / 8 / pcapBytes));
      const out = execFileSync(
        'ip',
        [
          'netns',
          'exec',
          nsA,
          'tcpreplay',
          '-q',
          '--preload-pcap',
          `--mbps=${mbps}`,
          `--loop=${loops}`,
          '--intf1=vtx',
          pcap,
        ],
        { encoding: 'utf8', timeout: 300_000 },
      );
      const m = /Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds/.exec(out);
      const sentPackets = Number(m?.[1] ?? 0);
      const after = await waitForStable(dbPath, before.packets + sentPackets, 30_000);
      const received = after.packets - before.packets;
      results.push({
        mbps,
        sentPackets,
        sentBytes: Number(m?.[2] ?? 0),
        seconds: Number(m?.[3] ?? 0),
        received,
        kernelDrops: Math.max(0, sentPackets - received),
        queueDrops: after.queueDrops - before.queueDrops,
        rssMiB: rssMiB(pid),
      });
      const r = results.at(-1)!;
      console.log(
        `  ${String(mbps).padStart(5)} Mbit/s asked: ${((r.sentBytes * 8) / r.seconds / 1e6).toFixed(0).padStart(5)} Mbit/s, ${Math.round(
          r.sentPackets / r.seconds,
        )
          .toLocaleString('en')
          .padStart(
            8,
          )} packets/s sent; received ${r.received.toLocaleString('en')} of ${r.sentPackets.toLocaleString('en')}; kernel drops ${r.kernelDrops}, queue drops ${r.queueDrops}; RSS ${r.rssMiB.toFixed(0)} MiB`,
      );
      if (r.kernelDrops + r.queueDrops > r.sentPackets / 10) break; // far past the limit: stop climbing
    }
    clearInterval(sampler);
    const clean = results.filter((r) => r.kernelDrops === 0 && r.queueDrops === 0);
    const best = clean.at(-1);
    console.log(
      best
        ? `  highest rate without any drop: ${((best.sentBytes * 8) / best.seconds / 1e6).toFixed(0)} Mbit/s, ${Math.round(best.sentPackets / best.seconds).toLocaleString('en')} packets/s (real app traffic, mean ${Math.round(best.sentBytes / best.sentPackets)} bytes/packet)`
        : '  drops already at the lowest rate',
    );
    console.log(
      `  agent RSS over the run: min ${Math.min(...rss).toFixed(0)} MiB, max ${Math.max(...rss).toFixed(0)} MiB (${rss.length} samples)`,
    );
  } finally {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await Promise.race([new Promise((r) => agent?.once('exit', r)), sleep(10_000)]);
      if (agent.exitCode === null) agent.kill('SIGKILL');
    }
    for (const ns of [nsA, nsB]) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // not created
      }
    }
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runLiveBench().catch((e) => {
    console.error(`bench live: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
