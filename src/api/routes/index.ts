/** Every API route, in the order they are mounted and documented. */
import type { RouteDef } from '../route.js';
import { authRoutes } from './auth.js';
import { captureRoutes } from './captures.js';
import { deviceRoutes } from './devices.js';
import { eventRoutes } from './events.js';
import { firewallRoutes } from './firewall.js';
import { netRoutes } from './net.js';
import { settingsRoutes } from './settings.js';
import { statusRoutes } from './status.js';

export const apiRoutes: readonly RouteDef[] = [
  ...authRoutes,
  ...statusRoutes,
  ...deviceRoutes,
  ...netRoutes,
  ...firewallRoutes,
  ...captureRoutes,
  ...eventRoutes,
  ...settingsRoutes,
];
