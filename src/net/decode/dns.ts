/**
 * DNS message decoder (RFC 1035, with the mDNS (RFC 6762) and LLMNR (RFC 4795) variants, EDNS(0) (RFC 6891),
 * SVCB/HTTPS (RFC 9460)) and DNS-over-TCP framing (RFC 1035 §4.2.2, RFC 7766).
 *
 * Pure and bounds-checked: it throws only TruncatedError (the header, a question, a record's owner name or fixed
 * fields run past the end) and MalformedError (a bad label type, a compression pointer that does not point
 * strictly backwards, a name over 255 octets). A record whose rdata does not parse keeps its place with
 * `data: { malformed: true, raw }` and the rest of the message is still decoded.
 *
 * Variants: the top bit of a question's class is reported as `unicastResponse` (mDNS "QU") and the top bit of a
 * record's class as `cacheFlush` (mDNS), both masked off `class`, for every message (unicast DNS never sets them;
 * OPT is exempt: its class is the UDP payload size). LLMNR reuses the header bits: its C (conflict) bit is
 * `authoritative`, its T (tentative) bit is `recursionDesired`.
 */

import { MalformedError, TruncatedError, toHex } from '../../sdk/byteReader.js';
import { bytesText, readName } from './dnsName.js';
import { ipv4At, ipv6At } from './ip.js';

/** Record types with typed data. */
export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  DNAME: 39,
  OPT: 41,
  SVCB: 64,
  HTTPS: 65,
  ANY: 255,
} as const;

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
  /** mDNS "QU" bit: the querier asks for a unicast response. */
  unicastResponse: boolean;
}

export interface DnsMx {
  preference: number;
  exchange: string;
}
export interface DnsSrv {
  priority: number;
  weight: number;
  port: number;
  target: string;
}
export interface DnsSoa {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}
/** SVCB (64) and HTTPS (65) rdata (RFC 9460). Absent keys are absent properties. */
export interface DnsSvcb {
  /** 0 = AliasMode. */
  priority: number;
  /** '' is the root ('.'), which in ServiceMode means the owner name. */
  target: string;
  mandatory?: number[];
  alpn?: string[];
  noDefaultAlpn?: true;
  port?: number;
  ipv4hint?: string[];
  /** Encrypted ClientHello configuration present (key 5). */
  ech?: true;
  ipv6hint?: string[];
  dohpath?: string;
  ohttp?: true;
  /** Keys not listed above, with their values in hex. */
  other?: { key: number; value: string }[];
}
export interface DnsOpt {
  udpSize: number;
  extendedRcode: number;
  version: number;
  dnssecOk: boolean;
  /** EDNS client subnet (option 8) as 'address/sourcePrefix', when present and well formed. */
  clientSubnet?: string;
  options: { code: number; data: string }[];
}
/** Rdata of a type without a typed decoder, in hex. */
export interface DnsRaw {
  raw: string;
}
/** Rdata that does not parse as its type says; raw is the rdata in hex. */
export interface DnsMalformed {
  malformed: true;
  raw: string;
}
/**
 * By record type: A/AAAA → address text (IPv6 per RFC 5952); CNAME/NS/PTR/DNAME → name; TXT → strings;
 * MX, SRV, SOA, SVCB/HTTPS, OPT → objects; anything else → DnsRaw; undecodable rdata → DnsMalformed.
 */
export type DnsRdata = string | string[] | DnsMx | DnsSrv | DnsSoa | DnsSvcb | DnsOpt | DnsRaw | DnsMalformed;

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  /** mDNS cache-flush bit (top bit of the class). */
  cacheFlush: boolean;
  ttl: number;
  data: DnsRdata;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  opcode: number;
  /** Header RCODE (4 bits); EDNS extends it with DnsOpt.extendedRcode. */
  rcode: number;
  authoritative: boolean;
  truncated: boolean;
  recursionDesired: boolean;
  recursionAvailable: boolean;
  authenticData: boolean;
  checkingDisabled: boolean;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
  /**
   * Only with `{ allowTruncated: true }`: the bytes ended before the counts in the header said, and the
   * sections hold what came before. Always false otherwise (such input throws TruncatedError).
   */
  incomplete: boolean;
}

