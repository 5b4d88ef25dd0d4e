/**
 * QuicSniExtractor over every public QUIC capture we have, compared with tshark (run here: it is installed in
 * development and CI) and with nDPI's expectations (shared/captures/ndpi/manifest.tsv).
 *
 * UDP payloads come from tshark's own link/IP/UDP decoding, so this test exercises only the QUIC layer. Flows
 * are keyed by the unordered address/port pair; the client is the side that sent the flow's first datagram,
 * as the pipeline's flow table decides it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type QuicResult, QuicSniExtractor, quicVersionName } from '../../../../src/net/decode/quic.js';
import { parseClientHello } from '../../../../src/net/decode/tls.js';
import { CAPTURES_DIR } from '../../../helpers/captures.js';

const CAPTURES = `${CAPTURES_DIR}/`;

interface Datagram {
  frame: number;
  flow: string;
  src: string;
  payload: Uint8Array;
  tsMs: number;
}

interface TsharkView {
  datagrams: Datagram[];
  /** tls.handshake.extensions_server_name ∪ gquic.tag.sni over the whole file. */
  snis: Set<string>;
  /** Versions tshark saw in QUIC/gQUIC headers (as numbers). */
  versions: Set<number>;
}

const views = new Map<string, TsharkView>();

/** tshark's view of a capture, run once per file. */
function tshark(file: string): TsharkView {
  let view = views.get(file);
  if (view === undefined) {
    view = runTshark(file);
    views.set(file, view);
  }
  return view;
}

function runTshark(file: string): TsharkView {
  const fields = [
    'frame.number',
    'frame.time_epoch',
    'ip.src',
    'ipv6.src',
    'udp.srcport',
    'ip.dst',
    'ipv6.dst',
    'udp.dstport',
    'udp.payload',
    'data.data',
    'ip.proto',
    'tls.handshake.extensions_server_name',
    'gquic.tag.sni',
    'quic.version',
    'gquic.version',
  ];
  const out = execFileSync(
    'tshark',
    ['-r', file, '-T', 'fields', '-E', 'occurrence=a', ...fields.flatMap((f) => ['-e', f])],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 << 20,
    },
  );
  const view: TsharkView = { datagrams: [], snis: new Set(), versions: new Set() };
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const [num, ts, s4, s6, sp, d4, d6, dp, udp, data, proto, sni, gsni, qv, gv] = line.split('\t');
    for (const s of [sni, gsni]) for (const name of (s ?? '').split(',')) if (name !== '') view.snis.add(name);
    for (const v of (qv ?? '').split(',')) if (v !== '') view.versions.add(Number(v));
    for (const v of (gv ?? '').split(',')) {
      if (/^[QT]\d{3}$/.test(v)) view.versions.add(Buffer.from(v, 'latin1').readUInt32BE(0));
    }
    let hex = udp ?? '';
    // A first IP fragment of a UDP datagram: tshark shows it as data; its first 8 bytes are the UDP header.
    if (hex === '' && proto === '17' && data) hex = data.slice(16);
    if (hex === '') continue;
    const a = `${s4 || s6}/${sp}`;
    const b = `${d4 || d6}/${dp}`;
    view.datagrams.push({
      frame: Number(num),
      flow: a < b ? `${a}|${b}` : `${b}|${a}`,
      src: a,
      payload: new Uint8Array(Buffer.from(hex.replace(/:/g, ''), 'hex')),
      tsMs: Number(ts) * 1000,
    });
  }
  return view;
}

interface Found {
  frame: number;
  result: QuicResult;
  sni: string | null;
}

function extract(
  datagrams: Datagram[],
  extractor = new QuicSniExtractor(),
): { found: Found[]; extractor: QuicSniExtractor } {
  const clients = new Map<string, string>();
  const found: Found[] = [];
  for (const d of datagrams) {
    if (!clients.has(d.flow)) clients.set(d.flow, d.src);
    const r = extractor.onDatagram(d.flow, clients.get(d.flow) === d.src, d.payload, d.tsMs);
    if (r === null) continue;
    const sni = r.kind === 'tls' ? parseClientHello(r.clientHello, 'quic').sni : r.sni;
    found.push({ frame: d.frame, result: r, sni });
  }
  return { found, extractor };
}

