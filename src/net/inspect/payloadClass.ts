/**
 * Is a payload plaintext, compressed or encrypted? Decided from its bytes alone, with three measured
 * statistics and a cheap format sniff (docs/plaintext-inspection.md has the method and the numbers):
 *
 * - the naive ASCII test: the share of printable ASCII bytes (and TAB/CR/LF);
 * - Shannon entropy in bits per byte;
 * - the chi-square statistic of the byte histogram against the uniform distribution;
 * - magic numbers: gzip, zlib, PNG, JPEG, GIF, WebP, PDF, ZIP, TLS records, QUIC long headers.
 *
 * - the combined method adds a trial decode: a payload that is neither text nor sniffed, and whose first bytes
 *   inflate as raw deflate or decompress as brotli (bounded output), is compressed.
 *
 * Pure: no I/O; cost linear in the prefix looked at (the trial decode reads at most 512 bytes).
 */
import { brotliDecompressSync, constants, inflateRawSync, inflateSync } from 'node:zlib';

export type PayloadClass = 'plaintext' | 'compressed' | 'encrypted';
export type ClassifierMethod = 'ascii' | 'entropy' | 'chi2' | 'combined';

export type SniffedFormat =
  | 'gzip'
  | 'zlib'
  | 'png'
  | 'jpeg'
  | 'gif'
  | 'webp'
  | 'pdf'
  | 'zip'
  | 'tls'
  | 'utf8-bom'
  | 'quic'
  | 'deflate'
  | 'brotli'
  | null;

export interface PayloadStats {
  /** Bytes looked at (the prefix). */
  n: number;
  /** Share of printable ASCII bytes plus TAB, CR, LF. */
  asciiRatio: number;
  /** Share of bytes that are printable ASCII or belong to well-formed multi-byte UTF-8 sequences. */
  textRatio: number;
  /** Shannon entropy of the byte histogram, bits per byte (0..8). */
  entropy: number;
  /** Chi-square statistic of the histogram against 256 equally likely values. */
  chi2: number;
}

/** Thresholds of each method; the defaults were picked from the corpus measurement (see the docs page). */
export interface ClassifierThresholds {
  /** ascii: plaintext when asciiRatio ≥ this. */
  asciiMin: number;
  /** entropy: plaintext below `entropyText × E[H]`, encrypted above `entropyRandom × E[H]` (E[H]: random data of n bytes). */
  entropyText: number;
  entropyRandom: number;
  /** chi2: plaintext when chi2/n ≥ chi2Text; encrypted when chi2 ≤ 255 + chi2RandomSd standard deviations. */
  chi2Text: number;
  chi2RandomSd: number;
  /** combined: plaintext when textRatio ≥ this; otherwise encrypted when chi2 ≤ 255 + splitSd deviations. */
  textMin: number;
  splitSd: number;
}

export const DEFAULT_THRESHOLDS: ClassifierThresholds = {
  asciiMin: 0.6,
  entropyText: 0.88,
  entropyRandom: 0.93,
  chi2Text: 6,
  chi2RandomSd: 5,
  textMin: 0.7,
  splitSd: 2,
};

/** The number of leading bytes the default classifier looks at (see the size columns of the docs table). */
export const DEFAULT_PREFIX = 1024;

const PRINTABLE = new Uint8Array(256);
for (let b = 0x20; b < 0x7f; b++) PRINTABLE[b] = 1;
PRINTABLE[0x09] = 1;
PRINTABLE[0x0a] = 1;
PRINTABLE[0x0d] = 1;

const LOG2 = new Float64Array(4097);
for (let i = 1; i < LOG2.length; i++) LOG2[i] = Math.log2(i);

