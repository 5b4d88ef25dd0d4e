/**
 * Builds one Huami band definition from its model facts. Each model file states only what differs
 * (names, auth/crypt flags, kind mask, pairing style); the recipes are shared.
 */
import { type DeviceDefinition, defineDevice, type Matcher, type PairingStyle, step } from '../../src/sdk/index.js';
import {
  authenticate,
  decodeHuamiBattery,
  fetchActivity,
  HR_COMMAND,
  HUAMI,
  HUAMI_COMPANION,
  type HuamiModel,
  huamiServices,
} from './protocol.js';

export interface HuamiBandSpec extends HuamiModel {
  id: string;
  model: string;
  description: string;
  names: string[];
  pairing: Extract<PairingStyle, 'generated-key' | 'user-key'>;
  pairingHint: string;
}

export function huamiBand(spec: HuamiBandSpec): DeviceDefinition {
  const model: HuamiModel = { authFlags: spec.authFlags, cryptFlags: spec.cryptFlags, kindMask: spec.kindMask };
  const match: Matcher[] = spec.names.map((localName) => ({ localName }));
  return defineDevice({
    id: spec.id,
    vendor: 'Huami / Xiaomi',
    model: spec.model,
    description: spec.description,
    priority: 10,
    match,
    readings: ['steps', 'activity_intensity', 'activity_kind', 'heart_rate', 'battery'],
    pairing: spec.pairing,
    pairingHint: spec.pairingHint,
    gatt: {
      services: huamiServices(),
      // Mi Band 4 class bands never take a key from us; every connection (pairing too) just answers the challenge.
      pair: [step.run('auth', authenticate(model, spec.cryptFlags === 0))],
      connect: [step.run('auth', authenticate(model, false))],
      sync: [step.read(HUAMI.service, HUAMI.battery, decodeHuamiBattery), step.run('activity', fetchActivity(model))],
      live: {
        service: HUAMI.hrService,
        characteristic: HUAMI.hrMeasurement,
        start: [
          step.write(HUAMI.hrService, HUAMI.hrControl, HR_COMMAND.manualStop),
          step.write(HUAMI.hrService, HUAMI.hrControl, HR_COMMAND.continuousStart),
        ],
        stop: [step.write(HUAMI.hrService, HUAMI.hrControl, HR_COMMAND.continuousStop)],
      },
    },
    companion: HUAMI_COMPANION,
  });
}