export interface DecodeDnsOptions {
  /**
   * Return what decoded before the bytes ran out (snaplen-cut captures) with `incomplete: true`, instead of
   * throwing TruncatedError. A cut header still throws.
   */
  allowTruncated?: boolean;
}

const HEADER_LEN = 12;

export function decodeDns(msg: Uint8Array, options?: DecodeDnsOptions): DnsMessage {
  if (msg.length < HEADER_LEN) throw new TruncatedError(HEADER_LEN, msg.length, 0);
  const flags = (msg[2]! << 8) | msg[3]!;
  const qd = (msg[4]! << 8) | msg[5]!;
  const an = (msg[6]! << 8) | msg[7]!;
  const ns = (msg[8]! << 8) | msg[9]!;
  const ar = (msg[10]! << 8) | msg[11]!;
  const out: DnsMessage = {
    id: (msg[0]! << 8) | msg[1]!,
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0x0f,
    rcode: flags & 0x0f,
    authoritative: (flags & 0x0400) !== 0,
    truncated: (flags & 0x0200) !== 0,
    recursionDesired: (flags & 0x0100) !== 0,
    recursionAvailable: (flags & 0x0080) !== 0,
    authenticData: (flags & 0x0020) !== 0,
    checkingDisabled: (flags & 0x0010) !== 0,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
    incomplete: false,
  };
  let p = HEADER_LEN;
  try {
    for (let i = 0; i < qd; i++) {
      const n = readName(msg, p);
      p = n.end;
      if (p + 4 > msg.length) throw new TruncatedError(4, msg.length - p, p);
      const qclass = (msg[p + 2]! << 8) | msg[p + 3]!;
      out.questions.push({
        name: n.name,
        type: (msg[p]! << 8) | msg[p + 1]!,
        class: qclass & 0x7fff,
        unicastResponse: (qclass & 0x8000) !== 0,
      });
      p += 4;
    }
    p = readRecords(msg, p, an, out.answers);
    p = readRecords(msg, p, ns, out.authorities);
    readRecords(msg, p, ar, out.additionals);
  } catch (e) {
    if (options?.allowTruncated && e instanceof TruncatedError) out.incomplete = true;
    else throw e;
  }
  return out;
}

function readRecords(msg: Uint8Array, start: number, count: number, into: DnsRecord[]): number {
  let p = start;
  for (let i = 0; i < count; i++) {
    const n = readName(msg, p);
    p = n.end;
    if (p + 10 > msg.length) throw new TruncatedError(10, msg.length - p, p);
    const type = (msg[p]! << 8) | msg[p + 1]!;
    const rawClass = (msg[p + 2]! << 8) | msg[p + 3]!;
    const ttl = ((msg[p + 4]! << 24) >>> 0) + ((msg[p + 5]! << 16) | (msg[p + 6]! << 8) | msg[p + 7]!);
    const rdlen = (msg[p + 8]! << 8) | msg[p + 9]!;
    const rd = p + 10;
    const end = rd + rdlen;
    if (end > msg.length) throw new TruncatedError(rdlen, msg.length - rd, rd);
    const opt = type === DnsType.OPT;
    let data: DnsRdata;
    try {
      data = decodeRdata(msg, type, rawClass, ttl, rd, end);
    } catch (e) {
      if (!(e instanceof TruncatedError || e instanceof MalformedError)) throw e;
      data = { malformed: true, raw: toHex(msg.subarray(rd, end)) };
    }
    into.push({
      name: n.name,
      type,
      class: opt ? rawClass : rawClass & 0x7fff,
      cacheFlush: !opt && (rawClass & 0x8000) !== 0,
      ttl,
      data,
    });
    p = end;
  }
  return p;
}