/** Statistics of the first `prefix` bytes of `p`. */
export function payloadStats(p: Uint8Array, prefix = DEFAULT_PREFIX): PayloadStats {
  const n = Math.min(p.length, prefix);
  if (n === 0) return { n: 0, asciiRatio: 1, textRatio: 1, entropy: 0, chi2: 0 };
  const counts = new Uint32Array(256);
  let ascii = 0;
  let text = 0;
  let i = 0;
  while (i < n) {
    const b = p[i]!;
    counts[b]!++;
    if (PRINTABLE[b] === 1) {
      ascii++;
      text++;
      i++;
      continue;
    }
    // A well-formed UTF-8 multi-byte sequence counts as text (Chinese, accents, emoji).
    const len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len > 0 && i + len <= n) {
      let ok = true;
      for (let k = 1; k < len; k++) {
        const c = p[i + k]!;
        if ((c & 0xc0) !== 0x80) {
          ok = false;
          break;
        }
      }
      if (ok) {
        for (let k = 1; k < len; k++) counts[p[i + k]!]!++;
        text += len;
        i += len;
        continue;
      }
    } else if (len > 0 && i + len > n) {
      // A sequence cut by the prefix: count its bytes as text if the start is well-formed.
      let ok = true;
      for (let k = i + 1; k < n; k++) if ((p[k]! & 0xc0) !== 0x80) ok = false;
      if (ok) {
        for (let k = i + 1; k < n; k++) counts[p[k]!]!++;
        text += n - i;
        i = n;
        continue;
      }
    }
    i++;
  }
  let h = 0;
  let sq = 0;
  const log2n = n < LOG2.length ? LOG2[n]! : Math.log2(n);
  for (let v = 0; v < 256; v++) {
    const c = counts[v]!;
    if (c === 0) continue;
    sq += c * c;
    h -= (c / n) * ((c < LOG2.length ? LOG2[c]! : Math.log2(c)) - log2n);
  }
  // Σ (o - e)² / e with e = n/256 equals 256·Σo²/n − n.
  const chi2 = (256 * sq) / n - n;
  return { n, asciiRatio: ascii / n, textRatio: text / n, entropy: h, chi2 };
}

/** The highest entropy n bytes can have (all different up to 256 values). */
export function maxEntropy(n: number): number {
  return n <= 1 ? 0 : Math.log2(Math.min(256, n));
}

const expectedEntropyCache = new Map<number, number>();

/**
 * Expected plug-in entropy of n uniformly random bytes: log2 n − (256/n)·E[o·log2 o] with o ~ Binomial(n, 1/256).
 * Short random payloads have visibly less than 8 bits per byte (64 random bytes: ≈ 5.8), so thresholds are
 * relative to this, not to 8.
 */
export function expectedRandomEntropy(n: number): number {
  if (n <= 1) return 0;
  // Large n: the Miller–Madow bias term is exact enough (and the binomial sum below would underflow).
  if (n > 2048) return 8 - 255 / (2 * n * Math.LN2);
  const hit = expectedEntropyCache.get(n);
  if (hit !== undefined) return hit;
  const p = 1 / 256;
  let pk = (1 - p) ** n; // P(o = 0)
  let e = 0;
  for (let k = 1; k <= Math.min(n, 200); k++) {
    pk *= ((n - k + 1) / k) * (p / (1 - p));
    e += pk * k * Math.log2(k);
    if (k > n / 256 + 20 && pk < 1e-12) break;
  }
  const h = Math.log2(n) - (256 / n) * e;
  if (expectedEntropyCache.size < 4096) expectedEntropyCache.set(n, h);
  return h;
}

/**
 * Chi-square of n uniformly random bytes over 256 values: its expectation is 255 whatever n
 * (E[Σo²] = n·255/256 + n²/256, so E[256·Σo²/n − n] = 255), with a standard deviation close to √(2·255).
 */
export const RANDOM_CHI2 = 255;
export const RANDOM_CHI2_SD = Math.sqrt(2 * 255);

