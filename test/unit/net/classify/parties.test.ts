import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defaultPartiesDir,
  defaultPartiesKnowledgeBase,
  isIsoCountryCode,
  loadPartiesKnowledgeBase,
  lookupParty,
  PARTY_ROLES,
  PartiesDataError,
  PartiesKnowledgeBase,
  type PartyEntry,
  parsePartiesFile,
  parseSourceIds,
} from '../../../../src/net/classify/parties.js';

const SOURCES = new Set(['xray', 'vendor-docs', 'rfc']);
const good: PartyEntry = {
  suffix: 'umeng.com',
  organization: 'Umeng',
  parent: 'Alibaba Group',
  ownerCountry: 'CN',
  role: 'analytics',
  tracker: true,
  source: 'xray',
};

function fileWith(...entries: unknown[]) {
  return { description: 'test', entries };
}

describe('parsePartiesFile validation', () => {
  it('accepts a well-formed entry', () => {
    expect(parsePartiesFile('t.json', fileWith(good), SOURCES)).toEqual([good]);
  });

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a missing source', { source: undefined }, /"source" is missing/],
    ['an unlisted source', { source: 'wikipedia' }, /not listed in data\/parties\/SOURCES\.md/],
    ['an invalid role', { role: 'tracking' }, /"role" must be one of/],
    ['an invalid country (UK is not ISO 3166-1)', { ownerCountry: 'UK' }, /not an ISO 3166-1 alpha-2 code/],
    ['a lower-case country', { ownerCountry: 'cn' }, /not an ISO 3166-1 alpha-2 code/],
    ['a suffix with a trailing dot', { suffix: 'umeng.com.' }, /not a valid lower-case domain/],
    ['an upper-case suffix', { suffix: 'Umeng.com' }, /not a valid lower-case domain/],
    ['an IP literal suffix', { suffix: '10.0.0.1' }, /not a valid lower-case domain/],
    ['a suffix with a space', { suffix: 'u meng.com' }, /not a valid lower-case domain/],
    ['a public suffix', { suffix: 'com.cn' }, /is a public suffix/],
    ['a non-boolean tracker', { tracker: 'yes' }, /"tracker" must be true or false/],
    ['a null organisation outside special-use names', { organization: null }, /may be null only/],
    ['a parent equal to the organisation', { parent: 'Umeng' }, /must differ/],
    ['a bad vendor id', { vendor: 'Huami Inc' }, /"vendor" must be a lower-case id/],
    ['an unknown key', { owner: 'x' }, /unknown key "owner"/],
  ];
  for (const [what, patch, message] of cases) {
    it(`rejects ${what}, naming the file and the entry`, () => {
      const entry: Record<string, unknown> = { ...good, ...patch };
      for (const k of Object.keys(patch)) if (patch[k] === undefined) delete entry[k];
      const run = () => parsePartiesFile('data/parties/x.json', fileWith(good, entry), SOURCES);
      expect(run).toThrow(PartiesDataError);
      expect(run).toThrow(message);
      expect(run).toThrow(/data\/parties\/x\.json: entry 1/);
    });
  }

  it('allows ownerless special-use names only with source rfc', () => {
    const local = {
      suffix: 'local',
      organization: null,
      parent: null,
      ownerCountry: null,
      role: 'local',
      tracker: false,
    };
    expect(parsePartiesFile('t.json', fileWith({ ...local, source: 'rfc' }), SOURCES)).toHaveLength(1);
    expect(() => parsePartiesFile('t.json', fileWith({ ...local, source: 'xray' }), SOURCES)).toThrow(PartiesDataError);
  });

  it('rejects a malformed file shape', () => {
    expect(() => parsePartiesFile('t.json', [good], SOURCES)).toThrow(/t\.json: expected an object/);
    expect(() => parsePartiesFile('t.json', { description: 'x' }, SOURCES)).toThrow(/"entries" must be an array/);
    expect(() => parsePartiesFile('t.json', { entries: [] }, SOURCES)).toThrow(/"description"/);
  });
});

