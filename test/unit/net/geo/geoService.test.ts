import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RdapBootstrap } from '../../../../src/net/geo/bootstrap.js';
import { OfflineCountryDb } from '../../../../src/net/geo/country.js';
import { GeoService } from '../../../../src/net/geo/geoService.js';
import { MmdbFile } from '../../../../src/net/geo/mmdb.js';
import { OwnerCache } from '../../../../src/net/geo/ownerCache.js';
import { RdapClient } from '../../../../src/net/geo/rdap.js';
import { type Db, openDatabase } from '../../../../src/store/db.js';
import { fixture, type Handler, type RdapTestServer, sendJson, startRdapServer } from './rdapServer.js';

const TINY = new URL('../../../fixtures/geo/tiny-asn.mmdb', import.meta.url).pathname;
const country = new OfflineCountryDb();

let dir: string;
let srv: RdapTestServer | null = null;
const open: Array<{ close(): void }> = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bandguard-geo-'));
});
afterEach(async () => {
  for (const o of open.splice(0)) o.close();
  await srv?.close();
  srv = null;
  rmSync(dir, { recursive: true, force: true });
});

function db(): Db {
  const d = openDatabase(join(dir, 'bandguard.db'));
  open.push(d);
  return d;
}

/** A registry answering 8.0.0.0/8 with the ARIN fixture (range from the fixture), else 404. */
const arinLike: Handler = (_req, res, path) => {
  const ip = path.split('/').pop()!;
  if (ip.startsWith('8.8.8.')) return sendJson(res, fixture('arin-ip-v4.json'));
  if (ip.startsWith('193.0.')) return sendJson(res, fixture('ripe-ip-v4.json'));
  sendJson(res, { errorCode: 404 }, 404);
};

async function service(
  handler: Handler,
  opts: { now?: () => number; cache?: OwnerCache; rdap?: Partial<ConstructorParameters<typeof RdapClient>[0]> } = {},
): Promise<GeoService> {
  srv = await startRdapServer(handler);
  const rdap = new RdapClient({
    bootstrap: new RdapBootstrap([], [`${srv.base}/rir/`]),
    timeoutMs: 1000,
    backoffMs: 10,
    retries: 0,
    ...opts.rdap,
  });
  const g = new GeoService({
    countryDb: country,
    cache: opts.cache ?? new OwnerCache(db(), { now: opts.now }),
    rdap,
    now: opts.now,
  });
  open.push(g);
  return g;
}

describe('GeoService construction', () => {
  it('RDAP needs an owner cache (answers and failures are kept there), and says so', () => {
    const rdap = new RdapClient({ bootstrap: new RdapBootstrap([], ['http://192.0.2.1/']) });
    expect(() => new GeoService({ countryDb: null, rdap })).toThrow(/rdap needs an owner cache/);
    const g = new GeoService({ countryDb: null, rdap, cache: new OwnerCache(openDatabase(':memory:')) });
    expect(g.online).toBe(true);
    g.close();
  });
});

describe('GeoService.lookup (offline)', () => {
  it('country from the bundled database, owner from a user mmdb, nothing for special addresses', () => {
    const g = new GeoService({ countryDb: country, mmdb: [MmdbFile.open(TINY)] });
    expect(g.lookup('8.8.8.8')).toEqual({
      country: country.countryOf('8.8.8.8'),
      asn: null,
      asOrganization: null,
      source: 'country-db',
      countrySource: 'country-db',
      special: null,
    });
    expect(g.lookup('8.8.8.8').country).toMatch(/^[A-Z]{2}$/);
    // The tiny file covers documentation ranges; those are special and never looked up.
    expect(g.lookup('198.51.100.7')).toMatchObject({ source: 'special', special: expect.stringMatching(/TEST-NET-2/) });
    expect(g.lookup('garbage')).toMatchObject({ source: 'none', country: null });
    expect(g.online).toBe(false);
  });

  it('user mmdb files are asked in order: country from one with countries, before the bundled db', () => {
    // A real country mmdb given as a user file (the bundled file's IPv4 tree), after the tiny ASN file.
    const files = [MmdbFile.open(TINY), MmdbFile.open(country.file(4).info.path)];
    const g = new GeoService({ countryDb: null, mmdb: files });
    expect(g.lookup('1.1.1.1')).toMatchObject({
      country: country.countryOf('1.1.1.1'),
      countrySource: 'mmdb',
      source: 'mmdb',
      asn: null,
    });
  });
});

