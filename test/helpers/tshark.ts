/**
 * tshark as a test oracle: what Wireshark's dissectors extract from a capture, for comparison with bandguard.
 *
 * Only for tests. tshark is optional: tests that need it check `hasTshark()` and skip without it.
 * Field names are those of Wireshark 4.x (see shared research dpi.md §6).
 */
import { execFile, spawnSync } from 'node:child_process';

/** Host names tshark finds in a capture, lowercased, ports stripped, one set per source. */
export interface TsharkNames {
  /** TLS ClientHello server_name over TCP (`tls.handshake.extensions_server_name` outside QUIC). */
  sni: Set<string>;
  /** server_name of QUIC Initial ClientHellos (IETF QUIC) plus gQUIC's plaintext SNI tag (`gquic.tag.sni`). */
  quicSni: Set<string>;
  /** Unicast DNS question names, over UDP and TCP (`dns.qry.name` in frames that are neither mDNS nor LLMNR). */
  dnsQueries: Set<string>;
  /** mDNS question names (`dns.qry.name` in mDNS frames). */
  mdnsQueries: Set<string>;
  /** LLMNR question names. */
  llmnrQueries: Set<string>;
  /** HTTP/1.x Host headers over TCP, port removed (SSDP's HTTP-over-UDP `Host` is not counted). */
  httpHosts: Set<string>;
  /** DHCP option 12 (host name), from any DHCP message. */
  dhcpHostnames: Set<string>;
}

export interface TsharkOptions {
  /** Extra `-d` decode-as rules, e.g. `tcp.port==8080,tls`, for services on ports tshark does not guess. */
  decodeAs?: readonly string[];
  /** A display filter (`-Y`). */
  filter?: string;
  timeoutMs?: number;
  /**
   * tsharkNames only: ignore packets that contain any of these protocol layers (`frame.protocols` entries),
   * e.g. `gtp` for names inside mobile-core tunnels that the caller does not decapsulate.
   */
  skipLayers?: readonly string[];
}

/** One row per packet (that passes the filter); each column is the list of that field's occurrences. */
export type TsharkRows = string[][][];

const SEPARATOR = '\t';
// A control character cannot occur in a value: tshark prints non-printable bytes as \ooo escapes.
const AGGREGATOR = '\u001f';

let tsharkAvailable: boolean | undefined;

/** Whether a working `tshark` is on PATH (checked once). */
export function hasTshark(): boolean {
  if (tsharkAvailable === undefined) {
    const r = spawnSync('tshark', ['-v'], { stdio: 'ignore', timeout: 20_000 });
    tsharkAvailable = r.status === 0;
  }
  return tsharkAvailable;
}

/** tshark could read the packets but stopped at a damaged or truncated end of the file. */
function isCutShort(stderr: string): boolean {
  return /cut short in the middle of a packet|appears to be damaged or corrupt/.test(stderr);
}

/**
 * Runs `tshark -T fields` over a capture and returns, per packet, each requested field's occurrences.
 * A file that tshark reads only up to a cut-off end gives the rows for the complete packets.
 */
export function tsharkFields(file: string, fields: readonly string[], opts: TsharkOptions = {}): Promise<TsharkRows> {
  const args = ['-n', '-r', file];
  for (const d of opts.decodeAs ?? []) args.push('-d', d);
  if (opts.filter) args.push('-Y', opts.filter);
  args.push('-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', `aggregator=${AGGREGATOR}`);
  for (const f of fields) args.push('-e', f);
  return new Promise((resolve, reject) => {
    execFile(
      'tshark',
      args,
      { maxBuffer: 256 * 1024 * 1024, timeout: opts.timeoutMs ?? 120_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && !(typeof err.code === 'number' && isCutShort(stderr))) {
          reject(new Error(`tshark failed on ${file}: ${err.message}\n${stderr}`));
          return;
        }
        const rows: TsharkRows = [];
        for (const line of stdout.split('\n')) {
          if (line === '') continue;
          const cols = line.split(SEPARATOR);
          rows.push(fields.map((_, i) => splitValues(cols[i])));
        }
        resolve(rows);
      },
    );
  });
}

function splitValues(col: string | undefined): string[] {
  if (col === undefined || col === '') return [];
  return col.split(AGGREGATOR).filter((v) => v !== '');
}

/**
 * A host name as both sides compare it: lowercased, without a trailing dot, without a `:port`
 * (`[v6]:port` keeps the bare address). Returns null for tshark's placeholders such as `<Root>`.
 */
export function normalizeHost(raw: string): string | null {
  let h = raw.trim().toLowerCase();
  if (h === '' || (h.startsWith('<') && h.endsWith('>'))) return null;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end > 0 ? h.slice(1, end) : h;
  } else {
    const colon = h.indexOf(':');
    // Exactly one colon: host:port. More than one: a bare IPv6 address, kept as is.
    if (colon >= 0 && colon === h.lastIndexOf(':') && /^\d*$/.test(h.slice(colon + 1))) h = h.slice(0, colon);
  }
  if (h.endsWith('.') && h.length > 1) h = h.slice(0, -1);
  return h === '' ? null : h;
}

const NAME_FIELDS = [
  'frame.protocols',
  'tls.handshake.extensions_server_name',
  'gquic.tag.sni',
  'dns.qry.name',
  'http.host',
  'dhcp.option.hostname',
] as const;

/** The host names tshark extracts from a capture, by source. */
export async function tsharkNames(file: string, opts: Omit<TsharkOptions, 'filter'> = {}): Promise<TsharkNames> {
  const out: TsharkNames = {
    sni: new Set(),
    quicSni: new Set(),
    dnsQueries: new Set(),
    mdnsQueries: new Set(),
    llmnrQueries: new Set(),
    httpHosts: new Set(),
    dhcpHostnames: new Set(),
  };
  const rows = await tsharkFields(file, NAME_FIELDS, opts);
  const add = (set: Set<string>, values: readonly string[]) => {
    for (const v of values) {
      const n = normalizeHost(v);
      if (n !== null) set.add(n);
    }
  };
  const skip = opts.skipLayers ?? [];
  for (const [protocolsCol = [], sni = [], gquicSni = [], dnsNames = [], httpHost = [], dhcpHost = []] of rows) {
    const layers = new Set((protocolsCol[0] ?? '').split(':'));
    if (skip.some((l) => layers.has(l))) continue;
    add(layers.has('quic') ? out.quicSni : out.sni, sni);
    add(out.quicSni, gquicSni);
    add(layers.has('mdns') ? out.mdnsQueries : layers.has('llmnr') ? out.llmnrQueries : out.dnsQueries, dnsNames);
    if (!layers.has('ssdp') && layers.has('tcp')) add(out.httpHosts, httpHost);
    add(out.dhcpHostnames, dhcpHost);
  }
  return out;
}
