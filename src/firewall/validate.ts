/**
 * Validation of everything that may end up in a firewall command: domain names, MAC addresses, IP
 * addresses, set and chain names. Pure functions. Every value is checked here before it is stored, planned
 * or rendered, and the rendered text is checked again (apply.ts) before it reaches the executor, so a name
 * with shell metacharacters, spaces, newlines, over-long labels or invisible characters never gets near
 * `iptables`/`ipset` (which we never run through a shell anyway).
 *
 * Internationalised names: a domain typed in Unicode (`bücher.de`) is ACCEPTED and converted to its
 * A-label (`xn--bcher-kva.de`, UTS #46 via `url.domainToASCII`), which is what phones put on the wire and
 * what dnsmasq matches. Input holding control, format (zero-width, bidi overrides), separator or other
 * invisible characters is REJECTED rather than silently mapped away, so what the user typed is what gets
 * blocked.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { dottedQuadValue, formatIpv6Groups, hexIpv6Groups } from '../core/ipText.js';
import { getPublicSuffix } from '../core/psl.js';

/** A value refused before it could reach the firewall. The message says what is wrong and how to fix it. */
export class FirewallInputError extends Error {
  override readonly name = 'FirewallInputError';
}

const MAX_NAME = 253;
const MAX_LABEL = 63;
/** Characters we refuse outright in a domain argument: controls, format chars, separators, whitespace. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}\p{Co}\p{Cn}\s]/u;
const LABEL = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/;

function show(v: string): string {
  const s = JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  return s;
}

/**
 * Normalises a domain to block (it also covers its subdomains): lower case, no trailing dot, Unicode →
 * A-labels. Throws {@link FirewallInputError} for anything else: IP literals, wildcards, URLs, whitespace,
 * shell metacharacters, empty or > 63-character labels, > 253 characters, single labels and public
 * suffixes (`com`, `co.uk`), which would block a whole top-level domain.
 */
export function normalizeDomain(input: unknown): string {
  if (typeof input !== 'string') throw new FirewallInputError('a domain must be a string');
  if (input.length === 0) throw new FirewallInputError('empty domain name');
  if (input.length > 1024) throw new FirewallInputError(`domain name too long (${input.length} characters, max 253)`);
  if (INVISIBLE.test(input)) {
    throw new FirewallInputError(
      `domain ${show(input)} contains whitespace, control or invisible characters; type the name only (e.g. ads.example.com)`,
    );
  }
  let s = input.endsWith('.') ? input.slice(0, -1) : input;
  if (s.includes('://') || s.includes('/')) {
    throw new FirewallInputError(
      `domain ${show(input)} looks like a URL; give the host name only (e.g. ads.example.com)`,
    );
  }
  if (s.startsWith('*.')) {
    throw new FirewallInputError(`domain ${show(input)}: no wildcard needed, a domain always covers its subdomains`);
  }
  if (isIP(s) !== 0 || isIP(s.replace(/^\[|\]$/g, '')) !== 0) {
    throw new FirewallInputError(
      `${show(input)} is an IP address; bandguard blocks names (domains, organizations, roles)`,
    );
  }
  // eslint-style control flow: only ASCII letters/digits/-/_/. may remain after IDN conversion.
  if (/[^\x21-\x7e]/.test(s)) {
    const ascii = domainToASCII(s);
    if (ascii === '')
      throw new FirewallInputError(`domain ${show(input)} is not a valid internationalised domain name`);
    s = ascii;
  }
  s = s.toLowerCase();
  if (s.length > MAX_NAME) throw new FirewallInputError(`domain ${show(input)} is longer than 253 characters`);
  const labels = s.split('.');
  for (const label of labels) {
    if (label.length === 0)
      throw new FirewallInputError(`domain ${show(input)} has an empty label (two dots in a row?)`);
    if (label.length > MAX_LABEL) {
      throw new FirewallInputError(
        `domain ${show(input)} has a label of ${label.length} characters (DNS allows at most 63)`,
      );
    }
    if (!LABEL.test(label)) {
      throw new FirewallInputError(
        `domain ${show(input)} has an invalid label ${show(label)} (letters, digits, '-' and '_' only; no '-' at either end)`,
      );
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    throw new FirewallInputError(`domain ${show(input)} ends in a numeric label; it is not a host name`);
  }
  if (labels.length < 2) throw new FirewallInputError(`refusing to block the top-level domain ${show(s)}`);
  const suffix = getPublicSuffix(s, { allowPrivateDomains: false, validateHostname: false });
  if (suffix === s) throw new FirewallInputError(`refusing to block the public suffix ${show(s)} (a whole registry)`);
  return s;
}

/** True when `name` is an already normalised domain (as {@link normalizeDomain} returns), without throwing. */
export function isNormalizedName(name: string): boolean {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME) return false;
  const labels = name.split('.');
  return labels.length >= 1 && labels.every((l) => l.length <= MAX_LABEL && LABEL.test(l));
}

