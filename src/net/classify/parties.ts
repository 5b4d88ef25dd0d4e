// The parties knowledge base: domain suffix → organisation, parent, owner country, role, tracker flag, source.
//
// The data lives in data/parties/*.json (one entry per suffix, see docs/parties.md) and the sources with
// their licences in data/parties/SOURCES.md. Everything is validated when the base is built: a bad entry
// fails with a message naming the file, the entry and the problem. Lookups match the longest suffix on
// label boundaries (`api.umeng.com` matches `umeng.com`, never `xumeng.com`) and are memoised.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findShipped } from '../../core/paths.js';
import { getDomain } from '../../core/psl.js';
import { isValidAsciiHostname } from './domain.js';

/** Roles of a contacted party (design.md vocabulary). */
export const PARTY_ROLES = [
  'api',
  'advertising',
  'analytics',
  'social',
  'location',
  'weather',
  'logging',
  'captcha',
  'push',
  'cdn',
  'payment',
  'update',
  'dns',
  'local',
  'unknown',
] as const;
export type PartyRole = (typeof PARTY_ROLES)[number];

const ROLE_SET: ReadonlySet<string> = new Set(PARTY_ROLES);

/** ISO 3166-1 alpha-2 codes (officially assigned). */
const ISO_COUNTRIES: ReadonlySet<string> = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY ' +
    'BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK ' +
    'FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR ' +
    'IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ' +
    'ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM ' +
    'PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF ' +
    'TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);

/** True for an officially assigned ISO 3166-1 alpha-2 code (upper case). */
export function isIsoCountryCode(code: string): boolean {
  return ISO_COUNTRIES.has(code);
}

/** Source id reserved for special-use names (RFC 6761 and successors), which have no owner. */
const SPECIAL_USE_SOURCE = 'rfc';

/** One validated entry of a data file. */
export interface PartyEntry {
  suffix: string;
  organization: string | null;
  parent: string | null;
  ownerCountry: string | null;
  role: PartyRole;
  tracker: boolean;
  vendor?: string;
  source: string;
  note?: string;
}

/** The answer of a lookup. Objects are shared and frozen: do not mutate. */
export interface PartyInfo {
  organization: string | null;
  parent: string | null;
  ownerCountry: string | null;
  role: PartyRole;
  tracker: boolean;
  source: string;
  matchedSuffix: string;
  vendor?: string;
  note?: string;
}

/** A data file that failed validation. The message names the file and the entry. */
export class PartiesDataError extends Error {
  override name = 'PartiesDataError';
}

const ENTRY_KEYS: ReadonlySet<string> = new Set([
  'suffix',
  'organization',
  'parent',
  'ownerCountry',
  'role',
  'tracker',
  'vendor',
  'source',
  'note',
]);
const VENDOR_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.trim().length > 0 && v === v.trim();
}

/**
 * Validates the parsed JSON of one data file (`{ "description": string, "entries": [...] }`) and returns its
 * entries. Pure. Throws {@link PartiesDataError} naming `file` and the entry on the first problem found.
 */
export function parsePartiesFile(file: string, json: unknown, knownSources: ReadonlySet<string>): PartyEntry[] {
  if (!isRecord(json)) throw new PartiesDataError(`${file}: expected an object with "description" and "entries"`);
  if (!nonEmptyString(json.description))
    throw new PartiesDataError(`${file}: "description" must be a non-empty string`);
  if (!Array.isArray(json.entries)) throw new PartiesDataError(`${file}: "entries" must be an array`);
  for (const key of Object.keys(json)) {
    if (key !== 'description' && key !== 'entries')
      throw new PartiesDataError(`${file}: unknown top-level key "${key}"`);
  }
  const out: PartyEntry[] = [];
  json.entries.forEach((raw: unknown, index: number) => {
    out.push(validateEntry(file, index, raw, knownSources));
  });
  return out;
}

