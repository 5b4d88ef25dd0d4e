/**
 * Loads the configuration from its sources, in increasing priority: defaults < config file (JSON, `//` and
 * `/* *\/` comments allowed) < environment (`BANDGUARD_*`) < command-line flags. Everything is validated
 * once against the schema; a problem is reported with the key, the source that set it and why, and nothing
 * is started. The file is read here (the only I/O); merging and validation are pure.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { type Config, type ConfigLeaf, configLeaves, configSchema } from './schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1 ? `bad configuration: ${problems[0]}` : `bad configuration:\n  ${problems.join('\n  ')}`,
    );
  }
}

/** Values given on the command line, by schema path (e.g. `{ 'capture.interface': 'br0' }`). */
export type FlagValues = Record<string, string | boolean | number | undefined>;

/** The long flag that sets a path, for messages. */
export const FLAG_OF_PATH: Record<string, string> = {
  dataDir: '--data-dir',
  'capture.interface': '--interface',
  'api.listen': '--listen',
  safe: '--safe',
  'ble.simulate': '--simulate',
};

/** Short environment names beside the derived ones (`BANDGUARD_CAPTURE_INTERFACE` …). */
const ENV_ALIASES: Record<string, string> = {
  BANDGUARD_INTERFACE: 'capture.interface',
  BANDGUARD_LISTEN: 'api.listen',
};

/** BANDGUARD_* variables that are not configuration keys. */
const ENV_RESERVED = new Set(['BANDGUARD_CONFIG', 'BANDGUARD_LOG', 'BANDGUARD_DEBUG']);

export interface LoadOptions {
  /** Config file path (`--config`); else `BANDGUARD_CONFIG`; else none. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  flags?: FlagValues;
  /** Base of relative paths and of `~` (tests). */
  cwd?: string;
  home?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The config file that was read, if any. */
  file: string | null;
  /** Non-fatal findings (unknown BANDGUARD_* variables). */
  warnings: string[];
  /** Where each key that is not a default came from (path → source label). */
  origins: Record<string, string>;
}

/** Removes `//` and `/* *\/` comments outside strings, keeping line numbers. */
export function stripJsonComments(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      const start = i++;
      while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      out += text.slice(start, i);
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    const next = node[p];
    if (!isPlainObject(next)) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

/** Deep merge of plain objects (`over` wins); records the origin of every leaf it sets. */
function mergeInto(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
  label: string,
  origins: Record<string, string>,
  prefix = '',
): void {
  for (const [k, v] of Object.entries(over)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (isPlainObject(v) && isPlainObject(base[k])) {
      mergeInto(base[k] as Record<string, unknown>, v, label, origins, path);
    } else {
      base[k] = isPlainObject(v) ? structuredClone(v) : v;
      origins[path] = label;
      if (isPlainObject(v)) for (const sub of leafPaths(v, path)) origins[sub] = label;
    }
  }
}

function leafPaths(o: Record<string, unknown>, prefix: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    const p = `${prefix}.${k}`;
    if (isPlainObject(v)) out.push(...leafPaths(v, p));
    else out.push(p);
  }
  return out;
}

/** Text from the environment or a flag → the leaf's type; what cannot be converted stays text (and fails). */
function coerce(leaf: ConfigLeaf | undefined, raw: string | boolean | number): unknown {
  if (typeof raw !== 'string' || !leaf) return raw;
  const t = raw.trim();
  if (leaf.type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(t)) return true;
    if (/^(0|false|no|off)$/i.test(t)) return false;
    return raw;
  }
  if (leaf.type === 'integer' || leaf.type === 'number') {
    return /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t) ? Number(t) : raw;
  }
  if (leaf.type === 'array') {
    // A JSON array, or comma-separated items (empty text: an empty list).
    if (t.startsWith('[')) {
      try {
        return JSON.parse(t) as unknown;
      } catch {
        return raw;
      }
    }
    return t === '' ? [] : t.split(',').map((x) => x.trim());
  }
  return raw;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The known key closest to an unknown one (among its siblings), if it is close enough to be a typo. */
