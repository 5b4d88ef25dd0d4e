/**
 * Loads the device definitions, validates each one, and quarantines invalid ones (one clear message each)
 * instead of failing the whole hub. The registry API stays the same however definitions are loaded.
 */
import { definitions as builtIn } from '../../devices/index.js';
import { type Advertisement, type DeviceDefinition, validateDefinition } from '../sdk/index.js';
import { matchAdvertisement } from './match.js';

export interface Quarantined {
  id: string;
  errors: string[];
}

export interface Registry {
  readonly definitions: readonly DeviceDefinition[];
  readonly quarantined: readonly Quarantined[];
  get(id: string): DeviceDefinition | undefined;
  match(adv: Advertisement): DeviceDefinition | null;
}

export function loadRegistry(defs: readonly DeviceDefinition[] = builtIn, warn?: (msg: string) => void): Registry {
  const ok: DeviceDefinition[] = [];
  const quarantined: Quarantined[] = [];
  const seen = new Set<string>();
  for (const d of defs) {
    const errors = validateDefinition(d);
    if (seen.has(d.id)) errors.push(`${d.id}: duplicate id`);
    if (errors.length > 0) {
      quarantined.push({ id: String(d.id), errors });
      warn?.(`device definition ${d.id} quarantined: ${errors.join('; ')}`);
      continue;
    }
    seen.add(d.id);
    ok.push(d);
  }
  const byId = new Map(ok.map((d) => [d.id, d]));
  return {
    definitions: ok,
    quarantined,
    get: (id) => byId.get(id),
    match: (adv) => matchAdvertisement(adv, ok),
  };
}
