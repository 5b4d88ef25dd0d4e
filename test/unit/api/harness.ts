/**
 * A real agent on a throwaway data dir (real SQLite file, the BLE simulator, no live capture, firewall in
 * dry-run), with the API listening on 127.0.0.1:0, and a small fetch client that keeps the session cookie
 * and the CSRF token like the dashboard does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../../src/agent/agent.js';
import { type RunningApi, type StartApiOptions, startApi } from '../../../src/api/compose.js';
import type { Cron } from '../../../src/ble/scheduler.js';
import { loadConfig } from '../../../src/config/load.js';

export const PASSWORD = 'correct horse battery';
/** Cheap scrypt for tests (the production cost is N=2^15). */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };

const noCron: Cron = { schedule: () => ({ stop() {} }) };

export interface Hub {
  dataDir: string;
  agent: Agent;
  api: RunningApi;
  base: string;
  close(): Promise<void>;
}

export async function startHub(
  opts: { ble?: boolean; password?: string | null; configFile?: string | null; extra?: Partial<StartApiOptions> } = {},
): Promise<Hub> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bandguard-api-'));
  const { config, origins } = loadConfig({
    env: {},
    flags: { dataDir, 'ble.enabled': opts.ble ?? false, 'ble.simulate': true, 'capture.enabled': false, safe: true },
  });
  const agent = await Agent.start({ config, cron: noCron, lock: false });
  const api = await startApi({
    agent,
    config,
    origins,
    configFile: opts.configFile ?? null,
    firewallDryRun: true,
    scrypt: TEST_SCRYPT,
    listen: '127.0.0.1:0',
    ...(opts.password === null ? {} : { password: opts.password ?? PASSWORD }),
    ...opts.extra,
  });
  return {
    dataDir,
    agent,
    api,
    base: `http://127.0.0.1:${api.port}/api/v1`,
    async close() {
      await api.close();
      await agent.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: answers are JSON, checked field by field by the tests
export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A browser-like client: keeps the cookie, sends the CSRF token on state changes. */
export class Client {
  cookie: string | null = null;
  csrf: string | null = null;
  constructor(readonly base: string) {}

  // biome-ignore lint/suspicious/noExplicitAny: answers are JSON, checked field by field by the tests
  async call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    opts: { csrf?: string | null; headers?: Record<string, string>; raw?: Uint8Array | string } = {},
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.cookie) headers.cookie = this.cookie;
    const token = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (token && method !== 'GET') headers['x-csrf-token'] = token;
    let payload: Uint8Array | string | undefined = opts.raw;
    if (body !== undefined) {
      headers['content-type'] ??= 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${this.base}${path}`, { method, headers, body: payload ?? null });
    const set = res.headers.get('set-cookie');
    if (set) {
      const v = set.split(';')[0]!;
      this.cookie = v.endsWith('=') ? null : v;
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  async login(password = PASSWORD): Promise<Answer> {
    const r = await this.call('POST', '/auth/login', { password });
    if (r.status === 200) this.csrf = r.body.csrfToken;
    return r;
  }
}
