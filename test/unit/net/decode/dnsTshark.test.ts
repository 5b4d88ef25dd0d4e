/**
 * The DNS, mDNS and LLMNR packets of the public captures, decoded by decodeDns and compared with tshark 4.0's
 * fields for each packet: question names, A and AAAA addresses (all sections, wire order), CNAME targets.
 *
 * Normalisation and legitimate differences:
 * - tshark writes control bytes in names as C escapes / octal '\ooo'; we write RFC 1035 decimal '\DDD'. Both
 *   sides are turned back into the label bytes they stand for before comparing.
 * - tshark keeps going past broken names and prints markers ('<Name contains a pointer that loops>',
 *   '<Name too long>', '<Unknown extended label>'); for a question or owner name that is MalformedError here (the
 *   message cannot be delimited safely), for a CNAME target it is a record with `data.malformed`.
 * - tshark flags cut messages 'Malformed Packet'; here they throw TruncatedError (or decode with
 *   `allowTruncated`, giving the same prefix of fields).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DnsMessage,
  type DnsRecord,
  type DnsSvcb,
  decodeDns,
  dnsAddressAnswers,
  dnsTcpMessages,
} from '../../../../src/net/decode/dns.js';
import { fromHex, MalformedError, TruncatedError } from '../../../../src/sdk/byteReader.js';
import { CAPTURES_DIR } from '../../../helpers/captures.js';
import { hasTshark } from '../../../helpers/tshark.js';

const CAPTURES = existsSync(CAPTURES_DIR) ? CAPTURES_DIR : undefined;

const SEP = '\t';
const AGG = '\u001e'; // ASCII record separator: tshark escapes control bytes in names, so it never appears in one

interface TsharkDnsRow {
  /** Index of the input file (= pcapng interface id after `mergecap -I none`; every input has one interface). */
  iface: number;
  frame: number;
  payload: Uint8Array;
  tcp: boolean;
  names: string[];
  a: string[];
  aaaa: string[];
  cname: string[];
  expert: string;
  ipv4hint: string[];
  ipv6hint: string[];
  alpn: string[];
}

function tsharkDns(file: string): TsharkDnsRow[] {
  const fields = [
    'frame.interface_id',
    'frame.number',
    'udp.payload',
    'tcp.payload',
    'dns.qry.name',
    'dns.a',
    'dns.aaaa',
    'dns.cname',
    '_ws.expert.message',
    'dns.svcb.svcparam.ipv4hint.ip',
    'dns.svcb.svcparam.ipv6hint.ip',
    'dns.svcb.svcparam.alpn',
  ];
  const text = execFileSync(
    'tshark',
    [
      '-r',
      file,
      '-Y',
      'dns || mdns || llmnr',
      '-T',
      'fields',
      '-E',
      'occurrence=a',
      '-E',
      `aggregator=${AGG}`,
      ...fields.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 },
  );
  const split = (s: string | undefined) => (s === undefined || s === '' ? [] : s.split(AGG));
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const c = line.split(SEP).slice(1);
      const tcp = (c[2] ?? '') !== '';
      return {
        iface: Number(line.split(SEP)[0]),
        frame: Number(c[0]),
        payload: fromHex(tcp ? c[2]! : (c[1] ?? '')),
        tcp,
        names: split(c[3]),
        a: split(c[4]),
        aaaa: split(c[5]),
        cname: split(c[6]),
        expert: c[7] ?? '',
        ipv4hint: split(c[8]),
        ipv6hint: split(c[9]),
        alpn: split(c[10]),
      };
    });
}

/** tshark's name text → byte-exact canonical form (octal and C escapes to our decimal \DDD). */
function fromTshark(name: string): string {
  const c: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };
  return name.replace(/\\([0-7]{3}|[abfnrtv]|\\)/g, (_m, e: string) => {
    if (e === '\\') return '\\\\';
    const code = e.length === 3 ? Number.parseInt(e, 8) : c[e]!;
    return '\\' + String(code).padStart(3, '0');
  });
}

const MARKER = /^<.*>$/;

function all(msg: DnsMessage): DnsRecord[] {
  return [...msg.answers, ...msg.authorities, ...msg.additionals];
}

/** Files with DNS-family packets (doq.pcapng is DNS over QUIC, not DNS on the wire: left out). */
const FILES = [
  'ndpi/android.pcap',
  'ndpi/badpackets.pcap',
  'ndpi/dns-invalid-chars.pcap',
  'ndpi/dns.pcap',
  'ndpi/dns_long_domainname.pcap',
  'ndpi/malformed_dns.pcap',
  'ndpi/nest_log_sink.pcap',
  'ndpi/whatsapp_login_chat.pcap',
  'public/zeek/dns-https.pcap',
  'public/zeek/dns_dns-corrupt.pcap',
  'public/zeek/dns_dns-invalid-names.pcap',
  'public/zeek/dns_ech.pcap',
  'public/zeek/dns_max-compression-depth.pcap',
  'public/zeek/dns_mdns.pcap',
  'public/zeek/dns_original_case.pcap',
  'public/zeek/quic_vector-max-size-crash.pcap',
  'public/tcpdump/dns_fwdptr.pcap',
  'public/tcpdump/dns_tcp.pcap',
  'public/tcpdump/nflog.pcap',
  'public/foxio_ja4/latest.pcapng',
];

