/**
 * Second-order events: when a device is used, inferred from traffic metadata alone (docs/plaintext-inspection.md
 * explains the heuristics and their limits).
 *
 * - `measurement`: a clear-text request whose path or query names a measurement (GET /bp/measure?sys=…);
 * - `sync`: a burst of connections and upload to the app's own (first-party) servers — a session of flows
 *   no more than SESSION_GAP apart that sends at least SYNC_MIN_UP bytes, or a clear-text POST/PUT to them;
 * - `app-open`: the first first-party session of an app after APP_IDLE of silence that comes with
 *   third-party SDK contacts (analytics, advertising, push, logging, social, location, weather, captcha)
 *   within SDK_WINDOW: SDKs start with the app, background syncs rarely start them.
 *
 * Pure: records in, events out.
 */

import { compareText } from '../../core/compare.js';
import type { ReportEvent } from '../report.js';

export interface FlowMark {
  client: string;
  name: string | null;
  serverIp: string;
  port: number;
  tsMs: number;
  endMs: number;
  bytesOut: number;
  packetsOut: number;
  /**
   * Connections this mark stands for: repeated connections from one client to one endpoint whose starts are
   * never more than {@link markMergeGapMs} apart are one mark (see LeakInspector.onFlow), covering starts
   * `tsMs`…`lastStartMs`.
   */
  flows: number;
  lastStartMs: number;
}

/**
 * Largest gap between the starts of connections that one mark may cover. At most twice the SDK window, so
 * "an SDK connection started within the window of a session start" is the same question for a mark (is the
 * session start within the window of `tsMs`…`lastStartMs`?), and at most the session gap, so merged
 * connections would have been one session anyway.
 */
export function markMergeGapMs(o: EventOptions): number {
  return Math.min(2 * o.sdkWindowMs, o.sessionGapMs);
}

export interface RequestMark {
  client: string;
  name: string | null;
  serverIp: string;
  port: number;
  tsMs: number;
  method: string;
  /** Host + path, for evidence (query left out). */
  url: string;
  /** Health terms the request's path or query revealed. */
  healthTerms: string[];
}

export interface ContactFacts {
  app: string | null;
  party: string;
  role: string;
  name: string | null;
}

export interface EventOptions {
  sessionGapMs: number;
  syncMinUpBytes: number;
  appIdleMs: number;
  sdkWindowMs: number;
  measurementDedupMs: number;
}

export const DEFAULT_EVENT_OPTIONS: EventOptions = {
  sessionGapMs: 30_000,
  syncMinUpBytes: 2_048,
  appIdleMs: 5 * 60_000,
  sdkWindowMs: 10_000,
  measurementDedupMs: 60_000,
};

const SDK_ROLES = new Set(['analytics', 'advertising', 'push', 'logging', 'social', 'location', 'weather', 'captcha']);

function iso(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}

function kb(n: number): string {
  return n >= 1024 ? `${(n / 1024).toFixed(1)} kB` : `${n} B`;
}

