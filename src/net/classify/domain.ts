// Host names: normalisation and registrable domains (eTLD+1) from the Public Suffix List (via `tldts`).
//
// Policy on the PSL's private section (appspot.com, cloudfront.net, s3.amazonaws.com, herokuapp.com, ...):
// by default private suffixes COUNT, so `myapp.appspot.com` has the registrable domain `myapp.appspot.com`
// (the tenant who runs the service), not `appspot.com` (the hosting company). That is the unit a user wants
// to see and block: blocking `appspot.com` would block every App Engine app. Pass `{ privateSuffixes: false }`
// for the ICANN-only view (`myapp.appspot.com` → `appspot.com`). Who hosts a name is answered separately by
// the parties knowledge base (longest-suffix match), so `d1.cloudfront.net` is still "Amazon, cdn".
//
// Pure functions: no I/O; they never throw on any string input.

import { isIP } from 'node:net';
import { getDomain, getPublicSuffix } from '../../core/psl.js';

export interface DomainOptions {
  /** Honour the PSL private section (default true). */
  privateSuffixes?: boolean;
}

const MAX_NAME = 253;
const MAX_LABEL = 63;

/**
 * Normalises a DNS/SNI/Host name: trims, lower-cases, drops one trailing dot, converts Unicode (IDN) to
 * A-labels. Returns null for anything that is not a syntactically valid host name (IP literals included:
 * use {@link isIpLiteral} for those). Labels may hold letters, digits, '-' and '_' (service labels such as
 * `_dns.resolver.arpa` occur in DNS), 1–63 characters each, 253 characters in all.
 */
export function normalizeHostname(name: string): string | null {
  if (typeof name !== 'string') return null;
  let s = name.trim();
  if (s.length === 0 || s.length > MAX_NAME + 1) return null;
  if (s.charCodeAt(s.length - 1) === 0x2e) s = s.slice(0, -1);
  if (s.length === 0) return null;
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7e) {
      ascii = false;
      break;
    }
  }
  if (!ascii) {
    const converted = toAsciiDomain(s);
    if (converted === null) return null;
    s = converted;
  }
  s = s.toLowerCase();
  return isValidAsciiHostname(s) ? s : null;
}

function toAsciiDomain(s: string): string | null {
  try {
    const u = new URL(`http://${s}/`);
    return u.hostname.length > 0 && !u.hostname.startsWith('[') ? u.hostname : null;
  } catch {
    return null;
  }
}

/** True for a lower-case ASCII host name with valid labels (see {@link normalizeHostname}); no IP literals. */
export function isValidAsciiHostname(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > MAX_NAME) return false;
  let labelStart = 0;
  let allDigitsLast = true;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      const len = i - labelStart;
      if (len === 0 || len > MAX_LABEL) return false;
      if (s.charCodeAt(labelStart) === 0x2d || s.charCodeAt(i - 1) === 0x2d) return false;
      if (i < n) allDigitsLast = true;
      labelStart = i + 1;
      continue;
    }
    const digit = c >= 0x30 && c <= 0x39;
    if (!digit) allDigitsLast = false;
    if (!(digit || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f)) return false;
  }
  // A name whose last label is all digits is an IPv4 literal (or garbage), never a host name.
  return !allDigitsLast;
}

/** True when `name` is an IPv4 or IPv6 address literal (brackets and an IPv6 zone id are accepted). */
export function isIpLiteral(name: string): boolean {
  if (typeof name !== 'string') return false;
  let s = name.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone > 0 && s.includes(':')) s = s.slice(0, zone);
  return isIP(s) !== 0;
}

/**
 * The registrable domain (eTLD+1) of a host name: `api.example.co.uk` → `example.co.uk`,
 * `a.b.com.cn` → `b.com.cn`. Null for IP literals, invalid names, and names that are themselves a public
 * suffix (`co.uk`, `com`). Private PSL suffixes count unless `{ privateSuffixes: false }` (see file header).
 */
export function registrableDomain(name: string, options?: DomainOptions): string | null {
  const host = normalizeHostname(name);
  if (host === null) return null;
  return getDomain(host, {
    allowPrivateDomains: options?.privateSuffixes ?? true,
    extractHostname: false,
    validateHostname: false,
  });
}

/** The public suffix of a host name (`co.uk`, `com.cn`, or with private suffixes `appspot.com`); null if invalid. */
export function publicSuffix(name: string, options?: DomainOptions): string | null {
  const host = normalizeHostname(name);
  if (host === null) return null;
  return getPublicSuffix(host, {
    allowPrivateDomains: options?.privateSuffixes ?? true,
    extractHostname: false,
    validateHostname: false,
  });
}
