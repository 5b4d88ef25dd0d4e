/**
 * Live capture benchmark (part of `npm run bench`): the agent (`bandguard start`, a real child process)
 * captures with `cap` on one end of a veth pair inside a network namespace while `tcpreplay` sends real app
 * traffic (the real-client fixtures and the nDPI captures) into the other end at rising rates. For each rate:
 * packets sent (tcpreplay) vs packets the agent received (kernel drops = the difference: `cap` exposes no
 * pcap_stats), the agent's queue drops, and its RSS. Reported: the highest rate with no drop at all.
 * Then the store alone: sustained contact-aggregate writes per second through NetStore.writeBatch.
 *
 * Needs root, iproute2, tcpreplay, mergecap. Namespaces are named bgbench<pid>-* and always removed.
 * BENCH_LIVE_RATES (Mbit/s, comma-separated; empty skips the climb) and BENCH_LIVE_SECONDS (per rate, default 4)
 * tune it. BENCH_SOAK_SECONDS > 0 adds a soak on a fresh agent (see `soak`): a steady rate for that long with
 * RSS sampled throughout; off by default.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
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
const cli = join(root, 'dist', 'bundle', 'bandguard.js');

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

/**
 * RSS split into anonymous memory (heaps), file pages (mapped files, e.g. node itself) and the capture ring: the
 * packet socket's mapping (libpcap's TPACKET ring), which the kernel allocates in full when capture opens and
 * which enters RSS page by page as the ring first wraps. MiB.
 */
function rssParts(pid: number): { anon: number; file: number; ring: number } {
  try {
    const t = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(t)?.[1] ?? 0) / 1024;
    let ring = 0;
    let inRing = false;
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inRing = / socket:\[\d+\]$/.test(line);
      else if (inRing && line.startsWith('Rss:')) ring += Number(/(\d+) kB/.exec(line)?.[1] ?? 0) / 1024;
    }
    return { anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') - ring, ring };
  } catch {
    return { anon: 0, file: 0, ring: 0 };
  }
}

/** The agent's JavaScript heap in use (its status file, written every 2 s), MiB; null when not readable. */
function heapMiB(dataDir: string): number | null {
  try {
    const s = JSON.parse(readFileSync(join(dataDir, 'agent-status.json'), 'utf8')) as {
      memory?: { heapUsedBytes?: number; heapTotalBytes?: number; externalBytes?: number };
    };
    const b = s.memory?.heapUsedBytes;
    if (s.memory && process.env.BENCH_SOAK_VERBOSE) {
      const m = s.memory;
      console.log(
        `      heap total ${((m.heapTotalBytes ?? 0) / 1048576).toFixed(0)} MiB, external ${((m.externalBytes ?? 0) / 1048576).toFixed(0)} MiB`,
      );
    }
    return typeof b === 'number' ? b / 1048576 : null;
  } catch {
    return null;
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
  const soakSeconds = Number(process.env.BENCH_SOAK_SECONDS ?? 0);
  if (process.getuid?.() !== 0 || missing.length > 0) {
    console.log(`  skipped: ${process.getuid?.() !== 0 ? 'needs root' : `missing ${missing.join(', ')}`}`);
  } else {
    if ((process.env.BENCH_LIVE_RATES ?? 'default').trim() !== '') await withLiveAgent(liveRates);
    if (Number.isFinite(soakSeconds) && soakSeconds > 0) await withLiveAgent((lab) => soak(lab, soakSeconds));
  }
  const w = storeWriteRate();
  console.log(
    `  store: ${w.rows.toLocaleString('en')} contact aggregates written (upsert with merge, 5,000 per transaction): ${Math.round(w.perSec).toLocaleString('en')} rows/s`,
  );
}

/** A running agent capturing on one end of a veth, and the namespace that sends into the other end. */
interface LiveLab {
  pcap: string;
  pcapBytes: number;
  /** Namespace holding the sending end `vtx`. */
  nsTx: string;
  pid: number;
  dbPath: string;
  dataDir: string;
}

/**
 * Extra node flags for the agent (BENCH_AGENT_NODE_FLAGS, space-separated, e.g. `--trace-gc` to see the heap
 * after each full collection during a soak). Only `--` flags are passed on.
 */
function agentNodeFlags(): string[] {
  return (process.env.BENCH_AGENT_NODE_FLAGS ?? '').split(/\s+/).filter((f) => /^--[a-z0-9-]+(=[\w.-]+)?$/.test(f));
}

/** With agent node flags, the agent's stdout (where V8 traces go) is kept in the work dir and kept on exit. */
function agentStdout(work: string): 'ignore' | number {
  if (agentNodeFlags().length === 0) return 'ignore';
  const path = join(tmpdir(), `bg-bench-agent-${process.pid}.out`);
  console.log(`  agent node flags ${agentNodeFlags().join(' ')}; its stdout: ${path} (work dir ${work})`);
  return openSync(path, 'w');
}

/** Builds the namespaces and the capture, starts the agent, runs `fn`, and always tears everything down. */
async function withLiveAgent(fn: (lab: LiveLab) => Promise<void>): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'bg-bench-live-'));
  const prefix = `bgbench${process.pid}`;
  const nsA = `${prefix}-tx`;
  const nsB = `${prefix}-hub`;
  let agent: ChildProcess | null = null;
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
        ...agentNodeFlags(),
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
        stdio: ['ignore', agentStdout(work), 'pipe'],
      },
    );
    let log = '';
    agent.stderr?.on('data', (b: Buffer) => {
      log += b.toString();
      if (log.length > 1 << 20) log = log.slice(-(1 << 19));
    });
    const deadline = Date.now() + 20_000;
    while (!/capture live:vcap: capturing/.test(log)) {
      if (Date.now() > deadline || agent.exitCode !== null) throw new Error(`agent did not start: ${log}`);
      await sleep(100);
    }
    await fn({ pcap, pcapBytes, nsTx: nsA, pid: agent.pid ?? 0, dbPath: join(dataDir, 'bandguard.db'), dataDir });
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

