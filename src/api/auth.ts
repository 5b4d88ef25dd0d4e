/**
 * Dashboard authentication: one password per hub.
 *
 * - First run: no password yet; the agent prints a one-time setup code on its console (so the first
 *   person on the Wi-Fi cannot claim the hub), and `POST /api/v1/auth/setup {setupCode, password}` sets the
 *   password. `demo` sets a generated password instead and prints it.
 * - Passwords are hashed with scrypt (node:crypto; N=2^15, r=8, p=1, 16-byte salt) and kept in
 *   `<dataDir>/dashboard-auth.json` (mode 0600); compared in constant time.
 * - Sessions: a random 256-bit id in a cookie (HttpOnly, SameSite=Strict, Path=/, Secure behind https),
 *   held in memory by the hash of the id (a restart logs everyone out), idle timeout and absolute lifetime,
 *   at most `maxSessions` (the oldest goes first).
 * - CSRF: a synchronizer token per session, returned by login/session and required in the `X-CSRF-Token`
 *   header of every state-changing request; plus an Origin check on the requests that create a session.
 * - Login rate limit per client address: a sliding window of attempts, in a map of bounded size.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { ApiError } from './errors.js';

export const AUTH_FILE = 'dashboard-auth.json';
export const SESSION_COOKIE = 'bandguard_session';
export const CSRF_HEADER = 'x-csrf-token';
export const MIN_PASSWORD = 10;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1 };

const authFileSchema = z.object({
  version: z.literal(1),
  algorithm: z.literal('scrypt'),
  N: z.number().int().min(1024),
  r: z.number().int().min(1),
  p: z.number().int().min(1),
  salt: z.string().min(16),
  hash: z.string().min(32),
  updatedAt: z.string(),
});
type AuthFile = z.infer<typeof authFileSchema>;

export const passwordSchema = z
  .string({ error: 'must be a string' })
  .min(MIN_PASSWORD, { error: `must be at least ${MIN_PASSWORD} characters` })
  .max(256, { error: 'must be at most 256 characters' });

function scryptAsync(password: string, salt: Buffer, params: ScryptParams, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFC'),
      salt,
      len,
      { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + (1 << 20) },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<AuthFile> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, params, 32);
  return {
    version: 1,
    algorithm: 'scrypt',
    ...params,
    salt: salt.toString('base64'),
    hash: hash.toString('base64'),
    updatedAt: new Date().toISOString(),
  };
}

export async function verifyPassword(password: string, stored: AuthFile): Promise<boolean> {
  const want = Buffer.from(stored.hash, 'base64');
  const got = await scryptAsync(password, Buffer.from(stored.salt, 'base64'), stored, want.length);
  return got.length === want.length && timingSafeEqual(got, want);
}

function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

/** Sliding-window limiter per key with a bounded number of keys (the least recently used key goes). */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  constructor(
    readonly max: number,
    readonly windowMs: number,
    readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records an attempt; returns 0 when allowed, else the seconds to wait. */
  attempt(key: string): number {
    const t = this.now();
    const list = (this.hits.get(key) ?? []).filter((x) => t - x < this.windowMs);
    this.hits.delete(key);
    if (list.length >= this.max) {
      this.hits.set(key, list);
      return Math.max(1, Math.ceil((list[0]! + this.windowMs - t) / 1000));
    }
    list.push(t);
    this.hits.set(key, list);
    while (this.hits.size > this.maxKeys) this.hits.delete(this.hits.keys().next().value!);
    return 0;
  }

  reset(key: string): void {
    this.hits.delete(key);
  }

  get size(): number {
    return this.hits.size;
  }
}

export interface Session {
  csrf: string;
  createdAt: number;
  lastSeen: number;
  ip: string;
}

export interface AuthOptions {
  dataDir: string;
  scrypt?: ScryptParams;
  /** Idle timeout of a session (default 12 h) and its absolute lifetime (default 7 days). */
  idleMs?: number;
  lifetimeMs?: number;
  maxSessions?: number;
  /** Login attempts allowed per address per window (default 10 per 5 minutes). */
  loginAttempts?: number;
  loginWindowMs?: number;
  now?: () => number;
}

export class AuthService {
  private readonly sessions = new Map<string, Session>();
  private readonly path: string;
  private readonly params: ScryptParams;
  readonly limiter: RateLimiter;
  private readonly now: () => number;
  private readonly idleMs: number;
  private readonly lifetimeMs: number;
  private readonly maxSessions: number;
  /** One-time code that allows the first password to be set (null once a password exists). */
  private setupCode: string | null = null;

