import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_CAPLEN, readCaptureFile } from '../../../../src/net/capture/pcapFile.js';
import { CaptureFormatError } from '../../../../src/net/capture/types.js';
import {
  Bytes,
  block,
  concat,
  epb,
  idb,
  isb,
  opb,
  pcapFile,
  sampleFrame,
  shb,
  spb,
  tsoffset,
  tsresol,
} from './builders.js';

const dir = mkdtempSync(join(tmpdir(), 'bg-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

function tmpFile(bytes: Uint8Array, name = `f${seq++}.bin`): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

interface Got {
  tsMs: number;
  linkType: number;
  data: number[];
  origLen: number;
  interfaceId: number;
}

async function readAll(bytes: Uint8Array, chunkSize?: number) {
  const path = tmpFile(bytes);
  const packets: Got[] = [];
  const stats = await readCaptureFile(
    path,
    (p) =>
      packets.push({
        tsMs: p.tsMs,
        linkType: p.linkType,
        data: Array.from(p.data),
        origLen: p.origLen,
        interfaceId: p.interfaceId,
      }),
    chunkSize === undefined ? {} : { chunkSize },
  );
  return { stats: { ...stats, path: '' }, packets };
}

const f1 = sampleFrame(1);
const f2 = sampleFrame(2, 30);
const f3 = sampleFrame(3, 0);

describe('classic pcap', () => {
  for (const le of [true, false]) {
    for (const nano of [false, true]) {
      it(`reads ${le ? 'little' : 'big'}-endian ${nano ? 'nanosecond' : 'microsecond'} files`, async () => {
        const bytes = pcapFile({
          le,
          nano,
          linkType: 1,
          records: [
            { sec: 1_700_000_000, frac: nano ? 123_456_789 : 123_456, data: f1 },
            { sec: 1_700_000_001, frac: nano ? 999_999_999 : 999_999, data: f2, origLen: 1500 },
          ],
        });
        const { stats, packets } = await readAll(bytes);
        expect(stats).toMatchObject({
          format: 'pcap',
          compressed: false,
          packets: 2,
          bytes: f1.length + f2.length,
          snapTruncated: 1,
          linkTypes: [1],
          cutShort: null,
          skippedBlocks: 0,
          corrupt: null,
          tsResolutionNs: nano ? 1 : 1000,
        });
        expect(packets[0]!.tsMs - 1_700_000_000_000).toBeCloseTo(nano ? 123.456789 : 123.456, 3);
        expect(packets[1]!.tsMs - 1_700_000_000_000).toBeCloseTo(nano ? 1999.999999 : 1999.999, 3);
        expect(stats.firstTsMs).toBe(packets[0]!.tsMs);
        expect(stats.lastTsMs).toBe(packets[1]!.tsMs);
        expect(packets[0]).toMatchObject({ linkType: 1, data: Array.from(f1), origLen: f1.length, interfaceId: 0 });
        expect(packets[1]).toMatchObject({ data: Array.from(f2), origLen: 1500 });
      });
    }
  }

  it('takes the link type from the low 16 bits (upper bits carry FCS information)', async () => {
    const bytes = pcapFile({ le: true, linkType: 0x1000_0071, records: [{ sec: 1, frac: 0, data: f1 }] });
    const { stats, packets } = await readAll(bytes);
    expect(stats.linkTypes).toEqual([113]);
    expect(packets[0]!.linkType).toBe(113);
  });

  it('reads the old "modified pcap" variant with 24-byte record headers', async () => {
    const b = new Bytes(true).u32(0xa1b2cd34).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(1);
    b.u32(5).u32(250).u32(f1.length).u32(f1.length).u32(3).u16(0x0800).u8(0).u8(0).bytes(f1);
    const { stats, packets } = await readAll(b.build());
    expect(stats.packets).toBe(1);
    expect(packets[0]!.tsMs).toBeCloseTo(5000.25, 6);
    expect(packets[0]!.data).toEqual(Array.from(f1));
  });

  it('reads files older than format 2.3 with the captured and original lengths the other way round', async () => {
    for (const minor of [2, 3]) {
      const b = new Bytes(true).u32(0xa1b2c3d4).u16(2).u16(minor).u32(0).u32(0).u32(65535).u32(1);
      // Old order: original length (1500) first, then the captured length.
      b.u32(1).u32(0).u32(1500).u32(f1.length).bytes(f1);
      const { stats, packets } = await readAll(b.build());
      expect(stats.packets).toBe(1);
      expect(packets[0]).toMatchObject({ data: Array.from(f1), origLen: 1500 });
    }
  });

  it('accepts a file with a header and no packets', async () => {
    const { stats } = await readAll(pcapFile({ le: true, linkType: 101, records: [] }));
    expect(stats).toMatchObject({ packets: 0, firstTsMs: null, lastTsMs: null, cutShort: null, linkTypes: [101] });
  });

  it('delivers the complete packets of a file cut inside a record and reports where', async () => {
    const whole = pcapFile({
      le: true,
      linkType: 1,
      records: [
        { sec: 1, frac: 0, data: f1 },
        { sec: 2, frac: 0, data: f2 },
      ],
    });
    const secondAt = 24 + 16 + f1.length;
    for (const cut of [secondAt + 3, secondAt + 16, whole.length - 1]) {
      const { stats, packets } = await readAll(whole.subarray(0, cut));
      expect(packets.length).toBe(1);
      expect(stats.cutShort).toEqual({ offset: secondAt, afterPackets: 1 });
    }
    const exact = await readAll(whole.subarray(0, secondAt));
    expect(exact.stats.cutShort).toBeNull();
  });

  it('stops at an absurd captured length without allocating for it', async () => {
    const bytes = pcapFile({
      le: false,
      linkType: 1,
      records: [
        { sec: 1, frac: 0, data: f1 },
        { sec: 2, frac: 0, data: f2, caplenField: 0xfffffff0 },
        { sec: 3, frac: 0, data: f3 },
      ],
    });
    const { stats, packets } = await readAll(bytes);
    expect(packets.length).toBe(1);
    expect(stats.skippedBlocks).toBe(1);
    expect(stats.corrupt).toMatchObject({ offset: 24 + 16 + f1.length, afterPackets: 1 });
    expect(stats.corrupt!.reason).toContain(String(0xfffffff0));
    expect(stats.cutShort).toBeNull();
  });

  it('accepts a record of exactly the maximum captured length', async () => {
    const big = new Uint8Array(MAX_CAPLEN).fill(7);
    const { stats, packets } = await readAll(
      pcapFile({ le: true, linkType: 1, records: [{ sec: 1, frac: 0, data: big }] }),
    );
    expect(stats.packets).toBe(1);
    expect(packets[0]!.data.length).toBe(MAX_CAPLEN);
  });
});

describe('not a capture', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /empty file/],
    ['three bytes', Uint8Array.from([0xd4, 0xc3, 0xb2]), /too short/],
    [
      'text',
      new TextEncoder().encode('hello, this is not a capture\n'),
      /not a pcap or pcapng capture \(starts with 68 65 6c 6c\)/,
    ],
    [
      'pcap header cut',
      pcapFile({ le: true, linkType: 1, records: [] }).subarray(0, 20),
      /pcap file header cut short \(20 of 24/,
    ],
    ['pcapng header cut', shb(true).subarray(0, 10), /section header cut short/],
    [
      'pcapng SHB with bad byte-order magic',
      concat(shb(true).subarray(0, 8), Uint8Array.from([1, 2, 3, 4])),
      /byte-order magic/,
    ],
    [
      'pcap version 3',
      new Bytes(true).u32(0xa1b2c3d4).u16(3).u16(0).u32(0).u32(0).u32(0).u32(1).build(),
      /unsupported pcap version 3/,
    ],
    ['gzip of text', gzipSync(Buffer.from('plain words')), /not a pcap or pcapng capture inside gzip/],
    ['empty gzip', gzipSync(Buffer.alloc(0)), /empty gzip-compressed file/],
    ['broken gzip', Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]), /gzip data is corrupt/],
  ];
  for (const [name, bytes, msg] of cases) {
    it(`rejects ${name} with CaptureFormatError naming the file`, async () => {
      const path = tmpFile(bytes, `${name.replace(/\W+/g, '_')}.pcap`);
      const err = await readCaptureFile(path, () => undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CaptureFormatError);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message.startsWith(path)).toBe(true);
    });
  }

  it('rejects a missing file and a directory with CaptureFormatError', async () => {
    await expect(readCaptureFile(join(dir, 'nope.pcap'), () => undefined)).rejects.toThrow(
      /cannot read file \(ENOENT\)/,
    );
    await expect(readCaptureFile(dir, () => undefined)).rejects.toBeInstanceOf(CaptureFormatError);
  });
});

