/** The dashboard's read model: totals kept by triggers, grouping, redaction, cursors. */
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, NetViews, redactEvidence } from '../../../src/api/netViews.js';
import { defaultClassifier } from '../../../src/net/classify/classifier.js';
import { openDatabase } from '../../../src/store/db.js';
import { type ContactAgg, DAY_MS, NetStore } from '../../../src/store/netStore.js';

const H = 3_600_000;

function contact(p: Partial<ContactAgg> & { bucketStart: number; name: string }): ContactAgg {
  return {
    bucketMs: H,
    clientId: 'aa:bb:cc:dd:ee:01',
    serverIp: '198.51.100.7',
    port: 443,
    transport: 'tcp',
    protocol: 'tls',
    sni: p.name,
    quicSni: null,
    httpHosts: [],
    dnsNames: [],
    alpn: [],
    userAgents: [],
    ja3: null,
    ja4: null,
    tlsVersion: null,
    ech: false,
    quicVersion: null,
    flows: 1,
    packets: 10,
    bytesOut: 100,
    bytesIn: 1000,
    firstTs: p.bucketStart + 1,
    lastTs: p.bucketStart + 2,
    encrypted: true,
    ...p,
  };
}

const empty = { lookups: [], clients: [], names: [], capture: [], leaks: [], events: [], status: [] };

function totalsEqualSum(db: ReturnType<typeof openDatabase>): void {
  const sum = db
    .prepare(
      `SELECT client_id, name, server_ip, port, transport, COUNT(*) AS buckets, SUM(flows) AS flows, SUM(packets) AS packets,
              SUM(bytes_out) AS bytes_out, SUM(bytes_in) AS bytes_in
       FROM net_contacts GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
    )
    .all();
  const totals = db
    .prepare(
      'SELECT client_id, name, server_ip, port, transport, buckets, flows, packets, bytes_out, bytes_in FROM net_contact_totals ORDER BY 1, 2, 3, 4, 5',
    )
    .all();
  expect(totals).toEqual(sum);
}

describe('net_contact_totals (migration 5 triggers)', () => {
  it('equals the sum of net_contacts through inserts, merges (INSERT OR REPLACE), roll-up and deletion', () => {
    const db = openDatabase(':memory:');
    const store = new NetStore(db);
    const now = 30 * DAY_MS;
    for (let b = 0; b < 20; b++) {
      store.writeBatch({
        ...empty,
        contacts: [
          contact({ bucketStart: now - 20 * DAY_MS + b * H, name: 'a.example.com' }),
          contact({
            bucketStart: now - 20 * DAY_MS + b * H,
            name: 'b.example.com',
            serverIp: '203.0.113.9',
            protocol: b % 2 ? 'quic' : 'dns',
          }),
          contact({ bucketStart: now - b * H, name: '', serverIp: '203.0.113.10' }),
        ],
      });
      // The same keys again: the store merges (INSERT OR REPLACE); totals must not count twice.
      store.writeBatch({
        ...empty,
        contacts: [contact({ bucketStart: now - 20 * DAY_MS + b * H, name: 'a.example.com', flows: 2 })],
      });
      totalsEqualSum(db);
    }
    const t = db.prepare("SELECT protocol FROM net_contact_totals WHERE name = 'b.example.com'").get() as {
      protocol: string;
    };
    expect(t.protocol).toBe('quic');
    store.enforceRetention({ detailDays: 7, aggregateDays: 400, eventsDays: 30, auditDays: 30 }, now);
    totalsEqualSum(db);
    expect(
      (db.prepare('SELECT COUNT(*) AS n FROM net_contacts WHERE bucket_ms = ?').get(DAY_MS) as { n: number }).n,
    ).toBeGreaterThan(0);
    store.enforceRetention({ detailDays: 7, aggregateDays: 8, eventsDays: 30, auditDays: 30 }, now);
    totalsEqualSum(db);
    expect(
      (db.prepare("SELECT COUNT(*) AS n FROM net_contact_totals WHERE name = 'a.example.com'").get() as { n: number })
        .n,
    ).toBe(0);
    db.close();
  });
});

describe('NetViews', () => {
  it('groups per phone and name, unnamed contacts per server, classifies and sorts', () => {
    const db = openDatabase(':memory:');
    const store = new NetStore(db);
    store.writeBatch({
      ...empty,
      contacts: [
        contact({ bucketStart: 0, name: 'pagead2.googlesyndication.com' }),
        contact({ bucketStart: H, name: 'pagead2.googlesyndication.com', serverIp: '198.51.100.8', bytesOut: 5000 }),
        contact({ bucketStart: 0, name: '', serverIp: '203.0.113.1' }),
        contact({ bucketStart: 0, name: '', serverIp: '203.0.113.2' }),
      ],
    });
    const v = new NetViews(db, { classifier: defaultClassifier() });
    const p = v.parties({ sort: 'bytes' });
    expect(p.total).toBe(3);
    const ads = p.items[0]!;
    expect(ads).toMatchObject({
      name: 'pagead2.googlesyndication.com',
      servers: 2,
      role: 'advertising',
      organization: 'Google',
      flows: 2,
    });
    expect(ads.bytesOut).toBe(5100);
    expect(ads.serverList!.map((s) => s.ip)).toEqual(['198.51.100.8', '198.51.100.7']);
    const unnamed = p.items.filter((i) => i.name === null);
    expect(unnamed.map((u) => u.serverList![0]!.ip).sort()).toEqual(['203.0.113.1', '203.0.113.2']);
    expect(v.parties({ role: 'advertising' }).total).toBe(1);
    expect(v.parties({ limit: 1, offset: 2 }).items).toHaveLength(1);
    db.close();
  });

  it('redacts values and keeps field names and the term', () => {
    expect(redactEvidence('GET /bp?sys=128&dia=84', 'systolic')).toBe('••• /••?sys=•••&dia=••');
    expect(redactEvidence('{"email": "ann@example.org"}', 'e-mail address')).toBe('{"email": "•••@•••••••.•••"}');
    expect(redactEvidence('weight 72.5 kg', 'weight')).toBe('weight ••.• ••');
    // MAC addresses and times are values, not field names.
    expect(redactEvidence('wifiMac=64:09:80:ab:5e:a1', 'wi-fi mac address')).toBe('wifiMac=••:••:••:••:••:••');
    expect(redactEvidence('X-Device: Pixel 7 at 12:30', 'phone model')).toBe('X-Device: ••••• • •• ••:••');
  });

  it('cursors round-trip and refuse tampering', () => {
    const k: [string, string, string, number, string] = ['aa', 'x.com', '192.0.2.1', 443, 'tcp'];
    expect(decodeCursor(encodeCursor(k))).toEqual(k);
    expect(() => decodeCursor('bm9wZQ')).toThrow(/cursor/);
    expect(() => decodeCursor(Buffer.from('[1,2,3,4,5]').toString('base64url'))).toThrow(/cursor/);
  });
});