/** True when `name` equals `domain` or is a subdomain of it (label boundary). Both normalised. */
export function isWithin(name: string, domain: string): boolean {
  return (
    name === domain ||
    (name.length > domain.length && name.endsWith(domain) && name.charCodeAt(name.length - domain.length - 1) === 0x2e)
  );
}

const MAC_RE = /^([0-9a-f]{2})([:-]?)([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;

/**
 * Normalises a client MAC address to lower-case `aa:bb:cc:dd:ee:ff` (also accepts `-` or no separator).
 * Refuses group (multicast/broadcast) and all-zero addresses: they never identify one phone.
 */
export function normalizeMac(input: unknown): string {
  if (typeof input !== 'string') throw new FirewallInputError('a MAC address must be a string');
  const m = MAC_RE.exec(input);
  if (!m) throw new FirewallInputError(`${show(input)} is not a MAC address (expected e.g. 64:cc:2e:11:22:33)`);
  const octets = [m[1], m[3], m[4], m[5], m[6], m[7]].map((o) => (o ?? '').toLowerCase());
  const mac = octets.join(':');
  if ((Number.parseInt(octets[0] ?? '0', 16) & 1) === 1) {
    throw new FirewallInputError(`${mac} is a multicast/broadcast address, not a phone's MAC`);
  }
  if (mac === '00:00:00:00:00:00') throw new FirewallInputError('00:00:00:00:00:00 is not a phone MAC');
  return mac;
}

export function isMac(input: string): boolean {
  return MAC_RE.test(input);
}

/**
 * IPv6 texts already checked and canonicalised, input → canonical (a memo of a pure function: the same
 * answer, without parsing again, when a plan is rebuilt from the same stored addresses).
 * Bounded: cleared when it reaches {@link V6_MEMO_MAX} entries.
 */
const v6Memo = new Map<string, string>();
const V6_MEMO_MAX = 131_072;

/**
 * {@link normalizeIp} without the error and the result object, for bulk work (a plan checks 100,000
 * addresses): the canonical text, or null when the input is not an IP address. The family is 6 exactly when
 * the text holds a colon.
 */
export function canonicalIp(input: string): string | null {
  // Fast exact paths for the common shapes; anything else is judged by node's isIP, so both paths accept
  // exactly the same texts (isIP's IPv4 texts are all dotted quads: the property test shows it).
  if (isDottedQuad(input)) return input;
  if (!input.includes(':')) return null;
  const known = v6Memo.get(input);
  if (known !== undefined) return known;
  // Not hex groups only: an embedded IPv4 tail (rare) takes the URL parser's RFC 5952 form.
  const ip =
    canonicalHexIpv6(input) ??
    (isIP(input) === 6 && !input.includes('%')
      ? new URL(`http://[${input.toLowerCase()}]/`).hostname.slice(1, -1)
      : null);
  if (ip !== null) remember(input, ip);
  return ip;
}

/** Canonical text of an IPv4/IPv6 address (IPv6 compressed, lower case). Zone ids and prefixes refused. */
export function normalizeIp(input: unknown): { ip: string; family: 4 | 6 } {
  if (typeof input !== 'string') throw new FirewallInputError('an IP address must be a string');
  const ip = canonicalIp(input);
  if (ip === null) throw new FirewallInputError(`${show(input)} is not an IP address`);
  return { ip, family: ip.includes(':') ? 6 : 4 };
}

function remember(input: string, canonical: string): void {
  if (v6Memo.size >= V6_MEMO_MAX) v6Memo.clear();
  v6Memo.set(input, canonical);
}

/** `a.b.c.d`, each 0-255 in decimal without leading zeros (what isIP accepts as IPv4). */
export function isDottedQuad(s: string): boolean {
  return dottedQuadValue(s) >= 0;
}

/**
 * RFC 5952 text of an IPv6 address written only with hex groups and at most one `::` (no embedded IPv4, no
 * zone), or null when the text is not of that shape or not a valid address: the caller then asks isIP.
 */
export function canonicalHexIpv6(s: string): string | null {
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  return hexIpv6Groups(s, groups) ? formatIpv6Groups(groups) : null;
}

/** A client argument: a MAC (normalised) or an IP address (normalised), told apart. */
export function parseClient(input: unknown): { mac: string } | { ip: string } {
  if (typeof input !== 'string') throw new FirewallInputError('a client must be a MAC or an IP address');
  if (isIP(input) !== 0) return { ip: normalizeIp(input).ip };
  if (MAC_RE.test(input)) return { mac: normalizeMac(input) };
  throw new FirewallInputError(`client ${show(input)} is neither a MAC address (64:cc:2e:11:22:33) nor an IP address`);
}

/** Names bandguard gives to its own ipsets and chains: checked again before anything is rendered. */
export const SET_NAME = /^bandguard-[a-z0-9-]{1,19}(\.n)?$/;
export const CHAIN_NAME = /^BANDGUARD-[A-Z0-9-]{1,18}$/;
