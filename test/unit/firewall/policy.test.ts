/**
 * The policy on a real SQLite file (all migrations): add/list/remove with normalisation, duplicates, the
 * audit log (what, when, from where), the revision a running agent polls, settings validation, a client
 * given by IP bound to its MAC through the network store's client table, and the precedence rules of
 * PolicyMatcher with the shipped parties knowledge base (organizations incl. parent, roles).
 */
import { describe, expect, it } from 'vitest';
import { type BlockEntry, PolicyMatcher, PolicyStore } from '../../../src/firewall/policy.js';
import { FirewallInputError } from '../../../src/firewall/validate.js';
import { openDatabase } from '../../../src/store/db.js';
import { entry, NOW, PHONE_A, PHONE_B, parties, tempDb } from './helpers.js';

describe('PolicyStore', () => {
  it('adds, lists, removes, audits and bumps the revision; survives reopening the file', () => {
    const { db, path } = tempDb();
    let t = NOW;
    const store = new PolicyStore(db, () => t++);
    const r0 = store.revision();
    const a = store.add({ kind: 'domain', target: 'Ulogs.UMENG.com.' }, 'cli', parties);
    expect(a.created).toBe(true);
    expect(a.entry).toMatchObject({
      kind: 'domain',
      target: 'ulogs.umeng.com',
      client: null,
      action: 'block',
      source: 'cli',
    });
    const again = store.add({ kind: 'domain', target: 'ulogs.umeng.com' }, 'api', parties);
    expect(again).toEqual({ entry: a.entry, created: false });
    const b = store.add({ kind: 'organization', target: 'alibaba group', client: '64-CC-2E-11-22-33' }, 'api', parties);
    expect(b.entry).toMatchObject({ target: 'Alibaba Group', client: PHONE_A });
    const c = store.add(
      { kind: 'role', target: 'Advertising', client: PHONE_B, action: 'allow', note: 'kids tablet' },
      'agent',
      parties,
    );
    expect(c.entry).toMatchObject({ target: 'advertising', action: 'allow', note: 'kids tablet' });
    expect(store.revision()).toBe(r0 + 3);
    expect(store.remove(b.entry.id, 'cli')?.id).toBe(b.entry.id);
    expect(store.remove(b.entry.id, 'cli')).toBeNull();
    expect(store.revision()).toBe(r0 + 4);
    expect(() => store.remove(0, 'cli')).toThrow(FirewallInputError);

    const log = store.auditLog();
    expect(log.map((l) => [l.action, l.source, l.target])).toEqual([
      ['remove', 'cli', 'organization:Alibaba Group'],
      ['add', 'agent', 'role:advertising'],
      ['add', 'api', 'organization:Alibaba Group'],
      ['add', 'cli', 'domain:ulogs.umeng.com'],
    ]);
    expect(log[3]?.at).toBeGreaterThanOrEqual(NOW);
    expect(log[3]?.entryId).toBe(a.entry.id);
    db.close();

    const reopened = new PolicyStore(openDatabase(path));
    expect(reopened.list().map((e) => e.target)).toEqual(['ulogs.umeng.com', 'advertising']);
    expect(reopened.revision()).toBe(r0 + 4);
    reopened.db.close();
  });

  it('validates settings and records them', () => {
    const { db } = tempDb();
    const store = new PolicyStore(db);
    const r = store.revision();
    const s = store.updateSettings({ bypass: { doh: true }, dnsMode: 'sinkhole' }, 'cli');
    expect(s.bypass).toMatchObject({ doh: true, dot: false, canary: true });
    expect(store.settings().dnsMode).toBe('sinkhole');
    expect(store.revision()).toBe(r + 1);
    expect(() => store.updateSettings({ ttlFloorSec: 0 }, 'cli')).toThrow(/ttlFloorSec/);
    expect(() => store.updateSettings({ dnsMode: 'nxdomain' as 'ipset' }, 'cli')).toThrow(/dnsMode/);
    db.close();
  });

  it('binds an entry given by IP to the MAC the network store knows for it', () => {
    const { db } = tempDb();
    const store = new PolicyStore(db);
    db.prepare('INSERT INTO net_clients (id, mac, first_seen, last_seen) VALUES (?, ?, ?, ?)').run(
      PHONE_A,
      PHONE_A,
      NOW,
      NOW,
    );
    db.prepare('INSERT INTO net_client_ips (client_id, ip, first_seen, last_seen) VALUES (?, ?, ?, ?)').run(
      PHONE_A,
      '192.0.2.10',
      NOW,
      NOW,
    );
    expect(store.macForIp('192.0.2.10')).toBe(PHONE_A);
    expect(store.macForIp('192.0.2.99')).toBeNull();
    const e = store.add({ kind: 'domain', target: 'umeng.com', client: '192.0.2.99' }, 'cli', parties);
    expect(e.entry.client).toBe('192.0.2.99');
    db.prepare('INSERT INTO net_client_ips (client_id, ip, first_seen, last_seen) VALUES (?, ?, ?, ?)').run(
      PHONE_A,
      '192.0.2.99',
      NOW,
      NOW + 1,
    );
    expect(store.bindClientIp('192.0.2.99', PHONE_A, 'agent')).toBe(1);
    expect(store.get(e.entry.id)?.client).toBe(PHONE_A);
    db.close();
  });

  it('keeps observed addresses with the later expiry, and prunes expired ones', () => {
    const { db } = tempDb();
    let now = NOW;
    const store = new PolicyStore(db, () => now);
    store.observe([
      { client: PHONE_A, name: 'a.umeng.com', address: '203.0.113.20', expiresAt: NOW + 1000 },
      { client: PHONE_A, name: 'a.umeng.com', address: '203.0.113.20', expiresAt: NOW + 5000 },
      { client: PHONE_A, name: 'b.umeng.com', address: '203.0.113.21', expiresAt: NOW + 100 },
    ]);
    expect(store.observed()).toHaveLength(2);
    now = NOW + 200;
    expect(store.pruneObserved()).toBe(1);
    expect(store.observed()).toEqual([
      { client: PHONE_A, name: 'a.umeng.com', address: '203.0.113.20', expiresAt: NOW + 5000 },
    ]);
    db.close();
  });
});

