/**
 * The capture of issue 3: one phone running three companion apps (test/fixtures/pcap/real/apps-phone.pcap,
 * made by real clients in network namespaces; its README section says what it holds). The report must give
 * each party its organization, role and party, list each leak with the right kind, and infer the events.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeFiles } from '../../src/net/analyze.js';
import { defaultClassifier } from '../../src/net/classify/classifier.js';
import type { AnalyzeReport } from '../../src/net/report.js';

const PCAP = fileURLToPath(new URL('../fixtures/pcap/real/apps-phone.pcap', import.meta.url));
const PHONE = '64:09:80:3c:5e:a1';

let report: AnalyzeReport;
let bare: AnalyzeReport;

beforeAll(async () => {
  report = await analyzeFiles([PCAP], { classifier: defaultClassifier() });
  bare = await analyzeFiles([PCAP], { classifier: defaultClassifier(), inspect: false });
});

function contact(name: string | null, serverIp?: string) {
  const c = report.contacts.filter(
    (x) => x.client === PHONE && x.name === name && (!serverIp || x.serverIp === serverIp),
  );
  expect(c, `contact ${name} ${serverIp ?? ''}`).toHaveLength(1);
  return c[0]!;
}

describe('apps-phone.pcap: parties', () => {
  it('infers the three companion apps from their vendor domains', () => {
    expect(report.clients.find((c) => c.id === PHONE)?.apps).toEqual(['huami', 'ido', 'withings']);
  });

  it.each([
    ['api-mifit.huami.com', 'first', 'api', 'Zepp Health', 'CN', 'huami', 'tls'],
    ['api.veryfitplus.com', 'first', 'api', 'Shenzhen DO Intelligent Technology (IDO)', 'CN', 'ido', 'http'],
    ['wbsapi.withings.net', 'first', 'api', 'Withings', 'FR', 'withings', 'http'],
    ['app-measurement.com', 'third', 'analytics', 'Google', 'US', null, 'tls'],
    ['alog.umeng.com', 'third', 'analytics', 'Umeng', 'CN', null, 'http'],
    ['pagead2.googlesyndication.com', 'third', 'advertising', 'Google', 'US', null, 'tls'],
    ['api.weibo.com', 'third', 'social', 'Weibo', 'CN', null, 'tls'],
    ['restapi.amap.com', 'third', 'location', 'AutoNavi (Amap)', 'CN', null, 'tls'],
    ['api.qweather.com', 'third', 'weather', 'QWeather (Hefeng)', 'CN', null, 'tls'],
    ['android.bugly.qq.com', 'third', 'logging', 'Tencent', 'CN', null, 'tls'],
    ['api.geetest.com', 'third', 'captcha', 'GeeTest (Wuhan Jiyi Network Technology)', 'CN', null, 'tls'],
    ['api.jpush.cn', 'third', 'push', 'Aurora Mobile (JiGuang)', 'CN', null, 'tls'],
  ])('%s: %s party, role %s, %s (%s), app %s, %s', (name, party, role, org, cc, app, protocol) => {
    const c = contact(name);
    expect([c.party, c.role, c.organization, c.ownerCountry, c.app, c.protocol]).toEqual([
      party,
      role,
      org,
      cc,
      app,
      protocol,
    ]);
    expect(c.encrypted).toBe(protocol === 'tls');
  });

  it('the TLS connection to a bare IP has no name, an unknown party and no owner', () => {
    const c = contact(null, '203.0.113.43');
    expect([c.protocol, c.nameSource, c.party, c.role, c.organization, c.port]).toEqual([
      'tls',
      'none',
      'unknown',
      'unknown',
      null,
      443,
    ]);
  });
});

describe('apps-phone.pcap: leaks', () => {
  const leak = (name: string, kind: string, term: string) =>
    report.leaks.filter((l) => l.client === PHONE && l.name === name && l.kind === kind && l.term === term);

  it.each([
    // The plaintext GET with phone model and OS in the query.
    ['api.veryfitplus.com', 'device', 'phone model', 'plain', 'model=Redmi Note 12'],
    ['api.veryfitplus.com', 'device', 'os version', 'plain', 'os=Android 13'],
    ['api.veryfitplus.com', 'device', 'phone brand', 'plain', 'brand=Xiaomi'],
    // The zlib body without a Content-Encoding header: found by sniffing, decoded, then scanned.
    ['alog.umeng.com', 'device', 'imei', 'zlib', 'imei=356938035643809'],
    ['alog.umeng.com', 'device', 'phone model', 'zlib', 'model=Redmi Note 12'],
    ['alog.umeng.com', 'device', 'os version', 'zlib', 'os=Android 13'],
    ['alog.umeng.com', 'network', 'wi-fi mac address', 'zlib', 'wifiMac=64:09:80:3c:5e:a1'],
    ['alog.umeng.com', 'location', 'coordinates', 'zlib', 'lat=48.1372'],
    // The request line that reveals a blood-pressure measurement.
    ['wbsapi.withings.net', 'health', 'blood pressure', 'plain', 'GET /bp/measure?sys=132&dia=85'],
    ['wbsapi.withings.net', 'health', 'systolic', 'plain', 'sys=132'],
    ['wbsapi.withings.net', 'health', 'diastolic', 'plain', 'dia=85'],
    ['wbsapi.withings.net', 'identity', 'user id', 'plain', 'userid=20394857'],
    ['wbsapi.withings.net', 'health', 'weight', 'plain', 'weight=72.4'],
    ['wbsapi.withings.net', 'identity', 'e-mail address', 'plain', 'email=marie.curie@example.org'],
  ])('%s: %s / %s (%s)', (name, kind, term, encoding, evidence) => {
    const l = leak(name, kind, term);
    expect(l, JSON.stringify(report.leaks, null, 1)).toHaveLength(1);
    expect(l[0]!.encoding).toBe(encoding);
    expect(l[0]!.evidence).toContain(evidence);
    expect(l[0]!.protocol).toBe('http');
    expect(l[0]!.serverIp).toMatch(/^203\.0\.113\./);
  });

  it('the user id is counted in both Withings requests', () => {
    expect(leak('wbsapi.withings.net', 'identity', 'user id')[0]!.count).toBe(2);
  });

  it('nothing leaks from the TLS connections (their payloads are encrypted)', () => {
    const tlsNames = new Set(report.contacts.filter((c) => c.protocol === 'tls').map((c) => c.name));
    expect(report.leaks.filter((l) => tlsNames.has(l.name) || l.serverIp === '203.0.113.43')).toEqual([]);
  });

  it('every leak is one of the expected ones: no false positives', () => {
    const seen = report.leaks.map((l) => `${l.name} ${l.kind} ${l.term}`).sort();
    expect(seen).toEqual(
      [
        'alog.umeng.com device imei',
        'alog.umeng.com device os version',
        'alog.umeng.com device phone model',
        'alog.umeng.com location coordinates',
        'alog.umeng.com network wi-fi mac address',
        'api.veryfitplus.com device os version',
        'api.veryfitplus.com device phone brand',
        'api.veryfitplus.com device phone model',
        'wbsapi.withings.net health blood pressure',
        'wbsapi.withings.net health diastolic',
        'wbsapi.withings.net health measurement',
        'wbsapi.withings.net health systolic',
        'wbsapi.withings.net health weight',
        'wbsapi.withings.net identity e-mail address',
        'wbsapi.withings.net identity user id',
      ].sort(),
    );
  });
});

describe('apps-phone.pcap: events', () => {
  it('app start, sync and measurement per app', () => {
    const ev = report.events.map((e) => `${e.client} ${e.app} ${e.kind}`);
    expect(ev).toEqual([
      `${PHONE} huami app-open`,
      `${PHONE} huami sync`,
      `${PHONE} ido app-open`,
      `${PHONE} withings measurement`,
      `${PHONE} withings sync`,
    ]);
    const byKind = (app: string, kind: string) => report.events.find((e) => e.app === app && e.kind === kind)!;
    expect(byKind('huami', 'app-open').evidence).toContain('8 SDK host(s)');
    expect(byKind('huami', 'sync').evidence).toMatch(/3 connection\(s\) to api-mifit\.huami\.com, 1\d\.\d kB up/);
    expect(byKind('ido', 'app-open').evidence).toContain('alog.umeng.com');
    expect(byKind('withings', 'measurement').evidence).toBe(
      'GET wbsapi.withings.net/bp/measure reveals blood pressure, systolic, diastolic',
    );
    expect(byKind('withings', 'sync').evidence).toContain('1 upload request(s) in clear text');
    // Events carry the capture's times: the measurement comes 20–30 s after the first app's start.
    const t = (app: string, kind: string) => Date.parse(byKind(app, kind).at);
    expect(t('withings', 'measurement') - t('huami', 'app-open')).toBeGreaterThan(20_000);
    expect(t('withings', 'measurement') - t('huami', 'app-open')).toBeLessThan(40_000);
  });

  it('with inspection off the contacts are the same and leaks/events are empty', () => {
    expect(bare.leaks).toEqual([]);
    expect(bare.events).toEqual([]);
    expect(bare.contacts).toEqual(report.contacts);
  });
});
