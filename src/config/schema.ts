/**
 * The one configuration schema of the agent (style rule 9): runtime validation, the TypeScript type, the
 * JSON Schema for the dashboard's settings form (`configJsonSchema`), the README's reference table and the
 * environment variable names are all derived from it. Pure: no I/O.
 *
 * Every object is strict (an unknown key is an error, so a typo never silently falls back to a default),
 * and every check carries a message that says what is expected.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;
/** Five cron fields (minute hour day month weekday), each digits, *, ranges, lists and steps. */
const CRON = /^\s*([\d*/,-]+)\s+([\d*/,-]+)\s+([\d*/,-]+)\s+([\d*/,a-zA-Z-]+)\s+([\d*/,a-zA-Z-]+)\s*$/;

const int = (min: number, max: number, what: string) =>
  z
    .number({ error: `must be a number (${what})` })
    .int({ error: `must be a whole number (${what})` })
    .min(min, { error: `must be at least ${min} (${what})` })
    .max(max, { error: `must be at most ${max} (${what})` });

const bool = () => z.boolean({ error: 'must be true or false' });

const cron = () =>
  z
    .string({ error: 'must be a cron expression string' })
    .regex(CRON, { error: 'must be a 5-field cron expression such as "17 3 * * *" (minute hour day month weekday)' });

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (all addresses). */
export function parseListen(s: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  if (m[1] !== undefined && isIP(host) !== 6) return null;
  if (host !== '' && isIP(host) === 0 && !/^[A-Za-z0-9.-]{1,253}$/.test(host)) return null;
  return { host, port };
}