function decodeRdata(msg: Uint8Array, type: number, rawClass: number, ttl: number, rd: number, end: number): DnsRdata {
  switch (type) {
    case DnsType.A:
      if (end - rd !== 4) throw new MalformedError(`A rdata of ${end - rd} bytes`);
      return ipv4Text(msg, rd);
    case DnsType.AAAA:
      if (end - rd !== 16) throw new MalformedError(`AAAA rdata of ${end - rd} bytes`);
      return ipv6Text(msg, rd);
    case DnsType.CNAME:
    case DnsType.NS:
    case DnsType.PTR:
    case DnsType.DNAME:
      return readName(msg, rd, end).name;
    case DnsType.MX: {
      need(rd, 2, end);
      return { preference: u16(msg, rd), exchange: readName(msg, rd + 2, end).name };
    }
    case DnsType.SRV: {
      need(rd, 6, end);
      return {
        priority: u16(msg, rd),
        weight: u16(msg, rd + 2),
        port: u16(msg, rd + 4),
        target: readName(msg, rd + 6, end).name,
      };
    }
    case DnsType.SOA: {
      const m = readName(msg, rd, end);
      const r = readName(msg, m.end, end);
      need(r.end, 20, end);
      return {
        mname: m.name,
        rname: r.name,
        serial: u32(msg, r.end),
        refresh: u32(msg, r.end + 4),
        retry: u32(msg, r.end + 8),
        expire: u32(msg, r.end + 12),
        minimum: u32(msg, r.end + 16),
      };
    }
    case DnsType.TXT:
      return characterStrings(msg, rd, end);
    case DnsType.OPT:
      return decodeOpt(msg, rawClass, ttl, rd, end);
    case DnsType.SVCB:
    case DnsType.HTTPS:
      return decodeSvcb(msg, rd, end);
    default:
      return { raw: toHex(msg.subarray(rd, end)) };
  }
}

function need(p: number, n: number, end: number): void {
  if (p + n > end) throw new TruncatedError(n, end - p, p);
}
function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}
function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

function characterStrings(msg: Uint8Array, start: number, end: number): string[] {
  const out: string[] = [];
  let p = start;
  while (p < end) {
    const len = msg[p]!;
    need(p + 1, len, end);
    out.push(bytesText(msg, p + 1, p + 1 + len));
    p += 1 + len;
  }
  return out;
}

function decodeOpt(msg: Uint8Array, udpSize: number, ttl: number, start: number, end: number): DnsOpt {
  const opt: DnsOpt = {
    udpSize,
    extendedRcode: ttl >>> 24,
    version: (ttl >>> 16) & 0xff,
    dnssecOk: (ttl & 0x8000) !== 0,
    options: [],
  };
  let p = start;
  while (p < end) {
    need(p, 4, end);
    const code = u16(msg, p);
    const len = u16(msg, p + 2);
    need(p + 4, len, end);
    const v = p + 4;
    opt.options.push({ code, data: toHex(msg.subarray(v, v + len)) });
    if (code === 8 && opt.clientSubnet === undefined) {
      const subnet = clientSubnet(msg, v, v + len);
      if (subnet !== null) opt.clientSubnet = subnet;
    }
    p = v + len;
  }
  return opt;
}

/** EDNS Client Subnet (RFC 7871): family, source prefix, scope prefix, address truncated to the prefix. */
function clientSubnet(msg: Uint8Array, start: number, end: number): string | null {
  if (end - start < 4) return null;
  const family = u16(msg, start);
  const source = msg[start + 2]!;
  const size = family === 1 ? 4 : family === 2 ? 16 : 0;
  const addrLen = end - start - 4;
  if (size === 0 || source > size * 8 || addrLen !== Math.ceil(source / 8)) return null;
  const full = new Uint8Array(size);
  full.set(msg.subarray(start + 4, end));
  return (family === 1 ? ipv4Text(full, 0) : ipv6Text(full, 0)) + '/' + source;
}

