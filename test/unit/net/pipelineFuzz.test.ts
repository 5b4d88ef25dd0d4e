/**
 * Random and mutated packets through the whole pipeline: it must never throw, never hang, and no detector
 * may fail internally (the pipeline would count such a failure as an `internal:*` drop instead of crashing;
 * here that count must stay zero).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../src/net/capture/pcapFile.js';
import { Pipeline } from '../../../src/net/pipeline.js';
import { ReportBuilder } from '../../../src/net/report.js';
import { CAPTURES_DIR } from '../../helpers/captures.js';

const CAPTURES = [
  `${CAPTURES_DIR}/ndpi`,
  `${CAPTURES_DIR}/public/zeek`,
  resolve(import.meta.dirname, '../../fixtures/pcap/real'),
].filter(existsSync);

async function samplePackets(max: number): Promise<{ linkType: number; data: Uint8Array }[]> {
  const out: { linkType: number; data: Uint8Array }[] = [];
  for (const dir of CAPTURES) {
    for (const f of readdirSync(dir).filter((x) => /\.pcap(ng)?$/.test(x))) {
      await readCaptureFile(join(dir, f), (p) => {
        if (out.length < max && p.data.length > 0) out.push({ linkType: p.linkType, data: p.data.slice() });
      });
    }
  }
  return out;
}

function internalErrors(p: Pipeline): number {
  let n = 0;
  for (const [k, v] of Object.entries(p.stats.drops)) if (k.startsWith('internal:')) n += v;
  return n;
}

describe('pipeline under hostile input', () => {
  it('survives random bytes under every link type it knows', () => {
    const builder = new ReportBuilder();
    const p = new Pipeline(builder);
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 12, 101, 108, 113, 228, 229, 239, 276, 9999),
        fc.uint8Array({ maxLength: 1600 }),
        (linkType, data) => {
          p.push({ tsMs: 1_700_000_000_000, linkType, data, origLen: data.length, interfaceId: 0 });
        },
      ),
      { numRuns: 3000 },
    );
    p.flush();
    expect(internalErrors(p)).toBe(0);
    expect(() => builder.build(emptyCapture())).not.toThrow();
  });

  it('survives bit flips and truncation of real packets, in any order and at any time', async () => {
    const real = await samplePackets(4000);
    expect(real.length).toBeGreaterThan(500);
    const builder = new ReportBuilder();
    const p = new Pipeline(builder, { maxFlows: 512 });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: real.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.integer({ min: 0, max: 600_000 }),
        (i, flips, cut, dt) => {
          const src = real[i]!;
          const data = src.data.slice();
          for (const [pos, v] of flips) if (data.length > 0) data[pos % data.length] = v;
          const d = cut === undefined ? data : data.subarray(0, cut % (data.length + 1));
          p.push({
            tsMs: 1_700_000_000_000 + dt,
            linkType: src.linkType,
            data: d,
            origLen: data.length,
            interfaceId: 0,
          });
        },
      ),
      { numRuns: 20_000 },
    );
    p.flush();
    expect(internalErrors(p)).toBe(0);
    const report = builder.build(emptyCapture());
    expect(Array.isArray(report.contacts)).toBe(true);
  });

  it('replays every packet of every shared capture unmodified without an internal error', async () => {
    const real = await samplePackets(100_000);
    const p = new Pipeline(new ReportBuilder());
    for (const r of real)
      p.push({ tsMs: 1_700_000_000_000, linkType: r.linkType, data: r.data, origLen: r.data.length, interfaceId: 0 });
    p.flush();
    expect(p.stats.packets).toBe(real.length);
    expect(internalErrors(p)).toBe(0);
  });
});

function emptyCapture() {
  return {
    files: [],
    packets: 0,
    bytes: 0,
    start: null,
    end: null,
    linkTypes: [],
    malformed: 0,
    truncated: 0,
    drops: {},
    flows: 0,
    flowsEvicted: 0,
  };
}
