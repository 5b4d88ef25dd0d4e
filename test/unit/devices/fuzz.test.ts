/**
 * Every decoder of every registered definition, fed random bytes and random adverts, either returns
 * readings with finite values and known kinds or throws TruncatedError / MalformedError — nothing else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../../src/ble/registry.js';
import { ByteReader, isReadingKind, MalformedError, type Reading, TruncatedError } from '../../../src/sdk/index.js';

const registry = loadRegistry();

function check(run: () => Reading[] | null): void {
  let out: Reading[] | null;
  try {
    out = run();
  } catch (e) {
    expect(e instanceof TruncatedError || e instanceof MalformedError, String(e)).toBe(true);
    return;
  }
  for (const r of out ?? []) {
    expect(isReadingKind(r.kind)).toBe(true);
    expect(Number.isFinite(r.value)).toBe(true);
    if (r.ts !== undefined) expect(Number.isFinite(r.ts)).toBe(true);
  }
}

const decoders = registry.definitions.flatMap((d) =>
  (d.gatt?.services ?? []).flatMap((s) =>
    s.characteristics.filter((c) => c.decode).map((c) => [`${d.id} ${s.uuid}/${c.uuid}`, c.decode!] as const),
  ),
);

describe('decoders on random input', () => {
  it.each(decoders)('%s', (_name, decode) => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York'),
        (bytes, tz) => check(() => decode(new ByteReader(bytes), { timeZone: tz })),
      ),
      { numRuns: 400 },
    );
  });

  it.each(registry.definitions.filter((d) => d.advert).map((d) => [d.id, d] as const))(
    'advert decoder %s',
    (_id, d) => {
      fc.assert(
        fc.property(
          fc.constantFrom('181d', '181b', 'fe95'),
          fc.uint8Array({ minLength: 8, maxLength: 14 }),
          (uuid, data) =>
            check(() =>
              d.advert!.decode({ serviceUuids: [], serviceData: [{ uuid, data }] }, { timeZone: 'Europe/Berlin' }),
            ),
        ),
        { numRuns: 400 },
      );
    },
  );
});
