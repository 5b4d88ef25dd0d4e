import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  extractHttpBody,
  parseHttpRequestHead,
  parseHttpResponseHead,
  splitHostPort,
} from '../../../../src/net/decode/http.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const GET =
  'GET /api/v1/sync?user=42&hr=71 HTTP/1.1\r\n' +
  'Host: API.Example.com:8080\r\n' +
  'User-Agent: okhttp/4.9.0\r\n' +
  'Accept-Encoding: gzip\r\n' +
  '\r\n';

describe('parseHttpRequestHead', () => {
  it('parses the request line and headers (original order and case)', () => {
    const r = parseHttpRequestHead(enc(GET));
    expect(r.status).toBe('ok');
    expect(r.headerLength).toBe(GET.length);
    expect(r.request).toEqual({
      method: 'GET',
      target: '/api/v1/sync?user=42&hr=71',
      path: '/api/v1/sync',
      query: 'user=42&hr=71',
      version: 'HTTP/1.1',
      headers: [
        ['Host', 'API.Example.com:8080'],
        ['User-Agent', 'okhttp/4.9.0'],
        ['Accept-Encoding', 'gzip'],
      ],
      host: 'api.example.com',
      hostPort: 8080,
      userAgent: 'okhttp/4.9.0',
      contentLength: null,
      chunked: false,
      contentEncoding: null,
      contentType: null,
    });
  });

  it('gives need-more for every prefix and the same result once complete (split at every byte)', () => {
    const full = enc(`${GET}trailing`);
    const whole = parseHttpRequestHead(full);
    for (let i = 0; i < GET.length; i++) {
      expect(parseHttpRequestHead(full.subarray(0, i)).status, `prefix ${i}`).toBe('need-more');
    }
    for (let i = GET.length; i <= full.length; i++) expect(parseHttpRequestHead(full.subarray(0, i))).toEqual(whole);
  });

  it('takes the host from an absolute-form target over the Host header (proxies)', () => {
    const r = parseHttpRequestHead(
      enc(
        'GET http://Tracker.Example.NET:81/p/q?x=1 HTTP/1.1\r\nHost: other.example\r\nProxy-Connection: keep-alive\r\n\r\n',
      ),
    );
    expect(r.request).toMatchObject({ host: 'tracker.example.net', hostPort: 81, path: '/p/q', query: 'x=1' });
    const bare = parseHttpRequestHead(enc('GET http://example.org HTTP/1.0\r\n\r\n'));
    expect(bare.request).toMatchObject({ host: 'example.org', hostPort: null, path: '/', query: null });
  });

  it('reads CONNECT authority-form and IPv6 literals', () => {
    const c = parseHttpRequestHead(enc('CONNECT push.example.com:443 HTTP/1.1\r\nHost: push.example.com:443\r\n\r\n'));
    expect(c.request).toMatchObject({ method: 'CONNECT', host: 'push.example.com', hostPort: 443, path: '' });
    const v6 = parseHttpRequestHead(enc('GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8443\r\n\r\n'));
    expect(v6.request).toMatchObject({ host: '2001:db8::1', hostPort: 8443 });
    expect(splitHostPort('user@h.example.:80')).toEqual({ host: 'h.example', port: 80 });
    expect(splitHostPort('h:99999')).toBeNull();
  });

  it('tolerates bare LF line endings and obsolete line folding', () => {
    const r = parseHttpRequestHead(
      enc('POST /x HTTP/1.0\nHost: a.example\nX-Long: one\n  two\nContent-Length: 3\n\nabc'),
    );
    expect(r.status).toBe('ok');
    expect(r.request!.headers).toContainEqual(['X-Long', 'one two']);
    expect(r.request!.contentLength).toBe(3);
    expect(r.headerLength).toBe('POST /x HTTP/1.0\nHost: a.example\nX-Long: one\n  two\nContent-Length: 3\n\n'.length);
  });

  it('reads Content-Length, chunked, Content-Encoding and Content-Type', () => {
    const r = parseHttpRequestHead(
      enc(
        'POST /log HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Encoding: GZIP\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 10\r\n\r\n',
      ),
    );
    expect(r.request).toMatchObject({
      contentType: 'application/json',
      contentEncoding: 'gzip',
      chunked: true,
      contentLength: null, // Transfer-Encoding wins
    });
  });

  it('recognises SSDP and WebDAV methods and unknown upper-case methods with an HTTP version', () => {
    expect(
      parseHttpRequestHead(enc('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n')).request,
    ).toMatchObject({
      method: 'M-SEARCH',
      target: '*',
      host: '239.255.255.250',
      hostPort: 1900,
    });
    expect(parseHttpRequestHead(enc('PROPFIND /d HTTP/1.1\r\n\r\n')).status).toBe('ok');
    expect(parseHttpRequestHead(enc('BREW /pot HTTP/1.1\r\n\r\n')).request?.method).toBe('BREW');
    // An upper-case line protocol that is not HTTP.
    expect(parseHttpRequestHead(enc('EHLO mail.example\r\n')).status).toBe('not-http');
    expect(parseHttpRequestHead(enc('USER bob\r\n')).status).toBe('not-http');
  });

  it('accepts an HTTP/0.9 simple request', () => {
    const r = parseHttpRequestHead(enc('GET /index.html\r\n'));
    expect(r.request).toMatchObject({ version: 'HTTP/0.9', path: '/index.html', headers: [] });
  });

  it('rejects non-HTTP quickly: TLS, SSH, binary', () => {
    expect(parseHttpRequestHead(new Uint8Array([0x16])).status).toBe('not-http');
    expect(parseHttpRequestHead(enc('SSH-2.0-OpenSSH_9.2\r\n')).status).toBe('not-http');
    expect(parseHttpRequestHead(enc('GE')).status).toBe('need-more');
    expect(parseHttpRequestHead(enc('GEX')).status).toBe('need-more'); // could be an extension method
    expect(parseHttpRequestHead(enc('GEx')).status).toBe('not-http');
    expect(parseHttpRequestHead(enc('get / HTTP/1.1\r\n')).status).toBe('not-http');
  });

  it('decides binary garbage within its first 8 bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 64 }), (b) => {
        const r = parseHttpRequestHead(b.subarray(0, 8));
        const head = String.fromCharCode(...b.subarray(0, 8));
        if (r.status === 'need-more') expect(head).toMatch(/^[A-Z_-]*( [^\n]*)?$/);
        else expect(['not-http', 'malformed', 'ok']).toContain(r.status);
      }),
      { numRuns: 500 },
    );
  });

  it('reports malformed heads: conflicting lengths, bad header lines, oversize', () => {
    expect(parseHttpRequestHead(enc('GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')).status).toBe(
      'malformed',
    );
    expect(parseHttpRequestHead(enc('GET / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n')).request?.contentLength).toBe(5);
    expect(parseHttpRequestHead(enc('GET / HTTP/1.1\r\nBad Header: x\r\n\r\n')).status).toBe('malformed');
    expect(parseHttpRequestHead(enc('GET / HTTP/9\r\n\r\n')).status).toBe('malformed');
    const big = enc(`GET / HTTP/1.1\r\nX: ${'a'.repeat(20000)}`);
    expect(parseHttpRequestHead(big).status).toBe('malformed');
    expect(parseHttpRequestHead(big.subarray(0, 1000)).status).toBe('need-more');
  });

  it('parses pipelined requests one after the other', () => {
    const stream = enc(
      'POST /a HTTP/1.1\r\nHost: x.example\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /b HTTP/1.1\r\nHost: y.example\r\n\r\n' +
        'PUT /c HTTP/1.1\r\nHost: z.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    const hosts: string[] = [];
    const bodies: string[] = [];
    let at = 0;
    while (at < stream.length) {
      const view = stream.subarray(at);
      const h = parseHttpRequestHead(view);
      expect(h.status).toBe('ok');
      const b = extractHttpBody(view, h.request!, h.headerLength!, 1024);
      expect(b.status).toBe('ok');
      hosts.push(h.request!.host!);
      bodies.push(dec(b.body));
      at += b.consumed;
    }
    expect(hosts).toEqual(['x.example', 'y.example', 'z.example']);
    expect(bodies).toEqual(['hello', '', 'abc']);
  });
});

