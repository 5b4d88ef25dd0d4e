/**
 * LeakInspector: the plaintext-inspection stage of the pipeline. A PipelineObserver that scans every
 * clear-text HTTP request (target, headers, decoded body) and the first client bytes of flows that are neither
 * TLS, QUIC nor HTTP, aggregates the findings into the `leaks` of the analyze report — one per (client,
 * name or server, kind, term, encoding) with a count — and keeps a compact timeline of flows and requests
 * from which `events` are inferred (events.ts).
 *
 * Memory is bounded: MAX_LEAKS aggregates, MAX_MARKS flow and request marks (the oldest are kept: events
 * need the starts of sessions; past the cap new marks are counted in `dropped`). Repeated connections to one
 * endpoint share a mark, so the marks follow the endpoints in use, not the connection rate.
 */

import { compareText } from '../../core/compare.js';
import type { FlowRecord, HttpObservation, PayloadObservation, PipelineObserver } from '../flows/flowTypes.js';
import type { LeakSource, ReportClient, ReportContact, ReportEvent, ReportLeak } from '../report.js';
import { bestName, isLocalAddress } from '../report.js';
import { type Finding, LeakDetector } from './detectors.js';
import { type Dictionaries, defaultDictionaries } from './dictionaries.js';
import {
  type ContactFacts,
  DEFAULT_EVENT_OPTIONS,
  type EventOptions,
  type FlowMark,
  inferEvents,
  markMergeGapMs,
  type RequestMark,
} from './events.js';
import { classifyPayload, DEFAULT_PREFIX, DEFAULT_THRESHOLDS } from './payloadClass.js';

const MAX_LEAKS = 50_000;
const MAX_MARKS = 200_000;
const MAX_TRIAL_MEMO = 65_536;

interface LeakAgg {
  client: string;
  name: string | null;
  serverIp: string;
  port: number;
  protocol: string;
  kind: string;
  term: string;
  evidence: string;
  encoding: string;
  firstTsMs: number;
  count: number;
}

export interface InspectorStats {
  httpRequests: number;
  payloads: number;
  /** Payloads not scanned because they were encrypted (or compressed beyond decoding). */
  payloadsEncrypted: number;
  findings: number;
  /** Marks or leaks not kept because a cap was reached. */
  dropped: number;
}

export interface LeakInspectorOptions {
  dictionaries?: Dictionaries;
  events?: Partial<EventOptions>;
  /** Scan traffic to LAN/multicast addresses too (off: leaks are about parties on the internet). */
  includeLocal?: boolean;
  /**
   * Live mode: every finding is handed over as it is made (the store aggregates the counts) instead of being
   * kept for `results()`; `drainEvents()` then infers events from the marks that have settled.
   */
  onLeak?: (leak: LiveLeak) => void;
}

/** One finding, as the live agent stores it. */
export interface LiveLeak {
  client: string;
  name: string | null;
  serverIp: string;
  protocol: string;
  kind: string;
  term: string;
  evidence: string;
  encoding: string;
  tsMs: number;
}