/** Known magic numbers at the start of a payload. */
export function sniffFormat(p: Uint8Array): SniffedFormat {
  const n = p.length;
  if (n < 2) return null;
  const b0 = p[0]!;
  const b1 = p[1]!;
  if (b0 === 0x1f && b1 === 0x8b && (n < 3 || p[2] === 8)) return 'gzip';
  // zlib: CMF = deflate with a window ≤ 32K, and the FCHECK makes (CMF·256 + FLG) a multiple of 31.
  if ((b0 & 0x0f) === 8 && b0 >> 4 <= 7 && ((b0 << 8) | b1) % 31 === 0 && (b1 & 0x20) === 0) return 'zlib';
  if (n >= 4 && b0 === 0x89 && b1 === 0x50 && p[2] === 0x4e && p[3] === 0x47) return 'png';
  if (n >= 3 && b0 === 0xff && b1 === 0xd8 && p[2] === 0xff) return 'jpeg';
  if (n >= 4 && b0 === 0x47 && b1 === 0x49 && p[2] === 0x46 && p[3] === 0x38) return 'gif';
  if (n >= 12 && b0 === 0x52 && b1 === 0x49 && p[2] === 0x46 && p[3] === 0x46 && p[8] === 0x57 && p[9] === 0x45) {
    return 'webp';
  }
  if (n >= 4 && b0 === 0x25 && b1 === 0x50 && p[2] === 0x44 && p[3] === 0x46) return 'pdf';
  if (n >= 4 && b0 === 0x50 && b1 === 0x4b && p[2] === 3 && p[3] === 4) return 'zip';
  // TLS record: content type 20..24, version 3.0..3.4 (DTLS is left out), length ≤ 2^14 + 2048.
  if (n >= 5 && b0 >= 20 && b0 <= 24 && b1 === 3 && p[2]! <= 4) {
    const len = (p[3]! << 8) | p[4]!;
    if (len > 0 && len <= 18_432) return 'tls';
  }
  if (n >= 3 && b0 === 0xef && b1 === 0xbb && p[2] === 0xbf) return 'utf8-bom';
  // QUIC long header (form and fixed bits set) with a known version: v1, v2, IETF drafts, Google Q0xx/T0xx.
  if (n >= 7 && (b0 & 0xc0) === 0xc0) {
    const v = ((b1 << 24) | (p[2]! << 16) | (p[3]! << 8) | p[4]!) >>> 0;
    if (v === 1 || v === 0x6b3343cf || v >>> 8 === 0xff0000 || ((b1 === 0x51 || b1 === 0x54) && p[2] === 0x30)) {
      if (p[5]! <= 20) return 'quic';
    }
  }
  return null;
}

const FORMAT_CLASS: Record<Exclude<SniffedFormat, null>, PayloadClass> = {
  gzip: 'compressed',
  zlib: 'compressed',
  png: 'compressed',
  jpeg: 'compressed',
  gif: 'compressed',
  webp: 'compressed',
  pdf: 'plaintext',
  zip: 'compressed',
  tls: 'encrypted',
  'utf8-bom': 'plaintext',
  quic: 'encrypted',
  deflate: 'compressed',
  brotli: 'compressed',
};

const TRIAL_IN = 512;
const TRIAL_OUT = 64 * 1024;

/**
 * Raw deflate and brotli have no magic number. Their first bytes decode (with a sync flush, so a cut stream
 * is fine) and expand; random bytes hit an invalid block type, code or distance within a few bytes.
 */
export function trialDecode(p: Uint8Array): 'deflate' | 'brotli' | null {
  if (p.length < 16) return null;
  const chunk = p.subarray(0, Math.min(p.length, TRIAL_IN));
  // Most trials fail, and zlib reports a failure with an Error: without a stack trace it costs a fraction.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const expands = (f: () => Buffer): boolean => {
      try {
        return f().length >= chunk.length * 1.2;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      }
    };
    if (
      deflateHeaderPossible(chunk) &&
      expands(() => inflateRawSync(chunk, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: TRIAL_OUT }))
    ) {
      return 'deflate';
    }
    if (
      expands(() =>
        brotliDecompressSync(chunk, { finishFlush: constants.BROTLI_OPERATION_FLUSH, maxOutputLength: TRIAL_OUT }),
      )
    ) {
      return 'brotli';
    }
    return null;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Whether the first block header of a raw deflate stream (RFC 1951 §3.2.3) can be valid: block type 3 is
 * reserved, and a stored block's LEN must be the complement of NLEN. Rules out most random bytes without
 * starting an inflater.
 */
