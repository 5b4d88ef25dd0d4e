/**
 * TLS ClientHello decoding (RFC 8446 §4.1.2, RFC 6066, RFC 7301, draft-ietf-tls-esni) and the JA3 / JA4
 * client fingerprints (salesforce/ja3 README; FoxIO-LLC/ja4 technical_details/JA4.md, see
 * shared/research/dpi.md §5).
 *
 * Pure: bytes in, a typed value out. `parseClientHello` throws only TruncatedError / MalformedError;
 * `extractClientHelloFromStream` never throws and returns a status instead.
 */
import { createHash } from 'node:crypto';
import { ByteReader, MalformedError, TruncatedError } from '../../sdk/byteReader.js';

export type TlsTransport = 'tcp' | 'quic' | 'dtls';

export interface EchInfo {
  /** Extension 0xfe0d (encrypted_client_hello) is present. Real ECH and GREASE ECH look the same on the wire. */
  present: boolean;
  /** ECHClientHello type: true = outer (0), false = inner (1), null when absent or unreadable. */
  outer: boolean | null;
  /** config_id of an outer ECHClientHello. */
  configId?: number;
}

/** How many GREASE values (RFC 8701, 0x?a?a) each list carried; they are left out of the lists below. */
export interface GreaseCounts {
  cipherSuites: number;
  extensions: number;
  groups: number;
  supportedVersions: number;
  signatureAlgorithms: number;
}

export interface ClientHello {
  /** legacy_version of the hello (0x0303 for TLS 1.2 and 1.3). */
  legacyVersion: number;
  /** Highest non-GREASE entry of supported_versions, else legacyVersion. */
  version: number;
  /** supported_versions (0x002b) in wire order, GREASE removed; empty when the extension is absent. */
  supportedVersions: number[];
  /** host_name from server_name (0x0000), as sent (ASCII, not case-folded); null when absent or empty. */
  sni: string | null;
  /** ALPN (0x0010) protocol names in wire order (bytes decoded as Latin-1). */
  alpn: string[];
  /** Cipher suites in wire order, GREASE removed. */
  cipherSuites: number[];
  /** Extension types in wire order, GREASE removed. */
  extensions: number[];
  /** supported_groups (0x000a) in wire order, GREASE removed. */
  groups: number[];
  /** ec_point_formats (0x000b) in wire order. */
  pointFormats: number[];
  /** signature_algorithms (0x000d only, not 0x0032 signature_algorithms_cert), wire order, GREASE removed. */
  signatureAlgorithms: number[];
  ech: EchInfo;
  /** Legacy ESNI extension 0xffce present (draft-ietf-tls-esni-00..02). */
  esni: boolean;
  sessionIdLength: number;
  grease: GreaseCounts;
  /** Extensions whose body did not parse (they still count in the extension list and fingerprints). */
  malformedExtensions: number[];
  /**
   * The extension block's framing was broken (a length running past the message): extensions up to that point
   * are kept, the rest ignored, as nDPI does.
   */
  extensionsBroken: boolean;
  /** JA3 string `SSLVersion,Ciphers,Extensions,Groups,PointFormats` and its MD5. */
  ja3: string;
  ja3Hash: string;
  /** JA4 `a_b_c` and its raw form JA4_r (sorted lists in clear). */
  ja4: string;
  ja4r: string;
}

export const TLS_HANDSHAKE_CLIENT_HELLO = 1;
export const TLS_CONTENT_HANDSHAKE = 22;
export const TLS_CONTENT_CHANGE_CIPHER_SPEC = 20;
/** Largest TLSCiphertext fragment (RFC 8446 §5.2: 2^14 + 256; TLS 1.2 allows 2^14 + 2048). */
export const TLS_MAX_RECORD = 16384 + 2048;
/** ClientHellos above this size are treated as malformed by the stream extractor (post-quantum ones are ~2 KB). */
export const TLS_MAX_CLIENT_HELLO = 1 << 17;

