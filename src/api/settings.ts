/**
 * Settings for the dashboard: the agent's configuration (read; and written to the agent's config file, key
 * by key, validated by the one config schema — it takes effect at the next start) and the firewall's
 * settings (anti-bypass switches, DNS mode: live, through FirewallService).
 */
import { copyFileSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { readConfigFile } from '../config/load.js';
import { type Config, type ConfigLeaf, configLeaves, configSchema } from '../config/schema.js';
import { ApiError } from './errors.js';
import type { FirewallApi } from './services.js';

export const firewallSettingsPatch = z.strictObject({
  dnsMode: z.enum(['ipset', 'sinkhole']).optional(),
  hubResolver: z.boolean().optional(),
  bypass: z
    .strictObject({
      dot: z.boolean().optional(),
      doh: z.boolean().optional(),
      quic: z.boolean().optional(),
      foreignDns: z.boolean().optional(),
      canary: z.boolean().optional(),
    })
    .optional(),
  ttlFloorSec: z.number().int().min(60).max(86_400).optional(),
});

export const settingsPatchSchema = z.strictObject({
  /** Dotted config keys (e.g. `retention.detailDays`) with their new values. */
  config: z.record(z.string().max(100), z.union([z.string().max(2000), z.number(), z.boolean()])).optional(),
  firewall: firewallSettingsPatch.optional(),
});
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export interface SettingsView {
  config: Config;
  /** Where each non-default key came from (config file, environment, flag). */
  origins: Record<string, string>;
  /** The config file edits are written to (null: the agent was started without one). */
  file: string | null;
  keys: ConfigLeaf[];
  firewall: ReturnType<FirewallApi['settings']> | null;
}

export interface SettingsUpdate {
  saved: string[];
  restartRequired: boolean;
  /** Keys whose saved value is hidden by an environment variable or a flag. */
  overridden: string[];
  firewall: ReturnType<FirewallApi['settings']> | null;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) {
    const next = o[p];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) o[p] = {};
    o = o[p] as Record<string, unknown>;
  }
  o[parts.at(-1)!] = value;
}

export class SettingsService {
  constructor(
    private readonly config: Config,
    private readonly file: string | null,
    private readonly origins: Record<string, string>,
    private readonly firewall: FirewallApi | null,
  ) {}

  get(): SettingsView {
    return {
      config: this.config,
      origins: this.origins,
      file: this.file,
      keys: configLeaves(),
      firewall: this.firewall?.settings() ?? null,
    };
  }

  update(patch: SettingsPatch): SettingsUpdate {
    const saved: string[] = [];
    const overridden: string[] = [];
    const entries = Object.entries(patch.config ?? {});
    if (entries.length > 0) {
      if (this.file === null) {
        throw new ApiError(
          'unavailable',
          'the agent was started without a config file (--config FILE), so there is nowhere to save settings',
          'config',
        );
      }
      const leaves = new Set(configLeaves().map((l) => l.path));
      for (const [k] of entries) {
        if (!leaves.has(k)) throw new ApiError('validation_failed', `unknown setting ${k}`, `config.${k}`);
        if (k === 'dataDir')
          throw new ApiError('validation_failed', 'dataDir cannot be changed from the dashboard', 'config.dataDir');
      }
      const current = existsSync(this.file) ? readConfigFile(this.file) : {};
      for (const [k, v] of entries) setPath(current, k, v);
      const check = configSchema.safeParse(current);
      if (!check.success) {
        const i = check.error.issues[0]!;
        const field = i.path.map(String).join('.');
        throw new ApiError('validation_failed', `${field}: ${i.message}`, `config.${field}`);
      }
      if (existsSync(this.file)) copyFileSync(this.file, `${this.file}.bak`);
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(current, null, 2)}\n`, { mode: 0o600 });
      renameSync(tmp, this.file);
      for (const [k] of entries) {
        saved.push(k);
        const o = this.origins[k];
        if (o !== undefined && !o.startsWith('config file')) overridden.push(k);
      }
    }
    let fw: SettingsUpdate['firewall'] = this.firewall?.settings() ?? null;
    if (patch.firewall && Object.keys(patch.firewall).length > 0) {
      if (!this.firewall) throw new ApiError('unavailable', 'the firewall is not available in this agent', 'firewall');
      const p = patch.firewall;
      const clean: Parameters<FirewallApi['updateSettings']>[0] = {};
      if (p.dnsMode !== undefined) clean.dnsMode = p.dnsMode;
      if (p.hubResolver !== undefined) clean.hubResolver = p.hubResolver;
      if (p.ttlFloorSec !== undefined) clean.ttlFloorSec = p.ttlFloorSec;
      if (p.bypass) {
        const b: NonNullable<typeof clean.bypass> = {};
        for (const [k, v] of Object.entries(p.bypass)) if (v !== undefined) b[k as keyof typeof b] = v;
        clean.bypass = b;
      }
      fw = this.firewall.updateSettings(clean, 'api');
      saved.push(...Object.keys(p).map((k) => `firewall.${k}`));
    }
    return { saved, restartRequired: entries.length > 0, overridden, firewall: fw };
  }
}
