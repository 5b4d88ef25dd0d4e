/**
 * IP → names learnt from DNS answers, per client and with expiry: the name a flow to a bare address
 * belongs to. Bounded: past `max` entries the oldest are dropped (Map insertion order).
 */
interface Entry {
  names: string[];
  expiresAtMs: number;
}

/** Names kept per address: an answer's own chain in full, older names while the list is shorter than this. */
const MAX_NAMES = 16;

/** Whether `list` begins with the names of `head`, in order. */
function startsWith(list: string[], head: string[]): boolean {
  if (head.length > list.length) return false;
  for (let i = 0; i < head.length; i++) if (list[i] !== head[i]) return false;
  return true;
}

export class DnsCache {
  private readonly byClient = new Map<string, Entry>();
  private readonly global = new Map<string, Entry>();
  evictions = 0;

  constructor(
    private readonly max: number,
    private readonly ttlFloorMs: number,
  ) {}

  get size(): number {
    return this.byClient.size;
  }

  /** Record that `names` (the asked name first, then its CNAME chain) resolve to `address` for `clientId`. */
  add(clientId: string, address: string, names: string[], ttlSeconds: number, tsMs: number): void {
    const expiresAtMs = tsMs + Math.max(ttlSeconds * 1000, this.ttlFloorMs);
    this.put(this.byClient, `${clientId}\u0000${address}`, names, expiresAtMs);
    this.put(this.global, address, names, expiresAtMs);
  }

  private put(map: Map<string, Entry>, key: string, names: string[], expiresAtMs: number): void {
    const old = map.get(key);
    if (old) {
      map.delete(key);
      // Newest names first, keep the others (one address often serves several names), up to MAX_NAMES. The same
      // answer again (the names already lead the list, which is within the cap) leaves the list as it is.
      const unchanged =
        startsWith(old.names, names) && (old.names.length <= MAX_NAMES || old.names.length === names.length);
      if (!unchanged) {
        const merged = [...names];
        for (const n of old.names) if (!merged.includes(n) && merged.length < MAX_NAMES) merged.push(n);
        old.names = merged;
      }
      if (expiresAtMs > old.expiresAtMs) old.expiresAtMs = expiresAtMs;
      map.set(key, old);
      return;
    }
    if (map.size >= this.max) {
      const first = map.keys().next();
      if (!first.done) {
        map.delete(first.value);
        this.evictions++;
      }
    }
    map.set(key, { names: [...names], expiresAtMs });
  }

  /**
   * Names for a flow from `clientId` to `address` starting at `tsMs`: the client's own answers first,
   * else anyone's (a shared resolver cache on the LAN), unexpired at that time. Empty when unknown.
   */
  namesFor(clientId: string, address: string, tsMs: number): string[] {
    const own = this.byClient.get(`${clientId}\u0000${address}`);
    if (own && own.expiresAtMs >= tsMs) return own.names.slice();
    const any = this.global.get(address);
    if (any && any.expiresAtMs >= tsMs) return any.names.slice();
    return [];
  }
}
