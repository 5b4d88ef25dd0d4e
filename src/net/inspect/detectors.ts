/**
 * Leak detectors: what personal data a clear-text request or payload carries. They run on decoded text
 * (decoders.ts) and look at:
 * - key/value pairs (query strings, form bodies, JSON, simple XML, cookies, X-* headers): the key names the
 *   data (pii-fields.json, medical.json), the value must look like it (an e-mail has an '@', coordinates are
 *   numbers in range, a name starts with a known first name, a measurement has a digit);
 * - values and free text: patterns for e-mail, MAC, phone model and OS version, coordinates, JWTs, blood
 *   pressure and measurements with units, and unambiguous medical terms in any of the dictionary's languages;
 * - the request path (a segment naming a measurement, a user id after /users/), Authorization, Cookie and
 *   User-Agent headers.
 *
 * Pure and bounded: texts are cut at 256 KiB, JSON walks at 4,096 values, findings at 64 per scan.
 */
import { base64Runs, decodeBody, type Encoding, parsePairs, percentDecode, utf8 } from './decoders.js';
import { type Dictionaries, healthTextMatches, type LeakKind, normalizeKey } from './dictionaries.js';
import { classifyPayload, type PayloadVerdict } from './payloadClass.js';

export interface Finding {
  kind: LeakKind;
  term: string;
  evidence: string;
  /** Decoding chain, e.g. 'plain', 'zlib', 'base64+gzip'. */
  encoding: string;
}

export interface HttpRequestLike {
  method: string;
  target: string;
  headers: [string, string][];
  body: Uint8Array;
  contentEncoding: string | null;
  contentType: string | null;
}

const MAX_TEXT = 256 * 1024;
const MAX_VALUES = 4096;
const MAX_FINDINGS = 64;
const EVIDENCE_MAX = 96;

const PLACEHOLDER = new Set(['', 'null', 'undefined', 'none', 'nil', 'unknown', 'n/a', 'na', '-', 'false', 'true']);

const RE_EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.([A-Za-z]{2,24})\b/g;
const NOT_TLD = new Set(['png', 'jpg', 'jpeg', 'gif', 'webp', 'svg', 'js', 'css', 'json', 'html']);
const RE_MAC = /(?<![0-9A-Fa-f:-])(?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:-])/g;
const RE_OS =
  /\b(Android|iOS|iPadOS|iPhone OS|HarmonyOS|OpenHarmony|MIUI|EMUI|MagicOS|ColorOS|OriginOS|One ?UI|watchOS|Wear ?OS)[ /_]?v?(\d{1,2}(?:[._]\d{1,3}){0,2})\b/gi;
const RE_MODEL = new RegExp(
  [
    String.raw`\bRedmi(?: Note)? ?\d{1,2}[A-Za-z]?(?: Pro\+?| 5G| S)?`,
    String.raw`\bPOCO [A-Z]\d{1,2}(?: Pro)?`,
    String.raw`\bMi \d{1,2}[A-Za-z]?(?: Pro| Ultra| Lite)?`,
    String.raw`\bSM-[A-Z]\d{3,4}[A-Z0-9]{0,3}`,
    String.raw`\bGalaxy (?:[SAZMN]\d{1,2}|Note ?\d{1,2}|Watch ?\d)[A-Za-z+]*(?: Ultra| FE)?`,
    String.raw`\bPixel \d{1,2}[a-z]?(?: Pro| XL)?`,
    String.raw`\biPhone\d{1,2},\d`,
    String.raw`\biPad\d{1,2},\d{1,2}`,
    String.raw`\biPhone ?(?:1[0-9]|[6-9]|SE|X[SR]?)(?: Pro Max| Pro| Plus| mini| Max)?`,
    String.raw`\bHUAWEI [A-Z][A-Za-z0-9]{1,10}(?:[- ][A-Z0-9]{2,6})?`,
    String.raw`\bHONOR [A-Z0-9][A-Za-z0-9]{1,10}`,
    String.raw`\bONEPLUS [A-Z]\d{4}`,
    String.raw`\b(?:CPH|RMX)\d{4}`,
    String.raw`\bvivo [XYVS]\d{1,3}[A-Za-z]?`,
    String.raw`\b[A-Z]{3}-(?:AL|TL|L|LX|NX|AN)\d{2}[A-Z]?`,
  ].join('|'),
  'g',
);
const RE_UA_MODEL = /\(Linux;(?: U;)? Android [\d.]+;(?: [a-z]{2}[-_][a-zA-Z]{2};)? ([^;)]{2,40}?) Build\//;
const RE_COORDS = /(?<![\d.])(-?\d{1,2}\.\d{4,8})\s*,\s*(-?\d{1,3}\.\d{4,8})(?![\d.])/g;
const RE_JWT = /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;
const RE_BP = /(?<![\d/.])(\d{2,3})\s?\/\s?(\d{2,3})\s?mm ?Hg\b/gi;
const RE_UNIT = /(?<![\w.])(\d{1,3}(?:\.\d{1,2})?)\s?(bpm|mm ?Hg|mmol\/L|mg\/dL|次\/分|毫米汞柱)(?![\w/])/gi;
const RE_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;
const RE_IPV6 = /^[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}$/i;
const USER_SEGMENT = new Set(['user', 'users', 'uid', 'member', 'members', 'account', 'accounts', 'profile', 'u']);
const HEADER_PAIRS = /^x-/i;