describe('GeoService.enrich with RDAP and the SQLite cache', () => {
  it('looks owners up once, caches the whole network range in SQLite, and survives reopening', async () => {
    const g = await service(arinLike);
    expect(g.lookup('8.8.8.8').asn).toBeNull();
    const s = await g.enrich(['8.8.8.8', '8.8.8.8', '192.0.2.1', 'nonsense']);
    expect(s).toEqual({ requested: 3, skipped: 2, known: 0, resolved: 1, failed: 0, unfinished: 0, dropped: 0 });
    expect(g.version).toBe(1);
    const info = g.lookup('8.8.8.8');
    expect(info).toMatchObject({
      asn: 15169,
      asOrganization: 'Google LLC',
      source: 'rdap',
      countrySource: 'country-db',
    });
    // Another address of the same /24: from the cached range, no request.
    expect(g.lookup('8.8.8.200')).toMatchObject({ asn: 15169, source: 'rdap' });
    expect(await g.enrich(['8.8.8.77'])).toMatchObject({ known: 1, resolved: 0 });
    expect(srv!.requests).toEqual(['/rir/ip/8.8.8.8']);

    // A new process: same file, no server.
    const reopened = openDatabase(join(dir, 'bandguard.db'));
    open.push(reopened);
    const row = reopened.prepare('SELECT * FROM ip_owner_cache').get() as Record<string, unknown>;
    expect(row).toMatchObject({
      key: '8.8.8.0-8.8.8.255',
      family: 4,
      range_start: '08080800',
      range_end: '080808ff',
      asn: 15169,
      as_org: 'Google LLC',
      network_name: 'GOGL',
      handle: 'NET-8-8-8-0-2',
      source: 'rdap',
      error: null,
    });
    const offline = new GeoService({ countryDb: country, cache: new OwnerCache(reopened) });
    expect(offline.lookup('8.8.8.9')).toMatchObject({ asn: 15169, asOrganization: 'Google LLC', source: 'rdap' });
    expect(offline.lookup('8.8.9.9').asn).toBeNull();
  });

  it('RIPE-style answers give the registration country when no database has one', async () => {
    const g = await service(arinLike);
    await g.enrich(['193.0.6.139']);
    const noCountryDb = new GeoService({ countryDb: null, cache: g.cache });
    expect(noCountryDb.lookup('193.0.6.139')).toMatchObject({
      country: 'NL',
      countrySource: 'rdap',
      asn: null,
      asOrganization: 'Reseaux IP Europeens Network Coordination Centre (RIPE NCC)',
    });
  });

  it('negative caching: a failure is remembered (not asked again) until it expires', async () => {
    let now = 1_000_000;
    const g = await service(arinLike, { now: () => now });
    expect(await g.enrich(['45.1.2.3'])).toMatchObject({ failed: 1 });
    expect(await g.enrich(['45.1.2.3'])).toMatchObject({ known: 1, failed: 0 });
    expect(srv!.requests).toHaveLength(1);
    const row = db().prepare("SELECT * FROM ip_owner_cache WHERE key = '45.1.2.3'").get() as Record<string, unknown>;
    expect(row.error).toMatch(/^not-found: /);
    expect(row.expires_at).toBe(now + 24 * 3600_000);
    expect(g.lookup('45.1.2.3').asn).toBeNull();
    // A day later the entry is stale: asked again.
    now += 24 * 3600_000 + 1;
    expect(await g.enrich(['45.1.2.3'])).toMatchObject({ failed: 1, known: 0 });
    expect(srv!.requests).toHaveLength(2);
  });

  it('transient failures are cached briefly, positive answers for two weeks; purge removes expired rows', async () => {
    let now = 5_000_000;
    let fail = true;
    const g = await service(
      (req, res, path) => {
        if (fail) return sendJson(res, { errorCode: 503 }, 503);
        arinLike(req, res, path);
      },
      { now: () => now },
    );
    expect(await g.enrich(['8.8.8.8'])).toMatchObject({ failed: 1 });
    const cache = g.cache!;
    expect(cache.get('8.8.8.8')?.error).toMatch(/^http: .*HTTP 503/);
    expect(cache.get('8.8.8.8')?.expiresAt).toBe(now + 15 * 60_000);
    now += 15 * 60_000 + 1;
    fail = false;
    expect(await g.enrich(['8.8.8.8'])).toMatchObject({ resolved: 1 });
    expect(g.lookup('8.8.8.8').asn).toBe(15169);
    expect(cache.get('8.8.8.8')?.expiresAt).toBe(now + 14 * 24 * 3600_000);
    expect(cache.size).toBe(2); // the stale negative row for the address and the positive range
    expect(cache.purgeExpired()).toBe(1);
    expect(cache.size).toBe(1);
    now += 14 * 24 * 3600_000;
    expect(g.lookup('8.8.8.8').asn).toBeNull();
  });

  it('lookup() never waits for the network: it answers synchronously while the registry hangs', async () => {
    const g = await service(
      () => {
        /* hang */
      },
      { rdap: { timeoutMs: 5000, maxConcurrent: 2 } },
    );
    const ips = Array.from({ length: 6 }, (_, i) => `8.8.${i}.8`);
    const pending = g.enrich(ips, { budgetMs: 400 });
    await new Promise((r) => setTimeout(r, 50));
    expect(g.backlog).toBe(6);
    expect(srv!.maxOpen).toBe(2);
    const t0 = performance.now();
    const r = g.lookup('8.8.0.8');
    const ms = performance.now() - t0;
    expect(r).not.toBeInstanceOf(Promise);
    expect(r).toMatchObject({ asn: null, countrySource: 'country-db' });
    expect(ms).toBeLessThan(20);
    // The budget ends the wait; nothing was negative-cached for a lookup that was cut short.
    const s = await pending;
    expect(s).toMatchObject({ requested: 6, unfinished: 6, resolved: 0, failed: 0 });
    expect(g.cache!.size).toBe(0);
  });

  it('close() cancels queued and running lookups', async () => {
    const g = await service(() => {
      /* hang */
    });
    const pending = g.enrich(['8.8.1.1', '8.8.2.2', '8.8.3.3'], { budgetMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    g.close();
    expect(await pending).toMatchObject({ unfinished: 3 });
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await g.enrich(['8.8.4.4'])).toMatchObject({ unfinished: 1 });
  });

  it('addresses of one network queued together cost one request', async () => {
    const g = await service(arinLike, { rdap: { maxConcurrent: 1 } });
    const s = await g.enrich(['8.8.8.1', '8.8.8.2', '8.8.8.3', '8.8.8.4']);
    expect(s).toMatchObject({ resolved: 4 });
    expect(srv!.requests).toEqual(['/rir/ip/8.8.8.1']);
  });

  it('the queue is bounded', async () => {
    srv = await startRdapServer(() => {});
    const g = new GeoService({
      countryDb: null,
      cache: new OwnerCache(db()),
      rdap: new RdapClient({ bootstrap: new RdapBootstrap([], [`${srv.base}/`]), timeoutMs: 200, retries: 0 }),
      maxQueue: 3,
    });
    open.push(g);
    const s = await g.enrich(['8.8.1.1', '8.8.2.2', '8.8.3.3', '8.8.4.4', '8.8.5.5'], { budgetMs: 300 });
    expect(s.dropped).toBe(2);
    expect(s.requested).toBe(5);
  });

  it('speed: lookups answered from the cache', async () => {
    const g = await service(arinLike);
    await g.enrich(['8.8.8.8', '193.0.6.139']);
    const addrs = Array.from({ length: 256 }, (_, i) => (i % 2 ? `8.8.8.${i}` : `193.0.${i % 8}.${i}`));
    let n = 0;
    const t0 = performance.now();
    for (let r = 0; r < 200; r++) for (const a of addrs) if (g.lookup(a).asOrganization) n++;
    const us = ((performance.now() - t0) * 1000) / (addrs.length * 200);
    expect(n).toBe(addrs.length * 200);
    // Cold: SQLite range query for addresses the LRU has not seen.
    const cold = new GeoService({ countryDb: country, cache: new OwnerCache(db(), { lruSize: 1 }) });
    const t1 = performance.now();
    for (let r = 0; r < 10; r++) for (const a of addrs) cold.lookup(a);
    const coldUs = ((performance.now() - t1) * 1000) / (addrs.length * 10);
    console.log(
      `cached owner lookup: ${us.toFixed(2)} µs (LRU hit, with country), ${coldUs.toFixed(2)} µs (SQLite range query)`,
    );
    expect(us).toBeLessThan(200);
  });
});