function validateEntry(file: string, index: number, raw: unknown, knownSources: ReadonlySet<string>): PartyEntry {
  const where = (suffix?: unknown) =>
    `${file}: entry ${index}${typeof suffix === 'string' ? ` (suffix "${suffix}")` : ''}`;
  if (!isRecord(raw)) throw new PartiesDataError(`${where()}: expected an object`);
  const fail = (msg: string): never => {
    throw new PartiesDataError(`${where(raw.suffix)}: ${msg}`);
  };
  for (const key of Object.keys(raw)) if (!ENTRY_KEYS.has(key)) fail(`unknown key "${key}"`);

  const { suffix, organization, parent, ownerCountry, role, tracker, vendor, source, note } = raw;
  if (!nonEmptyString(source)) return fail('"source" is missing (every entry needs a source listed in SOURCES.md)');
  if (!knownSources.has(source)) fail(`"source" "${source}" is not listed in data/parties/SOURCES.md`);
  const specialUse = source === SPECIAL_USE_SOURCE;

  if (typeof suffix !== 'string') return fail('"suffix" must be a string');
  if (!isValidAsciiHostname(suffix)) {
    fail('"suffix" is not a valid lower-case domain name (no trailing dot, no IP literal, labels [a-z0-9_-])');
  }
  if (!specialUse && getDomain(suffix, { allowPrivateDomains: false, validateHostname: false }) === null) {
    fail('"suffix" is a public suffix (e.g. "com", "co.uk"); use a registrable domain or a name below one');
  }

  if (typeof role !== 'string' || !ROLE_SET.has(role)) fail(`"role" must be one of ${PARTY_ROLES.join(', ')}`);
  if (typeof tracker !== 'boolean') fail('"tracker" must be true or false');

  if (organization === null || ownerCountry === null) {
    if (!specialUse) fail('"organization" and "ownerCountry" may be null only for special-use names (source "rfc")');
  }
  if (organization !== null && !nonEmptyString(organization)) fail('"organization" must be a non-empty string or null');
  if (parent !== null && !nonEmptyString(parent)) fail('"parent" must be a non-empty string or null');
  if (parent !== null && parent === organization) fail('"parent" must differ from "organization" (use null)');
  if (ownerCountry !== null && (typeof ownerCountry !== 'string' || !ISO_COUNTRIES.has(ownerCountry))) {
    fail(`"ownerCountry" ${JSON.stringify(ownerCountry)} is not an ISO 3166-1 alpha-2 code (e.g. "CN", "US", "GB")`);
  }
  if (vendor !== undefined && (typeof vendor !== 'string' || !VENDOR_ID.test(vendor))) {
    fail('"vendor" must be a lower-case id such as "huami"');
  }
  if (note !== undefined && !nonEmptyString(note)) fail('"note" must be a non-empty string when present');

  const entry: PartyEntry = {
    suffix,
    organization: organization as string | null,
    parent: parent as string | null,
    ownerCountry: ownerCountry as string | null,
    role: role as PartyRole,
    tracker: tracker as boolean,
    source,
  };
  if (vendor !== undefined) entry.vendor = vendor as string;
  if (note !== undefined) entry.note = note as string;
  return entry;
}

/** Source ids declared in SOURCES.md: table rows whose first cell is a code span, e.g. "| `xray` | ...". */
export function parseSourceIds(markdown: string): Set<string> {
  const ids = new Set<string>();
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`([a-z0-9][a-z0-9-]*)`\s*\|/.exec(line);
    if (m?.[1]) ids.add(m[1]);
  }
  return ids;
}

const CACHE_LIMIT = 16_384;

/** An immutable, validated knowledge base with a memoised longest-suffix lookup. */
export class PartiesKnowledgeBase {
  readonly #bySuffix = new Map<string, PartyInfo>();
  readonly #entries: readonly PartyEntry[];
  #cache = new Map<string, PartyInfo | null>();

