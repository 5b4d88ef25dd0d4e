/**
 * DHCPv4 (RFC 2131/2132 over the BOOTP header of RFC 951) and DHCPv6 (RFC 8415) message decoders, for client
 * identification: host name, vendor class, parameter-request fingerprint, client id, FQDN, addresses.
 *
 * Pure and bounds-checked. decodeDhcp throws TruncatedError when the fixed BOOTP header and magic cookie are cut,
 * MalformedError when the cookie is not DHCP's; a bad option (length running past the end, missing end option
 * in an overloaded field) stops option parsing there with `malformed: true`, keeping the options before it, as a
 * fuzzed client's host name is still worth reporting.
 */
import { MalformedError, TruncatedError, toHex } from '../../sdk/byteReader.js';
import { ipv4Text, ipv6Text } from './dns.js';
import { bytesText, readName } from './dnsName.js';
import { macAt } from './link.js';

/** DHCP message type (option 53) names, RFC 2132 §9.6, RFC 3203, RFC 4388, RFC 6926, RFC 7724. */
export const DHCP_MESSAGE_TYPES: Readonly<Record<number, string>> = {
  1: 'DISCOVER',
  2: 'OFFER',
  3: 'REQUEST',
  4: 'DECLINE',
  5: 'ACK',
  6: 'NAK',
  7: 'RELEASE',
  8: 'INFORM',
  9: 'FORCERENEW',
  10: 'LEASEQUERY',
  11: 'LEASEUNASSIGNED',
  12: 'LEASEUNKNOWN',
  13: 'LEASEACTIVE',
  14: 'BULKLEASEQUERY',
  15: 'LEASEQUERYDONE',
  16: 'ACTIVELEASEQUERY',
  17: 'LEASEQUERYSTATUS',
  18: 'TLS',
};

export interface DhcpMessage {
  /** 1 = BOOTREQUEST (client), 2 = BOOTREPLY (server). */
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  broadcast: boolean;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The hlen (at most 16) bytes of chaddr in hex. */
  chaddr: string;
  /** 'aa:bb:cc:dd:ee:ff' when htype is Ethernet (1) and hlen 6, else null. */
  clientMac: string | null;
  /** sname / file fields as text (up to the first NUL), null when empty or carrying options (overload). */
  serverName: string | null;
  bootFile: string | null;
  /** Option 53, null when absent. */
  messageType: number | null;
  /** 'DISCOVER', 'REQUEST', 'ACK'…, 'UNKNOWN(n)' for other values, null when absent. */
  messageTypeName: string | null;
  /** Option 12 (trailing NULs dropped). */
  hostname: string | null;
  /** Option 60, e.g. 'android-dhcp-9', 'MSFT 5.0'. */
  vendorClass: string | null;
  /** Option 50. */
  requestedIp: string | null;
  /** Option 54. */
  serverId: string | null;
  /** Option 55 codes in order. */
  paramRequestList: number[] | null;
  /** Option 55 as '1,3,6,15' (the usual DHCP fingerprint), null when absent. */
  fingerprint: string | null;
  /** Option 61 in hex (type byte included). */
  clientId: string | null;
  /** Option 81 (RFC 4702): flags and the name (wire or, with E clear, deprecated ASCII encoding). */
  clientFqdn: { flags: number; name: string } | null;
  /** Option 51, seconds. */
  leaseTime: number | null;
  /** Option 3. */
  routers: string[];
  /** Option 6. */
  dnsServers: string[];
  /** Option 15. */
  domainName: string | null;
  /** Every option code seen, in wire order (pad and end excluded; a split option counted at each part). */
  optionCodes: number[];
  /** An option was cut or overran its field; the options before it are kept. */
  malformed: boolean;
}

const BOOTP_LEN = 236;
const COOKIE = 0x63825363;