describe('extractHttpBody', () => {
  const CHUNKED =
    'POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '5;name=val\r\nhello\r\n' +
    'B\r\n, chunked!!\r\n' +
    '0\r\nX-Trailer: 1\r\n\r\n';

  it('decodes chunked bodies with extensions and trailers, need-more at every earlier cut', () => {
    const all = enc(`${CHUNKED}NEXT`);
    const head = parseHttpRequestHead(all);
    const whole = extractHttpBody(all, head.request!, head.headerLength!, 1000);
    expect(whole.status).toBe('ok');
    expect(dec(whole.body)).toBe('hello, chunked!!');
    expect(whole.consumed).toBe(CHUNKED.length);
    for (let i = head.headerLength!; i < CHUNKED.length; i++) {
      const r = extractHttpBody(all.subarray(0, i), head.request!, head.headerLength!, 1000);
      expect(r.status, `cut at ${i}`).toBe('need-more');
    }
  });

  it('bounds the kept body but still frames the message', () => {
    const all = enc(CHUNKED);
    const head = parseHttpRequestHead(all);
    const r = extractHttpBody(all, head.request!, head.headerLength!, 7);
    expect(r).toMatchObject({ status: 'ok', consumed: CHUNKED.length, truncated: true });
    expect(dec(r.body)).toBe('hello, ');
    const cl = enc('POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n0123456789');
    const h2 = parseHttpRequestHead(cl);
    const b2 = extractHttpBody(cl, h2.request!, h2.headerLength!, 4);
    expect(b2).toMatchObject({ status: 'ok', truncated: true, consumed: h2.headerLength! + 100000 });
    expect(dec(b2.body)).toBe('0123');
    expect(extractHttpBody(cl, h2.request!, h2.headerLength!, 50).status).toBe('need-more');
  });

  it('rejects broken chunk framing', () => {
    const head = 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n';
    for (const body of ['zz\r\n', '3\r\nabcX', '-1\r\n']) {
      const all = enc(head + body);
      const h = parseHttpRequestHead(all);
      expect(extractHttpBody(all, h.request!, h.headerLength!, 100).status, body).toBe('malformed');
    }
  });
});