export const configSchema = z.strictObject({
  dataDir: z
    .string({ error: 'must be a directory path' })
    .min(1, { error: 'must not be empty' })
    .default('~/.bandguard')
    .meta({ description: 'Directory of the SQLite database, the pid/lock file and the BLE key vault.' }),
  safe: bool()
    .default(false)
    .meta({ description: 'Start without changing firewall rules and without writing to devices (sync is off).' }),
  api: z
    .strictObject({
      listen: z
        .string({ error: 'must be HOST:PORT' })
        .refine((s) => parseListen(s) !== null, {
          error: 'must be HOST:PORT, [IPv6]:PORT or :PORT with a port from 1 to 65535',
        })
        .default('0.0.0.0:8080')
        .meta({
          description:
            'Where the HTTP API and dashboard listen. Its port is also left out of the capture (own management traffic).',
        }),
    })
    .prefault({}),
  capture: z
    .strictObject({
      enabled: bool().default(true).meta({ description: 'Capture live on `capture.interface`.' }),
      interface: z
        .string({ error: 'must be an interface name' })
        .regex(IFNAME, { error: 'must be a network interface name (1-15 letters, digits, . _ - : @)' })
        .default('wlan0')
        .meta({ description: "The access point's LAN interface (wlan0, or the bridge the AP is part of)." }),
      bufferMiB: int(1, 1024, 'MiB of kernel capture buffer')
        .default(16)
        .meta({ description: 'Kernel capture ring buffer, MiB: absorbs bursts while the pipeline catches up.' }),
      queuePackets: int(256, 1_000_000, 'packets').default(16_384).meta({
        description:
          'Packets held between the capture callback and the pipeline; beyond it they are counted as queue drops.',
      }),
      excludeOwnTraffic: bool()
        .default(true)
        .meta({ description: "Leave the hub's own management traffic (API/dashboard port, SSH) out of the capture." }),
      filter: z
        .string({ error: 'must be a BPF filter expression string' })
        .max(2000, { error: 'must be at most 2000 characters' })
        .refine((s) => !/[\0\n\r]/.test(s), { error: 'must be one line of BPF (pcap-filter) syntax' })
        .default('')
        .meta({ description: 'Extra BPF (pcap-filter) expression ANDed with the built-in filter; empty for none.' }),
      maxFlows: int(1_000, 5_000_000, 'flows')
        .default(100_000)
        .meta({ description: 'Flows held in memory; past it the oldest is finalised early (counted).' }),
      tcpIdleSeconds: int(1, 86_400, 'seconds')
        .default(300)
        .meta({ description: 'An open TCP flow ends after this much silence.' }),
      tcpClosedIdleSeconds: int(1, 3_600, 'seconds')
        .default(30)
        .meta({ description: 'A TCP flow that saw FIN/RST ends after this much silence.' }),
      udpIdleSeconds: int(1, 86_400, 'seconds')
        .default(120)
        .meta({ description: 'A UDP flow ends after this much silence.' }),
      checkpointSeconds: int(5, 86_400, 'seconds')
        .default(60)
        .meta({ description: 'A flow still open after this long is written out so far, and again at each flush.' }),
      ringBuffer: z
        .strictObject({
          enabled: bool().default(false).meta({
            description:
              'Also write the captured packets to rotating pcap files in <dataDir>/pcap (0700; files 0600). They hold everything the phones send in clear text: keep it off unless you need the raw packets.',
          }),
          fileMiB: int(1, 4_096, 'MiB per file')
            .default(64)
            .meta({ description: 'A ring file is closed and a new one begun before it grows past this size, MiB.' }),
          files: int(2, 1_000, 'files').default(8).meta({
            description: 'Ring files kept; the oldest is deleted beyond it (disk use at most files × fileMiB).',
          }),
        })
        .prefault({}),
    })
    .prefault({}),
  store: z
    .strictObject({
      bucketMinutes: z
        .union([z.literal(5), z.literal(10), z.literal(15), z.literal(30), z.literal(60)], {
          error: 'must be one of 5, 10, 15, 30, 60',
        })
        .default(60)
        .meta({ description: 'Time bucket of the detailed contact and lookup aggregates, minutes.' }),
      flushIntervalMs: int(50, 60_000, 'milliseconds')
        .default(1_000)
        .meta({ description: 'How often pending aggregates are written, in one transaction.' }),
      maxPendingRows: int(100, 1_000_000, 'rows')
        .default(20_000)
        .meta({ description: 'Aggregates waiting for the next write; reaching it writes at once (backpressure).' }),
    })
    .prefault({}),
  retention: z
    .strictObject({
      detailDays: int(1, 3_650, 'days')
        .default(14)
        .meta({ description: 'Days the per-bucket detail is kept before it is rolled up into daily aggregates.' }),
      aggregateDays: int(1, 36_500, 'days').default(400).meta({ description: 'Days the daily aggregates are kept.' }),
      eventsDays: int(1, 36_500, 'days').default(180).meta({ description: 'Days leaks and events are kept.' }),
      auditDays: int(1, 36_500, 'days').default(730).meta({ description: 'Days the audit log is kept.' }),
      schedule: cron().default('17 3 * * *').meta({ description: 'When the retention job runs (cron, local time).' }),
    })
    .prefault({})
    .refine((r) => r.aggregateDays >= r.detailDays, {
      error: 'must be at least retention.detailDays',
      path: ['aggregateDays'],
    }),
  ble: z
    .strictObject({
      enabled: bool().default(true).meta({ description: 'Use the BLE radio (bands, scales, monitors).' }),
      simulate: bool().default(false).meta({ description: 'Use the built-in simulated devices instead of the radio.' }),
      syncSchedule: cron()
        .default('*/15 * * * *')
        .meta({ description: 'When paired devices are synced (cron); failing devices back off.' }),
    })
    .prefault({}),
  firewall: z
    .strictObject({
      mode: z
        .enum(['apply', 'dry-run', 'off'], { error: "must be one of 'apply', 'dry-run', 'off'" })
        .default('apply')
        .meta({
          description:
            "'apply': the agent restores the block policy at start and applies every change; 'dry-run': it only logs the commands; 'off': it leaves the firewall alone.",
        }),
      dnsmasqConf: z
        .string({ error: 'must be a file path' })
        .max(4096)
        .refine((s) => !/[\0\n\r]/.test(s), { error: 'must be one line' })
        .default('')
        .meta({
          description:
            "Where the agent writes dnsmasq's ipset=/address= lines after each apply (empty: <dataDir>/dnsmasq-bandguard.conf).",
        }),
    })
    .prefault({}),
  geo: z
    .strictObject({
      rdap: bool().default(false).meta({
        description:
          'Ask the regional internet registries (RDAP) who runs the networks of the servers the phones contact (asn, asOrganization), cached in the database for 14 days. Off by default because it tells the registries (or the server in BANDGUARD_RDAP_URL) which addresses the phones talk to.',
      }),
      rdapIntervalSeconds: int(5, 86_400, 'seconds')
        .default(60)
        .meta({ description: 'How often the server addresses stored since the last round are handed to RDAP.' }),
      mmdb: z
        .array(
          z
            .string({ error: 'must be a file path' })
            .min(1, { error: 'must not be empty' })
            .max(4096)
            .refine((s) => !/[\0\n\r]/.test(s), { error: 'must be one line' }),
          { error: 'must be a list of file paths' },
        )
        .refine((a) => a.length <= 16, { error: 'must list at most 16 files' })
        .default([])
        .meta({
          description:
            'MaxMind-format .mmdb files (GeoLite2 ASN/Country/City, ip-location-db, IPinfo), asked in order for country and ASN before the bundled country database and RDAP. In the environment: paths separated by commas.',
        }),
    })
    .prefault({}),
});