function decodeSvcb(msg: Uint8Array, start: number, end: number): DnsSvcb {
  need(start, 2, end);
  const target = readName(msg, start + 2, end);
  const svcb: DnsSvcb = { priority: u16(msg, start), target: target.name };
  let p = target.end;
  let lastKey = -1;
  while (p < end) {
    need(p, 4, end);
    const key = u16(msg, p);
    const len = u16(msg, p + 2);
    const v = p + 4;
    const ve = v + len;
    need(v, len, end);
    // RFC 9460 §2.2: keys strictly increasing; a repeat would make the values ambiguous.
    if (key <= lastKey) throw new MalformedError(`SvcParamKey ${key} out of order`);
    lastKey = key;
    switch (key) {
      case 0: {
        if (len === 0 || len % 2 !== 0) throw new MalformedError('bad mandatory list');
        const keys: number[] = [];
        for (let q = v; q < ve; q += 2) keys.push(u16(msg, q));
        svcb.mandatory = keys;
        break;
      }
      case 1: {
        const ids = characterStrings(msg, v, ve);
        if (ids.length === 0) throw new MalformedError('empty alpn list');
        svcb.alpn = ids;
        break;
      }
      case 2:
        if (len !== 0) throw new MalformedError('no-default-alpn with a value');
        svcb.noDefaultAlpn = true;
        break;
      case 3:
        if (len !== 2) throw new MalformedError('bad port');
        svcb.port = u16(msg, v);
        break;
      case 4: {
        if (len === 0 || len % 4 !== 0) throw new MalformedError('bad ipv4hint');
        const hints: string[] = [];
        for (let q = v; q < ve; q += 4) hints.push(ipv4Text(msg, q));
        svcb.ipv4hint = hints;
        break;
      }
      case 5:
        svcb.ech = true;
        break;
      case 6: {
        if (len === 0 || len % 16 !== 0) throw new MalformedError('bad ipv6hint');
        const hints: string[] = [];
        for (let q = v; q < ve; q += 16) hints.push(ipv6Text(msg, q));
        svcb.ipv6hint = hints;
        break;
      }
      case 7:
        svcb.dohpath = bytesText(msg, v, ve);
        break;
      case 8:
        svcb.ohttp = true;
        break;
      default:
        if (svcb.other === undefined) svcb.other = [];
        svcb.other.push({ key, value: toHex(msg.subarray(v, ve)) });
    }
    p = ve;
  }
  return svcb;
}

/** Address texts come from the packet decoder's formatter, so DNS answers and headers always agree. */
export const ipv4Text = ipv4At;
export const ipv6Text = ipv6At;

/**
 * Split a reassembled DNS-over-TCP byte stream (RFC 1035 §4.2.2: each message after a 2-byte big-endian
 * length) into messages, as views into `stream` (no copy). An incomplete tail (length prefix or body) is not
 * consumed: keep `stream.subarray(consumed)` and prepend it to the next bytes. Zero-length frames are consumed
 * and yield nothing.
 */
export function dnsTcpMessages(stream: Uint8Array): { messages: Uint8Array[]; consumed: number } {
  const messages: Uint8Array[] = [];
  let p = 0;
  while (p + 2 <= stream.length) {
    const len = (stream[p]! << 8) | stream[p + 1]!;
    if (p + 2 + len > stream.length) break;
    if (len > 0) messages.push(stream.subarray(p + 2, p + 2 + len));
    p += 2 + len;
  }
  return { messages, consumed: p };
}

export interface DnsAddressAnswer {
  /** The name asked for (the question's name, original case), or the record's own name when no question leads to it. */
  name: string;
  address: string;
  /** Smallest TTL along the chain: how long this name → address mapping holds. */
  ttl: number;
  /** CNAME targets followed from `name`, in order; the last one owns the address record. */
  via: string[];
}

/** Longest CNAME chain followed from a question name. */
export const MAX_CNAME_CHAIN = 16;
/** Most mappings returned for one message (a crafted message could otherwise multiply questions by records). */
export const MAX_ADDRESS_ANSWERS = 4096;

