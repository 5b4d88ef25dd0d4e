/**
 * RDAP client for IP network owners (RFC 9082 queries, RFC 9083 responses, RFC 9224 bootstrap).
 *
 * One lookup: bootstrap → GET {base}ip/{address} → follow redirects (bounded) → read the body up to a size
 * cap → parse JSON → validate the shape (zod) → the facts bandguard uses: network handle and name, its
 * address range, country, registrant organization and, where the registry says it, the originating ASNs.
 *
 * Bounded everywhere: at most `maxConcurrent` requests in flight (a counting gate per HTTP attempt), a
 * timeout per request that also covers reading the body, a response size cap, a bounded number of
 * redirects and retries, exponential backoff on 5xx, timeouts and resets, and on 429 the server's
 * Retry-After (capped) pauses every request to that host. A caller's AbortSignal (e.g. a total budget)
 * cancels waiting and in-flight work. This is the only file in bandguard that talks HTTP to registries.
 */
import { z } from 'zod';
import { RdapBootstrap } from './bootstrap.js';
import { formatIp, type IpBytes, ipHex, parseIp } from './ip.js';
import { RdapError, type RdapErrorKind } from './rdapError.js';

export { RdapError, type RdapErrorKind } from './rdapError.js';

export interface RdapNetwork {
  /** The address that was asked about. */
  query: string;
  handle: string | null;
  name: string | null;
  /** ISO 3166-1 alpha-2 of the registration (the registrant's, not necessarily where the server is). */
  country: string | null;
  /** The network's range as the registry gives it, when it contains the query. */
  range: { first: IpBytes; last: IpBytes } | null;
  /** Originating autonomous systems, in the registry's order. */
  originAsns: number[];
  /** Organization of the entity with role "registrant" (vCard fn, else org). */
  registrant: string | null;
  /** The URL that gave the answer (after redirects). */
  server: string;
}

export interface RdapClientOptions {
  bootstrap?: RdapBootstrap;
  /** Requests in flight at once (all hosts). Default 2. */
  maxConcurrent?: number;
  /** Per request, connecting to the last body byte. Default 8 s. */
  timeoutMs?: number;
  /** Response body cap. Default 512 KiB (real answers are 2–30 KiB). */
  maxBytes?: number;
  maxRedirects?: number;
  /** Retries after a transient failure (5xx, 429, timeout, reset). Default 2. */
  retries?: number;
  /** First backoff; doubles per retry. Default 1 s. */
  backoffMs?: number;
  /** Cap on a server's Retry-After and on backoff. Default 60 s. */
  maxBackoffMs?: number;
  userAgent?: string;
}

export interface RdapStats {
  requests: number;
  inFlight: number;
  maxInFlight: number;
  retries: number;
  redirects: number;
  failures: Partial<Record<RdapErrorKind, number>>;
}

// ---- response shape (RFC 9083 §5.4 IP network, §5.1 entity; ARIN's originas0 and cidr0 extensions) ----

interface EntityShape {
  handle?: string | undefined;
  roles?: string[] | undefined;
  vcardArray?: unknown;
  entities?: EntityShape[] | undefined;
}

const entitySchema: z.ZodType<EntityShape> = z.object({
  handle: z.string().optional(),
  roles: z.array(z.string()).optional(),
  vcardArray: z.unknown().optional(),
  get entities() {
    return z.array(entitySchema).max(200).optional();
  },
});

export const ipNetworkSchema = z.object({
  objectClassName: z.string().refine((s) => s.toLowerCase() === 'ip network', {
    message: 'objectClassName is not "ip network"',
  }),
  handle: z.string().max(256).optional(),
  startAddress: z.string().max(64).optional(),
  endAddress: z.string().max(64).optional(),
  ipVersion: z.string().optional(),
  name: z.string().max(256).optional(),
  type: z.string().optional(),
  country: z.string().max(8).optional(),
  parentHandle: z.string().optional(),
  entities: z.array(entitySchema).max(200).optional(),
  links: z
    .array(z.object({ href: z.string().optional(), rel: z.string().optional(), value: z.string().optional() }))
    .max(200)
    .optional(),
  arin_originas0_originautnums: z.array(z.number().int().nonnegative()).max(1000).optional(),
});
export type IpNetworkObject = z.infer<typeof ipNetworkSchema>;

/** jCard (RFC 7095) text property of a vCard array: `["vcard", [[name, params, type, value], ...]]`. */
function vcardText(vcard: unknown, prop: string): string | null {
  if (!Array.isArray(vcard) || vcard[0] !== 'vcard' || !Array.isArray(vcard[1])) return null;
  for (const p of vcard[1] as unknown[]) {
    if (!Array.isArray(p) || p[0] !== prop) continue;
    const v = p[3];
    if (typeof v === 'string' && v.trim()) return v.trim();
    if (Array.isArray(v) && typeof v[0] === 'string' && v[0].trim()) return v[0].trim();
  }
  return null;
}

