/**
 * HTTP/1.x message heads and bodies (RFC 9112), for passive analysis of a reassembled TCP stream.
 *
 * Pure and incremental: the caller passes the bytes of the stream from the start of a message (they may end
 * anywhere) and gets `need-more` until the head is complete. Non-HTTP streams are rejected on their first
 * bytes, so binary protocols are not held back. Tolerant where real clients are sloppy (bare LF line endings,
 * obsolete line folding, odd spacing), strict where framing would be ambiguous (conflicting Content-Length).
 * Never throws.
 */

export type HttpHeader = [name: string, value: string];

export interface HttpRequest {
  method: string;
  /** Request-target as sent (origin-form `/p?q`, absolute-form `http://h/p`, authority-form `h:443`, `*`). */
  target: string;
  /** Path of the target (without the query); '' for authority-form and '*'. */
  path: string;
  /** Raw query string after '?', null when there is none. */
  query: string | null;
  /** `HTTP/1.1`, `HTTP/1.0`; `HTTP/0.9` for a simple request line without a version. */
  version: string;
  /** Header fields in order, names in their original case, values trimmed (folded lines joined by a space). */
  headers: HttpHeader[];
  /** Host from the absolute-form/authority-form target, else the Host header; lowercase, port stripped. */
  host: string | null;
  hostPort: number | null;
  userAgent: string | null;
  contentLength: number | null;
  chunked: boolean;
  /** Content-Encoding, lowercase (e.g. `gzip`), null when absent. */
  contentEncoding: string | null;
  /** Content-Type as sent, null when absent. */
  contentType: string | null;
}

export interface HttpResponse {
  version: string;
  status: number;
  reason: string;
  headers: HttpHeader[];
  contentLength: number | null;
  chunked: boolean;
  contentEncoding: string | null;
  contentType: string | null;
  /** No length and not chunked: the body runs until the connection closes (RFC 9112 §6.3 rule 8). */
  bodyUntilClose: boolean;
}

export interface HttpHeadResult<T> {
  status: 'need-more' | 'ok' | 'not-http' | 'malformed';
  /** Set with `ok`. */
  request?: T;
  /** Bytes of the head including the terminating empty line (set with `ok`). */
  headerLength?: number;
  /** Why the head is malformed (set with `malformed`). */
  reason?: string;
}

export interface HttpResponseHeadResult {
  status: 'need-more' | 'ok' | 'not-http' | 'malformed';
  response?: HttpResponse;
  headerLength?: number;
  reason?: string;
}

/** How a message body is delimited: what extractHttpBody needs from a request or response head. */
export interface HttpBodyFraming {
  contentLength: number | null;
  chunked: boolean;
  bodyUntilClose?: boolean;
}

export interface HttpBodyResult {
  /**
   * `ok`: the whole body was framed (`consumed` = head + body bytes, may exceed `bytes.length` when the body
   * was cut at maxBody); `need-more`: not all of it is there yet (for until-close bodies: always, the caller
   * ends it at FIN); `malformed`: broken chunked framing.
   */
  status: 'need-more' | 'ok' | 'malformed';
  /** The (de-chunked) body, at most maxBody bytes. */
  body: Uint8Array;
  /** Bytes of the stream that the message occupies, from its first byte (with `ok`). */
  consumed: number;
  /** The body was longer than maxBody and was cut. */
  truncated: boolean;
}

/** Head size limit: beyond this without the empty line, the head is malformed. */
export const HTTP_MAX_HEAD = 16384;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const SEMI = 0x3b;

/** Registered methods (RFC 9110, WebDAV, CalDAV, SSDP/GENA): recognised on their first bytes. */
const KNOWN_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'REPORT',
  'SEARCH',
  'MKCALENDAR',
  'MKACTIVITY',
  'CHECKOUT',
  'MERGE',
  'PURGE',
  'NOTIFY',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'M-SEARCH',
].map((m) => Uint8Array.from(m, (c) => c.charCodeAt(0)));

/** Longest method token accepted. */
const MAX_METHOD = 16;

/** tchar (RFC 9110 §5.6.2). */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