/**
 * Addresses the message binds to names, for an IP → name map: for each question name, the A/AAAA records (and
 * HTTPS/SVCB ipv4hint/ipv6hint) reached through the CNAME chain in the answer section (names compared
 * case-insensitively, chains bounded and loop safe); then every other A/AAAA or hint in any section (mDNS
 * announcements and the authority-section records of mDNS probes, glue) under its own name with `via: []`.
 * Each (name, address) once.
 */
export function dnsAddressAnswers(msg: DnsMessage): DnsAddressAnswer[] {
  const out: DnsAddressAnswer[] = [];
  const records =
    msg.authorities.length + msg.additionals.length === 0
      ? msg.answers
      : msg.answers.concat(msg.authorities, msg.additionals);
  if (records.length === 0) return out;
  // Records by lowercased owner name, so each chain step costs only the records it reaches.
  const byOwner = new Map<string, number[]>();
  for (let i = 0; i < records.length; i++) {
    const key = records[i]!.name.toLowerCase();
    const list = byOwner.get(key);
    if (list === undefined) byOwner.set(key, [i]);
    else list.push(i);
  }
  const used = new Uint8Array(records.length);
  const seen = new Set<string>();
  const askedNames = new Set<string>();
  for (const q of msg.questions) {
    const asked = q.name.toLowerCase();
    if (askedNames.has(asked)) continue;
    askedNames.add(asked);
    const via: string[] = [];
    const visited = new Set<string>([asked]);
    let current = asked;
    let ttl = Number.POSITIVE_INFINITY;
    for (;;) {
      let next: DnsRecord | null = null;
      for (const i of byOwner.get(current) ?? []) {
        const r = records[i]!;
        if (r.type === DnsType.CNAME) {
          if (next === null && i < msg.answers.length && typeof r.data === 'string') next = r;
          continue;
        }
        if (isAddressRecord(r)) {
          used[i] = 1;
          addressesOf(r, q.name, Math.min(ttl, r.ttl), via, out, seen);
        }
      }
      if (next === null || via.length >= MAX_CNAME_CHAIN || out.length >= MAX_ADDRESS_ANSWERS) break;
      const target = next.data as string;
      const key = target.toLowerCase();
      if (visited.has(key)) break;
      visited.add(key);
      via.push(target);
      ttl = Math.min(ttl, next.ttl);
      current = key;
    }
  }
  for (let i = 0; i < records.length && out.length < MAX_ADDRESS_ANSWERS; i++) {
    if (used[i] === 1) continue;
    const r = records[i]!;
    if (isAddressRecord(r)) addressesOf(r, r.name, r.ttl, [], out, seen);
  }
  if (out.length > MAX_ADDRESS_ANSWERS) out.length = MAX_ADDRESS_ANSWERS;
  return out;
}

function isAddressRecord(r: DnsRecord): boolean {
  return r.type === DnsType.A || r.type === DnsType.AAAA || r.type === DnsType.HTTPS || r.type === DnsType.SVCB;
}

function addressesOf(
  r: DnsRecord,
  name: string,
  ttl: number,
  via: string[],
  out: DnsAddressAnswer[],
  seen: Set<string>,
): void {
  if ((r.type === DnsType.A || r.type === DnsType.AAAA) && typeof r.data === 'string') {
    push(name, r.data, ttl, via, out, seen);
  } else if ((r.type === DnsType.HTTPS || r.type === DnsType.SVCB) && typeof r.data === 'object') {
    const svcb = r.data as DnsSvcb;
    if (svcb.ipv4hint) for (const a of svcb.ipv4hint) push(name, a, ttl, via, out, seen);
    if (svcb.ipv6hint) for (const a of svcb.ipv6hint) push(name, a, ttl, via, out, seen);
  }
}

function push(name: string, address: string, ttl: number, via: string[], out: DnsAddressAnswer[], seen: Set<string>) {
  const key = name.toLowerCase() + '\u0000' + address;
  if (seen.has(key)) return;
  seen.add(key);
  out.push({ name, address, ttl, via: via.slice() });
}
