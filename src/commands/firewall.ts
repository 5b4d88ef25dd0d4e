/**
 * `bandguard firewall off|on|apply|restore|status|set` — the kernel side of blocking, for people on SSH.
 *
 *   off        remove every chain, hook and set bandguard added (the ruleset is as it was before) and mark
 *              the firewall off, so a running agent does not re-apply
 *   on         mark it on again (the running agent applies within seconds; or run `firewall apply`)
 *   apply      build the plan from the stored policy and apply it now (idempotent)
 *   restore    the same, meant for boot (a systemd unit ordered before hostapd; see docs/firewall.md)
 *   status     enabled, policy revision vs applied revision, last error
 *   set KEY VALUE   dns-mode ipset|sinkhole, hub-resolver on|off, dot|doh|quic|foreign-dns|canary on|off,
 *              ttl-floor SECONDS
 *
 * `--dry-run` prints the commands and payloads instead of running them; `--netns NAME` runs them inside a
 * network namespace (tests, containers). Commands work on the store directly; the agent, when it runs,
 * notices the policy revision change and re-applies.
 */
import { join } from 'node:path';
import { DB_FILE } from '../agent/agent.js';
import { readPidFile } from '../agent/pidFile.js';
import { type Io, parseCommandArgs, UsageError } from '../cli.js';
import { COMMON_FLAGS, configFromFlags, type FlagBag } from '../config/flags.js';
import { ConfigError } from '../config/load.js';
import { FirewallApplyError, PlanValidationError } from '../firewall/apply.js';
import { dryRunExecutor, type Executor, execFileExecutor } from '../firewall/executor.js';
import { FirewallService } from '../firewall/firewallService.js';
import type { FirewallSettings } from '../firewall/policy.js';
import { FirewallInputError } from '../firewall/validate.js';
import { defaultPartiesKnowledgeBase } from '../net/classify/parties.js';
import { type Db, openDatabase } from '../store/db.js';

export const FIREWALL_FLAGS = {
  ...COMMON_FLAGS,
  'dry-run': { type: 'boolean' },
  netns: { type: 'string' },
} as const;

export interface FirewallContext {
  service: FirewallService;
  db: Db;
  dataDir: string;
  agentRunning: boolean;
  close(): void;
}

