/**
 * Dashboard API benchmark (called from bench/run.ts; `BENCH_ONLY=api` runs it alone): a store with a
 * million contact rows (BENCH_API_CONTACTS; 20 phones × 250 names × 2 servers × hourly buckets), written
 * through NetStore.writeBatch (the agent's write path, migration 5's triggers included), then the parties
 * view requested over HTTP on loopback — the real express app, session cookie and all — N times
 * (BENCH_API_REQUESTS) with a mix of queries (all phones, one phone, a role, a search, sorted by traffic,
 * a later page), and a time window (last 24 hours). Goal (issue 7): p95 < 100 ms for the parties view.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthService } from '../src/api/auth.js';
import { NetViews } from '../src/api/netViews.js';
import { createApp } from '../src/api/server.js';
import type { ApiServices } from '../src/api/services.js';
import { SettingsService } from '../src/api/settings.js';
import { EventHub } from '../src/api/sse.js';
import { loadConfig } from '../src/config/load.js';
import { defaultClassifier } from '../src/net/classify/classifier.js';
import { defaultPartiesKnowledgeBase } from '../src/net/classify/parties.js';
import { GeoService } from '../src/net/geo/geoService.js';
import { openDatabase } from '../src/store/db.js';
import { type ContactAgg, NetStore } from '../src/store/netStore.js';

const CONTACTS = Number(process.env.BENCH_API_CONTACTS ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_API_REQUESTS ?? 300);
const PHONES = 20;
const NAMES = 250;
const SERVERS = 2;
const H = 3_600_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function mac(i: number): string {
  return `64:09:80:3c:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
}

export async function runApiBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bandguard-bench-api-'));
  try {
    const db = openDatabase(join(dir, 'bandguard.db'));
    const store = new NetStore(db);
    // Names: real parties from the knowledge base (so classification does real work) and unknown ones.
    const kb = defaultPartiesKnowledgeBase();
    const known = kb
      .entries()
      .map((e) => e.suffix)
      .filter((s) => s.includes('.'));
    const names = Array.from({ length: NAMES }, (_, i) =>
      i % 3 === 2 ? `svc${i}.unknown-vendor${i % 17}.example` : `api${i % 7}.${known[(i * 7919) % known.length]}`,
    );
    const buckets = Math.max(1, Math.round(CONTACTS / (PHONES * NAMES * SERVERS)));
    const now = Date.now();
    const start = Math.floor(now / H) * H - buckets * H;
    const empty = { lookups: [], clients: [], names: [], capture: [], leaks: [], events: [], status: [] };
    const t0 = performance.now();
    let rows = 0;
    for (let b = 0; b < buckets; b++) {
      const contacts: ContactAgg[] = [];
      const bucketStart = start + b * H;
      for (let p = 0; p < PHONES; p++) {
        for (let n = 0; n < NAMES; n++) {
          for (let s = 0; s < SERVERS; s++) {
            contacts.push({
              bucketStart,
              bucketMs: H,
              clientId: mac(p),
              name: names[n]!,
              serverIp: `198.51.${(n % 200) + s}.${(p * 7 + n) & 255}`,
              port: 443,
              transport: 'tcp',
              protocol: 'tls',
              sni: names[n]!,
              quicSni: null,
              httpHosts: [],
              dnsNames: [],
              alpn: ['h2'],
              userAgents: [],
              ja3: null,
              ja4: null,
              tlsVersion: '1.3',
              ech: false,
              quicVersion: null,
              flows: 1 + ((p + n + b) % 3),
              packets: 20,
              bytesOut: 500 + n,
              bytesIn: 4000 + p,
              firstTs: bucketStart + 1000,
              lastTs: bucketStart + 60_000,
              encrypted: true,
            });
          }
        }
      }
      store.writeBatch({ ...empty, contacts });
      rows += contacts.length;
    }
    const writeMs = performance.now() - t0;
    const totals = (db.prepare('SELECT COUNT(*) AS n FROM net_contact_totals').get() as { n: number }).n;
    console.log(
      `dashboard API (${rows.toLocaleString('en')} contact rows: ${PHONES} phones × ${NAMES} names × ${SERVERS} servers × ${buckets} hourly buckets):`,
    );
    console.log(
      `  store write through NetStore.writeBatch (with the totals triggers): ${(writeMs / 1000).toFixed(1)} s, ${Math.round(rows / (writeMs / 1000)).toLocaleString('en')} rows/s; ${totals.toLocaleString('en')} endpoint totals`,
    );

    const { config } = loadConfig({ env: {}, flags: { dataDir: dir } });
    const auth = new AuthService({ dataDir: dir });
    const classifier = defaultClassifier();
    const views = new NetViews(db, { classifier, geo: new GeoService() });
    const services: ApiServices = {
      auth,
      views,
      agent: null,
      band: null,
      rules: null,
      captures: null,
      settings: new SettingsService(config, null, {}, null),
      events: new EventHub(),
    };
    const server = createServer(createApp(services, { webRoot: null }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const { id } = auth.createSession('127.0.0.1');
    const cookie = `bandguard_session=${id}`;
    const get = async (q: string): Promise<number> => {
      const t = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/parties${q}`, { headers: { cookie } });
      const body = (await res.json()) as { total: number };
      if (res.status !== 200 || typeof body.total !== 'number') throw new Error(`parties answered ${res.status}`);
      return performance.now() - t;
    };
    const queries = [
      '?limit=50',
      `?client=${encodeURIComponent(mac(3))}&limit=50`,
      '?role=analytics&limit=50',
      '?q=google&limit=50',
      '?sort=bytes&limit=50',
      '?party=third&offset=1000&limit=50',
      '?sort=name&order=asc&offset=200&limit=100',
    ];
    // A write between requests (what the agent's flush does every second under live traffic) makes the
    // next request group and classify again: the worst case.
    const write = () => store.audit('bench', 'tick', null, {});
    const series = async (n: number, q: (i: number) => string, writes: boolean) => {
      const t: number[] = [];
      for (let i = 0; i < n; i++) {
        if (writes) write();
        t.push(await get(q(i)));
      }
      return t.sort((a, b) => a - b);
    };
    const cold = await get('?limit=50');
    const idle = await series(REQUESTS, (i) => queries[i % queries.length]!, false);
    const busy = await series(REQUESTS, (i) => queries[i % queries.length]!, true);
    const win = await series(Math.max(20, Math.floor(REQUESTS / 10)), () => '?since=24h&limit=50', true);
    server.close();
    const f = (x: number) => `${x.toFixed(1)} ms`;
    const line = (t: number[]) =>
      `p50 ${f(percentile(t, 50))}, p95 ${f(percentile(t, 95))}, p99 ${f(percentile(t, 99))}, max ${f(t.at(-1)!)}`;
    console.log(`  first request (cold classification memo): ${f(cold)}`);
    console.log(
      `  parties view over HTTP, ${REQUESTS} requests (mixed filters, sorts, pages), store idle: ${line(idle)}`,
    );
    console.log(
      `  the same with a store write before every request (every request regroups): ${line(busy)} (goal p95 < 100 ms)`,
    );
    console.log(
      `  time window (last 24 h: ${(PHONES * NAMES * SERVERS * Math.min(24, buckets)).toLocaleString('en')} rows), a write before each of ${win.length} requests: ${line(win)}`,
    );
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
