/**
 * Pairing: scan → candidates (RSSI, matched definition, or "unknown" with what it advertises) → pair
 * (with the auth key the definition needs) → stored bond (key sealed at rest) → first sync.
 * Nothing is stored unless the pairing recipe (authentication) succeeded.
 */
import { type Advertisement, type DeviceDefinition, DeviceError, type PairingStyle } from '../sdk/index.js';
import type { Discovered } from './adapter.js';
import { parseAuthKey } from './bonds.js';
import { describeAdvertisement } from './match.js';
import { type BleContext, runSyncRecipe, type SyncResult, sessionFor, syncAdverts } from './sync.js';

export interface Candidate {
  id: string;
  address: string;
  name: string | null;
  rssi: number;
  connectable: boolean;
  /** null for devices no definition matches. */
  definition: { id: string; vendor: string; model: string; pairing: PairingStyle; pairingHint: string } | null;
  /** What the device advertises, in one line (always set; the only information for unknown devices). */
  advertised: string;
  paired: boolean;
}

function describeDefinition(d: DeviceDefinition): NonNullable<Candidate['definition']> {
  return { id: d.id, vendor: d.vendor, model: d.model, pairing: d.pairing, pairingHint: d.pairingHint ?? '' };
}

/** Scan for `durationMs` and list every device seen, matched ones first, strongest signal first. */
export async function scanCandidates(ctx: BleContext, durationMs: number): Promise<Candidate[]> {
  const seen = new Map<string, Discovered>();
  await ctx.adapter.scan({ durationMs, allowDuplicates: true }, (d) => {
    const prev = seen.get(d.id);
    // Keep the richest advert (scan responses add the name) and the latest RSSI.
    if (!prev || (d.advertisement.localName && !prev.advertisement.localName) || !prev.advertisement.localName) {
      seen.set(d.id, d);
    } else {
      seen.set(d.id, { ...prev, rssi: d.rssi });
    }
  });
  const paired = new Set(ctx.store.listDevices().map((d) => d.id));
  const out: Candidate[] = [];
  for (const d of seen.values()) {
    const def = ctx.registry.match(d.advertisement);
    out.push({
      id: d.id,
      address: d.address,
      name: d.advertisement.localName ?? null,
      rssi: d.rssi,
      connectable: d.connectable,
      definition: def ? describeDefinition(def) : null,
      advertised: describeAdvertisement(d.advertisement),
      paired: paired.has(d.id),
    });
  }
  out.sort(
    (a, b) =>
      Number(b.definition !== null) - Number(a.definition !== null) || b.rssi - a.rssi || (a.id < b.id ? -1 : 1),
  );
  return out;
}

async function findDevice(ctx: BleContext, id: string): Promise<Discovered> {
  let found: Discovered | undefined;
  await ctx.adapter.scan({ durationMs: ctx.timeouts.scanMs, allowDuplicates: true, until: (d) => d.id === id }, (d) => {
    if (d.id === id) found = d;
  });
  if (!found)
    throw new DeviceError(
      'not_found',
      `device ${id} was not seen nearby (is it awake, in range, not connected to a phone?)`,
    );
  return found;
}

export interface PairOptions {
  /** 32 hex digits (optionally 0x-prefixed). Required for 'user-key' devices; optional for 'generated-key'. */
  authKey?: string;
  /** Skip the first sync (tests, or when the caller syncs later). */
  skipFirstSync?: boolean;
}

export interface PairResult {
  deviceId: string;
  definition: NonNullable<Candidate['definition']>;
  name: string | null;
  /** The first sync, or the error it hit (the bond is kept either way). */
  firstSync: SyncResult | { error: string } | null;
}

function keyFor(def: DeviceDefinition, opts: PairOptions, random: (n: number) => Uint8Array): Uint8Array | null {
  if (def.pairing === 'user-key') {
    if (!opts.authKey) {
      throw new DeviceError('auth_key_required', `${def.model} needs its auth key: ${def.pairingHint ?? ''}`.trim());
    }
    return parseAuthKey(opts.authKey);
  }
  if (def.pairing === 'generated-key') return opts.authKey ? parseAuthKey(opts.authKey) : random(16);
  return null;
}

export async function pairDevice(ctx: BleContext, id: string, opts: PairOptions = {}): Promise<PairResult> {
  const seen = await findDevice(ctx, id);
  const adv: Advertisement = seen.advertisement;
  const def = ctx.registry.match(adv);
  if (!def) {
    throw new DeviceError(
      'unsupported',
      `device ${id} is not a supported device (it advertises ${describeAdvertisement(adv)})`,
    );
  }
  const name = adv.localName ?? null;
  const { randomBytes } = await import('node:crypto');
  const key = keyFor(def, opts, (n) => new Uint8Array(randomBytes(n)));
  const now = ctx.now();

  if (def.pairing === 'none') {
    ctx.store.upsertDevice({ id, address: seen.address, definitionId: def.id, name }, now);
    ctx.store.saveBond(id, null, now);
    let firstSync: PairResult['firstSync'] = null;
    if (!opts.skipFirstSync) {
      try {
        firstSync = await syncAdverts(ctx, id, def);
      } catch (e) {
        firstSync = { error: e instanceof Error ? e.message : String(e) };
      }
    }
    return { deviceId: id, definition: describeDefinition(def), name, firstSync };
  }

  const link = await ctx.adapter.connect(id, {
    timeoutMs: ctx.timeouts.connectMs,
    opTimeoutMs: ctx.timeouts.opMs,
    scanTimeoutMs: ctx.timeouts.scanMs,
  });
  try {
    const session = sessionFor(ctx, link, def, id, key, false);
    await session.run(def.gatt?.pair ?? def.gatt?.connect, 'pair');
    // Authenticated: now the bond exists. Device row and sealed key go in together.
    ctx.store.db.transaction(() => {
      ctx.store.upsertDevice({ id, address: seen.address, definitionId: def.id, name }, now);
      ctx.store.saveBond(id, key ? ctx.vault.seal(key, id) : null, now);
    })();
    session.flushHeld();
    if (Object.keys(session.info).length > 0) ctx.store.mergeInfo(id, session.info);
    let firstSync: PairResult['firstSync'] = null;
    if (!opts.skipFirstSync) {
      try {
        firstSync = await runSyncRecipe(ctx, session);
        ctx.store.recordSync(id, ctx.now(), null);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        ctx.store.recordSync(id, ctx.now(), msg);
        firstSync = { error: msg };
      }
    }
    return { deviceId: id, definition: describeDefinition(def), name, firstSync };
  } finally {
    await link.disconnect();
  }
}
