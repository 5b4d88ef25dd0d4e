/**
 * `npm run bench`: throughput of the capture analysis against tshark on the same capture, in the same run.
 *
 * The capture is built with mergecap from the committed real-client fixtures and the nDPI captures in
 * ../shared/captures (when present), repeated until it holds at least BENCH_PACKETS packets (default 300k).
 * Each tool runs BENCH_RUNS times (default 3), bandguard and tshark alternating; the best run of each counts,
 * and the ratio of each alternating pair is printed too. bandguard runs as a child process so its
 * peak RSS is its own (read from /proc/<pid>/status VmHWM).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchBle } from '../src/ble/bench.js';
import { runApiBench } from './api.js';
import { runFirewallBench } from './firewall.js';
import { runLiveBench } from './live.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..'); // dist/bench → repo root
const work = join(root, 'bench', '.work');
const targetPackets = Number(process.env.BENCH_PACKETS ?? 300_000);
const runs = Number(process.env.BENCH_RUNS ?? 3);

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function inputs(): string[] {
  const files: string[] = [];
  const real = join(root, 'test', 'fixtures', 'pcap', 'real');
  if (existsSync(real)) for (const f of readdirSync(real)) if (/\.pcap(ng)?$/.test(f)) files.push(join(real, f));
  const ndpi = resolve(root, '..', 'shared', 'captures', 'ndpi');
  if (existsSync(ndpi)) {
    for (const f of readdirSync(ndpi)) {
      // Ethernet captures of real traffic; fuzz files are left out of a throughput figure.
      if (!/\.pcap(ng)?$/.test(f) || /fuzz|malformed|bad|invalid|overflow|crash/.test(f)) continue;
      files.push(join(ndpi, f));
    }
  }
  return files;
}

function countPackets(file: string): number {
  const out = execFileSync('capinfos', ['-c', '-M', '-T', file], { encoding: 'utf8' });
  const last = out.trim().split('\n').pop() ?? '';
  return Number(last.split('\t')[1]);
}

function buildCapture(): string {
  mkdirSync(work, { recursive: true });
  const target = join(work, `bench-${targetPackets}.pcapng`);
  if (existsSync(target)) return target;
  const base = inputs();
  if (base.length === 0) throw new Error('no input captures found for the benchmark');
  const once = join(work, 'once.pcapng');
  execFileSync('mergecap', ['-a', '-F', 'pcapng', '-w', once, ...base]);
  const per = countPackets(once);
  const times = Math.max(1, Math.ceil(targetPackets / per));
  execFileSync('mergecap', ['-a', '-F', 'pcapng', '-w', target, ...Array(times).fill(once)]);
  return target;
}

interface RunResult {
  ms: number;
  peakRssMb: number;
}

function timed(cmd: string, args: string[]): Promise<RunResult> {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let peak = 0;
    let err = '';
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    const poll = setInterval(() => {
      try {
        const s = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const m = /VmHWM:\s+(\d+)/.exec(s);
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        /* exited */
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(poll);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) rej(new Error(`${cmd} exited ${code}: ${err.slice(0, 500)}`));
      else res({ ms, peakRssMb: peak });
    });
  });
}

/** Runs a then b, `runs` times; the best run of each, and the ratio b/a of each pair. */
async function bestInterleaved(
  a: [string, string[]],
  b: [string, string[]],
): Promise<[RunResult, RunResult, number[]]> {
  let ba: RunResult | null = null;
  let bb: RunResult | null = null;
  const ratios: number[] = [];
  for (let i = 0; i < runs; i++) {
    const ra = await timed(...a);
    const rb = await timed(...b);
    if (!ba || ra.ms < ba.ms) ba = ra;
    if (!bb || rb.ms < bb.ms) bb = rb;
    ratios.push(rb.ms / ra.ms);
  }
  return [ba!, bb!, ratios];
}

async function best(cmd: string, args: string[]): Promise<RunResult> {
  let b: RunResult | null = null;
  for (let i = 0; i < runs; i++) {
    const r = await timed(cmd, args);
    if (!b || r.ms < b.ms) b = r;
  }
  return b!;
}