/** 'abcdefgh' → 'ab…gh': secrets are shown with their middle masked. */
export function maskSecret(v: string): string {
  if (v.length <= 6) return '*'.repeat(v.length);
  const k = v.length <= 12 ? 2 : 4;
  return `${v.slice(0, k)}…${v.slice(-k)}`;
}

function clip(s: string): string {
  const one = s.replace(/[\r\n\t]+/g, ' ');
  return one.length <= EVIDENCE_MAX ? one : `${one.slice(0, EVIDENCE_MAX - 1)}…`;
}

function luhn(d: string): boolean {
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let x = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) {
      x *= 2;
      if (x > 9) x -= 9;
    }
    sum += x;
  }
  return sum % 10 === 0;
}

function isCoord(lat: number, lng: number): boolean {
  return Math.abs(lat) <= 90 && Math.abs(lng) <= 180 && !(lat === 0 && lng === 0);
}

class Collector {
  readonly findings: Finding[] = [];
  private readonly seen = new Set<string>();
  constructor(readonly encoding: string) {}
  add(kind: LeakKind, term: string, evidence: string, encoding = this.encoding): void {
    const key = `${kind}\u0000${term}\u0000${encoding}`;
    if (this.seen.has(key) || this.findings.length >= MAX_FINDINGS) return;
    this.seen.add(key);
    this.findings.push({ kind, term, evidence: clip(evidence), encoding });
  }
}

export class LeakDetector {
  constructor(private readonly dict: Dictionaries) {}

  /** Everything a clear-text HTTP request reveals: target (path and query), headers and body. */
  scanHttpRequest(req: HttpRequestLike): Finding[] {
    const c = new Collector('plain');
    const q = req.target.indexOf('?');
    let path = q < 0 ? req.target : req.target.slice(0, q);
    const query = q < 0 ? '' : req.target.slice(q + 1);
    // Absolute-form targets (proxies): keep the path only.
    const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(path);
    if (abs) path = path.slice(abs[0].length) || '/';
    this.scanPath(c, req.method, path, query);
    if (query) this.scanPairs(c, parsePairs(query), `?`);
    for (const [name, value] of req.headers) this.scanHeader(c, name, value);
    if (req.body.length > 0) this.scanBody(c, req.body, req.contentEncoding, req.contentType);
    return c.findings;
  }

  /** A payload of a flow that is neither TLS, QUIC nor HTTP (first bytes of the client's direction). */
  scanPayload(bytes: Uint8Array, verdict: PayloadVerdict | null = null): Finding[] {
    const c = new Collector('plain');
    this.scanBody(c, bytes, null, null, verdict);
    return c.findings;
  }

  /** Free text or a structured body, already decoded. */
  scanText(text: string, encoding = 'plain'): Finding[] {
    const c = new Collector(encoding);
    this.scanDecodedText(c, text, null, encoding);
    return c.findings;
  }

