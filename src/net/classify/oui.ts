// MAC address → vendor, from the IEEE public listings (MA-L, MA-M, MA-S/IAB) compiled into
// data/oui/oui.tsv by scripts/build-oui.mjs.
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
 * A prefix table over TSV text sorted by prefix (`<hex prefix>\t<vendor>` lines), searched by bisecting its
 * UTF-8 bytes: no map, no index, no string per entry and no decoding but the vendor found. Loading the shipped
 * table (46,000 prefixes, 1.2 MB) is one file read, so an analysis of a small capture does not pay tens of
 * milliseconds for the vendors of three phones.
 */
export class OuiTable {
  /** Entry lines only, sorted by prefix (compared as text: `70B3D5` < `70B3D5F2F`), each ending in `\n`. */
  readonly #bytes: Uint8Array;
  #size = -1;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /**
   * Builds a table from TSV text: `#` comment lines, then `<hex prefix of 6, 7 or 9 digits>\t<vendor>`
   * (upper-case hex), in any order. Throws an Error naming the line for a malformed one. A prefix listed
   * twice keeps its last vendor.
   */
  static fromTsv(text: string): OuiTable {
    const entries: { key: string; line: string; at: number }[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.length === 0 || line.charCodeAt(0) === 0x23) continue;
      if (!validLine(line)) throw new Error(`oui table line ${i + 1}: expected "<6, 7 or 9 hex digits>\\t<vendor>"`);
      entries.push({ key: line.slice(0, line.indexOf('\t')), line, at: i });
    }
    entries.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : x.at - y.at));
    const kept = entries.filter((e, i) => i + 1 >= entries.length || entries[i + 1]!.key !== e.key);
    return new OuiTable(Buffer.from(kept.map((e) => `${e.line}\n`).join(''), 'utf8'));
  }

  /**
   * The shipped table's UTF-8 bytes as scripts/build-oui.mjs writes them: comment lines first, then valid entry
   * lines sorted by prefix, no duplicates (a test checks the shipped file against {@link fromTsv}). Not
   * validated.
   */
  static fromSortedTsv(bytes: Uint8Array): OuiTable {
    let start = 0;
    while (start < bytes.length && bytes[start] === 0x23) {
      const nl = bytes.indexOf(0x0a, start);
      start = nl < 0 ? bytes.length : nl + 1;
    }
    const body = bytes.subarray(start);
    if (body.length === 0 || body[body.length - 1] === 0x0a) return new OuiTable(body);
    const ended = new Uint8Array(body.length + 1);
    ended.set(body);
    ended[body.length] = 0x0a;
    return new OuiTable(ended);
  }

  /** Number of prefixes. */
  get size(): number {
    if (this.#size < 0) {
      let n = 0;
      for (let i = this.#bytes.indexOf(0x0a); i >= 0; i = this.#bytes.indexOf(0x0a, i + 1)) n++;
      this.#size = n;
    }
    return this.#size;
  }

  /** The entry lines, sorted (for comparing tables). */
  get text(): string {
    return utf8.decode(this.#bytes);
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

  /** Bisects the bytes: every step lands in some line, backs up to its start, and compares its prefix. */
  #find(key: string): string | null {
    const b = this.#bytes;
    let lo = 0; // always the start of a line
    let hi = b.length; // the search space is the lines starting in [lo, hi)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = mid === 0 ? 0 : b.lastIndexOf(0x0a, mid - 1) + 1;
      const end = b.indexOf(0x0a, at);
      const c = compareKeyTo(b, at, key);
      if (c === 0) return utf8.decode(b.subarray(at + key.length + 1, end)).trim();
      if (c < 0) lo = end + 1;
      else hi = at;
    }
    return null;
  }
}

const utf8 = new TextDecoder('utf-8');

function isUpperHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46);
}

/** `<6, 7 or 9 upper-case hex digits>\t<vendor with a non-blank character>`. */
function validLine(line: string): boolean {
  let i = 0;
  while (i < line.length && isUpperHex(line.charCodeAt(i))) i++;
  if ((i !== 6 && i !== 7 && i !== 9) || line.charCodeAt(i) !== 0x09) return false;
  return line.slice(i + 1).trim().length > 0;
}

/** Order of the hex prefix of the line starting at `at` against `key` (ASCII: byte and code unit agree). */
function compareKeyTo(b: Uint8Array, at: number, key: string): number {
  for (let i = 0; ; i++) {
    const c = b[at + i]!;
    const end = c === 0x09;
    if (i === key.length) return end ? 0 : 1;
    if (end) return -1;
    const d = c - key.charCodeAt(i);
    if (d !== 0) return d;
  }
}

/** Path of the shipped table (…/data/oui/oui.tsv), found by walking up from this module. */
export function defaultOuiPath(): string {
  return findShipped('data/oui/oui.tsv', 'file');
}

/** The bytes of a table file (gunzipped when its name ends in .gz). */
function readOuiBytes(path: string): Uint8Array {
  const raw = readFileSync(path);
  return path.endsWith('.gz') ? gunzipSync(raw) : raw;
}

/** The text of a table file (gunzipped when its name ends in .gz). */
export function readOuiText(path: string = defaultOuiPath()): string {
  return utf8.decode(readOuiBytes(path));
}

/** Reads and validates a table file (see {@link OuiTable.fromTsv}). */
export function loadOuiTable(path: string): OuiTable {
  return OuiTable.fromTsv(readOuiText(path));
}

let shared: OuiTable | undefined;

/** The shipped table, loaded on first use (already sorted and checked when it was built: not validated again). */
export function defaultOuiTable(): OuiTable {
  shared ??= OuiTable.fromSortedTsv(readOuiBytes(defaultOuiPath()));
  return shared;
}

/** Vendor of a MAC address from the shipped table (see {@link OuiTable.lookup}). */
export function lookupVendor(mac: string): string | null {
  return defaultOuiTable().lookup(mac);
}