describe('PolicyMatcher', () => {
  const E: BlockEntry[] = [
    entry({ kind: 'domain', target: 'umeng.com' }),
    entry({ kind: 'domain', target: 'ok.umeng.com', action: 'allow' }),
    entry({ kind: 'domain', target: 'ulogs.umeng.com', client: PHONE_A, action: 'allow' }),
    entry({ kind: 'domain', target: 'huami.com', client: PHONE_B }),
    entry({ kind: 'role', target: 'advertising', client: PHONE_A }),
    entry({ kind: 'organization', target: 'Alibaba Group', client: PHONE_B }),
  ];
  const m = new PolicyMatcher(E, parties);
  const d = (client: string | null, name: string) => {
    const r = m.decide(client, name);
    return r ? `${r.action}/${r.scope}` : null;
  };

  it('domains cover subdomains on label boundaries only', () => {
    expect(d(null, 'umeng.com')).toBe('block/all');
    expect(d(null, 'x.y.umeng.com')).toBe('block/all');
    expect(d(null, 'notumeng.com')).toBeNull();
  });

  it('allow beats block within a scope; a phone’s own entries beat everyone’s', () => {
    expect(d(null, 'ok.umeng.com')).toBe('allow/all');
    // B's own block of Alibaba Group (Umeng's parent) beats the allow for everyone.
    expect(d(PHONE_B, 'ok.umeng.com')).toBe('block/client');
    expect(d(PHONE_A, 'ulogs.umeng.com')).toBe('allow/client');
    expect(d(PHONE_B, 'ulogs.umeng.com')).toBe('block/client');
    expect(d('02:00:00:00:00:01', 'ulogs.umeng.com')).toBe('block/all');
    expect(d(PHONE_B, 'api-mifit.huami.com')).toBe('block/client');
    expect(d(PHONE_A, 'api-mifit.huami.com')).toBeNull();
  });

  it('roles and organizations (and parents) come from the parties knowledge base', () => {
    expect(d(PHONE_A, 'api16-access-sg.pangle.io')).toBe('block/client');
    expect(d(PHONE_B, 'api16-access-sg.pangle.io')).toBeNull();
    // Umeng's parent is Alibaba Group: an organization block covers its subsidiaries.
    expect(m.decideIn(PHONE_B, 'alog.umeng.com')?.entry.target).toBe('Alibaba Group');
    expect(m.decideIn(PHONE_B, 'tanx.com')?.action).toBe('block');
    expect(m.domainsOf(E[5]!)).toEqual(expect.arrayContaining(['umeng.com', 'tanx.com', 'alimama.com']));
  });
});
