/** The OpenAPI document lists exactly the routes the app serves, with their parameters and bodies. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PREFIX, openApiPath } from '../../../src/api/openapi.js';
import { Client, type Hub, startHub } from './harness.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  name?: string;
}

describe('OpenAPI document', () => {
  let hub: Hub;
  let doc: { openapi: string; paths: Record<string, Record<string, Record<string, unknown>>> };

  beforeAll(async () => {
    hub = await startHub();
    const c = new Client(hub.base);
    await c.login();
    const r = await c.call('GET', '/openapi.json');
    expect(r.status).toBe(200);
    doc = r.body;
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('is OpenAPI 3.1 and requires the session everywhere but the login routes', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths[`${API_PREFIX}/auth/login`]!.post!.security).toEqual([]);
    expect(doc.paths[`${API_PREFIX}/parties`]!.get!.security).toBeUndefined();
  });

  it('lists every route express serves under /api/v1, and nothing else', () => {
    // Walk the real express router of the running app (not the route records).
    const app = hub.api.server.listeners('request')[0] as unknown as { router: { stack: Layer[] } };
    const served: string[] = [];
    const walk = (stack: Layer[]) => {
      for (const l of stack) {
        if (l.route)
          for (const m of Object.keys(l.route.methods)) served.push(`${m} ${API_PREFIX}${openApiPath(l.route.path)}`);
        else if (l.handle?.stack) walk(l.handle.stack);
      }
    };
    walk(app.router.stack);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(served.length).toBeGreaterThan(25);
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it('documents parameters and bodies from the zod schemas', () => {
    const parties = doc.paths[`${API_PREFIX}/parties`]!.get! as {
      parameters: { name: string; in: string; schema: { enum?: string[] } }[];
    };
    const names = parties.parameters.map((p) => p.name);
    for (const n of ['client', 'role', 'party', 'q', 'since', 'sort', 'order', 'offset', 'limit'])
      expect(names).toContain(n);
    expect(parties.parameters.find((p) => p.name === 'role')!.schema.enum).toContain('advertising');
    const pair = doc.paths[`${API_PREFIX}/devices/{id}/pair`]!.post! as {
      parameters: { name: string; in: string; required: boolean }[];
      requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> };
    };
    expect(pair.parameters).toContainEqual(expect.objectContaining({ name: 'id', in: 'path', required: true }));
    expect(Object.keys(pair.requestBody.content['application/json']!.schema.properties)).toEqual(['authKey']);
    const upload = doc.paths[`${API_PREFIX}/captures`]!.post! as { requestBody: { content: Record<string, unknown> } };
    expect(Object.keys(upload.requestBody.content)).toContain('application/vnd.tcpdump.pcap');
    const events = doc.paths[`${API_PREFIX}/events`]!.get! as {
      responses: Record<string, { content: Record<string, unknown> }>;
    };
    expect(Object.keys(events.responses['200']!.content)).toEqual(['text/event-stream']);
  });
});