async function liveRates(lab: LiveLab): Promise<void> {
  const { pcap, pcapBytes, nsTx: nsA, pid, dbPath } = lab;
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(rssMiB(pid)), 500);
  try {
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
    clearInterval(sampler);
  }
}

/**
 * Soak (BENCH_SOAK_SECONDS > 0; off by default): one tcpreplay at a steady BENCH_SOAK_MBPS (default 80) for
 * N seconds, looping the capture, while the agent's RSS is sampled every BENCH_SOAK_SAMPLE_SECONDS (default
 * 5). BENCH_SOAK_UNIQUE_IP=1 makes tcpreplay rewrite the addresses on every loop (new clients and flows all
 * the time) instead of repeating the same conversations. Reports RSS start/min/max/end, the slope of a
 * least-squares line over the second half, and drops. The JS heap comes from the agent's status file
 * (`memory`); BENCH_SOAK_VERBOSE=1 also prints its heap total and external memory at every sample.
 */
async function soak(lab: LiveLab, seconds: number): Promise<void> {
  const { pcap, nsTx, pid, dbPath } = lab;
  const mbps = Number(process.env.BENCH_SOAK_MBPS ?? 80);
  const every = Math.max(1, Number(process.env.BENCH_SOAK_SAMPLE_SECONDS ?? 5));
  const unique = /^(1|true|yes)$/i.test(process.env.BENCH_SOAK_UNIQUE_IP ?? '');
  console.log(
    `  soak: ${seconds} s at ${mbps} Mbit/s${unique ? ' (addresses rewritten on every loop)' : ''}, RSS every ${every} s`,
  );
  const t0 = Date.now();
  type Sample = { t: number; rss: number; anon: number; file: number; ring: number; heap: number | null };
  const sample = (t: number): Sample => ({ t, rss: rssMiB(pid), ...rssParts(pid), heap: heapMiB(lab.dataDir) });
  const samples: Sample[] = [sample(0)];
  const sampler = setInterval(() => {
    const s = sample((Date.now() - t0) / 1000);
    samples.push(s);
    if (samples.length % Math.max(1, Math.round(60 / every)) === 0) {
      const c = agentCounters(dbPath);
      console.log(
        `    t=${s.t.toFixed(0)} s: RSS ${s.rss.toFixed(0)} MiB (anon ${s.anon.toFixed(0)}, file ${s.file.toFixed(0)}, capture ring ${s.ring.toFixed(0)}), JS heap ${s.heap?.toFixed(0) ?? '?'} MiB, ${c.packets.toLocaleString('en')} packets received`,
      );
    }
  }, every * 1000);
  const before = agentCounters(dbPath);
  let out = '';
  try {
    out = await new Promise<string>((resolve, reject) => {
      const argv = ['netns', 'exec', nsTx, 'tcpreplay', '-q', '--preload-pcap', `--mbps=${mbps}`, '--loop=0'];
      if (unique) argv.push('--unique-ip');
      argv.push(`--duration=${Math.ceil(seconds)}`, '--intf1=vtx', pcap);
      const p = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (b: Buffer) => {
        text += b.toString();
      });
      p.stderr.on('data', (b: Buffer) => {
        text += b.toString();
      });
      const kill = setTimeout(() => p.kill('SIGINT'), (seconds + 60) * 1000);
      p.once('error', reject);
      p.once('exit', () => {
        clearTimeout(kill);
        resolve(text);
      });
    });
  } finally {
    clearInterval(sampler);
  }
  const m = /Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds/.exec(out);
  if (!m) throw new Error(`tcpreplay said: ${out.trim().slice(-500)}`);
  const sent = Number(m[1]);
  const secs = Number(m[3]);
  const after = await waitForStable(dbPath, before.packets + sent, 60_000);
  samples.push(sample((Date.now() - t0) / 1000));
  const received = after.packets - before.packets;
  const rss = samples.map((s) => s.rss);
  const half = samples.filter((s) => s.t >= seconds / 2);
  const slope = leastSquaresSlope(half.map((s) => [s.t, s.rss]));
  const slopeNoRing = leastSquaresSlope(half.map((s) => [s.t, s.rss - s.ring]));
  const lastThird = samples.filter((s) => s.t >= (seconds * 2) / 3);
  const slopeLastThird = leastSquaresSlope(lastThird.map((s) => [s.t, s.rss - s.ring]));
  const heaps = samples.map((s) => s.heap).filter((h): h is number => h !== null);
  console.log(
    `  soak: sent ${sent.toLocaleString('en')} packets (${((Number(m[2]) * 8) / secs / 1e6).toFixed(0)} Mbit/s, ${Math.round(sent / secs).toLocaleString('en')} packets/s) in ${secs.toFixed(0)} s; received ${received.toLocaleString('en')}; kernel drops ${Math.max(0, sent - received).toLocaleString('en')} (${((100 * Math.max(0, sent - received)) / Math.max(1, sent)).toFixed(3)} %), queue drops ${after.queueDrops - before.queueDrops}`,
  );
  console.log(
    `  soak RSS: start ${rss[0]!.toFixed(0)} MiB, min ${Math.min(...rss).toFixed(0)}, max ${Math.max(...rss).toFixed(0)}, end ${rss.at(-1)!.toFixed(0)} MiB; second-half trend ${(slope * 60).toFixed(2)} MiB/min (${samples.length} samples)`,
  );
  const noRing = samples.map((s) => s.rss - s.ring);
  console.log(
    `  soak RSS without the capture ring (${samples.at(-1)!.ring.toFixed(0)} MiB at the end, allocated in full at open): start ${noRing[0]!.toFixed(0)}, max ${Math.max(...noRing).toFixed(0)}, end ${noRing.at(-1)!.toFixed(0)} MiB; trend ${(slopeNoRing * 60).toFixed(2)} MiB/min over the second half, ${(slopeLastThird * 60).toFixed(2)} MiB/min over the last third`,
  );
  if (heaps.length > 0) {
    console.log(
      `  soak JS heap in use: start ${heaps[0]!.toFixed(0)} MiB, min ${Math.min(...heaps).toFixed(0)}, max ${Math.max(...heaps).toFixed(0)}, end ${heaps.at(-1)!.toFixed(0)} MiB; RSS file pages end ${samples.at(-1)!.file.toFixed(0)} MiB, anonymous ${samples.at(-1)!.anon.toFixed(0)} MiB`,
    );
  }
}

function leastSquaresSlope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runLiveBench().catch((e) => {
    console.error(`bench live: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
