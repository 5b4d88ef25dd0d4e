/**
 * Google QUIC (gQUIC) client hellos, for the versions that predate IETF QUIC's TLS handshake.
 *
 * - Q039–Q045 use the gQUIC "public header" (flags byte, 8-byte connection id, version, packet number); Q046
 *   uses a long header that looks like the IETF invariant header but packs both connection-id lengths into
 *   one byte. In both, the client's first packets are "NULL-encrypted": a 12-byte FNV-1a hash precedes the
 *   frames, which are readable as they are. The crypto handshake runs on stream 1 as tag/value messages: the
 *   CHLO carries the server name (tag `SNI\0`) and the user agent (tag `UAID`).
 * - Q050 and T050/T051 use the IETF long header with Initial packets protected like IETF QUIC (own salts),
 *   and gQUIC frames inside (CRYPTO is frame type 0x08 there). That decryption lives in quic.ts; Q050's
 *   CRYPTO stream carries a CHLO message parsed here, T05x's carries a TLS ClientHello.
 *
 * Everything here is pure and bounds-checked; parse errors are TruncatedError/MalformedError or a null
 * result, never anything else.
 */
import { MalformedError, TruncatedError } from '../../sdk/byteReader.js';

/** `Q` or `T` followed by three ASCII digits, e.g. 0x51303436 = Q046, 0x54303531 = T051. */
export function isGquicVersion(version: number): boolean {
  const b0 = version >>> 24;
  if (b0 !== 0x51 && b0 !== 0x54) return false;
  const d1 = (version >>> 16) & 0xff;
  const d2 = (version >>> 8) & 0xff;
  const d3 = version & 0xff;
  return d1 >= 0x30 && d1 <= 0x39 && d2 >= 0x30 && d2 <= 0x39 && d3 >= 0x30 && d3 <= 0x39;
}

/** The number in a gQUIC version (46 for Q046, 51 for T051), or -1 when `version` is not gQUIC. */
export function gquicVersionNumber(version: number): number {
  if (!isGquicVersion(version)) return -1;
  return ((version >>> 16) & 0xff) * 100 - 0x30 * 111 + ((version >>> 8) & 0xff) * 10 + (version & 0xff);
}

/** The version as its four ASCII characters ("Q046"). Only meaningful when isGquicVersion(version). */
export function gquicVersionString(version: number): string {
  return String.fromCharCode(version >>> 24, (version >>> 16) & 0xff, (version >>> 8) & 0xff, version & 0xff);
}

/**
 * gQUIC versions whose client packets carry the handshake in cleartext (Q0xx up to Q046). Q047–Q049 were
 * never deployed widely; Q050 and the T versions use IETF-style header and Initial protection.
 */
export function isCleartextGquicVersion(version: number): boolean {
  return version >>> 24 === 0x51 && gquicVersionNumber(version) <= 49 && gquicVersionNumber(version) >= 0;
}

/** One gQUIC crypto handshake message: its tag ("CHLO", "REJ\0"...) and the tag/value pairs. */
export interface GquicHandshakeMessage {
  tag: string;
  /** Tags in wire order; values are views into the input (no copy). */
  entries: { tag: string; value: Uint8Array }[];
  /** Bytes the whole message occupies (header + index + values). */
  length: number;
}

/** What a client hello says about where it goes and who sends it. */
export interface GquicChlo {
  /** Server name from the `SNI\0` tag, null when absent. */
  sni: string | null;
  /** User agent id (`UAID`), e.g. "Chrome/74.0.3729.157 Android 8.0.0; BND-L21", null when absent. */
  uaid: string | null;
  /** Version named in the `VER\0` tag, null when absent. */
  ver: string | null;
  /** All tags of the message in wire order, e.g. ["PAD", "SNI", "STK", ...] (trailing NULs removed). */
  tags: string[];
}

/** gQUIC caps a handshake message at 128 entries (kMaxEntries). */
const MAX_ENTRIES = 128;
/** Longest string value we turn into text (host names and user agents are far shorter). */
const MAX_TEXT = 1024;

