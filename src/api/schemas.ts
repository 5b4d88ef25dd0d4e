/**
 * The zod schemas of the API's inputs and answers: the routes validate with them and the OpenAPI document
 * is generated from them. Vocabulary (roles, parties, leak kinds, block kinds) comes from the services'
 * own lists.
 */
import { z } from 'zod';
import { BLOCK_KINDS, BLOCKABLE_ROLES } from '../firewall/policy.js';
import { PARTY_ROLES } from '../net/classify/parties.js';
import { READING_KIND_NAMES } from '../sdk/index.js';
import { MAX_PAGE, PARTY_SORT_KEYS } from './netViews.js';

export const PARTIES = ['first', 'third', 'local', 'unknown'] as const;
export const LEAK_KINDS = ['health', 'identity', 'device', 'location', 'network', 'credential', 'other'] as const;

/** Epoch ms or an ISO date; or a duration back from now (`24h`, `7d`, `30m`). */
export function timeParam(now: () => number = Date.now) {
  return z
    .string()
    .max(40)
    .transform((s, ctx) => {
      const d = /^(\d{1,6})([smhd])$/.exec(s);
      if (d) {
        const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 's' | 'm' | 'h' | 'd'];
        return now() - Number(d[1]) * unit;
      }
      if (/^\d{10,15}$/.test(s)) return Number(s);
      const t = Date.parse(s);
      if (Number.isNaN(t)) {
        ctx.addIssue({ code: 'custom', message: 'must be an ISO date, epoch milliseconds or a duration like 24h' });
        return z.NEVER;
      }
      return t;
    })
    .meta({ description: 'ISO date, epoch ms, or a duration back from now: 30m, 24h, 7d' });
}

const clientId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[0-9A-Za-z:.%_-]+$/, { error: 'must be a MAC or IP address' })
  .meta({ description: "A client id: the phone's MAC address, or its IP without one" });

export const offsetLimit = {
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  limit: z.coerce.number().int().min(0).max(MAX_PAGE).default(50),
};

export const partiesQuery = z.strictObject({
  client: clientId.optional(),
  app: z.string().min(1).max(100).optional(),
  role: z.enum(PARTY_ROLES).optional(),
  party: z.enum(PARTIES).optional(),
  organization: z.string().min(1).max(200).optional(),
  country: z
    .string()
    .regex(/^[A-Za-z]{2}$/, { error: 'must be a two-letter country code' })
    .optional(),
  q: z.string().max(200).optional(),
  since: timeParam().optional(),
  until: timeParam().optional(),
  sort: z.enum(PARTY_SORT_KEYS).default('lastSeen'),
  order: z.enum(['asc', 'desc']).optional(),
  ...offsetLimit,
});

export const contactsQuery = z.strictObject({
  client: clientId.optional(),
  q: z.string().max(200).optional(),
  cursor: z.string().max(2000).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
});

export const leaksQuery = z.strictObject({
  client: clientId.optional(),
  kind: z.enum(LEAK_KINDS).optional(),
  since: timeParam().optional(),
  until: timeParam().optional(),
  ...offsetLimit,
});

export const leakParams = z.strictObject({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });
export const revealQuery = z.strictObject({
  reveal: z
    .enum(['true', 'false'])
    .default('false')
    .transform((s) => s === 'true'),
});

export const deviceParams = z.strictObject({
  id: z
    .string()
    .regex(/^(?:[0-9A-Fa-f]{2}:?){5}[0-9A-Fa-f]{2}$/, { error: 'must be a device address like c8:0f:10:a1:b2:03' })
    .transform((s) => s.toLowerCase().replace(/:/g, '')),
});

export const scanBody = z.strictObject({
  durationMs: z.number().int().min(500).max(60_000).default(5_000),
});

export const pairBody = z.strictObject({
  authKey: z
    .string()
    .regex(/^(0x)?[0-9A-Fa-f]{32}$/, { error: "must be 32 hexadecimal digits (the band's 16-byte auth key)" })
    .optional(),
});

export const samplesQuery = z.strictObject({
  kinds: z
    .string()
    .max(500)
    .transform((s) =>
      s
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k !== ''),
    )
    .pipe(z.array(z.enum(READING_KIND_NAMES as [string, ...string[]])).min(1))
    .optional()
    .meta({ description: `Comma-separated reading kinds: ${READING_KIND_NAMES.join(', ')}` }),
  since: timeParam().optional(),
  until: timeParam().optional(),
  limit: z.coerce.number().int().min(1).max(200_000).default(50_000),
  order: z.enum(['asc', 'desc']).default('asc'),
});

