/**
 * The dictionaries of the leak detectors, loaded from data/dictionaries (see SOURCES.md there): medical terms
 * and measurements, PII field names with the leak kind each implies, and first names.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type LeakKind = 'health' | 'identity' | 'device' | 'location' | 'network' | 'credential' | 'other';
export const LEAK_KINDS: readonly LeakKind[] = [
  'health',
  'identity',
  'device',
  'location',
  'network',
  'credential',
  'other',
];

export interface MedicalTerm {
  term: string;
  measurement: boolean;
  ambiguous: boolean;
  forms: string[];
}

export interface PiiField {
  kind: LeakKind;
  term: string;
  keys: string[];
}

export interface Dictionaries {
  /** Normalised key (see normalizeKey) → medical term: every form, for keys and path segments. */
  healthKeys: Map<string, MedicalTerm>;
  /** Forms matched in free text: unambiguous terms, forms longer than four ASCII letters or with CJK. */
  healthText: HealthTextForm[];
  /**
   * The same forms by their first two UTF-16 code units (see pairKey): a text is searched in one pass over its
   * positions instead of once per form. Each list keeps healthText's order.
   */
  healthTextByPair: Map<number, HealthTextForm[]>;
  /** Normalised key → PII field. */
  piiKeys: Map<string, PiiField>;
  /** Lower-cased first names (built at first use). */
  readonly firstNames: Set<string>;
  medicalTerms: MedicalTerm[];
  piiFields: PiiField[];
}

export interface HealthTextForm {
  form: string;
  lower: string;
  cjk: boolean;
  term: MedicalTerm;
  /** Position in Dictionaries.healthText. */
  rank: number;
}

/** Key of the two UTF-16 code units at `i` of `s` (the caller checks i + 1 < s.length). */
export function pairKey(s: string, i: number): number {
  return s.charCodeAt(i) * 65536 + s.charCodeAt(i + 1);
}

export class DictionaryError extends Error {
  override name = 'DictionaryError';
}

const CJK = /[\u3400-\u9fff]/;

/** user_id, userId, user-id, "User ID" → "userid"; CJK characters are kept. */
export function normalizeKey(k: string): string {
  const lower = k.toLowerCase();
  // By UTF-16 code unit: both halves of a surrogate pair are above 0x2e7f, so astral characters are kept whole.
  let from = 0;
  let out = '';
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c > 0x2e7f) continue;
    if (i > from) out += lower.slice(from, i);
    from = i + 1;
  }
  return from === 0 ? lower : out + lower.slice(from);
}

export function defaultDictionariesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'data', 'dictionaries');
    try {
      if (statSync(candidate).isDirectory()) return candidate;
    } catch {
      // not here; go up
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new DictionaryError('data/dictionaries not found above the module directory');
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new DictionaryError(`${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function readJson(path: string): unknown {
  const text = readText(path);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DictionaryError(`${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Lower-cased names of a names file (one per line, `#` comments). */
function nameSet(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const n = line.trim();
    if (n && !n.startsWith('#')) names.add(n.toLowerCase());
  }
  return names;
}

export function loadDictionaries(dir = defaultDictionariesDir()): Dictionaries {
  const med = readJson(join(dir, 'medical.json')) as { terms?: MedicalTerm[] };
  const pii = readJson(join(dir, 'pii-fields.json')) as { fields?: PiiField[] };
  if (!Array.isArray(med.terms)) throw new DictionaryError('medical.json: no "terms" array');
  if (!Array.isArray(pii.fields)) throw new DictionaryError('pii-fields.json: no "fields" array');
  const healthKeys = new Map<string, MedicalTerm>();
  const healthText: Dictionaries['healthText'] = [];
  for (const t of med.terms) {
    if (typeof t.term !== 'string' || !Array.isArray(t.forms)) throw new DictionaryError('medical.json: bad entry');
    for (const f of t.forms) {
      const k = normalizeKey(f);
      if (k && !healthKeys.has(k)) healthKeys.set(k, t);
      const cjk = CJK.test(f);
      const asciiLetters = f.replace(/[^a-z]/gi, '').length;
      if (!t.ambiguous && (cjk ? f.length >= 2 : asciiLetters > 4 || /[^\x20-\x7e]/.test(f))) {
        healthText.push({ form: f, lower: f.toLowerCase(), cjk, term: t, rank: 0 });
      }
    }
  }
  // Longest forms first, so that "deep sleep" wins over "sleep" and "血压计" over "血压".
  healthText.sort((a, b) => b.lower.length - a.lower.length);
  const healthTextByPair = new Map<number, HealthTextForm[]>();
  healthText.forEach((h, rank) => {
    h.rank = rank;
    // Every free-text form has at least two code units (see above); a shorter one could never be indexed.
    if (h.lower.length < 2) throw new DictionaryError(`medical.json: free-text form "${h.form}" is too short`);
    const k = pairKey(h.lower, 0);
    const list = healthTextByPair.get(k);
    if (list) list.push(h);
    else healthTextByPair.set(k, [h]);
  });
  const piiKeys = new Map<string, PiiField>();
  for (const f of pii.fields) {
    for (const k of f.keys) piiKeys.set(normalizeKey(k), f);
  }
  // The names are read now (a missing file is an error at load) but put in a set only when a value that could
  // be a name is first checked: most captures have none, and 8,594 names take a few milliseconds at every start.
  const namesText = readText(join(dir, 'first-names.txt'));
  let firstNames: Set<string> | null = null;
  return {
    healthKeys,
    healthText,
    healthTextByPair,
    piiKeys,
    get firstNames(): Set<string> {
      firstNames ??= nameSet(namesText);
      return firstNames;
    },
    medicalTerms: med.terms,
    piiFields: pii.fields,
  };
}

/**
 * The first occurrence of every free-text health form in `lower` (a lower-cased text), in the order of
 * `dict.healthText` (longest forms first); null when there is none. One pass over the text's positions, looking
 * up the forms that start with the two code units there, instead of one search per form (729 of them).
 */
export function healthTextMatches(dict: Dictionaries, lower: string): { h: HealthTextForm; at: number }[] | null {
  const byPair = dict.healthTextByPair;
  let found: { h: HealthTextForm; at: number }[] | null = null;
  for (let i = 0; i + 1 < lower.length; i++) {
    const list = byPair.get(pairKey(lower, i));
    if (list === undefined) continue;
    for (const h of list) {
      if (!lower.startsWith(h.lower, i)) continue;
      found ??= [];
      if (!found.some((x) => x.h === h)) found.push({ h, at: i });
    }
  }
  if (found !== null && found.length > 1) found.sort((a, b) => a.h.rank - b.h.rank);
  return found;
}

let cached: Dictionaries | null = null;

/** The shipped dictionaries, loaded once. */
export function defaultDictionaries(): Dictionaries {
  cached ??= loadDictionaries();
  return cached;
}
