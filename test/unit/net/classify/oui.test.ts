import { describe, expect, it } from 'vitest';
import {
  defaultOuiTable,
  lookupVendor,
  OuiTable,
  parseMac,
  RANDOMIZED,
  readOuiText,
} from '../../../../src/net/classify/oui.js';

describe('parseMac', () => {
  it('accepts colon, dash, dotted and bare notations in any case', () => {
    const v = 0x28_6c_07_12_34_56;
    expect(parseMac('28:6c:07:12:34:56')).toBe(v);
    expect(parseMac('28-6C-07-12-34-56')).toBe(v);
    expect(parseMac('286c.0712.3456')).toBe(v);
    expect(parseMac('286C07123456')).toBe(v);
    expect(parseMac(' 28:6c:07:12:34:56 ')).toBe(v);
  });

  it('rejects malformed strings', () => {
    for (const bad of [
      '',
      '28:6c:07:12:34',
      '28:6c:07:12:34:5g',
      '28:6c-07:12:34:56',
      '286c07123456ff',
      'zz',
      '28.6c.07.12.34.56',
    ]) {
      expect(parseMac(bad), bad).toBeNull();
    }
  });
});

describe('OuiTable', () => {
  const table = OuiTable.fromTsv(
    ['# test table', '001A11\tGoogle', '70B3D5\tIEEE-split', '70B3D5F2F\tTeleplatforms', 'F8B568E\tSome MA-M', ''].join(
      '\n',
    ),
  );

  it('prefers the most specific assignment', () => {
    expect(table.lookup('70:B3:D5:F2:FF:00')).toBe('Teleplatforms');
    expect(table.lookup('70:B3:D5:00:00:01')).toBe('IEEE-split');
    expect(table.lookup('F8:B5:68:E1:23:45')).toBe('Some MA-M');
    expect(table.lookup('F8:B5:68:F1:23:45')).toBeNull();
    expect(table.lookup('00:1a:11:aa:bb:cc')).toBe('Google');
    expect(table.size).toBe(4);
  });

  it('answers randomized for locally administered and null for group addresses', () => {
    expect(table.lookup('02:1a:11:aa:bb:cc')).toBe(RANDOMIZED);
    expect(table.lookup('da:a1:19:00:00:01')).toBe(RANDOMIZED);
    expect(table.lookup('01:00:5e:00:00:fb')).toBeNull();
    expect(table.lookup('ff:ff:ff:ff:ff:ff')).toBeNull();
  });

  it('accepts lines in any order; a prefix listed twice keeps its last vendor', () => {
    const t = OuiTable.fromTsv(['F8B568E\tMA-M', '001A11\tOld', '70B3D5F2F\tS', '001A11\tNew', '70B3D5\tL'].join('\n'));
    expect(t.size).toBe(4);
    expect(t.lookup('00:1a:11:00:00:01')).toBe('New');
    expect(t.lookup('70:B3:D5:F2:FF:00')).toBe('S');
    expect(t.lookup('70:B3:D5:F3:FF:00')).toBe('L');
    expect(t.lookup('F8:B5:68:E1:23:45')).toBe('MA-M');
    expect(t.lookup('00:1a:10:ff:ff:ff')).toBeNull();
  });

  it('rejects malformed table lines with the line number', () => {
    expect(() => OuiTable.fromTsv('001a11\tlower-case hex')).toThrow(/line 1/);
    expect(() => OuiTable.fromTsv('001A11 \tspace before the tab')).toThrow(/line 1/);
    expect(() => OuiTable.fromTsv('001A11\t  ')).toThrow(/line 1/);
    expect(() => OuiTable.fromTsv('# c\n001A1\tShort')).toThrow(/line 2/);
    expect(() => OuiTable.fromTsv('001A11\t')).toThrow(/line 1/);
  });
});

describe('lookupVendor (shipped IEEE table)', () => {
  it('knows phone and band vendors', () => {
    expect(lookupVendor('28:6c:07:00:00:01')).toMatch(/^Xiaomi/i); // 28:6C:07 XIAOMI Electronics
    expect(lookupVendor('64:09:80:00:00:01')).toMatch(/^Xiaomi/i); // 64:09:80 Xiaomi Communications
    expect(lookupVendor('00:00:f0:11:22:33')).toMatch(/^Samsung Electronics$/i); // 00:00:F0
    expect(lookupVendor('00:03:93:11:22:33')).toBe('Apple'); // 00:03:93
    expect(lookupVendor('f0:18:98:11:22:33')).toBe('Apple');
    expect(lookupVendor('00:e0:fc:11:22:33')).toMatch(/^HUAWEI/i);
    expect(lookupVendor('88:0f:10:11:22:33')).toMatch(/Huami/i); // 88:0F:10 Huami Information Technology
  });

  it('the shipped file is valid, sorted and free of duplicates (it is searched without being checked)', () => {
    const text = readOuiText();
    expect(defaultOuiTable().text).toBe(OuiTable.fromTsv(text).text);
    expect(defaultOuiTable().size).toBe(OuiTable.fromTsv(text).size);
  });

  it('finds every shipped prefix, the most specific one first', () => {
    const text = readOuiText();
    const rows = text
      .split('\n')
      .filter((l) => l.length > 0 && !l.startsWith('#'))
      .map((l) => l.split('\t') as [string, string]);
    expect(rows.length).toBeGreaterThan(40_000);
    const specific = new Set(rows.map(([p]) => p));
    let checked = 0;
    for (const [prefix, vendor] of rows) {
      const hex = prefix.padEnd(12, prefix.length === 6 ? '0' : '1');
      // Skip an MA-L block whose first address is itself inside an MA-M/MA-S assignment.
      if (prefix.length < 9 && (specific.has(hex.slice(0, 9)) || (prefix.length < 7 && specific.has(hex.slice(0, 7)))))
        continue;
      const first = Number.parseInt(hex.slice(0, 2), 16);
      if ((first & 0x03) !== 0) continue; // group / locally administered bits: not a vendor lookup
      expect(lookupVendor(hex), prefix).toBe(vendor.trim());
      checked++;
    }
    expect(checked).toBeGreaterThan(40_000);
  });

  it('answers randomized for a phone private Wi-Fi address', () => {
    expect(lookupVendor('3a:5f:01:22:33:44')).toBe(RANDOMIZED);
  });

  it('returns null for junk', () => {
    expect(lookupVendor('not a mac')).toBeNull();
  });
});
