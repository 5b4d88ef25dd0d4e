/**
 * The registry of device definitions. Every definition file is listed here exactly once; the contract test
 * (test/contract/devices.contract.test.ts) checks that each one is valid, unique and has fixtures.
 * Order does not decide matching (priority does), but keep vendor-specific files first for readability.
 */
import type { DeviceDefinition } from '../src/sdk/index.js';
import fitproM4 from './fitpro/m4.js';
import amazfitBip from './huami/amazfitbip.js';
import miband2 from './huami/miband2.js';
import miband3 from './huami/miband3.js';
import miband4 from './huami/miband4.js';
import bloodPressure from './standard/bloodpressure.js';
import bodyComposition from './standard/bodycomposition.js';
import glucose from './standard/glucose.js';
import heartRate from './standard/heartrate.js';
import weightScale from './standard/weightscale.js';
import { miBodyCompositionScale, miScale } from './xiaomi/miscale.js';

export const definitions: readonly DeviceDefinition[] = Object.freeze([
  miband2,
  miband3,
  amazfitBip,
  miband4,
  miScale,
  miBodyCompositionScale,
  fitproM4,
  heartRate,
  bloodPressure,
  weightScale,
  bodyComposition,
  glucose,
]);
