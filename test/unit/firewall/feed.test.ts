/**
 * The feed: DNS answers decoded by the real pipeline (hand-built frames, no mocks of the decoder) reach
 * SetFeeder, which queues one batch per event-loop turn with the record's TTL raised to the floor; CNAME
 * targets count (a vendor name that is a CNAME of a blocked tracker is blocked); names not blocked are
 * remembered but not added; a phone's allow exception sends addresses to its allow set; adds to sets that
 * do not exist are skipped; a failing sink is counted, not thrown.
 */
import { describe, expect, it } from 'vitest';
import { type SetAdd, SetFeeder } from '../../../src/firewall/feed.js';
import type { ObservedAddress } from '../../../src/firewall/policy.js';
import { PolicyMatcher } from '../../../src/firewall/policy.js';
import { Pipeline } from '../../../src/net/pipeline.js';
import { dnsQuery, dnsResponse, frame } from '../../helpers/frames.js';
import { entry, NOW, PHONE_A, PHONE_B, parties, settings } from './helpers.js';

const HUB = 'dc:a6:32:00:00:01';
const sets = (...names: string[]) => new Set(names);

function answerFrames(
  phone: string,
  ip: string,
  id: number,
  qname: string,
  qtype: 1 | 28,
  answers: Parameters<typeof dnsResponse>[3],
) {
  const pkts = [
    {
      tsMs: NOW,
      data: frame({
        srcMac: phone,
        dstMac: HUB,
        src: ip,
        dst: '192.0.2.1',
        proto: 'udp',
        sport: 40000 + id,
        dport: 53,
        payload: dnsQuery(id, qname, qtype),
      }),
    },
    {
      tsMs: NOW + 2,
      data: frame({
        srcMac: HUB,
        dstMac: phone,
        src: '192.0.2.1',
        dst: ip,
        proto: 'udp',
        sport: 53,
        dport: 40000 + id,
        payload: dnsResponse(id, qname, qtype, answers),
      }),
    },
  ];
  return pkts.map((p) => ({ ...p, linkType: 1, origLen: p.data.length, interfaceId: 0 }));
}

function setup(liveSets: Set<string>, failSink = false) {
  const adds: SetAdd[] = [];
  const remembered: ObservedAddress[] = [];
  const feeder = new SetFeeder({
    clock: () => NOW,
    sink: async (batch) => {
      if (failSink) throw new Error('ipset: set does not exist');
      adds.push(...batch);
    },
    remember: (o) => remembered.push(...o),
  });
  const matcher = new PolicyMatcher(
    [
      entry({ kind: 'domain', target: 'umeng.com' }),
      entry({ kind: 'role', target: 'advertising', client: PHONE_A }),
      entry({ kind: 'domain', target: 'a.applovin.com', client: PHONE_A, action: 'allow' }),
    ],
    parties,
  );
  feeder.setPolicy({ matcher, settings: settings({ ttlFloorSec: 300 }), liveSets });
  const pipeline = new Pipeline(feeder.observer());
  return { feeder, pipeline, adds, remembered };
}

const ALL = sets(
  'bandguard-all-4',
  'bandguard-all-6',
  'bandguard-64cc2e112233-4',
  'bandguard-64cc2e112233-6',
  'bandguard-64cc2e112233-a4',
  'bandguard-64cc2e112233-a6',
);

