/** Blocking: entries (toggle a domain, organization or role, per phone or for all), preview, rule status. */
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { route } from '../route.js';
import type { RulesController } from '../rules.js';
import { applySchema, blockBody, blockEntrySchema, blockParams } from '../schemas.js';
import type { ApiServices } from '../services.js';

function rules(s: ApiServices): RulesController {
  if (!s.rules) throw new ApiError('unavailable', 'the firewall is not available in this agent');
  return s.rules;
}

const previewAnswer = z.object({
  entry: z.object({ kind: z.string(), target: z.string(), client: z.string().nullable(), action: z.string() }),
  exists: z.boolean(),
  covers: z.array(z.object({ client: z.string(), name: z.string() })),
  coversTotal: z.number(),
  collateral: z.array(z.record(z.string(), z.unknown())),
  before: z.record(z.string(), z.number()),
  after: z.record(z.string(), z.number()),
  newSets: z.array(z.string()),
  warnings: z.array(z.string()),
});

export const firewallRoutes = [
  route({
    method: 'get',
    path: '/blocks',
    tag: 'blocks',
    summary: 'The blocking policy: every entry',
    response: z.object({ items: z.array(blockEntrySchema) }),
    handler: ({ services }) => ({ items: rules(services).list() }),
  }),
  route({
    method: 'post',
    path: '/blocks/preview',
    tag: 'blocks',
    summary:
      'What an entry would do before it is added: names already contacted that it would block, collateral shared addresses, rule counts before and after',
    body: blockBody,
    response: previewAnswer,
    handler: ({ body, services }) => rules(services).preview(body),
  }),
  route({
    method: 'post',
    path: '/blocks',
    tag: 'blocks',
    summary: 'Add an entry and apply the new rules (the answer says whether the apply worked)',
    body: blockBody,
    status: 201,
    response: z.object({ entry: blockEntrySchema, created: z.boolean(), apply: applySchema }),
    handler: async ({ body, services }) => {
      const r = await rules(services).add(body);
      services.events.publish('rules', { status: services.rules?.fw.status(), lastApply: r.apply });
      return r;
    },
  }),
  route({
    method: 'delete',
    path: '/blocks/:id',
    tag: 'blocks',
    summary: 'Remove an entry and apply the new rules',
    params: blockParams,
    response: z.object({ entry: blockEntrySchema, apply: applySchema }),
    handler: async ({ params, services }) => {
      const r = await rules(services).remove(params.id);
      if (!r) throw new ApiError('not_found', `no block entry ${params.id}`);
      services.events.publish('rules', { status: services.rules?.fw.status(), lastApply: r.apply });
      return r;
    },
  }),
  route({
    method: 'get',
    path: '/rules',
    tag: 'rules',
    summary:
      'The generated rules (sets, iptables chains, dnsmasq lines, collateral, warnings), apply status and last error',
    response: z.object({
      status: z.record(z.string(), z.unknown()),
      lastApply: applySchema.nullable(),
      plan: z.record(z.string(), z.unknown()),
    }),
    handler: ({ services }) => rules(services).view(),
  }),
  route({
    method: 'post',
    path: '/rules/apply',
    tag: 'rules',
    summary: 'Apply the stored policy now (idempotent)',
    response: applySchema,
    handler: async ({ services }) => {
      const r = await rules(services).apply('apply');
      services.events.publish('rules', { status: services.rules?.fw.status(), lastApply: r });
      return r;
    },
  }),
];
