/**
 * The contract over the whole devices/ registry: every definition is valid, frozen, uniquely identified,
 * listed, matchable, and has at least one positive and one negative fixture.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { definitions } from '../../devices/index.js';
import { loadRegistry } from '../../src/ble/registry.js';
import { READING_KINDS, SDK_VERSION, validateDefinition } from '../../src/sdk/index.js';
import { loadFixtures } from '../unit/devices/fixtureLoader.js';

const fixtures = loadFixtures();
const DEVICES_DIR = fileURLToPath(new URL('../../devices/', import.meta.url));

describe('devices registry contract', () => {
  it('has unique ids and quarantines nothing', () => {
    const ids = definitions.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    const reg = loadRegistry();
    expect(reg.quarantined).toEqual([]);
    expect(reg.definitions.length).toBe(definitions.length);
  });

  it('lists every definition file under devices/', async () => {
    const files: string[] = [];
    for (const vendor of readdirSync(DEVICES_DIR, { withFileTypes: true })) {
      if (!vendor.isDirectory()) continue;
      for (const f of readdirSync(join(DEVICES_DIR, vendor.name)))
        if (f.endsWith('.ts')) files.push(`${vendor.name}/${f}`);
    }
    const listed = new Set(definitions);
    let modulesWithDefinitions = 0;
    for (const f of files) {
      const mod = (await import(`../../devices/${f.replace(/\.ts$/, '.js')}`)) as Record<string, unknown>;
      for (const v of Object.values(mod)) {
        if (v && typeof v === 'object' && 'sdkVersion' in v && 'match' in v) {
          modulesWithDefinitions++;
          expect(listed.has(v as (typeof definitions)[number]), `${f} exports an unlisted definition`).toBe(true);
        }
      }
    }
    expect(modulesWithDefinitions).toBeGreaterThanOrEqual(definitions.length);
  });

  describe.each(definitions.map((d) => [d.id, d] as const))('%s', (id, def) => {
    it('is valid and frozen', () => {
      expect(validateDefinition(def)).toEqual([]);
      expect(def.sdkVersion).toBe(SDK_VERSION);
      expect(Object.isFrozen(def)).toBe(true);
      expect(Object.isFrozen(def.match)).toBe(true);
    });

    it('has non-empty matchers and known reading kinds', () => {
      expect(def.match.length).toBeGreaterThan(0);
      for (const m of def.match) expect(Object.keys(m).filter((k) => k !== 'caseSensitive').length).toBeGreaterThan(0);
      for (const k of def.readings) expect(READING_KINDS).toHaveProperty(k);
    });

    it('has at least one positive and one negative fixture', () => {
      const mine = fixtures.filter((f) => f.device === id);
      expect(mine.length, `no fixture file for ${id}`).toBeGreaterThan(0);
      expect(mine.reduce((n, f) => n + f.adverts.length, 0)).toBeGreaterThan(0);
      expect(mine.reduce((n, f) => n + f.mustNotMatch.length, 0)).toBeGreaterThan(0);
    });

    it('decodes something: an advert decoder or at least one GATT decoder', () => {
      const gattDecoders = def.gatt?.services.flatMap((s) => s.characteristics.filter((c) => c.decode)) ?? [];
      expect(Boolean(def.advert) || gattDecoders.length > 0).toBe(true);
    });

    it('needs a gatt recipe when it connects', () => {
      if (def.pairing !== 'none') expect(def.gatt?.sync?.length ?? 0).toBeGreaterThan(0);
    });
  });

  it('every fixture names a registered device', () => {
    const ids = new Set(definitions.map((d) => d.id));
    for (const f of fixtures) expect(ids.has(f.device), `${f.file}: unknown device ${f.device}`).toBe(true);
  });
});
