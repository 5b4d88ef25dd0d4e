/**
 * Property tests: readCaptureFile on random and mutated files only ever resolves with stats or rejects with
 * CaptureFormatError, always finishes, and never hands out a packet larger than MAX_CAPLEN.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_CAPLEN, readCaptureFile } from '../../../../src/net/capture/pcapFile.js';
import { CaptureFormatError } from '../../../../src/net/capture/types.js';
import { CAPTURES_DIR } from '../../../helpers/captures.js';
import { concat, epb, idb, pcapFile, sampleFrame, shb, spb, tsresol } from './builders.js';

const dir = mkdtempSync(join(tmpdir(), 'bg-pcapfuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readChecked(bytes: Uint8Array, chunkSize: number): Promise<void> {
  const path = join(dir, 'fuzz.bin');
  writeFileSync(path, bytes);
  let packets = 0;
  try {
    const st = await readCaptureFile(
      path,
      (p) => {
        packets++;
        expect(p.data.length).toBeLessThanOrEqual(MAX_CAPLEN);
        expect(p.origLen).toBeGreaterThanOrEqual(p.data.length);
      },
      { chunkSize },
    );
    expect(st.packets).toBe(packets);
    if (st.cutShort) expect(st.cutShort.afterPackets).toBe(packets);
  } catch (e) {
    expect(e).toBeInstanceOf(CaptureFormatError);
  }
}

const corpusFiles = [
  `${CAPTURES_DIR}/ndpi/dns.pcap`,
  `${CAPTURES_DIR}/ndpi/quic-v2.pcapng`,
  `${CAPTURES_DIR}/ndpi/tls_2_reasms.pcapng`,
  `${CAPTURES_DIR}/public/tcpdump/tcp-handshake-nano.pcap`,
].filter((p) => existsSync(p));
const seeds: Uint8Array[] = [
  pcapFile({ le: true, linkType: 1, records: [0, 1, 2].map((i) => ({ sec: i, frac: i, data: sampleFrame(i) })) }),
  pcapFile({ le: false, nano: true, linkType: 101, records: [{ sec: 1, frac: 2, data: sampleFrame(1).subarray(14) }] }),
  concat(
    shb(true),
    idb(true, 1, 64, [tsresol(9)]),
    epb(true, 0, 5n, sampleFrame(1)),
    spb(true, sampleFrame(2)),
    shb(false),
    idb(false, 113, 0),
    epb(false, 0, 9n, sampleFrame(3)),
  ),
  ...corpusFiles.map((f) => new Uint8Array(readFileSync(f))),
];

describe('readCaptureFile on hostile files', () => {
  it('random bytes, with or without a capture magic in front', async () => {
    const magics = [[], [0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d], [0x0a, 0x0d, 0x0d, 0x0a], [0x1f, 0x8b]];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: magics.length - 1 }),
        fc.uint8Array({ maxLength: 400 }),
        fc.integer({ min: 1, max: 64 }),
        async (m, body, chunk) => {
          await readChecked(concat(Uint8Array.from(magics[m]!), body), chunk);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('mutated and truncated real files (plain and gzip)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat()),
        fc.constantFrom(7, 100, 4096, 1 << 20),
        fc.boolean(),
        async (pick, edits, cut, chunk, gz) => {
          const data = seeds[pick % seeds.length]!.slice();
          // Aim half the edits at the first 64 bytes, where headers and length fields live.
          for (const [at, v] of edits)
            data[at % 2 === 0 ? (at >> 1) % Math.min(64, data.length) : at % data.length] = v;
          let bytes: Uint8Array = cut === null ? data : data.subarray(0, cut % (data.length + 1));
          if (gz) bytes = gzipSync(bytes);
          await readChecked(bytes, chunk);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the same packets and statistics whatever the chunk size (whole blocks take the fast path)', async () => {
    const readAllOf = async (bytes: Uint8Array, chunkSize: number) => {
      const path = join(dir, `same-${chunkSize}.bin`);
      writeFileSync(path, bytes);
      const got: string[] = [];
      try {
        const st = await readCaptureFile(
          path,
          (p) =>
            got.push(`${p.tsMs}|${p.linkType}|${p.interfaceId}|${p.origLen}|${Buffer.from(p.data).toString('hex')}`),
          { chunkSize },
        );
        const { path: _p, ...stats } = st;
        return { got, stats: JSON.stringify(stats, (_k, v) => (v instanceof Set ? [...v] : v)) };
      } catch (e) {
        return { got, stats: `error: ${(e as Error).message.replace(path, 'FILE')}` };
      }
    };
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.option(fc.nat()),
        async (pick, edits, cut) => {
          const data = seeds[pick % seeds.length]!.slice();
          for (const [at, v] of edits) data[at % data.length] = v;
          const bytes = cut === null ? data : data.subarray(0, cut % (data.length + 1));
          const big = await readAllOf(bytes, 1 << 20);
          const small = await readAllOf(bytes, 7);
          expect(small.stats).toBe(big.stats);
          expect(small.got).toEqual(big.got);
        },
      ),
      { numRuns: 200 },
    );
  });
});