export function dataDirOf(values: FlagBag): string {
  try {
    return configFromFlags(values).config.dataDir;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** Opens the store and a FirewallService with the executor the flags ask for. */
export function openFirewall(values: FlagBag, io: Io): FirewallContext {
  const dataDir = dataDirOf(values);
  let executor: Executor;
  if (values['dry-run'] === true) executor = dryRunExecutor((t) => io.stdout(t.endsWith('\n') ? t : `${t}\n`));
  else {
    const netns = typeof values.netns === 'string' ? values.netns : undefined;
    executor = execFileExecutor(netns !== undefined ? { netns } : {});
  }
  const db = openDatabase(join(dataDir, DB_FILE));
  const service = new FirewallService({ db, executor, parties: defaultPartiesKnowledgeBase() });
  return { service, db, dataDir, agentRunning: readPidFile(dataDir) !== null, close: () => db.close() };
}

/** Maps firewall errors to the CLI's exit codes: bad input is 2 with one line, kernel failures 1. */
export function firewallErrorCode(err: unknown, io: Io): number {
  if (err instanceof FirewallInputError || err instanceof PlanValidationError) {
    io.stderr(`bandguard: ${err.message}\n`);
    return 2;
  }
  if (err instanceof FirewallApplyError) {
    io.stderr(`bandguard: firewall: ${err.message}\n`);
    return 1;
  }
  throw err;
}

const USAGE = 'usage: bandguard firewall off|on|apply|restore|status|set KEY VALUE [--dry-run] [--netns NAME]';

function onOff(v: string | undefined, key: string): boolean {
  if (v === 'on' || v === 'true' || v === 'yes') return true;
  if (v === 'off' || v === 'false' || v === 'no') return false;
  throw new UsageError(`firewall set ${key} takes on or off`);
}

function settingsPatch(
  key: string | undefined,
  value: string | undefined,
): Parameters<FirewallService['updateSettings']>[0] {
  const bypassKeys: Record<string, keyof FirewallSettings['bypass']> = {
    dot: 'dot',
    doh: 'doh',
    quic: 'quic',
    'foreign-dns': 'foreignDns',
    canary: 'canary',
  };
  if (key !== undefined && key in bypassKeys) return { bypass: { [bypassKeys[key]!]: onOff(value, key) } };
  switch (key) {
    case 'dns-mode':
      if (value !== 'ipset' && value !== 'sinkhole')
        throw new UsageError('firewall set dns-mode takes ipset or sinkhole');
      return { dnsMode: value };
    case 'hub-resolver':
      return { hubResolver: onOff(value, key) };
    case 'ttl-floor': {
      const n = Number(value);
      if (!Number.isInteger(n)) throw new UsageError('firewall set ttl-floor takes a whole number of seconds');
      return { ttlFloorSec: n };
    }
    default:
      throw new UsageError(
        `unknown setting ${JSON.stringify(key ?? '')}: dns-mode, hub-resolver, dot, doh, quic, foreign-dns, canary, ttl-floor`,
      );
  }
}

export async function runFirewall(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...FIREWALL_FLAGS,
    format: { type: 'string', default: 'table' },
  });
  const [sub, ...rest] = positionals;
  if (!sub || !['off', 'on', 'apply', 'restore', 'status', 'set'].includes(sub)) throw new UsageError(USAGE);
  if (sub !== 'set' && rest.length > 0) throw new UsageError(`firewall ${sub} takes no arguments`);
  const ctx = openFirewall(values, io);
  try {
    const { service } = ctx;
    switch (sub) {
      case 'off': {
        const r = await service.off('cli');
        io.stdout(
          `firewall off: removed ${r.chains.length} chains (${r.chains.join(', ') || 'none'}) and ${r.sets.length} sets; ` +
            'the ruleset is as it was before bandguard\n',
        );
        return 0;
      }
      case 'on':
        service.on('cli');
        io.stdout(
          ctx.agentRunning
            ? 'firewall on: the agent applies the policy within seconds\n'
            : 'firewall on: run `bandguard firewall apply` (or start the agent) to apply it\n',
        );
        return 0;
      case 'apply':
      case 'restore': {
        const r = sub === 'apply' ? await service.apply('cli') : await service.restore('cli');
        if (r === null) {
          io.stdout('firewall is off: nothing restored (`bandguard firewall on` turns it back on)\n');
          return 0;
        }
        io.stdout(
          r.dryRun
            ? `dry-run: nothing applied (plan ${r.hash.slice(0, 12)})\n`
            : r.changed
              ? `applied plan ${r.hash.slice(0, 12)} in ${r.durationMs} ms (${r.replaced.length} sets rebuilt, ${r.grown.length} grown)\n`
              : `plan ${r.hash.slice(0, 12)} already in force: nothing changed\n`,
        );
        for (const w of service.preview().warnings) io.stderr(`warning: ${w}\n`);
        return 0;
      }
      case 'status': {
        if (!service.status().dryRun) await service.probeConntrack();
        const s = service.status();
        if (values.format === 'json') io.stdout(`${JSON.stringify(s, null, 2)}\n`);
        else {
          io.stdout(
            [
              `firewall: ${s.enabled ? 'on' : 'off'}${ctx.agentRunning ? ' (agent running)' : ''}`,
              `policy revision ${s.revision}, applied ${s.appliedRevision ?? 'never'}${s.upToDate ? ' (up to date)' : ''}`,
              `applied plan: ${s.appliedHash ? `${s.appliedHash.slice(0, 12)} at ${new Date(s.appliedAt ?? 0).toISOString()}` : 'none'}`,
              `entries: ${s.entries}`,
              `last error: ${s.lastError ? `${s.lastError} (${new Date(s.lastErrorAt ?? 0).toISOString()})` : 'none'}`,
              `open connections: ${s.connections.note ?? (s.connections.tool === 'available' ? 'cut when a block covers them (conntrack)' : 'conntrack not checked')}`,
              '',
            ].join('\n'),
          );
        }
        return 0;
      }
      case 'set': {
        if (rest.length !== 2) throw new UsageError('usage: bandguard firewall set KEY VALUE');
        const next = service.updateSettings(settingsPatch(rest[0], rest[1]), 'cli');
        io.stdout(`firewall settings: ${JSON.stringify(next)}\n`);
        return 0;
      }
    }
    return 0;
  } catch (err) {
    return firewallErrorCode(err, io);
  } finally {
    await ctx.service.drain().catch(() => undefined);
    ctx.close();
  }
}
