/**
 * A route is data: method, path, the zod schemas of its query, path parameters, body and answer, and a thin
 * handler. The server mounts routes from these records and the OpenAPI document is generated from the same
 * records, so the document cannot drift from what is served (a test checks both lists are equal).
 */
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { requireSession, type Session } from './auth.js';
import { ValidationError } from './errors.js';
import type { ApiServices } from './services.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface HandlerContext<Q, P, B> {
  query: Q;
  params: P;
  body: B;
  req: Request;
  res: Response;
  session: Session | null;
  services: ApiServices;
}

export interface RouteDef<Q = unknown, P = unknown, B = unknown> {
  method: Method;
  /** Express path below /api/v1, e.g. `/devices/:id/pair`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  /** Default true: a session is required (and the CSRF header for state changes). */
  auth?: boolean;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  /** A JSON body schema, or `binary` for a raw upload (pcap). */
  body?: z.ZodType<B> | 'binary';
  /** Schema of the JSON answer (documentation; the handlers return exactly this shape). */
  response?: z.ZodType;
  /** Non-JSON answer: its media types (the handler writes `res` itself). */
  produces?: string[];
  status?: number;
  handler(ctx: HandlerContext<Q, P, B>): unknown;
}

/** Keeps the generic parameters of one route while collecting heterogeneous routes in one list. */
export function route<Q = unknown, P = unknown, B = unknown>(def: RouteDef<Q, P, B>): RouteDef {
  return def as unknown as RouteDef;
}

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, where: 'query' | 'params' | 'body'): T {
  if (!schema) return undefined as T;
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new ValidationError(r.error, where);
  return r.data;
}

/** The express handler of a route: auth/CSRF, validation, the handler, the JSON answer. */
export function mount(def: RouteDef, services: ApiServices) {
  return async (req: Request, res: Response): Promise<void> => {
    const session = def.auth === false ? null : requireSession(req, res);
    const query = parse(def.query, req.query, 'query');
    const params = parse(def.params, req.params, 'params');
    const body = def.body === 'binary' ? undefined : parse(def.body, req.body, 'body');
    const out = await def.handler({ query, params, body, req, res, session, services });
    if (res.headersSent || res.writableEnded) return;
    if (out === undefined) {
      res.status(204).end();
      return;
    }
    res.status(def.status ?? 200).json(out);
  };
}
