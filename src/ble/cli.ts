/**
 * `bandguard band scan|pair|sync|list|forget|export` — the BLE side for people on SSH. The main CLI
 * forwards the arguments after `band` here. Exit codes: 0 success, 1 a device/adapter failure, 2 usage.
 */
import { DeviceError } from '../sdk/index.js';
import { AdapterUnavailableError } from './adapter.js';
import { BandService } from './bandService.js';
import { BondKeyError } from './bonds.js';
import { EXPORT_FORMATS, type ExportFormat } from './export.js';
import { DEMO_MIBAND4_KEY } from './simulator/world.js';

export interface BandCommandContext {
  dataDir: string;
  simulate: boolean;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Injected for tests. */
  now?: () => number;
  timeZone?: string;
}

const USAGE = `usage: bandguard band <command>
  scan [--duration SECONDS] [--format table|json]     list nearby devices (supported ones first)
  pair ID [--auth-key HEX]                            pair, store the bond, run the first sync
  sync [ID]                                           sync one device or all paired devices
  list [--format table|json]                          paired devices, last sync, sample counts
  forget ID                                           delete a device with its bond and samples
  export ID --format csv|json|fhir [--since DURATION|ISO] [--until ISO]
options: --simulate (built-in simulated devices), --data-dir DIR`;

class UsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Map<string, string>;
}

const VALUE_FLAGS = new Set(['--format', '--auth-key', '--since', '--until', '--duration', '--data-dir', '--config']);
const BOOL_FLAGS = new Set(['--simulate']);

function parse(args: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      if (BOOL_FLAGS.has(name)) {
        flags.set(name, 'true');
      } else if (VALUE_FLAGS.has(name)) {
        const v = eq > 0 ? a.slice(eq + 1) : args[++i];
        if (v === undefined) throw new UsageError(`${name} needs a value`);
        flags.set(name, v);
      } else throw new UsageError(`unknown option ${name}`);
    } else positional.push(a);
  }
  return { positional, flags };
}

/** "7d", "24h", "90m", "3600s" before now, or an ISO date/time. */
export function parseTime(text: string, now: number): number {
  const m = /^(\d+)([smhdw])$/.exec(text.trim());
  if (m) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[
      m[2] as 's' | 'm' | 'h' | 'd' | 'w'
    ];
    return now - Number(m[1]) * unit;
  }
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`cannot read "${text}" as a duration (7d, 24h) or an ISO time`);
  return t;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

function formatOf(p: Parsed, allowed: string[], fallback: string): string {
  const f = p.flags.get('--format') ?? fallback;
  if (!allowed.includes(f)) throw new UsageError(`--format must be one of ${allowed.join(', ')}`);
  return f;
}

function needId(p: Parsed, cmd: string): string {
  const id = p.positional[1];
  if (!id) throw new UsageError(`band ${cmd} needs a device ID (see \`band scan\`)`);
  return id;
}

