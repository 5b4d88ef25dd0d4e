/**
 * Test helper: a real HTTP server on 127.0.0.1 (ephemeral port) that plays RDAP registries. Each test
 * installs a handler; the server counts requests and the requests open at the same time (to check the
 * client's concurrency cap), and closes every socket on `close()`.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse, path: string) => void | Promise<void>;

export interface RdapTestServer {
  base: string;
  requests: string[];
  open: number;
  maxOpen: number;
  handle: Handler;
  close(): Promise<void>;
}

export async function startRdapServer(handle: Handler): Promise<RdapTestServer> {
  const sockets = new Set<Socket>();
  const state: RdapTestServer = {
    base: '',
    requests: [],
    open: 0,
    maxOpen: 0,
    handle,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    state.requests.push(path);
    state.open++;
    state.maxOpen = Math.max(state.maxOpen, state.open);
    let counted = true;
    const done = (): void => {
      if (counted) state.open--;
      counted = false;
    };
    res.on('close', done);
    req.on('close', () => {
      if (res.writableEnded) done();
    });
    Promise.resolve(state.handle(req, res, path)).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(599);
      res.end(String(err));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../../fixtures/geo/rdap/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
}

export function sendJson(res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/rdap+json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
