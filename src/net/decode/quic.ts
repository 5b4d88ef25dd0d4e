/**
 * QUIC client Initial → TLS ClientHello (RFC 9000 §17.2, RFC 9001 §5, RFC 9369), plus the gQUIC variants.
 *
 * Layers, from pure to stateful:
 * - `parseQuicLongHeader`, `parseQuicDatagram`: long-header fields and coalesced packets (no crypto).
 * - `deriveInitialKeys`: client Initial key/iv/hp from the version's salt and the client's DCID.
 * - `decryptClientInitial`, `parseInitialFrames`: header protection, AEAD, and the frames of one Initial.
 * - `QuicInitialTracker`: one connection's client Initials → the reassembled ClientHello (bounded).
 * - `QuicSniExtractor`: per-UDP-flow driver for the capture pipeline (bounded flow table, idle eviction).
 *
 * The only I/O-like dependency is node:crypto (HMAC-SHA256 for HKDF, AES-128-ECB for header protection,
 * AES-128-GCM for the payload). Nothing here logs, reads the clock or mutates its input. Parsers throw only
 * TruncatedError/MalformedError; an AEAD failure is a `null` result, not an exception.
 */
import { type Cipher, createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { MalformedError, TruncatedError } from '../../sdk/byteReader.js';
import {
  gquicHandshakeMessageLength,
  gquicPublicHeaderVersion,
  gquicVersionString,
  isCleartextGquicVersion,
  isGquicVersion,
  parseGquicChlo,
  parseGquicCleartextChlo,
} from './gquic.js';

// ---------------------------------------------------------------------------------------------------------
// Versions

export const QUIC_V1 = 0x00000001;
export const QUIC_V2 = 0x6b3343cf;
export const MVFST_22 = 0xfaceb001;
export const MVFST_27 = 0xfaceb002;
export const MVFST_EXP = 0xfaceb00e;
export const GQUIC_Q050 = 0x51303530;
export const GQUIC_T050 = 0x54303530;
export const GQUIC_T051 = 0x54303531;

/** Versions of the form 0x?a?a?a?a, reserved to exercise version negotiation (RFC 9000 §15). */
export function isGreasedQuicVersion(version: number): boolean {
  return (version & 0x0f0f0f0f) === 0x0a0a0a0a;
}

/** IETF draft number of 0xff0000NN versions, else -1. */
export function quicDraftNumber(version: number): number {
  return version >>> 8 === 0xff0000 ? version & 0xff : -1;
}

/** A short stable name: 'v1', 'v2', 'draft-29', 'mvfst-27', 'Q046', 'T051', 'grease-0x1a2a3a4a', '0x12345678'. */
export function quicVersionName(version: number): string {
  const v = version >>> 0;
  if (v === QUIC_V1) return 'v1';
  if (v === QUIC_V2) return 'v2';
  if (v === 0) return 'version-negotiation';
  const draft = quicDraftNumber(v);
  if (draft >= 0) return `draft-${draft}`;
  if (v === MVFST_22) return 'mvfst-22';
  if (v === MVFST_27) return 'mvfst-27';
  if (v === MVFST_EXP) return 'mvfst-exp';
  if (isGquicVersion(v)) return gquicVersionString(v);
  const hex = `0x${v.toString(16).padStart(8, '0')}`;
  if (isGreasedQuicVersion(v)) return `grease-${hex}`;
  if (v >>> 12 === 0xfaceb) return `mvfst-${hex}`;
  return hex;
}

// ---------------------------------------------------------------------------------------------------------
// Variable-length integers (RFC 9000 §16)

/** Bytes taken by the varint whose first byte is `firstByte`: 1, 2, 4 or 8. */
export function varintLength(firstByte: number): number {
  return 1 << (firstByte >> 6);
}

/**
 * The varint at `pos` (must end by `end`). Values above 2^53 lose precision; every caller compares them
 * against buffer sizes, so such values are rejected anyway.
 */
export function readVarint(b: Uint8Array, pos: number, end: number): number {
  if (pos >= end) throw new TruncatedError(1, 0, pos);
  const first = b[pos]!;
  const len = 1 << (first >> 6);
  if (pos + len > end) throw new TruncatedError(len, end - pos, pos);
  if (len === 1) return first & 0x3f;
  if (len === 2) return ((first & 0x3f) << 8) | b[pos + 1]!;
  const top = (first & 0x3f) * 0x1000000 + ((b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!);
  if (len === 4) return top;
  return top * 0x100000000 + u32(b, pos + 4);
}

// ---------------------------------------------------------------------------------------------------------
// Long header (RFC 9000 §17.2, RFC 9369 §3.2)

export type QuicLongPacketType = 'initial' | '0rtt' | 'handshake' | 'retry' | 'version-negotiation';

/** Packet types by the two type bits: v1 and every other version, then v2 (RFC 9369 §3.2). */
const TYPES_V1: readonly QuicLongPacketType[] = ['initial', '0rtt', 'handshake', 'retry'];
const TYPES_V2: readonly QuicLongPacketType[] = ['retry', 'initial', '0rtt', 'handshake'];

export const MAX_CID_LENGTH = 20;

export interface QuicLongHeader {
  /** Where this packet starts in the datagram. */
  offset: number;
  /** First byte as on the wire: its low 4 bits are header-protected in Initial/0-RTT/Handshake packets. */
  firstByte: number;
  /** Bit 6; normally set, may be greased (RFC 9287). */
  fixedBit: boolean;
  version: number;
  type: QuicLongPacketType;
  /** Views into the datagram (no copy). */
  dcid: Uint8Array;
  scid: Uint8Array;
  /** Initial: the token (empty when none). Retry: the retry token. Otherwise empty. */
  token: Uint8Array;
  /** Offset of the (protected) packet number; -1 for Retry and Version Negotiation. */
  pnOffset: number;
  /** The Length field (packet number + payload); 0 for Retry and Version Negotiation. */
  length: number;
  /** Offset just past this packet: the next coalesced packet starts here. */
  end: number;
  /** Version Negotiation: the versions the server offers. */
  supportedVersions: number[];
  /** Retry: the 16-byte integrity tag. */
  retryIntegrityTag: Uint8Array | null;
}

function u32(b: Uint8Array, p: number): number {
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

/**
 * Parse the long-header packet at `offset`. gQUIC Q046 and older do not use this layout and are rejected with
 * MalformedError (see gquic.ts); Q050/T05x do and are parsed here.
 */
export function parseQuicLongHeader(datagram: Uint8Array, offset = 0): QuicLongHeader {
  const n = datagram.length;
  if (offset < 0 || offset + 7 > n) throw new TruncatedError(7, Math.max(0, n - offset), offset);
  const first = datagram[offset]!;
  if ((first & 0x80) === 0) throw new MalformedError('not a long-header packet');
  const version = u32(datagram, offset + 1);
  if (isCleartextGquicVersion(version)) {
    throw new MalformedError(`${gquicVersionString(version)} does not use the IETF long header`);
  }
  // Version Negotiation may echo connection ids up to 255 bytes (RFC 8999 §5.1); every versioned packet ≤ 20.
  const maxCid = version === 0 ? 255 : MAX_CID_LENGTH;
  let p = offset + 5;
  const dcil = datagram[p++]!;
  if (dcil > maxCid) throw new MalformedError(`destination connection id of ${dcil} bytes`);
  if (p + dcil + 1 > n) throw new TruncatedError(dcil + 1, n - p, p);
  const dcid = datagram.subarray(p, p + dcil);
  p += dcil;
  const scil = datagram[p++]!;
  if (scil > maxCid) throw new MalformedError(`source connection id of ${scil} bytes`);
  if (p + scil > n) throw new TruncatedError(scil, n - p, p);
  const scid = datagram.subarray(p, p + scil);
  p += scil;
  const header: QuicLongHeader = {
    offset,
    firstByte: first,
    fixedBit: (first & 0x40) !== 0,
    version,
    type: 'version-negotiation',
    dcid,
    scid,
    token: datagram.subarray(p, p),
    pnOffset: -1,
    length: 0,
    end: n,
    supportedVersions: [],
    retryIntegrityTag: null,
  };
  if (version === 0) {
    if ((n - p) % 4 !== 0) throw new MalformedError('version negotiation list is not a multiple of 4 bytes');
    for (; p < n; p += 4) header.supportedVersions.push(u32(datagram, p));
    return header;
  }
  const type = (version === QUIC_V2 ? TYPES_V2 : TYPES_V1)[(first >> 4) & 0x03]!;
  header.type = type;
  if (type === 'retry') {
    if (n - p < 16) throw new TruncatedError(16, n - p, p);
    header.token = datagram.subarray(p, n - 16);
    header.retryIntegrityTag = datagram.subarray(n - 16, n);
    return header;
  }
  if (type === 'initial') {
    const tokenLength = readVarint(datagram, p, n);
    p += varintLength(datagram[p]!);
    if (tokenLength > n - p) throw new TruncatedError(tokenLength, n - p, p);
    header.token = datagram.subarray(p, p + tokenLength);
    p += tokenLength;
  }
  const length = readVarint(datagram, p, n);
  p += varintLength(datagram[p]!);
  if (length > n - p) throw new TruncatedError(length, n - p, p);
  header.length = length;
  header.pnOffset = p;
  header.end = p + length;
  return header;
}

/** Why the walk over a datagram's packets stopped before its end. */
export type DatagramRest = 'none' | 'short-header' | 'padding' | 'truncated' | 'malformed' | 'too-many-packets';

export interface QuicDatagram {
  packets: QuicLongHeader[];
  rest: DatagramRest;
  /** Where the walk stopped (datagram length when rest is 'none'). */
  restOffset: number;
}

/** Coalesced packets in one datagram are few (RFC 9000 §12.2: one per packet-number space, plus 0-RTT). */
const MAX_COALESCED = 16;

/**
 * All long-header packets of a datagram, in order (RFC 9000 §12.2). Never throws: a bad or short packet ends
 * the walk and is reported in `rest` (the packets before it are kept). Zero bytes after the last packet are
 * 'padding'; a short-header packet (which runs to the end) is 'short-header'.
 */
export function parseQuicDatagram(datagram: Uint8Array): QuicDatagram {
  const packets: QuicLongHeader[] = [];
  let p = 0;
  while (p < datagram.length) {
    const first = datagram[p]!;
    if ((first & 0x80) === 0) {
      return { packets, rest: first === 0 ? 'padding' : 'short-header', restOffset: p };
    }
    if (packets.length >= MAX_COALESCED) return { packets, rest: 'too-many-packets', restOffset: p };
    let h: QuicLongHeader;
    try {
      h = parseQuicLongHeader(datagram, p);
    } catch (e) {
      if (e instanceof TruncatedError) return { packets, rest: 'truncated', restOffset: p };
      if (e instanceof MalformedError) return { packets, rest: 'malformed', restOffset: p };
      throw e;
    }
    packets.push(h);
    p = h.end;
  }
  return { packets, rest: 'none', restOffset: p };
}

// ---------------------------------------------------------------------------------------------------------
// Initial keys (RFC 9001 §5.2, RFC 9369 §3.3)

/** A salt and label set for deriving Initial secrets. */
export interface InitialScheme {
  readonly name: string;
  readonly salt: Uint8Array;
  /** RFC 9369 labels ("quicv2 key"/"quicv2 iv"/"quicv2 hp") instead of "quic key"/"quic iv"/"quic hp". */
  readonly v2Labels: boolean;
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Salts: RFC 9001 §5.2 (v1, also drafts 33–34), RFC 9369 §3.3.1 (v2); drafts, mvfst and Google per dpi.md §3.3. */
export const INITIAL_SCHEMES = {
  v1: { name: 'v1', salt: hexBytes('38762cf7f55934b34d179ae6a4c80cadccbb7f0a'), v2Labels: false },
  v2: { name: 'v2', salt: hexBytes('0dede3def700a6db819381be6e269dcbf9bd2ed9'), v2Labels: true },
  draft29: { name: 'draft-29', salt: hexBytes('afbfec289993d24c9e9786f19c6111e04390a899'), v2Labels: false },
  draft23: { name: 'draft-23', salt: hexBytes('c3eef712c72ebb5a11a7d2432bb46365bef9f502'), v2Labels: false },
  draft22: { name: 'draft-22', salt: hexBytes('7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a'), v2Labels: false },
  q050: { name: 'Q050', salt: hexBytes('504574efd066fe2f9d945cfcdbd3a7f0d3b56b45'), v2Labels: false },
  t050: { name: 'T050', salt: hexBytes('7ff579e5acd072915580304c43a2367c60488310'), v2Labels: false },
  t051: { name: 'T051', salt: hexBytes('7a4edef4e7ccee5fa4506c19124fc8ccda6e033d'), v2Labels: false },
} as const satisfies Record<string, InitialScheme>;

/**
 * Schemes to try, in order, for a version seen in the wild but not defined here: greased versions and
 * unknown ones. Clients choose any key schedule for them (`quic_interop_V` 0x0a0a0a0a used draft-29's,
 * tcpdump `quic_vn` 0x1a2a3a4a used v1's); the AEAD tag tells which one is right.
 */
const FALLBACK_SCHEMES: readonly InitialScheme[] = [
  INITIAL_SCHEMES.v1,
  INITIAL_SCHEMES.draft29,
  INITIAL_SCHEMES.v2,
  INITIAL_SCHEMES.draft23,
  INITIAL_SCHEMES.draft22,
];

/** The Initial key schedule(s) for a version: one for known versions, several (to try) for the others. */
export function initialSchemesFor(version: number): readonly InitialScheme[] {
  const v = version >>> 0;
  if (v === QUIC_V1) return [INITIAL_SCHEMES.v1];
  if (v === QUIC_V2) return [INITIAL_SCHEMES.v2];
  const draft = quicDraftNumber(v);
  if (draft >= 0 && draft <= 34) {
    if (draft <= 22) return [INITIAL_SCHEMES.draft22];
    if (draft <= 28) return [INITIAL_SCHEMES.draft23];
    if (draft <= 32) return [INITIAL_SCHEMES.draft29];
    return [INITIAL_SCHEMES.v1];
  }
  if (v === MVFST_22) return [INITIAL_SCHEMES.draft22];
  if (v === MVFST_27 || v === MVFST_EXP) return [INITIAL_SCHEMES.draft23];
  if (v === GQUIC_Q050) return [INITIAL_SCHEMES.q050];
  if (v === GQUIC_T050) return [INITIAL_SCHEMES.t050];
  if (v === GQUIC_T051) return [INITIAL_SCHEMES.t051];
  return FALLBACK_SCHEMES;
}

/** Client Initial packet-protection keys for one (version, DCID). */
export class InitialKeys {
  private hpCipher: Cipher | null = null;
  constructor(
    readonly version: number,
    /** The DCID the keys were derived from (a copy). */
    readonly dcid: Uint8Array,
    readonly scheme: InitialScheme,
    /** AEAD_AES_128_GCM key (16 bytes). */
    readonly key: Uint8Array,
    /** AEAD IV (12 bytes). */
    readonly iv: Uint8Array,
    /** Header-protection key, AES-128-ECB (16 bytes). */
    readonly hp: Uint8Array,
  ) {}

  /** The 5-byte-or-more header-protection mask for a 16-byte sample (RFC 9001 §5.4.3). */
  mask(sample: Uint8Array): Uint8Array {
    if (this.hpCipher === null) {
      // ECB is stateless per block, so one cipher object serves every sample (no final()).
      this.hpCipher = createCipheriv('aes-128-ecb', this.hp, null);
      this.hpCipher.setAutoPadding(false);
    }
    return this.hpCipher.update(sample);
  }
}

const TLS13_PREFIX = 'tls13 ';

/** HKDF-Expand-Label(secret, label, "", length) with SHA-256 (RFC 8446 §7.1); length ≤ 32 (one block). */
export function hkdfExpandLabel(secret: Uint8Array, label: string, length: number): Uint8Array {
  if (length > 32) throw new MalformedError('hkdfExpandLabel supports up to 32 bytes');
  const full = TLS13_PREFIX + label;
  const info = new Uint8Array(2 + 1 + full.length + 1 + 1);
  info[0] = length >> 8;
  info[1] = length & 0xff;
  info[2] = full.length;
  for (let i = 0; i < full.length; i++) info[3 + i] = full.charCodeAt(i);
  info[3 + full.length] = 0; // empty context
  info[4 + full.length] = 1; // HKDF-Expand block counter T(1)
  return new Uint8Array(createHmac('sha256', secret).update(info).digest().subarray(0, length));
}

/** The client_initial_secret of RFC 9001 §5.2 (HKDF-Extract with the salt, then "client in"). */
export function clientInitialSecret(dcid: Uint8Array, scheme: InitialScheme): Uint8Array {
  const initialSecret = createHmac('sha256', scheme.salt).update(dcid).digest();
  return hkdfExpandLabel(initialSecret, 'client in', 32);
}

/**
 * Client Initial keys for `version` and the client's DCID. With no `scheme`, the version's own schedule is used
 * (for greased/unknown versions that is the first fallback, v1's: use `initialSchemesFor` to try them all).
 */
export function deriveInitialKeys(version: number, dcid: Uint8Array, scheme?: InitialScheme): InitialKeys {
  const s = scheme ?? initialSchemesFor(version)[0]!;
  const secret = clientInitialSecret(dcid, s);
  const prefix = s.v2Labels ? 'quicv2 ' : 'quic ';
  return new InitialKeys(
    version >>> 0,
    new Uint8Array(dcid),
    s,
    hkdfExpandLabel(secret, prefix + 'key', 16),
    hkdfExpandLabel(secret, prefix + 'iv', 12),
    hkdfExpandLabel(secret, prefix + 'hp', 16),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Packet protection (RFC 9001 §5.3, §5.4) and frames (RFC 9000 §12.4, §19)

/** RFC 9000 Appendix A.3: the full packet number nearest to largest+1. */
export function decodePacketNumber(largest: number, truncated: number, bits: number): number {
  const expected = largest + 1;
  const win = 2 ** bits;
  const hwin = win / 2;
  const candidate = expected - (expected % win) + truncated;
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}

export interface CryptoFragment {
  /** Offset in the Initial-level CRYPTO stream. */
  offset: number;
  /** View into the decrypted payload. */
  data: Uint8Array;
}

export interface InitialFrames {
  /** CRYPTO frames in packet order (not sorted by offset). */
  crypto: CryptoFragment[];
  /** Bytes of PADDING. */
  padding: number;
  pings: number;
  acks: number;
  connectionClose: { errorCode: number; frameType: number; reason: string } | null;
  /** Type of the first frame not allowed (or not understood) in an Initial; parsing stopped there. */
  stoppedAtType: number | null;
  /** A frame ran past the payload; the frames before it are kept. */
  truncated: boolean;
}

/** Frame encoding inside the Initial: IETF (v1, v2, drafts) or gQUIC (Q050/T050/T051, CRYPTO = 0x08). */
export type InitialFraming = 'ietf' | 'gquic';

export function initialFramingFor(version: number): InitialFraming {
  return isGquicVersion(version) ? 'gquic' : 'ietf';
}

const MAX_REASON = 256;

/** Parse the frames of a decrypted Initial payload. Never throws. */
export function parseInitialFrames(payload: Uint8Array, framing: InitialFraming = 'ietf'): InitialFrames {
  const out: InitialFrames = {
    crypto: [],
    padding: 0,
    pings: 0,
    acks: 0,
    connectionClose: null,
    stoppedAtType: null,
    truncated: false,
  };
  const n = payload.length;
  const cryptoType = framing === 'ietf' ? 0x06 : 0x08;
  const pingType = framing === 'ietf' ? 0x01 : 0x07;
  let p = 0;
  try {
    while (p < n) {
      const t = payload[p]!;
      if (t === 0x00) {
        const s = p;
        while (p < n && payload[p] === 0) p++;
        out.padding += p - s;
        continue;
      }
      if (t === pingType) {
        out.pings++;
        p++;
        continue;
      }
      if (t === cryptoType) {
        p++;
        const offset = readVarint(payload, p, n);
        p += varintLength(payload[p]!);
        const length = readVarint(payload, p, n);
        p += varintLength(payload[p]!);
        if (length > n - p) throw new TruncatedError(length, n - p, p);
        out.crypto.push({ offset, data: payload.subarray(p, p + length) });
        p += length;
        continue;
      }
      if (framing === 'ietf' && (t === 0x02 || t === 0x03)) {
        p = skipAckFrame(payload, p + 1, n, t === 0x03);
        out.acks++;
        continue;
      }
      if (framing === 'ietf' && t === 0x1c) {
        p++;
        const errorCode = readVarint(payload, p, n);
        p += varintLength(payload[p]!);
        const frameType = readVarint(payload, p, n);
        p += varintLength(payload[p]!);
        const reasonLength = readVarint(payload, p, n);
        p += varintLength(payload[p]!);
        if (reasonLength > n - p) throw new TruncatedError(reasonLength, n - p, p);
        let reason = '';
        const shown = Math.min(reasonLength, MAX_REASON);
        for (let i = 0; i < shown; i++) reason += String.fromCharCode(payload[p + i]!);
        out.connectionClose = { errorCode, frameType, reason };
        p += reasonLength;
        continue;
      }
      out.stoppedAtType = t;
      break;
    }
  } catch (e) {
    if (!(e instanceof TruncatedError)) throw e;
    out.truncated = true;
  }
  return out;
}

/** Skip an ACK frame body (RFC 9000 §19.3) starting after its type byte; returns the offset past it. */
function skipAckFrame(b: Uint8Array, start: number, n: number, ecn: boolean): number {
  let p = start;
  for (let i = 0; i < 2; i++) {
    readVarint(b, p, n); // Largest Acknowledged, ACK Delay
    p += varintLength(b[p]!);
  }
  const rangeCount = readVarint(b, p, n);
  p += varintLength(b[p]!);
  readVarint(b, p, n); // First ACK Range
  p += varintLength(b[p]!);
  // Each further range is two varints of at least one byte: a count beyond the bytes left cannot fit.
  if (rangeCount > (n - p) / 2) throw new TruncatedError(rangeCount * 2, n - p, p);
  for (let i = 0; i < rangeCount * 2 + (ecn ? 3 : 0); i++) {
    readVarint(b, p, n); // Gap, ACK Range Length ... then ECT0, ECT1, ECN-CE counts
    p += varintLength(b[p]!);
  }
  return p;
}

/** One decrypted client Initial. */
export interface DecryptedInitial {
  header: QuicLongHeader;
  /** The keys whose AEAD tag verified. */
  keys: InitialKeys;
  packetNumber: number;
  /** Length of the packet number field (1–4). */
  pnLength: number;
  /** Decrypted payload (a fresh buffer). */
  payload: Uint8Array;
  frames: InitialFrames;
}

const AEAD_TAG = 16;
const HP_SAMPLE_OFFSET = 4;
const HP_SAMPLE = 16;

/**
 * Remove header protection and open the AEAD of one Initial packet whose header is already parsed. Returns
 * null when the tag does not verify (wrong keys, corrupt or not a client Initial). Throws MalformedError when
 * the packet is too short to hold a sample and a tag. Does not modify `datagram`.
 */
export function openInitialPacket(
  datagram: Uint8Array,
  header: QuicLongHeader,
  keys: InitialKeys,
  largestPn = -1,
): DecryptedInitial | null {
  const { offset, pnOffset, end } = header;
  if (pnOffset < 0) throw new MalformedError(`${header.type} packet has no packet number`);
  if (pnOffset + HP_SAMPLE_OFFSET + HP_SAMPLE > end) {
    throw new MalformedError('packet too short for the header-protection sample');
  }
  const mask = keys.mask(datagram.subarray(pnOffset + HP_SAMPLE_OFFSET, pnOffset + HP_SAMPLE_OFFSET + HP_SAMPLE));
  const first = datagram[offset]! ^ (mask[0]! & 0x0f);
  const pnLength = (first & 0x03) + 1;
  const payloadStart = pnOffset + pnLength;
  if (payloadStart + AEAD_TAG > end) throw new MalformedError('packet too short for the AEAD tag');
  // AAD = the header with first byte and packet number unprotected.
  const aad = new Uint8Array(payloadStart - offset);
  aad.set(datagram.subarray(offset, payloadStart));
  aad[0] = first;
  let truncatedPn = 0;
  for (let i = 0; i < pnLength; i++) {
    const b = datagram[pnOffset + i]! ^ mask[1 + i]!;
    aad[pnOffset - offset + i] = b;
    truncatedPn = truncatedPn * 256 + b;
  }
  const packetNumber = decodePacketNumber(largestPn, truncatedPn, pnLength * 8);
  // Nonce = IV XOR the packet number, left-padded to 12 bytes (RFC 9001 §5.3).
  const nonce = new Uint8Array(keys.iv);
  let hi = Math.floor(packetNumber / 0x100000000);
  let lo = packetNumber >>> 0;
  for (let i = 11; i >= 8; i--) {
    nonce[i] = nonce[i]! ^ (lo & 0xff);
    lo >>>= 8;
  }
  for (let i = 7; i >= 4; i--) {
    nonce[i] = nonce[i]! ^ (hi & 0xff);
    hi >>>= 8;
  }
  const decipher = createDecipheriv('aes-128-gcm', keys.key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(datagram.subarray(end - AEAD_TAG, end));
  let payload: Uint8Array;
  try {
    payload = decipher.update(datagram.subarray(payloadStart, end - AEAD_TAG));
    decipher.final();
  } catch {
    return null; // authentication failed
  }
  return {
    header,
    keys,
    packetNumber,
    pnLength,
    payload,
    frames: parseInitialFrames(payload, initialFramingFor(header.version)),
  };
}

/**
 * Decrypt the client Initial packet at `offset` of `datagram` with `keys` (or the first of several candidate
 * keys whose tag verifies). Null when none verifies. Throws TruncatedError/MalformedError for a packet that is
 * not a well-formed Initial.
 */
export function decryptClientInitial(
  datagram: Uint8Array,
  keys: InitialKeys | readonly InitialKeys[],
  offset = 0,
  largestPn = -1,
): DecryptedInitial | null {
  const header = parseQuicLongHeader(datagram, offset);
  if (header.type !== 'initial') throw new MalformedError(`${header.type} packet is not an Initial`);
  const candidates = keys instanceof InitialKeys ? [keys] : keys;
  for (const k of candidates) {
    const r = openInitialPacket(datagram, header, k, largestPn);
    if (r !== null) return r;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// One connection: client Initials → ClientHello

/** Shared counters; a tracker adds to the object it is given. */
export interface QuicCounters {
  /** UDP payloads offered to the extractor. */
  datagrams: number;
  /** Client Initial packets seen. */
  initialPackets: number;
  /** Initials whose AEAD tag verified. */
  decrypted: number;
  /** Initials no candidate key could open. */
  decryptFailed: number;
  /** Initials re-keyed from their own DCID (after a Retry, or a lost first Initial) or a new version. */
  rekeyed: number;
  /** Packets/datagrams that did not parse (bad lengths, short packets). */
  malformed: number;
  truncated: number;
  /** Complete ClientHellos / CHLOs returned. */
  results: number;
  /** Connections given up on (bounds hit, not a ClientHello, too many Initials without completing). */
  abandoned: number;
  /** Flows dropped by idle timeout or by the flow-table cap. */
  flowsEvicted: number;
}

export function newQuicCounters(): QuicCounters {
  return {
    datagrams: 0,
    initialPackets: 0,
    decrypted: 0,
    decryptFailed: 0,
    rekeyed: 0,
    malformed: 0,
    truncated: 0,
    results: 0,
    abandoned: 0,
    flowsEvicted: 0,
  };
}

/** The first handshake message of a connection's Initial CRYPTO stream. */
export interface InitialHandshake {
  /**
   * The whole handshake message from its type byte: a TLS ClientHello (type 1 + 3-byte length; feed it to
   * parseClientHello(msg, 'quic')), or for gQUIC Q050 the CHLO tag/value message (`handshake: 'gquic-crypto'`).
   */
  clientHello: Uint8Array;
  handshake: 'tls' | 'gquic-crypto';
  version: number;
  /** The DCID the working keys came from: the client's first Initial's DCID, or the post-Retry DCID. */
  dcid: Uint8Array;
  /** DCID of the first client Initial that decrypted. */
  originalDcid: Uint8Array;
  /** Initial packets that contributed. */
  packets: number;
}

export interface QuicInitialTrackerOptions {
  /** Largest CRYPTO stream offset kept, and the largest ClientHello accepted (default 64 KiB). */
  maxCryptoBytes?: number;
  /** CRYPTO fragments kept (default 256). Chrome's chaos protection uses a few dozen per packet. */
  maxFragments?: number;
  counters?: QuicCounters;
}

export type TrackerStatus = 'pending' | 'complete' | 'failed';

const TLS_CLIENT_HELLO = 1;
/** Keys kept per connection: the first DCID's, a post-Retry DCID's, and a few greased-version candidates. */
const KEY_CACHE_ENTRIES = 8;

/**
 * Reassembles the client's Initial CRYPTO stream of one QUIC connection until the first handshake message is
 * complete. Keys come from the DCID of the client's first Initial and stay for later Initials even when their
 * DCID changes (RFC 9001 §5.2). When a later Initial does not open with them and carries another DCID, keys
 * are derived from that DCID (Retry: RFC 9000 §17.2.5) and reassembly restarts. A new version (after Version
 * Negotiation) also restarts. Memory is bounded by maxCryptoBytes and maxFragments.
 */
export class QuicInitialTracker {
  status: TrackerStatus = 'pending';
  /** Why the tracker failed, when it did. */
  failure: string | null = null;
  keys: InitialKeys | null = null;
  originalDcid: Uint8Array | null = null;
  private largestPn = -1;
  private fragments: CryptoFragment[] = [];
  private storedBytes = 0;
  private covered = 0;
  private packets = 0;
  private readonly keyCache = new Map<string, InitialKeys>();
  private readonly maxCryptoBytes: number;
  private readonly maxFragments: number;
  readonly counters: QuicCounters;

  constructor(options: QuicInitialTrackerOptions = {}) {
    this.maxCryptoBytes = options.maxCryptoBytes ?? 64 * 1024;
    this.maxFragments = options.maxFragments ?? 256;
    this.counters = options.counters ?? newQuicCounters();
  }

  /**
   * Offer one client→server UDP payload (coalesced packets are walked; non-Initial packets are skipped).
   * Returns the handshake message once, when it becomes complete; null otherwise. Never throws.
   */
  addDatagram(datagram: Uint8Array): InitialHandshake | null {
    if (this.status !== 'pending') return null;
    const d = parseQuicDatagram(datagram);
    if (d.rest === 'truncated') this.counters.truncated++;
    else if (d.rest === 'malformed' || d.rest === 'too-many-packets') this.counters.malformed++;
    let changed = false;
    for (const h of d.packets) {
      if (h.type !== 'initial') continue;
      if (this.addPacket(datagram, h)) changed = true;
      if (this.status !== 'pending') return null;
    }
    return changed ? this.tryComplete() : null;
  }

  /** Decrypt one parsed Initial and keep its CRYPTO fragments; true when it contributed. */
  private addPacket(datagram: Uint8Array, h: QuicLongHeader): boolean {
    this.counters.initialPackets++;
    let r: DecryptedInitial | null;
    try {
      r = this.open(datagram, h);
    } catch (e) {
      if (e instanceof MalformedError) this.counters.malformed++;
      else if (e instanceof TruncatedError) this.counters.truncated++;
      else throw e;
      return false;
    }
    if (r === null) {
      this.counters.decryptFailed++;
      return false;
    }
    this.counters.decrypted++;
    this.packets++;
    if (r.packetNumber > this.largestPn) this.largestPn = r.packetNumber;
    for (const f of r.frames.crypto) {
      if (f.data.length === 0) continue;
      if (f.offset + f.data.length > this.maxCryptoBytes) return this.fail('CRYPTO data beyond the size limit');
      if (this.fragments.length >= this.maxFragments) return this.fail('too many CRYPTO fragments');
      this.storedBytes += f.data.length;
      // Retransmissions may repeat ranges; twice the limit is generous and still bounded.
      if (this.storedBytes > 2 * this.maxCryptoBytes) return this.fail('too much retransmitted CRYPTO data');
      this.fragments.push(f);
    }
    return r.frames.crypto.length > 0;
  }

  private fail(reason: string): false {
    this.status = 'failed';
    this.failure = reason;
    this.fragments = [];
    this.counters.abandoned++;
    return false;
  }

  private failed(reason: string): null {
    this.fail(reason);
    return null;
  }

  private restart(keys: InitialKeys): void {
    this.keys = keys;
    this.fragments = [];
    this.storedBytes = 0;
    this.covered = 0;
    this.largestPn = -1;
    this.packets = 0;
    this.counters.rekeyed++;
  }

  private open(datagram: Uint8Array, h: QuicLongHeader): DecryptedInitial | null {
    const keys = this.keys;
    if (keys === null) {
      const r = this.openWithOwnDcid(datagram, h, null);
      if (r !== null) {
        this.keys = r.keys;
        this.originalDcid = r.keys.dcid;
      }
      return r;
    }
    if (h.version === keys.version) {
      const r = openInitialPacket(datagram, h, keys, this.largestPn);
      if (r !== null || bytesEqual(h.dcid, keys.dcid)) return r;
    }
    // Another DCID that the current keys do not open (a Retry), or another version (Version Negotiation).
    const r = this.openWithOwnDcid(datagram, h, h.version === keys.version ? keys.scheme : null);
    if (r !== null) this.restart(r.keys);
    return r;
  }

  private openWithOwnDcid(
    datagram: Uint8Array,
    h: QuicLongHeader,
    preferred: InitialScheme | null,
  ): DecryptedInitial | null {
    if (preferred !== null) return openInitialPacket(datagram, h, this.keysFor(h.version, h.dcid, preferred), -1);
    for (const scheme of initialSchemesFor(h.version)) {
      const r = openInitialPacket(datagram, h, this.keysFor(h.version, h.dcid, scheme), -1);
      if (r !== null) return r;
    }
    return null;
  }

  /** Derived keys per (version, scheme, DCID), a few entries: repeated Initials do not re-run HKDF. */
  private keysFor(version: number, dcid: Uint8Array, scheme: InitialScheme): InitialKeys {
    let id = `${version}/${scheme.name}/`;
    for (let i = 0; i < dcid.length; i++) id += String.fromCharCode(dcid[i]!);
    let keys = this.keyCache.get(id);
    if (keys === undefined) {
      if (this.keyCache.size >= KEY_CACHE_ENTRIES) this.keyCache.clear();
      keys = deriveInitialKeys(version, dcid, scheme);
      this.keyCache.set(id, keys);
    }
    return keys;
  }

  /** Assemble the contiguous stream from offset 0 and return the first message when complete. */
  private tryComplete(): InitialHandshake | null {
    const frags = this.fragments;
    frags.sort((a, b) => a.offset - b.offset);
    let covered = 0;
    for (const f of frags) {
      if (f.offset > covered) break;
      const e = f.offset + f.data.length;
      if (e > covered) covered = e;
    }
    if (covered <= this.covered || covered < 8) return null;
    this.covered = covered;
    const stream = new Uint8Array(covered);
    for (const f of frags) {
      if (f.offset >= covered) break;
      stream.set(f.data.subarray(0, covered - f.offset), f.offset);
    }
    const keys = this.keys!;
    const gquicCrypto = keys.version === GQUIC_Q050;
    let need: number;
    if (gquicCrypto) {
      if (stream[0] !== 0x43 || stream[1] !== 0x48 || stream[2] !== 0x4c || stream[3] !== 0x4f) {
        return this.failed('Q050 crypto stream does not start with CHLO');
      }
      try {
        need = gquicHandshakeMessageLength(stream);
      } catch {
        return this.failed('malformed CHLO');
      }
      if (need < 0) return null;
    } else {
      if (stream[0] !== TLS_CLIENT_HELLO) return this.failed(`first handshake message has type ${stream[0]}`);
      need = 4 + ((stream[1]! << 16) | (stream[2]! << 8) | stream[3]!);
    }
    if (need > this.maxCryptoBytes) return this.failed('handshake message over the size limit');
    if (covered < need) return null;
    this.status = 'complete';
    this.fragments = [];
    this.counters.results++;
    return {
      clientHello: stream.subarray(0, need),
      handshake: gquicCrypto ? 'gquic-crypto' : 'tls',
      version: keys.version,
      dcid: keys.dcid,
      originalDcid: this.originalDcid ?? keys.dcid,
      packets: this.packets,
    };
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Per-flow driver for the capture pipeline

interface QuicResultBase {
  version: number;
  /** quicVersionName(version): 'v1', 'v2', 'draft-29', 'Q046', 'T051', 'grease-0x1a2a3a4a', ... */
  versionName: string;
  /** DCID that keyed the Initials (IETF/T05x/Q050) or the client's connection id (cleartext gQUIC). */
  dcid: Uint8Array;
  /** Capture time of the datagram that completed the message. */
  tsMs: number;
}

/** IETF QUIC and T05x: the raw ClientHello; the pipeline calls parseClientHello(clientHello, 'quic'). */
export interface QuicTlsResult extends QuicResultBase {
  kind: 'tls';
  clientHello: Uint8Array;
}

/** Google QUIC crypto (Q0xx): SNI and user agent straight from the CHLO tags. */
export interface QuicChloResult extends QuicResultBase {
  kind: 'gquic-chlo';
  sni: string | null;
  uaid: string | null;
  /** CHLO tags in wire order. */
  tags: string[];
}

export type QuicResult = QuicTlsResult | QuicChloResult;

export interface QuicSniExtractorOptions {
  /** Flows tracked at once (default 4096); the least recently active one goes first. */
  maxFlows?: number;
  /** A flow with no datagram for this long (capture time) is dropped (default 30 s). */
  idleMs?: number;
  /** Client datagrams with long headers examined per flow before giving up (default 12). */
  maxClientDatagrams?: number;
  maxCryptoBytes?: number;
  maxFragments?: number;
}

interface FlowState {
  lastSeen: number;
  tracker: QuicInitialTracker | null;
  done: boolean;
  clientDatagrams: number;
}

/**
 * Finds the ClientHello (or gQUIC CHLO) of QUIC connections in UDP flows, once per flow. The caller gives a
 * flow key that is the same for both directions and says which side is the client. State is bounded:
 * `maxFlows` entries (least recently active evicted), each dropped after `idleMs` of capture time, each with a
 * bounded reassembly buffer and a bounded number of Initials examined. Never throws.
 */
export class QuicSniExtractor {
  readonly counters: QuicCounters = newQuicCounters();
  private readonly flows = new Map<string, FlowState>();
  private readonly maxFlows: number;
  private readonly idleMs: number;
  private readonly touchMs: number;
  private readonly maxClientDatagrams: number;
  private readonly trackerOptions: QuicInitialTrackerOptions;
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(options: QuicSniExtractorOptions = {}) {
    this.maxFlows = Math.max(1, options.maxFlows ?? 4096);
    this.idleMs = options.idleMs ?? 30_000;
    this.touchMs = Math.min(1000, this.idleMs / 8);
    this.maxClientDatagrams = options.maxClientDatagrams ?? 12;
    this.trackerOptions = {
      maxCryptoBytes: options.maxCryptoBytes ?? 64 * 1024,
      maxFragments: options.maxFragments ?? 256,
      counters: this.counters,
    };
  }

  /** Flows currently held (pending or finished but not yet evicted). */
  get flowCount(): number {
    return this.flows.size;
  }

  /** Forget a flow (e.g. when the pipeline's flow table closes it). */
  forget(flowKey: string): void {
    this.flows.delete(flowKey);
  }

  onDatagram(flowKey: string, fromClient: boolean, payload: Uint8Array, tsMs: number): QuicResult | null {
    this.counters.datagrams++;
    if (tsMs - this.lastSweep >= this.idleMs / 4) this.sweep(tsMs);
    let flow = this.flows.get(flowKey);
    if (flow !== undefined) {
      // Map order approximates recency (re-inserted at most once per touchMs) so the cap evicts the least
      // recently active flow without a delete+insert on every packet.
      if (tsMs - flow.lastSeen >= this.touchMs) {
        this.flows.delete(flowKey);
        this.flows.set(flowKey, flow);
      }
      flow.lastSeen = tsMs;
      if (flow.done) return null;
    }
    if (!fromClient || payload.length < 7) return null;
    const first = payload[0]!;
    let version: number;
    if ((first & 0x80) !== 0) {
      version = u32(payload, 1);
      if (version === 0) return null; // Version Negotiation comes from servers
    } else {
      version = gquicPublicHeaderVersion(payload);
      if (version < 0) return null; // short header (1-RTT) or not QUIC
    }
    if (flow === undefined) {
      if (!this.startsConnection(payload, version)) return null;
      flow = { lastSeen: tsMs, tracker: null, done: false, clientDatagrams: 0 };
      this.insert(flowKey, flow);
    }
    flow.clientDatagrams++;
    const result = isCleartextGquicVersion(version)
      ? this.cleartextChlo(payload, tsMs)
      : this.initial(flow, payload, tsMs);
    if (result !== null) {
      flow.done = true;
      flow.tracker = null;
      return result;
    }
    if (!flow.done && (flow.clientDatagrams >= this.maxClientDatagrams || flow.tracker?.status === 'failed')) {
      if (flow.tracker?.status !== 'failed') this.counters.abandoned++;
      flow.done = true;
      flow.tracker = null;
    }
    return null;
  }

  /** Whether a client datagram can begin tracking: a gQUIC cleartext packet, or a long-header Initial. */
  private startsConnection(payload: Uint8Array, version: number): boolean {
    if (isCleartextGquicVersion(version)) return true;
    const typeBits = (payload[0]! >> 4) & 0x03;
    return typeBits === (version === QUIC_V2 ? 1 : 0);
  }

  private initial(flow: FlowState, payload: Uint8Array, tsMs: number): QuicTlsResult | QuicChloResult | null {
    if (flow.tracker === null) flow.tracker = new QuicInitialTracker(this.trackerOptions);
    const hs = flow.tracker.addDatagram(payload);
    if (hs === null) return null;
    const base = { version: hs.version, versionName: quicVersionName(hs.version), dcid: hs.dcid, tsMs };
    if (hs.handshake === 'tls') return { kind: 'tls', ...base, clientHello: hs.clientHello };
    try {
      const chlo = parseGquicChlo(hs.clientHello);
      return { kind: 'gquic-chlo', ...base, sni: chlo.sni, uaid: chlo.uaid, tags: chlo.tags };
    } catch (e) {
      this.countError(e);
      return null;
    }
  }

  private cleartextChlo(payload: Uint8Array, tsMs: number): QuicChloResult | null {
    try {
      const p = parseGquicCleartextChlo(payload);
      if (p === null) return null;
      this.counters.results++;
      return {
        kind: 'gquic-chlo',
        version: p.version,
        versionName: p.versionName,
        dcid: new Uint8Array(p.cid),
        tsMs,
        sni: p.chlo.sni,
        uaid: p.chlo.uaid,
        tags: p.chlo.tags,
      };
    } catch (e) {
      this.countError(e);
      return null;
    }
  }

  private countError(e: unknown): void {
    if (e instanceof TruncatedError) this.counters.truncated++;
    else if (e instanceof MalformedError) this.counters.malformed++;
    else throw e;
  }

  private insert(flowKey: string, flow: FlowState): void {
    while (this.flows.size >= this.maxFlows) {
      const oldest = this.flows.keys().next().value as string;
      this.flows.delete(oldest);
      this.counters.flowsEvicted++;
    }
    this.flows.set(flowKey, flow);
  }

  /**
   * Drop flows idle for idleMs. Map order is (nearly) recency order, so stop at the first recent one; an idle
   * flow left behind it goes in a later sweep or to the cap.
   */
  private sweep(tsMs: number): void {
    this.lastSweep = tsMs;
    for (const [key, flow] of this.flows) {
      if (tsMs - flow.lastSeen < this.idleMs) break;
      this.flows.delete(key);
      this.counters.flowsEvicted++;
    }
  }
}