export async function runBandCommand(args: string[], ctx: BandCommandContext): Promise<number> {
  let p: Parsed;
  try {
    p = parse(args);
  } catch (e) {
    ctx.stderr(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const cmd = p.positional[0];
  if (!cmd || cmd === 'help' || !['scan', 'pair', 'sync', 'list', 'forget', 'export'].includes(cmd)) {
    if (cmd && cmd !== 'help') ctx.stderr(`unknown band command "${cmd}"\n`);
    ctx.stderr(`${USAGE}\n`);
    return cmd && cmd !== 'help' ? 2 : 0;
  }
  const simulate = ctx.simulate || p.flags.has('--simulate');
  const dataDir = p.flags.get('--data-dir') ?? ctx.dataDir;
  let service: BandService | null = null;
  try {
    // Validate usage before touching the radio or the database.
    if (cmd === 'scan' || cmd === 'list') formatOf(p, ['table', 'json'], 'table');
    if (cmd === 'pair' || cmd === 'forget' || cmd === 'export') needId(p, cmd);
    if (cmd === 'export' && !p.flags.has('--format')) throw new UsageError('band export needs --format csv|json|fhir');
    if (cmd === 'export') formatOf(p, [...EXPORT_FORMATS], 'csv');
    const opts: Parameters<typeof BandService.open>[0] = { dataDir, simulate };
    if (ctx.now) opts.now = ctx.now;
    if (ctx.timeZone) opts.timeZone = ctx.timeZone;
    if (simulate) opts.options = { quietMs: 400, advertListenMs: 800 };
    service = BandService.open(opts);
    service.on('progress', (e: { deviceId: string; message: string }) => ctx.stderr(`${e.deviceId}: ${e.message}\n`));
    return await run(cmd, p, service, ctx, simulate);
  } catch (e) {
    if (e instanceof UsageError) {
      ctx.stderr(`${e.message}\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof DeviceError || e instanceof AdapterUnavailableError || e instanceof BondKeyError) {
      let msg = e.message;
      if (e instanceof DeviceError && e.code === 'auth_key_required' && simulate) {
        msg += ` (the simulated Mi Smart Band 4 uses --auth-key ${DEMO_MIBAND4_KEY})`;
      }
      ctx.stderr(`error: ${msg}\n`);
      return 1;
    }
    ctx.stderr(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    await service?.close();
  }
}

async function run(
  cmd: string,
  p: Parsed,
  s: BandService,
  ctx: BandCommandContext,
  simulate: boolean,
): Promise<number> {
  const out = ctx.stdout;
  switch (cmd) {
    case 'scan': {
      const seconds = Number(p.flags.get('--duration') ?? (simulate ? 1 : 10));
      if (!Number.isFinite(seconds) || seconds <= 0)
        throw new UsageError('--duration must be a positive number of seconds');
      const list = await s.scan(seconds * 1000);
      if (formatOf(p, ['table', 'json'], 'table') === 'json') {
        out(`${JSON.stringify({ version: 1, devices: list }, null, 2)}\n`);
        return 0;
      }
      if (list.length === 0) {
        out('no devices found\n');
        return 0;
      }
      const rows = [['ID', 'RSSI', 'NAME', 'DEVICE', 'PAIRING', 'ADVERTISES']];
      for (const c of list) {
        rows.push([
          c.id,
          String(c.rssi),
          c.name ?? '-',
          c.definition ? `${c.definition.vendor} ${c.definition.model}${c.paired ? ' (paired)' : ''}` : 'unknown',
          c.definition ? c.definition.pairing : '-',
          c.advertised,
        ]);
      }
      out(table(rows));
      return 0;
    }
    case 'pair': {
      const id = needId(p, 'pair');
      const authKey = p.flags.get('--auth-key');
      const res = await s.pair(id, authKey ? { authKey } : {});
      out(`paired ${res.deviceId}: ${res.definition.vendor} ${res.definition.model}\n`);
      if (res.firstSync && 'error' in res.firstSync) {
        out(`first sync failed: ${res.firstSync.error}\n`);
        return 1;
      }
      if (res.firstSync) out(`first sync: ${res.firstSync.inserted} new sample(s)\n`);
      return 0;
    }
    case 'sync': {
      const results = await s.sync(p.positional[1]);
      if (results.length === 0) {
        out('no paired devices\n');
        return 0;
      }
      for (const r of results) {
        if (r.ok && r.result) {
          const dropped = Object.entries(r.result.dropped).map(([k, v]) => `${v} ${k}`);
          out(
            `${r.deviceId}: ${r.result.inserted} new sample(s)${dropped.length ? `, dropped ${dropped.join(', ')}` : ''}\n`,
          );
        } else out(`${r.deviceId}: failed: ${r.error?.message}\n`);
      }
      return results.every((r) => r.ok) ? 0 : 1;
    }
    case 'list': {
      const list = s.list();
      if (formatOf(p, ['table', 'json'], 'table') === 'json') {
        out(`${JSON.stringify({ version: 1, devices: list }, null, 2)}\n`);
        return 0;
      }
      if (list.length === 0) {
        out('no paired devices\n');
        return 0;
      }
      const rows = [['ID', 'DEVICE', 'LAST SYNC', 'SAMPLES', 'STATUS']];
      for (const d of list) {
        rows.push([
          d.id,
          `${d.vendor ?? '?'} ${d.model ?? d.definitionId}`,
          d.lastSyncAt ?? 'never',
          String(d.samples),
          d.lastError ? `failing (${d.failures}): ${d.lastError}` : 'ok',
        ]);
      }
      out(table(rows));
      return 0;
    }
    case 'forget': {
      const id = needId(p, 'forget');
      if (!(await s.forget(id))) {
        ctx.stderr(`error: device ${id} is not paired\n`);
        return 1;
      }
      out(`forgot ${id} (bond, samples and cursors deleted)\n`);
      return 0;
    }
    case 'export': {
      const id = needId(p, 'export');
      const format = formatOf(p, [...EXPORT_FORMATS], 'csv') as ExportFormat;
      const now = s.ctx.now();
      const range: { since?: number; until?: number } = {};
      const since = p.flags.get('--since');
      const until = p.flags.get('--until');
      if (since) range.since = parseTime(since, now);
      if (until) range.until = parseTime(until, now);
      out(s.export(id, format, range));
      return 0;
    }
  }
  return 2;
}
