/** The overview: agent, capture and store health, BLE, firewall, and what the store holds. */
import { z } from 'zod';
import { route } from '../route.js';

export const statusRoutes = [
  route({
    method: 'get',
    path: '/status',
    tag: 'status',
    summary:
      'Agent health (capture, store, BLE, retention), firewall status, and counts of phones, bands, parties and leaks',
    response: z.object({
      agent: z.record(z.string(), z.unknown()).nullable(),
      firewall: z.record(z.string(), z.unknown()).nullable(),
      lastApply: z.record(z.string(), z.unknown()).nullable(),
      devices: z.number().nullable(),
      overview: z.record(z.string(), z.unknown()),
      captures: z.array(z.record(z.string(), z.unknown())),
    }),
    handler: ({ services }) => ({
      agent: services.agent?.status() ?? null,
      firewall: services.rules?.fw.status() ?? null,
      lastApply: services.rules?.lastApply ?? null,
      devices: services.band ? services.band.list().length : null,
      overview: services.views.overview(),
      captures: services.captures?.recent() ?? [],
    }),
  }),
];
