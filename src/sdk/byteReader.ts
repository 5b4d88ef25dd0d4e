/**
 * A bounds-checked cursor over bytes. Every parser in bandguard reads through one of these (or checks
 * bounds itself on the hot path): a read past the end throws exactly one typed error, `TruncatedError`,
 * which callers turn into a counted "truncated"/"malformed" result. It never mutates the bytes.
 */
export class TruncatedError extends Error {
  override readonly name = 'TruncatedError';
  constructor(
    readonly wanted: number,
    readonly available: number,
    readonly at: number,
  ) {
    super(`truncated: wanted ${wanted} byte(s) at offset ${at}, ${available} available`);
  }
}

/** A value that is present but wrong (bad length field, bad version, impossible combination). */
export class MalformedError extends Error {
  override readonly name = 'MalformedError';
}

export class ByteReader {
  private pos: number;
  private readonly end: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ) {
    if (start < 0 || end > bytes.length || start > end) throw new MalformedError(`bad range ${start}..${end}`);
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  get done(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number): number {
    if (n < 0 || this.pos + n > this.end) throw new TruncatedError(n, this.end - this.pos, this.pos);
    const p = this.pos;
    this.pos += n;
    return p;
  }

  u8(): number {
    return this.bytes[this.need(1)]!;
  }
  u16(): number {
    const p = this.need(2);
    return (this.bytes[p]! << 8) | this.bytes[p + 1]!;
  }
  u16le(): number {
    const p = this.need(2);
    return this.bytes[p]! | (this.bytes[p + 1]! << 8);
  }
  u24(): number {
    const p = this.need(3);
    return (this.bytes[p]! << 16) | (this.bytes[p + 1]! << 8) | this.bytes[p + 2]!;
  }
  u32(): number {
    const p = this.need(4);
    return (
      ((this.bytes[p]! << 24) >>> 0) + ((this.bytes[p + 1]! << 16) | (this.bytes[p + 2]! << 8) | this.bytes[p + 3]!)
    );
  }
  u32le(): number {
    const p = this.need(4);
    return (
      ((this.bytes[p + 3]! << 24) >>> 0) + ((this.bytes[p + 2]! << 16) | (this.bytes[p + 1]! << 8) | this.bytes[p]!)
    );
  }
  /** A sub-view of the next n bytes (no copy). */
  bytesView(n: number): Uint8Array {
    const p = this.need(n);
    return this.bytes.subarray(p, p + n);
  }
  /** A reader over the next n bytes; the outer cursor moves past them. */
  sub(n: number): ByteReader {
    const p = this.need(n);
    return new ByteReader(this.bytes, p, p + n);
  }
  skip(n: number): void {
    this.need(n);
  }
  seek(offset: number): void {
    if (offset < 0 || offset > this.end) throw new TruncatedError(offset, this.end, this.pos);
    this.pos = offset;
  }
  rest(): Uint8Array {
    const p = this.pos;
    this.pos = this.end;
    return this.bytes.subarray(p, this.end);
  }
  ascii(n: number): string {
    const v = this.bytesView(n);
    let s = '';
    for (let i = 0; i < v.length; i++) s += String.fromCharCode(v[i]!);
    return s;
  }
}

/** Two lower-case hex digits of every byte value (for hex dumps, MAC and IPv6 texts). */
export const HEX_PAIRS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex of bytes, for fixtures, evidence and debug dumps. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX_PAIRS[bytes[i]!]!;
  return s;
}

/** Parse hex (whitespace and ':' ignored) into bytes; throws MalformedError on odd length or bad digits. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new MalformedError('bad hex string');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}