  private scanPath(c: Collector, method: string, path: string, query: string): void {
    const segs = path.split('/').filter(Boolean).slice(0, 32);
    const shown = `${method} ${path}${query ? `?${query}` : ''}`;
    // Everyday words that are also measurements ("measure", "weight") count only without a clearer term.
    const vague: string[] = [];
    let clear = false;
    for (let i = 0; i < segs.length; i++) {
      const raw = percentDecode(segs[i]!, false);
      const base = raw.replace(/\.(json|php|do|action|aspx?|html?|cgi)$/i, '');
      const k = normalizeKey(base);
      const med = this.dict.healthKeys.get(k);
      if (med && k.length >= 2) {
        if (med.ambiguous) vague.push(med.term);
        else {
          c.add('health', med.term, shown);
          clear = true;
        }
      } else if (k.length >= 6) this.freeHealth(c, base.replace(/[_-]/g, ' '), shown);
      if (USER_SEGMENT.has(k) && i + 1 < segs.length) {
        const id = segs[i + 1]!;
        if (/^\d{4,20}$/.test(id) || /^[0-9a-f]{8,64}$/i.test(id) || /^[0-9a-f-]{36}$/i.test(id)) {
          c.add('identity', 'user id', shown);
        }
      }
    }
    if (!clear) for (const t of vague) c.add('health', t, shown);
  }

