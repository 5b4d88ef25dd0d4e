/**
 * Every capture in the shared captures directory read by readCaptureFile and decoded by decodePacket, compared
 * packet by packet with tshark: count, timestamps, lengths, addresses, ports and TCP fields.
 * Skipped (visibly) when the corpus or tshark is not there.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../../src/net/capture/pcapFile.js';
import { decodePacket } from '../../../../src/net/decode/packet.js';
import type { DecodedPacket, DropReason } from '../../../../src/net/decode/types.js';
import { CAPTURES_DIR } from '../../../helpers/captures.js';
import { hasTshark } from '../../../helpers/tshark.js';

const ROOT = CAPTURES_DIR;
const DIRS = ['ndpi', 'public/zeek', 'public/tcpdump', 'public/foxio_ja4'];

const corpus = existsSync(ROOT)
  ? DIRS.flatMap((d) =>
      existsSync(join(ROOT, d))
        ? readdirSync(join(ROOT, d))
            .filter((f) => /\.(pcap|pcapng|cap)$/.test(f))
            .sort()
            .map((f) => join(ROOT, d, f))
        : [],
    )
  : [];
const tshark = hasTshark();
const skipReason = corpus.length === 0 ? `no captures under ${ROOT}` : !tshark ? 'tshark is not installed' : null;

const FIELDS = [
  'frame.time_epoch',
  'frame.cap_len',
  'frame.len',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.flags',
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

function runTshark(file: string): Promise<Row[]> {
  const args = ['-r', file, '-n', '-T', 'fields', '-E', 'occurrence=f', '-E', 'separator=\t'];
  for (const f of FIELDS) args.push('-e', f);
  return new Promise((resolve) => {
    // tshark exits non-zero on damaged files after printing the packets before the damage: keep those.
    execFile('tshark', args, { maxBuffer: 256 << 20 }, (_err, stdout) => {
      const rows = stdout
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => {
          const cols = l.split('\t');
          return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ''])) as Row;
        });
      resolve(rows);
    });
  });
}

/** Milliseconds from tshark's "seconds.nanoseconds" text without losing digits to a float parse. */
function epochMs(s: string): number {
  const [sec, frac = ''] = s.split('.');
  // tshark prints the nanosecond count zero-padded to 9 digits; a damaged file can hold more than 1e9 of them.
  return Number(sec) * 1000 + Number(frac.padEnd(9, '0')) / 1e6;
}

interface Ours {
  tsMs: number;
  capLen: number;
  origLen: number;
  decoded: DecodedPacket | DropReason;
}

async function readOurs(file: string): Promise<Ours[]> {
  const out: Ours[] = [];
  await readCaptureFile(file, (p) => {
    // Decode while the data is valid; keep a copy of the result fields only.
    const d = decodePacket(p.linkType, p.data);
    out.push({
      tsMs: p.tsMs,
      capLen: p.data.length,
      origLen: p.origLen,
      decoded: typeof d === 'string' ? d : { ...d, payload: new Uint8Array(0) },
    });
  });
  return out;
}

const expected = new Map<string, Row[]>();

describe.skipIf(skipReason !== null)(`capture corpus vs tshark${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    // Two tshark processes at a time: the machine is shared.
    const queue = [...corpus];
    const worker = async () => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) expected.set(f, await runTshark(f));
    };
    await Promise.all([worker(), worker()]);
  }, 240_000);

  it('has captures in every directory', () => {
    for (const d of DIRS) expect(corpus.some((f) => f.includes(`/${d}/`))).toBe(true);
  });

  const totals = { tsharkIp: 0, decoded: 0, compared: 0 };

  it.each(corpus.map((f) => [f.slice(ROOT.length + 1), f]))('%s', async (_name, file) => {
    const rows = expected.get(file)!;
    const ours = await readOurs(file);
    expect(ours.length).toBe(rows.length);
    const problems: string[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const o = ours[i]!;
      const n = i + 1;
      if (Math.abs(o.tsMs - epochMs(r['frame.time_epoch'])) > 0.001) {
        problems.push(`#${n} time ${o.tsMs} vs ${r['frame.time_epoch']}`);
      }
      if (o.capLen !== Number(r['frame.cap_len']) || o.origLen !== Number(r['frame.len'])) {
        problems.push(`#${n} lengths ${o.capLen}/${o.origLen} vs ${r['frame.cap_len']}/${r['frame.len']}`);
      }
      const d = o.decoded;
      const tsharkSrc = r['ip.src'] || r['ipv6.src'];
      if (tsharkSrc) totals.tsharkIp++;
      if (typeof d === 'string') {
        // tshark dissects some of what we drop (e.g. ARP has no IP, a cut header has no ports): only an
        // intact IP packet that tshark read and we dropped as not-IP/unsupported is a real disagreement.
        if (tsharkSrc && (d === 'not-ip' || d === 'unsupported-link'))
          problems.push(`#${n} dropped ${d}, tshark ${tsharkSrc}`);
        continue;
      }
      totals.decoded++;
      const src = d.ipVersion === 4 ? r['ip.src'] : r['ipv6.src'];
      const dst = d.ipVersion === 4 ? r['ip.dst'] : r['ipv6.dst'];
      if (d.src !== src || d.dst !== dst) problems.push(`#${n} addresses ${d.src}>${d.dst} vs ${src}>${dst}`);
      if (d.fragment !== null) continue;
      totals.compared++;
      if (d.protocol === 6) {
        const t = d.tcp!;
        const flags = Number.parseInt(r['tcp.flags'], 16) & 0x1ff;
        if (
          d.srcPort !== Number(r['tcp.srcport']) ||
          d.dstPort !== Number(r['tcp.dstport']) ||
          t.seq !== Number(r['tcp.seq_raw']) ||
          t.ack !== Number(r['tcp.ack_raw']) ||
          (t.flags & 0x1ff) !== flags
        ) {
          problems.push(
            `#${n} tcp ${d.srcPort}>${d.dstPort} seq ${t.seq} ack ${t.ack} flags ${t.flags} vs ${r['tcp.srcport']}>${r['tcp.dstport']} ${r['tcp.seq_raw']} ${r['tcp.ack_raw']} ${flags}`,
          );
        }
      } else if (d.protocol === 17) {
        if (d.srcPort !== Number(r['udp.srcport']) || d.dstPort !== Number(r['udp.dstport'])) {
          problems.push(`#${n} udp ${d.srcPort}>${d.dstPort} vs ${r['udp.srcport']}>${r['udp.dstport']}`);
        }
      }
    }
    expect(problems.slice(0, 20)).toEqual([]);
  });

  it('decoded nearly every IP packet of the corpus', () => {
    expect(totals.tsharkIp).toBeGreaterThan(3000);
    expect(totals.decoded / totals.tsharkIp).toBeGreaterThan(0.99);
  });
});
