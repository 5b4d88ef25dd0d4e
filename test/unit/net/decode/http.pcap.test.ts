/**
 * HTTP requests parsed from TCP streams reassembled by TcpStream (tshark only lists the segments), compared
 * with tshark's HTTP dissector: method, request-target and host of every request, per connection, in order.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { extractHttpBody, parseHttpRequestHead, splitHostPort } from '../../../../src/net/decode/http.js';
import { TcpStream } from '../../../../src/net/flows/tcpStream.js';
import { fromHex } from '../../../../src/sdk/byteReader.js';
import { CAPTURES_DIR } from '../../../helpers/captures.js';

const NDPI = `${CAPTURES_DIR}/ndpi`;

interface Req {
  stream: number;
  method: string;
  target: string;
  host: string;
}

function analyse(file: string, extra: string[]): { ours: Req[]; tshark: Req[] } {
  const fields = [
    'tcp.stream',
    'tcp.srcport',
    'tcp.seq_raw',
    'tcp.flags',
    'tcp.payload',
    'http.request.method',
    'http.request.uri',
    'http.host',
  ];
  const out = execFileSync(
    'tshark',
    [
      '-n',
      '-r',
      file,
      ...extra,
      '-Y',
      'tcp',
      '-T',
      'fields',
      '-E',
      'occurrence=f',
      ...fields.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 << 20 },
  );
  const tshark: Req[] = [];
  const ours: Req[] = [];
  const conns = new Map<number, { client: string | null; tcp: TcpStream; done: boolean }>();
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [streamS, sport, seqS, flagsS, hex, method, uri, host] = line.split('\t');
    const stream = Number(streamS);
    if (method) tshark.push({ stream, method, target: uri ?? '', host: splitHostPort(host ?? '')?.host ?? '' });
    const flags = Number.parseInt(flagsS ?? '0', 16);
    const payload = hex ? fromHex(hex) : new Uint8Array(0);
    let c = conns.get(stream);
    if (!c) {
      c = { client: null, tcp: new TcpStream({ cap: 65536 }), done: false };
      conns.set(stream, c);
    }
    if (c.client === null) {
      if ((flags & 0x12) === 0x02 || parseHttpRequestHead(payload).status !== 'not-http') c.client = sport!;
      else continue;
    }
    if (sport !== c.client || c.done) continue;
    if (flags & 0x02) c.tcp.onSyn(Number(seqS));
    c.tcp.push(Number(seqS), payload, flags);
    while (!c.done && c.tcp.available > 0) {
      const buf = c.tcp.contiguous();
      const h = parseHttpRequestHead(buf);
      if (h.status === 'need-more') break;
      if (h.status !== 'ok') {
        c.done = true;
        break;
      }
      const b = extractHttpBody(buf, h.request!, h.headerLength!, 4096);
      if (b.status !== 'ok') {
        if (b.status === 'malformed') c.done = true;
        break;
      }
      ours.push({ stream, method: h.request!.method, target: h.request!.target, host: h.request!.host ?? '' });
      c.tcp.consume(b.consumed);
    }
  }
  return { ours, tshark };
}

const FILES: [string, string[]][] = [
  ['http-lines-split.pcap', ['-d', 'tcp.port==31337,http']],
  ['http-proxy.pcapng', []],
  ['http_auth.pcap', []],
  ['windowsupdate_over_http.pcap', []],
  ['quickplay.pcap', []],
  ['android.pcap', []],
];

describe('HTTP requests from reassembled streams match tshark', () => {
  for (const [file, extra] of FILES) {
    it(file, () => {
      const { ours, tshark } = analyse(`${NDPI}/${file}`, extra);
      expect(tshark.length).toBeGreaterThan(0);
      expect(ours).toEqual(tshark);
    });
  }
});
