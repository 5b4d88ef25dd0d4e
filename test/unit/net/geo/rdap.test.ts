import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RdapBootstrap, shippedBootstrap } from '../../../../src/net/geo/bootstrap.js';
import { formatIp, parseIp } from '../../../../src/net/geo/ip.js';
import { parseRetryAfter, RdapClient, RdapError } from '../../../../src/net/geo/rdap.js';
import { fixture, type Handler, type RdapTestServer, sendJson, startRdapServer } from './rdapServer.js';

let srv: RdapTestServer | null = null;
afterEach(async () => {
  await srv?.close();
  srv = null;
});

/** The registry on the local server: 8/8 → /arin/, 193/8 → /ripe/, 2400::/12 → /apnic/; fallback /rir1/, /rir2/. */
function bootstrap(base: string): RdapBootstrap {
  return new RdapBootstrap(
    [
      {
        services: [
          [['8.0.0.0/8'], [`${base}/arin/`]],
          [['193.0.0.0/8'], [`${base}/ripe/`]],
          [['2400::/12'], [`${base}/apnic`]],
        ],
      },
    ],
    [`${base}/rir1/`, `${base}/rir2/`],
  );
}

async function serve(handler: Handler): Promise<RdapTestServer> {
  srv = await startRdapServer(handler);
  return srv;
}

function client(s: RdapTestServer, opts: ConstructorParameters<typeof RdapClient>[0] = {}): RdapClient {
  return new RdapClient({ bootstrap: bootstrap(s.base), timeoutMs: 2000, backoffMs: 20, ...opts });
}

async function failure(p: Promise<unknown>): Promise<RdapError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RdapError);
    return e as RdapError;
  }
  throw new Error('expected the lookup to fail');
}

const registries: Handler = (req, res, path) => {
  expect(req.headers.accept).toContain('application/rdap+json');
  if (path === '/arin/ip/8.8.8.8') return sendJson(res, fixture('arin-ip-v4.json'));
  if (path === '/ripe/ip/193.0.6.139') return sendJson(res, fixture('ripe-ip-v4.json'));
  if (path === '/apnic/ip/2400:cb00::1') return sendJson(res, fixture('apnic-ip-v6.json'));
  sendJson(res, { errorCode: 404, title: 'Not Found' }, 404);
};

