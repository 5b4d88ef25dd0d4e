import { randomBytes } from 'node:crypto';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  base64Runs,
  DEFAULT_DECODE_LIMITS,
  decodeBody,
  decompress,
  parsePairs,
  percentDecode,
  utf8,
} from '../../../../src/net/inspect/decoders.js';

const JSON_TEXT = JSON.stringify({ userid: '1234567890', model: 'Redmi Note 12', heartRate: [72, 75, 71] });
const u8 = (b: Buffer) => new Uint8Array(b);

describe('decodeBody', () => {
  it.each([
    ['gzip', gzipSync, 'gzip', ['gzip']],
    ['deflate (zlib, as HTTP means it)', deflateSync, 'deflate', ['zlib']],
    ['deflate (raw, as some clients send it)', deflateRawSync, 'deflate', ['deflate']],
    ['br', (b: Buffer) => brotliCompressSync(b), 'br', ['brotli']],
  ] as const)('undoes a declared %s body', (_n, fn, header, chain) => {
    const d = decodeBody(u8(fn(Buffer.from(JSON_TEXT))), header);
    expect(utf8(d.bytes)).toBe(JSON_TEXT);
    expect(d.encoding).toEqual(chain);
    expect(d.truncated).toBe(false);
  });

  it.each([
    ['gzip', gzipSync, ['gzip']],
    ['zlib', deflateSync, ['zlib']],
    ['raw deflate', deflateRawSync, ['deflate']],
    ['brotli', (b: Buffer) => brotliCompressSync(b), ['brotli']],
  ] as const)('finds an undeclared %s body from its bytes', (_n, fn, chain) => {
    const d = decodeBody(u8(fn(Buffer.from(JSON_TEXT.repeat(4)))));
    expect(utf8(d.bytes)).toBe(JSON_TEXT.repeat(4));
    expect(d.encoding).toEqual(chain);
  });

  it('undoes nested layers (gzip inside zlib) up to the depth limit', () => {
    const d = decodeBody(u8(deflateSync(gzipSync(Buffer.from(JSON_TEXT)))));
    expect(d.encoding).toEqual(['zlib', 'gzip']);
    expect(utf8(d.bytes)).toBe(JSON_TEXT);
  });

  it('leaves plaintext and random bytes alone', () => {
    expect(decodeBody(new TextEncoder().encode(JSON_TEXT)).encoding).toEqual(['plain']);
    const r = u8(randomBytes(2000));
    const d = decodeBody(r, 'gzip'); // a wrong header does not make noise decode
    expect(d.encoding).toEqual(['plain']);
    expect(d.bytes).toBe(r);
  });

  it('is zip-bomb safe: 100 MB of zeros in 100 kB of gzip stops at the cap, marked truncated', () => {
    const bomb = u8(gzipSync(Buffer.alloc(100 * 1024 * 1024)));
    const t0 = Date.now();
    const d = decodeBody(bomb, 'gzip');
    expect(d.bytes.length).toBeLessThanOrEqual(DEFAULT_DECODE_LIMITS.maxOutput);
    expect(d.bytes.length).toBeGreaterThan(0);
    expect(d.truncated).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('respects the ratio limit for small inputs', () => {
    const small = u8(deflateSync(Buffer.alloc(200_000, 0x41)));
    const r = decompress(small, 'zlib', { maxOutput: 1 << 20, maxRatio: 10, maxDepth: 1 });
    expect(r?.truncated).toBe(true);
    expect(r!.bytes.length).toBeLessThanOrEqual(Math.max(1024, small.length * 10));
  });

  it('never throws, whatever the bytes and the declared encoding (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.constantFrom(null, 'gzip', 'deflate', 'br', 'x-gzip', 'identity', 'gzip, br', 'bogus'),
        (bytes, ce) => {
          const d = decodeBody(bytes, ce);
          expect(d.encoding.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes cut streams (a body capped by the pipeline) as far as they go', () => {
    const full = Array.from({ length: 300 }, (_, i) => `{"i":${i},"hr":${60 + ((i * 7) % 41)}}`).join(',');
    const z = u8(deflateSync(Buffer.from(full)));
    const d = decodeBody(z.subarray(0, Math.floor(z.length / 2)), 'deflate');
    expect(d.encoding).toEqual(['zlib']);
    const out = utf8(d.bytes);
    expect(out.length).toBeGreaterThan(full.length / 4);
    expect(full.startsWith(out)).toBe(true);
  });
});

describe('text encodings', () => {
  it('base64 and base64url runs that decode to text (also gzip inside) are decoded; ids and hashes are not', () => {
    const b64 = Buffer.from(JSON_TEXT).toString('base64');
    const gz = gzipSync(Buffer.from(JSON_TEXT)).toString('base64url');
    const runs = base64Runs(`data=${b64}&x=${gz}&sha=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08`);
    expect(runs.map((r) => [utf8(r.bytes), r.encoding])).toEqual([
      [JSON_TEXT, ['base64']],
      [JSON_TEXT, ['base64', 'gzip']],
    ]);
    expect(base64Runs(Buffer.from(randomBytes(60)).toString('base64'))).toEqual([]);
  });

  it('percent and form decoding never throws on malformed escapes', () => {
    expect(percentDecode('Redmi+Note%2012')).toBe('Redmi Note 12');
    expect(percentDecode('100%25+sure%ZZ%E4%BD%A0')).toBe('100% sure%ZZ你');
    expect(parsePairs('a=1&b=%E5%BF%83%E7%8E%87&c&=x')).toEqual([
      ['a', '1'],
      ['b', '心率'],
      ['c', ''],
      ['', 'x'],
    ]);
  });
});
