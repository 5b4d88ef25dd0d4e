/** The live event stream (server-sent events), reconnecting; pages subscribe by event type. */

type Handler = (data: unknown) => void;

const handlers = new Map<string, Set<Handler>>();
let source: EventSource | null = null;
let liveDevice: string | null = null;

const TYPES = ['party', 'leak', 'sync', 'live', 'rules', 'capture', 'dropped'];

export function connect(live: string | null = liveDevice): void {
  liveDevice = live;
  source?.close();
  source = new EventSource(`/api/v1/events${live ? `?live=${encodeURIComponent(live)}` : ''}`);
  for (const t of TYPES) {
    source.addEventListener(t, (e) => {
      let data: unknown = null;
      try {
        data = JSON.parse((e as MessageEvent<string>).data);
      } catch {
        return;
      }
      for (const fn of handlers.get(t) ?? []) fn(data);
    });
  }
}

export function disconnect(): void {
  source?.close();
  source = null;
}

/** Also stream this device's live values (heart rate …); null stops. */
export function watchLive(deviceId: string | null): void {
  if (deviceId === liveDevice) return;
  connect(deviceId);
}

export function on(type: string, fn: Handler): () => void {
  let set = handlers.get(type);
  if (!set) {
    set = new Set();
    handlers.set(type, set);
  }
  set.add(fn);
  return () => set.delete(fn);
}
