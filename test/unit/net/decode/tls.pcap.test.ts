/**
 * ClientHellos from public captures, reassembled by TcpStream + extractClientHelloFromStream from the raw TCP
 * segments (tshark only lists the segments), compared with tshark's own dissection (JA3, SNI, ALPN) and with
 * FoxIO's JA4 snapshots.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ClientHello, extractClientHelloFromStream } from '../../../../src/net/decode/tls.js';
import { TcpStream } from '../../../../src/net/flows/tcpStream.js';
import { fromHex } from '../../../../src/sdk/byteReader.js';
import { CAPTURES_DIR } from '../../../helpers/captures.js';

const CAPTURES = CAPTURES_DIR;
const FIELDS = [
  'tcp.stream',
  'ip.src',
  'ipv6.src',
  'ip.dst',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.seq_raw',
  'tcp.flags',
  'tcp.payload',
  'tls.handshake.ja3_full',
  'tls.handshake.extensions_server_name',
  'tls.handshake.extensions_alpn_str',
];

interface TsharkHello {
  stream: number;
  ja3: string;
  sni: string;
  alpn: string;
}

interface OurHello {
  stream: number;
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  hello: ClientHello;
}

interface Analysis {
  ours: OurHello[];
  tshark: TsharkHello[];
}

const cache = new Map<string, Analysis>();

/** One tshark pass per capture (cached): every TCP segment, plus tshark's ClientHello fields. */
function analyse(file: string, extraArgs: string[] = []): Analysis {
  const key = `${file} ${extraArgs.join(' ')}`;
  let a = cache.get(key);
  if (!a) {
    a = analyseUncached(file, extraArgs);
    cache.set(key, a);
  }
  return a;
}

function analyseUncached(file: string, extraArgs: string[]): Analysis {
  const out = execFileSync(
    'tshark',
    [
      '-n',
      '-r',
      file,
      ...extraArgs,
      '-Y',
      'tcp',
      '-T',
      'fields',
      '-E',
      'occurrence=a',
      '-E',
      'aggregator=;',
      ...FIELDS.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 << 20 },
  );
  const tshark: TsharkHello[] = [];
  interface Conn {
    client: string | null;
    src: string;
    srcPort: number;
    dst: string;
    dstPort: number;
    stream: TcpStream;
    pos: number;
    done: boolean;
  }
  const conns = new Map<number, Conn>();
  const ours: OurHello[] = [];
  for (const line of out.split('\n')) {
    if (line.length === 0) continue;
    const [streamS, ip4s, ip6s, ip4d, ip6d, sportS, dportS, seqS, flagsS, payloadHex, ja3, sni, alpn] =
      line.split('\t');
    const stream = Number(streamS);
    // Tunnels (GTP) give several addresses: the innermost is last.
    const src = (ip4s || ip6s || '').split(';').pop()!;
    const dst = (ip4d || ip6d || '').split(';').pop()!;
    const sport = Number(sportS);
    const dport = Number(dportS);
    const key = `${src}|${sport}`;
    const flags = Number.parseInt(flagsS ?? '0', 16);
    if (ja3) {
      // ALPN strings of all hellos in the frame share one aggregated field; only split SNI/JA3 per hello.
      const ja3s = ja3.split(';');
      const snis = (sni ?? '').split(';');
      const alpnAll = (alpn ?? '').replaceAll(';', ',');
      for (let i = 0; i < ja3s.length; i++) {
        tshark.push({ stream, ja3: ja3s[i]!, sni: snis[i] ?? '', alpn: ja3s.length === 1 ? alpnAll : '?' });
      }
    }
    let c = conns.get(stream);
    const payload = payloadHex ? fromHex(payloadHex) : new Uint8Array(0);
    if (!c) {
      c = {
        client: null,
        src,
        srcPort: sport,
        dst,
        dstPort: dport,
        stream: new TcpStream({ cap: 65536 }),
        pos: 0,
        done: false,
      };
      conns.set(stream, c);
    }
    if (c.client === null) {
      if ((flags & 0x12) === 0x02 || (payload.length > 5 && payload[0] === 0x16 && payload[5] === 1)) {
        c.client = key;
        c.src = src;
        c.srcPort = sport;
        c.dst = dst;
        c.dstPort = dport;
      } else continue;
    }
    if (key !== c.client || c.done) continue;
    if (flags & 0x02) c.stream.onSyn(Number(seqS));
    c.stream.push(Number(seqS), payload, flags);
    while (!c.done) {
      const r = extractClientHelloFromStream(c.stream.contiguous(), c.pos);
      if (r.status === 'ok' && r.hello && r.end !== undefined) {
        ours.push({ stream, src: c.src, srcPort: c.srcPort, dst: c.dst, dstPort: c.dstPort, hello: r.hello });
        c.pos = r.end;
      } else {
        if (r.status !== 'need-more') c.done = true;
        break;
      }
    }
  }
  return { ours, tshark };
}

