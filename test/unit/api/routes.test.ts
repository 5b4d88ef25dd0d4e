/**
 * Every API route over HTTP against a real agent (SQLite data dir, BLE simulator, firewall in dry-run):
 * auth required, CSRF on state changes, validation errors naming the field, pagination, the resources'
 * behaviour, and no stack trace in any error answer.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allRoutes } from '../../../src/api/server.js';
import { DEMO_MIBAND4_KEY } from '../../../src/ble/simulator/world.js';
import { Client, type Hub, startHub } from './harness.js';

const CAPTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'pcap', 'real', 'apps-phone.pcap');
const PHONE = '64:09:80:3c:5e:a1';
const BAND = 'c80f10a1b203';

/** A concrete URL for a route path (valid parameter values). */
function concrete(path: string): string {
  return path.replace(':id', path.startsWith('/devices') ? BAND : '1');
}

function noStack(body: unknown): void {
  const text = JSON.stringify(body);
  expect(text).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+|node_modules|SQLITE|sqlite/);
}

describe('API routes', () => {
  let hub: Hub;
  let c: Client;
  let configFile: string;

  beforeAll(async () => {
    hub = await startHub({ ble: true });
    configFile = join(hub.dataDir, 'config.json');
    c = new Client(hub.base);
    expect((await c.login()).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await hub?.close();
  });

  it('every route but login/setup/session answers 401 without a session, with a stable code', async () => {
    const anon = new Client(hub.base);
    const open = new Set(['/auth/session', '/auth/login', '/auth/setup']);
    let checked = 0;
    for (const r of allRoutes()) {
      if (open.has(r.path)) continue;
      const res = await anon.call(r.method.toUpperCase(), concrete(r.path), r.method === 'get' ? undefined : {});
      expect(res.status, `${r.method} ${r.path}`).toBe(401);
      expect(res.body.error.code).toBe('unauthenticated');
      noStack(res.body);
      checked++;
    }
    expect(checked).toBeGreaterThan(25);
  });

  it('every state-changing route refuses a missing or wrong CSRF token with 403', async () => {
    for (const r of allRoutes()) {
      if (r.method === 'get' || r.auth === false) continue;
      for (const csrf of [null, 'x'.repeat(43)]) {
        const res = await c.call(r.method.toUpperCase(), concrete(r.path), {}, { csrf });
        expect(res.status, `${r.method} ${r.path} csrf=${csrf}`).toBe(403);
        expect(res.body.error.code).toBe('csrf_failed');
      }
    }
  });

  it('validation errors are 400 with the field named', async () => {
    const cases: [string, string, unknown, string][] = [
      ['GET', '/parties?limit=9999', undefined, 'limit'],
      ['GET', '/parties?role=spyware', undefined, 'role'],
      ['GET', '/parties?sort=colour', undefined, 'sort'],
      ['GET', '/parties?since=yesterday-ish', undefined, 'since'],
      ['GET', '/parties?bogus=1', undefined, 'query'],
      ['GET', '/leaks?kind=gossip', undefined, 'kind'],
      ['GET', '/leaks/0', undefined, 'id'],
      ['GET', '/contacts?cursor=not-a-cursor', undefined, 'cursor'],
      ['GET', '/devices/zz:zz/samples', undefined, 'id'],
      ['GET', `/devices/${BAND}/samples?kinds=mood`, undefined, 'kinds.0'],
      ['GET', `/devices/${BAND}/export?format=xlsx`, undefined, 'format'],
      ['POST', '/devices/scan', { durationMs: 5 }, 'durationMs'],
      ['POST', `/devices/${BAND}/pair`, { authKey: 'abc' }, 'authKey'],
      ['POST', '/blocks', { kind: 'domain' }, 'target'],
      ['POST', '/blocks', { kind: 'planet', target: 'x' }, 'kind'],
      ['POST', '/blocks/preview', { kind: 'domain', target: 'a.com', extra: 1 }, 'body'],
      ['DELETE', '/blocks/abc', undefined, 'id'],
      ['PATCH', '/settings', { firewall: { dnsMode: 'magic' } }, 'firewall.dnsMode'],
      ['POST', '/auth/password', { current: 'x', password: 'short' }, 'password'],
    ];
    for (const [m, path, body, field] of cases) {
      const r = await c.call(m, path, body);
      expect(r.status, `${m} ${path}`).toBe(400);
      expect(r.body.error.code, `${m} ${path}`).toBe('validation_failed');
      expect(r.body.error.field, `${m} ${path}`).toBe(field);
      noStack(r.body);
    }
  });

  it('bad input of other kinds gets its own stable code, never a stack trace', async () => {
    const bad = await c.call('POST', '/blocks', undefined, {
      raw: '{"kind":',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_json');
    const big = await c.call('POST', '/blocks', { kind: 'domain', target: 'a.com', note: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('too_large');
    const domain = await c.call('POST', '/blocks', { kind: 'domain', target: 'not a domain!' });
    expect(domain.status).toBe(400);
    expect(domain.body.error.code).toBe('invalid_block');
    const missing = await c.call('GET', '/no/such/route');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    for (const r of [bad, big, domain, missing]) noStack(r.body);
  });

  it('captures: refuses what is not a capture, imports a real one', async () => {
    const type = await c.call('POST', '/captures', undefined, {
      raw: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    expect(type.status).toBe(415);
    expect(type.body.error.code).toBe('unsupported_media_type');
    const junk = await c.call('POST', '/captures?name=junk.pcap', undefined, {
      raw: 'this is not a capture file at all, just text',
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(junk.status).toBe(422);
    expect(junk.body.error.code).toBe('not_a_capture');
    expect(junk.body.error.message).toContain('junk.pcap');
    noStack(junk.body);
    const ok = await c.call('POST', '/captures?name=apps-phone.pcap', undefined, {
      raw: new Uint8Array(readFileSync(CAPTURE)),
      headers: { 'content-type': 'application/vnd.tcpdump.pcap' },
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ name: 'apps-phone.pcap', ok: true, clients: 3 });
    expect(ok.body.leaks).toBeGreaterThan(5);
    const list = await c.call('GET', '/captures');
    expect(list.body.imports.map((i: { name: string }) => i.name)).toEqual(['apps-phone.pcap', 'junk.pcap']);
    expect(list.body.importing).toBe(false);
  });

  it('clients and status reflect the import', async () => {
    const cl = await c.call('GET', '/clients');
    const phone = cl.body.items.find((x: { id: string }) => x.id === PHONE);
    expect(phone.apps).toEqual(['huami', 'ido', 'withings']);
    expect(phone.thirdParties).toBeGreaterThan(5);
    expect(phone.leaks).toBeGreaterThan(0);
    const st = await c.call('GET', '/status');
    expect(st.status).toBe(200);
    expect(st.body.overview.clients).toBe(3);
    expect(st.body.overview.byRole.map((f: { value: string }) => f.value)).toContain('advertising');
    expect(st.body.firewall).toMatchObject({ enabled: true, dryRun: true });
    expect(st.body.agent.capture.enabled).toBe(false);
  });

  it('parties: classification, filters, search, sort, offset+limit pagination', async () => {
    const all = await c.call('GET', `/parties?client=${encodeURIComponent(PHONE)}&limit=500`);
    expect(all.status).toBe(200);
    const byName = new Map(all.body.items.map((p: { name: string }) => [p.name, p]));
    expect(byName.get('pagead2.googlesyndication.com')).toMatchObject({
      organization: 'Google',
      role: 'advertising',
      party: 'third',
    });
    expect(byName.get('api-mifit.huami.com')).toMatchObject({ role: 'api', party: 'first', app: 'huami' });
    expect(byName.get('alog.umeng.com')).toMatchObject({ role: 'analytics', party: 'third' });
    expect((byName.get('alog.umeng.com') as { leaks: { count: number } }).leaks.count).toBeGreaterThan(0);
    expect((byName.get('api.weibo.com') as { serverList: unknown[] }).serverList.length).toBeGreaterThan(0);
    // Pages of 4 put together are the whole list, in the same order, without repeats.
    const total = all.body.total as number;
    const walked: string[] = [];
    for (let off = 0; off < total; off += 4) {
      const p = await c.call('GET', `/parties?client=${encodeURIComponent(PHONE)}&limit=4&offset=${off}`);
      expect(p.body.total).toBe(total);
      expect(p.body.items.length).toBeLessThanOrEqual(4);
      walked.push(...p.body.items.map((x: { id: string }) => x.id));
    }
    expect(walked).toEqual(all.body.items.map((x: { id: string }) => x.id));
    expect(new Set(walked).size).toBe(total);
    const third = await c.call('GET', '/parties?party=third&role=analytics&limit=500');
    expect(third.body.items.length).toBeGreaterThan(0);
    for (const p of third.body.items) expect([p.party, p.role]).toEqual(['third', 'analytics']);
    const search = await c.call('GET', '/parties?q=WEIBO');
    expect(search.body.items.map((p: { name: string }) => p.name)).toEqual(['api.weibo.com']);
    const org = await c.call('GET', '/parties?organization=google&limit=500');
    expect(org.body.items.length).toBe(2);
    const byNameAsc = await c.call('GET', `/parties?client=${encodeURIComponent(PHONE)}&sort=name&order=asc&limit=500`);
    const keys = byNameAsc.body.items.map(
      (p: { name: string | null; serverList: { ip: string }[] }) => p.name ?? p.serverList[0]!.ip,
    );
    expect(keys).toEqual([...keys].sort((a: string, b: string) => a.localeCompare(b)));
    const bytes = await c.call('GET', '/parties?sort=bytes&limit=500');
    const b = bytes.body.items.map((p: { bytesOut: number; bytesIn: number }) => p.bytesOut + p.bytesIn);
    expect(b).toEqual([...b].sort((x: number, y: number) => y - x));
    // A time window that holds nothing (the capture is older), and one that holds everything.
    expect((await c.call('GET', '/parties?until=2000-01-01T00:00:00Z')).body.total).toBe(0);
    expect((await c.call('GET', '/parties?since=2000-01-01T00:00:00Z')).body.total).toBe(
      (await c.call('GET', '/parties')).body.total,
    );
    expect(all.body.facets.role.length).toBeGreaterThan(3);
  });

  it('contacts: keyset pagination with a cursor walks every endpoint once', async () => {
    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { status: number; body: { items: Record<string, unknown>[]; nextCursor: string | null } } = await c.call(
        'GET',
        `/contacts?limit=5${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(r.status).toBe(200);
      for (const x of r.body.items) {
        const k = `${x.client}|${x.name}|${x.serverIp}|${x.port}|${x.transport}`;
        expect(seen.has(k)).toBe(false);
        seen.add(k);
      }
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor && pages < 100);
    const one = await c.call('GET', '/contacts?limit=500');
    expect(seen.size).toBe(one.body.items.length);
    expect(one.body.nextCursor).toBeNull();
    expect(pages).toBe(Math.ceil(seen.size / 5) + (seen.size % 5 === 0 ? 1 : 0));
  });

  it('leaks: redacted by default, revealed on demand (and audited), paged', async () => {
    const r = await c.call('GET', '/leaks?limit=500');
    expect(r.body.total).toBeGreaterThan(5);
    const bp = r.body.items.find((l: { term: string }) => l.term === 'systolic');
    expect(bp.kind).toBe('health');
    // Withings is the vendor of an app on this phone: its own server is a first party.
    expect(bp).toMatchObject({ name: 'wbsapi.withings.net', party: 'first', organization: 'Withings' });
    expect(bp.redacted).toBe(true);
    expect(bp.evidence).toMatch(/•/);
    expect(bp.evidence).not.toMatch(/\d/);
    const full = await c.call('GET', `/leaks/${bp.id}?reveal=true`);
    expect(full.body.redacted).toBe(false);
    expect(full.body.evidence).toMatch(/\d{2,}/);
    // Same shape: only letters and digits were masked.
    expect(full.body.evidence.length).toBe(bp.evidence.length);
    expect(full.body.evidence.replace(/[\p{L}\p{N}_]/gu, '•')).toBe(bp.evidence.replace(/[\p{L}\p{N}_]/gu, '•'));
    expect(hub.agent.store.auditLog(5).some((a) => a.action === 'reveal-leak' && a.target === String(bp.id))).toBe(
      true,
    );
    const page2 = await c.call('GET', '/leaks?limit=2&offset=2');
    expect(page2.body.items.map((l: { id: number }) => l.id)).toEqual(
      r.body.items.slice(2, 4).map((l: { id: number }) => l.id),
    );
    const health = await c.call('GET', '/leaks?kind=health&limit=500');
    for (const l of health.body.items) expect(l.kind).toBe('health');
    expect((await c.call('GET', '/leaks/999999')).status).toBe(404);
  });

  it('blocks: preview (with what it covers), add and apply (dry run), list, remove', async () => {
    const pv = await c.call('POST', '/blocks/preview', { kind: 'organization', target: 'Umeng', client: PHONE });
    expect(pv.status).toBe(200);
    expect(pv.body.entry).toEqual({ kind: 'organization', target: 'Umeng', client: PHONE, action: 'block' });
    expect(pv.body.covers.map((x: { name: string }) => x.name)).toContain('alog.umeng.com');
    expect(pv.body.after.rules).toBeGreaterThan(pv.body.before.rules);
    expect(pv.body.exists).toBe(false);
    expect((await c.call('GET', '/blocks')).body.items).toEqual([]);
    const add = await c.call('POST', '/blocks', { kind: 'organization', target: 'Umeng', client: PHONE });
    expect(add.status).toBe(201);
    expect(add.body.apply).toMatchObject({ ok: true, dryRun: true });
    const list = await c.call('GET', '/blocks');
    expect(list.body.items).toHaveLength(1);
    const parties = await c.call('GET', `/parties?q=umeng&client=${encodeURIComponent(PHONE)}`);
    for (const p of parties.body.items)
      expect(p.blocked).toMatchObject({ kind: 'organization', target: 'Umeng', scope: 'client' });
    const again = await c.call('POST', '/blocks/preview', { kind: 'organization', target: 'Umeng', client: PHONE });
    expect(again.body.exists).toBe(true);
    expect(again.body.coversTotal).toBe(0);
    const rules = await c.call('GET', '/rules');
    expect(rules.body.status.entries).toBe(1);
    expect(rules.body.lastApply.cause).toBe('add');
    expect(rules.body.plan.v4).toContain('BANDGUARD-FWD');
    expect(rules.body.plan.dnsmasq.join('\n')).toContain('umeng.com');
    const apply = await c.call('POST', '/rules/apply');
    expect(apply.body).toMatchObject({ ok: true, dryRun: true, cause: 'apply' });
    const id = list.body.items[0].id;
    const del = await c.call('DELETE', `/blocks/${id}`);
    expect(del.status).toBe(200);
    expect(del.body.entry.id).toBe(id);
    expect((await c.call('DELETE', `/blocks/${id}`)).status).toBe(404);
    expect((await c.call('GET', '/blocks')).body.items).toEqual([]);
  });

  it('devices: scan, pair (auth key where needed), sync, samples with range, export, forget', async () => {
    const scan = await c.call('POST', '/devices/scan', { durationMs: 1500 });
    expect(scan.status).toBe(200);
    const ids = scan.body.items.map((x: { id: string }) => x.id);
    expect(ids).toContain(BAND);
    const noKey = await c.call('POST', '/devices/e4:7a:2c:a1:b2:04/pair', {});
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.code).toBe('auth_key_required');
    const withKey = await c.call('POST', '/devices/e4:7a:2c:a1:b2:04/pair', { authKey: DEMO_MIBAND4_KEY });
    expect(withKey.status).toBe(201);
    const pair = await c.call('POST', `/devices/${BAND}/pair`, {});
    expect(pair.status).toBe(201);
    expect(pair.body.deviceId).toBe(BAND);
    const list = await c.call('GET', '/devices');
    expect(list.body.items.map((d: { id: string }) => d.id).sort()).toEqual([BAND, 'e47a2ca1b204']);
    const sync = await c.call('POST', `/devices/${BAND}/sync`);
    expect(sync.body.ok).toBe(true);
    const syncAll = await c.call('POST', '/devices/sync');
    expect(syncAll.body.items).toHaveLength(2);
    const all = await c.call('GET', `/devices/${BAND}/samples?kinds=heart_rate,steps&limit=200000`);
    expect(all.body.items.length).toBeGreaterThan(100);
    expect(new Set(all.body.items.map((s: { kind: string }) => s.kind))).toEqual(new Set(['heart_rate', 'steps']));
    const day = await c.call('GET', `/devices/${BAND}/samples?kinds=heart_rate&since=24h`);
    const cut = Date.now() - 86_400_000 - 60_000;
    for (const s of day.body.items) expect(s.ts).toBeGreaterThanOrEqual(cut);
    expect(day.body.items.length).toBeLessThan(all.body.items.length);
    const capped = await c.call('GET', `/devices/${BAND}/samples?limit=10`);
    expect(capped.body.items).toHaveLength(10);
    expect(capped.body.truncated).toBe(true);
    const csv = await c.call('GET', `/devices/${BAND}/export?format=csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    expect(csv.headers.get('content-disposition')).toMatch(/attachment/);
    const fhir = await c.call('GET', `/devices/${BAND}/export?format=fhir&since=7d`);
    expect(fhir.body.resourceType).toBe('Bundle');
    expect((await c.call('GET', `/devices/${BAND}/export?format=json`)).status).toBe(200);
    expect((await c.call('DELETE', `/devices/${BAND}`)).status).toBe(204);
    const gone = await c.call('GET', `/devices/${BAND}/samples`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('not_found');
    expect((await c.call('DELETE', `/devices/${BAND}`)).status).toBe(404);
  }, 60_000);

  it('settings: read the config and its keys; firewall switches live; config keys need a config file', async () => {
    const s = await c.call('GET', '/settings');
    expect(s.body.config.retention.detailDays).toBe(14);
    expect(s.body.keys.map((k: { path: string }) => k.path)).toContain('capture.interface');
    expect(s.body.file).toBeNull();
    const fw = await c.call('PATCH', '/settings', { firewall: { bypass: { quic: true } } });
    expect(fw.status).toBe(200);
    expect(fw.body.firewall.bypass.quic).toBe(true);
    expect((await c.call('GET', '/settings')).body.firewall.bypass.quic).toBe(true);
    const noFile = await c.call('PATCH', '/settings', { config: { 'retention.detailDays': 7 } });
    expect(noFile.status).toBe(503);
    expect(noFile.body.error.code).toBe('unavailable');
    expect(configFile).toContain(hub.dataDir);
  });

  it('events: a server-sent stream with hello, then rules and capture events', async () => {
    const ac = new AbortController();
    const res = await fetch(`${hub.base}/events`, { headers: { cookie: c.cookie! }, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (re: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!re.test(text) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toMatch(re);
    };
    await until(/event: hello/);
    await c.call('POST', '/rules/apply');
    await until(/event: rules\ndata: \{[^\n]*"cause":"apply"/);
    ac.abort();
    await reader.cancel().catch(() => {});
  });
});

describe('settings with a config file', () => {
  let hub: Hub;
  beforeAll(async () => {
    const dir = await import('node:fs').then((fs) => fs.mkdtempSync(join(import.meta.dirname, '.tmp-settings-')));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ retention: { detailDays: 10 } }));
    hub = await startHub({ configFile: file });
    (hub as Hub & { file: string; dir: string }).file = file;
    (hub as Hub & { file: string; dir: string }).dir = dir;
  });
  afterAll(async () => {
    await hub?.close();
    const { rmSync } = await import('node:fs');
    rmSync((hub as Hub & { dir: string }).dir, { recursive: true, force: true });
  });

  it('saves valid keys to the file (next start), refuses invalid ones with the field', async () => {
    const c = new Client(hub.base);
    await c.login();
    const file = (hub as Hub & { file: string }).file;
    const bad = await c.call('PATCH', '/settings', { config: { 'retention.detailDays': 0 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('config.retention.detailDays');
    const unknown = await c.call('PATCH', '/settings', { config: { 'capture.bufer': 3 } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.field).toBe('config.capture.bufer');
    const ok = await c.call('PATCH', '/settings', {
      config: { 'retention.detailDays': 7, 'ble.syncSchedule': '*/30 * * * *' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ restartRequired: true, saved: ['retention.detailDays', 'ble.syncSchedule'] });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      retention: { detailDays: 7 },
      ble: { syncSchedule: '*/30 * * * *' },
    });
  });
});
