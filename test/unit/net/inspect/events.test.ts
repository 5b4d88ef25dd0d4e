import { describe, expect, it } from 'vitest';
import { type ContactFacts, type FlowMark, inferEvents, type RequestMark } from '../../../../src/net/inspect/events.js';

const T0 = Date.parse('2025-03-01T08:00:00Z');
const C = 'aa:bb:cc:dd:ee:ff';
const FACTS: Record<string, ContactFacts> = {
  'api.vendor.example': { app: 'vendor', party: 'first', role: 'api', name: 'api.vendor.example' },
  'sdk.analytics.example': { app: null, party: 'third', role: 'analytics', name: 'sdk.analytics.example' },
  'cdn.example': { app: null, party: 'third', role: 'cdn', name: 'cdn.example' },
};
const factsOf = (_c: string, name: string | null) => (name ? (FACTS[name] ?? null) : null);
const apps = () => ['vendor'];

function flow(name: string, atS: number, up = 600, durS = 1): FlowMark {
  return {
    client: C,
    name,
    serverIp: '203.0.113.1',
    port: 443,
    tsMs: T0 + atS * 1000,
    endMs: T0 + (atS + durS) * 1000,
    bytesOut: up,
    packetsOut: 5,
    flows: 1,
    lastStartMs: T0 + atS * 1000,
  };
}

describe('inferEvents', () => {
  it('an app start: first-party session after silence with an SDK contact nearby; a later background sync without SDKs', () => {
    const flows = [
      flow('api.vendor.example', 0),
      flow('sdk.analytics.example', 2),
      flow('api.vendor.example', 3, 900),
      // 20 minutes later: a background upload burst, no SDK.
      flow('api.vendor.example', 1200, 3000),
      flow('api.vendor.example', 1205, 3000),
    ];
    const ev = inferEvents(flows, [], factsOf, apps);
    expect(ev.map((e) => [e.kind, e.app, e.at])).toEqual([
      ['app-open', 'vendor', new Date(T0).toISOString()],
      ['sync', 'vendor', new Date(T0 + 1_200_000).toISOString()],
    ]);
    expect(ev[1]!.evidence).toBe('2 connection(s) to api.vendor.example, 5.9 kB up in 6 s');
  });

  it('a CDN contact does not make an app start; sessions split at the gap', () => {
    const ev = inferEvents(
      [flow('api.vendor.example', 0), flow('cdn.example', 1), flow('api.vendor.example', 100)],
      [],
      factsOf,
      apps,
    );
    expect(ev).toEqual([]);
  });

  it('measurements from clear-text requests, one per minute per app', () => {
    const r = (atS: number, terms: string[]): RequestMark => ({
      client: C,
      name: 'api.vendor.example',
      serverIp: '203.0.113.1',
      port: 80,
      tsMs: T0 + atS * 1000,
      method: 'GET',
      url: 'api.vendor.example/bp/measure',
      healthTerms: terms,
    });
    const ev = inferEvents(
      [],
      [r(0, ['blood pressure']), r(20, ['blood pressure']), r(90, ['blood pressure']), r(95, [])],
      factsOf,
      apps,
    );
    expect(ev.map((e) => [e.kind, e.at])).toEqual([
      ['measurement', new Date(T0).toISOString()],
      ['measurement', new Date(T0 + 90_000).toISOString()],
    ]);
    expect(ev[0]!.evidence).toBe('GET api.vendor.example/bp/measure reveals blood pressure');
  });
});
