/**
 * NetStore on real SQLite files: migrations that arrive out of order, batches that commit whole or not at
 * all, aggregates merged across batches, retention (roll-up of detail into days, deletion of what is past
 * its limit and nothing else), the retention job driven through the scheduler interface, backup/restore.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent/agent.js';
import { acquirePidFile, releasePidFile } from '../../../src/agent/pidFile.js';
import { backupDatabase } from '../../../src/commands/backup.js';
import { restoreDatabase } from '../../../src/commands/restore.js';
import { loadConfig } from '../../../src/config/load.js';
import { currentVersion, MigrationError, migrate, openDatabase } from '../../../src/store/db.js';
import { migrations } from '../../../src/store/migrations.js';
import {
  type ClientAgg,
  type ContactAgg,
  DAY_MS,
  type LookupAgg,
  NetStore,
  type WriteBatch,
} from '../../../src/store/netStore.js';
import { FakeCron } from '../agent/fakeCron.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-netstore-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3_600_000;
const NOW = Date.UTC(2025, 5, 30, 12, 0, 0);

function contact(over: Partial<ContactAgg>): ContactAgg {
  return {
    bucketStart: 0,
    bucketMs: HOUR,
    clientId: 'aa:bb:cc:00:00:01',
    name: 'api.example.com',
    serverIp: '203.0.113.10',
    port: 443,
    transport: 'tcp',
    protocol: 'tls',
    sni: 'api.example.com',
    quicSni: null,
    httpHosts: [],
    dnsNames: ['api.example.com'],
    alpn: ['h2'],
    userAgents: [],
    ja3: null,
    ja4: 't13d',
    tlsVersion: 'TLS 1.3',
    ech: false,
    quicVersion: null,
    flows: 1,
    packets: 10,
    bytesOut: 1000,
    bytesIn: 5000,
    firstTs: 0,
    lastTs: 0,
    encrypted: true,
    ...over,
  };
}

function lookup(over: Partial<LookupAgg>): LookupAgg {
  return {
    bucketStart: 0,
    bucketMs: HOUR,
    clientId: 'aa:bb:cc:00:00:01',
    name: 'api.example.com',
    type: 'A',
    protocol: 'dns',
    questions: 1,
    answeredFirst: false,
    answers: ['203.0.113.10'],
    firstTs: 0,
    lastTs: 0,
    ...over,
  };
}

function client(id: string, ts: number, ip: string, over: Partial<ClientAgg> = {}): ClientAgg {
  return {
    id,
    mac: id,
    hostname: null,
    vendorClass: null,
    mdnsName: null,
    dhcpFingerprint: null,
    userAgents: [],
    ips: new Map([[ip, [ts, ts]]]),
    firstSeen: ts,
    lastSeen: ts,
    ...over,
  };
}

function batch(over: Partial<WriteBatch>): WriteBatch {
  return { contacts: [], lookups: [], clients: [], names: [], capture: [], leaks: [], events: [], status: [], ...over };
}

describe('migrations arriving in any order', () => {
  const v = (n: number) =>
    migrations.find((m) => m.version === n) ?? { version: n, name: `m${n}`, sql: `CREATE TABLE m${n} (x)` };

  it('applies a lower version that arrives after a higher one, once', () => {
    const db = openDatabase(':memory:', {
      migrations: [v(1), { version: 7, name: 'later', sql: 'CREATE TABLE later (x)' }],
    });
    expect(currentVersion(db)).toBe(7);
    // Version 2 lands in the code after 7 was already applied somewhere: it is applied, and 7 is not re-run.
    expect(migrate(db, [v(1), v(2), { version: 7, name: 'later', sql: 'CREATE TABLE later (x)' }])).toEqual([2]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'net_contacts'").get()).toBeDefined();
    expect(migrate(db, [v(1), v(2), { version: 7, name: 'later', sql: 'CREATE TABLE later (x)' }])).toEqual([]);
    db.close();
  });

  it('refuses a list out of order and a database that has a version the code does not know', () => {
    const db = openDatabase(':memory:', { migrations: [v(1)] });
    expect(() => migrate(db, [v(2), v(1)])).toThrow(MigrationError);
    expect(() => migrate(db, [v(1), v(1)])).toThrow(/increasing order/);
    migrate(db, [v(1), { version: 9, name: 'x', sql: '' }]);
    expect(() => migrate(db, [v(1), v(2)])).toThrow('database schema version 9 is newer than this bandguard (2)');
    db.close();
  });
});

describe('writeBatch', () => {
  it('merges aggregates across batches and keeps every address of a client', () => {
    const store = new NetStore(openDatabase(join(dir, 'a.db')));
    const c = 'aa:bb:cc:00:00:01';
    store.writeBatch(
      batch({
        clients: [client(c, 1_000, '192.0.2.101', { hostname: 'Redmi' })],
        contacts: [contact({ firstTs: 1_000, lastTs: 2_000, httpHosts: [], dnsNames: ['a.example'] })],
        lookups: [lookup({ firstTs: 1_000, lastTs: 1_000, answers: [] })],
      }),
    );
    store.writeBatch(
      batch({
        clients: [client(c, 5_000, 'fe80::1', { vendorClass: 'android-dhcp-13' })],
        contacts: [
          contact({ firstTs: 3_000, lastTs: 9_000, dnsNames: ['b.example', 'a.example'], flows: 2, packets: 5 }),
        ],
        lookups: [
          lookup({ firstTs: 4_000, lastTs: 4_000, questions: 0, answeredFirst: true, answers: ['203.0.113.11'] }),
        ],
      }),
    );
    const [cl] = store.clients();
    expect(cl?.hostname).toBe('Redmi');
    expect(cl?.vendorClass).toBe('android-dhcp-13');
    expect([...(cl?.ips.keys() ?? [])].sort()).toEqual(['192.0.2.101', 'fe80::1']);
    expect(store.contacts()).toMatchObject([
      { flows: 3, packets: 15, bytesOut: 2000, firstTs: 1_000, lastTs: 9_000, dnsNames: ['a.example', 'b.example'] },
    ]);
    // The first record had no answers: it stays "first unanswered", later answers are added.
    expect(store.lookups()).toMatchObject([{ questions: 1, answeredFirst: false, answers: ['203.0.113.11'] }]);
    expect(store.lastBatch()?.seq).toBe(2);
  });

  it('writes a batch whole or not at all', () => {
    const store = new NetStore(openDatabase(join(dir, 'b.db')));
    store.writeBatch(batch({ contacts: [contact({})] }));
    const bad = contact({ name: 'x.example' }) as unknown as Record<string, unknown>;
    bad.clientId = null; // NOT NULL violation in the middle of the batch
    expect(() =>
      store.writeBatch(
        batch({ contacts: [contact({ name: 'ok.example' }), bad as unknown as ContactAgg], lookups: [lookup({})] }),
      ),
    ).toThrow(/NOT NULL/);
    expect(store.contacts().map((c) => c.name)).toEqual(['api.example.com']);
    expect(store.lookups()).toEqual([]);
    expect(store.lastBatch()?.seq).toBe(1);
  });
});

describe('retention', () => {
  const policy = { detailDays: 7, aggregateDays: 30, eventsDays: 20, auditDays: 60 };

  function seed(store: NetStore) {
    const hourAt = (daysAgo: number, hour: number) =>
      Math.floor((NOW - daysAgo * DAY_MS) / DAY_MS) * DAY_MS + hour * HOUR;
    const contacts: ContactAgg[] = [];
    // Three hours, 10 days ago (past detail): rolled up into one day row.
    for (const h of [1, 2, 5]) {
      contacts.push(
        contact({
          bucketStart: hourAt(10, h),
          firstTs: hourAt(10, h) + 5,
          lastTs: hourAt(10, h) + 9,
          flows: h,
          packets: 10 * h,
        }),
      );
    }
    // Two hours, 2 days ago (inside detail): kept as they are.
    for (const h of [3, 4])
      contacts.push(contact({ bucketStart: hourAt(2, h), firstTs: hourAt(2, h) + 1, lastTs: hourAt(2, h) + 2 }));
    // 40 days ago, already a day row: past the aggregate limit, deleted.
    contacts.push(
      contact({
        bucketStart: hourAt(40, 0),
        bucketMs: DAY_MS,
        firstTs: hourAt(40, 1),
        lastTs: hourAt(40, 2),
        clientId: 'old',
      }),
    );
    store.writeBatch(
      batch({
        contacts,
        lookups: [
          lookup({ bucketStart: hourAt(10, 1), firstTs: hourAt(10, 1), lastTs: hourAt(10, 1) }),
          lookup({
            bucketStart: hourAt(10, 2),
            firstTs: hourAt(10, 2),
            lastTs: hourAt(10, 2),
            questions: 2,
            answers: ['203.0.113.12'],
          }),
        ],
        clients: [
          client('aa:bb:cc:00:00:01', hourAt(2, 3), '192.0.2.101'),
          client('old', hourAt(40, 1), '192.0.2.150'),
          client('gone', hourAt(45, 1), '192.0.2.151'),
        ],
        names: [
          { ip: '203.0.113.10', name: 'api.example.com', tsMs: hourAt(2, 3) },
          { ip: '203.0.113.99', name: 'stale.example', tsMs: hourAt(45, 0) },
        ],
        leaks: [
          {
            clientId: 'aa:bb:cc:00:00:01',
            name: 'api.example.com',
            serverIp: '203.0.113.10',
            protocol: 'http',
            kind: 'health',
            term: 'heartRate',
            evidence: 'heartRate=72',
            encoding: 'plain',
            tsMs: hourAt(25, 0),
          },
          {
            clientId: 'aa:bb:cc:00:00:01',
            name: 'api.example.com',
            serverIp: '203.0.113.10',
            protocol: 'http',
            kind: 'identity',
            term: 'email',
            evidence: 'email=x',
            encoding: 'plain',
            tsMs: hourAt(5, 0),
          },
        ],
        events: [
          { clientId: 'aa:bb:cc:00:00:01', app: 'zepp', kind: 'sync', tsMs: hourAt(25, 0), evidence: 'old' },
          { clientId: 'aa:bb:cc:00:00:01', app: 'zepp', kind: 'sync', tsMs: hourAt(1, 0), evidence: 'new' },
        ],
      }),
      hourAt(2, 5),
    );
    store.audit('cli', 'old', null, {}, hourAt(70, 0));
    store.audit('cli', 'recent', null, {}, hourAt(10, 0));
    return hourAt;
  }

  it('rolls detail up into days and deletes exactly what is past its limit', () => {
    const store = new NetStore(openDatabase(join(dir, 'r.db')));
    const hourAt = seed(store);
    const flowsBefore = store
      .contacts()
      .filter((c) => c.clientId !== 'old')
      .reduce((n, c) => n + c.flows, 0);
    const r = store.enforceRetention(policy, NOW);
    expect(r).toMatchObject({
      contactsRolledUp: 3,
      lookupsRolledUp: 2,
      contactsDeleted: 1,
      namesDeleted: 1,
      leaksDeleted: 1,
      eventsDeleted: 1,
      auditDeleted: 1,
      clientsDeleted: 2,
    });
    const rows = store.contacts();
    expect(rows.map((c) => [c.bucketMs, c.bucketStart])).toEqual([
      [DAY_MS, hourAt(10, 0)],
      [HOUR, hourAt(2, 3)],
      [HOUR, hourAt(2, 4)],
    ]);
    // Nothing counted twice or lost by the roll-up.
    expect(rows.reduce((n, c) => n + c.flows, 0)).toBe(flowsBefore);
    expect(rows[0]).toMatchObject({ flows: 8, packets: 80, firstTs: hourAt(10, 1) + 5, lastTs: hourAt(10, 5) + 9 });
    expect(store.lookups()).toMatchObject([
      { bucketMs: DAY_MS, questions: 3, answers: ['203.0.113.10', '203.0.113.12'] },
    ]);
    expect(store.clients().map((c) => c.id)).toEqual(['aa:bb:cc:00:00:01']);
    expect(store.namesOf('203.0.113.10')).toEqual(['api.example.com']);
    expect(store.namesOf('203.0.113.99')).toEqual([]);
    expect(store.leaks().map((k) => k.term)).toEqual(['email']);
    expect(store.events().map((e) => e.evidence)).toEqual(['new']);
    expect(store.auditLog().map((a) => a.action)).toEqual(['recent']);
    // Running it again changes nothing.
    expect(store.enforceRetention(policy, NOW)).toMatchObject({
      contactsRolledUp: 0,
      contactsDeleted: 0,
      clientsDeleted: 0,
    });
    expect(store.contacts()).toEqual(rows);
  });

  it('the agent runs it on its cron schedule (driven through the scheduler interface) and audits it', async () => {
    const { config } = loadConfig({
      env: {},
      flags: {
        dataDir: dir,
        'ble.enabled': false,
        'capture.enabled': false,
        'retention.schedule': '5 4 * * *',
        'retention.detailDays': policy.detailDays,
        'retention.aggregateDays': policy.aggregateDays,
        'retention.eventsDays': policy.eventsDays,
        'retention.auditDays': policy.auditDays,
      },
    });
    const cron = new FakeCron();
    const agent = await Agent.start({ config, cron, now: () => NOW });
    try {
      seed(agent.store);
      expect(cron.fire('5 4 * * *')).toBe(1);
      expect(agent.status().retention.lastResult?.contactsDeleted).toBe(1);
      expect(agent.store.auditLog(5).map((a) => a.action)).toContain('retention');
    } finally {
      await agent.stop();
    }
    expect(cron.tasks.every((t) => t.stopped)).toBe(true);
  });
});

describe('backup and restore', () => {
  it('round-trips the database; refuses to restore under a running agent or from a non-database', async () => {
    const dataDir = join(dir, 'data');
    const db = openDatabase(join(dataDir, 'bandguard.db'));
    const store = new NetStore(db);
    store.writeBatch(
      batch({ contacts: [contact({ bucketStart: 0 })], clients: [client('aa:bb:cc:00:00:01', 1, '192.0.2.9')] }),
    );
    db.close();
    const copy = join(dir, 'backup.db');
    const b = await backupDatabase(dataDir, copy);
    expect(b.version).toBe(migrations.at(-1)?.version);
    await expect(backupDatabase(dataDir, copy)).rejects.toThrow(/use --force/);

    const db2 = openDatabase(join(dataDir, 'bandguard.db'));
    new NetStore(db2).writeBatch(batch({ contacts: [contact({ name: 'after.example' })] }));
    db2.close();

    acquirePidFile(dataDir, {
      pid: process.pid,
      startedAt: '',
      interface: null,
      listen: ':1',
      safe: false,
      version: 't',
    });
    await expect(restoreDatabase(dataDir, copy)).rejects.toThrow(/is running on .*: stop it before restoring/);
    releasePidFile(dataDir);
    const junk = join(dir, 'junk.db');
    (await import('node:fs')).writeFileSync(junk, 'not a database at all, just text'.repeat(200));
    await expect(restoreDatabase(dataDir, junk)).rejects.toThrow(
      /not a SQLite database|not a readable SQLite database/,
    );

    const r = await restoreDatabase(dataDir, copy, new Date(NOW));
    expect(r.kept && existsSync(r.kept)).toBe(true);
    const db3 = openDatabase(join(dataDir, 'bandguard.db'));
    const restored = new NetStore(db3);
    expect(restored.contacts().map((c) => c.name)).toEqual(['api.example.com']);
    expect(restored.auditLog(5).map((a) => a.action)).toEqual(['restore', 'backup']);
    expect(db3.pragma('integrity_check', { simple: true })).toBe('ok');
    db3.close();
  });
});
