/**
 * DNS domain names on the wire (RFC 1035 §3.1, §4.1.4) to presentation text, shared by the DNS, mDNS, LLMNR
 * and DHCP (option 81, DHCPv6 option 39) decoders. Pure and bounds-checked; it throws only TruncatedError
 * (the name runs past the bytes it may use) and MalformedError (bad label type, pointer that does not point
 * backwards, too many pointers, name longer than 255 octets).
 *
 * Presentation text:
 * - labels joined with '.', no trailing dot; the root name is '' (empty string);
 * - original case kept (callers lowercase for lookups);
 * - printable ASCII and space as is, except '.' and '\' inside a label, which become '\.' and '\\';
 * - well-formed UTF-8 sequences (mDNS names such as "Luca’s iPhone") as the characters they encode, except C1
 *   controls;
 * - every other byte as '\DDD' (three decimal digits, RFC 1035 §5.1), so the text maps back to the exact bytes.
 */
import { MalformedError, TruncatedError } from '../../sdk/byteReader.js';

/** Longest name on the wire, length octets and the root octet included (RFC 1035 §2.3.4). */
export const MAX_NAME_OCTETS = 255;
/** Most compression pointers followed for one name; real names need a handful. */
export const MAX_POINTER_JUMPS = 128;

export interface WireName {
  /** Presentation text (see the module comment). */
  name: string;
  /** Offset just past the name's own bytes (after the terminating zero or the first pointer). */
  end: number;
}

/**
 * Read the name at `offset` in `msg` (the whole DNS message: pointers are offsets into it). The name's own
 * bytes must lie before `limit` (the end of the rdata holding it, or the message end); pointers may only point
 * strictly backwards: each target must lie before the start of the name or of the previous target, which makes
 * loops impossible and bounds the work, on top of the jump cap and the 255-octet cap.
 * Pass `compression = false` where pointers are not allowed (DHCP option 81, DHCPv6 option 39, SVCB targets
 * are read leniently with compression on).
 */
export function readName(msg: Uint8Array, offset: number, limit = msg.length, compression = true): WireName {
  let p = offset;
  let bound = limit;
  let floor = offset;
  let end = -1;
  let jumps = 0;
  let octets = 1;
  let name = '';
  for (;;) {
    if (p >= bound) throw new TruncatedError(1, 0, p);
    const len = msg[p]!;
    if (len === 0) {
      if (end < 0) end = p + 1;
      return { name, end };
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (!compression) throw new MalformedError(`compression pointer at ${p} where none is allowed`);
      if (p + 1 >= bound) throw new TruncatedError(2, bound - p, p);
      const target = ((len & 0x3f) << 8) | msg[p + 1]!;
      if (end < 0) end = p + 2;
      if (target >= floor)
        throw new MalformedError(`compression pointer at ${p} to ${target} does not point backwards`);
      if (++jumps > MAX_POINTER_JUMPS) throw new MalformedError(`more than ${MAX_POINTER_JUMPS} compression pointers`);
      floor = target;
      p = target;
      // Earlier names lie inside the message; their bytes are bounded by the message, not by our rdata.
      bound = msg.length;
      continue;
    }
    if (kind !== 0) throw new MalformedError(`label type 0x${kind.toString(16)} at ${p} is not supported`);
    octets += len + 1;
    if (octets > MAX_NAME_OCTETS)
      throw new MalformedError(`name at ${offset} is longer than ${MAX_NAME_OCTETS} octets`);
    if (p + 1 + len > bound) throw new TruncatedError(len + 1, bound - p, p);
    if (name.length > 0) name += '.';
    name += labelText(msg, p + 1, p + 1 + len);
    p += 1 + len;
  }
}

/** Presentation text of one label's bytes `msg[start..end)`. */
export function labelText(msg: Uint8Array, start: number, end: number): string {
  // Character by character, also for plain labels: for names' short labels this is two to three times faster
  // than String.fromCharCode.apply over a subarray (measured), and needs no view of the bytes.
  let s = '';
  let i = start;
  while (i < end) {
    const c = msg[i]!;
    if (c >= 0x20 && c <= 0x7e) {
      s += c === 0x2e || c === 0x5c ? '\\' + String.fromCharCode(c) : String.fromCharCode(c);
      i++;
      continue;
    }
    if (c >= 0xc2) {
      const seq = utf8Sequence(msg, i, end);
      if (seq > 0) {
        s += String.fromCodePoint(Math.floor(seq / 8));
        i += seq % 8;
        continue;
      }
    }
    s += c < 10 ? '\\00' + c : c < 100 ? '\\0' + c : '\\' + c;
    i++;
  }
  return s;
}

/**
 * If a well-formed UTF-8 sequence (shortest form, no surrogates, no C1 controls) of 2 to 4 bytes starts at
 * `i` and ends by `end`, returns codePoint * 8 + byteLength; otherwise 0. No allocation.
 */
export function utf8Sequence(b: Uint8Array, i: number, end: number): number {
  const c = b[i]!;
  if (c < 0xc2 || c > 0xf4) return 0;
  if (c < 0xe0) {
    if (i + 1 >= end) return 0;
    const c1 = b[i + 1]!;
    if ((c1 & 0xc0) !== 0x80) return 0;
    const cp = ((c & 0x1f) << 6) | (c1 & 0x3f);
    return cp < 0xa0 ? 0 : cp * 8 + 2;
  }
  if (c < 0xf0) {
    if (i + 2 >= end) return 0;
    const c1 = b[i + 1]!;
    const c2 = b[i + 2]!;
    if ((c1 & 0xc0) !== 0x80 || (c2 & 0xc0) !== 0x80) return 0;
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // surrogate
    return (((c & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f)) * 8 + 3;
  }
  if (i + 3 >= end) return 0;
  const c1 = b[i + 1]!;
  const c2 = b[i + 2]!;
  const c3 = b[i + 3]!;
  if ((c1 & 0xc0) !== 0x80 || (c2 & 0xc0) !== 0x80 || (c3 & 0xc0) !== 0x80) return 0;
  if (c === 0xf0 && c1 < 0x90) return 0; // overlong
  if (c === 0xf4 && c1 >= 0x90) return 0; // above U+10FFFF
  return (((c & 0x07) << 18) | ((c1 & 0x3f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f)) * 8 + 4;
}

/**
 * Text of a character-string / option value: UTF-8 when the bytes are well-formed UTF-8, else Latin-1 (every
 * byte one character), so no input is lost or replaced. Control characters are kept (this is data, not a name).
 */
export function bytesText(b: Uint8Array, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (b[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    // Short texts character by character, longer ones through the decoder (ASCII is UTF-8): both beat
    // String.fromCharCode.apply over a view (measured: 54 against 85 ns for 8 bytes, 110 against 659 for 200).
    if (end - start < 16) {
      let s = '';
      for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
      return s;
    }
    return utf8Decoder.decode(b.subarray(start, end));
  }
  let i = start;
  let utf8 = true;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const seq = utf8Sequence(b, i, end);
    // C1 controls are valid UTF-8: accept them here (utf8Sequence rejects them for names only).
    const c1Control = c === 0xc2 && i + 1 < end && b[i + 1]! >= 0x80 && b[i + 1]! < 0xa0;
    if (seq === 0 && !c1Control) {
      utf8 = false;
      break;
    }
    i += c1Control ? 2 : seq % 8;
  }
  if (!utf8) return chunkedCharCodes(b, start, end);
  return utf8Decoder.decode(b.subarray(start, end));
}

const utf8Decoder = new TextDecoder('utf-8');

function chunkedCharCodes(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}
