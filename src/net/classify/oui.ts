// MAC address → vendor, from the IEEE public listings (MA-L, MA-M, MA-S/IAB) compiled into
// data/oui/oui.tsv.gz by scripts/build-oui.mjs.
//
// Locally administered addresses (bit 0x02 of the first octet) are not in any registry: phones use them as
// per-network randomised Wi-Fi addresses, so lookupVendor() answers 'randomized' for them.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { findShipped } from '../../core/paths.js';

/** What {@link lookupVendor} answers for a locally administered (randomised) address. */
export const RANDOMIZED = 'randomized';

/**
 * Parses a MAC address in the usual notations (`aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff`,
 * `aabbccddeeff`, any case) into its 48-bit value. Null when it is not exactly 12 hex digits in one of those
 * shapes.
 */
export function parseMac(mac: string): number | null {
  if (typeof mac !== 'string') return null;
  const s = mac.trim();
  const n = s.length;
  let sep = -1;
  if (n === 17) {
    sep = s.charCodeAt(2);
    if (sep !== 0x3a && sep !== 0x2d) return null;
  } else if (n === 14) {
    sep = 0x2e;
  } else if (n !== 12) {
    return null;
  }
  let value = 0;
  let digits = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (sep !== -1) {
      const isSepPos = n === 17 ? i % 3 === 2 : i % 5 === 4;
      if (isSepPos) {
        if (c !== sep) return null;
        continue;
      }
    }
    const d = hexDigit(c);
    if (d < 0) return null;
    value = value * 16 + d;
    digits++;
  }
  return digits === 12 ? value : null;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/**
 * A prefix table over the TSV text itself: one index of where each entry's line starts, sorted by prefix, and
 * a binary search per lookup. Loading the shipped table (46,000 prefixes) builds no map and no string per
 * entry, so an analysis of a small capture does not pay tens of milliseconds for vendors of three phones.
 */
export class OuiTable {
  /** Line start of each entry, ordered by its hex prefix (compared as text: `70B3D5` < `70B3D5F2F`). */
  readonly #starts: Uint32Array;
  readonly #text: string;

  private constructor(text: string, starts: Uint32Array) {
    this.#text = text;
    this.#starts = starts;
  }

  /**
   * Builds a table from TSV text: `#` comment lines, then `<hex prefix of 6, 7 or 9 digits>\t<vendor>`
   * (upper-case hex). Throws an Error naming the line for a malformed one. A prefix listed twice keeps its
   * last vendor. Lines need not be sorted (the shipped file is, which makes this one pass).
   */
  static fromTsv(text: string): OuiTable {
    const starts: number[] = [];
    let sorted = true;
    let duplicates = false;
    let line = 0;
    for (let pos = 0; pos < text.length; ) {
      let end = text.indexOf('\n', pos);
      if (end < 0) end = text.length;
      line++;
      if (end > pos && text.charCodeAt(pos) !== 0x23) {
        if (!validLine(text, pos, end)) {
          throw new Error(`oui table line ${line}: expected "<6, 7 or 9 hex digits>\\t<vendor>"`);
        }
        const prev = starts.length > 0 ? starts[starts.length - 1]! : -1;
        const order = prev < 0 ? -1 : compareKeys(text, prev, pos);
        if (order > 0) sorted = false;
        else if (order === 0) duplicates = true;
        starts.push(pos);
      }
      pos = end + 1;
    }
    let index = starts;
    if (!sorted || duplicates) {
      // Stable sort by prefix, then keep the last line of each prefix.
      index = starts
        .map((s, i) => [s, i] as const)
        .sort((a, b) => compareKeys(text, a[0], b[0]) || a[1] - b[1])
        .map((x) => x[0]);
      index = index.filter((s, i) => i + 1 >= index.length || compareKeys(text, s, index[i + 1]!) !== 0);
    }
    return new OuiTable(text, Uint32Array.from(index));
  }

  /** Number of prefixes. */
  get size(): number {
    return this.#starts.length;
  }

  /**
   * The registered vendor of a MAC address, most specific assignment first (MA-S, then MA-M, then MA-L).
   * 'randomized' for locally administered addresses; null for group (multicast) addresses, unregistered
   * prefixes and strings that are not MAC addresses.
   */
  lookup(mac: string): string | null {
    const value = parseMac(mac);
    if (value === null) return null;
    const first = Math.floor(value / 2 ** 40);
    if ((first & 0x01) !== 0) return null;
    if ((first & 0x02) !== 0) return RANDOMIZED;
    const hex = value.toString(16).toUpperCase().padStart(12, '0');
    return this.#find(hex.slice(0, 9)) ?? this.#find(hex.slice(0, 7)) ?? this.#find(hex.slice(0, 6));
  }

  #find(key: string): string | null {
    const text = this.#text;
    const starts = this.#starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = starts[mid]!;
      const c = compareKeyTo(text, at, key);
      if (c < 0) lo = mid + 1;
      else if (c > 0) hi = mid - 1;
      else {
        let end = text.indexOf('\n', at);
        if (end < 0) end = text.length;
        return text.slice(at + key.length + 1, end).trim();
      }
    }
    return null;
  }
}

function isUpperHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46);
}

/** `<6, 7 or 9 upper-case hex digits>\t<vendor with a non-blank character>` between `pos` and `end`. */
function validLine(text: string, pos: number, end: number): boolean {
  let i = pos;
  while (i < end && isUpperHex(text.charCodeAt(i))) i++;
  const digits = i - pos;
  if ((digits !== 6 && digits !== 7 && digits !== 9) || text.charCodeAt(i) !== 0x09) return false;
  for (let j = i + 1; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return true;
  }
  return false;
}

/** Order of the hex prefixes (the text before the tab) of the lines starting at `a` and `b`. */
function compareKeys(text: string, a: number, b: number): number {
  for (;;) {
    const ca = text.charCodeAt(a++);
    const cb = text.charCodeAt(b++);
    const ea = ca === 0x09;
    const eb = cb === 0x09;
    if (ea || eb) return ea && eb ? 0 : ea ? -1 : 1;
    if (ca !== cb) return ca - cb;
  }
}

/** Order of the hex prefix of the line starting at `at` against `key`. */
function compareKeyTo(text: string, at: number, key: string): number {
  for (let i = 0; ; i++) {
    const c = text.charCodeAt(at + i);
    const end = c === 0x09;
    if (i === key.length) return end ? 0 : 1;
    if (end) return -1;
    const d = c - key.charCodeAt(i);
    if (d !== 0) return d;
  }
}

/** Path of the shipped table (…/data/oui/oui.tsv.gz), found by walking up from this module. */
export function defaultOuiPath(): string {
  return findShipped('data/oui/oui.tsv.gz', 'file');
}

/** Reads a table file (gzip'd when its name ends in .gz). */
export function loadOuiTable(path: string = defaultOuiPath()): OuiTable {
  const raw = readFileSync(path);
  const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  return OuiTable.fromTsv(text);
}

let shared: OuiTable | undefined;

/** The shipped table, loaded on first use. */
export function defaultOuiTable(): OuiTable {
  shared ??= loadOuiTable();
  return shared;
}

/** Vendor of a MAC address from the shipped table (see {@link OuiTable.lookup}). */
export function lookupVendor(mac: string): string | null {
  return defaultOuiTable().lookup(mac);
}
