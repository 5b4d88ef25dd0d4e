/**
 * `bandguard report [--since DURATION|ISO] [--until ISO] [--client ID] [--format table|json|csv]`: what the
 * agent has stored, in the `analyze` JSON contract.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DB_FILE } from '../agent/agent.js';
import { openGeo, storedClassifier } from '../agent/geo.js';
import { storedReport } from '../agent/storedReport.js';
import { type Io, parseCommandArgs, UsageError, writeOutput } from '../cli.js';
import { COMMON_FLAGS, configFromFlags } from '../config/flags.js';
import { ConfigError } from '../config/load.js';
import { formatCsv, formatTable } from '../net/format.js';
import { openDatabase } from '../store/db.js';
import { NetStore, type TimeQuery } from '../store/netStore.js';

const FORMATS = ['table', 'json', 'csv'] as const;
const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `15m`, `24h`, `7d`, `2w` (before now) or an ISO 8601 date/time → epoch ms. */
export function parseSince(s: string, now: number): number {
  const m = /^(\d+)\s*([smhdw])$/.exec(s.trim());
  if (m) return now - Number(m[1]) * UNITS[m[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s.trim())) {
    const t = Date.parse(s.trim());
    if (Number.isFinite(t)) return t;
  }
  throw new UsageError(
    `--since must be a duration like 30m, 24h, 7d or an ISO date like 2025-01-31T12:00Z (got '${s}')`,
  );
}

export function normaliseClient(id: string): string {
  const t = id.trim().toLowerCase();
  if (/^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/.test(t)) return t.replace(/-/g, ':');
  return t;
}

export async function runReport(args: string[], io: Io, now = Date.now()): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...COMMON_FLAGS,
    since: { type: 'string' },
    until: { type: 'string' },
    client: { type: 'string' },
    format: { type: 'string', default: 'table' },
    out: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`report takes no arguments (got '${positionals[0]}')`);
  const format = values.format as string;
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got '${format}')`);
  }
  let config: ReturnType<typeof configFromFlags>['config'];
  try {
    config = configFromFlags(values).config;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  const q: TimeQuery = {};
  if (typeof values.since === 'string') q.since = parseSince(values.since, now);
  if (typeof values.until === 'string') q.until = parseSince(values.until, now);
  if (typeof values.client === 'string') q.client = normaliseClient(values.client);
  const path = join(config.dataDir, DB_FILE);
  if (!existsSync(path)) {
    io.stderr(`bandguard: nothing stored yet: ${path} does not exist (start the agent with 'bandguard start')\n`);
    return 1;
  }
  const db = openDatabase(path);
  try {
    // Country, ASN and AS organization from the configured mmdb files and the owners the agent's RDAP rounds
    // cached in this database (the report itself never asks the network).
    const { geo, problems } = openGeo(config, db, { online: false });
    for (const p of problems) io.stderr(`bandguard: ${p}\n`);
    const report = storedReport(new NetStore(db), q, storedClassifier(geo));
    geo.close();
    const text =
      format === 'json'
        ? `${JSON.stringify(report, null, 2)}\n`
        : format === 'csv'
          ? formatCsv(report)
          : formatTable(report);
    writeOutput(values.out as string | undefined, text, io);
    return 0;
  } finally {
    db.close();
  }
}