export function decodeDhcp(msg: Uint8Array): DhcpMessage {
  if (msg.length < BOOTP_LEN + 4) throw new TruncatedError(BOOTP_LEN + 4, msg.length, 0);
  const cookie = (((msg[236]! << 24) >>> 0) + ((msg[237]! << 16) | (msg[238]! << 8) | msg[239]!)) >>> 0;
  if (cookie !== COOKIE) throw new MalformedError(`not a DHCP magic cookie: 0x${cookie.toString(16)}`);
  const htype = msg[1]!;
  const hlen = msg[2]!;
  const chLen = Math.min(hlen, 16);
  const out: DhcpMessage = {
    op: msg[0]!,
    htype,
    hlen,
    hops: msg[3]!,
    xid: ((msg[4]! << 24) >>> 0) + ((msg[5]! << 16) | (msg[6]! << 8) | msg[7]!),
    secs: (msg[8]! << 8) | msg[9]!,
    broadcast: (msg[10]! & 0x80) !== 0,
    ciaddr: ipv4Text(msg, 12),
    yiaddr: ipv4Text(msg, 16),
    siaddr: ipv4Text(msg, 20),
    giaddr: ipv4Text(msg, 24),
    chaddr: toHex(msg.subarray(28, 28 + chLen)),
    clientMac: htype === 1 && hlen === 6 ? macAt(msg, 28) : null,
    serverName: null,
    bootFile: null,
    messageType: null,
    messageTypeName: null,
    hostname: null,
    vendorClass: null,
    requestedIp: null,
    serverId: null,
    paramRequestList: null,
    fingerprint: null,
    clientId: null,
    clientFqdn: null,
    leaseTime: null,
    routers: [],
    dnsServers: [],
    domainName: null,
    optionCodes: [],
    malformed: false,
  };

  // Values per option code; a code seen again is concatenated (RFC 3396 long options).
  const values = new Map<number, Uint8Array>();
  let overload = 0;
  const main = scanOptions(msg, 240, msg.length, values, out);
  if (main.malformed) out.malformed = true;
  const ov = values.get(52);
  if (ov !== undefined && ov.length === 1) overload = ov[0]!;
  // RFC 2131 §4.1: with option overload, 'file' then 'sname' carry more options, each up to its own end option.
  if (!out.malformed && (overload & 1) !== 0) {
    if (scanOptions(msg, 108, 236, values, out).malformed) out.malformed = true;
  }
  if (!out.malformed && (overload & 2) !== 0) {
    if (scanOptions(msg, 44, 108, values, out).malformed) out.malformed = true;
  }
  if ((overload & 2) === 0) out.serverName = zeroTerminated(msg, 44, 108);
  if ((overload & 1) === 0) out.bootFile = zeroTerminated(msg, 108, 236);
  applyOptions(values, out);
  return out;
}

/**
 * Walk options in msg[start..end) into `values`. Stops at the end option (255). Returns malformed when an option
 * header or value runs past `end`. In the main options area the end option may be missing (many stacks pad to
 * the end); in an overloaded field it may be too.
 */
function scanOptions(
  msg: Uint8Array,
  start: number,
  end: number,
  values: Map<number, Uint8Array>,
  out: DhcpMessage,
): { malformed: boolean } {
  let p = start;
  while (p < end) {
    const code = msg[p]!;
    if (code === 0) {
      p++;
      continue;
    }
    if (code === 255) return OK;
    if (p + 1 >= end) return BAD;
    const len = msg[p + 1]!;
    if (p + 2 + len > end) return BAD;
    out.optionCodes.push(code);
    const v = msg.subarray(p + 2, p + 2 + len);
    const prev = values.get(code);
    if (prev === undefined) values.set(code, v);
    else {
      const joined = new Uint8Array(prev.length + v.length);
      joined.set(prev);
      joined.set(v, prev.length);
      values.set(code, joined);
    }
    p += 2 + len;
  }
  return OK;
}
const OK = { malformed: false } as const;
const BAD = { malformed: true } as const;