describe('PartiesKnowledgeBase construction', () => {
  it('rejects a duplicated suffix, naming both files', () => {
    expect(() => new PartiesKnowledgeBase([good, { ...good }], ['a.json', 'b.json'])).toThrow(
      /b\.json: suffix "umeng\.com" is duplicated \(already in a\.json\)/,
    );
  });

  it('rejects an organisation given two owner countries or parents', () => {
    const other = { ...good, suffix: 'umsns.com', ownerCountry: 'US' };
    expect(() => new PartiesKnowledgeBase([good, other], ['a.json', 'b.json'])).toThrow(/organization "Umeng"/);
  });

  it('loads a directory and reports JSON syntax errors with the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parties-'));
    writeFileSync(join(dir, 'SOURCES.md'), '| id | x |\n|---|---|\n| `xray` | X-Ray |\n');
    writeFileSync(join(dir, 'a.json'), JSON.stringify(fileWith(good)));
    expect(loadPartiesKnowledgeBase(dir).size).toBe(1);
    writeFileSync(join(dir, 'b.json'), '{ "description": "x", "entries": [ ');
    expect(() => loadPartiesKnowledgeBase(dir)).toThrow(/b\.json/);
  });
});

describe('lookup', () => {
  const kb = new PartiesKnowledgeBase([
    good,
    { ...good, suffix: 'amap.com', organization: 'AutoNavi', role: 'location', tracker: false },
    { ...good, suffix: 'logs.amap.com', organization: 'AutoNavi', role: 'logging', tracker: true },
    {
      ...good,
      suffix: 'huami.com',
      organization: 'Zepp Health',
      parent: null,
      role: 'api',
      tracker: false,
      vendor: 'huami',
    },
  ]);

  it('matches the suffix itself and any subdomain', () => {
    expect(kb.lookup('umeng.com')?.organization).toBe('Umeng');
    expect(kb.lookup('plbslog.umeng.com')?.matchedSuffix).toBe('umeng.com');
    expect(kb.lookup('a.b.c.umeng.com')?.role).toBe('analytics');
  });

  it('only matches on label boundaries', () => {
    expect(kb.lookup('xumeng.com')).toBeNull();
    expect(kb.lookup('umeng.com.evil.net')).toBeNull();
  });

  it('lets the longest suffix win', () => {
    expect(kb.lookup('logs.amap.com')?.role).toBe('logging');
    expect(kb.lookup('x.logs.amap.com')?.matchedSuffix).toBe('logs.amap.com');
    expect(kb.lookup('restapi.amap.com')?.role).toBe('location');
    expect(kb.lookup('restapi.amap.com')?.matchedSuffix).toBe('amap.com');
  });

  it('ignores case and one trailing dot', () => {
    expect(kb.lookup('API-MIFIT.HUAMI.COM.')?.vendor).toBe('huami');
    expect(kb.lookup('Logs.Amap.Com')?.role).toBe('logging');
  });

  it('returns null for IP literals, invalid and unknown names', () => {
    for (const name of ['1.2.3.4', '2001:db8::1', '[::1]', '', '.', 'a..umeng.com', 'example.org']) {
      expect(kb.lookup(name), name).toBeNull();
    }
  });

  it('returns the same frozen object for repeated lookups', () => {
    const a = kb.lookup('x.umeng.com');
    expect(a).toBe(kb.lookup('x.umeng.com'));
    expect(Object.isFrozen(a)).toBe(true);
  });
});

