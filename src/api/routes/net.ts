/** The network side, read: phones on the AP, contacts (cursor-paged), parties (the studies' table), leaks. */
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { CursorError } from '../netViews.js';
import { route } from '../route.js';
import {
  contactsQuery,
  leakParams,
  leakSchema,
  leaksQuery,
  partiesAnswer,
  partiesQuery,
  revealQuery,
} from '../schemas.js';

export const netRoutes = [
  route({
    method: 'get',
    path: '/clients',
    tag: 'network',
    summary: 'Phones and other devices seen on the access point, with their companion apps and counts',
    response: z.object({ items: z.array(z.record(z.string(), z.unknown())) }),
    handler: ({ services }) => ({ items: services.views.clients() }),
  }),
  route({
    method: 'get',
    path: '/contacts',
    tag: 'network',
    summary: 'Every endpoint a phone contacted (client × name × server × port), keyset-paged with `cursor`',
    query: contactsQuery,
    response: z.object({
      items: z.array(z.record(z.string(), z.unknown())),
      nextCursor: z.string().nullable(),
      limit: z.number(),
    }),
    handler: ({ query, services }) => {
      try {
        return services.views.contacts(query);
      } catch (e) {
        if (e instanceof CursorError) throw new ApiError('validation_failed', e.message, 'cursor');
        throw e;
      }
    },
  }),
  route({
    method: 'get',
    path: '/parties',
    tag: 'network',
    summary:
      'Who the apps talk to: one row per phone × name with organization, role, party, server country, ASN, traffic, leaks and block state; filter, search, sort, offset+limit',
    query: partiesQuery,
    response: partiesAnswer,
    handler: ({ query, services }) => services.views.parties(query),
  }),
  route({
    method: 'get',
    path: '/leaks',
    tag: 'network',
    summary: 'What left in plain text (evidence redacted; reveal one with GET /leaks/{id}?reveal=true)',
    query: leaksQuery,
    response: z.object({ items: z.array(leakSchema), total: z.number(), offset: z.number(), limit: z.number() }),
    handler: ({ query, services }) => services.views.leaks(query, false),
  }),
  route({
    method: 'get',
    path: '/leaks/:id',
    tag: 'network',
    summary: 'One leak; `reveal=true` shows the evidence unredacted (recorded in the audit log)',
    params: leakParams,
    query: revealQuery,
    response: leakSchema,
    handler: ({ params, query, services }) => {
      const l = services.views.leak(params.id, query.reveal);
      if (!l) throw new ApiError('not_found', `no leak ${params.id}`);
      if (query.reveal) services.audit?.('api', 'reveal-leak', String(params.id), { kind: l.kind, client: l.client });
      return l;
    },
  }),
];
