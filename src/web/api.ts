/**
 * The one module that talks to the API: JSON in and out, the session's CSRF token on every state change,
 * errors turned into ApiFailure with the server's stable code, and a global "logged out" signal on 401.
 */

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
const listeners = new Set<() => void>();

/** Called when the session ended (401): the app shows the login page. */
export function onLoggedOut(fn: () => void): void {
  listeners.add(fn);
}

export function setCsrf(token: string | null): void {
  csrfToken = token;
}

async function failure(res: Response): Promise<ApiFailure> {
  let code = 'http_' + res.status;
  let message = res.statusText || `HTTP ${res.status}`;
  let field: string | undefined;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; field?: string } };
    if (body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
      field = body.error.field;
    }
  } catch {
    // not JSON
  }
  return new ApiFailure(res.status, code, message, field);
}

export async function request<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  raw?: { data: Blob; type: string },
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let payload: BodyInit | undefined;
  if (raw) {
    headers['content-type'] = raw.type;
    payload = raw.data;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body: payload ?? null, credentials: 'same-origin' });
  } catch {
    throw new ApiFailure(0, 'offline', 'the hub does not answer (is the agent running, is this phone on its Wi-Fi?)');
  }
  if (!res.ok) {
    const f = await failure(res);
    if (res.status === 401 && f.code === 'unauthenticated') for (const l of listeners) l();
    throw f;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body);
export const del = <T>(path: string) => request<T>('DELETE', path);

/** Query string from an object, leaving out empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

// ---------- session ----------

export interface SessionState {
  authenticated: boolean;
  setupRequired: boolean;
  csrfToken: string | null;
}

export async function probeSession(): Promise<SessionState> {
  const s = await get<SessionState>('/auth/session');
  setCsrf(s.csrfToken);
  return s;
}

export async function login(password: string): Promise<void> {
  const r = await post<{ csrfToken: string }>('/auth/login', { password });
  setCsrf(r.csrfToken);
}

export async function setup(setupCode: string, password: string): Promise<void> {
  const r = await post<{ csrfToken: string }>('/auth/setup', { setupCode, password });
  setCsrf(r.csrfToken);
}

export async function logout(): Promise<void> {
  await post('/auth/logout');
  setCsrf(null);
}

export async function changePassword(current: string, password: string): Promise<void> {
  const r = await post<{ csrfToken: string }>('/auth/password', { current, password });
  setCsrf(r.csrfToken);
}

export function uploadCapture<T>(file: File): Promise<T> {
  return request<T>('POST', `/captures${qs({ name: file.name.replace(/[/\\\0]/g, '_').slice(0, 200) })}`, undefined, {
    data: file,
    type: 'application/octet-stream',
  });
}