  private scanHeader(c: Collector, name: string, value: string): void {
    const n = name.toLowerCase();
    if (n === 'authorization' || n === 'proxy-authorization') {
      const sp = value.indexOf(' ');
      const scheme = sp > 0 ? value.slice(0, sp) : '';
      const secret = sp > 0 ? value.slice(sp + 1) : value;
      c.add('credential', 'authorization', `${name}: ${scheme ? `${scheme} ` : ''}${maskSecret(secret.trim())}`);
      if (/^basic$/i.test(scheme)) {
        const dec = Buffer.from(secret.trim(), 'base64').toString('utf8');
        const colon = dec.indexOf(':');
        if (colon > 0)
          c.add(
            'credential',
            'password',
            `${name}: Basic ${dec.slice(0, colon)}:${maskSecret(dec.slice(colon + 1))}`,
            'base64',
          );
      }
      return;
    }
    if (n === 'cookie') {
      const pairs: [string, string][] = [];
      for (const part of value.split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0) pairs.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
      }
      if (pairs.length > 0) {
        c.add('credential', 'cookie', `Cookie: ${pairs.map(([k, v]) => `${k}=${maskSecret(v)}`).join('; ')}`);
        this.scanPairs(c, pairs, 'Cookie: ');
      }
      return;
    }
    if (n === 'user-agent') {
      this.scanDeviceStrings(c, value, `User-Agent: ${value}`);
      return;
    }
    if (HEADER_PAIRS.test(n)) this.scanPairs(c, [[n.slice(2), value]], `${name}: `);
  }

  /** `verdict`: what classifyPayload said of `body` when the caller already asked (it is not asked twice). */
  private scanBody(
    c: Collector,
    body: Uint8Array,
    contentEncoding: string | null,
    contentType: string | null,
    verdict: PayloadVerdict | null = null,
  ): void {
    // The verdict depends on the first kilobyte only, so it holds for the MAX_TEXT view too.
    const view = body.length > MAX_TEXT ? body.subarray(0, MAX_TEXT) : body;
    const dec = decodeBody(view, contentEncoding, undefined, verdict);
    const v = dec.bytes === view && verdict ? verdict : classifyPayload(dec.bytes);
    if (v.cls !== 'plaintext') return; // encrypted or undecodable compressed data: nothing to read
    const enc = dec.encoding.join('+');
    this.scanDecodedText(c, utf8(dec.bytes.subarray(0, MAX_TEXT)), contentType, enc);
  }

  private scanDecodedText(c: Collector, text: string, contentType: string | null, enc: string): void {
    const t = text.trimStart();
    const ct = (contentType ?? '').toLowerCase();
    let structured = false;
    if (t.startsWith('{') || t.startsWith('[') || ct.includes('json')) {
      try {
        const pairs: [string, string][] = [];
        walkJson(JSON.parse(t), '', pairs, { n: 0 });
        this.scanPairs(c, pairs, '', enc);
        structured = true;
      } catch {
        // not (complete) JSON: pairs from what looks like "key":"value" below
        const pairs: [string, string][] = [];
        const re = /"([A-Za-z_][\w.-]{0,40})"\s*:\s*("(?:[^"\\]|\\.){0,256}"|-?[\d.]+|\[[\d.,\s-]{1,200}\])/g;
        for (let m = re.exec(t); m && pairs.length < MAX_VALUES; m = re.exec(t)) {
          pairs.push([m[1]!, m[2]!.replace(/^"|"$/g, '')]);
        }
        this.scanPairs(c, pairs, '', enc);
        structured = pairs.length > 0;
      }
    } else if (
      ct.includes('x-www-form-urlencoded') ||
      /^[\w.%[\]-]{1,64}=[^\s&]*(?:&[\w.%[\]-]{1,64}=[^\s&]*)+$/.test(t.trim())
    ) {
      this.scanPairs(c, parsePairs(t.trim()), '', enc);
      structured = true;
    } else if (t.startsWith('<')) {
      const pairs: [string, string][] = [];
      const re = /<([A-Za-z_][\w.-]{0,40})(?:\s[^>]{0,200})?>([^<]{1,256})<\/\1>/g;
      for (let m = re.exec(t); m && pairs.length < MAX_VALUES; m = re.exec(t)) pairs.push([m[1]!, m[2]!]);
      const attr = /\s([A-Za-z_][\w.-]{0,40})="([^"]{1,256})"/g;
      for (let m = attr.exec(t); m && pairs.length < MAX_VALUES; m = attr.exec(t)) pairs.push([m[1]!, m[2]!]);
      this.scanPairs(c, pairs, '', enc);
      structured = pairs.length > 0;
    }
    // Line-oriented "key: value" / "key=value" text (logs, custom protocols).
    if (!structured) {
      const pairs: [string, string][] = [];
      const re = /(?:^|[\s,;{&?])([A-Za-z_][\w.-]{1,40})\s*[:=]\s*"?([^\s",;&}]{1,128})/g;
      for (let m = re.exec(t); m && pairs.length < 512; m = re.exec(t)) pairs.push([m[1]!, m[2]!]);
      this.scanPairs(c, pairs, '', enc);
    }
    // Structured text had each value scanned already; the rest is scanned as a whole.
    if (!structured) this.scanFree(c, text, enc);
    for (const d of base64Runs(text)) {
      const chain = enc === 'plain' ? d.encoding.join('+') : `${enc}+${d.encoding.join('+')}`;
      this.scanDecodedText(c, utf8(d.bytes), null, chain);
    }
  }

  private scanPairs(c: Collector, pairs: [string, string][], prefix: string, enc = c.encoding): void {
    for (const [key, value] of pairs.slice(0, MAX_VALUES)) this.checkPair(c, key, value, prefix, enc);
  }

  /** One key/value pair: the key says what it is, the value has to look like it. */
  private checkPair(c: Collector, rawKey: string, rawValue: string, prefix: string, enc: string): void {
    const value = rawValue.trim();
    if (PLACEHOLDER.has(value.toLowerCase())) return;
    const last =
      rawKey
        .split(/[.[\]]/)
        .filter(Boolean)
        .pop() ?? rawKey;
    const k = normalizeKey(last);
    const shown = (v: string) => `${prefix}${last}=${v}`;
    const pii = this.dict.piiKeys.get(k) ?? (k.length >= 6 ? this.suffixPii(k) : undefined);
    let named = false;
    if (pii) {
      if (this.validPii(pii.term, value)) {
        const show = pii.kind === 'credential' ? maskSecret(value) : value;
        c.add(pii.kind, pii.term, shown(show), enc);
        named = true;
      }
    } else {
      const med = this.dict.healthKeys.get(k) ?? (k.length >= 6 ? this.suffixHealth(k) : undefined);
      if (med && /\d/.test(value)) c.add('health', med.term, shown(value), enc);
      else if (med && !med.measurement && /\p{L}/u.test(value)) c.add('health', med.term, shown(value), enc);
    }
    // Values are scanned for patterns whatever their key (unless the key already said what the value is).
    if (!named && value.length >= 6) this.scanFree(c, value, enc, shown(value));
    if (value.length >= 24 && /[A-Za-z0-9+/_-]{24,}/.test(value)) {
      for (const d of base64Runs(value, undefined, 2)) {
        const chain = enc === 'plain' ? d.encoding.join('+') : `${enc}+${d.encoding.join('+')}`;
        this.scanDecodedText(c, utf8(d.bytes), null, chain);
      }
    }
    // A query value that is itself a percent-encoded query or JSON.
    if (value.length >= 8 && /^[{[]|^[\w.-]+=[^&]*&/.test(value) && value !== rawKey) {
      if (value.startsWith('{') || value.startsWith('['))
        this.scanDecodedText(c, value, 'application/json', enc === 'plain' ? 'url' : `${enc}+url`);
      else this.scanPairs(c, parsePairs(value), prefix, enc === 'plain' ? 'url' : `${enc}+url`);
    }
  }

  private suffixPii(k: string) {
    // "currentUserId" → "userid", "bandMacAddress" → "macaddress": the longest known key the key ends with.
    for (let i = 1; i <= k.length - 5; i++) {
      const f = this.dict.piiKeys.get(k.slice(i));
      if (f) return f;
    }
    return undefined;
  }

  private suffixHealth(k: string) {
    for (let i = 1; i <= k.length - 5; i++) {
      const f = this.dict.healthKeys.get(k.slice(i));
      if (f) return f;
    }
    return undefined;
  }

  private validPii(term: string, v: string): boolean {
    switch (term) {
      case 'e-mail address':
        return /^[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,24}$/.test(v);
      case 'phone number':
        return /^\+?[\d\s()-]{7,20}$/.test(v) && v.replace(/\D/g, '').length >= 7;
      case 'personal name':
        return this.looksLikeName(v);
      case 'coordinates': {
        const nums = v.match(/-?\d{1,3}\.\d{2,}/g);
        if (!nums) return false;
        return nums.some((x) => Math.abs(Number(x)) <= 180 && Number(x) !== 0);
      }
      case 'place':
        return /\p{L}/u.test(v) && v.length <= 128;
      case 'imei':
        return /^\d{14,16}$/.test(v);
      case 'band mac address':
      case 'wi-fi mac address':
        return (
          /^(?:[0-9A-Fa-f]{2}[:-]?){5}[0-9A-Fa-f]{2}$/.test(v) && !/^(?:00[:-]?){5}00$|^(?:ff[:-]?){5}ff$/i.test(v)
        );
      case 'ip address':
        return RE_IPV4.test(v) || (RE_IPV6.test(v) && v.includes(':'));
      case 'phone model':
      case 'phone brand':
      case 'place name':
        return /\p{L}/u.test(v);
      case 'os version':
      case 'firmware version':
        return /\d|\p{L}/u.test(v);
      case 'birthday':
        return /\d/.test(v);
      case 'age':
        return /^\d{1,3}$/.test(v) && Number(v) > 0 && Number(v) < 130;
      case 'gender':
        return /^(m|f|male|female|man|woman|0|1|2|男|女|u)$/i.test(v);
      case 'height':
      case 'weight':
        return /\d/.test(v) && Number.parseFloat(v) > 0;
      case 'password':
      case 'token':
      case 'session id':
      case 'api key':
      case 'authorization':
        return v.length >= 4;
      case 'user id':
      case 'device id':
      case 'advertising id':
      case 'serial number':
      case 'imsi':
        return v.length >= 4 && /[0-9A-Za-z]/.test(v) && !/^0+$|^[0-]+$/.test(v);
      default:
        return v.length >= 1;
    }
  }

  /** A value that starts with a known first name ("Jane", "jane.doe", "Jane Doe", "李伟" no: hanzi names). */
  looksLikeName(v: string): boolean {
    if (v.length > 64) return false;
    if (/^[\u3400-\u9fff]{2,4}$/.test(v)) return true; // a Chinese full name: surname + given name
    const first = v.split(/[\s._\-,+@0-9]+/).filter(Boolean)[0];
    if (!first || first.length < 2) return false;
    return this.dict.firstNames.has(first.toLowerCase()) && /^\p{L}/u.test(first);
  }

  private scanDeviceStrings(c: Collector, s: string, evidence: string, enc = c.encoding): void {
    RE_OS.lastIndex = 0;
    const os = RE_OS.exec(s);
    if (os) c.add('device', 'os version', evidence === '' ? os[0] : evidence, enc);
    const ua = RE_UA_MODEL.exec(s);
    if (ua) {
      c.add('device', 'phone model', evidence === '' ? ua[1]! : evidence, enc);
      return;
    }
    RE_MODEL.lastIndex = 0;
    const m = RE_MODEL.exec(s);
    if (m) c.add('device', 'phone model', evidence === '' ? m[0] : evidence, enc);
  }

  /** Patterns that stand on their own, in a value or in free text. */
  private scanFree(c: Collector, text: string, enc: string, evidence?: string): void {
    const t = text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
    const around = (i: number, len: number) => evidence ?? t.slice(Math.max(0, i - 24), i + len + 24);
    RE_EMAIL.lastIndex = 0;
    for (let m = RE_EMAIL.exec(t); m; m = RE_EMAIL.exec(t)) {
      if (NOT_TLD.has(m[1]!.toLowerCase())) continue;
      c.add('identity', 'e-mail address', around(m.index, m[0].length), enc);
      break;
    }
    RE_MAC.lastIndex = 0;
    for (let m = RE_MAC.exec(t); m; m = RE_MAC.exec(t)) {
      if (/^(?:00[:-]){5}00$|^(?:ff[:-]){5}ff$/i.test(m[0])) continue;
      c.add('network', 'mac address', around(m.index, m[0].length), enc);
      break;
    }
    this.scanDeviceStrings(c, t, evidence ?? '', enc);
    RE_COORDS.lastIndex = 0;
    for (let m = RE_COORDS.exec(t); m; m = RE_COORDS.exec(t)) {
      if (!isCoord(Number(m[1]), Number(m[2]))) continue;
      c.add('location', 'coordinates', around(m.index, m[0].length), enc);
      break;
    }
    RE_JWT.lastIndex = 0;
    const jwt = RE_JWT.exec(t);
    if (jwt) c.add('credential', 'token', `JWT ${maskSecret(jwt[0])}`, enc);
    RE_BP.lastIndex = 0;
    const bp = RE_BP.exec(t);
    if (bp) c.add('health', 'blood pressure', around(bp.index, bp[0].length), enc);
    RE_UNIT.lastIndex = 0;
    for (let u = RE_UNIT.exec(t), k = 0; u && k < 16; u = RE_UNIT.exec(t), k++) {
      const unit = u[2]!.toLowerCase().replace(/\s/g, '');
      const term =
        unit === 'bpm' || unit === '次/分'
          ? 'heart rate'
          : unit === 'mmhg' || unit === '毫米汞柱'
            ? 'blood pressure'
            : 'glucose';
      c.add('health', term, around(u.index, u[0].length), enc);
    }
    if (/\b(?:imei)\b\s*[:=]?\s*"?(\d{15})/i.test(t)) {
      const m = /\b(?:imei)\b\s*[:=]?\s*"?(\d{15})/i.exec(t)!;
      if (luhn(m[1]!)) c.add('device', 'imei', around(m.index, m[0].length), enc);
    }
    if (!evidence || t.length >= 6) this.freeHealth(c, t, evidence, enc);
  }

  /** Unambiguous medical terms in free text (word boundaries for Latin scripts, substrings for CJK). */
  private freeHealth(c: Collector, text: string, evidence?: string, enc = c.encoding): void {
    const lower = text.toLowerCase();
    const found = healthTextMatches(this.dict, lower);
    if (found === null) return;
    for (const { h: f, at: i } of found) {
      if (!f.cjk) {
        const before = i === 0 ? '' : lower[i - 1]!;
        const after = lower[i + f.lower.length] ?? '';
        if (/[\p{L}\d]/u.test(before) || /[\p{L}\d]/u.test(after)) continue;
      }
      c.add('health', f.term.term, evidence ?? text.slice(Math.max(0, i - 24), i + f.lower.length + 24), enc);
    }
  }
}

function walkJson(v: unknown, key: string, out: [string, string][], budget: { n: number }): void {
  if (budget.n++ > MAX_VALUES) return;
  if (v === null || v === undefined) return;
  if (Array.isArray(v)) {
    // An array of numbers under a key is one value ("heartRate":[72,75,71]).
    if (v.length > 0 && v.every((x) => typeof x === 'number')) {
      out.push([key, v.slice(0, 16).join(',')]);
      return;
    }
    for (const x of v.slice(0, 512)) walkJson(x, key, out, budget);
    return;
  }
  if (typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) walkJson(x, k, out, budget);
    return;
  }
  out.push([key, String(v)]);
}

export type { Encoding };