describe('pcapng', () => {
  it('reads several sections, switching byte order, each with its own interfaces', async () => {
    const bytes = concat(
      shb(true),
      idb(true, 1, 0), // µs default
      idb(true, 113, 96, [tsresol(9)]), // ns
      epb(true, 0, 1_700_000_000_000_001n, f1),
      epb(true, 1, 1_700_000_000_500_000_000n / 1n, f2),
      isb(true, 0),
      block(true, 0x0bad, Uint8Array.from([1, 2, 3, 4, 5])), // unknown block: skipped, not counted
      shb(false),
      idb(false, 101, 0, [tsresol(0x80 | 10), tsoffset(false, 100)]), // 2^-10 s per tick, +100 s
      epb(false, 0, 1024n * 5n + 512n, f3),
      opb(false, 0, 1024n * 6n, f1),
    );
    const { stats, packets } = await readAll(bytes);
    expect(stats).toMatchObject({
      format: 'pcapng',
      packets: 4,
      sections: 2,
      linkTypes: [1, 113, 101],
      skippedBlocks: 0,
      cutShort: null,
      corrupt: null,
      tsResolutionNs: 1000,
    });
    expect(packets.map((p) => [p.linkType, p.interfaceId])).toEqual([
      [1, 0],
      [113, 1],
      [101, 0],
      [101, 0],
    ]);
    expect(packets[0]!.tsMs).toBeCloseTo(1_700_000_000_000.001, 3);
    expect(packets[1]!.tsMs).toBeCloseTo(1_700_000_000_500, 3);
    expect(packets[2]!.tsMs).toBe(105_500);
    expect(packets[3]!.tsMs).toBe(106_000);
    expect(packets[2]!.data).toEqual(Array.from(f3));
    expect(stats.firstTsMs).toBe(packets[0]!.tsMs);
    expect(stats.lastTsMs).toBe(106_000);
  });

  it('supports decimal resolutions below a millisecond and coarser than it', async () => {
    const bytes = concat(
      shb(true),
      idb(true, 1, 0, [tsresol(3)]),
      idb(true, 1, 0, [tsresol(1)]),
      idb(true, 1, 0, [tsresol(0x80 | 20)]),
      epb(true, 0, 1234n, f1),
      epb(true, 1, 7n, f1),
      epb(true, 2, 3n << 19n, f1),
    );
    const { packets } = await readAll(bytes);
    expect(packets.map((p) => p.tsMs)).toEqual([1234, 700, 1500]);
  });

  it('applies the snap length of interface 0 to simple packet blocks and keeps the last timestamp', async () => {
    const bytes = concat(
      shb(false),
      idb(false, 1, 20),
      epb(false, 0, 5_000_000n, f1),
      spb(false, f2.subarray(0, 20), f2.length),
      spb(false, f3),
    );
    const { stats, packets } = await readAll(bytes);
    expect(packets.length).toBe(3);
    expect(packets[1]).toMatchObject({ data: Array.from(f2.subarray(0, 20)), origLen: f2.length, tsMs: 5000 });
    // The SPB block holds f3 padded; only snaplen (20) bytes of it count.
    expect(packets[2]!.data).toEqual(Array.from(f3.subarray(0, 20)));
    expect(stats.snapTruncated).toBe(2);
    expect(stats.lastTsMs).toBe(5000);
  });

  it('reads packet blocks carrying options', async () => {
    const bytes = concat(
      shb(true),
      idb(true, 1, 0),
      epb(true, 0, 1000n, f1, f1.length, [{ code: 2, value: [0, 0, 0, 1] }]),
    );
    const { packets } = await readAll(bytes);
    expect(packets[0]!.data).toEqual(Array.from(f1));
  });

  it('counts packet blocks naming an unknown interface or lying about their length as skipped', async () => {
    const liar = epb(true, 0, 1n, f1);
    // Captured length field says more than the block holds.
    new DataView(liar.buffer).setUint32(20, 500, true);
    const bytes = concat(shb(true), idb(true, 1, 0), epb(true, 3, 1n, f1), liar, epb(true, 0, 2n, f2));
    const { stats, packets } = await readAll(bytes);
    expect(packets.length).toBe(1);
    expect(stats.skippedBlocks).toBe(2);
    expect(stats.corrupt).toBeNull();
  });

  it('stops cleanly at a block length that is not a multiple of 4 or has a wrong trailer', async () => {
    const head = concat(shb(true), idb(true, 1, 0), epb(true, 0, 1n, f1));
    const odd = concat(head, block(true, 6, new Uint8Array(20), 30), epb(true, 0, 2n, f2));
    const r1 = await readAll(odd);
    expect(r1.packets.length).toBe(1);
    expect(r1.stats.corrupt).toMatchObject({ offset: head.length, afterPackets: 1 });
    expect(r1.stats.skippedBlocks).toBe(1);

    const badTrailer = epb(true, 0, 2n, f2);
    new DataView(badTrailer.buffer).setUint32(badTrailer.length - 4, 12, true);
    const r2 = await readAll(concat(head, badTrailer, epb(true, 0, 3n, f3)));
    expect(r2.packets.length).toBe(1);
    expect(r2.stats.corrupt!.reason).toMatch(/trailer/);

    const huge = concat(head, new Bytes(true).u32(6).u32(0x7ffffff0).u32(0).u32(0).build());
    const r3 = await readAll(huge);
    expect(r3.packets.length).toBe(1);
    expect(r3.stats.corrupt!.reason).toMatch(/bad total length/);
  });

  it('reports a file cut inside a block (packet or skipped block)', async () => {
    const head = concat(shb(true), idb(true, 1, 0), epb(true, 0, 1n, f1));
    const next = epb(true, 0, 2n, f2);
    const r = await readAll(concat(head, next.subarray(0, 17)));
    expect(r.packets.length).toBe(1);
    expect(r.stats.cutShort).toEqual({ offset: head.length, afterPackets: 1 });
    const r2 = await readAll(concat(head, isb(true, 0).subarray(0, 14)));
    expect(r2.stats.cutShort).toEqual({ offset: head.length, afterPackets: 1 });
    const r3 = await readAll(concat(head, Uint8Array.from([6, 0])));
    expect(r3.stats.cutShort).toEqual({ offset: head.length, afterPackets: 1 });
  });

  it('skips an oversized EPB captured length (> 256 KiB) and carries on', async () => {
    const big = new Uint8Array(MAX_CAPLEN + 4);
    const bytes = concat(shb(true), idb(true, 1, 0), epb(true, 0, 1n, big), epb(true, 0, 2n, f1));
    const { stats, packets } = await readAll(bytes);
    expect(packets.length).toBe(1);
    expect(stats.skippedBlocks).toBe(1);
  });
});