function compareWithTshark(a: Analysis): void {
  const key = (s: number, ja3: string, sni: string, alpn: string) => `${s} ${ja3} sni=${sni} alpn=${alpn}`;
  const multi = new Set(a.tshark.filter((t) => t.alpn === '?').map((t) => t.stream));
  const ours = a.ours.map((o) =>
    key(o.stream, o.hello.ja3, o.hello.sni ?? '', multi.has(o.stream) ? '?' : o.hello.alpn.join(',')),
  );
  const theirs = a.tshark.map((t) => key(t.stream, t.ja3, t.sni, t.alpn));
  expect(ours).toEqual(theirs);
}

/** [file, tshark extra args, hellos expected (tshark's count, or ours where tshark cannot see them)]. */
const TLS_CAPTURES: [string, string[], number][] = [
  ['ndpi/android.pcap', [], 18],
  ['ndpi/dns_doh.pcap', [], 1],
  ['ndpi/dns_dot.pcap', [], 1],
  ['ndpi/encrypted_sni.pcap', [], 3],
  ['ndpi/facebook.pcap', [], 2],
  ['ndpi/tls_esni_sni_both.pcap', [], 2],
  ['ndpi/tls_1.3_unidirectional_client.pcapng', [], 1],
  ['ndpi/tls_2_reasms.pcapng', [], 1],
  ['ndpi/tls_ech.pcapng', [], 1],
  ['ndpi/tls_port_80.pcapng', ['-d', 'tcp.port==80,tls'], 1],
  ['public/zeek/tls_chrome-1250-tls-x25519-kyber.pcap', [], 1],
  ['public/zeek/tls_hrr.pcap', [], 2],
  ['public/zeek/tls_tls13-ech.pcap', [], 2],
];

describe('ClientHellos reassembled from captures match tshark (JA3, SNI, ALPN)', () => {
  for (const [file, args, count] of TLS_CAPTURES) {
    it(file, () => {
      const a = analyse(`${CAPTURES}/${file}`, args);
      expect(a.tshark.length).toBe(count);
      compareWithTshark(a);
    });
  }

  it('an SSLv2-compatible hello (google_ssl) is not a TLS ClientHello record, for tshark and for us', () => {
    const a = analyse(`${CAPTURES}/ndpi/google_ssl.pcap`);
    expect(a.tshark).toEqual([]);
    expect(a.ours).toEqual([]);
  });

  it('reads real ECH (outer, config id 0xd1), GREASE ECH, ESNI and the two hellos of a HelloRetryRequest', () => {
    const ech = analyse(`${CAPTURES}/public/zeek/tls_tls13-ech.pcap`).ours;
    expect(ech.map((o) => o.hello.ech)).toEqual([
      { present: true, outer: true, configId: 0xd1 },
      { present: true, outer: true, configId: 0xd1 },
    ]);
    const grease = analyse(`${CAPTURES}/ndpi/tls_ech.pcapng`).ours[0]!.hello;
    expect(grease.ech.present).toBe(true);
    expect(grease.ja4).toBe('t13d1516h2_8daaf6152771_02713d6af862'); // FoxIO's published "Chrome (ECH)" example
    const esni = analyse(`${CAPTURES}/ndpi/encrypted_sni.pcap`).ours;
    expect(esni.map((o) => [o.hello.esni, o.hello.sni])).toEqual([
      [true, null],
      [true, null],
      [true, null],
    ]);
    const hrr = analyse(`${CAPTURES}/public/zeek/tls_hrr.pcap`).ours;
    expect(hrr.map((o) => o.stream)).toEqual([0, 0]);
    const kyber = analyse(`${CAPTURES}/public/zeek/tls_chrome-1250-tls-x25519-kyber.pcap`).ours[0]!.hello;
    expect(kyber.groups[0]).toBe(0x6399); // X25519Kyber768Draft00, the reason the hello spans segments
  });

  it('a missing ClientHello fragment yields no hello (tls_missing_ch_frag)', () => {
    const a = analyse(`${CAPTURES}/ndpi/tls_missing_ch_frag.pcap`);
    expect(a.tshark).toEqual([]);
    expect(a.ours).toEqual([]);
  });
});

