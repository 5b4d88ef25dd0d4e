import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  extractClientHelloFromStream,
  isGrease,
  ja4AlpnCode,
  parseClientHello,
  sniffTlsServerHello,
} from '../../../../src/net/decode/tls.js';
import { TcpStream } from '../../../../src/net/flows/tcpStream.js';
import { MalformedError, TruncatedError } from '../../../../src/sdk/byteReader.js';

// --- a small ClientHello builder (byte layout of RFC 8446 §4.1.2) -------------------------------------------
const u8 = (v: number) => [v & 0xff];
const u16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const u24 = (v: number) => [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const vec16 = (b: number[]) => [...u16(b.length), ...b];
const vec8 = (b: number[]) => [...u8(b.length), ...b];
const ext = (type: number, body: number[]) => [...u16(type), ...vec16(body)];

const sniExt = (host: string) => ext(0x0000, vec16([0, ...vec16(ascii(host))]));
const alpnExt = (...names: string[]) => ext(0x0010, vec16(names.flatMap((n) => vec8(ascii(n)))));
const u16ListExt = (type: number, values: number[]) => ext(type, vec16(values.flatMap(u16)));

interface HelloSpec {
  legacyVersion?: number;
  sessionId?: number[];
  ciphers: number[];
  extensions: number[][];
}

function hello(spec: HelloSpec): Uint8Array {
  const body = [
    ...u16(spec.legacyVersion ?? 0x0303),
    ...new Array(32).fill(0x42),
    ...vec8(spec.sessionId ?? new Array(32).fill(7)),
    ...vec16(spec.ciphers.flatMap(u16)),
    ...vec8([0]),
    ...vec16(spec.extensions.flat()),
  ];
  return Uint8Array.from([1, ...u24(body.length), ...body]);
}

/** Wrap a handshake message in TLS records of the given fragment sizes (the last takes the rest). */
function records(msg: Uint8Array, sizes: number[] = []): Uint8Array {
  const out: number[] = [];
  let p = 0;
  for (const s of [...sizes, msg.length]) {
    if (p >= msg.length) break;
    const frag = msg.subarray(p, Math.min(msg.length, p + s));
    out.push(0x16, 0x03, 0x01, ...u16(frag.length), ...frag);
    p += frag.length;
  }
  return Uint8Array.from(out);
}

const CHROME_LIKE: HelloSpec = {
  ciphers: [0x3a3a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f],
  extensions: [
    ext(0x2a2a, []), // GREASE
    sniExt('Api.Example.com'),
    ext(0x0017, []),
    u16ListExt(0x000a, [0x4a4a, 0x001d, 0x0017]),
    ext(0x000b, vec8([0])),
    u16ListExt(0x000d, [0x0403, 0x0804, 0x0401]),
    alpnExt('h2', 'http/1.1'),
    ext(0x002b, vec8([0x6a, 0x6a, 0x03, 0x04, 0x03, 0x03])),
    ext(0x0033, vec16([...u16(0x001d), ...vec16(new Array(32).fill(1))])),
    ext(0x1a1a, [0]), // GREASE
  ],
};

describe('parseClientHello', () => {
  it('reads SNI, ALPN, versions, groups, point formats, signature algorithms without GREASE', () => {
    const h = parseClientHello(hello(CHROME_LIKE));
    expect(h).toMatchObject({
      legacyVersion: 0x0303,
      version: 0x0304,
      supportedVersions: [0x0304, 0x0303],
      sni: 'Api.Example.com',
      alpn: ['h2', 'http/1.1'],
      cipherSuites: [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f],
      extensions: [0x0000, 0x0017, 0x000a, 0x000b, 0x000d, 0x0010, 0x002b, 0x0033],
      groups: [0x001d, 0x0017],
      pointFormats: [0],
      signatureAlgorithms: [0x0403, 0x0804, 0x0401],
      ech: { present: false, outer: null },
      esni: false,
      sessionIdLength: 32,
      grease: { cipherSuites: 1, extensions: 2, groups: 1, supportedVersions: 1, signatureAlgorithms: 0 },
      malformedExtensions: [],
      extensionsBroken: false,
    });
  });

  it('computes JA3 (decimal, wire order, GREASE dropped) and JA4 per the FoxIO definition', () => {
    const h = parseClientHello(hello(CHROME_LIKE));
    expect(h.ja3).toBe('771,4865-4866-4867-49195-49199,0-23-10-11-13-16-43-51,29-23,0');
    expect(h.ja3Hash).toBe(createHash('md5').update(h.ja3).digest('hex'));
    const ciphers = '1301,1302,1303,c02b,c02f';
    const exts = '000a,000b,000d,0017,002b,0033'; // sorted, without SNI and ALPN
    const sigs = '0403,0804,0401'; // wire order
    const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
    expect(h.ja4).toBe(`t13d0508h2_${sha(ciphers)}_${sha(`${exts}_${sigs}`)}`);
    expect(h.ja4r).toBe(`t13d0508h2_${ciphers}_${exts}_${sigs}`);
    expect(parseClientHello(hello(CHROME_LIKE), 'quic').ja4.startsWith('q13d0508h2_')).toBe(true);
  });

  it('JA4: no SNI -> i, no ALPN -> 00, TLS 1.2 from legacy_version, empty lists -> zeros, counts capped at 99', () => {
    const h = parseClientHello(hello({ ciphers: [], extensions: [] }));
    expect(h.ja4).toBe('t12i000000_000000000000_000000000000');
    expect(h.ja3).toBe('771,,,,');
    const many = parseClientHello(
      hello({ ciphers: Array.from({ length: 120 }, (_, i) => i + 1), extensions: [ext(0x0017, [])] }),
    );
    expect(many.ja4.slice(0, 10)).toBe('t12i990100');
    // No signature algorithms: no '_' in the hashed c string.
    const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
    expect(many.ja4.split('_')[2]).toBe(sha('0017'));
    const tls10 = parseClientHello(hello({ legacyVersion: 0x0301, ciphers: [0x002f], extensions: [] }));
    expect(tls10.ja4.slice(0, 4)).toBe('t10i');
  });

  it('JA4 ALPN characters: first and last, or hex digits when not alphanumeric', () => {
    expect(ja4AlpnCode('h2')).toBe('h2');
    expect(ja4AlpnCode('http/1.1')).toBe('h1');
    expect(ja4AlpnCode('h')).toBe('hh');
    expect(ja4AlpnCode(undefined)).toBe('00');
    expect(ja4AlpnCode('')).toBe('00');
    expect(ja4AlpnCode('\xab')).toBe('ab');
    expect(ja4AlpnCode('\xab\xcd\xef')).toBe('af');
    expect(ja4AlpnCode('h2\x01')).toBe('61');
  });

  it('detects ECH outer (config id), ECH inner, and legacy ESNI', () => {
    const echOuter = [0, ...u16(0x0001), ...u16(0x0001), 0xd1, ...vec16(new Array(32).fill(9)), ...vec16([1, 2, 3])];
    const outer = parseClientHello(
      hello({ ciphers: [0x1301], extensions: [sniExt('cloudflare-ech.com'), ext(0xfe0d, echOuter)] }),
    );
    expect(outer.ech).toEqual({ present: true, outer: true, configId: 0xd1 });
    expect(outer.sni).toBe('cloudflare-ech.com');
    const inner = parseClientHello(hello({ ciphers: [0x1301], extensions: [ext(0xfe0d, [1])] }));
    expect(inner.ech).toEqual({ present: true, outer: false });
    const esni = parseClientHello(hello({ ciphers: [0x1301], extensions: [ext(0xffce, [0, 1, 2])] }));
    expect(esni.esni).toBe(true);
    expect(esni.sni).toBeNull();
  });

  it('keeps the hello when one extension body is broken, and stops at broken extension framing (as nDPI)', () => {
    const badAlpn = ext(0x0010, [0xff, 0xff, 1]);
    const h = parseClientHello(
      hello({ ciphers: [0x1301], extensions: [sniExt('a.example'), badAlpn, ext(0x0017, [])] }),
    );
    expect(h.sni).toBe('a.example');
    expect(h.alpn).toEqual([]);
    expect(h.malformedExtensions).toEqual([0x0010]);
    expect(h.extensions).toEqual([0x0000, 0x0010, 0x0017]);
    const msg = hello({ ciphers: [0x1301], extensions: [sniExt('b.example'), [0x47, 0xe3, 0x4f, 0xc6, 1, 2]] });
    const broken = parseClientHello(msg);
    expect(broken.sni).toBe('b.example');
    expect(broken.extensions).toEqual([0x0000]);
    expect(broken.extensionsBroken).toBe(true);
  });

  it('throws only typed errors: wrong type, truncated at every offset, bad vectors', () => {
    const msg = hello(CHROME_LIKE);
    expect(() => parseClientHello(Uint8Array.from([2, 0, 0, 0]))).toThrow(MalformedError);
    for (let i = 0; i < msg.length; i++) expect(() => parseClientHello(msg.subarray(0, i))).toThrow(TruncatedError);
    const badCiphers = msg.slice();
    badCiphers[4 + 2 + 32 + 1 + 32] = 0xff; // cipher suites length high byte
    expect(() => parseClientHello(badCiphers)).toThrow(MalformedError);
  });

  it('parses a DTLS ClientHello (cookie field, d protocol)', () => {
    const body = [
      ...u16(0xfefd),
      ...new Array(32).fill(1),
      ...vec8([]),
      ...vec8([5, 6, 7]), // cookie
      ...vec16([...u16(0xc02b)]),
      ...vec8([0]),
      ...vec16(u16ListExt(0x000d, [0x0403])),
    ];
    const msg = Uint8Array.from([1, ...u24(body.length), ...u16(0), ...u24(0), ...u24(body.length), ...body]);
    const h = parseClientHello(msg, 'dtls');
    expect(h.cipherSuites).toEqual([0xc02b]);
    expect(h.ja4.slice(0, 10)).toBe('dd2i010100');
  });

  it('GREASE is 0x?a?a with equal bytes', () => {
    expect(isGrease(0x0a0a)).toBe(true);
    expect(isGrease(0xfafa)).toBe(true);
    expect(isGrease(0x0a1a)).toBe(false);
    expect(isGrease(0x1301)).toBe(false);
  });
});

describe('extractClientHelloFromStream', () => {
  const msg = hello(CHROME_LIKE);
  const expected = parseClientHello(msg);

  it('parses a hello in one record, reporting the record version and where it ends', () => {
    const stream = Uint8Array.from([...records(msg), 0x14, 0x03, 0x03, 0, 1, 1]);
    const r = extractClientHelloFromStream(stream);
    expect(r).toMatchObject({ status: 'ok', recordVersion: 0x0301, end: msg.length + 5 });
    expect(r.hello).toEqual(expected);
  });

  it('joins a hello split over several records, need-more at every cut before the end', () => {
    const stream = records(msg, [1, 3, 50, 7]);
    const r = extractClientHelloFromStream(stream);
    expect(r.status).toBe('ok');
    expect(r.hello).toEqual(expected);
    expect(r.end).toBe(stream.length);
    for (let i = 0; i < stream.length; i++) {
      const p = extractClientHelloFromStream(stream.subarray(0, i));
      expect(p.status, `cut ${i}`).toBe('need-more');
    }
  });

  it('finds the second hello after a HelloRetryRequest, skipping ChangeCipherSpec', () => {
    const second = hello({ ...CHROME_LIKE, extensions: [sniExt('retry.example'), ...CHROME_LIKE.extensions.slice(2)] });
    const stream = Uint8Array.from([...records(msg), 0x14, 0x03, 0x03, 0, 1, 1, ...records(second, [100])]);
    const first = extractClientHelloFromStream(stream);
    const again = extractClientHelloFromStream(stream, first.end);
    expect(again.status).toBe('ok');
    expect(again.hello!.sni).toBe('retry.example');
  });

  it('says not-tls on the first bytes of other protocols (TLS on any port: decided by content)', () => {
    expect(extractClientHelloFromStream(new TextEncoder().encode('G')).status).toBe('not-tls');
    expect(extractClientHelloFromStream(Uint8Array.from([0x16, 0x02])).status).toBe('not-tls');
    expect(extractClientHelloFromStream(Uint8Array.from([0x16, 0x03, 0x01, 0x00, 0x10, 0x02])).status).toBe('not-tls');
    expect(extractClientHelloFromStream(Uint8Array.from([0x80, 0x7c, 0x01])).status).toBe('not-tls'); // SSLv2
    expect(extractClientHelloFromStream(new Uint8Array(0)).status).toBe('need-more');
    expect(extractClientHelloFromStream(Uint8Array.from([0x16, 0x03])).status).toBe('need-more');
  });

  it('reports malformed record streams and bounds the hello size', () => {
    const interleaved = records(msg, [10]);
    interleaved[15] = 0x17; // second record claims application data
    expect(extractClientHelloFromStream(interleaved).status).toBe('malformed');
    const huge = Uint8Array.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x7f, 0xff, 0xff]);
    expect(extractClientHelloFromStream(huge).status).toBe('malformed');
    const bigButFine = records(
      hello({ ciphers: [0x1301], extensions: [ext(0x0015, new Array(20000).fill(0))] }),
      [16384],
    );
    const partial = extractClientHelloFromStream(bigButFine.subarray(0, 1000));
    expect(partial.status).toBe('need-more');
    expect(partial.needed).toBeGreaterThan(20000);
    expect(extractClientHelloFromStream(bigButFine).hello?.extensions).toEqual([0x0015]);
  });

  it('TcpStream + extractor give the same hello from 1-byte segments, shuffled, retransmitted, overlapping', () => {
    const stream = records(msg, [200]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.nat(), (isn, seed) => {
        const segs: [number, number][] = [];
        for (let i = 0; i < stream.length; i++) segs.push([i, i + 1]);
        for (let i = 0; i + 10 < stream.length; i += 23) segs.push([i, i + 10]); // overlaps
        for (let i = 0; i < 20; i++) segs.push(segs[(seed + i * 31) % segs.length]!); // retransmissions
        let x = seed;
        for (let i = segs.length - 1; i > 0; i--) {
          x = (x * 1103515245 + 12345) >>> 0;
          const j = x % (i + 1);
          [segs[i], segs[j]] = [segs[j]!, segs[i]!];
        }
        const tcp = new TcpStream({ cap: 16384, maxPendingSegments: 4096, maxPendingBytes: 16384 });
        tcp.onSyn(isn);
        let result = extractClientHelloFromStream(tcp.contiguous());
        for (const [a, b] of segs) {
          tcp.push((isn + 1 + a) >>> 0, stream.subarray(a, b));
          result = extractClientHelloFromStream(tcp.contiguous());
          expect(result.status === 'need-more' || result.status === 'ok').toBe(true);
        }
        expect(result.status).toBe('ok');
        expect(result.hello).toEqual(expected);
      }),
      { numRuns: 25 },
    );
  });

  it('never throws and never hangs on arbitrary or mutated input (fuzz)', () => {
    const base = records(msg, [60]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          fc.tuple(fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }), fc.nat()).map(([muts, cut]) => {
            const b = base.slice();
            for (const [i, v] of muts) b[i % b.length] = v;
            return b.subarray(0, cut % (b.length + 1));
          }),
        ),
        (b) => {
          const r = extractClientHelloFromStream(b);
          expect(['need-more', 'ok', 'not-tls', 'malformed']).toContain(r.status);
          extractClientHelloFromStream(b, b.length > 0 ? b[0]! % b.length : 0);
          sniffTlsServerHello(b);
          try {
            parseClientHello(b.subarray(Math.min(5, b.length)));
          } catch (e) {
            expect(e instanceof TruncatedError || e instanceof MalformedError).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('sniffTlsServerHello', () => {
  it('reads the negotiated version, cipher, HRR flag and JA3S', () => {
    const hrrRandom = 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c'
      .match(/../g)!
      .map((h) => Number.parseInt(h, 16));
    const body = [...u16(0x0303), ...hrrRandom, ...vec8([]), ...u16(0x1301), 0, ...vec16(ext(0x002b, u16(0x0304)))];
    const msg = [2, ...u24(body.length), ...body];
    const rec = Uint8Array.from([0x16, 0x03, 0x03, ...u16(msg.length), ...msg]);
    const r = sniffTlsServerHello(rec);
    expect(r).toMatchObject({
      status: 'ok',
      version: 0x0304,
      cipherSuite: 0x1301,
      helloRetryRequest: true,
      ja3s: '771,4865,43',
    });
    expect(sniffTlsServerHello(rec.subarray(0, 20)).status).toBe('need-more');
    expect(sniffTlsServerHello(Uint8Array.from([0x17])).status).toBe('not-tls');
  });
});