describe('parseHttpResponseHead', () => {
  it('parses status, headers and framing', () => {
    const r = parseHttpResponseHead(
      enc(
        'HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Encoding: br\r\nContent-Length: 12\r\n\r\n',
      ),
    );
    expect(r.response).toMatchObject({
      version: 'HTTP/1.1',
      status: 200,
      reason: 'OK',
      contentType: 'text/html; charset=utf-8',
      contentEncoding: 'br',
      contentLength: 12,
      bodyUntilClose: false,
    });
    expect(parseHttpResponseHead(enc('HTTP/1.1 204 No Content\r\n\r\n')).response).toMatchObject({
      contentLength: 0,
      bodyUntilClose: false,
    });
    const close = parseHttpResponseHead(enc('HTTP/1.0 200\r\nServer: x\r\n\r\nbody...'));
    expect(close.response).toMatchObject({ reason: '', bodyUntilClose: true });
    const b = extractHttpBody(enc('HTTP/1.0 200\r\nServer: x\r\n\r\nbody...'), close.response!, close.headerLength!, 4);
    expect(b).toMatchObject({ status: 'need-more', truncated: true });
    expect(dec(b.body)).toBe('body');
  });

  it('rejects non-HTTP and bad status lines', () => {
    expect(parseHttpResponseHead(enc('HTTX')).status).toBe('not-http');
    expect(parseHttpResponseHead(enc('HTT')).status).toBe('need-more');
    expect(parseHttpResponseHead(enc('HTTP/1.1 OK\r\n\r\n')).status).toBe('malformed');
  });
});

describe('robustness (fuzz)', () => {
  const seeds = [
    GET,
    'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc',
  ].map(enc);

  it('never throws on arbitrary or mutated input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.nat())
            .map(([s, muts, cut]) => {
              const b = s.slice();
              for (const [i, v] of muts) b[i % b.length] = v;
              return b.subarray(0, cut % (b.length + 1));
            }),
        ),
        fc.nat(500),
        (b, max) => {
          const q = parseHttpRequestHead(b);
          if (q.status === 'ok') {
            const body = extractHttpBody(b, q.request!, q.headerLength!, max);
            expect(body.body.length).toBeLessThanOrEqual(max);
          }
          const s = parseHttpResponseHead(b);
          if (s.status === 'ok') extractHttpBody(b, s.response!, s.headerLength!, max);
          extractHttpBody(b, { contentLength: null, chunked: true }, 0, max);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
