/**
 * Wires the API onto a running agent and listens: the services the routes call (auth, network views,
 * BLE, firewall, capture import, settings, live events), `createApp`, and the HTTP server on
 * `config.api.listen`. `bandguard start` and `bandguard demo --serve` call `startApi`.
 *
 * Where it listens: `api.listen` when it was set (file, environment or --listen); otherwise the first IPv4
 * address of the access point's interface (`capture.interface`), so the dashboard is reachable from the
 * phones on the hub's Wi-Fi and not from the upstream network; without such an address, 127.0.0.1 (and it
 * says so).
 */

import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Agent } from '../agent/agent.js';
import { storedClassifier } from '../agent/geo.js';
import { type Config, parseListen } from '../config/schema.js';
import { logger } from '../core/logger.js';
import { dryRunExecutor, execFileExecutor } from '../firewall/executor.js';
import { FirewallService } from '../firewall/firewallService.js';
import { PolicyMatcher } from '../firewall/policy.js';
import { interfaceAddresses } from '../net/capture/liveSource.js';
import { defaultClassifier } from '../net/classify/classifier.js';
import { defaultPartiesKnowledgeBase } from '../net/classify/parties.js';
import { GeoService } from '../net/geo/geoService.js';
import { AuthService, type ScryptParams } from './auth.js';
import { CaptureImporter } from './captureImport.js';
import { LiveFeed } from './liveFeed.js';
import { NetViews } from './netViews.js';
import { RulesController } from './rules.js';
import { type AppOptions, createApp } from './server.js';
import type { ApiServices } from './services.js';
import { SettingsService } from './settings.js';
import { EventHub } from './sse.js';

const log = logger('api');

export interface StartApiOptions {
  agent: Agent;
  config: Config;
  /** The config file the agent was started with (settings are saved there), and where keys came from. */
  configFile?: string | null;
  origins?: Record<string, string>;
  /** Firewall commands are recorded, not run (demo, --safe). */
  firewallDryRun?: boolean;
  /** Set this password now (demo prints a generated one). */
  password?: string;
  scrypt?: ScryptParams;
  app?: AppOptions;
  /** Override where to listen (`HOST:PORT`; port 0 picks a free one). */
  listen?: string;
}

export interface RunningApi {
  url: string;
  host: string;
  port: number;
  server: Server;
  services: ApiServices;
  /** The one-time code to set the first password (null when a password is set). */
  setupCode: string | null;
  /** Why it listens where it does, for the console. */
  note: string | null;
  close(): Promise<void>;
}

/** Where to listen: explicit `api.listen`, else the AP interface's IPv4 address, else loopback. */
export function chooseListen(
  config: Config,
  explicit: boolean,
  addressesOf: (iface: string) => string[] = interfaceAddresses,
): { host: string; port: number; note: string | null } {
  const l = parseListen(config.api.listen) ?? { host: '', port: 8080 };
  if (explicit) return { host: l.host === '' ? '0.0.0.0' : l.host, port: l.port, note: null };
  const v4 = addressesOf(config.capture.interface).find((a) => isIP(a) === 4);
  if (v4) return { host: v4, port: l.port, note: `listening on ${config.capture.interface} (${v4}) only` };
  return {
    host: '127.0.0.1',
    port: l.port,
    note: `${config.capture.interface} has no IPv4 address: listening on 127.0.0.1 only (set api.listen or --listen to change)`,
  };
}

export function buildServices(opts: StartApiOptions, auth: AuthService): { services: ApiServices; feed: LiveFeed } {
  const { agent, config } = opts;
  const kb = defaultPartiesKnowledgeBase();
  // The agent's geo (configured mmdb files + the RDAP owner cache in its database), so the dashboard shows
  // what the agent learnt; a bare offline one for agents without it (tests that stub the agent).
  const agentGeo = (agent as unknown as { geoEnricher?: { geo: GeoService } }).geoEnricher?.geo ?? null;
  const geo = agentGeo ?? new GeoService();
  const classifier = agentGeo ? storedClassifier(agentGeo) : defaultClassifier();
  // The agent's firewall when it runs one. When it leaves the firewall alone (--safe, firewall.mode off)
  // the dashboard still edits the policy and previews the rules, through a dry-run facade that never
  // touches the kernel. (An agent without a firewall of its own: the API keeps one over the same store.)
  const hasOwn = 'firewall' in agent;
  const own = (agent as unknown as { firewall?: FirewallService | null }).firewall ?? null;
  const dryRun = opts.firewallDryRun || config.safe || (hasOwn && own === null);
  const fw =
    own ?? new FirewallService({ db: agent.db, executor: dryRun ? dryRunExecutor() : execFileExecutor(), parties: kb });
  const events = new EventHub();
  const views = new NetViews(agent.db, {
    classifier,
    geo,
    matcher: () => new PolicyMatcher(fw.list(), kb),
  });
  const rules = new RulesController(fw, kb, views, Date.now, (v) => events.publish('rules', v));
  const captures = new CaptureImporter({
    store: agent.store,
    classifier,
    tmpDir: join(config.dataDir, 'tmp'),
    bucketMs: config.store.bucketMinutes * 60_000,
    observer: fw.attachTo(),
  });
  const services: ApiServices = {
    auth,
    views,
    agent,
    band: agent.band,
    rules,
    captures,
    settings: new SettingsService(config, opts.configFile ?? null, opts.origins ?? {}, fw),
    events,
    audit: (actor, action, target, detail) => agent.store.audit(actor, action, target, detail ?? {}),
  };
  const feed = new LiveFeed(events, views, agent.band);
  return { services, feed };
}

export async function startApi(opts: StartApiOptions): Promise<RunningApi> {
  const auth = new AuthService({ dataDir: opts.config.dataDir, ...(opts.scrypt ? { scrypt: opts.scrypt } : {}) });
  if (opts.password !== undefined) await auth.setPassword(opts.password);
  const { services, feed } = buildServices(opts, auth);
  const app = createApp(services, opts.app ?? {});
  let where: { host: string; port: number; note: string | null };
  if (opts.listen !== undefined) {
    // Port 0 (any free port) is allowed here, for tests and the demo's fallback.
    const any = /:0$/.test(opts.listen);
    const l = parseListen(any ? `${opts.listen.slice(0, -2)}:1` : opts.listen);
    if (!l) throw new Error(`bad listen address ${opts.listen}`);
    where = { host: l.host === '' ? '0.0.0.0' : l.host, port: any ? 0 : l.port, note: null };
  } else {
    where = chooseListen(opts.config, opts.origins?.['api.listen'] !== undefined);
  }
  const server = createServer(app);
  server.headersTimeout = 20_000;
  server.requestTimeout = 0; // uploads and event streams
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : where.port;
  const shownHost = where.host === '0.0.0.0' || where.host === '::' ? '127.0.0.1' : where.host;
  const url = `http://${isIP(shownHost) === 6 ? `[${shownHost}]` : shownHost}:${port}/`;
  feed.start();
  log.info(`dashboard at ${url}${where.note ? ` (${where.note})` : ''}`);
  return {
    url,
    host: where.host,
    port,
    server,
    services,
    setupCode: auth.pendingSetupCode,
    note: where.note,
    async close() {
      feed.stop();
      services.events.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