  /**
   * Builds the base from validated entries. `files[i]` names where `entries[i]` came from, for messages.
   * Throws {@link PartiesDataError} on duplicated suffixes and on an organisation given two different
   * parents or owner countries.
   */
  constructor(entries: readonly PartyEntry[], files?: readonly string[]) {
    const firstFile = new Map<string, string>();
    const orgFacts = new Map<string, { parent: string | null; ownerCountry: string | null; file: string }>();
    entries.forEach((e, i) => {
      const file = files?.[i] ?? '(entries)';
      const prev = firstFile.get(e.suffix);
      if (prev !== undefined) {
        throw new PartiesDataError(`${file}: suffix "${e.suffix}" is duplicated (already in ${prev})`);
      }
      firstFile.set(e.suffix, file);
      if (e.organization !== null) {
        const known = orgFacts.get(e.organization);
        if (known === undefined) {
          orgFacts.set(e.organization, { parent: e.parent, ownerCountry: e.ownerCountry, file });
        } else if (known.parent !== e.parent || known.ownerCountry !== e.ownerCountry) {
          throw new PartiesDataError(
            `${file}: suffix "${e.suffix}": organization "${e.organization}" has parent ${JSON.stringify(e.parent)} / ` +
              `country ${JSON.stringify(e.ownerCountry)}, but ${known.file} says ${JSON.stringify(known.parent)} / ` +
              `${JSON.stringify(known.ownerCountry)}`,
          );
        }
      }
      const info: PartyInfo = {
        organization: e.organization,
        parent: e.parent,
        ownerCountry: e.ownerCountry,
        role: e.role,
        tracker: e.tracker,
        source: e.source,
        matchedSuffix: e.suffix,
      };
      if (e.vendor !== undefined) info.vendor = e.vendor;
      if (e.note !== undefined) info.note = e.note;
      this.#bySuffix.set(e.suffix, Object.freeze(info));
    });
    this.#entries = Object.freeze(entries.map((e) => Object.freeze({ ...e })));
  }

  /** Number of entries. */
  get size(): number {
    return this.#bySuffix.size;
  }

  /** All entries, in load order. */
  entries(): readonly PartyEntry[] {
    return this.#entries;
  }

  /**
   * The party of a host name: the entry with the longest suffix that equals the name or ends it on a label
   * boundary. Case and one trailing dot are ignored. Null for IP literals, invalid names and unknown names.
   */
  lookup(hostname: string): PartyInfo | null {
    const cached = this.#cache.get(hostname);
    if (cached !== undefined) return cached;
    const result = this.#resolve(hostname);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache = new Map();
    if (typeof hostname === 'string' && hostname.length <= 260) this.#cache.set(hostname, result);
    return result;
  }

  #resolve(hostname: string): PartyInfo | null {
    if (typeof hostname !== 'string') return null;
    let name = hostname.trim().toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (!isValidAsciiHostname(name)) return null;
    // Longest first: the whole name, then drop one leading label at a time.
    let from = 0;
    for (;;) {
      const hit = this.#bySuffix.get(from === 0 ? name : name.slice(from));
      if (hit !== undefined) return hit;
      const dot = name.indexOf('.', from);
      if (dot < 0) return null;
      from = dot + 1;
    }
  }
}

/** Directory of the shipped data (…/data/parties), found by walking up from this module. */
export function defaultPartiesDir(): string {
  try {
    return findShipped('data/parties', 'dir');
  } catch (err) {
    throw new PartiesDataError((err as Error).message);
  }
}

/**
 * Reads and validates every `*.json` file of a parties directory against the sources of its SOURCES.md.
 * Throws {@link PartiesDataError} (or a JSON syntax error wrapped in one) naming the file.
 */
export function loadPartiesKnowledgeBase(dir: string = defaultPartiesDir()): PartiesKnowledgeBase {
  let sourcesText: string;
  try {
    sourcesText = readFileSync(join(dir, 'SOURCES.md'), 'utf8');
  } catch (err) {
    throw new PartiesDataError(`${join(dir, 'SOURCES.md')}: cannot read (${(err as Error).message})`);
  }
  const sources = parseSourceIds(sourcesText);
  const entries: PartyEntry[] = [];
  const files: string[] = [];
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (names.length === 0) throw new PartiesDataError(`${dir}: no *.json data files`);
  for (const name of names) {
    const path = join(dir, name);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new PartiesDataError(`${path}: ${(err as Error).message}`);
    }
    for (const e of parsePartiesFile(path, json, sources)) {
      entries.push(e);
      files.push(path);
    }
  }
  return new PartiesKnowledgeBase(entries, files);
}

let shared: PartiesKnowledgeBase | undefined;

/** The shipped knowledge base, loaded and validated on first use (call at startup to fail fast). */
export function defaultPartiesKnowledgeBase(): PartiesKnowledgeBase {
  shared ??= loadPartiesKnowledgeBase();
  return shared;
}

/** Looks a host name up in the shipped knowledge base (see {@link PartiesKnowledgeBase.lookup}). */
export function lookupParty(hostname: string): PartyInfo | null {
  return defaultPartiesKnowledgeBase().lookup(hostname);
}