/** ndpi_hostnames column of manifest.tsv: "name{Proto} name{Proto}". */
function ndpiHostnames(): Map<string, Set<string>> {
  const rows = readFileSync(`${CAPTURES}ndpi/manifest.tsv`, 'utf8').split('\n');
  const header = rows[0]!.split('\t');
  const col = header.indexOf('ndpi_hostnames{ndpi_proto}');
  const out = new Map<string, Set<string>>();
  for (const row of rows.slice(1)) {
    const cells = row.split('\t');
    if (cells.length <= col) continue;
    const names = (cells[col] ?? '')
      .split(' ')
      .filter((s) => s !== '')
      .map((s) => s.replace(/\{.*\}$/, ''));
    out.set(cells[0]!, new Set(names));
  }
  return out;
}

interface Case {
  file: string;
  /** Version names of the results, in order. */
  versions: string[];
  /** Where the result differs from tshark, the reason (checked further below). */
  beyondTshark?: string[];
  /** ClientHello sizes documented in dpi.md §3.3, by result index. */
  helloBytes?: number[];
}

const CASES: Case[] = [
  { file: 'ndpi/doq.pcapng', versions: ['draft-32'] },
  { file: 'ndpi/quic-23.pcap', versions: ['draft-23'] },
  { file: 'ndpi/quic-29.pcap', versions: ['draft-29'] },
  { file: 'ndpi/quic-33.pcapng', versions: ['v1'] },
  { file: 'ndpi/quic-forcing-vn-with-data.pcapng', versions: ['grease-0xbabababa'] },
  { file: 'ndpi/quic-fuzz-overflow.pcapng', versions: [] },
  { file: 'ndpi/quic-mvfst-22_decryption_error.pcap', versions: [] },
  { file: 'ndpi/quic-v2.pcapng', versions: ['v2'] },
  { file: 'ndpi/quic_0RTT.pcap', versions: ['draft-28', 'v1'] },
  { file: 'ndpi/quic_crypto_aes_auth_size.pcap', versions: ['v1', 'v1'] },
  { file: 'ndpi/quic_frags_ch_in_multiple_packets.pcapng', versions: ['v1'], helloBytes: [1578] },
  { file: 'ndpi/quic_frags_different_dcid.pcapng', versions: ['v1'], helloBytes: [1767] },
  { file: 'ndpi/quic_q46.pcap', versions: ['Q046'] },
  { file: 'public/zeek/quic_interop_quic-go_quic-go_retry.pcap', versions: ['v1'] },
  { file: 'public/zeek/quic_quic-decrypt-fail-google-de-51833.pcap', versions: ['v1'], helloBytes: [2203] },
  {
    file: 'public/zeek/quic_quic-multiple-initial-fragmented-crypto-only-initial.pcap',
    versions: ['v1'],
    helloBytes: [2246],
  },
  { file: 'public/zeek/quic_quic-multiple-initial-fragmented-crypto.pcap', versions: ['v1'], helloBytes: [2246] },
  { file: 'public/zeek/quic_quicv2-echo-443.pcap', versions: ['v2'] },
  { file: 'public/zeek/quic_quicv2-http3-443.pcap', versions: ['v2'] },
  { file: 'public/zeek/quic_vector-max-size-crash.pcap', versions: [] },
  { file: 'public/tcpdump/quic_32_bit_pointer_overflow.pcap', versions: [] },
  { file: 'public/tcpdump/quic_handshake.pcap', versions: ['v1'] },
  // Snap length cuts every datagram: no Initial is whole, so nothing can be decrypted (tshark agrees).
  { file: 'public/tcpdump/quic_handshake_truncated.pcap', versions: [] },
  { file: 'public/tcpdump/quic_retry.pcap', versions: ['v1'] },
  // tshark neither decrypts the greased-version (0x1a2a3a4a) Initial nor, after Version Negotiation, the v1
  // Initial; the greased one authenticates with the v1 salt and carries SNI "localhost" (see test below).
  { file: 'public/tcpdump/quic_vn.pcap', versions: ['grease-0x1a2a3a4a'], beyondTshark: ['localhost'] },
  { file: 'public/foxio_ja4/quic-tls-handshake.pcapng', versions: ['v1'] },
  { file: 'public/foxio_ja4/quic-with-several-tls-frames.pcapng', versions: ['v1'] },
  { file: 'public/foxio_ja4/chrome-cloudflare-quic-with-secrets.pcapng', versions: ['v1'] },
];

