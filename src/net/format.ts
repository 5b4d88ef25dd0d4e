/** Text renderings of an analyze report: an aligned table for people, CSV for spreadsheets. */

import { compareText } from '../core/compare.js';
import type { AnalyzeReport, ReportContact } from './report.js';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function table(rows: string[][], header: string[]): string {
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (r: string[]) =>
    r
      .map((c, i) => pad(c.length > 60 ? `${c.slice(0, 59)}…` : c, widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** 'ip:port/tcp', '[v6]:port/udp', or the bare address for port-less protocols (ICMP...). */
function serverText(c: ReportContact): string {
  const host = c.serverIp.includes(':') ? `[${c.serverIp}]` : c.serverIp;
  return c.transport === 'other' ? c.serverIp : `${host}:${c.port}/${c.transport}`;
}

export function formatTable(r: AnalyzeReport): string {
  const out: string[] = [];
  const c = r.capture;
  out.push(
    `Capture: ${c.files.length} file(s), ${c.packets} packets, ${humanBytes(c.bytes)}, ${c.start ?? '-'} → ${c.end ?? '-'}` +
      `, link ${c.linkTypes.join('/') || '-'}, ${c.flows} flows, ${c.malformed} malformed, ${c.truncated} truncated`,
  );
  out.push('');
  out.push(`Clients (${r.clients.length})`);
  out.push(
    table(
      r.clients.map((x) => [
        x.id,
        x.ips.join(' '),
        x.hostname ?? '',
        x.vendor ?? '',
        x.vendorClass ?? '',
        x.apps.join(','),
      ]),
      ['client', 'addresses', 'hostname', 'vendor', 'dhcp class', 'apps'],
    ),
  );
  out.push('');
  out.push(`Contacts (${r.contacts.length})`);
  const byClient = [...r.contacts].sort(
    (a, b) => compareText(a.client, b.client) || b.bytesOut + b.bytesIn - (a.bytesOut + a.bytesIn),
  );
  out.push(
    table(
      byClient.map((x: ReportContact) => [
        x.client,
        x.name ?? '(no name)',
        x.nameSource,
        serverText(x),
        x.protocol,
        x.party,
        x.role,
        x.organization ?? '',
        x.country ?? '',
        String(x.flows),
        humanBytes(x.bytesOut),
        humanBytes(x.bytesIn),
        x.encrypted ? 'yes' : 'NO',
      ]),
      [
        'client',
        'name',
        'source',
        'server',
        'proto',
        'party',
        'role',
        'organization',
        'country',
        'flows',
        'out',
        'in',
        'encrypted',
      ],
    ),
  );
  const unused = r.lookups.filter((l) => !l.contacted && l.protocol === 'dns');
  if (unused.length > 0) {
    out.push('');
    out.push(`Looked up but not contacted (${unused.length})`);
    out.push(
      table(
        unused.map((l) => [l.client, l.name, l.type, l.answers.join(' ')]),
        ['client', 'name', 'type', 'answers'],
      ),
    );
  }
  if (r.leaks.length > 0) {
    out.push('');
    out.push(`Leaks in plain text (${r.leaks.length})`);
    out.push(
      table(
        r.leaks.map((l) => [l.client, l.name ?? l.serverIp, l.kind, l.term, l.encoding, String(l.count), l.evidence]),
        ['client', 'to', 'kind', 'term', 'encoding', 'count', 'evidence'],
      ),
    );
  }
  return `${out.join('\n')}\n`;
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join(' ') : String(v);
  // Quote anything with separators, quotes or line breaks; neutralise spreadsheet formulas.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const CSV_COLUMNS: (keyof ReportContact)[] = [
  'client',
  'name',
  'names',
  'registrableDomain',
  'serverIp',
  'port',
  'transport',
  'protocol',
  'nameSource',
  'party',
  'app',
  'role',
  'organization',
  'ownerCountry',
  'country',
  'asn',
  'asOrganization',
  'flows',
  'packets',
  'bytesOut',
  'bytesIn',
  'firstSeen',
  'lastSeen',
  'encrypted',
];

/** One row per contact (the table users compare with the published studies). */
export function formatCsv(r: AnalyzeReport): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const c of r.contacts) lines.push(CSV_COLUMNS.map((k) => csvCell(c[k])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