function applyOptions(values: Map<number, Uint8Array>, out: DhcpMessage): void {
  for (const [code, v] of values) {
    switch (code) {
      case 53:
        if (v.length === 1) {
          out.messageType = v[0]!;
          out.messageTypeName = DHCP_MESSAGE_TYPES[v[0]!] ?? `UNKNOWN(${v[0]!})`;
        } else out.malformed = true;
        break;
      case 12:
        out.hostname = optionText(v);
        break;
      case 60:
        out.vendorClass = optionText(v);
        break;
      case 15:
        out.domainName = optionText(v);
        break;
      case 50:
        if (v.length === 4) out.requestedIp = ipv4Text(v, 0);
        else out.malformed = true;
        break;
      case 54:
        if (v.length === 4) out.serverId = ipv4Text(v, 0);
        else out.malformed = true;
        break;
      case 51:
        if (v.length === 4) out.leaseTime = ((v[0]! << 24) >>> 0) + ((v[1]! << 16) | (v[2]! << 8) | v[3]!);
        else out.malformed = true;
        break;
      case 55: {
        const list: number[] = [];
        for (let i = 0; i < v.length; i++) list.push(v[i]!);
        out.paramRequestList = list;
        out.fingerprint = list.join(',');
        break;
      }
      case 61:
        out.clientId = toHex(v);
        break;
      case 3:
        out.routers = addressList(v, out);
        break;
      case 6:
        out.dnsServers = addressList(v, out);
        break;
      case 81:
        out.clientFqdn = clientFqdn(v);
        if (out.clientFqdn === null) out.malformed = true;
        break;
    }
  }
}

function addressList(v: Uint8Array, out: DhcpMessage): string[] {
  if (v.length % 4 !== 0) out.malformed = true;
  const list: string[] = [];
  for (let i = 0; i + 4 <= v.length; i += 4) list.push(ipv4Text(v, i));
  return list;
}

/** RFC 4702: flags, two deprecated RCODE bytes, then the name: DNS wire format when E (0x04) is set, else ASCII. */
function clientFqdn(v: Uint8Array): { flags: number; name: string } | null {
  if (v.length < 3) return null;
  const flags = v[0]!;
  if ((flags & 0x04) === 0) return { flags, name: optionText(v.subarray(3)) ?? '' };
  if (v.length === 3) return { flags, name: '' };
  try {
    return { flags, name: partialName(v, 3) };
  } catch (e) {
    if (e instanceof TruncatedError || e instanceof MalformedError) return null;
    throw e;
  }
}

/**
 * A wire-format name without compression; RFC 4702 §2.3.1 allows a partial name (no terminating root label),
 * which clients use to send just their host label.
 */
function partialName(v: Uint8Array, start: number): string {
  let p = start;
  while (p < v.length && v[p] !== 0) {
    if ((v[p]! & 0xc0) !== 0) break;
    p += 1 + v[p]!;
  }
  if (p === v.length) {
    // No root label: read the labels as if terminated.
    const copy = new Uint8Array(v.length - start + 1);
    copy.set(v.subarray(start));
    return readName(copy, 0, copy.length, false).name;
  }
  return readName(v, start, v.length, false).name;
}

/** Option text: UTF-8 or Latin-1 (see bytesText), trailing NULs dropped; null when empty. */
function optionText(v: Uint8Array): string | null {
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  return end === 0 ? null : bytesText(v, 0, end);
}

function zeroTerminated(msg: Uint8Array, start: number, end: number): string | null {
  let e = start;
  while (e < end && msg[e] !== 0) e++;
  return e === start ? null : bytesText(msg, start, e);
}

// ---------------------------------------------------------------------------------------------- DHCPv6

/** DHCPv6 message type names (RFC 8415 §7.3, RFC 5007, RFC 5460). */
export const DHCP6_MESSAGE_TYPES: Readonly<Record<number, string>> = {
  1: 'SOLICIT',
  2: 'ADVERTISE',
  3: 'REQUEST',
  4: 'CONFIRM',
  5: 'RENEW',
  6: 'REBIND',
  7: 'REPLY',
  8: 'RELEASE',
  9: 'DECLINE',
  10: 'RECONFIGURE',
  11: 'INFORMATION-REQUEST',
  12: 'RELAY-FORW',
  13: 'RELAY-REPL',
  14: 'LEASEQUERY',
  15: 'LEASEQUERY-REPLY',
  16: 'LEASEQUERY-DONE',
  17: 'LEASEQUERY-DATA',
};