describe('QuicSniExtractor on public QUIC captures', () => {
  const ndpi = ndpiHostnames();

  it('covers every QUIC capture in the shared set', () => {
    const listed = execFileSync(
      'bash',
      [
        '-c',
        `cd ${CAPTURES} && ls ndpi/quic*.pcap* ndpi/doq.pcapng public/zeek/quic_*.pcap public/tcpdump/quic_*.pcap ` +
          'public/foxio_ja4/quic*.pcapng public/foxio_ja4/chrome-cloudflare-quic-with-secrets.pcapng',
      ],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter((f) => f !== '' && !f.endsWith('.out') && f !== 'ndpi/quickplay.pcap');
    expect(CASES.map((c) => c.file).sort()).toEqual(listed.sort());
  });

  for (const c of CASES) {
    it(c.file, () => {
      const view = tshark(CAPTURES + c.file);
      const { found, extractor } = extract(view.datagrams);
      const ours = new Set(found.map((f) => f.sni).filter((s): s is string => s !== null));

      const expected = new Set([...view.snis, ...(c.beyondTshark ?? [])]);
      expect([...ours].sort()).toEqual([...expected].sort());
      const fromNdpi = ndpi.get(c.file.replace(/^ndpi\//, ''));
      if (c.file.startsWith('ndpi/')) expect([...ours].sort()).toEqual([...(fromNdpi ?? [])].sort());

      expect(found.map((f) => f.result.versionName)).toEqual(c.versions);
      for (const f of found) expect(view.versions.has(f.result.version)).toBe(true);
      if (c.helloBytes) {
        expect(found.map((f) => (f.result.kind === 'tls' ? f.result.clientHello.length : -1))).toEqual(c.helloBytes);
      }
      expect(extractor.counters.results).toBe(found.length);
    });
  }

  it('keys later Initials from the first DCID (Zeek google-de-51833: 5 Initials, DCID changes, 2203-byte hello)', () => {
    const view = tshark(`${CAPTURES}public/zeek/quic_quic-decrypt-fail-google-de-51833.pcap`);
    const { found, extractor } = extract(view.datagrams);
    expect(found).toHaveLength(1);
    expect(extractor.counters.decryptFailed).toBe(0);
    expect(found[0]!.result.kind === 'tls' && found[0]!.result.clientHello.length).toBe(2203);
    expect(quicVersionName(found[0]!.result.version)).toBe('v1');
  });

  it('quic_vn: the post-negotiation v1 Initial alone also gives "localhost" (v1 salt, its own DCID)', () => {
    const view = tshark(`${CAPTURES}public/tcpdump/quic_vn.pcap`);
    const v1Initial = view.datagrams.filter((d) => d.frame === 3);
    expect(v1Initial).toHaveLength(1);
    const { found } = extract(v1Initial);
    expect(found.map((f) => [f.result.versionName, f.sni])).toEqual([['v1', 'localhost']]);
  });

  it('quic-mvfst-22_decryption_error: counted as a decrypt failure, no result, no throw', () => {
    const { found, extractor } = extract(tshark(`${CAPTURES}ndpi/quic-mvfst-22_decryption_error.pcap`).datagrams);
    expect(found).toHaveLength(0);
    expect(extractor.counters.decryptFailed).toBeGreaterThan(0);
  });

  it('Q046: SNI and user agent straight from the cleartext CHLO', () => {
    const { found } = extract(tshark(`${CAPTURES}ndpi/quic_q46.pcap`).datagrams);
    expect(found[0]!.result).toMatchObject({
      kind: 'gquic-chlo',
      versionName: 'Q046',
      sni: 'play.google.com',
      uaid: 'Chrome/74.0.3729.157 Android 8.0.0; BND-L21',
    });
  });
});