function tagString(b: Uint8Array, p: number): string {
  let s = '';
  for (let i = 0; i < 4; i++) {
    const c = b[p + i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function u16le(b: Uint8Array, p: number): number {
  return b[p]! | (b[p + 1]! << 8);
}
function u32le(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
}

/**
 * Total length of the handshake message starting at `msg[0]`, once enough of it is present to tell
 * (8 bytes of header, then the entry index); -1 while more bytes are needed. Throws MalformedError for an
 * entry count over 128.
 */
export function gquicHandshakeMessageLength(msg: Uint8Array): number {
  if (msg.length < 8) return -1;
  const n = u16le(msg, 4);
  if (n > MAX_ENTRIES) throw new MalformedError(`gQUIC handshake message with ${n} entries`);
  const indexEnd = 8 + 8 * n;
  if (msg.length < indexEnd) return -1;
  return n === 0 ? indexEnd : indexEnd + u32le(msg, indexEnd - 4);
}

/**
 * Parse a gQUIC handshake message (all integers little-endian): tag(4) | entry count u16 | padding u16 |
 * count × (tag(4) | end offset u32) | values. End offsets must not decrease.
 */
export function parseGquicHandshakeMessage(msg: Uint8Array): GquicHandshakeMessage {
  if (msg.length < 8) throw new TruncatedError(8, msg.length, 0);
  const n = u16le(msg, 4);
  if (n > MAX_ENTRIES) throw new MalformedError(`gQUIC handshake message with ${n} entries`);
  const valuesStart = 8 + 8 * n;
  if (msg.length < valuesStart) throw new TruncatedError(valuesStart, msg.length, 0);
  const entries: { tag: string; value: Uint8Array }[] = [];
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const p = 8 + 8 * i;
    const end = u32le(msg, p + 4);
    if (end < prev) throw new MalformedError('gQUIC handshake message: value offsets go backwards');
    if (valuesStart + end > msg.length) throw new TruncatedError(valuesStart + end, msg.length, valuesStart + prev);
    entries.push({ tag: tagString(msg, p), value: msg.subarray(valuesStart + prev, valuesStart + end) });
    prev = end;
  }
  return { tag: tagString(msg, 0), entries, length: valuesStart + prev };
}

function text(v: Uint8Array): string {
  const n = Math.min(v.length, MAX_TEXT);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(v[i]!);
  return s;
}

/** SNI, UAID and VER of a CHLO message; throws MalformedError when the message is not a CHLO. */
export function parseGquicChlo(msg: Uint8Array): GquicChlo {
  const m = parseGquicHandshakeMessage(msg);
  if (m.tag !== 'CHLO') throw new MalformedError(`gQUIC handshake message ${JSON.stringify(m.tag)} is not CHLO`);
  const out: GquicChlo = { sni: null, uaid: null, ver: null, tags: [] };
  for (const e of m.entries) {
    out.tags.push(e.tag);
    if (e.tag === 'SNI') out.sni = text(e.value);
    else if (e.tag === 'UAID') out.uaid = text(e.value);
    else if (e.tag === 'VER' && e.value.length >= 4) out.ver = text(e.value.subarray(0, 4));
  }
  return out;
}

/** A cleartext gQUIC client packet (Q039–Q046) whose stream 1 starts a CHLO. */
export interface GquicChloPacket {
  version: number;
  /** "Q046". */
  versionName: string;
  /** The connection id the client chose (8 bytes), empty when the packet omits it. */
  cid: Uint8Array;
  packetNumber: number;
  /** Offset of the CHLO in crypto stream 1. */
  streamOffset: number;
  chlo: GquicChlo;
}

/** Public-header flag bits (Q039–Q045). */
const PF_VERSION = 0x01;
const PF_RESET = 0x02;
const PF_NONCE = 0x04;
const PF_CID = 0x08;
const PF_MULTIPATH = 0x40;
/** Packet-number lengths for public-header bits 4–5. */
const PUBLIC_PN_LENGTHS = [1, 2, 4, 6] as const;
/** Size of the FNV-1a-128 message authentication hash of NULL-encrypted packets. */
const NULL_HASH_LENGTH = 12;

function readUint(b: Uint8Array, p: number, n: number, bigEndian: boolean): number {
  let v = 0;
  if (bigEndian) for (let i = 0; i < n; i++) v = v * 256 + b[p + i]!;
  else for (let i = n - 1; i >= 0; i--) v = v * 256 + b[p + i]!;
  return v;
}

/**
 * The version of a gQUIC client packet with a public header (first byte bit 7 clear, version flag set, 8-byte
 * connection id), or -1. Cheap: used to route UDP payloads.
 */
export function gquicPublicHeaderVersion(datagram: Uint8Array): number {
  if (datagram.length < 13) return -1;
  const flags = datagram[0]!;
  if ((flags & 0x80) !== 0 || (flags & (PF_VERSION | PF_CID | PF_RESET)) !== (PF_VERSION | PF_CID)) return -1;
  const v = readUint(datagram, 9, 4, true);
  return isCleartextGquicVersion(v) ? v : -1;
}

/**
 * Find a CHLO in a cleartext gQUIC client packet: Q039–Q045 public header, or Q046 long header. Returns null
 * when the packet is not such a packet or carries no stream-1 CHLO (later packets, ACK-only packets). Throws
 * TruncatedError/MalformedError for a packet that claims to be one but does not fit.
 */
export function parseGquicCleartextChlo(datagram: Uint8Array): GquicChloPacket | null {
  if (datagram.length < 6) return null;
  const first = datagram[0]!;
  let p: number;
  let version: number;
  let cid: Uint8Array;
  let pnLen: number;
  if ((first & 0x80) !== 0) {
    // Q046: flags | version | DCIL<<4|SCIL (each 0 or length-3) | DCID | SCID | packet number.
    version = readUint(datagram, 1, 4, true);
    if (gquicVersionNumber(version) !== 46 || version >>> 24 !== 0x51) return null;
    const cil = datagram[5]!;
    const dcil = cil >> 4 === 0 ? 0 : (cil >> 4) + 3;
    const scil = (cil & 0x0f) === 0 ? 0 : (cil & 0x0f) + 3;
    p = 6;
    if (p + dcil + scil > datagram.length) throw new TruncatedError(dcil + scil, datagram.length - p, p);
    cid = datagram.subarray(p, p + dcil);
    p += dcil + scil;
    pnLen = (first & 0x03) + 1;
  } else {
    if ((first & PF_RESET) !== 0 || (first & PF_VERSION) === 0 || (first & PF_MULTIPATH) !== 0) return null;
    p = 1;
    const cidLen = (first & PF_CID) !== 0 ? 8 : 0;
    if (p + cidLen + 4 > datagram.length) throw new TruncatedError(cidLen + 4, datagram.length - p, p);
    cid = datagram.subarray(p, p + cidLen);
    p += cidLen;
    version = readUint(datagram, p, 4, true);
    if (!isCleartextGquicVersion(version) || gquicVersionNumber(version) >= 46) return null;
    p += 4;
    if ((first & PF_NONCE) !== 0) p += 32; // only servers send a diversification nonce
    pnLen = PUBLIC_PN_LENGTHS[(first >> 4) & 0x03]!;
  }
  const vnum = gquicVersionNumber(version);
  const bigEndian = vnum >= 39;
  if (p + pnLen + NULL_HASH_LENGTH > datagram.length) {
    throw new TruncatedError(pnLen + NULL_HASH_LENGTH, datagram.length - p, p);
  }
  const packetNumber = readUint(datagram, p, pnLen, bigEndian);
  p += pnLen + NULL_HASH_LENGTH;
  if (vnum < 34) p += 1; // private flags byte of the oldest versions
  const found = findStreamOneData(datagram, p, bigEndian, pnLen);
  if (found === null) return null;
  const data = datagram.subarray(found.start, found.end);
  if (data.length < 4 || data[0] !== 0x43 || data[1] !== 0x48 || data[2] !== 0x4c || data[3] !== 0x4f) return null; // "CHLO"
  return {
    version,
    versionName: gquicVersionString(version),
    cid,
    packetNumber,
    streamOffset: found.offset,
    chlo: parseGquicChlo(data),
  };
}

/**
 * Walk cleartext gQUIC frames from `p` and return the first STREAM frame of stream 1 (the crypto stream).
 * Stops (null) at PADDING (the rest of a gQUIC packet is padding), at ACK frames and at any type it does not
 * know. Stream frame type bits: 1 F D OOO SS (fin, data-length present, offset length, stream-id length).
 */
function findStreamOneData(
  b: Uint8Array,
  start: number,
  bigEndian: boolean,
  pnLen: number,
): { start: number; end: number; offset: number } | null {
  let p = start;
  const n = b.length;
  while (p < n) {
    const t = b[p]!;
    if ((t & 0x80) !== 0) {
      const idLen = (t & 0x03) + 1;
      const o = (t >> 2) & 0x07;
      const offLen = o === 0 ? 0 : o + 1;
      const hasLen = (t & 0x20) !== 0;
      const hdr = 1 + idLen + offLen + (hasLen ? 2 : 0);
      if (p + hdr > n) throw new TruncatedError(hdr, n - p, p);
      const streamId = readUint(b, p + 1, idLen, bigEndian);
      const offset = readUint(b, p + 1 + idLen, offLen, bigEndian);
      const dataStart = p + hdr;
      const dataLen = hasLen ? readUint(b, p + 1 + idLen + offLen, 2, bigEndian) : n - dataStart;
      if (dataStart + dataLen > n) throw new TruncatedError(dataLen, n - dataStart, dataStart);
      if (streamId === 1) return { start: dataStart, end: dataStart + dataLen, offset };
      p = dataStart + dataLen;
      continue;
    }
    if (t === 0x07) {
      p += 1; // PING
      continue;
    }
    if (t === 0x06) {
      p += 1 + pnLen; // STOP_WAITING: least-unacked delta, packet-number sized
      continue;
    }
    return null; // PADDING, ACK, or a frame that never precedes the CHLO
  }
  return null;
}