export interface Dhcp6Message {
  messageType: number;
  messageTypeName: string;
  /** Transaction id (24 bits); for relay messages the innermost client message's. */
  transactionId: number;
  /** Relay messages peeled off (RELAY-FORW/REPL), outermost first: link and peer addresses. */
  relays: { linkAddress: string; peerAddress: string }[];
  /** Option 1 (DUID) in hex. */
  clientId: string | null;
  /** Option 2 (DUID) in hex. */
  serverId: string | null;
  /** Client MAC from a DUID-LLT/DUID-LL with Ethernet hardware type, else null. */
  clientMac: string | null;
  /** Option 39 name (RFC 4704): wire-format, possibly partial. */
  clientFqdn: { flags: number; name: string } | null;
  /** Option 16 (RFC 8415 §21.16): enterprise number and its class strings. */
  vendorClass: { enterprise: number; data: string[] } | null;
  /** Option 15 user class strings. */
  userClass: string[] | null;
  /** Option 6 codes, and as '23,24,39' (the DHCPv6 fingerprint). */
  optionRequest: number[] | null;
  fingerprint: string | null;
  /** Addresses in IA_NA/IA_TA IAADDR options (5), and delegated prefixes (IAPREFIX 26) as 'prefix/len'. */
  addresses: string[];
  prefixes: string[];
  /** Option 23. */
  dnsServers: string[];
  /** Option 24 (domain search list). */
  domainSearch: string[];
  optionCodes: number[];
  malformed: boolean;
}

const MAX_RELAY_DEPTH = 32; // RFC 8415 HOP_COUNT_LIMIT

/**
 * Decode a DHCPv6 message (UDP 546/547). Throws TruncatedError when the header is cut; an option running past
 * its container sets `malformed` and stops that container's options.
 */
export function decodeDhcp6(msg: Uint8Array): Dhcp6Message {
  const out: Dhcp6Message = {
    messageType: 0,
    messageTypeName: '',
    transactionId: 0,
    relays: [],
    clientId: null,
    serverId: null,
    clientMac: null,
    clientFqdn: null,
    vendorClass: null,
    userClass: null,
    optionRequest: null,
    fingerprint: null,
    addresses: [],
    prefixes: [],
    dnsServers: [],
    domainSearch: [],
    optionCodes: [],
    malformed: false,
  };
  let m = msg;
  for (let depth = 0; ; depth++) {
    if (m.length < 1) throw new TruncatedError(1, 0, 0);
    const type = m[0]!;
    if (type === 12 || type === 13) {
      if (m.length < 34) throw new TruncatedError(34, m.length, 0);
      out.relays.push({ linkAddress: ipv6Text(m, 2), peerAddress: ipv6Text(m, 18) });
      const inner = findOption(m, 34, 9);
      if (inner === null) throw new MalformedError('relay message without a relay-message option');
      if (depth + 1 >= MAX_RELAY_DEPTH) throw new MalformedError('too many nested relay messages');
      m = inner;
      continue;
    }
    if (m.length < 4) throw new TruncatedError(4, m.length, 0);
    out.messageType = type;
    out.messageTypeName = DHCP6_MESSAGE_TYPES[type] ?? `UNKNOWN(${type})`;
    out.transactionId = (m[1]! << 16) | (m[2]! << 8) | m[3]!;
    options6(m, 4, m.length, out, 0);
    return out;
  }
}

/** The value of the first `code` option from `start` to the end of m, or null; a cut option throws. */
function findOption(m: Uint8Array, start: number, code: number): Uint8Array | null {
  let p = start;
  while (p < m.length) {
    if (p + 4 > m.length) throw new TruncatedError(4, m.length - p, p);
    const c = (m[p]! << 8) | m[p + 1]!;
    const len = (m[p + 2]! << 8) | m[p + 3]!;
    if (p + 4 + len > m.length) throw new TruncatedError(len, m.length - p - 4, p + 4);
    if (c === code) return m.subarray(p + 4, p + 4 + len);
    p += 4 + len;
  }
  return null;
}

