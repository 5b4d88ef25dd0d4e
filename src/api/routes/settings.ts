/** Settings: the agent's configuration keys (saved to its config file; next start) and the firewall's switches (live). */
import { z } from 'zod';
import { route } from '../route.js';
import { settingsPatchSchema } from '../settings.js';

export const settingsRoutes = [
  route({
    method: 'get',
    path: '/settings',
    tag: 'settings',
    summary:
      'The configuration in force (with where each key came from), its keys with types and limits, and the firewall settings',
    response: z.record(z.string(), z.unknown()),
    handler: ({ services }) => services.settings.get(),
  }),
  route({
    method: 'patch',
    path: '/settings',
    tag: 'settings',
    summary:
      'Change configuration keys (validated by the config schema, written to the config file) and firewall settings',
    body: settingsPatchSchema,
    response: z.object({
      saved: z.array(z.string()),
      restartRequired: z.boolean(),
      overridden: z.array(z.string()),
      firewall: z.record(z.string(), z.unknown()).nullable(),
    }),
    handler: ({ body, services }) => services.settings.update(body),
  }),
];
