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

/** A prefix table: exact maps per prefix length (24, 28 and 36 bits). */
export class OuiTable {
  readonly #l = new Map<number, string>();
  readonly #m = new Map<number, string>();
  readonly #s = new Map<number, string>();

  /**
   * Builds a table from TSV text: `#` comment lines, then `<hex prefix of 6, 7 or 9 digits>\t<vendor>`.
   * Throws an Error naming the line for a malformed one.
   */
  static fromTsv(text: string): OuiTable {
    const table = new OuiTable();
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line === undefined || line.length === 0 || line.charCodeAt(0) === 0x23) continue;
      const tab = line.indexOf('\t');
      const hex = tab > 0 ? line.slice(0, tab) : '';
      const vendor = tab > 0 ? line.slice(tab + 1).trim() : '';
      if (!/^[0-9A-F]{6}([0-9A-F]|[0-9A-F]{3})?$/.test(hex) || vendor.length === 0) {
        throw new Error(`oui table line ${i + 1}: expected "<6, 7 or 9 hex digits>\\t<vendor>"`);
      }
      const value = Number.parseInt(hex, 16);
      if (hex.length === 6) table.#l.set(value, vendor);
      else if (hex.length === 7) table.#m.set(value, vendor);
      else table.#s.set(value, vendor);
    }
    return table;
  }

  /** Number of prefixes. */
  get size(): number {
    return this.#l.size + this.#m.size + this.#s.size;
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
    return (
      this.#s.get(Math.floor(value / 2 ** 12)) ??
      this.#m.get(Math.floor(value / 2 ** 20)) ??
      this.#l.get(Math.floor(value / 2 ** 24)) ??
      null
    );
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
