import { describe, expect, it } from 'vitest';
import type { FlowRecord, LookupRecord } from '../../../src/net/flows/flowTypes.js';
import { MAX_KNOWN_ADDRESSES, Pipeline } from '../../../src/net/pipeline.js';
import { ReportBuilder } from '../../../src/net/report.js';
import { dnsQuery, dnsResponse, frame } from '../../helpers/frames.js';

const PHONE_MAC = '64:cc:2e:11:22:33';
const GW_MAC = '02:00:00:00:00:fe';
const PHONE4 = '192.0.2.10';
const PHONE6 = '2001:db8::10';
const DNS = '198.51.100.53';

/** A minimal TLS 1.2 ClientHello record with an SNI extension (hand-built, byte layout per RFC 8446 §4.1.2). */
function clientHello(sni: string): Uint8Array {
  const name = new TextEncoder().encode(sni);
  const sniExt = [0x00, 0x00, 0, name.length + 5, 0, name.length + 3, 0x00, 0, name.length, ...name];
  const body = [
    0x03,
    0x03, // legacy_version TLS 1.2
    ...new Array(32).fill(7), // random
    0x00, // session id length
    0x00,
    0x04,
    0x13,
    0x01,
    0xc0,
    0x2f, // two cipher suites
    0x01,
    0x00, // compression: null
    0x00,
    sniExt.length, // extensions length
    ...sniExt,
  ];
  const hs = [0x01, 0, (body.length >> 8) & 0xff, body.length & 0xff, ...body];
  return Uint8Array.from([0x16, 0x03, 0x01, (hs.length >> 8) & 0xff, hs.length & 0xff, ...hs]);
}

function run(packets: { tsMs: number; data: Uint8Array }[], opts = {}) {
  const flows: FlowRecord[] = [];
  const lookups: LookupRecord[] = [];
  const builder = new ReportBuilder();
  const p = new Pipeline(
    {
      onFlow: (f) => {
        flows.push(f);
        builder.onFlow(f);
      },
      onLookup: (l) => {
        lookups.push(l);
        builder.onLookup(l);
      },
      onClient: (c) => builder.onClient(c),
    },
    opts,
  );
  for (const pkt of packets) p.push({ ...pkt, linkType: 1, origLen: pkt.data.length, interfaceId: 0 });
  p.flush();
  const s = p.stats;
  const report = builder.build({
    files: [],
    packets: s.packets,
    bytes: s.bytes,
    start: null,
    end: null,
    linkTypes: [],
    malformed: s.malformed,
    truncated: s.truncated,
    drops: s.drops,
    flows: s.flowsCreated,
    flowsEvicted: s.flowsEvicted,
  });
  return { flows, lookups, report, stats: s };
}

const up = (t: number, spec: Parameters<typeof frame>[0]) => ({
  tsMs: t,
  data: frame({ srcMac: PHONE_MAC, dstMac: GW_MAC, ...spec }),
});
const down = (t: number, spec: Parameters<typeof frame>[0]) => ({
  tsMs: t,
  data: frame({ srcMac: GW_MAC, dstMac: PHONE_MAC, ...spec }),
});