function suggest(path: string, known: string[]): string | null {
  const parent = path.includes('.') ? path.slice(0, path.lastIndexOf('.') + 1) : '';
  const key = path.slice(parent.length).toLowerCase();
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    if (!k.startsWith(parent) || k.slice(parent.length).includes('.')) continue;
    const d = editDistance(key, k.slice(parent.length).toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  const longest = Math.max(key.length, (best ?? '').length - parent.length);
  return best !== null && bestD <= Math.max(2, Math.floor(longest / 2)) ? best : null;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function valueAt(o: unknown, path: (string | number)[]): unknown {
  let node = o;
  for (const p of path) {
    if (!isPlainObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string | number, unknown>)[p];
  }
  return node;
}

function originOf(origins: Record<string, string>, path: string): string {
  for (let p = path; p !== ''; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const o = origins[p];
    if (o) return o;
  }
  return 'defaults';
}

function problemsOf(issues: z.core.$ZodIssue[], merged: unknown, origins: Record<string, string>): string[] {
  const known = configLeaves().map((l) => l.path);
  const knownObjects = [...new Set(known.filter((k) => k.includes('.')).map((k) => k.slice(0, k.indexOf('.'))))];
  const out: string[] = [];
  for (const issue of issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = base ? `${base}.${key}` : key;
        const hint = suggest(path, [...known, ...knownObjects]);
        out.push(`${originOf(origins, path)}: unknown key "${path}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
      continue;
    }
    const value = valueAt(merged, issue.path as (string | number)[]);
    let message = issue.message;
    if (issue.code === 'invalid_type' && value !== undefined && isPlainObject(value) === false) {
      const leaf = known.includes(base);
      if (!leaf && issue.expected === 'object') message = 'must be an object of settings';
    }
    out.push(`${originOf(origins, base)}: ${base || '(top level)'}: ${message} (got ${describeValue(value)})`);
  }
  return out;
}

/** Reads and parses a config file (JSON with comments). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : code;
    throw new ConfigError([`config file ${path}: cannot read it (${why})`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stripJsonComments(text.replace(/^\uFEFF/, '')));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const pos = /position (\d+)/.exec(msg);
    let where = '';
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split('\n').length;
      where = ` at line ${line} column ${Number(pos[1]) - before.lastIndexOf('\n')}`;
    }
    throw new ConfigError([
      `config file ${path}: not valid JSON${where}: ${msg.replace(/\s+in JSON at position \d+.*$/, '')}`,
    ]);
  }
  if (!isPlainObject(parsed)) throw new ConfigError([`config file ${path}: must hold one JSON object of settings`]);
  return parsed;
}

export function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return `${home}${p.slice(1)}`;
  return p;
}

/** Defaults < file < environment < flags, validated. Throws ConfigError (nothing is started). */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const home = opts.home ?? env.HOME ?? homedir();
  const leaves = new Map(configLeaves().map((l) => [l.path, l]));
  const origins: Record<string, string> = {};
  const warnings: string[] = [];
  const merged: Record<string, unknown> = {};

  const filePath = opts.file ?? (env.BANDGUARD_CONFIG || undefined);
  let file: string | null = null;
  if (filePath !== undefined) {
    file = isAbsolute(filePath) ? filePath : resolve(cwd, filePath);
    mergeInto(merged, readConfigFile(file), `config file ${file}`, origins);
  }

  const fromEnv: Record<string, unknown> = {};
  const envOrigins: Record<string, string> = {};
  const byEnv = new Map<string, string>([...leaves.values()].map((l) => [l.env, l.path]));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('BANDGUARD_') || raw === undefined || ENV_RESERVED.has(name)) continue;
    const path = byEnv.get(name) ?? ENV_ALIASES[name];
    if (!path) {
      const hint = suggest(name, [...byEnv.keys()]);
      warnings.push(`unknown environment variable ${name} ignored${hint ? ` (did you mean ${hint}?)` : ''}`);
      continue;
    }
    setPath(fromEnv, path, coerce(leaves.get(path), raw));
    envOrigins[path] = `environment ${name}`;
  }
  mergeInto(merged, fromEnv, 'environment', origins);
  Object.assign(origins, envOrigins);

  const fromFlags: Record<string, unknown> = {};
  const flagOrigins: Record<string, string> = {};
  for (const [path, raw] of Object.entries(opts.flags ?? {})) {
    if (raw === undefined) continue;
    if (!leaves.has(path)) throw new Error(`internal: flag for unknown config key ${path}`);
    setPath(fromFlags, path, coerce(leaves.get(path), raw));
    flagOrigins[path] = `flag ${FLAG_OF_PATH[path] ?? path}`;
  }
  mergeInto(merged, fromFlags, 'flags', origins);
  Object.assign(origins, flagOrigins);

  const r = configSchema.safeParse(merged);
  if (!r.success) throw new ConfigError(problemsOf(r.error.issues, merged, origins));
  const config = r.data;
  config.dataDir = resolve(cwd, expandHome(config.dataDir, home));
  return { config, file, warnings, origins };
}