describe('RdapClient against a local registry', () => {
  it('extracts network, handle, range, registrant, country and origin ASN (ARIN, RIPE, APNIC IPv6)', async () => {
    const s = await serve(registries);
    const c = client(s);
    const arin = await c.lookupIp('8.8.8.8');
    expect({ ...arin, range: arin.range && [formatIp(arin.range.first), formatIp(arin.range.last)] }).toEqual({
      query: '8.8.8.8',
      handle: 'NET-8-8-8-0-2',
      name: 'GOGL',
      country: null, // ARIN gives no country on the network object
      range: ['8.8.8.0', '8.8.8.255'],
      originAsns: [15169],
      registrant: 'Google LLC',
      server: `${s.base}/arin/ip/8.8.8.8`,
    });
    const ripe = await c.lookupIp('193.0.6.139');
    expect(ripe).toMatchObject({
      handle: '193.0.0.0 - 193.0.7.255',
      name: 'RIPE-NCC',
      country: 'NL',
      originAsns: [],
      registrant: 'Reseaux IP Europeens Network Coordination Centre (RIPE NCC)',
    });
    expect(formatIp(ripe.range!.last)).toBe('193.0.7.255');
    // A base URL without its trailing slash still gets one; the address is sent in canonical form.
    const apnic = await c.lookupIp('2400:CB00:0:0::1');
    expect(apnic).toMatchObject({
      name: 'CLOUDFLARENET',
      country: 'US',
      registrant: 'Cloudflare, Inc.',
      originAsns: [13335],
    });
    expect(formatIp(apnic.range!.first)).toBe('2400:cb00::');
    expect(s.requests).toEqual(['/arin/ip/8.8.8.8', '/ripe/ip/193.0.6.139', '/apnic/ip/2400:cb00::1']);
  });

  it('a registry 404 is "not found" (no guessing elsewhere); unknown space is asked of the fallback RIRs in turn', async () => {
    const s = await serve((_req, res, path) => {
      if (path === '/rir2/ip/45.1.2.3')
        return sendJson(res, { ...fixture('arin-ip-v4.json'), startAddress: '45.0.0.0', endAddress: '45.255.255.255' });
      sendJson(res, { errorCode: 404 }, 404);
    });
    const c = client(s);
    expect((await failure(c.lookupIp('8.8.4.4'))).kind).toBe('not-found');
    expect(s.requests).toEqual(['/arin/ip/8.8.4.4']);
    const net = await c.lookupIp('45.1.2.3');
    expect(net.server).toBe(`${s.base}/rir2/ip/45.1.2.3`);
    expect(formatIp(net.range!.first)).toBe('45.0.0.0');
    expect(s.requests.slice(1)).toEqual(['/rir1/ip/45.1.2.3', '/rir2/ip/45.1.2.3']);
    expect((await failure(c.lookupIp('not-an-ip'))).kind).toBe('bad-address');
  });

  it('follows redirects (relative and absolute), bounded, and only to http(s)', async () => {
    const s = await serve((_req, res, path) => {
      if (path === '/rir1/ip/193.0.6.139') {
        res.writeHead(301, { location: '/ripe/ip/193.0.6.139' });
        res.end();
        return;
      }
      if (path.startsWith('/loop/')) {
        res.writeHead(302, { location: `${srv!.base}/loop/${Number(path.split('/')[2]) + 1}` });
        res.end();
        return;
      }
      if (path === '/ftp/ip/8.8.8.8') {
        res.writeHead(307, { location: 'ftp://127.0.0.1/x' });
        res.end();
        return;
      }
      registries(_req, res, path);
    });
    const viaRir = new RdapClient({ bootstrap: new RdapBootstrap([], [`${s.base}/rir1/`]) });
    expect((await viaRir.lookupIp('193.0.6.139')).server).toBe(`${s.base}/ripe/ip/193.0.6.139`);
    expect(viaRir.stats.redirects).toBe(1);

    const loop = new RdapClient({ bootstrap: new RdapBootstrap([], [`${s.base}/loop/0/`]), maxRedirects: 3 });
    const e = await failure(loop.lookupIp('8.8.8.8'));
    expect(e.kind).toBe('redirect');
    expect(s.requests.filter((r) => r.startsWith('/loop/'))).toHaveLength(4);

    const ftp = new RdapClient({ bootstrap: new RdapBootstrap([], [`${s.base}/ftp/`]) });
    expect((await failure(ftp.lookupIp('8.8.8.8'))).message).toMatch(/without a usable Location/);
  });
});

