/**
 * The express app of the API and the dashboard (`createApp`: a factory, it does not listen).
 *
 * - `/api/v1/...`: JSON routes from src/api/routes (validated with zod, one error mapper), the OpenAPI
 *   document at `/api/v1/openapi.json`, server-sent events at `/api/v1/events`.
 * - `/`: the dashboard, static files built into dist/web (HTML, CSS, browser modules), and uPlot's files
 *   from node_modules under `/vendor/uplot/`.
 * - Security headers (helmet) with a strict Content-Security-Policy: scripts, styles and connections only
 *   from this origin, no inline script, no framing.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { findShipped } from '../core/paths.js';
import { sessionMiddleware } from './auth.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { API_PREFIX, buildOpenApi } from './openapi.js';
import { mount, type RouteDef, route } from './route.js';
import { apiRoutes } from './routes/index.js';
import type { ApiServices } from './services.js';

export interface AppOptions {
  /** Directory of the built dashboard (default: dist/web of this package; none: API only). */
  webRoot?: string | null;
  /** The app is reached over https (a TLS proxy in front): Secure cookies and HSTS. */
  https?: boolean;
  /** express `trust proxy` (for the client address behind a reverse proxy). Default off. */
  trustProxy?: boolean | string | number;
  /** Largest JSON body (bytes). */
  jsonLimit?: number;
}

function defaultWebRoot(): string | null {
  try {
    return findShipped('dist/web', 'dir');
  } catch {
    return null;
  }
}

function uplotDist(): string | null {
  try {
    const req = createRequire(import.meta.url);
    return join(dirname(req.resolve('uplot/package.json')), 'dist');
  } catch {
    return null;
  }
}

/** Every route of the app, the OpenAPI route included (the document lists itself). */
export function allRoutes(): RouteDef[] {
  const openapi = route({
    method: 'get',
    path: '/openapi.json',
    tag: 'meta',
    summary: 'This OpenAPI 3.1 document',
    handler: () => doc,
  });
  const list = [...apiRoutes, openapi];
  const doc = buildOpenApi(list);
  return list;
}

export function createApp(services: ApiServices, options: AppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          ...(options.https ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      strictTransportSecurity: options.https ? { maxAge: 15_552_000, includeSubDomains: false } : false,
      referrerPolicy: { policy: 'no-referrer' },
      crossOriginEmbedderPolicy: false,
    }),
  );

  const api = express.Router();
  api.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  api.use(sessionMiddleware(services.auth));
  api.use(express.json({ limit: options.jsonLimit ?? 64 * 1024, type: ['application/json', 'application/*+json'] }));
  for (const def of allRoutes()) api[def.method](def.path, mount(def, services));
  api.use(notFoundHandler);
  api.use(errorHandler);
  app.use(API_PREFIX, api);

  const uplot = uplotDist();
  if (uplot) app.use('/vendor/uplot', express.static(uplot, { index: false, maxAge: '7d', immutable: true }));
  const web = options.webRoot === undefined ? defaultWebRoot() : options.webRoot;
  if (web && existsSync(join(web, 'index.html'))) {
    app.use(
      express.static(web, {
        index: 'index.html',
        setHeaders: (res, path) => {
          res.setHeader('Cache-Control', path.endsWith('.html') ? 'no-cache' : 'public, max-age=300');
        },
      }),
    );
  } else {
    app.get('/', (_req, res) => {
      res
        .status(503)
        .type('text/plain')
        .send('The dashboard is not built: run `npm run build`. The API is at /api/v1 (see /api/v1/openapi.json).\n');
    });
  }
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found\n');
  });
  app.use(errorHandler);
  return app;
}
