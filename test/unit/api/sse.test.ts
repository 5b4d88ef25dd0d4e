/** The event hub: bounded per-client queues, drop counting and the catch-up notice, live filtering, limits. */
import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import { chooseListen } from '../../../src/api/compose.js';
import { EventHub } from '../../../src/api/sse.js';
import { loadConfig } from '../../../src/config/load.js';

/** A response whose socket accepts writes only while `open`. */
class FakeRes extends EventEmitter {
  open = true;
  written: string[] = [];
  headers: Record<string, string> = {};
  code = 0;
  status(c: number) {
    this.code = c;
    return this;
  }
  setHeader(k: string, v: string) {
    this.headers[k] = v;
  }
  flushHeaders() {}
  write(s: string): boolean {
    this.written.push(s);
    return this.open;
  }
  end() {
    this.emit('close');
  }
}

const asRes = (r: FakeRes) => r as unknown as Response;

describe('EventHub', () => {
  it('queues at most maxQueue events for a slow client, counts drops and says so when it catches up', () => {
    const hub = new EventHub({ maxQueue: 10, heartbeatMs: 60_000 });
    const res = new FakeRes();
    res.open = false; // the hello frame fills the socket
    expect(hub.attach(asRes(res))).not.toBeNull();
    expect(res.headers['Content-Type']).toMatch(/text\/event-stream/);
    for (let i = 0; i < 100; i++) hub.publish('party', { i });
    expect(res.written).toHaveLength(1); // only hello reached the socket
    expect(hub.stats.dropped).toBe(90);
    res.open = true;
    res.emit('drain');
    expect(res.written[1]).toBe('event: dropped\ndata: {"dropped":90}\n\n');
    const data = res.written.slice(2).map((f) => JSON.parse(/data: (.*)\n/.exec(f)![1]!).i);
    expect(data).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    hub.close();
    expect(hub.size).toBe(0);
  });

  it('sends live values only to the clients that asked for that device; bounded number of streams', () => {
    const hub = new EventHub({ maxClients: 2, heartbeatMs: 60_000 });
    const a = new FakeRes();
    const b = new FakeRes();
    hub.attach(asRes(a), ['c80f10a1b203']);
    hub.attach(asRes(b));
    expect(hub.attach(asRes(new FakeRes()))).toBeNull();
    hub.publish('live', { bpm: 70 }, 'c80f10a1b203');
    hub.publish('live', { bpm: 80 }, 'e47a2ca1b204');
    expect(a.written.filter((f) => f.includes('event: live'))).toHaveLength(1);
    expect(b.written.filter((f) => f.includes('event: live'))).toHaveLength(0);
    let closed = 0;
    const id = hub.attach(asRes(new FakeRes()));
    expect(id).toBeNull();
    b.emit('close');
    const c = new FakeRes();
    const cid = hub.attach(asRes(c))!;
    hub.onClose(cid, () => closed++);
    c.emit('close');
    expect(closed).toBe(1);
    hub.close();
  });
});

describe('where the API listens', () => {
  const config = (listen?: string) =>
    loadConfig({ env: {}, flags: { dataDir: '/tmp/x', ...(listen ? { 'api.listen': listen } : {}) } }).config;

  it('an explicit api.listen wins', () => {
    expect(chooseListen(config('192.0.2.1:9000'), true, () => ['10.0.0.1'])).toEqual({
      host: '192.0.2.1',
      port: 9000,
      note: null,
    });
    expect(chooseListen(config(':9000'), true, () => [])).toMatchObject({ host: '0.0.0.0', port: 9000 });
  });

  it('by default: the access point interface IPv4 address, else loopback (said so)', () => {
    const c = config();
    expect(chooseListen(c, false, (i) => (i === 'wlan0' ? ['fe80::1', '192.168.4.1'] : []))).toMatchObject({
      host: '192.168.4.1',
      port: 8080,
    });
    const none = chooseListen(c, false, () => []);
    expect(none.host).toBe('127.0.0.1');
    expect(none.note).toMatch(/wlan0 has no IPv4 address/);
  });
});