function findRegistrant(entities: EntityShape[] | undefined, depth = 0): string | null {
  if (!entities || depth > 3) return null;
  for (const e of entities) {
    if (e.roles?.some((r) => r.toLowerCase() === 'registrant')) {
      const name = vcardText(e.vcardArray, 'fn') ?? vcardText(e.vcardArray, 'org');
      if (name) return name;
    }
  }
  for (const e of entities) {
    const inner = findRegistrant(e.entities, depth + 1);
    if (inner) return inner;
  }
  return null;
}

/** The facts bandguard keeps from a validated IP network object. */
export function extractNetwork(obj: IpNetworkObject, query: IpBytes, server: string): RdapNetwork {
  const asns = new Set<number>();
  for (const n of obj.arin_originas0_originautnums ?? []) if (n > 0 && n <= 0xffffffff) asns.add(n);
  for (const l of obj.links ?? []) {
    const m = l.href ? /\/autnum\/(\d{1,10})\/?$/i.exec(l.href) : null;
    if (m) {
      const n = Number(m[1]);
      if (n > 0 && n <= 0xffffffff) asns.add(n);
    }
  }
  let range: RdapNetwork['range'] = null;
  const first = obj.startAddress ? parseIp(obj.startAddress.trim()) : null;
  const last = obj.endAddress ? parseIp(obj.endAddress.trim()) : null;
  if (first && last && first.length === query.length && last.length === query.length) {
    const q = ipHex(query);
    if (ipHex(first) <= q && q <= ipHex(last)) range = { first, last };
  }
  const cc = obj.country?.trim().toUpperCase();
  return {
    query: formatIp(query),
    handle: obj.handle?.trim() || null,
    name: obj.name?.trim() || null,
    country: cc && /^[A-Z]{2}$/.test(cc) ? cc : null,
    range,
    originAsns: [...asns],
    registrant: findRegistrant(obj.entities),
    server,
  };
}

// ---- the gate ----

/** Counting gate: at most `max` holders; waiters are served in order; a waiter can give up on abort. */
class Gate {
  active = 0;
  maxActive = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly max: number) {}

  async acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) throw abortError(signal);
    if (this.active < this.max) {
      this.take();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.take();
        resolve();
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortError(signal!));
      };
      this.waiters.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    this.active--;
    const next = this.waiters.shift();
    if (next) next();
  }

  private take(): void {
    this.active++;
    if (this.active > this.maxActive) this.maxActive = this.active;
  }
}

