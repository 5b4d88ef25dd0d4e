import { describe, expect, it } from 'vitest';
import {
  isIpLiteral,
  isValidAsciiHostname,
  normalizeHostname,
  publicSuffix,
  registrableDomain,
} from '../../../../src/net/classify/domain.js';

describe('normalizeHostname', () => {
  it('lower-cases, trims and drops one trailing dot', () => {
    expect(normalizeHostname(' API.Huami.COM. ')).toBe('api.huami.com');
    expect(normalizeHostname('example.com')).toBe('example.com');
  });

  it('converts internationalised names to A-labels', () => {
    expect(normalizeHostname('bücher.de')).toBe('xn--bcher-kva.de');
  });

  it('rejects IP literals, empty and malformed names', () => {
    for (const bad of ['', '.', '..', 'a..b', '-a.com', 'a-.com', 'a b.com', '1.2.3.4', '[::1]', '::1', 'a.b.123']) {
      expect(normalizeHostname(bad), bad).toBeNull();
    }
    expect(normalizeHostname(`${'a'.repeat(64)}.com`)).toBeNull();
    expect(normalizeHostname(`${'a.'.repeat(127)}com`)).toBeNull();
  });

  it('accepts underscores in labels (service names in DNS)', () => {
    expect(normalizeHostname('_dns.resolver.arpa')).toBe('_dns.resolver.arpa');
    expect(isValidAsciiHostname('_dns.resolver.arpa')).toBe(true);
  });
});

describe('isIpLiteral', () => {
  it('recognises IPv4 and IPv6, bracketed and with a zone id', () => {
    expect(isIpLiteral('192.168.1.10')).toBe(true);
    expect(isIpLiteral('2001:db8::1')).toBe(true);
    expect(isIpLiteral('[2001:db8::1]')).toBe(true);
    expect(isIpLiteral('fe80::1%wlan0')).toBe(true);
    expect(isIpLiteral('example.com')).toBe(false);
    expect(isIpLiteral('999.1.1.1')).toBe(false);
  });
});

describe('registrableDomain', () => {
  it('uses multi-label ICANN suffixes', () => {
    expect(registrableDomain('a.b.example.co.uk')).toBe('example.co.uk');
    expect(registrableDomain('api.ihealthlabs.com.cn')).toBe('ihealthlabs.com.cn');
    expect(registrableDomain('login.sina.com.cn')).toBe('sina.com.cn');
    expect(registrableDomain('ido-ble-lib.cn-hongkong.log.aliyuncs.com')).toBe('aliyuncs.com');
  });

  it('handles case and a trailing dot', () => {
    expect(registrableDomain('API-MIFIT.HUAMI.COM.')).toBe('huami.com');
  });

  it('returns null for IP literals, public suffixes and invalid names', () => {
    expect(registrableDomain('8.8.8.8')).toBeNull();
    expect(registrableDomain('[2001:db8::1]')).toBeNull();
    expect(registrableDomain('com')).toBeNull();
    expect(registrableDomain('co.uk')).toBeNull();
    expect(registrableDomain('bad..name.com')).toBeNull();
    expect(registrableDomain('')).toBeNull();
  });

  it('counts private PSL suffixes by default (the tenant is the party) and can ignore them', () => {
    expect(registrableDomain('myapp.appspot.com')).toBe('myapp.appspot.com');
    expect(registrableDomain('myapp.appspot.com', { privateSuffixes: false })).toBe('appspot.com');
    expect(registrableDomain('bucket.s3.amazonaws.com')).toBe('bucket.s3.amazonaws.com');
    expect(registrableDomain('bucket.s3.amazonaws.com', { privateSuffixes: false })).toBe('amazonaws.com');
    expect(registrableDomain('appspot.com')).toBeNull();
    expect(registrableDomain('appspot.com', { privateSuffixes: false })).toBe('appspot.com');
  });
});

describe('publicSuffix', () => {
  it('gives the ICANN or private suffix', () => {
    expect(publicSuffix('x.example.com.cn')).toBe('com.cn');
    expect(publicSuffix('x.appspot.com')).toBe('appspot.com');
    expect(publicSuffix('x.appspot.com', { privateSuffixes: false })).toBe('com');
    expect(publicSuffix('10.0.0.1')).toBeNull();
  });
});
