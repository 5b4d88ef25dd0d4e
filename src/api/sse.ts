/**
 * Server-sent events (`GET /api/v1/events`): live updates for the dashboard — `party` (a phone contacted a
 * new name), `leak`, `sync` (BLE sync progress and errors), `live` (heart rate and other live values of a
 * band the page asked for with `?live=DEVICE`), `rules` (firewall status after an apply), `capture`
 * (a capture import finished).
 *
 * Every client has a bounded queue: when the socket does not take more (slow phone, bad Wi-Fi) events wait
 * in the queue; past `maxQueue` the oldest are dropped and counted, and the client is told with a `dropped`
 * event once it catches up (it then reloads what it shows). At most `maxClients` streams; a comment line
 * every `heartbeatMs` keeps proxies from closing idle streams.
 */
import type { Response } from 'express';
import { logger } from '../core/logger.js';

const log = logger('api:sse');

export type EventType = 'party' | 'leak' | 'sync' | 'live' | 'rules' | 'capture' | 'dropped' | 'hello';

export interface EventHubOptions {
  maxClients?: number;
  maxQueue?: number;
  heartbeatMs?: number;
}

interface Client {
  id: number;
  res: Response;
  queue: string[];
  waiting: boolean;
  dropped: number;
  /** Only these devices' live values. */
  live: Set<string>;
  onClose: (() => void)[];
}

export class EventHub {
  private readonly clients = new Map<number, Client>();
  private nextId = 1;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  readonly maxClients: number;
  readonly maxQueue: number;
  private readonly heartbeatMs: number;
  readonly stats = { published: 0, dropped: 0, clientsServed: 0 };

  constructor(opts: EventHubOptions = {}) {
    this.maxClients = opts.maxClients ?? 32;
    this.maxQueue = opts.maxQueue ?? 256;
    this.heartbeatMs = opts.heartbeatMs ?? 20_000;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Starts a stream on `res`. Returns the client id, or null when the hub is full. */
  attach(res: Response, live: string[] = []): number | null {
    if (this.clients.size >= this.maxClients) return null;
    const c: Client = {
      id: this.nextId++,
      res,
      queue: [],
      waiting: false,
      dropped: 0,
      live: new Set(live),
      onClose: [],
    };
    this.clients.set(c.id, c);
    this.stats.clientsServed++;
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.on('close', () => this.detach(c.id));
    res.on('drain', () => {
      c.waiting = false;
      this.pump(c);
    });
    this.sendTo(c, 'hello', { client: c.id, maxQueue: this.maxQueue });
    if (!this.timer) {
      this.timer = setInterval(() => this.heartbeat(), this.heartbeatMs);
      this.timer.unref();
    }
    return c.id;
  }

  /** Runs `fn` when the client goes away (unsubscribe from live values …). */
  onClose(id: number, fn: () => void): void {
    const c = this.clients.get(id);
    if (c) c.onClose.push(fn);
    else fn();
  }

  private detach(id: number): void {
    const c = this.clients.get(id);
    if (!c) return;
    this.clients.delete(id);
    for (const fn of c.onClose) {
      try {
        fn();
      } catch (e) {
        log.warn(`close handler: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (this.clients.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Sends to every client (live values only to the clients that asked for that device). */
  publish(type: EventType, data: unknown, deviceId?: string): void {
    this.stats.published++;
    for (const c of this.clients.values()) {
      if (type === 'live' && (deviceId === undefined || !c.live.has(deviceId))) continue;
      this.sendTo(c, type, data);
    }
  }

  private sendTo(c: Client, type: EventType, data: unknown): void {
    const frame = `id: ${++this.seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
    c.queue.push(frame);
    if (c.queue.length > this.maxQueue) {
      const n = c.queue.length - this.maxQueue;
      c.queue.splice(0, n);
      c.dropped += n;
      this.stats.dropped += n;
    }
    this.pump(c);
  }

  private pump(c: Client): void {
    while (!c.waiting && c.queue.length > 0) {
      if (c.dropped > 0) {
        const note = `event: dropped\ndata: ${JSON.stringify({ dropped: c.dropped })}\n\n`;
        c.dropped = 0;
        if (!c.res.write(note)) {
          c.waiting = true;
          return;
        }
      }
      const frame = c.queue.shift()!;
      if (!c.res.write(frame)) c.waiting = true;
    }
  }

  private heartbeat(): void {
    for (const c of this.clients.values()) if (!c.waiting) c.res.write(': ping\n\n');
  }

  /** Ends every stream (shutdown). */
  close(): void {
    for (const c of [...this.clients.values()]) {
      c.res.end();
      this.detach(c.id);
    }
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