async function main(): Promise<void> {
  if (process.env.BENCH_ONLY === 'api') {
    await runApiBench();
    return;
  }
  for (const c of ['mergecap', 'capinfos', 'tshark']) {
    if (!have(c)) throw new Error(`${c} is needed for the benchmark (apt-get install tshark)`);
  }
  const file = buildCapture();
  const packets = countPackets(file);
  const mb = statSync(file).size / 1e6;
  console.log(`capture: ${file}\n  ${packets} packets, ${mb.toFixed(1)} MB`);
  const cli = join(root, 'dist', 'bundle', 'bandguard.js');
  // The two tools alternate run by run, so that a busy spell of this shared machine hits both alike.
  const [bg, ts, pairRatios] = await bestInterleaved(
    [process.execPath, [cli, 'analyze', '--format', 'json', '--out', '/dev/null', file]],
    [
      'tshark',
      [
        '-n',
        '-r',
        file,
        '-T',
        'fields',
        '-e',
        'tls.handshake.extensions_server_name',
        '-e',
        'dns.qry.name',
        '-e',
        'http.host',
      ],
    ],
  );
  const row = (name: string, r: RunResult) =>
    `  ${name.padEnd(22)} ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${Math.round(packets / (r.ms / 1000))
      .toLocaleString('en')
      .padStart(10)} pkt/s  ${(mb / (r.ms / 1000)).toFixed(1).padStart(7)} MB/s  peak RSS ${r.peakRssMb.toFixed(0)} MB`;
  console.log(`analyze throughput (best of ${runs}, the two tools alternating):`);
  console.log(row('bandguard analyze', bg));
  console.log(row('tshark -T fields', ts));
  const sorted = [...pairRatios].sort((x, y) => x - y);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]! / 2 + sorted[Math.ceil((sorted.length - 1) / 2)]! / 2;
  console.log(
    `  ratio bandguard/tshark: ${(ts.ms / bg.ms).toFixed(1)}× packets/s, best against best (goal ≥ 10×); per alternating pair: ${pairRatios.map((r) => r.toFixed(1)).join(', ')} (median ${median.toFixed(1)}×)`,
  );

  // Plaintext inspection (classification, decoding, leak detectors, events): the same analysis with it off.
  const analyzeJs = pathToFileURL(join(root, 'dist', 'src', 'net', 'analyze.js')).href;
  const classifierJs = pathToFileURL(join(root, 'dist', 'src', 'net', 'classify', 'classifier.js')).href;
  const inline = (inspect: boolean) =>
    `const { analyzeFiles } = await import(${JSON.stringify(analyzeJs)}); const { defaultClassifier } = await import(${JSON.stringify(classifierJs)}); const r = await analyzeFiles([process.argv[1]], { classifier: defaultClassifier(), inspect: ${inspect} }); console.error(r.leaks.length + ' leaks, ' + r.events.length + ' events');`;
  const withInspect = await best(process.execPath, ['--input-type=module', '-e', inline(true), file]);
  const withoutInspect = await best(process.execPath, ['--input-type=module', '-e', inline(false), file]);
  console.log(row('analyze, inspection', withInspect));
  console.log(row('analyze, no inspection', withoutInspect));
  console.log(`  ratio with/without inspection: ${(withInspect.ms / withoutInspect.ms).toFixed(2)}× time (goal ≤ 2×)`);

  // BLE: decode + store 30 days × 5 devices of per-minute records, and one full simulated 7-day sync.
  const ble = await benchBle();
  console.log('BLE (30 days × 5 devices of per-minute records; one simulated 7-day Mi Band sync):');
  console.log(
    `  decode+store ${ble.records.toLocaleString('en')} records (${ble.readings.toLocaleString('en')} readings) in ${ble.decodeStoreMs.toFixed(0)} ms: ${Math.round(ble.samplesPerSec).toLocaleString('en')} records/s`,
  );
  console.log(
    `  sync session: ${ble.syncRecords.toLocaleString('en')} records, ${ble.syncCpuMs.toFixed(0)} ms CPU, ${ble.syncWallMs.toFixed(0)} ms wall`,
  );
  const radioFloorS = (days: number, perSecond: number) => ((days * 1440 * 4) / 19 / perSecond).toFixed(1);
  console.log(
    `  physical floor for 7 days at ATT MTU 23 (19 data bytes/notification): ${radioFloorS(7, 800)} s at 800 notifications/s (7.5 ms interval) … ${radioFloorS(7, 20)} s at 20/s (50 ms)`,
  );

  // Firewall: plan + apply of 10k domains / 100k addresses, and forwarding throughput with/without rules.
  if (process.env.BENCH_ONLY !== 'analyze') await runFirewallBench();

  // Live capture: the agent fed by tcpreplay on a veth at rising rates; the store's contact writes/s.
  if (process.env.BENCH_ONLY !== 'analyze') await runLiveBench();

  // Dashboard API: the parties view over a million stored contacts (p95 goal < 100 ms).
  if (process.env.BENCH_ONLY !== 'analyze') await runApiBench();
}

main().catch((err) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