describe('SetFeeder', () => {
  it('adds the answer addresses of a blocked name with the TTL raised to the floor, and the record TTL above it', async () => {
    const { feeder, pipeline, adds, remembered } = setup(ALL);
    for (const p of answerFrames(PHONE_B, '192.0.2.11', 1, 'ulogs.umeng.com', 1, [
      { name: 'ulogs.umeng.com', type: 1, ttl: 30, data: '203.0.113.20' },
    ]))
      pipeline.push(p);
    for (const p of answerFrames(PHONE_B, '192.0.2.11', 2, 'ulogs.umeng.com', 28, [
      { name: 'ulogs.umeng.com', type: 28, ttl: 3600, data: '2001:db8:3::20' },
    ]))
      pipeline.push(p);
    await feeder.flush();
    expect(adds).toEqual([
      { set: 'bandguard-all-4', address: '203.0.113.20', timeout: 300 },
      { set: 'bandguard-all-6', address: '2001:db8:3::20', timeout: 3600 },
    ]);
    expect(remembered).toContainEqual({
      client: PHONE_B,
      name: 'ulogs.umeng.com',
      address: '203.0.113.20',
      expiresAt: NOW + 300_000,
    });
  });

  it('follows CNAME chains: a vendor name aliased to a blocked tracker is blocked, and both names are remembered', async () => {
    const { feeder, pipeline, adds, remembered } = setup(ALL);
    const frames = answerFrames(PHONE_B, '192.0.2.11', 3, 'metrics.example-vendor.com', 1, [
      { name: 'metrics.example-vendor.com', type: 5, ttl: 600, data: 'alog.umeng.com' },
      { name: 'alog.umeng.com', type: 1, ttl: 600, data: '203.0.113.22' },
    ]);
    for (const p of frames) pipeline.push(p);
    await feeder.flush();
    expect(adds).toEqual([{ set: 'bandguard-all-4', address: '203.0.113.22', timeout: 600 }]);
    expect(remembered.map((r) => r.name).sort()).toEqual(['alog.umeng.com', 'metrics.example-vendor.com']);
  });

  it('per phone: advertising goes to A’s set, A’s allow exception to A’s allow set, others nowhere', async () => {
    const { feeder, pipeline, adds } = setup(ALL);
    for (const p of answerFrames(PHONE_B, '192.0.2.11', 4, 'api16-access-sg.pangle.io', 1, [
      { name: 'api16-access-sg.pangle.io', type: 1, ttl: 600, data: '203.0.113.30' },
    ]))
      pipeline.push(p);
    for (const p of answerFrames(PHONE_A, '192.0.2.10', 5, 'a.applovin.com', 1, [
      { name: 'a.applovin.com', type: 1, ttl: 600, data: '203.0.113.31' },
    ]))
      pipeline.push(p);
    for (const p of answerFrames(PHONE_A, '192.0.2.10', 6, 'api-mifit.huami.com', 1, [
      { name: 'api-mifit.huami.com', type: 1, ttl: 600, data: '203.0.113.10' },
    ]))
      pipeline.push(p);
    await feeder.flush();
    expect(adds).toEqual([
      { set: 'bandguard-64cc2e112233-4', address: '203.0.113.30', timeout: 600 },
      { set: 'bandguard-64cc2e112233-a4', address: '203.0.113.31', timeout: 600 },
    ]);
    expect(feeder.stats.lookups).toBe(6); // three questions, three answers
  });

  it('skips sets that are not live, and counts a failing sink instead of throwing', async () => {
    const { feeder, pipeline, adds } = setup(sets('bandguard-all-4'));
    for (const p of answerFrames(PHONE_A, '192.0.2.10', 7, 'api16-access-sg.pangle.io', 1, [
      { name: 'api16-access-sg.pangle.io', type: 1, ttl: 600, data: '203.0.113.30' },
    ]))
      pipeline.push(p);
    await feeder.flush();
    expect(adds).toEqual([]);
    const failing = setup(ALL, true);
    for (const p of answerFrames(PHONE_B, '192.0.2.11', 8, 'ulogs.umeng.com', 1, [
      { name: 'ulogs.umeng.com', type: 1, ttl: 30, data: '203.0.113.20' },
    ]))
      failing.pipeline.push(p);
    await failing.feeder.flush();
    expect(failing.feeder.stats.failedBatches).toBe(1);
    expect(failing.remembered.length).toBe(1);
  });

  it('with the firewall off it only remembers', async () => {
    const { feeder, adds, remembered } = setup(ALL);
    feeder.setPolicy(null);
    feeder.onLookup({
      clientId: PHONE_A,
      name: 'ulogs.umeng.com',
      answers: ['203.0.113.20'],
      ttl: 60,
      protocol: 'dns',
    });
    feeder.onLookup({ clientId: PHONE_A, name: 'printer.local', answers: ['192.0.2.50'], protocol: 'mdns' });
    await feeder.flush();
    expect(adds).toEqual([]);
    expect(remembered.map((r) => r.name)).toEqual(['ulogs.umeng.com']);
  });
});
