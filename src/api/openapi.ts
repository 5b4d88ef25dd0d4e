/**
 * The OpenAPI 3.1 document of the API, generated from the same route records and zod schemas the server
 * mounts and validates with (z.toJSONSchema), served at /api/v1/openapi.json.
 */
import { z } from 'zod';
import { VERSION } from '../agent/agent.js';
import { CSRF_HEADER, SESSION_COOKIE } from './auth.js';
import { ERROR_CODES } from './errors.js';
import type { RouteDef } from './route.js';
import { errorSchema } from './schemas.js';

export const API_PREFIX = '/api/v1';

type Json = Record<string, unknown>;

function schemaOf(s: z.ZodType, io: 'input' | 'output'): Json {
  const j = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Json;
  delete j.$schema;
  return j;
}

/** `/devices/:id/pair` → `/devices/{id}/pair`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(def: RouteDef): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [
    ['path', def.params],
    ['query', def.query],
  ] as const) {
    if (!schema) continue;
    const j = schemaOf(schema as z.ZodType, 'input') as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, p] of Object.entries(j.properties ?? {})) {
      const param: Json = {
        name,
        in: where,
        required: where === 'path' || (j.required ?? []).includes(name),
        schema: p,
      };
      if (typeof p.description === 'string') param.description = p.description;
      out.push(param);
    }
  }
  return out;
}

const errorRef = { $ref: '#/components/schemas/Error' };

export function buildOpenApi(routes: readonly RouteDef[]): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const def of routes) {
    const p = `${API_PREFIX}${openApiPath(def.path)}`;
    paths[p] ??= {};
    const ok = String(def.status ?? 200);
    const responses: Record<string, Json> = {};
    if (def.produces) {
      responses[ok] = {
        description: 'OK',
        content: Object.fromEntries(def.produces.map((t) => [t.split(';')[0]!, { schema: { type: 'string' } }])),
      };
    } else if (def.response) {
      responses[ok] = {
        description: 'OK',
        content: { 'application/json': { schema: schemaOf(def.response, 'output') } },
      };
    } else {
      responses['204'] = { description: 'Done (no content)' };
    }
    const err = (description: string) => ({ description, content: { 'application/json': { schema: errorRef } } });
    if (def.query || def.params || def.body) responses['400'] = err('Validation failed: `field` names the input');
    if (def.auth !== false) responses['401'] = err('Not logged in (code `unauthenticated`)');
    if (def.auth !== false && def.method !== 'get')
      responses['403'] = err('Missing or wrong CSRF token (code `csrf_failed`)');
    if (def.path === '/auth/login') responses['429'] = err('Too many attempts from this address (code `rate_limited`)');
    responses.default = err('Any other error, with a stable `code`');
    const op: Json = {
      operationId: `${def.method}${def.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      tags: [def.tag],
      summary: def.summary,
      parameters: parameters(def),
      responses,
    };
    if (def.description) op.description = def.description;
    if (def.auth === false) op.security = [];
    if (def.body === 'binary') {
      op.requestBody = {
        required: true,
        content: {
          'application/vnd.tcpdump.pcap': {
            schema: { type: 'string', contentMediaType: 'application/vnd.tcpdump.pcap' },
          },
          'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
        },
      };
    } else if (def.body) {
      op.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(def.body, 'input') } } };
    }
    paths[p][def.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'bandguard API',
      version: VERSION,
      description:
        `The API of the bandguard dashboard. Log in with POST ${API_PREFIX}/auth/login; the session is the ` +
        `\`${SESSION_COOKIE}\` cookie; every state-changing request carries the session's CSRF token in the ` +
        `\`${CSRF_HEADER}\` header. Errors: { error: { code, message, field? } } with codes ${Object.keys(ERROR_CODES).join(', ')}.`,
    },
    servers: [{ url: '/' }],
    security: [{ session: [] }],
    components: {
      securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } },
      schemas: { Error: schemaOf(errorSchema, 'output') },
    },
    paths,
  };
}
