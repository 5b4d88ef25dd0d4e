import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FILE, AuthService, hashPassword, RateLimiter, verifyPassword } from '../../../src/api/auth.js';
import { Client, type Hub, PASSWORD, startHub, TEST_SCRYPT } from './harness.js';

describe('passwords', () => {
  it('hashes with scrypt and a random salt, verifies in constant time', async () => {
    const a = await hashPassword('a long password', TEST_SCRYPT);
    const b = await hashPassword('a long password', TEST_SCRYPT);
    expect(a.algorithm).toBe('scrypt');
    expect(a.salt).not.toBe(b.salt);
    expect(a.hash).not.toBe(b.hash);
    expect(await verifyPassword('a long password', a)).toBe(true);
    expect(await verifyPassword('a long passworD', a)).toBe(false);
  });

  it('rate limiter: a sliding window per key, bounded in keys', () => {
    let t = 0;
    const r = new RateLimiter(3, 60_000, 100, () => t);
    expect([r.attempt('a'), r.attempt('a'), r.attempt('a')]).toEqual([0, 0, 0]);
    expect(r.attempt('a')).toBe(60);
    t = 30_000;
    expect(r.attempt('a')).toBe(30);
    expect(r.attempt('b')).toBe(0);
    t = 60_001;
    expect(r.attempt('a')).toBe(0);
    for (let i = 0; i < 500; i++) r.attempt(`k${i}`);
    expect(r.size).toBe(100);
  });
});

describe('auth over HTTP', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startHub({ extra: {} });
  });
  afterAll(async () => {
    await hub.close();
  });

  it('stores only a scrypt hash, in a file only the agent can read', () => {
    const path = join(hub.dataDir, AUTH_FILE);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(PASSWORD);
    expect(JSON.parse(text).algorithm).toBe('scrypt');
    expect(statSync(path).mode & 0o077).toBe(0);
  });

  it('refuses a wrong password with a stable code, then logs in with the right one', async () => {
    const c = new Client(hub.base);
    const bad = await c.call('POST', '/auth/login', { password: 'not the password' });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('wrong_password');
    expect(c.cookie).toBeNull();
    const ok = await c.login();
    expect(ok.status).toBe(200);
    expect(typeof ok.body.csrfToken).toBe('string');
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/); // plain http on loopback
    const s = await c.call('GET', '/auth/session');
    expect(s.body).toEqual({ authenticated: true, setupRequired: false, csrfToken: ok.body.csrfToken });
  });

  it("rejects state changes without the CSRF token, or with another session's", async () => {
    const a = new Client(hub.base);
    const b = new Client(hub.base);
    await a.login();
    await b.login();
    const none = await a.call('POST', '/rules/apply', undefined, { csrf: null });
    expect(none.status).toBe(403);
    expect(none.body.error.code).toBe('csrf_failed');
    const wrong = await a.call('POST', '/rules/apply', undefined, { csrf: b.csrf });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe('csrf_failed');
    const right = await a.call('POST', '/rules/apply');
    expect(right.status).toBe(200);
  });

  it('refuses a login posted from another origin', async () => {
    const c = new Client(hub.base);
    const r = await c.call(
      'POST',
      '/auth/login',
      { password: PASSWORD },
      { headers: { origin: 'http://evil.example' } },
    );
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('forbidden_origin');
  });

  it('logout ends the session', async () => {
    const c = new Client(hub.base);
    await c.login();
    const cookie = c.cookie;
    expect((await c.call('POST', '/auth/logout')).status).toBe(204);
    c.cookie = cookie; // replaying the old cookie does not work either
    const r = await c.call('GET', '/status');
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('unauthenticated');
  });

  it('changes the password: old one refused, new one accepted', async () => {
    const c = new Client(hub.base);
    await c.login();
    const short = await c.call('POST', '/auth/password', { current: PASSWORD, password: 'short' });
    expect(short.status).toBe(400);
    expect(short.body.error.field).toBe('password');
    const r = await c.call('POST', '/auth/password', { current: PASSWORD, password: 'another long secret' });
    expect(r.status).toBe(200);
    c.csrf = r.body.csrfToken;
    expect((await c.call('GET', '/status')).status).toBe(200);
    const d = new Client(hub.base);
    expect((await d.login(PASSWORD)).status).toBe(401);
    expect((await d.login('another long secret')).status).toBe(200);
    const back = await c.call('POST', '/auth/password', { current: 'another long secret', password: PASSWORD });
    expect(back.status).toBe(200);
  });
});

describe('first run and rate limit', () => {
  let hub: Hub;
  beforeAll(async () => {
    hub = await startHub({ password: null });
  });
  afterAll(async () => {
    await hub.close();
  });

  it('needs the setup code printed on the console to set the first password', async () => {
    const c = new Client(hub.base);
    expect((await c.call('GET', '/auth/session')).body).toEqual({
      authenticated: false,
      setupRequired: true,
      csrfToken: null,
    });
    const login = await c.call('POST', '/auth/login', { password: PASSWORD });
    expect(login.status).toBe(409);
    expect(login.body.error.code).toBe('setup_required');
    const wrong = await c.call('POST', '/auth/setup', { setupCode: 'nope', password: PASSWORD });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe('invalid_setup_code');
    const code = hub.api.setupCode!;
    expect(code).toMatch(/^[0-9a-f]{12}$/);
    const ok = await c.call('POST', '/auth/setup', { setupCode: code, password: PASSWORD });
    expect(ok.status).toBe(200);
    c.csrf = ok.body.csrfToken;
    expect((await c.call('GET', '/status')).status).toBe(200);
    const again = await c.call('POST', '/auth/setup', { setupCode: code, password: 'someone else entirely' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_set_up');
  });

  it('limits login attempts per address (429 with Retry-After), the right password included', async () => {
    const c = new Client(hub.base);
    const codes: number[] = [];
    for (let i = 0; i < 12; i++)
      codes.push((await c.call('POST', '/auth/login', { password: `guess number ${i}` })).status);
    expect(codes.slice(0, 9).every((s) => s === 401)).toBe(true);
    const limited = await c.call('POST', '/auth/login', { password: PASSWORD });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('sessions', () => {
  it('expire when idle and are bounded in number', () => {
    let t = 0;
    const a = new AuthService({ dataDir: '/nonexistent-bandguard', now: () => t, idleMs: 1000, maxSessions: 3 });
    const s = a.createSession('1.2.3.4');
    expect(a.session(s.id)).not.toBeNull();
    t = 2000;
    expect(a.session(s.id)).toBeNull();
    const ids = [1, 2, 3, 4, 5].map(() => a.createSession('x').id);
    expect(a.sessionCount).toBe(3);
    expect(a.session(ids[0]!)).toBeNull();
    expect(a.session(ids[4]!)).not.toBeNull();
  });
});
