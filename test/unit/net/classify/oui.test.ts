import { describe, expect, it } from 'vitest';
import { lookupVendor, OuiTable, parseMac, RANDOMIZED } from '../../../../src/net/classify/oui.js';

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

  it('rejects malformed table lines with the line number', () => {
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

  it('answers randomized for a phone private Wi-Fi address', () => {
    expect(lookupVendor('3a:5f:01:22:33:44')).toBe(RANDOMIZED);
  });

  it('returns null for junk', () => {
    expect(lookupVendor('not a mac')).toBeNull();
  });
});
