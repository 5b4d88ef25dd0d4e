/**
 * The one place where errors become HTTP answers (style rule 8). Every answer has the same shape,
 * `{ error: { code, message, field? } }`, with a stable `code` that clients and tests rely on. Errors without
 * a known code are logged with their stack and answered as `internal`, with no detail: no stack trace, path
 * or SQL ever reaches a client.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { logger } from '../core/logger.js';
import { FirewallApplyError, PlanValidationError } from '../firewall/apply.js';
import { FirewallInputError } from '../firewall/validate.js';
import { CaptureFormatError } from '../net/capture/types.js';
import { DeviceError } from '../sdk/index.js';

const log = logger('api');

/** Every error code the API answers with (documented in docs/dashboard.md and the OpenAPI document). */
export const ERROR_CODES = {
  unauthenticated: 401,
  setup_required: 409,
  already_set_up: 409,
  wrong_password: 401,
  invalid_setup_code: 403,
  csrf_failed: 403,
  forbidden_origin: 403,
  rate_limited: 429,
  validation_failed: 400,
  invalid_json: 400,
  unsupported_media_type: 415,
  too_large: 413,
  not_found: 404,
  unavailable: 503,
  busy: 409,
  not_a_capture: 422,
  auth_key_required: 400,
  auth_failed: 502,
  device_unsupported: 422,
  device_timeout: 504,
  device_error: 502,
  invalid_block: 400,
  firewall_off: 409,
  firewall_failed: 502,
  restart_required: 409,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = ERROR_CODES[code];
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string; issues?: { field: string; message: string }[] };
}

function zodBody(e: ZodError, where: string): ErrorBody {
  const issues = e.issues.slice(0, 20).map((i) => ({
    field: i.path.length > 0 ? i.path.map(String).join('.') : where,
    message: i.message,
  }));
  const first = issues[0] ?? { field: where, message: 'invalid input' };
  return {
    error: { code: 'validation_failed', message: `${first.field}: ${first.message}`, field: first.field, issues },
  };
}

/** Where a ZodError came from (set by the validation helpers), for the `field` of body-less errors. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly zod: ZodError,
    readonly where: 'query' | 'params' | 'body',
  ) {
    super(zod.message);
  }
}

const DEVICE_CODES: Record<string, ErrorCode> = {
  not_found: 'not_found',
  auth_key_required: 'auth_key_required',
  auth_failed: 'auth_failed',
  unsupported: 'device_unsupported',
  timeout: 'device_timeout',
  malformed: 'validation_failed',
  protocol: 'device_error',
  disconnected: 'device_error',
};

/** Maps any thrown value to (status, body). Pure apart from logging unexpected errors. */
export function toHttpError(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  const answer = (code: ErrorCode, message: string, field?: string, headers: Record<string, string> = {}) => ({
    status: ERROR_CODES[code],
    body: { error: field === undefined ? { code, message } : { code, message, field } },
    headers,
  });
  if (err instanceof ApiError) return answer(err.code, err.message, err.field, err.headers);
  if (err instanceof ValidationError) return { status: 400, body: zodBody(err.zod, err.where), headers: {} };
  if (err instanceof ZodError) return { status: 400, body: zodBody(err, 'body'), headers: {} };
  if (err instanceof DeviceError) return answer(DEVICE_CODES[err.code] ?? 'device_error', err.message);
  if (err instanceof FirewallInputError) {
    if (/firewall is off/.test(err.message)) return answer('firewall_off', err.message);
    return answer('invalid_block', err.message);
  }
  if (err instanceof PlanValidationError) return answer('firewall_failed', err.message);
  if (err instanceof FirewallApplyError) {
    return answer('firewall_failed', `${err.message}${err.rolledBack ? ' (the previous rules were restored)' : ''}`);
  }
  if (err instanceof CaptureFormatError) return answer('not_a_capture', err.message);
  // body-parser errors (express.json / express.raw) carry a `type` and a status.
  const e = err as { type?: string; status?: number; expose?: boolean } | null;
  if (e && typeof e === 'object') {
    if (e.type === 'entity.parse.failed') return answer('invalid_json', 'the request body is not valid JSON');
    if (e.type === 'entity.too.large') return answer('too_large', 'the request body is too large');
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported')
      return answer('unsupported_media_type', 'unsupported body encoding');
    if (e.type === 'request.aborted') return answer('validation_failed', 'the request was aborted');
  }
  log.error('unexpected error in a request', err);
  return answer('internal', 'internal error (details are in the agent log)');
}

export const errorHandler: ErrorRequestHandler = (err, _req, res, next) => {
  if (res.headersSent) {
    next(err);
    return;
  }
  const { status, body, headers } = toHttpError(err);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).json(body);
};

/** 404 for unknown API paths, in the same shape. */
export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'not_found', message: `no such API route: ${req.method} ${req.path}` } });
};
