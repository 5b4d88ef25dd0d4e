/**
 * Decoding before scanning: undo compression (gzip, zlib, raw deflate, brotli) and text encodings (base64,
 * base64url, percent/form encoding, JSON string escapes) so that the leak detectors see the clear text.
 *
 * Zip-bomb safe: every decompression has an output cap (default 1 MiB) and a ratio limit; an over-limit or
 * broken stream gives what decoded before the fault (truncated: true) or nothing, never an exception.
 */
import { brotliDecompressSync, constants, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { classifyPayload, type PayloadVerdict, sniffFormat } from './payloadClass.js';

export type Encoding = 'plain' | 'gzip' | 'zlib' | 'deflate' | 'brotli' | 'base64' | 'url' | 'json';

export interface DecodeLimits {
  /** Most bytes one decompression may produce. */
  maxOutput: number;
  /** Output may be at most this many times the input (a higher ratio is a bomb: stop at the cap). */
  maxRatio: number;
  /** Decoding layers tried on top of each other at most. */
  maxDepth: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxOutput: 1 << 20, maxRatio: 200, maxDepth: 3 };

export interface Decoded {
  bytes: Uint8Array;
  /** Outermost first, e.g. ['base64', 'gzip']; ['plain'] when nothing had to be undone. */
  encoding: Encoding[];
  truncated: boolean;
}

type Codec = 'gzip' | 'zlib' | 'deflate' | 'brotli';

/** Decompress with one codec under the limits; null when the data is not that codec at all. */
export function decompress(
  data: Uint8Array,
  codec: Codec,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): { bytes: Uint8Array; truncated: boolean } | null {
  if (data.length === 0) return null;
  const cap = Math.max(1024, Math.min(limits.maxOutput, data.length * limits.maxRatio));
  const opts =
    codec === 'brotli'
      ? { maxOutputLength: cap, finishFlush: constants.BROTLI_OPERATION_FLUSH }
      : { maxOutputLength: cap, finishFlush: constants.Z_SYNC_FLUSH };
  const run = (): Buffer =>
    codec === 'gzip'
      ? gunzipSync(data, opts)
      : codec === 'zlib'
        ? inflateSync(data, opts)
        : codec === 'deflate'
          ? inflateRawSync(data, opts)
          : brotliDecompressSync(data, opts);
  try {
    const out = run();
    if (out.length === 0) return null;
    return { bytes: new Uint8Array(out.buffer, out.byteOffset, out.length), truncated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      // Over the cap: keep the first `cap` bytes by streaming once more into a bounded buffer is not possible
      // with the sync API; decode a prefix of the input instead, which yields a prefix of the output.
      return decodePrefix(data, codec, cap);
    }
    return null;
  }
}

function decodePrefix(data: Uint8Array, codec: Codec, cap: number): { bytes: Uint8Array; truncated: boolean } | null {
  let len = Math.min(data.length, Math.max(64, Math.floor(cap / 64)));
  for (let i = 0; i < 8 && len >= 16; i++) {
    try {
      const o =
        codec === 'brotli'
          ? brotliDecompressSync(data.subarray(0, len), {
              maxOutputLength: cap,
              finishFlush: constants.BROTLI_OPERATION_FLUSH,
            })
          : (codec === 'gzip' ? gunzipSync : codec === 'zlib' ? inflateSync : inflateRawSync)(data.subarray(0, len), {
              maxOutputLength: cap,
              finishFlush: constants.Z_SYNC_FLUSH,
            });
      return { bytes: new Uint8Array(o.buffer, o.byteOffset, o.length), truncated: true };
    } catch {
      len = Math.floor(len / 4);
    }
  }
  return null;
}

const CODEC_OF_HEADER: Record<string, Codec> = {
  gzip: 'gzip',
  'x-gzip': 'gzip',
  deflate: 'zlib',
  br: 'brotli',
};

/**
 * Undo compression layers of a payload: the declared Content-Encoding first (HTTP's "deflate" is zlib, but
 * some clients send raw deflate: both are tried), then whatever the bytes themselves say (magic numbers,
 * trial decode). Stops at plaintext, at the depth limit, or when nothing decodes.
 */
export function decodeBody(
  data: Uint8Array,
  contentEncoding: string | null = null,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
  /** What classifyPayload said of `data` (or of bytes with the same first kilobyte), if the caller asked. */
  known: PayloadVerdict | null = null,
): Decoded {
  const encoding: Encoding[] = [];
  let bytes = data;
  let truncated = false;
  const declared = (contentEncoding ?? '')
    .toLowerCase()
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x && x !== 'identity')
    .reverse(); // the last applied is undone first
  for (const d of declared) {
    const codec = CODEC_OF_HEADER[d];
    if (!codec) break;
    const r = decompress(bytes, codec, limits) ?? (codec === 'zlib' ? decompress(bytes, 'deflate', limits) : null);
    if (!r) break;
    encoding.push(codec === 'zlib' && sniffFormat(bytes) !== 'zlib' ? 'deflate' : codec);
    bytes = r.bytes;
    truncated ||= r.truncated;
  }
  for (let depth = encoding.length; depth < limits.maxDepth; depth++) {
    const f = sniffFormat(bytes);
    let codec: Codec | null = f === 'gzip' ? 'gzip' : f === 'zlib' ? 'zlib' : null;
    if (!codec) {
      // classifyPayload already tried raw deflate and brotli on bytes it did not call plaintext.
      const v = bytes === data && known ? known : classifyPayload(bytes);
      if (v.cls !== 'plaintext') codec = v.format === 'deflate' || v.format === 'brotli' ? v.format : null;
    }
    if (!codec) break;
    const r = decompress(bytes, codec, limits);
    if (!r) break;
    encoding.push(codec);
    bytes = r.bytes;
    truncated ||= r.truncated;
  }
  return { bytes, encoding: encoding.length === 0 ? ['plain'] : encoding, truncated };
}