const run = CAPTURES !== undefined && hasTshark();

describe.skipIf(!run)('DNS decoding agrees with tshark on public captures', () => {
  let dir = '';
  let rows: TsharkDnsRow[] = [];
  beforeAll(() => {
    // One tshark run over all files (its start-up dominates): concatenate them, one interface per input file.
    dir = mkdtempSync(join(tmpdir(), 'bandguard-dns-'));
    const merged = join(dir, 'dns.pcapng');
    execFileSync(
      'mergecap',
      ['-a', '-I', 'none', '-F', 'pcapng', '-w', merged, ...FILES.map((f) => resolve(CAPTURES!, f))],
      {
        stdio: 'ignore',
      },
    );
    rows = tsharkDns(merged);
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('every DNS/mDNS/LLMNR packet decodes as tshark reads it, or fails only where tshark found it broken', () => {
    const stats = { compared: 0, malformed: 0, truncated: 0, svcb: 0 };
    const files = new Set<number>();
    for (const row of rows) {
      const where = `${FILES[row.iface] ?? `interface ${row.iface}`} (merged frame ${row.frame})`;
      files.add(row.iface);
      const payloads = row.tcp ? dnsTcpMessages(row.payload).messages : [row.payload];
      if (row.tcp) expect(payloads.length, where).toBeGreaterThan(0);
      for (const payload of payloads) {
        let msg: DnsMessage;
        try {
          msg = decodeDns(payload);
        } catch (e) {
          expect(e instanceof TruncatedError || e instanceof MalformedError, `${where}: ${String(e)}`).toBe(true);
          if (e instanceof MalformedError) {
            stats.malformed++;
            // Only where tshark also found a broken name.
            expect(
              [...row.names, ...row.cname].some((n) => MARKER.test(n)) || /Malformed/.test(row.expert),
              where,
            ).toBe(true);
          } else {
            stats.truncated++;
            // tshark flags the same packet as cut, and the lenient mode gives a prefix of tshark's questions.
            expect(row.expert, where).toMatch(/Malformed|Exception|exceeds/);
            if (payload.length >= 12) {
              const partial = decodeDns(payload, { allowTruncated: true });
              expect(partial.incomplete, where).toBe(true);
              const q = partial.questions.map((x) => x.name);
              expect(row.names.slice(0, q.length).map(fromTshark), where).toEqual(q);
            }
          }
          continue;
        }
        stats.compared++;
        expect(
          msg.questions.map((q) => q.name),
          where,
        ).toEqual(row.names.map(fromTshark));
        const records = all(msg);
        expect(
          records.filter((r) => r.type === 1).map((r) => r.data),
          where,
        ).toEqual(row.a);
        expect(
          records.filter((r) => r.type === 28).map((r) => r.data),
          where,
        ).toEqual(row.aaaa);
        const cnames = records.filter((r) => r.type === 5).map((r) => (typeof r.data === 'string' ? r.data : '<bad>'));
        expect(cnames, where).toEqual(row.cname.map((c) => (MARKER.test(c) ? '<bad>' : fromTshark(c))));
        const svcb = records.filter((r) => r.type === 64 || r.type === 65).map((r) => r.data as DnsSvcb);
        expect(
          svcb.flatMap((d) => d.ipv4hint ?? []),
          where,
        ).toEqual(row.ipv4hint);
        expect(
          svcb.flatMap((d) => d.ipv6hint ?? []),
          where,
        ).toEqual(row.ipv6hint);
        expect(
          svcb.flatMap((d) => d.alpn ?? []),
          where,
        ).toEqual(row.alpn);
        stats.svcb += svcb.length;
        // Every address record and hint reaches the IP → name map.
        const mapped = new Set(dnsAddressAnswers(msg).map((x) => x.address));
        for (const addr of [...row.a, ...row.aaaa, ...row.ipv4hint, ...row.ipv6hint])
          expect(mapped, where).toContain(addr);
      }
    }
    expect(files.size).toBe(FILES.length);
    // Fixed corpus, so exact counts: 7 MalformedError = malformed_dns (4 × name over 255 octets), dns-invalid-names
    // (pointer loop), dns_fwdptr (forward pointer), quic_vector-max-size-crash (extended label type); 93 cut
    // messages, nearly all in badpackets.pcap (snaplen-cut).
    expect(stats).toMatchObject({ compared: 140, malformed: 7, truncated: 93 });
    expect(stats.svcb).toBeGreaterThanOrEqual(3);
  });

  it('maps the CNAME chain of latest.pcapng to the name the client asked for', () => {
    const latest = FILES.indexOf('public/foxio_ja4/latest.pcapng');
    const row = rows.find((r) => r.iface === latest && r.cname.length > 0 && r.a.length > 1)!;
    const answers = dnsAddressAnswers(decodeDns(row.payload));
    expect(answers.map((a) => a.address)).toEqual(row.a);
    for (const a of answers) {
      expect(a.name).toBe(row.names[0]);
      expect(a.via).toEqual(row.cname);
    }
  });
});