describe('RdapClient on slow and failing servers', () => {
  it('a server that never answers: the per-request timeout fires', async () => {
    const s = await serve(() => {
      /* hang */
    });
    const c = client(s, { timeoutMs: 200, retries: 0 });
    const t0 = performance.now();
    const e = await failure(c.lookupIp('8.8.8.8'));
    expect(e.kind).toBe('timeout');
    expect(e.transient).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1500);
  });

  it('a body that trickles in slower than the timeout also times out', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/rdap+json' });
      res.write('{"objectClassName": "ip network", ');
      const t = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(t));
    });
    const e = await failure(client(s, { timeoutMs: 300, retries: 0 }).lookupIp('8.8.8.8'));
    expect(e.kind).toBe('timeout');
  });

  it('never has more than maxConcurrent requests in flight', async () => {
    const s = await serve((req, res, path) => {
      setTimeout(() => {
        const ip = path.split('/').pop()!;
        sendJson(res, { ...fixture('arin-ip-v4.json'), startAddress: ip, endAddress: ip });
      }, 120);
      void req;
    });
    const c = client(s, { maxConcurrent: 2 });
    const ips = Array.from({ length: 8 }, (_, i) => `8.8.${i}.1`);
    const t0 = performance.now();
    const nets = await Promise.all(ips.map((ip) => c.lookupIp(ip)));
    const ms = performance.now() - t0;
    expect(nets.map((n) => n.query)).toEqual(ips);
    expect(s.maxOpen).toBe(2);
    expect(c.stats.maxInFlight).toBe(2);
    expect(c.stats.inFlight).toBe(0);
    // 8 requests, 2 at a time, 120 ms each: at least 4 rounds.
    expect(ms).toBeGreaterThanOrEqual(4 * 120 - 20);
  });

  it('5xx: retried with backoff, then given up', async () => {
    let calls = 0;
    const s = await serve((_req, res, path) => {
      calls++;
      if (path.endsWith('8.8.8.8') && calls === 1) return sendJson(res, { errorCode: 503 }, 503);
      if (path.endsWith('8.8.8.8')) return registries(_req, res, path);
      sendJson(res, { errorCode: 500 }, 500);
    });
    const c = client(s, { retries: 2, backoffMs: 30 });
    expect((await c.lookupIp('8.8.8.8')).name).toBe('GOGL');
    expect(calls).toBe(2);
    const t0 = performance.now();
    const e = await failure(c.lookupIp('8.8.4.4'));
    expect(e).toMatchObject({ kind: 'http', status: 500 });
    expect(calls).toBe(5); // 1 + 2 retries
    expect(performance.now() - t0).toBeGreaterThanOrEqual(30 + 60 - 10); // 30 ms, then 60 ms
    expect(c.stats.retries).toBe(3);
  });

  it('429 with Retry-After: waits as told (capped), then succeeds', async () => {
    const times: number[] = [];
    const s = await serve((_req, res, path) => {
      times.push(performance.now());
      if (times.length === 1) return sendJson(res, { errorCode: 429 }, 429, { 'retry-after': '1' });
      if (times.length === 3) return sendJson(res, { errorCode: 429 }, 429, { 'retry-after': '3600' });
      registries(_req, res, path);
    });
    expect((await client(s).lookupIp('8.8.8.8')).handle).toBe('NET-8-8-8-0-2');
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950);
    // An hour's Retry-After is capped by maxBackoffMs.
    expect((await client(s, { maxBackoffMs: 250 }).lookupIp('8.8.8.8')).handle).toBe('NET-8-8-8-0-2');
    expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(240);
    expect(times[3]! - times[2]!).toBeLessThan(2000);
  });

  it('429 after all retries is "rate-limited" with the server\'s delay', async () => {
    const s = await serve((_req, res) => sendJson(res, { errorCode: 429 }, 429, { 'retry-after': '0' }));
    const e = await failure(client(s, { retries: 1 }).lookupIp('8.8.8.8'));
    expect(e).toMatchObject({ kind: 'rate-limited', status: 429, retryAfterMs: 0 });
    expect(s.requests).toHaveLength(2);
  });

  it('connection reset: retried; when it keeps happening, a "network" error', async () => {
    let calls = 0;
    const s = await serve((req, res, path) => {
      calls++;
      if (calls === 1 || path.endsWith('8.8.4.4')) {
        req.socket.destroy();
        return;
      }
      registries(req, res, path);
    });
    const c = client(s, { retries: 2 });
    expect((await c.lookupIp('8.8.8.8')).name).toBe('GOGL');
    const e = await failure(c.lookupIp('8.8.4.4'));
    expect(e.kind).toBe('network');
    expect(e.message).toContain('/arin/ip/8.8.4.4');
  });

  it('connection refused is a "network" error', async () => {
    const s = await serve(() => {});
    const base = s.base;
    await s.close();
    srv = null;
    const c = new RdapClient({ bootstrap: new RdapBootstrap([], [`${base}/`]), retries: 0 });
    const e = await failure(c.lookupIp('8.8.8.8'));
    expect(e.kind).toBe('network');
    expect(e.message).toMatch(/ECONNREFUSED/);
  });

  it("the caller's signal cancels a request in flight and a wait in the queue", async () => {
    const s = await serve(() => {
      /* hang */
    });
    const c = client(s, { maxConcurrent: 1, timeoutMs: 10_000 });
    const ac = new AbortController();
    const a = failure(c.lookupIp('8.8.8.8', ac.signal));
    const b = failure(c.lookupIp('8.8.4.4', ac.signal));
    await new Promise((r) => setTimeout(r, 100));
    expect(c.stats.inFlight).toBe(1);
    ac.abort(new Error('budget spent'));
    expect((await a).kind).toBe('aborted');
    expect((await b).message).toMatch(/budget spent/);
    expect(c.stats.inFlight).toBe(0);
    expect(s.requests).toHaveLength(1);
  });
});

