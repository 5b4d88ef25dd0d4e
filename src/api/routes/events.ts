/** Server-sent events: new parties and leaks, sync progress, live heart rate, rule status, imports. */
import { ApiError } from '../errors.js';
import { route } from '../route.js';
import { eventsQuery } from '../schemas.js';

export const eventRoutes = [
  route({
    method: 'get',
    path: '/events',
    tag: 'events',
    summary:
      'Server-sent events: party, leak, sync, live (with ?live=DEVICE), rules, capture, dropped (the client fell behind and should reload)',
    query: eventsQuery,
    produces: ['text/event-stream'],
    handler: async ({ query, res, services }) => {
      const live = query.live !== undefined ? [query.live] : [];
      if (live.length > 0 && !services.band)
        throw new ApiError('unavailable', 'Bluetooth is not available on this hub');
      const id = services.events.attach(res, live);
      if (id === null) throw new ApiError('unavailable', 'too many open event streams');
      if (query.live !== undefined && services.band) {
        try {
          const stop = await services.band.subscribeLive(query.live, () => {});
          services.events.onClose(id, () => void stop().catch(() => {}));
        } catch (e) {
          services.events.publish('sync', {
            deviceId: query.live,
            kind: 'error',
            message: `live values unavailable: ${e instanceof Error ? e.message : String(e)}`,
          });
        }
      }
      return undefined;
    },
  }),
];