const EXT_SNI = 0x0000;
const EXT_GROUPS = 0x000a;
const EXT_POINT_FORMATS = 0x000b;
const EXT_SIG_ALGS = 0x000d;
const EXT_ALPN = 0x0010;
const EXT_SUPPORTED_VERSIONS = 0x002b;
const EXT_ECH = 0xfe0d;
const EXT_ESNI = 0xffce;

/** RFC 8701 GREASE: both bytes equal and of the form 0x?a. */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Read a u16 list of `byteLen` bytes; non-GREASE values go to `out`, returns the GREASE count. */
function readU16List(r: ByteReader, byteLen: number, out: number[]): number {
  if (byteLen % 2 !== 0) throw new MalformedError(`odd u16 vector length ${byteLen}`);
  let grease = 0;
  for (let i = 0; i < byteLen; i += 2) {
    const v = r.u16();
    if (isGrease(v)) grease++;
    else out.push(v);
  }
  return grease;
}

/** A vector length that must fit in the enclosing reader, else the message is malformed (not truncated). */
function vecLen(r: ByteReader, len: number, what: string): number {
  if (len > r.remaining) throw new MalformedError(`${what} length ${len} exceeds ${r.remaining} remaining byte(s)`);
  return len;
}

/**
 * Parse one ClientHello handshake message: `msg` starts at the msg_type byte (1) followed by the 3-byte
 * length (for DTLS the 12-byte DTLS handshake header; the message must be unfragmented). Bytes after the
 * message are ignored. Throws TruncatedError when `msg` is shorter than the declared length, MalformedError
 * when a field is inconsistent.
 */
export function parseClientHello(msg: Uint8Array, transport: TlsTransport = 'tcp'): ClientHello {
  const outer = new ByteReader(msg);
  const type = outer.u8();
  if (type !== TLS_HANDSHAKE_CLIENT_HELLO) throw new MalformedError(`handshake type ${type} is not ClientHello`);
  const length = outer.u24();
  if (transport === 'dtls') {
    outer.u16(); // message_seq
    const fragOffset = outer.u24();
    const fragLength = outer.u24();
    if (fragOffset !== 0 || fragLength !== length) throw new MalformedError('fragmented DTLS ClientHello');
  }
  if (length > outer.remaining) throw new TruncatedError(length, outer.remaining, outer.offset);
  const r = outer.sub(length);

  const legacyVersion = r.u16();
  r.skip(32); // random
  const sessionIdLength = r.u8();
  if (sessionIdLength > 32) throw new MalformedError(`session id length ${sessionIdLength}`);
  r.skip(vecLen(r, sessionIdLength, 'session id'));
  if (transport === 'dtls') r.skip(vecLen(r, r.u8(), 'cookie'));

  const grease: GreaseCounts = {
    cipherSuites: 0,
    extensions: 0,
    groups: 0,
    supportedVersions: 0,
    signatureAlgorithms: 0,
  };
  const cipherSuites: number[] = [];
  const csLen = vecLen(r, r.u16(), 'cipher suites');
  grease.cipherSuites = readU16List(r, csLen, cipherSuites);
  const compLen = vecLen(r, r.u8(), 'compression methods');
  r.skip(compLen);

  const extensions: number[] = [];
  const acc: ExtAccumulator = {
    grease,
    groups: [],
    pointFormats: [],
    signatureAlgorithms: [],
    supportedVersions: [],
    alpn: [],
    sni: null,
    sniPresent: false,
    esni: false,
    ech: { present: false, outer: null },
    malformedExtensions: [],
    extensionsBroken: false,
  };
  const { groups, pointFormats, signatureAlgorithms, supportedVersions, alpn, ech } = acc;

  // SSL 3.0 / early TLS hellos may end right after the compression methods.
  if (!r.done) {
    // Like nDPI, a broken extension framing keeps what was read before it (the SNI of sloppy clients).
    const extTotal = r.u16();
    if (extTotal > r.remaining) acc.extensionsBroken = true;
    const er = r.sub(Math.min(extTotal, r.remaining));
    while (!er.done) {
      if (er.remaining < 4) {
        acc.extensionsBroken = true;
        break;
      }
      const extType = er.u16();
      const extLen = er.u16();
      if (extLen > er.remaining) {
        acc.extensionsBroken = true;
        break;
      }
      const x = er.sub(extLen);
      if (isGrease(extType)) {
        grease.extensions++;
        continue;
      }
      extensions.push(extType);
      try {
        parseExtension(extType, x, acc);
      } catch (e) {
        // A broken extension body (seen from real clients and fuzzers) spoils only that extension.
        if (e instanceof TruncatedError || e instanceof MalformedError) acc.malformedExtensions.push(extType);
        else throw e;
      }
    }
  }

  let version = legacyVersion;
  if (supportedVersions.length > 0) {
    version = 0;
    for (const v of supportedVersions) if (v > version) version = v;
  }

  const ja3 = `${legacyVersion},${cipherSuites.join('-')},${extensions.join('-')},${groups.join('-')},${pointFormats.join('-')}`;
  const ja3Hash = createHash('md5').update(ja3).digest('hex');
  const { ja4, ja4r } = computeJa4(
    transport,
    version,
    acc.sniPresent,
    cipherSuites,
    extensions,
    alpn,
    signatureAlgorithms,
  );

  return {
    legacyVersion,
    version,
    supportedVersions,
    sni: acc.sni,
    alpn,
    cipherSuites,
    extensions,
    groups,
    pointFormats,
    signatureAlgorithms,
    ech,
    esni: acc.esni,
    sessionIdLength,
    malformedExtensions: acc.malformedExtensions,
    extensionsBroken: acc.extensionsBroken,
    grease,
    ja3,
    ja3Hash,
    ja4,
    ja4r,
  };
}