export const exportQuery = z.strictObject({
  format: z.enum(['csv', 'json', 'fhir']),
  since: timeParam().optional(),
  until: timeParam().optional(),
});

export const blockBody = z.strictObject({
  kind: z.enum(BLOCK_KINDS as unknown as [string, ...string[]]) as z.ZodType<'domain' | 'organization' | 'role'>,
  target: z.string().min(1).max(253),
  client: z
    .string()
    .max(64)
    .nullable()
    .optional()
    .meta({ description: 'MAC or IP of one phone; absent or null: every phone' }),
  action: z.enum(['block', 'allow']).default('block'),
  note: z.string().max(500).nullable().optional(),
});

export const blockParams = z.strictObject({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });

export const loginBody = z.strictObject({ password: z.string().min(1).max(256) });
export const setupBody = z.strictObject({
  setupCode: z.string().min(1).max(64),
  password: z.string().min(10, { error: 'must be at least 10 characters' }).max(256),
});
export const passwordBody = z.strictObject({
  current: z.string().min(1).max(256),
  password: z.string().min(10, { error: 'must be at least 10 characters' }).max(256),
});

export const eventsQuery = z.strictObject({
  live: z
    .string()
    .regex(/^(?:[0-9A-Fa-f]{2}:?){5}[0-9A-Fa-f]{2}$/, { error: 'must be a device address' })
    .transform((s) => s.toLowerCase().replace(/:/g, ''))
    .optional()
    .meta({ description: 'Also stream the live values (heart rate …) of this paired device' }),
});

export const capturesQuery = z.strictObject({
  name: z
    .string()
    .max(200)
    .regex(/^[^/\\\0]+$/, { error: 'must be a file name' })
    .optional(),
});

// ---------- answers (documentation of the shapes the handlers return) ----------

export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    issues: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  }),
});

export const sessionAnswer = z.object({
  authenticated: z.boolean(),
  setupRequired: z.boolean(),
  csrfToken: z.string().nullable(),
});

const facet = z.object({ value: z.string(), count: z.number() });

export const partyRowSchema = z.object({
  id: z.string(),
  client: z.string(),
  clientName: z.string().nullable(),
  app: z.string().nullable(),
  name: z.string().nullable(),
  registrableDomain: z.string().nullable(),
  organization: z.string().nullable(),
  role: z.enum(PARTY_ROLES),
  party: z.enum(PARTIES),
  ownerCountry: z.string().nullable(),
  country: z.string().nullable(),
  asn: z.number().nullable(),
  asOrganization: z.string().nullable(),
  servers: z.number(),
  port: z.number(),
  protocol: z.string(),
  flows: z.number(),
  bytesOut: z.number(),
  bytesIn: z.number(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  encrypted: z.boolean(),
  leaks: z.object({ count: z.number(), kinds: z.array(z.string()) }),
  blocked: z
    .object({
      entryId: z.number(),
      kind: z.string(),
      target: z.string(),
      scope: z.enum(['client', 'all']),
      action: z.string(),
    })
    .nullable(),
  serverNote: z.string().nullable().optional(),
  serverList: z
    .array(
      z.object({
        ip: z.string(),
        port: z.number(),
        country: z.string().nullable(),
        asn: z.number().nullable(),
        bytes: z.number(),
      }),
    )
    .optional(),
});

export const partiesAnswer = z.object({
  items: z.array(partyRowSchema),
  total: z.number(),
  offset: z.number(),
  limit: z.number(),
  facets: z.object({
    role: z.array(facet),
    party: z.array(facet),
    country: z.array(facet),
    organization: z.array(facet),
    app: z.array(facet),
    client: z.array(facet),
  }),
});

export const leakSchema = z.object({
  id: z.number(),
  client: z.string(),
  name: z.string().nullable(),
  serverIp: z.string(),
  protocol: z.string(),
  kind: z.string(),
  term: z.string(),
  evidence: z.string(),
  redacted: z.boolean(),
  encoding: z.string(),
  party: z.string(),
  organization: z.string().nullable(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  count: z.number(),
});

export const blockEntrySchema = z.object({
  id: z.number(),
  kind: z.enum(['domain', 'organization', 'role']),
  target: z.string(),
  client: z.string().nullable(),
  action: z.enum(['block', 'allow']),
  createdAt: z.number(),
  source: z.string(),
  note: z.string().nullable(),
});

export const applySchema = z.object({
  at: z.string(),
  ok: z.boolean(),
  dryRun: z.boolean(),
  changed: z.boolean(),
  hash: z.string().nullable(),
  durationMs: z.number(),
  error: z.string().nullable(),
  cause: z.string(),
});

export const roleList = BLOCKABLE_ROLES;
