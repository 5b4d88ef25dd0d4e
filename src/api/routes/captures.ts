/** Capture files: import one (upload → analysis → store) and the live capture's health. */
import { z } from 'zod';
import { ApiError } from '../errors.js';
import { route } from '../route.js';
import { capturesQuery } from '../schemas.js';

const CAPTURE_TYPES = new Set([
  'application/vnd.tcpdump.pcap',
  'application/x-pcap',
  'application/x-pcapng',
  'application/octet-stream',
  'application/gzip',
]);

export const captureRoutes = [
  route({
    method: 'get',
    path: '/captures',
    tag: 'captures',
    summary: 'The live capture (state, packets, drops, filter) and the recent imports',
    response: z.object({
      live: z.record(z.string(), z.unknown()).nullable(),
      imports: z.array(z.record(z.string(), z.unknown())),
      importing: z.boolean(),
      maxBytes: z.number().nullable(),
    }),
    handler: ({ services }) => ({
      live: services.agent?.status().capture ?? null,
      imports: services.captures?.recent() ?? [],
      importing: services.captures?.running ?? false,
      maxBytes: services.captures?.maxBytes ?? null,
    }),
  }),
  route({
    method: 'post',
    path: '/captures',
    tag: 'captures',
    summary:
      'Import a pcap or pcapng file (raw body, Content-Type application/vnd.tcpdump.pcap or application/octet-stream): its phones, parties, leaks and events go into the store',
    query: capturesQuery,
    body: 'binary',
    status: 201,
    response: z.record(z.string(), z.unknown()),
    handler: async ({ req, query, services }) => {
      if (!services.captures) throw new ApiError('unavailable', 'capture import is not available in this agent');
      const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!CAPTURE_TYPES.has(type)) {
        throw new ApiError(
          'unsupported_media_type',
          'send the capture file as application/vnd.tcpdump.pcap or application/octet-stream',
        );
      }
      const r = await services.captures.importStream(req, query.name ?? 'upload.pcap');
      services.events.publish('capture', r);
      return r;
    },
  }),
];
