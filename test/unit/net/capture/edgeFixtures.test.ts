import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../../src/net/capture/pcapFile.js';
import { CaptureFormatError } from '../../../../src/net/capture/types.js';
import { decodePacket } from '../../../../src/net/decode/packet.js';
import type { DecodedPacket } from '../../../../src/net/decode/types.js';
import { IpReassembler } from '../../../../src/net/flows/ipReassembly.js';
import { MAC_A } from './builders.js';
import { edgeFixtures } from './edgeFixtures.js';

const DIR = join(import.meta.dirname, '../../../fixtures/pcap/edge');
const fixtures = edgeFixtures();

if (process.env.UPDATE_FIXTURES === '1') {
  mkdirSync(DIR, { recursive: true });
  for (const [name, bytes] of Object.entries(fixtures)) writeFileSync(join(DIR, name), bytes);
}

async function run(name: string) {
  const decoded: DecodedPacket[] = [];
  const r = new IpReassembler();
  const whole: DecodedPacket[] = [];
  const stats = await readCaptureFile(join(DIR, name), (p) => {
    const d = decodePacket(p.linkType, p.data);
    if (typeof d === 'string') return;
    decoded.push({ ...d, payload: d.payload.slice() });
    const w = r.add(d, p.tsMs);
    if (w) whole.push(w);
  });
  return { stats, decoded, whole };
}

describe('test/fixtures/pcap/edge', () => {
  it('files on disk match the generator (UPDATE_FIXTURES=1 rewrites them)', () => {
    for (const [name, bytes] of Object.entries(fixtures)) {
      const path = join(DIR, name);
      expect(existsSync(path), name).toBe(true);
      const disk = new Uint8Array(readFileSync(path));
      // Compressed bytes depend on the zlib build: compare what they decompress to.
      if (disk[0] === 0x1f && disk[1] === 0x8b) expect(gunzipSync(disk)).toEqual(Buffer.from(gunzipSync(bytes)));
      else expect(Buffer.from(disk).equals(Buffer.from(bytes)), name).toBe(true);
    }
  });

  it('le-usec-ether.pcap and be-nsec-rawip.pcap', async () => {
    const a = await run('le-usec-ether.pcap');
    const b = await run('be-nsec-rawip.pcap');
    expect(a.stats).toMatchObject({ packets: 3, firstTsMs: 1_700_000_000_000, lastTsMs: 1_700_000_002_500 });
    expect(b.stats.packets).toBe(3);
    // 2.5 s + 7 ns: the 7 ns are below what a float of epoch milliseconds can hold.
    expect(Math.abs(b.stats.lastTsMs! - 1_700_000_002_500)).toBeLessThan(0.001);
    expect(a.decoded.map((p) => p.src)).toEqual(b.decoded.map((p) => p.src));
  });

  it('multi-section.pcapng and its gzip twin', async () => {
    const a = await run('multi-section.pcapng');
    const b = await run('gzipped.pcapng');
    expect(a.stats).toMatchObject({
      format: 'pcapng',
      packets: 5,
      sections: 2,
      linkTypes: [1, 101, 113],
      compressed: false,
    });
    expect(b.stats).toMatchObject({ ...a.stats, path: b.stats.path, compressed: true });
    expect(a.decoded.map((p) => p.src)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
    expect(a.decoded.map((p) => p.srcMac)).toEqual([MAC_A, null, MAC_A, MAC_A, MAC_A]);
  });

  it('cut-short.pcap and corrupt-caplen.pcap stop cleanly', async () => {
    const cut = await run('cut-short.pcap');
    expect(cut.stats).toMatchObject({ packets: 2, cutShort: { afterPackets: 2 } });
    const bad = await run('corrupt-caplen.pcap');
    expect(bad.stats).toMatchObject({ packets: 1, skippedBlocks: 1, corrupt: { afterPackets: 1 } });
  });

  it('not-a-capture.pcap throws CaptureFormatError', async () => {
    await expect(run('not-a-capture.pcap')).rejects.toBeInstanceOf(CaptureFormatError);
  });

  it('null-loopback.pcap, qinq.pcap', async () => {
    const n = await run('null-loopback.pcap');
    expect(n.decoded.map((p) => p.ipVersion)).toEqual([4, 6]);
    const q = await run('qinq.pcap');
    expect(q.decoded[0]!.vlans).toEqual([100, 200]);
  });

  it('ipv4-fragments.pcap (reversed order) and ipv6-fragments.pcapng reassemble', async () => {
    const a = await run('ipv4-fragments.pcap');
    expect(a.decoded.every((p) => p.fragment !== null)).toBe(true);
    expect(a.whole).toHaveLength(1);
    expect(a.whole[0]).toMatchObject({ srcPort: 53, dstPort: 33000 });
    expect(a.whole[0]!.payload.length).toBe(2000);
    const b = await run('ipv6-fragments.pcapng');
    expect(b.whole).toHaveLength(1);
    expect(b.whole[0]).toMatchObject({ ipVersion: 6, src: '2001:db8::b', srcPort: 443, dstPort: 50000 });
    expect(b.whole[0]!.payload.length).toBe(1500);
  });
});