  constructor(opts: AuthOptions) {
    this.path = join(opts.dataDir, AUTH_FILE);
    this.params = opts.scrypt ?? DEFAULT_SCRYPT;
    this.now = opts.now ?? Date.now;
    this.idleMs = opts.idleMs ?? 12 * 3600_000;
    this.lifetimeMs = opts.lifetimeMs ?? 7 * 86_400_000;
    this.maxSessions = opts.maxSessions ?? 64;
    this.limiter = new RateLimiter(opts.loginAttempts ?? 10, opts.loginWindowMs ?? 5 * 60_000, 10_000, this.now);
    if (!this.stored()) this.setupCode = randomBytes(6).toString('hex');
  }

  private stored(): AuthFile | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return null;
    }
    const parsed = authFileSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${this.path} is damaged; delete it to set a new password`);
    return parsed.data;
  }

  get hasPassword(): boolean {
    return this.stored() !== null;
  }

  /** The code to print on the console while no password is set. */
  get pendingSetupCode(): string | null {
    return this.hasPassword ? null : this.setupCode;
  }

  async setPassword(password: string): Promise<void> {
    const file = await hashPassword(passwordSchema.parse(password), this.params);
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
    this.setupCode = null;
    this.sessions.clear();
  }

  /** First run: sets the password when the setup code matches. */
  async setup(code: string, password: string): Promise<void> {
    if (this.hasPassword) throw new ApiError('already_set_up', 'a password is already set; log in instead');
    if (this.setupCode === null || !safeEqual(code.trim().toLowerCase(), this.setupCode)) {
      throw new ApiError('invalid_setup_code', 'wrong setup code (it is printed on the agent console)', 'setupCode');
    }
    await this.setPassword(password);
  }

  async checkPassword(password: string): Promise<boolean> {
    const stored = this.stored();
    if (!stored) throw new ApiError('setup_required', 'no password is set yet: set one first');
    return verifyPassword(password, stored);
  }

  createSession(ip: string): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    const session: Session = { csrf: randomBytes(32).toString('base64url'), createdAt: t, lastSeen: t, ip };
    this.sessions.set(this.key(id), session);
    while (this.sessions.size > this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    return { id, session };
  }

  private key(id: string): string {
    return createHash('sha256').update(id).digest('base64url');
  }

  /** The live session of a cookie value, refreshed; null when unknown or expired. */
  session(id: string | undefined): Session | null {
    if (!id || id.length > 128) return null;
    const k = this.key(id);
    const s = this.sessions.get(k);
    if (!s) return null;
    const t = this.now();
    if (t - s.lastSeen > this.idleMs || t - s.createdAt > this.lifetimeMs) {
      this.sessions.delete(k);
      return null;
    }
    s.lastSeen = t;
    // Most recently used last: the eviction takes the least recently used.
    this.sessions.delete(k);
    this.sessions.set(k, s);
    return s;
  }

  endSession(id: string | undefined): void {
    if (id) this.sessions.delete(this.key(id));
  }

  get sessionCount(): number {
    return this.sessions.size;
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k && !(k in out)) {
      try {
        out[k] = decodeURIComponent(v);
      } catch {
        out[k] = v;
      }
    }
  }
  return out;
}

export function sessionCookie(id: string, secure: boolean, maxAgeSec: number): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}

export function sessionIdOf(req: Request): string | undefined {
  return parseCookies(req.headers.cookie)[SESSION_COOKIE];
}

/** `res.locals.session` for every request (null without a valid cookie). */
export function sessionMiddleware(auth: AuthService): RequestHandler {
  return (req, res, next) => {
    res.locals.session = auth.session(sessionIdOf(req));
    next();
  };
}

export function currentSession(res: Response): Session | null {
  return (res.locals.session as Session | null | undefined) ?? null;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** 401 without a session; 403 for a state change without the session's CSRF token. */
export function requireSession(req: Request, res: Response): Session {
  const s = currentSession(res);
  if (!s) throw new ApiError('unauthenticated', 'log in first');
  if (STATE_CHANGING.has(req.method)) {
    const token = req.get(CSRF_HEADER);
    if (!token) throw new ApiError('csrf_failed', `missing ${CSRF_HEADER} header`);
    if (!safeEqual(token, s.csrf)) throw new ApiError('csrf_failed', `wrong ${CSRF_HEADER} header`);
  }
  return s;
}

/**
 * For the requests that create a session (setup, login): a browser always sends Origin on a cross-site
 * POST; it must name this host. (Non-browser clients send none and are not a CSRF vector.)
 */
export function checkOrigin(req: Request): void {
  const origin = req.get('origin');
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new ApiError('forbidden_origin', 'bad Origin header');
  }
  if (host !== req.get('host')) throw new ApiError('forbidden_origin', `requests from ${origin} are not allowed`);
}
