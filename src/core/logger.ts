/**
 * Namespaced logger with lazy messages (style rule 12). Levels can be set per namespace through
 * BANDGUARD_LOG ("info", or "debug,net:flows=trace" style lists). Output goes to stderr so that
 * report output on stdout stays clean.
 */
export type Level = 'error' | 'warn' | 'info' | 'debug' | 'trace';
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

let defaultLevel: Level = 'info';
const perNamespace = new Map<string, Level>();
let sink: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

function isLevel(s: string): s is Level {
  return s in ORDER;
}

export function configureLogging(spec: string | undefined, out?: (line: string) => void): void {
  if (out) sink = out;
  perNamespace.clear();
  if (!spec) return;
  for (const part of spec.split(',')) {
    const [a, b] = part.split('=').map((s) => s.trim());
    if (b !== undefined && a && isLevel(b)) perNamespace.set(a, b);
    else if (a && isLevel(a)) defaultLevel = a;
  }
}

export interface Logger {
  error(msg: string | (() => string), err?: unknown): void;
  warn(msg: string | (() => string)): void;
  info(msg: string | (() => string)): void;
  debug(msg: string | (() => string)): void;
  enabled(level: Level): boolean;
}

export function logger(namespace: string): Logger {
  const enabled = (level: Level): boolean => {
    let l = defaultLevel;
    for (const [ns, lv] of perNamespace) if (namespace === ns || namespace.startsWith(`${ns}:`)) l = lv;
    return ORDER[level] <= ORDER[l];
  };
  const emit = (level: Level, msg: string | (() => string), err?: unknown) => {
    if (!enabled(level)) return;
    const text = typeof msg === 'function' ? msg() : msg;
    const extra = err instanceof Error ? `: ${err.message}` : err !== undefined ? `: ${String(err)}` : '';
    sink(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${namespace}] ${text}${extra}`);
  };
  return {
    error: (m, e) => emit('error', m, e),
    warn: (m) => emit('warn', m),
    info: (m) => emit('info', m),
    debug: (m) => emit('debug', m),
    enabled,
  };
}

configureLogging(process.env.BANDGUARD_LOG);