function options6(m: Uint8Array, start: number, end: number, out: Dhcp6Message, depth: number): void {
  let p = start;
  while (p < end) {
    if (p + 4 > end) {
      out.malformed = true;
      return;
    }
    const code = (m[p]! << 8) | m[p + 1]!;
    const len = (m[p + 2]! << 8) | m[p + 3]!;
    const v = p + 4;
    const ve = v + len;
    if (ve > end) {
      out.malformed = true;
      return;
    }
    out.optionCodes.push(code);
    switch (code) {
      case 1:
        out.clientId = toHex(m.subarray(v, ve));
        out.clientMac = duidMac(m, v, ve);
        break;
      case 2:
        out.serverId = toHex(m.subarray(v, ve));
        break;
      case 6: {
        const list: number[] = [];
        for (let q = v; q + 2 <= ve; q += 2) list.push((m[q]! << 8) | m[q + 1]!);
        if (len % 2 !== 0) out.malformed = true;
        out.optionRequest = list;
        out.fingerprint = list.join(',');
        break;
      }
      case 15:
        out.userClass = lengthPrefixed16(m, v, ve, out);
        break;
      case 16:
        if (len < 4) out.malformed = true;
        else
          out.vendorClass = {
            enterprise: ((m[v]! << 24) >>> 0) + ((m[v + 1]! << 16) | (m[v + 2]! << 8) | m[v + 3]!),
            data: lengthPrefixed16(m, v + 4, ve, out),
          };
        break;
      case 23:
        if (len % 16 !== 0) out.malformed = true;
        for (let q = v; q + 16 <= ve; q += 16) out.dnsServers.push(ipv6Text(m, q));
        break;
      case 24:
        domainList(m, v, ve, out);
        break;
      case 39:
        if (len < 1) out.malformed = true;
        else {
          try {
            out.clientFqdn = { flags: m[v]!, name: len === 1 ? '' : partialName(m.subarray(0, ve), v + 1) };
          } catch (e) {
            if (!(e instanceof TruncatedError || e instanceof MalformedError)) throw e;
            out.malformed = true;
          }
        }
        break;
      case 3: // IA_NA: IAID, T1, T2, options
      case 25: // IA_PD: same layout
        if (len < 12) out.malformed = true;
        else if (depth < 4) options6(m, v + 12, ve, out, depth + 1);
        break;
      case 4: // IA_TA: IAID, options
        if (len < 4) out.malformed = true;
        else if (depth < 4) options6(m, v + 4, ve, out, depth + 1);
        break;
      case 5: // IAADDR: address, preferred, valid, options
        if (len < 24) out.malformed = true;
        else out.addresses.push(ipv6Text(m, v));
        break;
      case 26: // IAPREFIX: preferred, valid, prefix length, prefix, options
        if (len < 25) out.malformed = true;
        else out.prefixes.push(ipv6Text(m, v + 9) + '/' + m[v + 8]!);
        break;
    }
    p = ve;
  }
}

function lengthPrefixed16(m: Uint8Array, start: number, end: number, out: Dhcp6Message): string[] {
  const list: string[] = [];
  let p = start;
  while (p + 2 <= end) {
    const len = (m[p]! << 8) | m[p + 1]!;
    if (p + 2 + len > end) {
      out.malformed = true;
      return list;
    }
    list.push(bytesText(m, p + 2, p + 2 + len));
    p += 2 + len;
  }
  if (p !== end) out.malformed = true;
  return list;
}

function domainList(m: Uint8Array, start: number, end: number, out: Dhcp6Message): void {
  const view = m.subarray(0, end);
  let p = start;
  while (p < end) {
    try {
      const n = readName(view, p, end, false);
      out.domainSearch.push(n.name);
      p = n.end;
    } catch (e) {
      if (!(e instanceof TruncatedError || e instanceof MalformedError)) throw e;
      out.malformed = true;
      return;
    }
  }
}

/** MAC address inside a DUID-LLT (type 1) or DUID-LL (type 3) with hardware type 1 (Ethernet), else null. */
function duidMac(m: Uint8Array, start: number, end: number): string | null {
  if (end - start < 4) return null;
  const type = (m[start]! << 8) | m[start + 1]!;
  const hw = (m[start + 2]! << 8) | m[start + 3]!;
  if (hw !== 1) return null;
  if (type === 1 && end - start === 14) return macAt(m, start + 8);
  if (type === 3 && end - start === 10) return macAt(m, start + 4);
  return null;
}
