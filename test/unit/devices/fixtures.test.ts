/**
 * One table-driven test over every recorded fixture: adverts resolve to their device (and decode to the
 * expected readings where the device reads adverts), "must not match" adverts never resolve to it, frames
 * decode to exactly the expected readings, and malformed frames fail with exactly the expected typed error.
 */
import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../../src/ble/registry.js';
import { ByteReader, fromHex, normalizeUuid } from '../../../src/sdk/index.js';
import { loadFixtures, normalizeExpected, normalizeReading, toAdvertisement } from './fixtureLoader.js';

const registry = loadRegistry();
const fixtures = loadFixtures();

function decoderFor(deviceId: string, service: string, characteristic: string) {
  const def = registry.get(deviceId);
  const svc = def?.gatt?.services.find((s) => s.uuid === normalizeUuid(service));
  const chr = svc?.characteristics.find((c) => c.uuid === normalizeUuid(characteristic));
  if (!chr?.decode) throw new Error(`${deviceId}: no decoder for ${service}/${characteristic}`);
  return chr.decode;
}

describe.each(fixtures.map((f) => [f.file, f] as const))('fixture %s', (_file, fx) => {
  it.each(fx.adverts.map((a) => [a.name, a] as const))('advert resolves to the device: %s', (_n, a) => {
    const adv = toAdvertisement(a.advert);
    expect(registry.match(adv)?.id).toBe(fx.device);
    if (a.expect) {
      const def = registry.get(fx.device)!;
      const got = def.advert!.decode(adv, { timeZone: a.context?.timeZone ?? 'UTC' });
      expect(got?.map(normalizeReading)).toEqual(a.expect.map(normalizeExpected));
    }
  });

  it.each(fx.mustNotMatch.map((a) => [a.name, a] as const))('must not match: %s', (_n, a) => {
    const adv = toAdvertisement(a.advert);
    expect(registry.match(adv)?.id).not.toBe(fx.device);
    const def = registry.get(fx.device)!;
    // An advert-only decoder must not read foreign frames either.
    if (def.advert) expect(def.advert.decode(adv, { timeZone: 'UTC' })).toBeNull();
  });

  if (fx.frames.length > 0) {
    it.each(fx.frames.map((f) => [f.name, f] as const))('frame decodes: %s', (_n, f) => {
      const decode = decoderFor(fx.device, f.service, f.characteristic);
      const bytes = fromHex(f.hex);
      const copy = bytes.slice();
      const got = decode(new ByteReader(bytes), { timeZone: f.context?.timeZone ?? 'UTC' });
      expect(got.map(normalizeReading)).toEqual(f.expect.map(normalizeExpected));
      expect(bytes).toEqual(copy); // decoders never mutate their input
    });
  }

  if (fx.malformed && fx.malformed.length > 0) {
    it.each(fx.malformed.map((f) => [f.name, f] as const))('malformed frame is a typed error: %s', (_n, f) => {
      const decode = decoderFor(fx.device, f.service, f.characteristic);
      let error: unknown;
      try {
        decode(new ByteReader(fromHex(f.hex)), { timeZone: 'UTC' });
      } catch (e) {
        error = e;
      }
      expect((error as Error | undefined)?.name).toBe(f.error);
    });
  }
});