/** nDPI flow lines: `[JA3C: md5]` and `[JA4: a_b_c]` keyed by "client ip:port". */
function ndpiFingerprints(outFile: string): Map<string, { ja3?: string; ja4?: string }> {
  const m = new Map<string, { ja3?: string; ja4?: string }>();
  for (const line of readFileSync(outFile, 'utf8').split('\n')) {
    const flow = /^\s+\d+\s+TCP\s+(\S+)\s+<?->\s+(\S+)/.exec(line);
    if (!flow) continue;
    const ja3 = /\[JA3C: ([0-9a-f]{32})\]/.exec(line)?.[1];
    const ja4 = /\[JA4: ([^\]]+)\]/.exec(line)?.[1];
    // nDPI prints either side first; our lookups use the client's ip:port, which is unique per flow.
    if (ja3 || ja4) {
      m.set(flow[1]!, { ja3, ja4 });
      m.set(flow[2]!, { ja3, ja4 });
    }
  }
  return m;
}

describe('fingerprints agree with nDPI (JA3C; JA4 b and c, since its JA4 a has known ALPN/SNI-flag bugs)', () => {
  const files = [
    'android.pcap',
    'dns_doh.pcap',
    'dns_dot.pcap',
    'facebook.pcap',
    'tls_esni_sni_both.pcap',
    'tls_ech.pcapng',
    'tls_2_reasms.pcapng',
    'tls_port_80.pcapng',
    'tls_invalid_reads.pcap',
  ];
  for (const f of files) {
    it(f, () => {
      const a = analyse(`${CAPTURES}/ndpi/${f}`);
      const expected = ndpiFingerprints(`${CAPTURES}/ndpi/${f}.out`);
      let compared = 0;
      const seen = new Set<number>();
      for (const o of a.ours) {
        if (seen.has(o.stream)) continue; // nDPI fingerprints the first hello of a flow
        seen.add(o.stream);
        const host = o.src.includes(':') ? `[${o.src}]` : o.src;
        const e = expected.get(`${host}:${o.srcPort}`);
        if (!e) continue;
        if (e.ja3) expect(o.hello.ja3Hash).toBe(e.ja3);
        if (e.ja4) expect(o.hello.ja4.split('_').slice(1)).toEqual(e.ja4.split('_').slice(1));
        compared++;
      }
      expect(compared).toBeGreaterThan(0);
    });
  }
});

/** FoxIO snapshot entries (the YAML subset used by insta): one map per "- stream:" item. */
function foxioSnapshot(file: string): Record<string, string>[] {
  const items: Record<string, string>[] = [];
  let cur: Record<string, string> | null = null;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(- | {2})([a-z0-9_]+): (.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '- ') {
      cur = {};
      items.push(cur);
    }
    if (cur) cur[m[2]!] = m[3]!;
  }
  return items;
}

describe('JA4 matches the FoxIO reference snapshots (TCP hellos)', () => {
  const files = [
    'tls-sni.pcapng',
    'latest.pcapng',
    'tls-alpn-h2.pcap',
    'tls12.pcap',
    'badcurveball.pcap',
    'chrome-cloudflare-quic-with-secrets.pcapng',
    'tls-non-ascii-alpn.pcapng',
  ];
  for (const f of files) {
    it(f, () => {
      const dir = `${CAPTURES}/public/foxio_ja4`;
      const a = analyse(`${dir}/${f}`);
      const snap = foxioSnapshot(`${dir}/${f}.snap`).filter((e) => e.transport === 'tcp' && e.ja4);
      expect(snap.length).toBeGreaterThan(0);
      for (const e of snap) {
        const ours = a.ours.find(
          (o) => o.src === e.src && o.srcPort === Number(e.src_port) && o.dstPort === Number(e.dst_port),
        );
        expect(ours, `${e.src}:${e.src_port}`).toBeDefined();
        expect(ours!.hello.sni ?? undefined).toBe(e.tls_server_name);
        if (f === 'tls-non-ascii-alpn.pcapng') {
          // The snapshot predates the current rule (non-alphanumeric ALPN -> first/last hex digit, was "99").
          const [a0, ...rest] = e.ja4!.split('_');
          const [o0, ...orest] = ours!.hello.ja4.split('_');
          expect(orest).toEqual(rest);
          expect(o0!.slice(0, 8)).toBe(a0!.slice(0, 8));
          expect(a0!.slice(8)).toBe('99');
          expect(o0!.slice(8)).toMatch(/^[0-9a-f]{2}$/);
          expect(o0!.slice(8)).not.toBe('99');
        } else {
          expect(ours!.hello.ja4).toBe(e.ja4);
        }
      }
    });
  }
});