/** The validated configuration (every default filled in). */
export type Config = z.output<typeof configSchema>;
/** What a config file may contain (every key optional). */
export type ConfigInput = z.input<typeof configSchema>;

/** The JSON Schema (draft 2020-12) of the config file, for the dashboard's settings form and editors. */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

export interface ConfigLeaf {
  /** Dotted path, e.g. `capture.bufferMiB`. */
  path: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'array';
  default: unknown;
  description: string;
  env: string;
  /** Allowed values when the key is an enumeration. */
  values?: unknown[];
  minimum?: number;
  maximum?: number;
}

/** `capture.bufferMiB` → `BANDGUARD_CAPTURE_BUFFER_MIB`. */
export function envNameOf(path: string): string {
  return `BANDGUARD_${path
    .split('.')
    .map((seg) => seg.replace(/([a-z0-9])([A-Z])(?=[a-z])/g, '$1_$2').toUpperCase())
    .join('_')}`;
}

interface JsonNode {
  type?: string;
  properties?: Record<string, JsonNode>;
  default?: unknown;
  description?: string;
  enum?: unknown[];
  anyOf?: JsonNode[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
}

/** Every leaf key of the schema with its type, default, description and environment variable. */
export function configLeaves(): ConfigLeaf[] {
  const out: ConfigLeaf[] = [];
  const walk = (node: JsonNode, prefix: string) => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (child.type === 'object' && child.properties) {
        walk(child, path);
        continue;
      }
      const values = child.enum ?? child.anyOf?.map((a) => a.const);
      const type = (child.type ??
        (values && typeof values[0] === 'number' ? 'integer' : 'string')) as ConfigLeaf['type'];
      const leaf: ConfigLeaf = {
        path,
        type,
        default: child.default,
        description: child.description ?? '',
        env: envNameOf(path),
      };
      if (values) leaf.values = values;
      if (child.minimum !== undefined) leaf.minimum = child.minimum;
      if (child.maximum !== undefined && child.maximum < Number.MAX_SAFE_INTEGER) leaf.maximum = child.maximum;
      out.push(leaf);
    }
  };
  walk(configJsonSchema() as JsonNode, '');
  return out;
}

/** The README's configuration reference table (a test checks that the README holds exactly this). */
export function configReferenceMarkdown(): string {
  const rows = configLeaves().map((l) => {
    const range =
      l.values !== undefined
        ? ` (${l.values.join(', ')})`
        : l.minimum !== undefined && l.maximum !== undefined
          ? ` (${l.minimum}–${l.maximum})`
          : '';
    return `| \`${l.path}\` | ${l.type}${range} | \`${JSON.stringify(l.default)}\` | \`${l.env}\` | ${l.description} |`;
  });
  return ['| Key | Type | Default | Environment | What |', '|---|---|---|---|---|', ...rows].join('\n');
}
