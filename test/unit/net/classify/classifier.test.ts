import { describe, expect, it } from 'vitest';
import { defaultClassifier } from '../../../../src/net/classify/classifier.js';

describe('KnowledgeClassifier', () => {
  const cls = defaultClassifier();

  it('infers a phone’s companion apps from the vendor domains it contacts', () => {
    expect(cls.appsOf(['api-mifit.huami.com', 'graph.facebook.com', 'wbsapi.withings.net'], [])).toEqual([
      'huami',
      'withings',
    ]);
    expect(cls.appsOf(['graph.facebook.com', 'app-measurement.com'], [])).toEqual([]);
  });

  it('takes a companion app’s package name in a User-Agent as a hint', () => {
    expect(cls.appsOf([], ['okhttp/4.9.0'])).toEqual([]);
    expect(cls.appsOf([], ['Dalvik/2.1.0 (Linux; U; Android 13; Redmi Note 12) com.xiaomi.hm.health/6.3.1'])).toEqual([
      'huami',
    ]);
  });

  it('makes the app’s own vendor first party, anyone else on the internet third, the LAN local', () => {
    const apps = ['huami'];
    expect(cls.classify('api-mifit.huami.com', '203.0.113.10', 443, 'tls', apps)).toMatchObject({
      party: 'first',
      app: 'huami',
      role: 'api',
      organization: 'Zepp Health',
      registrableDomain: 'huami.com',
    });
    expect(cls.classify('pagead2.googlesyndication.com', '203.0.113.32', 443, 'tls', apps)).toMatchObject({
      party: 'third',
      app: 'huami', // the phone runs one known app: its third parties are that app's as far as traffic tells
      role: 'advertising',
      organization: 'Google',
    });
    // A vendor's domain is third party for a phone that does not run that vendor's app.
    expect(cls.classify('wbsapi.withings.net', '203.0.113.30', 80, 'http', apps)).toMatchObject({
      party: 'third',
      organization: 'Withings',
    });
    expect(cls.classify(null, '192.168.1.1', 53, 'dns', apps)).toMatchObject({ party: 'local', role: 'local' });
    expect(cls.classify(null, '203.0.113.43', 443, 'tls', apps)).toMatchObject({ party: 'unknown', role: 'unknown' });
    expect(cls.classify('unlisted.example', '203.0.113.44', 443, 'tls', [])).toMatchObject({
      party: 'third',
      app: null,
      role: 'unknown',
    });
    // DNS over TLS is a resolver, whatever the name.
    expect(cls.classify(null, '203.0.113.45', 853, 'tls', [])).toMatchObject({ role: 'dns' });
  });
});
