/**
 * The command-line flags every agent-facing command shares (design.md: --config, --data-dir, --interface,
 * --listen, --safe; plus --simulate for the BLE side), and their mapping onto configuration keys.
 */
import { type LoadedConfig, loadConfig } from './load.js';

export const COMMON_FLAGS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  interface: { type: 'string' },
  listen: { type: 'string' },
  safe: { type: 'boolean' },
  simulate: { type: 'boolean' },
} as const;

export type FlagBag = Record<string, string | boolean | string[] | undefined>;

/** Loads the configuration with the common flags applied on top (throws ConfigError). */
export function configFromFlags(values: FlagBag, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const flag = (k: string) => (values[k] === true ? true : undefined);
  return loadConfig({
    file: str('config'),
    env,
    flags: {
      dataDir: str('data-dir'),
      'capture.interface': str('interface'),
      'api.listen': str('listen'),
      safe: flag('safe'),
      'ble.simulate': flag('simulate'),
    },
  });
}