function latin1(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/**
 * Check the method prefix. Returns the method length (index of the SP) when known, 0 when more bytes are
 * needed to decide, -1 when this cannot be a known method.
 */
function matchMethod(b: Uint8Array): number {
  const n = b.length;
  let possible = false;
  for (const m of KNOWN_METHODS) {
    const k = Math.min(n, m.length);
    let ok = true;
    for (let i = 0; i < k; i++) {
      if (b[i] !== m[i]) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (n <= m.length) possible = true;
    else if (b[m.length] === SP) return m.length;
  }
  return possible ? 0 : -1;
}

/** Index of the next LF at or after `from` within `limit`, or -1. */
function findLf(b: Uint8Array, from: number, limit: number): number {
  const end = Math.min(limit, b.length);
  for (let i = from; i < end; i++) if (b[i] === LF) return i;
  return -1;
}

/** End of a line's content: strips the CR before the LF at `lf`. */
function lineEnd(b: Uint8Array, start: number, lf: number): number {
  return lf > start && b[lf - 1] === CR ? lf - 1 : lf;
}

interface HeadFields {
  headers: HttpHeader[];
  contentLength: number | null;
  chunked: boolean;
  contentEncoding: string | null;
  contentType: string | null;
  host: string | null;
  userAgent: string | null;
}

type FieldsResult =
  | { ok: true; end: number; fields: HeadFields }
  | { ok: false; status: 'need-more' | 'malformed'; reason?: string };

/** Parse header lines from `pos` up to and including the empty line. */
function parseFields(b: Uint8Array, pos: number, maxHead: number): FieldsResult {
  const headers: HttpHeader[] = [];
  let p = pos;
  while (true) {
    const lf = findLf(b, p, maxHead);
    if (lf < 0) {
      if (b.length >= maxHead) return { ok: false, status: 'malformed', reason: 'head too large' };
      return { ok: false, status: 'need-more' };
    }
    const e = lineEnd(b, p, lf);
    if (e === p) {
      p = lf + 1;
      break;
    }
    const first = b[p]!;
    if (first === SP || first === HT) {
      // obs-fold: continuation of the previous field value.
      const last = headers[headers.length - 1];
      if (last === undefined) return { ok: false, status: 'malformed', reason: 'folded line before any header' };
      const v = trimmed(b, p, e);
      if (v.length > 0) last[1] = last[1].length > 0 ? `${last[1]} ${v}` : v;
      p = lf + 1;
      continue;
    }
    let c = p;
    while (c < e && TCHAR[b[c]!] === 1) c++;
    if (c === p || c >= e || b[c] !== COLON) {
      // Not "token:" (e.g. whitespace before the colon, binary junk): not a header line.
      return { ok: false, status: 'malformed', reason: 'bad header line' };
    }
    headers.push([latin1(b, p, c), trimmed(b, c + 1, e)]);
    p = lf + 1;
  }

  let contentLength: number | null = null;
  let chunked = false;
  let contentEncoding: string | null = null;
  let contentType: string | null = null;
  let host: string | null = null;
  let userAgent: string | null = null;
  for (const [name, value] of headers) {
    switch (name.toLowerCase()) {
      case 'content-length': {
        // A list of identical values is allowed (RFC 9112 §6.3); anything else is a framing error.
        for (const part of value.split(',')) {
          const t = part.trim();
          if (!/^[0-9]{1,15}$/.test(t)) return { ok: false, status: 'malformed', reason: 'bad Content-Length' };
          const v = Number(t);
          if (contentLength !== null && contentLength !== v) {
            return { ok: false, status: 'malformed', reason: 'conflicting Content-Length' };
          }
          contentLength = v;
        }
        break;
      }
      case 'transfer-encoding': {
        const codings = value.toLowerCase().split(',');
        chunked = codings[codings.length - 1]!.trim() === 'chunked';
        break;
      }
      case 'content-encoding':
        contentEncoding = value.toLowerCase();
        break;
      case 'content-type':
        contentType = value;
        break;
      case 'host':
        if (host === null) host = value;
        break;
      case 'user-agent':
        if (userAgent === null) userAgent = value;
        break;
      default:
        break;
    }
  }
  // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3 rule 3).
  if (chunked) contentLength = null;
  return {
    ok: true,
    end: p,
    fields: { headers, contentLength, chunked, contentEncoding, contentType, host, userAgent },
  };
}

function trimmed(b: Uint8Array, from: number, to: number): string {
  let s = from;
  let e = to;
  while (s < e && (b[s] === SP || b[s] === HT)) s++;
  while (e > s && (b[e - 1] === SP || b[e - 1] === HT)) e--;
  return latin1(b, s, e);
}

/** Split `host[:port]` / `[v6]:port`; lowercase; null for an empty or unusable value. */
export function splitHostPort(authority: string): { host: string; port: number | null } | null {
  let a = authority.trim();
  const at = a.lastIndexOf('@');
  if (at >= 0) a = a.slice(at + 1); // userinfo@host
  if (a.length === 0) return null;
  let host: string;
  let portStr = '';
  if (a.startsWith('[')) {
    const close = a.indexOf(']');
    if (close < 0) return null;
    host = a.slice(1, close);
    const rest = a.slice(close + 1);
    if (rest.startsWith(':')) portStr = rest.slice(1);
    else if (rest.length > 0) return null;
  } else {
    const colon = a.indexOf(':');
    if (colon >= 0 && a.indexOf(':', colon + 1) < 0) {
      host = a.slice(0, colon);
      portStr = a.slice(colon + 1);
    } else if (colon >= 0) {
      host = a; // a bare IPv6 address without brackets
    } else {
      host = a;
    }
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0) return null;
  let port: number | null = null;
  if (portStr.length > 0) {
    if (!/^[0-9]{1,5}$/.test(portStr)) return null;
    port = Number(portStr);
    if (port > 65535) return null;
  }
  return { host: host.toLowerCase(), port };
}

/**
 * Parse an HTTP/1.x request head at the start of `bytes`. `not-http` is decided on the first bytes for
 * anything that does not start with a known method (or, for an unknown all-caps token, at the end of the
 * request line when it lacks an `HTTP/` version).
 */
export function parseHttpRequestHead(bytes: Uint8Array, maxHead = HTTP_MAX_HEAD): HttpHeadResult<HttpRequest> {
  const n = bytes.length;
  if (n === 0) return { status: 'need-more' };
  let mlen = matchMethod(bytes);
  let knownMethod = true;
  if (mlen === 0) return { status: 'need-more' };
  if (mlen < 0) {
    // An extension method: an upper-case token, decided by the version at the end of the line.
    knownMethod = false;
    let i = 0;
    while (i < n && i <= MAX_METHOD) {
      const c = bytes[i]!;
      if (c === SP) break;
      if (!((c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f)) return { status: 'not-http' };
      i++;
    }
    if (i >= n) return { status: 'need-more' };
    if (i === 0 || bytes[i] !== SP) return { status: 'not-http' };
    mlen = i;
  }

  // Request line.
  const lf = findLf(bytes, mlen, maxHead);
  if (lf < 0) {
    // Bytes before the line end must still look like a request-target.
    for (let i = mlen + 1; i < Math.min(n, maxHead); i++) {
      const c = bytes[i]!;
      if (c < 0x20 && c !== HT && c !== CR) return { status: knownMethod ? 'malformed' : 'not-http' };
    }
    if (n >= maxHead) return { status: knownMethod ? 'malformed' : 'not-http', reason: 'request line too long' };
    return { status: 'need-more' };
  }
  const e = lineEnd(bytes, 0, lf);
  const method = latin1(bytes, 0, mlen);
  let t = mlen;
  while (t < e && bytes[t] === SP) t++;
  let te = t;
  while (te < e && bytes[te] !== SP && bytes[te] !== HT) te++;
  if (te === t) return { status: knownMethod ? 'malformed' : 'not-http', reason: 'no request target' };
  for (let i = t; i < te; i++) {
    if (bytes[i]! < 0x21 || bytes[i] === 0x7f) return { status: knownMethod ? 'malformed' : 'not-http' };
  }
  const target = latin1(bytes, t, te);
  let v = te;
  while (v < e && (bytes[v] === SP || bytes[v] === HT)) v++;
  let version: string;
  let headEnd: number;
  let fields: HeadFields;
  if (v === e) {
    if (!knownMethod) return { status: 'not-http' };
    // HTTP/0.9 simple request: no version, no headers.
    version = 'HTTP/0.9';
    headEnd = lf + 1;
    fields = {
      headers: [],
      contentLength: null,
      chunked: false,
      contentEncoding: null,
      contentType: null,
      host: null,
      userAgent: null,
    };
  } else {
    let ve = e;
    while (ve > v && (bytes[ve - 1] === SP || bytes[ve - 1] === HT)) ve--;
    version = latin1(bytes, v, ve);
    if (!/^HTTP\/[0-9]\.[0-9]$/.test(version)) {
      return knownMethod ? { status: 'malformed', reason: 'bad HTTP version' } : { status: 'not-http' };
    }
    const f = parseFields(bytes, lf + 1, maxHead);
    if (!f.ok) return f.reason === undefined ? { status: f.status } : { status: f.status, reason: f.reason };
    headEnd = f.end;
    fields = f.fields;
  }

  // Target forms (RFC 9112 §3.2).
  let path = '';
  let query: string | null = null;
  let authority: string | null = null;
  if (target.startsWith('/')) {
    const q = target.indexOf('?');
    path = q >= 0 ? target.slice(0, q) : target;
    query = q >= 0 ? target.slice(q + 1) : null;
  } else if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(target)) {
    const start = target.indexOf('//') + 2;
    let end = start;
    while (end < target.length && target[end] !== '/' && target[end] !== '?' && target[end] !== '#') end++;
    authority = target.slice(start, end);
    const rest = target.slice(end);
    const q = rest.indexOf('?');
    path = (q >= 0 ? rest.slice(0, q) : rest) || '/';
    query = q >= 0 ? rest.slice(q + 1) : null;
  } else if (method === 'CONNECT') {
    authority = target;
  }
  const hp = authority !== null ? splitHostPort(authority) : null;
  const fromHeader = fields.host !== null ? splitHostPort(fields.host) : null;
  const chosen = hp ?? fromHeader;

  return {
    status: 'ok',
    headerLength: headEnd,
    request: {
      method,
      target,
      path,
      query,
      version,
      headers: fields.headers,
      host: chosen?.host ?? null,
      hostPort: chosen?.port ?? null,
      userAgent: fields.userAgent,
      contentLength: fields.contentLength,
      chunked: fields.chunked,
      contentEncoding: fields.contentEncoding,
      contentType: fields.contentType,
    },
  };
}

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** Parse an HTTP/1.x status line and header fields at the start of `bytes`. */
export function parseHttpResponseHead(bytes: Uint8Array, maxHead = HTTP_MAX_HEAD): HttpResponseHeadResult {
  const n = bytes.length;
  for (let i = 0; i < HTTP_SLASH.length; i++) {
    if (i >= n) return { status: 'need-more' };
    if (bytes[i] !== HTTP_SLASH[i]) return { status: 'not-http' };
  }
  const lf = findLf(bytes, 5, maxHead);
  if (lf < 0) {
    if (n >= maxHead) return { status: 'malformed', reason: 'status line too long' };
    return { status: 'need-more' };
  }
  const e = lineEnd(bytes, 0, lf);
  const line = latin1(bytes, 0, e);
  const m = /^(HTTP\/[0-9]\.[0-9])[ \t]+([0-9]{3})(?:[ \t]+(.*))?[ \t]*$/.exec(line);
  if (!m) return { status: 'malformed', reason: 'bad status line' };
  const f = parseFields(bytes, lf + 1, maxHead);
  if (!f.ok) return f.reason === undefined ? { status: f.status } : { status: f.status, reason: f.reason };
  const status = Number(m[2]);
  const noBody = (status >= 100 && status < 200) || status === 204 || status === 304;
  const { headers, contentLength, chunked, contentEncoding, contentType } = f.fields;
  return {
    status: 'ok',
    headerLength: f.end,
    response: {
      version: m[1]!,
      status,
      reason: (m[3] ?? '').trim(),
      headers,
      contentLength: noBody ? 0 : contentLength,
      chunked: noBody ? false : chunked,
      contentEncoding,
      contentType,
      bodyUntilClose: !noBody && !chunked && contentLength === null,
    },
  };
}

/** Longest chunk-size line accepted (size, extensions). */
const MAX_CHUNK_LINE = 4096;
/** Longest trailer section accepted. */
const MAX_TRAILERS = 16384;

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * The body of the message whose head (of `headerLength` bytes) starts `bytes`: Content-Length or chunked
 * framing; a message without either has an empty body (requests) or runs until close (responses with
 * `bodyUntilClose`). At most `maxBody` body bytes are returned; the framing is still followed past that, so
 * `consumed` tells where the next message starts.
 */
export function extractHttpBody(
  bytes: Uint8Array,
  framing: HttpBodyFraming,
  headerLength: number,
  maxBody: number,
): HttpBodyResult {
  const n = bytes.length;
  const limit = Math.max(0, Math.floor(maxBody));
  const start = Math.max(0, Math.min(headerLength, n));
  if (framing.chunked) return dechunk(bytes, start, limit);
  if (framing.contentLength !== null) {
    const len = framing.contentLength;
    const avail = n - start;
    const keep = Math.min(len, limit);
    if (avail >= len || (len > limit && avail >= limit)) {
      // Complete, or enough for maxBody: the rest of the body is for the caller to skip (consumed > n).
      return { status: 'ok', body: bytes.subarray(start, start + keep), consumed: start + len, truncated: len > limit };
    }
    return {
      status: 'need-more',
      body: bytes.subarray(start, start + Math.min(avail, keep)),
      consumed: 0,
      truncated: false,
    };
  }
  if (framing.bodyUntilClose) {
    const avail = n - start;
    return {
      status: 'need-more',
      body: bytes.subarray(start, start + Math.min(avail, limit)),
      consumed: 0,
      truncated: avail > limit,
    };
  }
  return { status: 'ok', body: bytes.subarray(start, start), consumed: start, truncated: false };
}

function dechunk(b: Uint8Array, start: number, limit: number): HttpBodyResult {
  const n = b.length;
  const out = new Uint8Array(Math.min(limit, Math.max(0, n - start)));
  let w = 0;
  let seen = 0; // body bytes present in `b` so far (stored or not)
  let p = start;
  const partial = (): HttpBodyResult => ({
    status: 'need-more',
    body: out.subarray(0, w),
    consumed: 0,
    truncated: seen > w,
  });
  const bad = (): HttpBodyResult => ({
    status: 'malformed',
    body: out.subarray(0, w),
    consumed: 0,
    truncated: seen > w,
  });
  while (true) {
    // chunk-size [; ext] CRLF
    const lf = findLf(b, p, p + MAX_CHUNK_LINE);
    if (lf < 0) return n - p >= MAX_CHUNK_LINE ? bad() : partial();
    let size = 0;
    let i = p;
    while (i < lf) {
      const h = hexVal(b[i]!);
      if (h < 0) break;
      size = size * 16 + h;
      if (size > 2 ** 40) return bad();
      i++;
    }
    if (i === p) return bad();
    // After the size: optional whitespace, chunk extensions, then the CR.
    if (i < lf) {
      const c = b[i]!;
      if (c !== SEMI && c !== SP && c !== HT && c !== CR) return bad();
    }
    p = lf + 1;
    if (size === 0) {
      // Trailer section, ended by an empty line.
      const trailerStart = p;
      while (true) {
        const tl = findLf(b, p, trailerStart + MAX_TRAILERS);
        if (tl < 0) return n - trailerStart >= MAX_TRAILERS ? bad() : partial();
        const empty = lineEnd(b, p, tl) === p;
        p = tl + 1;
        if (empty) return { status: 'ok', body: out.subarray(0, w), consumed: p, truncated: seen > w };
      }
    }
    const avail = Math.min(size, n - p);
    const copy = Math.min(avail, out.length - w);
    if (copy > 0) {
      out.set(b.subarray(p, p + copy), w);
      w += copy;
    }
    seen += avail;
    if (avail < size) return partial();
    p += size;
    // CRLF (or a bare LF) after the data.
    if (p >= n) return partial();
    if (b[p] === CR) {
      if (p + 1 >= n) return partial();
      if (b[p + 1] !== LF) return bad();
      p += 2;
    } else if (b[p] === LF) {
      p += 1;
    } else {
      return bad();
    }
  }
}
