/**
 * The narrow service surface the HTTP layer calls (style rule 8: routes validate, call one method, return).
 * The types are cut from the real services (`Pick<>` of BandService and FirewallService), so the routes can
 * be handed the real objects, and tests hand the same real objects over a throwaway data dir.
 */
import type { EventEmitter } from 'node:events';
import type { AgentStatus } from '../agent/agent.js';
import type { BandService } from '../ble/bandService.js';
import type { FirewallService } from '../firewall/firewallService.js';
import type { AuthService } from './auth.js';
import type { CaptureImporter } from './captureImport.js';
import type { NetViews } from './netViews.js';
import type { RulesController } from './rules.js';
import type { SettingsService } from './settings.js';
import type { EventHub } from './sse.js';

/** The BLE side: BandService (the routes use exactly these methods and its 'live'/'progress'/'syncError' events). */
export type BandApi = Pick<
  BandService,
  'list' | 'scan' | 'pair' | 'sync' | 'forget' | 'samples' | 'export' | 'subscribeLive'
> &
  Pick<EventEmitter, 'on' | 'off'>;

/** The firewall: FirewallService (policy entries, plan preview, apply, status, settings). */
export type FirewallApi = Pick<
  FirewallService,
  'list' | 'add' | 'remove' | 'status' | 'apply' | 'preview' | 'settings' | 'updateSettings'
> & { store: Pick<FirewallService['store'], 'state' | 'observed' | 'clients'> };

/** The running agent (capture health, store health, BLE adapter state). */
export interface AgentApi {
  status(): AgentStatus;
}

export interface ApiServices {
  auth: AuthService;
  /** Clients, contacts, parties and leaks from the store (read side). */
  views: NetViews;
  agent: AgentApi | null;
  band: BandApi | null;
  /** The firewall as the dashboard uses it (entries, preview, apply, status); null without one. */
  rules: RulesController | null;
  captures: CaptureImporter | null;
  settings: SettingsService;
  events: EventHub;
  /** The store's audit log (who revealed what, from where). */
  audit?: (actor: string, action: string, target: string | null, detail?: Record<string, unknown>) => void;
}
