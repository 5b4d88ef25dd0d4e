/** `bandguard analyze FILE...` */
import { type Io, parseCommandArgs, UsageError, writeOutput } from '../cli.js';
import { analyzeFiles } from '../net/analyze.js';
import { CaptureFormatError } from '../net/capture/types.js';
import { defaultClassifier } from '../net/classify/classifier.js';
import { formatCsv, formatTable } from '../net/format.js';

const FORMATS = ['table', 'json', 'csv'] as const;

export async function runAnalyze(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    format: { type: 'string', default: 'table' },
    out: { type: 'string' },
    partial: { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
    config: { type: 'string' },
  });
  const format = values.format as string;
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got '${format}')`);
  }
  if (positionals.length === 0) throw new UsageError('analyze needs at least one capture file');
  let report: Awaited<ReturnType<typeof analyzeFiles>>;
  try {
    report = await analyzeFiles(positionals, { partial: values.partial === true, classifier: defaultClassifier() });
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