describe('pipeline', () => {
  it('names a flow to a bare address from the DNS answer the phone got, and marks the lookup contacted', () => {
    const t = 1_700_000_000_000;
    const { report } = run([
      up(t, {
        src: PHONE4,
        dst: DNS,
        proto: 'udp',
        sport: 40000,
        dport: 53,
        payload: dnsQuery(1, 'api.example.com', 1),
      }),
      down(t + 5, {
        src: DNS,
        dst: PHONE4,
        proto: 'udp',
        sport: 53,
        dport: 40000,
        payload: dnsResponse(1, 'api.example.com', 1, [
          { name: 'api.example.com', type: 5, ttl: 60, data: 'edge.cdn.example.net' },
          { name: 'edge.cdn.example.net', type: 1, ttl: 30, data: '203.0.113.7' },
        ]),
      }),
      up(t + 10, { src: PHONE4, dst: '203.0.113.7', proto: 'tcp', sport: 50000, dport: 8443, flags: 0x02, seq: 100 }),
      down(t + 20, { src: '203.0.113.7', dst: PHONE4, proto: 'tcp', sport: 8443, dport: 50000, flags: 0x12 }),
      up(t + 30, {
        src: PHONE4,
        dst: DNS,
        proto: 'udp',
        sport: 40001,
        dport: 53,
        payload: dnsQuery(2, 'unused.example.org', 1),
      }),
    ]);
    const c = report.contacts.find((x) => x.serverIp === '203.0.113.7');
    expect(c).toMatchObject({
      client: PHONE_MAC,
      name: 'api.example.com',
      names: ['api.example.com', 'edge.cdn.example.net'],
      nameSource: 'dns',
      port: 8443,
      transport: 'tcp',
      flows: 1,
      packets: 2,
    });
    const used = report.lookups.find((l) => l.name === 'api.example.com');
    expect(used).toMatchObject({ contacted: true, type: 'A', count: 1 });
    expect(used?.answers).toEqual(expect.arrayContaining(['edge.cdn.example.net', '203.0.113.7']));
    expect(report.lookups.find((l) => l.name === 'unused.example.org')).toMatchObject({ contacted: false });
  });

  it('reads DNS over TCP: the answer split over two segments names the flow that follows', () => {
    const t = 1_700_000_000_000;
    const framed = (m: Uint8Array) => Uint8Array.from([m.length >> 8, m.length & 0xff, ...m]);
    const q = framed(dnsQuery(7, 'tcp.example.com', 1));
    const a = framed(
      dnsResponse(7, 'tcp.example.com', 1, [{ name: 'tcp.example.com', type: 1, ttl: 60, data: '203.0.113.9' }]),
    );
    const tcp = { proto: 'tcp' as const, flags: 0x18 };
    const { report, lookups } = run([
      up(t, { src: PHONE4, dst: DNS, sport: 41000, dport: 53, ...tcp, flags: 0x02, seq: 999 }),
      down(t + 1, { src: DNS, dst: PHONE4, sport: 53, dport: 41000, ...tcp, flags: 0x12, seq: 4999 }),
      up(t + 2, { src: PHONE4, dst: DNS, sport: 41000, dport: 53, ...tcp, seq: 1000, payload: q }),
      // The answer in two segments, the first ending inside the message.
      down(t + 3, { src: DNS, dst: PHONE4, sport: 53, dport: 41000, ...tcp, seq: 5000, payload: a.subarray(0, 20) }),
      down(t + 4, { src: DNS, dst: PHONE4, sport: 53, dport: 41000, ...tcp, seq: 5020, payload: a.subarray(20) }),
      up(t + 10, { src: PHONE4, dst: '203.0.113.9', proto: 'udp', sport: 50001, dport: 7000, payload: 'x' }),
    ]);
    const answered = lookups.find((l) => l.name === 'tcp.example.com' && l.answers.length > 0);
    expect(answered).toMatchObject({ overTcp: true, answers: ['203.0.113.9'], ttl: 60 });
    expect(report.contacts.find((c) => c.serverIp === '203.0.113.9')).toMatchObject({
      name: 'tcp.example.com',
      nameSource: 'dns',
    });
  });

  it('prefers the TLS SNI over the DNS name and reads it from a ClientHello split over three segments', () => {
    const t = 1_700_000_000_000;
    const ch = clientHello('sdk.tracker.example');
    const a = ch.subarray(0, 10);
    const b = ch.subarray(10, 40);
    const c = ch.subarray(40);
    const { report } = run([
      down(t, {
        src: DNS,
        dst: PHONE4,
        proto: 'udp',
        sport: 53,
        dport: 40000,
        payload: dnsResponse(1, 'other.example', 1, [
          { name: 'other.example', type: 1, ttl: 300, data: '203.0.113.9' },
        ]),
      }),
      up(t + 1, { src: PHONE4, dst: '203.0.113.9', proto: 'tcp', sport: 50001, dport: 443, flags: 0x02, seq: 999 }),
      // out of order: third part first, then the first, then a retransmission, then the second
      up(t + 2, {
        src: PHONE4,
        dst: '203.0.113.9',
        proto: 'tcp',
        sport: 50001,
        dport: 443,
        seq: 1000 + 40,
        payload: c,
      }),
      up(t + 3, { src: PHONE4, dst: '203.0.113.9', proto: 'tcp', sport: 50001, dport: 443, seq: 1000, payload: a }),
      up(t + 4, { src: PHONE4, dst: '203.0.113.9', proto: 'tcp', sport: 50001, dport: 443, seq: 1000, payload: a }),
      up(t + 5, { src: PHONE4, dst: '203.0.113.9', proto: 'tcp', sport: 50001, dport: 443, seq: 1010, payload: b }),
    ]);
    const contact = report.contacts.find((x) => x.serverIp === '203.0.113.9');
    expect(contact).toMatchObject({
      name: 'sdk.tracker.example',
      nameSource: 'sni',
      sni: 'sdk.tracker.example',
      protocol: 'tls',
      encrypted: true,
    });
    expect(contact?.names).toEqual(['sdk.tracker.example', 'other.example']);
  });

  it('reads the HTTP Host and treats the phone’s IPv4 and IPv6 addresses as one client', () => {
    const t = 1_700_000_000_000;
    const req = 'GET /v1/data?model=Redmi HTTP/1.1\r\nHost: api.example.com:8080\r\nUser-Agent: okhttp/4.9\r\n\r\n';
    const { report } = run([
      up(t, { src: PHONE4, dst: '203.0.113.1', proto: 'tcp', sport: 50100, dport: 8080, payload: req, seq: 5 }),
      up(t + 1, { src: PHONE6, dst: '2001:db8:1::1', proto: 'tcp', sport: 50200, dport: 80, payload: req, seq: 5 }),
    ]);
    expect(report.clients).toHaveLength(1);
    expect(report.clients[0]).toMatchObject({ id: PHONE_MAC, mac: PHONE_MAC, ips: [PHONE6, PHONE4].sort() });
    expect(report.clients[0]?.userAgents).toEqual(['okhttp/4.9']);
    const http = report.contacts.filter((x) => x.protocol === 'http');
    expect(http.map((x) => [x.name, x.nameSource, x.httpHost, x.encrypted])).toEqual([
      ['api.example.com', 'http-host', 'api.example.com', false],
      ['api.example.com', 'http-host', 'api.example.com', false],
    ]);
  });

  it('keeps counting when the flow table is full: evicted flows still reach the report', () => {
    const t = 1_700_000_000_000;
    const packets = [];
    for (let i = 0; i < 50; i++) {
      packets.push(
        up(t + i, { src: PHONE4, dst: '203.0.113.50', proto: 'udp', sport: 30000 + i, dport: 9999, payload: 'x' }),
      );
    }
    const { report, stats } = run(packets, { maxFlows: 8 });
    expect(stats.flowsEvicted).toBe(42);
    expect(stats.flowsCreated).toBe(50);
    const c = report.contacts.find((x) => x.serverIp === '203.0.113.50');
    expect(c).toMatchObject({ flows: 50, packets: 50, name: null, nameSource: 'none' });
  });

  it('finds a flow from both directions: one flow per protocol and address and port pair, interleaved', () => {
    const t = 1_700_000_000_000;
    const S = '203.0.113.70';
    // [protocol, phone port, server port]: TCP and UDP on the same ports; equal ports; a server on a higher
    // port than the phone's; both ports above 32767; and an IPv6 pair.
    const pairs: ['tcp' | 'udp', number, number, string, string][] = [
      ['tcp', 50000, 443, PHONE4, S],
      ['udp', 50000, 443, PHONE4, S],
      ['udp', 123, 123, PHONE4, S],
      ['tcp', 1025, 8443, PHONE4, S],
      ['udp', 61000, 40000, PHONE4, S],
      ['udp', 50000, 443, PHONE6, '2001:db8::70'],
    ];
    const packets: ReturnType<typeof up>[] = [];
    // Three rounds of: every pair's phone packet, then every pair's answer (so the previous packet's flow
    // never matches and the index answers).
    for (let round = 0; round < 3; round++) {
      for (const [i, [proto, pp, sp, phone, server]] of pairs.entries()) {
        packets.push(up(t + round * 100 + i, { src: phone, dst: server, proto, sport: pp, dport: sp, payload: 'q' }));
      }
      for (const [i, [proto, pp, sp, phone, server]] of pairs.entries()) {
        packets.push(
          down(t + round * 100 + 50 + i, { src: server, dst: phone, proto, sport: sp, dport: pp, payload: 'a' }),
        );
      }
    }
    const { flows, stats } = run(packets);
    expect(stats.flowsCreated).toBe(pairs.length);
    const got = flows
      .map((f) => [f.transport, f.clientPort, f.serverPort, f.clientIp, f.packetsOut, f.packetsIn])
      .sort((a, b) => String(a).localeCompare(String(b)));
    const want = pairs
      .map(([proto, pp, sp, phone]) => [proto, pp, sp, phone, 3, 3])
      .sort((a, b) => String(a).localeCompare(String(b)));
    expect(got).toEqual(want);
  });

  it('splits a 5-tuple into two flows after the idle timeout', () => {
    const t = 1_700_000_000_000;
    const spec = { src: PHONE4, dst: '203.0.113.60', proto: 'udp' as const, sport: 1234, dport: 5000, payload: 'x' };
    const { flows } = run([up(t, spec), up(t + 1000, spec), up(t + 10 * 60_000, spec)], { udpIdleMs: 60_000 });
    expect(flows.map((f) => f.packetsOut)).toEqual([2, 1]);
  });

  it('counts garbage instead of crashing', () => {
    const t = 1_700_000_000_000;
    const bad = frame({ src: PHONE4, dst: DNS, proto: 'udp', sport: 40000, dport: 53, payload: 'not dns at all' });
    const truncated = frame({ src: PHONE4, dst: '203.0.113.1', proto: 'tcp', sport: 1, dport: 2, payload: 'hello' });
    const { stats } = run([
      { tsMs: t, data: bad },
      { tsMs: t + 1, data: truncated.subarray(0, 30) },
      { tsMs: t + 2, data: new Uint8Array(3) },
    ]);
    expect(stats.packets).toBe(3);
    expect(stats.malformed + stats.truncated).toBeGreaterThanOrEqual(2);
    expect(stats.drops['dns-malformed']).toBe(1);
  });
  it('reports a long-lived flow while it lasts (checkpoints), counting it once', () => {
    const t = 1_700_000_000_000;
    const flows: FlowRecord[] = [];
    const builder = new ReportBuilder();
    const p = new Pipeline({
      onFlow: (f) => {
        flows.push(f);
        builder.onFlow(f);
      },
    });
    const spec = { src: PHONE4, dst: '203.0.113.70', proto: 'udp' as const, sport: 4444, dport: 5555, payload: 'x' };
    const push = (ms: number) => {
      const data = frame({ srcMac: PHONE_MAC, ...spec });
      p.push({ tsMs: t + ms, linkType: 1, data, origLen: data.length, interfaceId: 0 });
    };
    push(0);
    push(30_000);
    expect(p.checkpoint(t + 40_000, 60_000)).toBe(0); // too young: its names may not be settled yet
    push(59_000);
    expect(p.checkpoint(t + 61_000, 60_000)).toBe(1);
    expect(p.checkpoint(t + 62_000, 60_000)).toBe(0); // nothing new since
    push(90_000);
    push(100_000);
    expect(p.checkpoint(t + 101_000, 60_000)).toBe(1);
    p.flush(); // silent since the last checkpoint: no third record
    expect(flows.map((f) => [f.packetsOut, f.continued, f.firstTsMs - t, f.lastTsMs - t])).toEqual([
      [3, false, 0, 59_000],
      [2, true, 90_000, 100_000],
    ]);
    const c = builder
      .build({
        files: [],
        packets: 5,
        bytes: 0,
        start: null,
        end: null,
        linkTypes: [],
        malformed: 0,
        truncated: 0,
        drops: {},
        flows: 1,
        flowsEvicted: 0,
      })
      .contacts.find((x) => x.serverIp === '203.0.113.70');
    expect(c).toMatchObject({ flows: 1, packets: 5 });
  });

  it('remembers a bounded number of client addresses, forgetting the oldest, and keeps learning new ones', () => {
    const flows: FlowRecord[] = [];
    const p = new Pipeline({ onFlow: (f) => flows.push(f) }, { maxFlows: 1024 });
    const t = 1_700_000_000_000;
    const v6 = (i: number) => `2001:db8:1:2:${((i >> 12) + 1).toString(16)}:${((i & 0xfff) + 1).toString(16)}:1:9`;
    const send = (i: number, src: string, raw: boolean) => {
      const pkt = up(t + i, {
        src,
        dst: '2001:db8:ffff::1',
        proto: 'udp',
        sport: 40000 + (i % 2),
        dport: 5000,
        payload: 'x',
      });
      // Raw IP (LINKTYPE_RAW, no Ethernet header): only the learnt address → MAC table can name the phone.
      const data = raw ? pkt.data.subarray(14) : pkt.data;
      p.push({ tsMs: pkt.tsMs, data, linkType: raw ? 101 : 1, origLen: data.length, interfaceId: 0 });
    };
    // A phone that changes its temporary IPv6 address again and again (privacy extensions, months of uptime).
    const n = MAX_KNOWN_ADDRESSES + 5_000;
    for (let i = 0; i < n; i++) send(i, v6(i), false);
    expect(p.knownAddresses).toBe(MAX_KNOWN_ADDRESSES);
    send(n, v6(n), false); // a new address after the table is full: learnt, the oldest forgotten
    expect(p.knownAddresses).toBe(MAX_KNOWN_ADDRESSES);
    flows.length = 0;
    send(n + 1, v6(n), true);
    send(n + 2, v6(0), true);
    p.flush();
    const byIp = new Map(flows.filter((f) => f.transport === 'udp').map((f) => [f.clientIp, f.clientId]));
    expect(byIp.get(v6(n))).toBe(PHONE_MAC);
    expect(byIp.get(v6(0))).toBe(v6(0));
  });
});