function hostOnly(h: string | null): string | null {
  if (!h) return null;
  let n = h.toLowerCase();
  if (n.startsWith('[')) return n.slice(1, n.indexOf(']') > 0 ? n.indexOf(']') : undefined);
  const c = n.lastIndexOf(':');
  if (c > 0 && n.indexOf(':') === c) n = n.slice(0, c);
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

export class LeakInspector implements PipelineObserver, LeakSource {
  readonly stats: InspectorStats = { httpRequests: 0, payloads: 0, payloadsEncrypted: 0, findings: 0, dropped: 0 };
  #detector: LeakDetector | null = null;
  private readonly dictionaries: Dictionaries | undefined;
  private readonly leaks = new Map<string, LeakAgg>();
  private flows: FlowMark[] = [];
  private requests: RequestMark[] = [];
  /** The latest mark of each (client, name, server, port), which repeated connections merge into. */
  private lastMark = new Map<string, FlowMark>();
  /** Endpoints (client, server, port, transport) whose payloads failed the raw deflate/brotli trial. */
  private readonly trialFailed = new Set<string>();
  private readonly mergeGapMs: number;
  private readonly eventOpts: EventOptions;
  private readonly includeLocal: boolean;

  private readonly onLeak: ((leak: LiveLeak) => void) | null;

  constructor(opts: LeakInspectorOptions = {}) {
    this.onLeak = opts.onLeak ?? null;
    this.dictionaries = opts.dictionaries;
    this.eventOpts = { ...DEFAULT_EVENT_OPTIONS, ...opts.events };
    this.mergeGapMs = markMergeGapMs(this.eventOpts);
    this.includeLocal = opts.includeLocal ?? false;
  }

  /** The detector, with the shipped dictionaries loaded when the first clear text shows up. */
  private detector(): LeakDetector {
    this.#detector ??= new LeakDetector(this.dictionaries ?? defaultDictionaries());
    return this.#detector;
  }

  onFlow(f: FlowRecord): void {
    if (f.protocol === 'dns' || f.protocol === 'mdns' || f.protocol === 'dhcp') return;
    const { name } = bestName(f);
    const key = `${f.clientId}\u0000${name ?? ''}\u0000${f.serverIp}\u0000${f.serverPort}`;
    const start = f.firstTsMs;
    // Repeated connections to one endpoint (a connection pool, polling, a long flow's checkpoints) are one
    // mark while their starts stay close: the events read the same, and memory follows the number of
    // endpoints in use rather than the connection rate.
    const m = this.lastMark.get(key);
    if (m && start >= m.tsMs - this.mergeGapMs && start <= m.lastStartMs + this.mergeGapMs) {
      m.tsMs = Math.min(m.tsMs, start);
      m.lastStartMs = Math.max(m.lastStartMs, start);
      m.endMs = Math.max(m.endMs, f.lastTsMs);
      m.bytesOut += f.bytesOut;
      m.packetsOut += f.packetsOut;
      m.flows++;
      return;
    }
    if (this.flows.length >= MAX_MARKS) {
      this.stats.dropped++;
      return;
    }
    const mark: FlowMark = {
      client: f.clientId,
      name,
      serverIp: f.serverIp,
      port: f.serverPort,
      tsMs: start,
      endMs: f.lastTsMs,
      bytesOut: f.bytesOut,
      packetsOut: f.packetsOut,
      flows: 1,
      lastStartMs: start,
    };
    this.flows.push(mark);
    this.lastMark.set(key, mark);
  }

  onHttpRequest(r: HttpObservation): void {
    this.stats.httpRequests++;
    if (!this.includeLocal && isLocalAddress(r.serverIp)) return;
    const name = hostOnly(r.host);
    const findings = this.detector().scanHttpRequest(r);
    for (const f of findings) this.add(r.clientId, name, r.serverIp, r.serverPort, 'http', f, r.tsMs);
    // Health terms that the target itself reveals (path or query), not the body: what a passive observer
    // learns from the request line alone.
    const targetHealth = findings
      .filter((f) => f.kind === 'health' && (f.evidence.startsWith(`${r.method} `) || f.evidence.startsWith('?')))
      .map((f) => f.term);
    // Events use two kinds of request: those whose target names a measurement, and uploads (POST/PUT). The
    // rest (most clear-text GETs) need no mark.
    if (targetHealth.length === 0 && r.method !== 'POST' && r.method !== 'PUT') return;
    if (this.requests.length < MAX_MARKS) {
      const q = r.target.indexOf('?');
      const path = q < 0 ? r.target : r.target.slice(0, q);
      this.requests.push({
        client: r.clientId,
        name,
        serverIp: r.serverIp,
        port: r.serverPort,
        tsMs: r.tsMs,
        method: r.method,
        url: `${name ?? r.serverIp}${path.length > 80 ? `${path.slice(0, 79)}…` : path}`,
        healthTerms: [...new Set(targetHealth)],
      });
    } else this.stats.dropped++;
  }

  onPayload(p: PayloadObservation): void {
    this.stats.payloads++;
    if (!this.includeLocal && isLocalAddress(p.serverIp)) return;
    if (p.payload.length < 8) return;
    // An endpoint whose payload did not decode as raw deflate or brotli once is not tried again (the first
    // payloads of every flow to a game or VoIP server would each pay two decoder set-ups for nothing).
    const endpoint = `${p.clientId}\u0000${p.serverIp}\u0000${p.serverPort}\u0000${p.transport}`;
    const tried = this.trialFailed.has(endpoint);
    const verdict = classifyPayload(p.payload, 'combined', DEFAULT_PREFIX, DEFAULT_THRESHOLDS, !tried);
    if (!tried && verdict.cls !== 'plaintext' && verdict.format === null) {
      if (this.trialFailed.size >= MAX_TRIAL_MEMO) this.trialFailed.clear();
      this.trialFailed.add(endpoint);
    }
    if (verdict.cls === 'encrypted') {
      this.stats.payloadsEncrypted++;
      return;
    }
    for (const f of this.detector().scanPayload(p.payload, verdict)) {
      this.add(p.clientId, p.dnsNames[0] ?? null, p.serverIp, p.serverPort, 'other', f, p.tsMs);
    }
  }

  private add(
    client: string,
    name: string | null,
    serverIp: string,
    port: number,
    protocol: string,
    f: Finding,
    ts: number,
  ): void {
    this.stats.findings++;
    if (this.onLeak) {
      this.onLeak({
        client,
        name,
        serverIp,
        protocol,
        kind: f.kind,
        term: f.term,
        evidence: f.evidence,
        encoding: f.encoding,
        tsMs: ts,
      });
      return;
    }
    const key = `${client}\u0000${name ?? serverIp}\u0000${f.kind}\u0000${f.term}\u0000${f.encoding}`;
    const a = this.leaks.get(key);
    if (a) {
      a.count++;
      if (ts < a.firstTsMs) a.firstTsMs = ts;
      return;
    }
    if (this.leaks.size >= MAX_LEAKS) {
      this.stats.dropped++;
      return;
    }
    this.leaks.set(key, {
      client,
      name,
      serverIp,
      port,
      protocol,
      kind: f.kind,
      term: f.term,
      evidence: f.evidence,
      encoding: f.encoding,
      firstTsMs: ts,
      count: 1,
    });
  }

  /**
   * Live mode: the events of the flow and request marks that started before `beforeMs` (sessions that have
   * settled), which are then forgotten, so memory stays bounded however long the agent runs. A session that
   * straddles the boundary may be split in two; `beforeMs` some minutes in the past makes that rare.
   */
  drainEvents(
    beforeMs: number,
    factsOf: (client: string, name: string | null, serverIp: string, port: number) => ContactFacts | null,
    clientApps: (client: string) => string[],
  ): ReportEvent[] {
    const flows = this.flows.filter((f) => f.tsMs < beforeMs);
    const requests = this.requests.filter((r) => r.tsMs < beforeMs);
    if (flows.length === 0 && requests.length === 0) return [];
    this.flows = this.flows.filter((f) => f.tsMs >= beforeMs);
    this.requests = this.requests.filter((r) => r.tsMs >= beforeMs);
    // Drained marks take no more merges: only the kept ones stay reachable by their endpoint.
    const kept = new Set(this.flows);
    for (const [k, m] of this.lastMark) if (!kept.has(m)) this.lastMark.delete(k);
    return inferEvents(flows, requests, factsOf, clientApps, this.eventOpts);
  }

  /** Flow marks held now (a mark stands for one or more connections to one endpoint). */
  get markCount(): number {
    return this.flows.length;
  }

  /** Names each client contacted among the marks held now (to infer its apps in live mode). */
  markedNames(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const f of this.flows) {
      if (!f.name) continue;
      const list = out.get(f.client) ?? [];
      if (list.length < 256 && !list.includes(f.name)) list.push(f.name);
      out.set(f.client, list);
    }
    return out;
  }

  /** Leaks and events for the report, named and attributed with the classified contacts. */
  results(ctx: { contacts: ReportContact[]; clients: ReportClient[] }): { leaks: ReportLeak[]; events: ReportEvent[] } {
    const byEndpoint = new Map<string, ReportContact>();
    const byName = new Map<string, ReportContact>();
    for (const c of ctx.contacts) {
      const k = `${c.client}\u0000${c.serverIp}\u0000${c.port}`;
      if (!byEndpoint.has(k) || c.name) byEndpoint.set(k, c);
      if (c.name) byName.set(`${c.client}\u0000${c.name}\u0000${c.serverIp}\u0000${c.port}`, c);
    }
    const appsOf = new Map(ctx.clients.map((c) => [c.id, c.apps]));
    const leaks: ReportLeak[] = [...this.leaks.values()]
      .map((a) => ({
        client: a.client,
        name: a.name ?? byEndpoint.get(`${a.client}\u0000${a.serverIp}\u0000${a.port}`)?.name ?? null,
        serverIp: a.serverIp,
        protocol: a.protocol,
        kind: a.kind,
        term: a.term,
        evidence: a.evidence,
        encoding: a.encoding,
        firstSeen: new Date(Math.round(a.firstTsMs)).toISOString(),
        count: a.count,
      }))
      .sort(
        (x, y) =>
          compareText(x.client, y.client) ||
          compareText(x.firstSeen, y.firstSeen) ||
          compareText(x.name ?? x.serverIp, y.name ?? y.serverIp) ||
          compareText(x.kind, y.kind) ||
          compareText(x.term, y.term),
      );
    const factsOf = (client: string, name: string | null, serverIp: string, port: number): ContactFacts | null => {
      const c =
        (name ? byName.get(`${client}\u0000${name}\u0000${serverIp}\u0000${port}`) : undefined) ??
        byEndpoint.get(`${client}\u0000${serverIp}\u0000${port}`);
      return c ? { app: c.app, party: c.party, role: c.role, name: c.name } : null;
    };
    const events = inferEvents(this.flows, this.requests, factsOf, (c) => appsOf.get(c) ?? [], this.eventOpts);
    return { leaks, events };
  }
}
