/** Login, first-run setup, logout, password change and the session probe the dashboard starts with. */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { checkOrigin, clearedCookie, currentSession, sessionCookie, sessionIdOf } from '../auth.js';
import { ApiError } from '../errors.js';
import { route } from '../route.js';
import { loginBody, passwordBody, sessionAnswer, setupBody } from '../schemas.js';
import type { ApiServices } from '../services.js';

const csrfAnswer = z.object({ csrfToken: z.string() });

function secure(req: Request): boolean {
  return req.secure;
}

function startSession(services: ApiServices, req: Request, res: Response): { csrfToken: string } {
  services.auth.endSession(sessionIdOf(req));
  const { id, session } = services.auth.createSession(req.ip ?? '');
  res.setHeader('Set-Cookie', sessionCookie(id, secure(req), 7 * 86_400));
  return { csrfToken: session.csrf };
}

export const authRoutes = [
  route({
    method: 'get',
    path: '/auth/session',
    tag: 'auth',
    summary:
      'Whether this browser is logged in (and its CSRF token), and whether the first password is still to be set',
    auth: false,
    response: sessionAnswer,
    handler: ({ res, services }) => {
      const s = currentSession(res);
      return { authenticated: s !== null, setupRequired: !services.auth.hasPassword, csrfToken: s?.csrf ?? null };
    },
  }),
  route({
    method: 'post',
    path: '/auth/setup',
    tag: 'auth',
    summary: 'First run: set the password with the one-time setup code printed on the agent console',
    auth: false,
    body: setupBody,
    response: csrfAnswer,
    handler: async ({ req, res, body, services }) => {
      checkOrigin(req);
      const wait = services.auth.limiter.attempt(`setup:${req.ip ?? ''}`);
      if (wait > 0)
        throw new ApiError('rate_limited', `too many attempts; try again in ${wait} s`, undefined, {
          'Retry-After': String(wait),
        });
      await services.auth.setup(body.setupCode, body.password);
      return startSession(services, req, res);
    },
  }),
  route({
    method: 'post',
    path: '/auth/login',
    tag: 'auth',
    summary: 'Log in with the password (rate-limited per address); sets the session cookie',
    auth: false,
    body: loginBody,
    response: csrfAnswer,
    handler: async ({ req, res, body, services }) => {
      checkOrigin(req);
      const key = `login:${req.ip ?? ''}`;
      const wait = services.auth.limiter.attempt(key);
      if (wait > 0)
        throw new ApiError('rate_limited', `too many login attempts; try again in ${wait} s`, undefined, {
          'Retry-After': String(wait),
        });
      if (!(await services.auth.checkPassword(body.password))) {
        throw new ApiError('wrong_password', 'wrong password', 'password');
      }
      services.auth.limiter.reset(key);
      return startSession(services, req, res);
    },
  }),
  route({
    method: 'post',
    path: '/auth/logout',
    tag: 'auth',
    summary: 'End this session',
    handler: ({ req, res, services }) => {
      services.auth.endSession(sessionIdOf(req));
      res.setHeader('Set-Cookie', clearedCookie(secure(req)));
      return undefined;
    },
  }),
  route({
    method: 'post',
    path: '/auth/password',
    tag: 'auth',
    summary: 'Change the password (every session ends; this one is renewed)',
    body: passwordBody,
    response: csrfAnswer,
    handler: async ({ req, res, body, services }) => {
      const key = `login:${req.ip ?? ''}`;
      const wait = services.auth.limiter.attempt(key);
      if (wait > 0)
        throw new ApiError('rate_limited', `too many attempts; try again in ${wait} s`, undefined, {
          'Retry-After': String(wait),
        });
      if (!(await services.auth.checkPassword(body.current))) {
        throw new ApiError('wrong_password', 'the current password is wrong', 'current');
      }
      await services.auth.setPassword(body.password);
      return startSession(services, req, res);
    },
  }),
];