describe('shipped knowledge base', () => {
  const kb = defaultPartiesKnowledgeBase();
  const sources = parseSourceIds(readFileSync(join(defaultPartiesDir(), 'SOURCES.md'), 'utf8'));

  it('loads, validates and is large enough', () => {
    expect(kb.size).toBeGreaterThanOrEqual(400);
  });

  it('gives every entry a listed source, a valid role and an ISO country', () => {
    for (const e of kb.entries()) {
      expect(sources.has(e.source), `${e.suffix}: ${e.source}`).toBe(true);
      expect(PARTY_ROLES).toContain(e.role);
      if (e.ownerCountry !== null) expect(isIsoCountryCode(e.ownerCountry), e.suffix).toBe(true);
    }
  });

  it('declares no non-commercial source as usable', () => {
    const text = readFileSync(join(defaultPartiesDir(), 'SOURCES.md'), 'utf8');
    const usable = text.split('## Considered and not bundled')[0] ?? '';
    expect(usable).not.toMatch(/CC BY-NC/);
  });

  // The hosts named by the smartband studies and the research notes (peers.md §4).
  const expectations: Array<[string, string, string, string]> = [
    ['ido-ble-lib.cn-hongkong.log.aliyuncs.com', 'Alibaba Cloud', 'logging', 'CN'],
    ['logs.amap.com', 'AutoNavi (Amap)', 'logging', 'CN'],
    ['apilocate.amap.com', 'AutoNavi (Amap)', 'location', 'CN'],
    ['restapi.amap.com', 'AutoNavi (Amap)', 'location', 'CN'],
    ['api.weibo.com', 'Weibo', 'social', 'CN'],
    ['login.sina.com.cn', 'Sina', 'social', 'CN'],
    ['cgi.connect.qq.com', 'Tencent', 'social', 'CN'],
    ['graph.facebook.com', 'Meta Platforms', 'analytics', 'US'],
    ['xtrapath2.izatcloud.net', 'Qualcomm', 'location', 'US'],
    ['app-measurement.com', 'Google', 'analytics', 'US'],
    ['api.geetest.com', 'GeeTest (Wuhan Jiyi Network Technology)', 'captcha', 'CN'],
    ['hmma.baidu.com', 'Baidu', 'analytics', 'CN'],
    ['plbslog.umeng.com', 'Umeng', 'analytics', 'CN'],
    ['log.umsns.com', 'Umeng', 'social', 'CN'],
    ['android.bugly.qq.com', 'Tencent', 'logging', 'CN'],
    ['api.jpush.cn', 'Aurora Mobile (JiGuang)', 'push', 'CN'],
    ['api.openweathermap.org', 'OpenWeather', 'weather', 'GB'],
    ['gllto.glpals.com', 'Broadcom', 'location', 'US'],
    ['d111111abcdef8.cloudfront.net', 'Amazon Web Services', 'cdn', 'US'],
    ['dns.google', 'Google', 'dns', 'US'],
  ];
  for (const [host, org, role, country] of expectations) {
    it(`classifies ${host}`, () => {
      const p = lookupParty(host);
      expect(p?.organization).toBe(org);
      expect(p?.role).toBe(role);
      expect(p?.ownerCountry).toBe(country);
    });
  }

  const firstParties: Array<[string, string]> = [
    ['api-mifit-de2.huami.com', 'huami'],
    ['api-mifit-us2.zepp.com', 'huami'],
    ['account.xiaomi.com', 'xiaomi'],
    ['health-api.cloud.huawei.com', 'huawei'],
    ['shealth.samsung.com', 'samsung'],
    ['wbsapi.withings.net', 'withings'],
    ['api.ihealthlabs.com.cn', 'ihealth'],
    ['veryfitproapi.veryfitplus.com', 'ido'],
    ['fitcloud.hetangsmart.com', 'fitcloud'],
    ['www.iwhop.com', 'wakeup'],
    ['connectapi.garmin.com', 'garmin'],
    ['api.fitbit.com', 'fitbit'],
    ['flow.polar.com', 'polar'],
  ];
  for (const [host, vendor] of firstParties) {
    it(`knows ${host} as a ${vendor} first-party host`, () => {
      const p = lookupParty(host);
      expect(p?.vendor).toBe(vendor);
      expect(p?.role).toBe('api');
    });
  }

  it('keeps first-party analytics separate from the vendor API', () => {
    expect(lookupParty('app-analytics-ru.huami.com')).toMatchObject({
      vendor: 'huami',
      role: 'analytics',
      tracker: true,
    });
    expect(lookupParty('data.mistat.xiaomi.com')).toMatchObject({ vendor: 'xiaomi', role: 'analytics' });
  });

  it('marks mDNS names local', () => {
    expect(lookupParty('MiBand.local')?.role).toBe('local');
  });

  it('looks up fast (cached and uncached)', () => {
    const hosts = kb
      .entries()
      .filter((e) => e.role !== 'local')
      .map((e) => `a1.b2.${e.suffix}`);
    const fresh = new PartiesKnowledgeBase(kb.entries());
    let t0 = performance.now();
    for (const h of hosts) fresh.lookup(h);
    const uncachedPerSec = hosts.length / ((performance.now() - t0) / 1000);
    const rounds = 200;
    t0 = performance.now();
    let hits = 0;
    for (let r = 0; r < rounds; r++) for (const h of hosts) if (fresh.lookup(h) !== null) hits++;
    const cachedPerSec = (rounds * hosts.length) / ((performance.now() - t0) / 1000);
    console.log(
      `parties lookup: ${Math.round(cachedPerSec).toLocaleString('en')} cached/s, ` +
        `${Math.round(uncachedPerSec).toLocaleString('en')} uncached/s (${hosts.length} hosts)`,
    );
    expect(hits).toBe(rounds * hosts.length);
    // Floors far below the measured figures so a loaded machine does not flake.
    expect(cachedPerSec).toBeGreaterThan(200_000);
    expect(uncachedPerSec).toBeGreaterThan(20_000);
  });
});