interface ExtAccumulator {
  grease: GreaseCounts;
  groups: number[];
  pointFormats: number[];
  signatureAlgorithms: number[];
  supportedVersions: number[];
  alpn: string[];
  sni: string | null;
  sniPresent: boolean;
  esni: boolean;
  ech: EchInfo;
  malformedExtensions: number[];
  extensionsBroken: boolean;
}

/** Parse one extension body. Values are committed only when the whole body parses. */
function parseExtension(type: number, x: ByteReader, acc: ExtAccumulator): void {
  switch (type) {
    case EXT_SNI: {
      acc.sniPresent = true;
      if (x.done) return; // an empty server_name (legal in ServerHello, seen in odd clients)
      const list = x.sub(vecLen(x, x.u16(), 'server name list'));
      let host: string | null = null;
      while (!list.done) {
        const nameType = list.u8();
        const name = list.bytesView(vecLen(list, list.u16(), 'server name'));
        if (nameType === 0 && host === null && name.length > 0) host = latin1(name);
      }
      if (acc.sni === null) acc.sni = host;
      return;
    }
    case EXT_ALPN: {
      const list = x.sub(vecLen(x, x.u16(), 'ALPN list'));
      const names: string[] = [];
      while (!list.done) names.push(latin1(list.bytesView(vecLen(list, list.u8(), 'ALPN protocol'))));
      for (const n of names) acc.alpn.push(n);
      return;
    }
    case EXT_GROUPS:
      acc.grease.groups += readU16Into(x, vecLen(x, x.u16(), 'supported groups'), acc.groups);
      return;
    case EXT_POINT_FORMATS: {
      const n = vecLen(x, x.u8(), 'point formats');
      const v = x.bytesView(n);
      for (let i = 0; i < n; i++) acc.pointFormats.push(v[i]!);
      return;
    }
    case EXT_SIG_ALGS:
      acc.grease.signatureAlgorithms += readU16Into(
        x,
        vecLen(x, x.u16(), 'signature algorithms'),
        acc.signatureAlgorithms,
      );
      return;
    case EXT_SUPPORTED_VERSIONS:
      acc.grease.supportedVersions += readU16Into(x, vecLen(x, x.u8(), 'supported versions'), acc.supportedVersions);
      return;
    case EXT_ECH:
      acc.ech.present = true;
      if (x.remaining >= 1) {
        const echType = x.u8();
        acc.ech.outer = echType === 0 ? true : echType === 1 ? false : null;
        if (echType === 0 && x.remaining >= 5) {
          x.skip(4); // HpkeSymmetricCipherSuite: kdf_id, aead_id
          acc.ech.configId = x.u8();
        }
      }
      return;
    case EXT_ESNI:
      acc.esni = true;
      return;
    default:
      return;
  }
}

