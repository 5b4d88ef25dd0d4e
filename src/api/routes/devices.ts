/** Bands, scales and monitors over BLE: scan, pair (with the auth key where needed), sync, forget, samples, export. */
import { z } from 'zod';
import { DeviceError } from '../../sdk/index.js';
import { ApiError } from '../errors.js';
import { route } from '../route.js';
import { deviceParams, exportQuery, pairBody, samplesQuery, scanBody } from '../schemas.js';
import type { ApiServices, BandApi } from '../services.js';

function band(s: ApiServices): BandApi {
  if (!s.band) throw new ApiError('unavailable', 'Bluetooth is not available on this hub (bandguard doctor says why)');
  return s.band;
}

function paired(b: BandApi, id: string) {
  const d = b.list().find((x) => x.id === id);
  if (!d) throw new DeviceError('not_found', `device ${id} is not paired`);
  return d;
}

const EXPORT_TYPES = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
  fhir: 'application/fhir+json',
} as const;

export const deviceRoutes = [
  route({
    method: 'get',
    path: '/devices',
    tag: 'devices',
    summary: 'Paired devices with their last sync, error and sample counts',
    response: z.object({ items: z.array(z.record(z.string(), z.unknown())) }),
    handler: ({ services }) => ({ items: band(services).list() }),
  }),
  route({
    method: 'post',
    path: '/devices/scan',
    tag: 'devices',
    summary: 'Scan for devices nearby: matched (supported) ones first, strongest signal first',
    body: scanBody,
    response: z.object({ items: z.array(z.record(z.string(), z.unknown())) }),
    handler: async ({ body, services }) => ({ items: await band(services).scan(body.durationMs) }),
  }),
  route({
    method: 'post',
    path: '/devices/sync',
    tag: 'devices',
    summary: 'Sync every paired device now (one at a time; a failure does not stop the others)',
    response: z.object({ items: z.array(z.record(z.string(), z.unknown())) }),
    handler: async ({ services }) => ({ items: await band(services).sync() }),
  }),
  route({
    method: 'post',
    path: '/devices/:id/pair',
    tag: 'devices',
    summary: 'Pair a device found by a scan (authKey: the 32-hex-digit key for bands that need one), then sync it',
    params: deviceParams,
    body: pairBody,
    status: 201,
    response: z.record(z.string(), z.unknown()),
    handler: ({ params, body, services }) =>
      band(services).pair(params.id, body.authKey !== undefined ? { authKey: body.authKey } : {}),
  }),
  route({
    method: 'post',
    path: '/devices/:id/sync',
    tag: 'devices',
    summary: 'Sync one paired device now',
    params: deviceParams,
    response: z.record(z.string(), z.unknown()),
    handler: async ({ params, services }) => {
      const b = band(services);
      paired(b, params.id);
      const [out] = await b.sync(params.id);
      return out;
    },
  }),
  route({
    method: 'delete',
    path: '/devices/:id',
    tag: 'devices',
    summary: 'Forget a paired device (its bond and samples)',
    params: deviceParams,
    handler: async ({ params, services }) => {
      if (!(await band(services).forget(params.id)))
        throw new DeviceError('not_found', `device ${params.id} is not paired`);
      return undefined;
    },
  }),
  route({
    method: 'get',
    path: '/devices/:id/samples',
    tag: 'devices',
    summary: 'Samples of a device over a time range (kinds: steps, heart_rate, systolic, weight, glucose …)',
    params: deviceParams,
    query: samplesQuery,
    response: z.object({
      device: z.string(),
      items: z.array(z.object({ kind: z.string(), ts: z.number(), value: z.number() })),
      truncated: z.boolean(),
    }),
    handler: ({ params, query, services }) => {
      const b = band(services);
      paired(b, params.id);
      const rows = b.samples({
        deviceId: params.id,
        ...(query.kinds ? { kinds: query.kinds } : {}),
        ...(query.since !== undefined ? { since: query.since } : {}),
        ...(query.until !== undefined ? { until: query.until } : {}),
        limit: query.limit + 1,
        order: query.order,
      });
      const truncated = rows.length > query.limit;
      return {
        device: params.id,
        items: rows.slice(0, query.limit).map((r) => ({ kind: r.kind, ts: r.ts, value: r.value })),
        truncated,
      };
    },
  }),
  route({
    method: 'get',
    path: '/devices/:id/export',
    tag: 'devices',
    summary: 'Download the samples as CSV, JSON or a FHIR R4 Bundle',
    params: deviceParams,
    query: exportQuery,
    produces: Object.values(EXPORT_TYPES),
    handler: ({ params, query, res, services }) => {
      const range: { since?: number; until?: number } = {};
      if (query.since !== undefined) range.since = query.since;
      if (query.until !== undefined) range.until = query.until;
      const text = band(services).export(params.id, query.format, range);
      const ext = query.format === 'csv' ? 'csv' : 'json';
      res.setHeader('Content-Type', EXPORT_TYPES[query.format]);
      res.setHeader('Content-Disposition', `attachment; filename="bandguard-${params.id}-${query.format}.${ext}"`);
      res.send(text);
      return undefined;
    },
  }),
];