describe('RdapClient on garbage answers', () => {
  const garbage = async (send: (res: ServerResponse) => void, opts = {}): Promise<RdapError> => {
    const s = await serve((_req, res) => send(res));
    return failure(client(s, { retries: 0, ...opts }).lookupIp('8.8.8.8'));
  };

  it('not JSON', async () => {
    const e = await garbage((res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Service temporarily unavailable</body></html>');
    });
    expect(e).toMatchObject({ kind: 'invalid' });
    expect(e.message).toMatch(/not JSON/);
    expect(e.transient).toBe(false);
  });

  it.each([
    ['a domain object', { objectClassName: 'domain', ldhName: 'example.com' }, /objectClassName/],
    ['an array', [1, 2, 3], /top level/],
    ['wrong types', { objectClassName: 'ip network', entities: 'nope' }, /entities/],
    ['a string', 'ip network', /top level/],
  ])('JSON of the wrong shape: %s', async (_n, body, why) => {
    const e = await garbage((res) => sendJson(res, body));
    expect(e.kind).toBe('invalid');
    expect(e.message).toMatch(why);
  });

  it('a 10 MB body without Content-Length is cut at the size cap', async () => {
    let written = 0;
    const t0 = performance.now();
    const e = await garbage((res) => {
      res.writeHead(200, { 'content-type': 'application/rdap+json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (written < 10 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    expect(e.kind).toBe('too-large');
    expect(e.message).toMatch(/524288-byte cap/);
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('a declared 10 MB Content-Length is refused before reading', async () => {
    const e = await garbage((res) => {
      res.writeHead(200, { 'content-type': 'application/rdap+json', 'content-length': String(10 * 1024 * 1024) });
      res.write('{');
    });
    expect(e.kind).toBe('too-large');
    expect(e.message).toMatch(/10485760 bytes/);
  });

  it('a range that does not contain the query is not used', async () => {
    const s = await serve((_req, res) =>
      sendJson(res, { ...fixture('arin-ip-v4.json'), startAddress: '9.0.0.0', endAddress: '9.0.0.255' }),
    );
    const net = await client(s).lookupIp('8.8.8.8');
    expect(net.range).toBeNull();
    expect(net.registrant).toBe('Google LLC');
  });
});

describe('bootstrap and Retry-After', () => {
  it('the shipped registry covers every RIR and prefers the longest prefix', () => {
    const b = RdapBootstrap.shipped();
    expect(b.size).toBeGreaterThan(200);
    const url = (a: string): string => b.baseUrlsFor(parseIp(a)!).urls[0]!;
    expect(url('8.8.8.8')).toBe('https://rdap.arin.net/registry/');
    expect(url('193.0.6.139')).toBe('https://rdap.db.ripe.net/');
    expect(url('202.12.29.1')).toBe('https://rdap.apnic.net/');
    expect(url('200.1.1.1')).toBe('https://rdap.lacnic.net/rdap/');
    expect(url('41.0.0.1')).toBe('https://rdap.afrinic.net/rdap/');
    expect(url('2a00:1450::1')).toBe('https://rdap.db.ripe.net/');
    expect(url('2001:4200::1')).toBe('https://rdap.afrinic.net/rdap/');
    expect(url('2c0f:f000::1')).toBe('https://rdap.afrinic.net/rdap/');
    expect(b.baseUrlsFor(parseIp('10.0.0.1')!)).toEqual({ urls: [...b.fallback], fromRegistry: false });
    // Every /8 appears at most once.
    const seen = new Set<string>();
    for (const [cidrs] of shippedBootstrap().ipv4.services) {
      for (const c of cidrs) {
        expect(seen.has(c), c).toBe(false);
        seen.add(c);
      }
    }
  });

  it('reads RFC 9224 files and prefers https', () => {
    const text = JSON.stringify({
      version: '1.0',
      publication: '2024-01-01T00:00:00Z',
      services: [[['198.51.100.0/24'], ['http://a.example/rdap', 'https://a.example/rdap/']]],
    });
    const b = RdapBootstrap.fromFiles([text]);
    expect(b.baseUrlsFor(parseIp('198.51.100.9')!).urls).toEqual(['https://a.example/rdap/']);
    expect(() => RdapBootstrap.fromFiles(['{"services": 5}'])).toThrow();
  });

  it('parses Retry-After in seconds and as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});