describe('chunking and compression', () => {
  const pcapBytes = pcapFile({
    le: true,
    linkType: 1,
    records: Array.from({ length: 40 }, (_, i) => ({ sec: 100 + i, frac: i * 7, data: sampleFrame(i, i * 3) })),
  });
  const ngBytes = concat(
    shb(true),
    idb(true, 1, 0, [tsresol(9)]),
    ...Array.from({ length: 20 }, (_, i) => epb(true, 0, BigInt(i) * 1_000_000_007n, sampleFrame(i, i * 5))),
    isb(true, 0),
    shb(false),
    idb(false, 113, 0),
    ...Array.from({ length: 20 }, (_, i) => epb(false, 0, BigInt(i) * 999n, sampleFrame(i + 50, 60 - i))),
  );

  for (const [name, bytes] of [
    ['pcap', pcapBytes],
    ['pcapng', ngBytes],
  ] as const) {
    it(`${name}: every chunk size gives the same packets, also gzip-compressed`, async () => {
      const ref = await readAll(bytes);
      expect(ref.packets.length).toBe(40);
      for (const chunk of [1, 7, 64, 333, 4096]) {
        const r = await readAll(bytes, chunk);
        expect(r.packets).toEqual(ref.packets);
        expect(r.stats).toEqual(ref.stats);
      }
      const gz = gzipSync(bytes);
      for (const chunk of [7, 100, undefined]) {
        const r = await readAll(gz, chunk);
        expect(r.packets).toEqual(ref.packets);
        expect(r.stats).toEqual({ ...ref.stats, compressed: true });
      }
    });

    it(`${name}: a cut-short file gives the same result at every chunk size`, async () => {
      const cut = bytes.subarray(0, Math.floor(bytes.length * 0.6));
      const ref = await readAll(cut);
      expect(ref.stats.cutShort).not.toBeNull();
      for (const chunk of [1, 7, 100]) expect(await readAll(cut, chunk)).toEqual(ref);
    });
  }

  it('reports a truncated gzip stream as cut short after the packets it held', async () => {
    const gz = gzipSync(pcapBytes);
    const r = await readAll(gz.subarray(0, Math.floor(gz.length * 0.7)));
    expect(r.stats.compressed).toBe(true);
    expect(r.packets.length).toBeGreaterThan(0);
    expect(r.packets.length).toBeLessThan(40);
    expect(r.stats.cutShort).not.toBeNull();
    expect(r.stats.cutShort!.afterPackets).toBe(r.packets.length);
  });

  it('hands out views into its buffer (zero copy) and reuses the packet object', async () => {
    const path = tmpFile(pcapBytes);
    const seen = new Set<ArrayBufferLike>();
    const objs = new Set<object>();
    await readCaptureFile(path, (p) => {
      seen.add(p.data.buffer);
      objs.add(p);
    });
    expect(seen.size).toBe(1);
    expect(objs.size).toBe(1);
  });

  it('reads a file of many chunks through two buffers, whatever the chunk size', async () => {
    // 400 records of 1,000 bytes: ~400 kB, so chunk sizes from 4 kB to 64 kB take 7 to 100 reads.
    const records = Array.from({ length: 400 }, (_, i) => ({
      sec: i,
      frac: 0,
      data: sampleFrame(i, 1000 - 14 - 20 - 8),
    }));
    const bytes = pcapFile({ le: true, linkType: 1, records });
    const ref = await readAll(bytes);
    expect(ref.packets.length).toBe(400);
    for (const chunkSize of [4096, 10_007, 65_536]) {
      const buffers = new Set<ArrayBufferLike>();
      const datas: number[][] = [];
      await readCaptureFile(
        tmpFile(bytes),
        (p) => {
          buffers.add(p.data.buffer);
          datas.push(Array.from(p.data));
        },
        { chunkSize },
      );
      expect(datas).toEqual(ref.packets.map((p) => p.data));
      expect(buffers.size).toBe(2);
    }
  });

  it('joins blocks larger than the room kept before a chunk (up to 1 MiB pcapng blocks)', async () => {
    // An enhanced packet block of ~700 kB: a maximum-size packet and many comment options. Its start is
    // carried from chunk to chunk until the block is whole, beyond what fits before one chunk.
    const big = new Uint8Array(MAX_CAPLEN).map((_, i) => i & 0xff);
    const comments = Array.from({ length: 7 }, (_, i) => ({ code: 1, value: new Uint8Array(60_000).fill(65 + i) }));
    const bytes = concat(
      shb(true),
      idb(true, 1, 0),
      epb(true, 0, 1n, f1),
      epb(true, 0, 2n, big, big.length, comments),
      epb(true, 0, 3n, f2),
    );
    expect(bytes.length).toBeGreaterThan(650_000);
    const ref = await readAll(bytes);
    expect(ref.packets.map((p) => p.data.length)).toEqual([f1.length, MAX_CAPLEN, f2.length]);
    expect(ref.packets[1]!.data).toEqual(Array.from(big));
    expect(ref.stats.skippedBlocks).toBe(0);
    for (const chunk of [4096, 100_000, 300_000]) expect(await readAll(bytes, chunk)).toEqual(ref);
    expect(await readAll(gzipSync(bytes), 100_000)).toEqual({ ...ref, stats: { ...ref.stats, compressed: true } });
  });

  it('passes a sink exception through and leaves no file descriptor open (plain and gzip)', async () => {
    const plain = tmpFile(pcapBytes);
    const gz = tmpFile(gzipSync(pcapBytes));
    const fds = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);
    const before = fds();
    for (let i = 0; i < 20; i++) {
      for (const path of [plain, gz]) {
        await expect(
          readCaptureFile(path, () => {
            throw new Error('sink failed');
          }),
        ).rejects.toThrow('sink failed');
      }
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(fds()).toBeLessThanOrEqual(before + 2);
  });

  it('stops with the abort reason when the signal fires', async () => {
    const path = tmpFile(pcapBytes);
    const ac = new AbortController();
    let n = 0;
    const run = readCaptureFile(
      path,
      () => {
        if (++n === 3) ac.abort(new Error('enough'));
      },
      { signal: ac.signal, chunkSize: 50 },
    );
    await expect(run).rejects.toThrow('enough');
    expect(n).toBeLessThan(40);
  });
});
