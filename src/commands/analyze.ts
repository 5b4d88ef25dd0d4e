/** `bandguard analyze FILE...` */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Io, parseCommandArgs, UsageError, writeOutput } from '../cli.js';
import { analyzeFiles } from '../net/analyze.js';
import { CaptureFormatError } from '../net/capture/types.js';
import { defaultClassifier, KnowledgeClassifier } from '../net/classify/classifier.js';
import { defaultPartiesKnowledgeBase } from '../net/classify/parties.js';
import { formatCsv, formatTable } from '../net/format.js';
import type { RdapBootstrap } from '../net/geo/bootstrap.js';
import { enrichContacts, GeoService } from '../net/geo/geoService.js';
import { MmdbFile, MmdbFormatError } from '../net/geo/mmdb.js';
import type { Db } from '../store/db.js';

// --rdap loads its modules (SQLite, the RDAP client and its response schemas) only when given: a plain
// analysis starts without them.

const FORMATS = ['table', 'json', 'csv'] as const;

export async function runAnalyze(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    format: { type: 'string', default: 'table' },
    out: { type: 'string' },
    partial: { type: 'boolean', default: false },
    mmdb: { type: 'string', multiple: true },
    rdap: { type: 'boolean', default: false },
    'rdap-wait': { type: 'string', default: '10' },
    'data-dir': { type: 'string' },
    config: { type: 'string' },
  });
  const format = values.format as string;
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got '${format}')`);
  }
  if (positionals.length === 0) throw new UsageError('analyze needs at least one capture file');
  const rdapWait = Number(values['rdap-wait']);
  if (!Number.isFinite(rdapWait) || rdapWait < 0 || rdapWait > 3600) {
    throw new UsageError(`--rdap-wait must be a number of seconds from 0 to 3600 (got '${values['rdap-wait']}')`);
  }
  const mmdbPaths = (values.mmdb as string[] | undefined) ?? [];
  const mmdb: MmdbFile[] = [];
  for (const p of mmdbPaths) {
    try {
      mmdb.push(MmdbFile.open(p));
    } catch (err) {
      if (err instanceof MmdbFormatError) {
        io.stderr(`bandguard: --mmdb: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
  }
  // Offline by default: the bundled country database (and --mmdb files). With --rdap, owners of the servers
  // are asked of the registries after the analysis, cached in the data dir's database.
  let geo: GeoService | null = null;
  let cacheDb: Db | null = null;
  if (values.rdap === true) {
    const bootstrap = await rdapBootstrap();
    const [{ openDatabase }, { OwnerCache }, { RdapClient }] = await Promise.all([
      import('../store/db.js'),
      import('../net/geo/ownerCache.js'),
      import('../net/geo/rdap.js'),
    ]);
    const dataDir =
      (values['data-dir'] as string | undefined) ?? process.env.BANDGUARD_DATA_DIR ?? join(homedir(), '.bandguard');
    cacheDb = openDatabase(join(dataDir, 'bandguard.db'));
    geo = new GeoService({ mmdb, cache: new OwnerCache(cacheDb), rdap: new RdapClient({ bootstrap }) });
  } else if (mmdb.length > 0) {
    geo = new GeoService({ mmdb });
  }
  let report: Awaited<ReturnType<typeof analyzeFiles>>;
  try {
    const classifier = geo ? new KnowledgeClassifier(defaultPartiesKnowledgeBase(), geo) : defaultClassifier();
    report = await analyzeFiles(positionals, { partial: values.partial === true, classifier });
    if (geo?.online) {
      io.stderr(`bandguard: RDAP: asking the registries who runs the servers (waiting at most ${rdapWait} s)\n`);
      const r = await enrichContacts(report.contacts, geo, rdapWait * 1000);
      const asked = r.resolved + r.failed + r.unfinished;
      io.stderr(
        `bandguard: RDAP: ${r.known} owner(s) already cached, ${asked} asked: ${r.resolved} answered, ${r.failed} failed` +
          (r.unfinished > 0
            ? `, ${r.unfinished} unanswered after ${(r.elapsedMs / 1000).toFixed(1)} s (left out)`
            : '') +
          ` (${r.contactsFilled} contact(s) filled)\n`,
      );
    }
  } catch (err) {
    if (err instanceof CaptureFormatError) {
      io.stderr(`bandguard: ${err.message}\n`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      io.stderr(`bandguard: cannot read ${(err as NodeJS.ErrnoException).path ?? 'input'}: ${code}\n`);
      return 2;
    }
    throw err;
  } finally {
    geo?.close();
    cacheDb?.close();
  }
  const text =
    format === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : format === 'csv'
        ? formatCsv(report)
        : formatTable(report);
  writeOutput(values.out as string | undefined, text, io);
  if (values.out) io.stderr(`bandguard: wrote ${format} report to ${values.out}\n`);
  return 0;
}

/**
 * The IANA registry copy that ships with bandguard; BANDGUARD_RDAP_URL (an http(s) base URL) sends every
 * query to one server instead, e.g. a local RDAP mirror or proxy.
 */
async function rdapBootstrap(): Promise<RdapBootstrap> {
  const { rdapBootstrapFor } = await import('../agent/geo.js');
  try {
    return rdapBootstrapFor(process.env.BANDGUARD_RDAP_URL);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}