function abortError(signal: AbortSignal): RdapError {
  const r = signal.reason;
  return new RdapError('aborted', `lookup cancelled${r instanceof Error && r.message ? `: ${r.message}` : ''}`);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(v: string | null, nowMs: number): number | null {
  if (!v) return null;
  const t = v.trim();
  if (/^\d{1,9}$/.test(t)) return Number(t) * 1000;
  const at = Date.parse(t);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

export class RdapClient {
  readonly bootstrap: RdapBootstrap;
  readonly maxConcurrent: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxRedirects: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly userAgent: string;
  private readonly gate: Gate;
  /** Host → time (epoch ms) before which no request goes to it (after a 429). */
  private readonly pausedUntil = new Map<string, number>();
  private readonly counters = { requests: 0, retries: 0, redirects: 0 };
  private readonly failures: Partial<Record<RdapErrorKind, number>> = {};

  constructor(opts: RdapClientOptions = {}) {
    this.bootstrap = opts.bootstrap ?? RdapBootstrap.shipped();
    this.maxConcurrent = Math.max(1, Math.floor(opts.maxConcurrent ?? 2));
    this.timeoutMs = opts.timeoutMs ?? 8000;
    this.maxBytes = opts.maxBytes ?? 512 * 1024;
    this.maxRedirects = opts.maxRedirects ?? 3;
    this.retries = Math.max(0, Math.floor(opts.retries ?? 2));
    this.backoffMs = opts.backoffMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 60_000;
    this.userAgent = opts.userAgent ?? 'bandguard (RDAP client; +https://github.com/bandguard)';
    this.gate = new Gate(this.maxConcurrent);
  }

  get stats(): RdapStats {
    return {
      ...this.counters,
      inFlight: this.gate.active,
      maxInFlight: this.gate.maxActive,
      failures: { ...this.failures },
    };
  }

  /** Look up the network that holds an address. Throws RdapError. */
  async lookupIp(ip: string, signal?: AbortSignal): Promise<RdapNetwork> {
    try {
      return await this.lookupInner(ip, signal);
    } catch (err) {
      const e = err instanceof RdapError ? err : new RdapError('network', String(err));
      this.failures[e.kind] = (this.failures[e.kind] ?? 0) + 1;
      throw e;
    }
  }

  private async lookupInner(ip: string, signal: AbortSignal | undefined): Promise<RdapNetwork> {
    const b = parseIp(ip);
    if (!b) throw new RdapError('bad-address', `not an IP address: ${JSON.stringify(ip.slice(0, 64))}`);
    const { urls, fromRegistry } = this.bootstrap.baseUrlsFor(b);
    let last: RdapError | null = null;
    for (const base of urls) {
      try {
        return await this.withRetries(`${base}ip/${formatIp(b)}`, b, signal);
      } catch (err) {
        const e = err as RdapError;
        if (e.kind === 'aborted') throw e;
        last = e;
        // The registry's server said "not here": for a registry match that is the answer; when guessing
        // among the RIRs, ask the next one.
        if (e.kind === 'not-found' && fromRegistry) throw e;
      }
    }
    throw last ?? new RdapError('not-found', `no RDAP server for ${formatIp(b)}`);
  }

  private async withRetries(url: string, query: IpBytes, signal: AbortSignal | undefined): Promise<RdapNetwork> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.waitForHost(url, signal);
        await this.gate.acquire(signal);
        try {
          return await this.fetchOnce(url, query, signal);
        } finally {
          this.gate.release();
        }
      } catch (err) {
        const e = err instanceof RdapError ? err : new RdapError('network', String(err));
        if (!e.transient || attempt >= this.retries || signal?.aborted) throw e;
        this.counters.retries++;
        const backoff = Math.min(this.maxBackoffMs, e.retryAfterMs ?? this.backoffMs * 2 ** attempt);
        if (e.kind === 'rate-limited') this.pauseHost(url, backoff);
        else await sleep(backoff, signal);
      }
    }
  }

  private pauseHost(url: string, ms: number): void {
    const host = new URL(url).host;
    const until = Date.now() + ms;
    if ((this.pausedUntil.get(host) ?? 0) < until) this.pausedUntil.set(host, until);
  }

  private async waitForHost(url: string, signal: AbortSignal | undefined): Promise<void> {
    const host = new URL(url).host;
    const until = this.pausedUntil.get(host);
    if (until === undefined) return;
    const wait = until - Date.now();
    if (wait <= 0) {
      this.pausedUntil.delete(host);
      return;
    }
    await sleep(wait, signal);
  }

  /** One request (following redirects) under the per-request timeout. */
  private async fetchOnce(startUrl: string, query: IpBytes, outer: AbortSignal | undefined): Promise<RdapNetwork> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
    let url = startUrl;
    try {
      for (let hop = 0; ; hop++) {
        this.counters.requests++;
        const res = await fetch(url, {
          redirect: 'manual',
          signal,
          headers: { accept: 'application/rdap+json, application/json;q=0.9', 'user-agent': this.userAgent },
        });
        if (res.status >= 300 && res.status < 400 && res.status !== 304) {
          await res.body?.cancel();
          const loc = res.headers.get('location');
          let next: URL | null = null;
          try {
            next = loc ? new URL(loc, url) : null;
          } catch {
            next = null;
          }
          if (!next || (next.protocol !== 'https:' && next.protocol !== 'http:')) {
            throw new RdapError('redirect', `${url}: HTTP ${res.status} without a usable Location`, res.status);
          }
          if (hop >= this.maxRedirects) {
            throw new RdapError('redirect', `${startUrl}: more than ${this.maxRedirects} redirects`, res.status);
          }
          this.counters.redirects++;
          url = next.href;
          continue;
        }
        if (res.status === 404) {
          await res.body?.cancel();
          throw new RdapError('not-found', `${url}: HTTP 404 (no registration)`, 404);
        }
        if (res.status === 429) {
          await res.body?.cancel();
          const ra = parseRetryAfter(res.headers.get('retry-after'), Date.now());
          throw new RdapError('rate-limited', `${url}: HTTP 429 (rate limited)`, 429, ra);
        }
        if (res.status >= 500) {
          await res.body?.cancel();
          const ra = parseRetryAfter(res.headers.get('retry-after'), Date.now());
          throw new RdapError('http', `${url}: HTTP ${res.status}`, res.status, ra);
        }
        if (res.status !== 200) {
          await res.body?.cancel();
          // A client error is permanent for this query: not transient.
          throw new RdapError('invalid', `${url}: HTTP ${res.status}`, res.status);
        }
        const body = await this.readCapped(res, url);
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          throw new RdapError('invalid', `${url}: the answer is not JSON`);
        }
        const parsed = ipNetworkSchema.safeParse(json);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const where = issue?.path.length ? issue.path.join('.') : 'top level';
          throw new RdapError('invalid', `${url}: not an RDAP IP network object (${where}: ${issue?.message})`);
        }
        return extractNetwork(parsed.data, query, url);
      }
    } catch (err) {
      if (err instanceof RdapError) throw err;
      if (outer?.aborted) throw abortError(outer);
      if (timeout.aborted) throw new RdapError('timeout', `${url}: no complete answer within ${this.timeoutMs} ms`);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new RdapError('network', `${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
  }

  private async readCapped(res: Response, url: string): Promise<string> {
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > this.maxBytes) {
      await res.body?.cancel();
      throw new RdapError('too-large', `${url}: answer of ${declared} bytes exceeds the ${this.maxBytes}-byte cap`);
    }
    if (!res.body) return '';
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > this.maxBytes) {
        await reader.cancel();
        throw new RdapError('too-large', `${url}: answer exceeds the ${this.maxBytes}-byte cap`);
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