/** readU16List into a scratch list, appended to `out` only when the whole vector reads. */
function readU16Into(r: ByteReader, byteLen: number, out: number[]): number {
  const tmp: number[] = [];
  const g = readU16List(r, byteLen, tmp);
  for (const v of tmp) out.push(v);
  return g;
}

/** JA4 two-character TLS version code. */
export function ja4VersionCode(version: number): string {
  switch (version) {
    case 0x0304:
      return '13';
    case 0x0303:
      return '12';
    case 0x0302:
      return '11';
    case 0x0301:
      return '10';
    case 0x0300:
      return 's3';
    case 0x0200:
      return 's2';
    case 0x0002:
      return 's2';
    case 0xfeff:
      return 'd1';
    case 0xfefd:
      return 'd2';
    case 0xfefc:
      return 'd3';
    default:
      return '00';
  }
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

const HEX = '0123456789abcdef';

/** JA4 ALPN characters: first + last character, or first + last hex digit when either is not alphanumeric. */
export function ja4AlpnCode(first: string | undefined): string {
  if (first === undefined || first.length === 0) return '00';
  const a = first.charCodeAt(0);
  const z = first.charCodeAt(first.length - 1);
  if (isAlnum(a) && isAlnum(z)) return first[0]! + first[first.length - 1]!;
  return HEX[(a >> 4) & 0xf]! + HEX[z & 0xf]!;
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, '0');
}

function two(n: number): string {
  return n > 99 ? '99' : n < 10 ? `0${n}` : String(n);
}