const B64_RUN = /[A-Za-z0-9+/_-]{24,}={0,2}/g;

/**
 * Base64 (and base64url) runs of at least 24 characters inside a text, decoded; only runs that decode to
 * text or to compressed data that then decodes to text are kept (most long alphanumeric runs are ids or
 * hashes, which stay as they are).
 */
export function base64Runs(text: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS, max = 16): Decoded[] {
  const out: Decoded[] = [];
  B64_RUN.lastIndex = 0;
  for (let m = B64_RUN.exec(text); m && out.length < max; m = B64_RUN.exec(text)) {
    const run = m[0];
    // Hex strings and plain words are not base64 worth decoding.
    if (/^[0-9a-fA-F]+$/.test(run) || /^[a-z]+$/i.test(run)) continue;
    const body = run.replace(/=+$/, '');
    if (body.length % 4 === 1) continue;
    const raw = Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (raw.length < 12) continue;
    const inner = decodeBody(new Uint8Array(raw.buffer, raw.byteOffset, raw.length), null, limits);
    const v = classifyPayload(inner.bytes);
    if (v.cls !== 'plaintext' || v.stats.asciiRatio < 0.85) continue;
    const enc: Encoding[] = inner.encoding[0] === 'plain' ? ['base64'] : ['base64', ...inner.encoding];
    out.push({ bytes: inner.bytes, encoding: enc, truncated: inner.truncated });
  }
  return out;
}

/** Percent-decoding that never throws ('+' is a space in form encoding). */
export function percentDecode(s: string, form = true): string {
  const t = form ? s.replace(/\+/g, ' ') : s;
  if (!t.includes('%')) return t;
  try {
    return decodeURIComponent(t);
  } catch {
    // Malformed escapes: decode the well-formed ones one by one.
    return t.replace(/(%[0-9a-fA-F]{2})+/g, (x) => {
      try {
        return decodeURIComponent(x);
      } catch {
        return x;
      }
    });
  }
}

/** `a=1&b=2` → pairs (form/query encoding), bounded. */
export function parsePairs(s: string, max = 256): [string, string][] {
  const out: [string, string][] = [];
  for (const part of s.split('&')) {
    if (out.length >= max) break;
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    out.push([percentDecode(k), percentDecode(v)]);
  }
  return out;
}

export function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
}
