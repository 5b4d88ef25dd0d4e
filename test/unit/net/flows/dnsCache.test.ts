import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DnsCache } from '../../../../src/net/flows/dnsCache.js';

/** The cache as first written: a fresh merged list on every answer, entries moved to the end when refreshed. */
class ReferenceCache {
  readonly byClient = new Map<string, { names: string[]; expiresAtMs: number }>();
  readonly global = new Map<string, { names: string[]; expiresAtMs: number }>();
  constructor(
    private readonly max: number,
    private readonly floor: number,
  ) {}
  add(client: string, address: string, names: string[], ttl: number, ts: number) {
    const exp = ts + Math.max(ttl * 1000, this.floor);
    this.put(this.byClient, `${client}\u0000${address}`, names, exp);
    this.put(this.global, address, names, exp);
  }
  private put(map: Map<string, { names: string[]; expiresAtMs: number }>, key: string, names: string[], exp: number) {
    const old = map.get(key);
    if (old) {
      map.delete(key);
      const merged = [...names];
      for (const n of old.names) if (!merged.includes(n) && merged.length < 16) merged.push(n);
      map.set(key, { names: merged, expiresAtMs: Math.max(exp, old.expiresAtMs) });
      return;
    }
    if (map.size >= this.max) map.delete(map.keys().next().value!);
    map.set(key, { names: [...names], expiresAtMs: exp });
  }
  namesFor(client: string, address: string, ts: number): string[] {
    const own = this.byClient.get(`${client}\u0000${address}`);
    if (own && own.expiresAtMs >= ts) return own.names.slice();
    const any = this.global.get(address);
    if (any && any.expiresAtMs >= ts) return any.names.slice();
    return [];
  }
}

describe('DnsCache', () => {
  it('answers as the reference does over random answers and lookups (repeats, chains over 16 names, evictions)', () => {
    const name = fc.constantFrom('a.example', 'b.example', 'cdn.example', 'c0.example', 'c1.example', 'x.test');
    // Answer chains: mostly short, sometimes longer than the 16-name cap.
    const chain = fc.oneof(
      fc.uniqueArray(name, { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 15, max: 18 }).map((n) => Array.from({ length: n }, (_, i) => `hop${i}.example`)),
    );
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        client: fc.constantFrom('p1', 'p2'),
        address: fc.constantFrom('192.0.2.1', '192.0.2.2', '2001:db8::1'),
        names: chain,
        ttl: fc.integer({ min: 0, max: 3600 }),
        dt: fc.integer({ min: 0, max: 5000 }),
      }),
      fc.record({
        kind: fc.constant('ask' as const),
        client: fc.constantFrom('p1', 'p2', 'p3'),
        address: fc.constantFrom('192.0.2.1', '192.0.2.2', '2001:db8::1', '198.51.100.9'),
        dt: fc.integer({ min: 0, max: 2_000_000 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 4 }), (ops, max) => {
        const cache = new DnsCache(max, 1000);
        const ref = new ReferenceCache(max, 1000);
        let ts = 0;
        for (const o of ops) {
          ts += o.dt;
          if (o.kind === 'add') {
            cache.add(o.client, o.address, o.names, o.ttl, ts);
            ref.add(o.client, o.address, o.names, o.ttl, ts);
          } else {
            expect(cache.namesFor(o.client, o.address, ts)).toEqual(ref.namesFor(o.client, o.address, ts));
          }
        }
        expect(cache.size).toBe(ref.byClient.size);
      }),
      { numRuns: 1500 },
    );
  });

  it('a repeated answer keeps the names it had, newest first', () => {
    const cache = new DnsCache(100, 1000);
    cache.add('p1', '192.0.2.1', ['a.example'], 60, 0);
    cache.add('p1', '192.0.2.1', ['b.example', 'cdn.example'], 60, 10);
    cache.add('p1', '192.0.2.1', ['b.example'], 60, 20);
    expect(cache.namesFor('p1', '192.0.2.1', 30)).toEqual(['b.example', 'cdn.example', 'a.example']);
    expect(cache.namesFor('p1', '192.0.2.1', 20 + 60_001)).toEqual([]);
  });
});