function hash12(s: string): string {
  if (s.length === 0) return '000000000000';
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

function computeJa4(
  transport: TlsTransport,
  version: number,
  sniPresent: boolean,
  ciphers: number[],
  extensions: number[],
  alpn: string[],
  sigAlgs: number[],
): { ja4: string; ja4r: string } {
  const proto = transport === 'quic' ? 'q' : transport === 'dtls' ? 'd' : 't';
  const a =
    proto +
    ja4VersionCode(version) +
    (sniPresent ? 'd' : 'i') +
    two(ciphers.length) +
    two(extensions.length) +
    ja4AlpnCode(alpn[0]);
  const sortedCiphers = ciphers.map(hex4).sort().join(',');
  const sortedExts = extensions
    .filter((e) => e !== EXT_SNI && e !== EXT_ALPN)
    .map(hex4)
    .sort()
    .join(',');
  const sigs = sigAlgs.map(hex4).join(',');
  const cRaw = sigs.length > 0 ? `${sortedExts}_${sigs}` : sortedExts;
  return {
    ja4: `${a}_${hash12(sortedCiphers)}_${hash12(cRaw)}`,
    ja4r: `${a}_${sortedCiphers}_${sortedExts}${sigs.length > 0 ? `_${sigs}` : ''}`,
  };
}

export interface StreamHelloResult {
  /**
   * `need-more`: a ClientHello has started but is not complete (see `needed`); `ok`: parsed;
   * `not-tls`: the bytes do not start a TLS ClientHello (decided within the first 6 bytes);
   * `malformed`: a TLS handshake record stream whose records or hello are broken.
   */
  status: 'need-more' | 'ok' | 'not-tls' | 'malformed';
  hello?: ClientHello;
  /** legacy_record_version of the first record. */
  recordVersion?: number;
  /** Stream bytes (from `start`) needed for the hello, when known. */
  needed?: number;
  /** Offset just past the record that completed the hello (where a following record starts). */
  end?: number;
}

function isRecordVersion(major: number, minor: number): boolean {
  return major === 3 && minor <= 4;
}

/**
 * Find and parse the ClientHello at the start of a client→server TCP byte stream (TLS on any port).
 * Walks TLS records (content type 22), joining handshake fragments across records until the hello's
 * declared length is there. With `start` > 0 (e.g. the second ClientHello after a HelloRetryRequest),
 * ChangeCipherSpec records before the handshake record are skipped. Never throws.
 */
export function extractClientHelloFromStream(stream: Uint8Array, start = 0): StreamHelloResult {
  const n = stream.length;
  let p = start;
  if (p < 0 || p > n) return { status: 'malformed' };
  if (start > 0) {
    // Skip ChangeCipherSpec records (middlebox compatibility mode) between hellos.
    while (
      p + 5 <= n &&
      stream[p] === TLS_CONTENT_CHANGE_CIPHER_SPEC &&
      isRecordVersion(stream[p + 1]!, stream[p + 2]!)
    ) {
      p += 5 + ((stream[p + 3]! << 8) | stream[p + 4]!);
    }
    if (p > n) return { status: 'need-more' };
    if (p + 1 <= n && stream[p] === TLS_CONTENT_CHANGE_CIPHER_SPEC) return { status: 'need-more' };
  }
  // Quick rejection on the first bytes: 16 03 0x LL LL 01.
  if (p >= n) return { status: 'need-more' };
  if (stream[p] !== TLS_CONTENT_HANDSHAKE) return { status: 'not-tls' };
  if (p + 1 < n && stream[p + 1] !== 3) return { status: 'not-tls' };
  if (p + 2 < n && stream[p + 2]! > 4) return { status: 'not-tls' };
  if (p + 5 > n) return { status: 'need-more' };
  const recordVersion = (stream[p + 1]! << 8) | stream[p + 2]!;
  const firstLen = (stream[p + 3]! << 8) | stream[p + 4]!;
  if (firstLen === 0 || firstLen > TLS_MAX_RECORD) return { status: 'not-tls' };
  if (p + 5 < n && stream[p + 5] !== TLS_HANDSHAKE_CLIENT_HELLO) return { status: 'not-tls' };

  // Fast path: the whole hello sits in the first record (the common case) — no copy.
  if (p + 9 <= n && firstLen >= 4) {
    const helloLen = (stream[p + 6]! << 16) | (stream[p + 7]! << 8) | stream[p + 8]!;
    if (helloLen > TLS_MAX_CLIENT_HELLO) return { status: 'malformed', recordVersion };
    if (4 + helloLen <= firstLen) {
      if (p + 9 + helloLen > n) return { status: 'need-more', recordVersion, needed: p - start + 9 + helloLen };
      return finish(stream.subarray(p + 5, p + 9 + helloLen), recordVersion, p + 5 + firstLen);
    }
  }

  // Slow path: the hello continues over further records. First pass: count and validate.
  let q = p;
  let have = 0;
  let helloTotal = -1; // 4 + hello length once the 4-byte header has been seen
  let records = 0;
  const hdr = [0, 0, 0, 0];
  while (true) {
    if (q + 5 > n) return { status: 'need-more', recordVersion, ...estimate(helloTotal, have, q, start) };
    const ct = stream[q]!;
    if (ct !== TLS_CONTENT_HANDSHAKE || !isRecordVersion(stream[q + 1]!, stream[q + 2]!)) {
      return { status: 'malformed', recordVersion };
    }
    const len = (stream[q + 3]! << 8) | stream[q + 4]!;
    if (len === 0 || len > TLS_MAX_RECORD) return { status: 'malformed', recordVersion };
    const bodyStart = q + 5;
    const avail = Math.min(len, n - bodyStart);
    for (let i = 0; i < avail && have + i < 4; i++) hdr[have + i] = stream[bodyStart + i]!;
    have += avail;
    if (helloTotal < 0 && have >= 4) {
      if (hdr[0] !== TLS_HANDSHAKE_CLIENT_HELLO) return { status: 'not-tls' };
      const hl = (hdr[1]! << 16) | (hdr[2]! << 8) | hdr[3]!;
      if (hl > TLS_MAX_CLIENT_HELLO) return { status: 'malformed', recordVersion };
      helloTotal = 4 + hl;
    }
    records++;
    if (helloTotal >= 0 && have >= helloTotal) {
      // Gather exactly helloTotal bytes from `records` records.
      const msg = new Uint8Array(helloTotal);
      let w = 0;
      let r = p;
      for (let k = 0; k < records && w < helloTotal; k++) {
        const l = (stream[r + 3]! << 8) | stream[r + 4]!;
        const take = Math.min(l, helloTotal - w);
        msg.set(stream.subarray(r + 5, r + 5 + take), w);
        w += take;
        r += 5 + l;
      }
      return finish(msg, recordVersion, q + 5 + len);
    }
    if (avail < len)
      return { status: 'need-more', recordVersion, ...estimate(helloTotal, have, bodyStart + len, start) };
    q = bodyStart + len;
  }
}

function estimate(helloTotal: number, have: number, at: number, start: number): { needed?: number } {
  // Lower bound: the rest of the hello plus one more record header when the current record is complete.
  if (helloTotal < 0) return {};
  return { needed: at - start + Math.max(0, helloTotal - have) };
}

function finish(msg: Uint8Array, recordVersion: number, end: number): StreamHelloResult {
  try {
    return { status: 'ok', hello: parseClientHello(msg, 'tcp'), recordVersion, end };
  } catch (e) {
    if (e instanceof TruncatedError || e instanceof MalformedError) return { status: 'malformed', recordVersion };
    throw e;
  }
}

export interface ServerHelloSniff {
  status: 'need-more' | 'ok' | 'not-tls' | 'malformed';
  /** legacy_version, the negotiated version (supported_versions when present), cipher suite. */
  legacyVersion?: number;
  version?: number;
  cipherSuite?: number;
  /** True when the ServerHello is a HelloRetryRequest (RFC 8446 §4.1.3 special random). */
  helloRetryRequest?: boolean;
  /** JA3S string and MD5 (`SSLVersion,Cipher,Extensions`). */
  ja3s?: string;
  ja3sHash?: string;
}

const HRR_RANDOM = [
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
  0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/**
 * Sniff the ServerHello at the start of a server→client TCP stream (only when it fits in the first record,
 * which is the case for all but pathological servers). Never throws.
 */
export function sniffTlsServerHello(stream: Uint8Array): ServerHelloSniff {
  const n = stream.length;
  if (n === 0) return { status: 'need-more' };
  if (stream[0] !== TLS_CONTENT_HANDSHAKE) return { status: 'not-tls' };
  if (n > 1 && stream[1] !== 3) return { status: 'not-tls' };
  if (n > 2 && stream[2]! > 4) return { status: 'not-tls' };
  if (n > 5 && stream[5] !== 2) return { status: 'not-tls' };
  if (n < 9) return { status: 'need-more' };
  const recLen = (stream[3]! << 8) | stream[4]!;
  const hl = (stream[6]! << 16) | (stream[7]! << 8) | stream[8]!;
  if (recLen === 0 || recLen > TLS_MAX_RECORD || 4 + hl > recLen) return { status: 'malformed' };
  if (n < 9 + hl) return { status: 'need-more' };
  try {
    const r = new ByteReader(stream, 9, 9 + hl);
    const legacyVersion = r.u16();
    const random = r.bytesView(32);
    let hrr = true;
    for (let i = 0; i < 32; i++) if (random[i] !== HRR_RANDOM[i]) hrr = false;
    r.skip(vecLen(r, r.u8(), 'session id'));
    const cipherSuite = r.u16();
    r.u8(); // compression
    const exts: number[] = [];
    let version = legacyVersion;
    if (!r.done) {
      const er = r.sub(vecLen(r, r.u16(), 'extensions'));
      while (!er.done) {
        const t = er.u16();
        const x = er.sub(vecLen(er, er.u16(), 'extension'));
        if (!isGrease(t)) exts.push(t);
        if (t === EXT_SUPPORTED_VERSIONS && x.remaining >= 2) version = x.u16();
      }
    }
    const ja3s = `${legacyVersion},${cipherSuite},${exts.join('-')}`;
    return {
      status: 'ok',
      legacyVersion,
      version,
      cipherSuite,
      helloRetryRequest: hrr,
      ja3s,
      ja3sHash: createHash('md5').update(ja3s).digest('hex'),
    };
  } catch (e) {
    if (e instanceof TruncatedError || e instanceof MalformedError) return { status: 'malformed' };
    throw e;
  }
}
