import { randomBytes } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type HttpRequestLike, LeakDetector, maskSecret } from '../../../../src/net/inspect/detectors.js';
import { defaultDictionaries, healthTextMatches, normalizeKey } from '../../../../src/net/inspect/dictionaries.js';

const det = new LeakDetector(defaultDictionaries());
const enc = new TextEncoder();

function req(target: string, opts: Partial<HttpRequestLike> & { text?: string } = {}) {
  return det.scanHttpRequest({
    method: opts.method ?? (opts.text || opts.body ? 'POST' : 'GET'),
    target,
    headers: opts.headers ?? [],
    body: opts.body ?? enc.encode(opts.text ?? ''),
    contentEncoding: opts.contentEncoding ?? null,
    contentType: opts.contentType ?? null,
  });
}
const kinds = (f: { kind: string; term: string; encoding: string }[]) =>
  f.map((x) => `${x.kind}/${x.term}/${x.encoding}`).sort();

describe('positives', () => {
  it('query: phone model, OS, user id, coordinates, blood pressure by key', () => {
    expect(
      kinds(req('/a?model=SM-S911B&osVersion=Android%2014&user_id=889900&lat=31.2304&lng=121.4737&bp=120%2F80')),
    ).toEqual(
      [
        'device/phone model/plain',
        'device/os version/plain',
        'identity/user id/plain',
        'location/coordinates/plain',
        'health/blood pressure/plain',
      ].sort(),
    );
  });

  it('path: a measurement in the request line (any of the dictionary languages), a user id after /users/', () => {
    expect(kinds(req('/api/heart_rate/upload'))).toEqual(['health/heart rate/plain']);
    expect(kinds(req('/xueya/measure'))).toEqual(['health/blood pressure/plain']);
    expect(kinds(req('/v1/glucose'))).toEqual(['health/glucose/plain']);
    expect(kinds(req('/users/5f3c9a7e21/profile'))).toEqual(['identity/user id/plain']);
    expect(kinds(req('/cgi-bin/measure?action=getmeas'))).toEqual(['health/measurement/plain']);
  });

  it('JSON body: e-mail, name from the dictionary (Chinese too), birthday, gender, height, weight, spo2, sleep', () => {
    const text = JSON.stringify({
      profile: { nickname: 'Xiaoming', realName: '王小明', birthday: '1990-04-12', gender: 'female', height: 168 },
      contact: { email: 'wei.zhang@example.cn' },
      samples: [{ spo2: 97, weight: 61.5, deepSleep: 94 }],
    });
    expect(kinds(req('/sync', { text, contentType: 'application/json' }))).toEqual(
      [
        'identity/personal name/plain',
        'identity/birthday/plain',
        'identity/gender/plain',
        'health/height/plain',
        'identity/e-mail address/plain',
        'health/blood oxygen/plain',
        'health/weight/plain',
        'health/deep sleep/plain',
      ].sort(),
    );
  });

  it('form and XML bodies', () => {
    expect(kinds(req('/login', { text: 'username=Jane.Doe&password=hunter22&imei=356938035643809' }))).toEqual(
      ['identity/personal name/plain', 'credential/password/plain', 'device/imei/plain'].sort(),
    );
    const xml = '<?xml version="1.0"?><m><userId>42424242</userId><heartRate>71</heartRate><ssid>HomeNet</ssid></m>';
    expect(kinds(req('/x', { text: xml, contentType: 'text/xml' }))).toEqual(
      ['identity/user id/plain', 'health/heart rate/plain', 'network/ssid/plain'].sort(),
    );
  });

  it('headers: Authorization and Cookie (masked), User-Agent model and OS, X- headers', () => {
    const f = req('/', {
      headers: [
        ['Authorization', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl'],
        ['Cookie', 'JSESSIONID=ABCDEF0123456789; lang=en'],
        ['User-Agent', 'Dalvik/2.1.0 (Linux; U; Android 13; 22111317G Build/TP1A.220624.014)'],
        ['X-Device-Id', 'a1b2c3d4e5f6'],
      ],
    });
    expect(kinds(f)).toEqual(
      [
        'credential/authorization/plain',
        'credential/cookie/plain',
        'credential/session id/plain',
        'device/os version/plain',
        'device/phone model/plain',
        'device/device id/plain',
      ].sort(),
    );
    const auth = f.find((x) => x.term === 'authorization')!;
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXZhbHVl';
    expect(auth.evidence).toBe(`Authorization: Bearer ${maskSecret(token)}`);
    expect(auth.evidence).not.toContain('eyJzdWIi');
    expect(f.find((x) => x.term === 'session id')!.evidence).toBe('Cookie: JSESSIONID=ABCD…6789');
  });

  it('compressed and encoded bodies carry their encoding chain', () => {
    const body = JSON.stringify({ mac: 'C8:0F:10:AB:CD:EF', heartRate: 77 });
    expect(kinds(req('/u', { body: new Uint8Array(gzipSync(body)), contentEncoding: 'gzip' }))).toEqual(
      ['device/band mac address/gzip', 'health/heart rate/gzip'].sort(),
    );
    // A bare zlib stream, no header: found by its bytes.
    expect(kinds(req('/u', { body: new Uint8Array(deflateSync(body)) }))).toEqual(
      ['device/band mac address/zlib', 'health/heart rate/zlib'].sort(),
    );
    // base64 inside a form value, and gzip inside that.
    const b64 = gzipSync(body).toString('base64');
    expect(kinds(req('/u', { text: `v=2&payload=${encodeURIComponent(b64)}` }))).toEqual(
      ['device/band mac address/base64+gzip', 'health/heart rate/base64+gzip'].sort(),
    );
  });

  it('free text: measurements with units, medical terms in German, French, Spanish and Chinese', () => {
    expect(kinds(det.scanText('BP 135/88 mmHg, pulse 80 bpm, Glukose 5.6 mmol/L'))).toEqual(
      ['health/blood pressure/plain', 'health/heart rate/plain', 'health/glucose/plain'].sort(),
    );
    expect(kinds(det.scanText('Mein Blutdruck war gestern hoch'))).toEqual(['health/blood pressure/plain']);
    expect(kinds(det.scanText('rappel: fréquence cardiaque élevée'))).toEqual(['health/heart rate/plain']);
    expect(kinds(det.scanText('alerta de presión arterial'))).toEqual(['health/blood pressure/plain']);
    expect(kinds(det.scanText('今天的血糖有点高'))).toEqual(['health/glucose/plain']);
  });

  it('a plain-text non-HTTP payload (log line protocol)', () => {
    const p = enc.encode('LOG uid=7766554433 model=Pixel 7 os=Android 14 loc=52.5200,13.4050\n');
    expect(kinds(det.scanPayload(p))).toEqual(
      [
        'identity/user id/plain',
        'device/phone model/plain',
        'device/os version/plain',
        'location/coordinates/plain',
      ].sort(),
    );
  });
});

describe('negatives: low false positives', () => {
  it('TLS records, random bytes and compressed data that does not decode say nothing', () => {
    const tls = new Uint8Array([0x17, 0x03, 0x03, 0x01, 0x00, ...randomBytes(256)]);
    expect(det.scanPayload(tls)).toEqual([]);
    for (let i = 0; i < 50; i++) expect(det.scanPayload(new Uint8Array(randomBytes(64 + i * 20)))).toEqual([]);
    // The middle of a deflate stream (not at a block start) cannot be decoded: nothing is guessed from it.
    const text = Array.from({ length: 200 }, (_, i) => `{"email":"user${i}@example.org","n":${i * 7919}}`).join(',');
    const mid = deflateSync(Buffer.from(text)).subarray(301);
    expect(det.scanPayload(new Uint8Array(mid))).toEqual([]);
  });

  it('ordinary requests: pages, assets, app config, words that are also names', () => {
    expect(req('/index.html?page=2&sort=name&lang=en-US')).toEqual([]);
    expect(req('/static/app.min.js?v=1.2.3')).toEqual([]);
    expect(
      req('/config', { text: '{"name":"summary","state":"ok","mode":"dark","version":"5.2.1","count":3}' }),
    ).toEqual([]);
    expect(req('/e', { text: '{"event":"app_start","name":"MainActivity","ts":1700000000}' })).toEqual([]);
    expect(req('/w?name=Weather%20Widget&city=')).toEqual([]);
    expect(det.scanText('The weather: pressure 1013 hPa, temperature 21 C, humidity 40%')).toEqual([]);
    expect(det.scanText('Version 10.2.3, build 2024.05.01, size 1.234,5.678 kB')).toEqual([]);
    expect(det.scanText('icon@2x.png and logo@3x.webp')).toEqual([]);
  });

  it('placeholders and empty values are not leaks', () => {
    expect(req('/a?userid=&email=null&imei=unknown&lat=0&lng=0&mac=00:00:00:00:00:00')).toEqual([]);
  });

  it('never throws on arbitrary requests (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.uint8Array({ maxLength: 400 }), fc.string(), (target, body, header) => {
        const f = det.scanHttpRequest({
          method: 'POST',
          target,
          headers: [
            ['Cookie', header],
            ['User-Agent', header],
          ],
          body,
          contentEncoding: null,
          contentType: null,
        });
        expect(Array.isArray(f)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('maskSecret', () => {
  it('keeps the ends and hides the middle', () => {
    expect(maskSecret('abc')).toBe('***');
    expect(maskSecret('abcdefgh')).toBe('ab…gh');
    expect(maskSecret('0123456789abcdef')).toBe('0123…cdef');
  });
});

describe('free-text health forms', () => {
  const dict = defaultDictionaries();
  /** The search as it was: one indexOf per form, in dictionary order. */
  const reference = (lower: string) =>
    dict.healthText.flatMap((h) => {
      const at = lower.indexOf(h.lower);
      return at < 0 ? [] : [{ h, at }];
    });

  it('the indexed one-pass search finds what one search per form finds (random texts of dictionary forms)', () => {
    const forms = dict.healthText.map((h) => h.form);
    const piece = fc.oneof(
      fc.constantFrom(...forms),
      fc.constantFrom(' ', '-', 'x', '2', '血', 'İ', ',', 'sleep', 'Ä'),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), (parts) => {
        const lower = parts.join('').toLowerCase();
        expect(healthTextMatches(dict, lower) ?? []).toEqual(reference(lower));
      }),
      { numRuns: 2000 },
    );
  });

  it('every form is indexed, and a text that is one form finds it', () => {
    for (const h of dict.healthText) {
      const got = healthTextMatches(dict, h.lower) ?? [];
      expect(got.some((x) => x.h === h && x.at === 0)).toBe(true);
    }
    expect(healthTextMatches(dict, 'nothing medical in here')).toBeNull();
    expect(healthTextMatches(dict, '')).toBeNull();
  });
});

describe('normalizeKey', () => {
  /** The definition: lower-case, then keep a-z, 0-9 and characters above U+2E7F (CJK and beyond), whole. */
  const reference = (k: string) => {
    let out = '';
    for (const ch of k.toLowerCase()) {
      const c = ch.charCodeAt(0);
      if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c > 0x2e7f) out += ch;
    }
    return out;
  };

  it('keeps letters, digits and CJK; drops separators and case (any Unicode, lone surrogates included)', () => {
    expect(normalizeKey('User_ID')).toBe('userid');
    expect(normalizeKey('"Heart-Rate (bpm)"')).toBe('heartratebpm');
    expect(normalizeKey('血压_值')).toBe('血压值');
    expect(normalizeKey('abc')).toBe('abc');
    expect(normalizeKey('')).toBe('');
    fc.assert(
      fc.property(
        fc.string({ unit: fc.oneof(fc.constant('_'), fc.constant('İ'), fc.string({ unit: 'binary', maxLength: 1 })) }),
        (k) => {
          expect(normalizeKey(k)).toBe(reference(k));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
