import { createHash, randomBytes } from 'node:crypto';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  classifyPayload,
  expectedRandomEntropy,
  payloadStats,
  RANDOM_CHI2,
  sniffFormat,
  trialDecode,
} from '../../../../src/net/inspect/payloadClass.js';

const text = (s: string) => new TextEncoder().encode(s);
const JSON_BODY = JSON.stringify({
  data: Array.from({ length: 40 }, (_, i) => ({ ts: 1_700_000_000 + i * 60, hr: 60 + ((i * 7) % 30) })),
});

describe('payloadStats', () => {
  it('entropy, chi-square and text ratios of known inputs', () => {
    const zeros = payloadStats(new Uint8Array(256));
    expect(zeros.entropy).toBe(0);
    expect(zeros.chi2).toBe(256 * 256 - 256); // all mass in one bin: 256·n − n
    const all = payloadStats(Uint8Array.from({ length: 256 }, (_, i) => i));
    expect(all.entropy).toBeCloseTo(8, 10);
    expect(all.chi2).toBe(0);
    expect(payloadStats(text('心率 72 次/分')).textRatio).toBe(1);
    expect(payloadStats(text('心率 72 次/分')).asciiRatio).toBeLessThan(0.6);
  });

  it('random data: chi-square near 255 and entropy near its expectation for the length', () => {
    for (const n of [64, 256, 1024]) {
      const s = payloadStats(new Uint8Array(randomBytes(n)), n);
      expect(Math.abs(s.chi2 - RANDOM_CHI2)).toBeLessThan(6 * Math.sqrt(510));
      expect(Math.abs(s.entropy - expectedRandomEntropy(n))).toBeLessThan(0.25);
    }
    expect(expectedRandomEntropy(64)).toBeGreaterThan(5.6);
    expect(expectedRandomEntropy(64)).toBeLessThan(6);
    expect(expectedRandomEntropy(100_000)).toBeCloseTo(8, 2);
  });
});

describe('sniffFormat and trial decoding', () => {
  it.each([
    ['gzip', gzipSync(JSON_BODY)],
    ['zlib', deflateSync(JSON_BODY)],
    ['png', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')],
    ['jpeg', Buffer.from('ffd8ffe000104a464946', 'hex')],
    ['gif', Buffer.from('GIF89a\x01\x00', 'latin1')],
    ['tls', Buffer.from('170303004a', 'hex')],
    ['quic', Buffer.from('c30000000108aabbccddeeff0011', 'hex')],
  ])('%s', (fmt, bytes) => {
    expect(sniffFormat(new Uint8Array(bytes))).toBe(fmt);
  });

  it('raw deflate and brotli have no magic but decode on trial; ciphertext does not', () => {
    expect(trialDecode(new Uint8Array(deflateRawSync(JSON_BODY)))).toBe('deflate');
    expect(trialDecode(new Uint8Array(brotliCompressSync(JSON_BODY)))).toBe('brotli');
    let decoded = 0;
    for (let i = 0; i < 200; i++) if (trialDecode(new Uint8Array(randomBytes(300)))) decoded++;
    expect(decoded).toBeLessThanOrEqual(2);
  });
});

describe('classifyPayload (default: combined)', () => {
  it.each([
    ['an HTTP request', text('GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n'), 'plaintext'],
    ['Chinese JSON', text(JSON.stringify({ msg: '今天血压有点高，心率正常' })), 'plaintext'],
    ['gzip', new Uint8Array(gzipSync(JSON_BODY)), 'compressed'],
    ['raw deflate', new Uint8Array(deflateRawSync(JSON_BODY)), 'compressed'],
    ['brotli', new Uint8Array(brotliCompressSync(JSON_BODY)), 'compressed'],
    // A fixed sample: statistics cannot tell every random sample from compressed data (see below).
    ['random bytes', pseudoRandom('bandguard', 1000), 'encrypted'],
  ] as const)('%s → %s', (_n, bytes, cls) => {
    expect(classifyPayload(bytes).cls).toBe(cls);
  });

  it('calls nearly all random payloads encrypted (the rest compressed, never plaintext)', () => {
    // About 2-3 % of random 1000-byte samples have byte counts uneven enough to pass for compressed data: the
    // statistics of one payload cannot separate the two (docs/plaintext-inspection.md has the measured table).
    const n = 2000;
    let encrypted = 0;
    for (let i = 0; i < n; i++) {
      const c = classifyPayload(new Uint8Array(randomBytes(1000))).cls;
      expect(c).not.toBe('plaintext');
      if (c === 'encrypted') encrypted++;
    }
    expect(encrypted / n).toBeGreaterThan(0.95);
  });

  it('the naive ASCII test calls Chinese text and compressed data "encrypted": why it is not the default', () => {
    expect(classifyPayload(text('今天血压有点高，心率正常。'.repeat(4)), 'ascii').cls).toBe('encrypted');
    expect(classifyPayload(new Uint8Array(gzipSync(JSON_BODY)), 'ascii').cls).toBe('encrypted');
  });
});

/** Deterministic random-looking bytes: SHA-256 in counter mode over a seed. */
function pseudoRandom(seed: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0, block = 0; i < length; block++) {
    const h = createHash('sha256').update(`${seed}:${block}`).digest();
    for (let j = 0; j < h.length && i < length; j++) out[i++] = h[j]!;
  }
  return out;
}