function deflateHeaderPossible(p: Uint8Array): boolean {
  const btype = (p[0]! >> 1) & 3;
  if (btype === 3) return false;
  if (btype !== 0) return true;
  // Stored: the rest of the first byte is padding, then LEN and NLEN (little-endian) at bytes 1..4.
  return p.length >= 5 && (p[1]! ^ p[3]!) === 0xff && (p[2]! ^ p[4]!) === 0xff;
}

/** Whether the first bytes after a zlib header inflate (sync flush: a cut stream is fine). */
export function zlibInflates(p: Uint8Array): boolean {
  try {
    inflateSync(p.subarray(0, Math.min(p.length, TRIAL_IN)), {
      finishFlush: constants.Z_SYNC_FLUSH,
      maxOutputLength: TRIAL_OUT,
    });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
  }
}

export interface PayloadVerdict {
  cls: PayloadClass;
  format: SniffedFormat;
  stats: PayloadStats;
}

/** Decide from statistics only, with one method. */
export function classifyStats(
  s: PayloadStats,
  method: ClassifierMethod,
  t: ClassifierThresholds = DEFAULT_THRESHOLDS,
): PayloadClass {
  if (s.n === 0) return 'plaintext';
  switch (method) {
    case 'ascii':
      // The naive test knows only "readable or not"; everything unreadable is called encrypted.
      return s.asciiRatio >= t.asciiMin ? 'plaintext' : 'encrypted';
    case 'entropy': {
      const m = expectedRandomEntropy(s.n);
      if (s.entropy < t.entropyText * m) return 'plaintext';
      return s.entropy > t.entropyRandom * m ? 'encrypted' : 'compressed';
    }
    case 'chi2': {
      if (s.chi2 / s.n >= t.chi2Text) return 'plaintext';
      return s.chi2 <= RANDOM_CHI2 + t.chi2RandomSd * RANDOM_CHI2_SD ? 'encrypted' : 'compressed';
    }
    case 'combined': {
      // (Without the bytes only the statistics decide; classifyPayload adds the sniff and the trial decode.)
      if (s.textRatio >= t.textMin) return 'plaintext';
      // Not text: chi-square separates the slightly skewed histograms of compressed data from ciphertext.
      return s.chi2 <= RANDOM_CHI2 + t.splitSd * RANDOM_CHI2_SD ? 'encrypted' : 'compressed';
    }
  }
}

/**
 * Magic numbers and statistics, without the trial decode of `classifyPayload`: cheap enough for the first
 * payload of every flow (raw deflate and brotli may then come out as encrypted).
 */
export function quickClass(p: Uint8Array, prefix = DEFAULT_PREFIX): PayloadClass {
  const format = sniffFormat(p);
  if (format && format !== 'zlib') return FORMAT_CLASS[format];
  return classifyStats(payloadStats(p, prefix), 'combined');
}

/** Classify a payload: format sniff first (combined method only), then the statistics of its prefix. */
export function classifyPayload(
  p: Uint8Array,
  method: ClassifierMethod = 'combined',
  prefix = DEFAULT_PREFIX,
  t: ClassifierThresholds = DEFAULT_THRESHOLDS,
  /** Try raw deflate and brotli on payloads the statistics do not call plaintext (combined method). */
  trial = true,
): PayloadVerdict {
  const stats = payloadStats(p, prefix);
  if (method === 'combined') {
    const format = sniffFormat(p);
    // A zlib header is only two bytes with a 1-in-31 check: about one random payload in a thousand has one.
    // Take it as zlib only when the stream behind it inflates.
    if (format && (format !== 'zlib' || zlibInflates(p))) return { cls: FORMAT_CLASS[format], format, stats };
    const cls = classifyStats(stats, method, t);
    if (cls !== 'plaintext' && trial) {
      const f = trialDecode(p);
      if (f) return { cls: 'compressed', format: f, stats };
    }
    return { cls, format: null, stats };
  }
  return { cls: classifyStats(stats, method, t), format: null, stats };
}