export function inferEvents(
  flows: readonly FlowMark[],
  requests: readonly RequestMark[],
  factsOf: (client: string, name: string | null, serverIp: string, port: number) => ContactFacts | null,
  clientApps: (client: string) => string[],
  opts: EventOptions = DEFAULT_EVENT_OPTIONS,
): ReportEvent[] {
  const events: ReportEvent[] = [];

  // Measurements revealed by clear-text requests.
  const lastMeasurement = new Map<string, number>();
  for (const r of [...requests].sort((a, b) => a.tsMs - b.tsMs)) {
    if (r.healthTerms.length === 0) continue;
    const f = factsOf(r.client, r.name, r.serverIp, r.port);
    const apps = clientApps(r.client);
    const app = f?.app ?? (apps.length === 1 ? apps[0]! : null);
    const key = `${r.client}\u0000${app ?? ''}`;
    const prev = lastMeasurement.get(key);
    if (prev !== undefined && r.tsMs - prev < opts.measurementDedupMs) continue;
    lastMeasurement.set(key, r.tsMs);
    events.push({
      client: r.client,
      app,
      kind: 'measurement',
      at: iso(r.tsMs),
      evidence: `${r.method} ${r.url} reveals ${r.healthTerms.join(', ')}`,
    });
  }

  // Sessions of first-party traffic per (client, app), and the SDK contacts around them.
  interface Marked extends FlowMark {
    facts: ContactFacts;
  }
  const byClient = new Map<string, Marked[]>();
  for (const fl of flows) {
    const facts = factsOf(fl.client, fl.name, fl.serverIp, fl.port);
    if (!facts) continue;
    const list = byClient.get(fl.client) ?? [];
    list.push({ ...fl, facts });
    byClient.set(fl.client, list);
  }
  const postsTo = new Map<string, RequestMark[]>();
  for (const r of requests) {
    if (r.method !== 'POST' && r.method !== 'PUT') continue;
    const k = `${r.client}\u0000${r.serverIp}\u0000${r.port}`;
    const l = postsTo.get(k) ?? [];
    l.push(r);
    postsTo.set(k, l);
  }
  for (const [client, list] of byClient) {
    // Ties broken by endpoint: the events must not depend on the order in which flows ended.
    list.sort(
      (a, b) =>
        a.tsMs - b.tsMs ||
        compareText(a.name ?? '', b.name ?? '') ||
        compareText(a.serverIp, b.serverIp) ||
        a.port - b.port,
    );
    const sdk = list.filter((f) => f.facts.party === 'third' && SDK_ROLES.has(f.facts.role));
    const apps = new Set(list.filter((f) => f.facts.party === 'first' && f.facts.app).map((f) => f.facts.app!));
    for (const app of apps) {
      const own = list.filter((f) => f.facts.party === 'first' && f.facts.app === app);
      let lastEnd = Number.NEGATIVE_INFINITY;
      let i = 0;
      while (i < own.length) {
        // One session: flows starting within sessionGap of the previous one's end.
        const start = own[i]!.tsMs;
        let end = own[i]!.endMs;
        let up = 0;
        let n = 0;
        const names = new Set<string>();
        let posts = 0;
        let j = i;
        while (j < own.length && (j === i || own[j]!.tsMs - end <= opts.sessionGapMs)) {
          const f = own[j]!;
          end = Math.max(end, f.endMs);
          up += f.bytesOut;
          n += f.flows;
          if (f.facts.name ?? f.name) names.add((f.facts.name ?? f.name)!);
          posts +=
            postsTo
              .get(`${client}\u0000${f.serverIp}\u0000${f.port}`)
              ?.filter((r) => r.tsMs >= f.tsMs && r.tsMs <= f.endMs + 1).length ?? 0;
          j++;
        }
        const nameList = [...names].slice(0, 3).join(', ');
        if (start - lastEnd >= opts.appIdleMs) {
          const near = sdk.filter(
            (s) => start >= s.tsMs - opts.sdkWindowMs && start <= s.lastStartMs + opts.sdkWindowMs,
          );
          if (near.length > 0) {
            const sdkNames = [...new Set(near.map((s) => s.facts.name ?? s.name ?? s.serverIp))].sort(compareText);
            events.push({
              client,
              app,
              kind: 'app-open',
              at: iso(start),
              evidence: `${nameList || 'first-party servers'} with ${sdkNames.length} SDK host(s) within ${Math.round(opts.sdkWindowMs / 1000)} s: ${sdkNames.slice(0, 5).join(', ')}`,
            });
          }
        }
        if (up >= opts.syncMinUpBytes || posts > 0) {
          events.push({
            client,
            app,
            kind: 'sync',
            at: iso(start),
            evidence: `${n} connection(s) to ${nameList || 'first-party servers'}, ${kb(up)} up in ${Math.max(0, Math.round((end - start) / 1000))} s${posts > 0 ? `, ${posts} upload request(s) in clear text` : ''}`,
          });
        }
        lastEnd = end;
        i = j;
      }
    }
  }
  events.sort((a, b) => compareText(a.client, b.client) || compareText(a.at, b.at) || compareText(a.kind, b.kind));
  return events;
}
