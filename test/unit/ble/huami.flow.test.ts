/**
 * Whole flows through noble's API against the simulated Huami bands: pairing with the AES challenge,
 * wrong keys, 7 days of per-minute history, resume after a disconnect, live heart rate.
 */
import { createCipheriv } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { pairDevice } from '../../../src/ble/pairing.js';
import { SIM_HUAMI, SimHuamiBand, simActivityRecord } from '../../../src/ble/simulator/huamiBand.js';
import { startLive, syncDevice } from '../../../src/ble/sync.js';
import { DeviceError } from '../../../src/sdk/index.js';
import { type Harness, harness, NOW } from './harness.js';

const DAY = 86_400_000;
let h: Harness | undefined;
afterEach(() => h?.close());

function band3(over: Partial<ConstructorParameters<typeof SimHuamiBand>[0]> = {}) {
  return new SimHuamiBand({
    name: 'Mi Band 3',
    address: 'C8:0F:10:11:22:33',
    authFlags: 0x00,
    cryptFlags: 0x00,
    now: () => NOW,
    historyStart: NOW - 7 * DAY,
    ...over,
  });
}

/** What the store must hold for minute m, in the store's terms. */
function expectedMinute(m: number) {
  const [kind, intensity, steps, hr] = simActivityRecord(m);
  return { kind, intensity, steps, hr: hr >= 10 && hr <= 250 ? hr : null };
}

function storedMinutes(hx: Harness, id: string) {
  const rows = hx.ctx.store.samples({
    deviceId: id,
    kinds: ['activity_kind', 'activity_intensity', 'steps', 'heart_rate'],
  });
  const byTs = new Map<number, Record<string, number>>();
  for (const r of rows) {
    const o = byTs.get(r.ts) ?? {};
    o[r.kind] = r.value;
    byTs.set(r.ts, o);
  }
  return byTs;
}

describe('Mi Band 3 through noble and the simulator', () => {
  it('pairs with a hub-generated key (challenge, encrypted answer), stores the bond sealed, fetches 7 days', async () => {
    const band = band3();
    h = harness([band]);
    const res = await pairDevice(h.ctx, band.id);
    expect(res.definition.id).toBe('huami-miband3');
    // The band received "01 00 <key>", then "02 00", then "03 00 <AES-128-ECB(key, challenge)>".
    const authWrites = band.writes.filter((w) => w.startsWith(`fee1/${SIM_HUAMI.auth}`)).map((w) => w.split(' ')[1]!);
    expect(authWrites.map((w) => w.slice(0, 4))).toEqual(['0100', '0200', '0300']);
    const key = Buffer.from(authWrites[0]!.slice(4), 'hex');
    expect(key.length).toBe(16);
    expect(band.key && Buffer.from(band.key).equals(key)).toBe(true);
    // The bond holds the key sealed, not in clear, and it opens to the same key.
    const bond = h.ctx.store.getBond(band.id)!;
    expect(Buffer.from(bond.sealedKey!).includes(key)).toBe(false);
    expect(Buffer.from(h.ctx.vault.unseal(bond.sealedKey!, band.id)).equals(key)).toBe(true);

    // First sync: 7 days × 1440 minutes, every record exactly as the band stores it.
    expect(res.firstSync && 'inserted' in res.firstSync).toBe(true);
    const minutes = storedMinutes(h, band.id);
    expect(minutes.size).toBe(7 * 1440);
    for (const [ts, o] of minutes) {
      const e = expectedMinute(ts / 60_000);
      expect(o.activity_kind).toBe(e.kind);
      expect(o.activity_intensity).toBe(e.intensity);
      expect(o.steps).toBe(e.steps);
      expect(o.heart_rate ?? null).toBe(e.hr);
    }
    expect(h.ctx.store.cursor(band.id, 'activity')).toBe(NOW);
    expect(h.ctx.store.samples({ deviceId: band.id, kinds: ['battery'] })).toHaveLength(1);
    // The band capped rounds at one day (1440 records).
    expect(band.acks).toBe(7); // one acknowledged round per day; the last one reached "now"
    // The clock was set at the end (band time write on 2a2b).
    expect(band.writes.some((w) => w.startsWith('fee0/2a2b '))).toBe(true);

    // Re-sync: nothing new, nothing duplicated.
    const again = await syncDevice(h.ctx, band.id);
    expect(again.inserted).toBe(0); // same instant: even the battery reading is a duplicate
    expect(storedMinutes(h, band.id).size).toBe(7 * 1440);
  });

  it('fails cleanly on a wrong key and stores nothing', async () => {
    const band = band3();
    h = harness([band]);
    await pairDevice(h.ctx, band.id, { skipFirstSync: true });
    // The band forgets the hub's key (reset / paired with a phone again): the challenge answer is wrong.
    band.key = new Uint8Array(16).fill(0x42);
    const before = h.ctx.store.countSamples();
    const err = await syncDevice(h.ctx, band.id).catch((e) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect(err.code).toBe('auth_failed');
    expect(err.message).toMatch(/wrong auth key.*0x04/);
    expect(h.ctx.store.countSamples()).toBe(before);
    expect(h.ctx.store.getDevice(band.id)).toMatchObject({ failures: 1, lastError: err.message });
    expect(band.isConnected).toBe(false);
  });

  it('refuses to pair when the user does not confirm on the band, leaving no bond', async () => {
    const band = band3({ refuseKey: true });
    h = harness([band]);
    const err = await pairDevice(h.ctx, band.id).catch((e) => e);
    expect(err.code).toBe('auth_failed');
    expect(err.message).toMatch(/refused the new key/);
    expect(h.ctx.store.getDevice(band.id)).toBeUndefined();
    expect(h.ctx.store.listDevices()).toEqual([]);
  });

  it('resumes after a disconnect in the middle of the transfer, without gaps or duplicates', async () => {
    // 3 days in one round of 4320 records = 910 packets; the band walks away after packet 500.
    const band = band3({ historyStart: NOW - 3 * DAY, recordsPerRound: 4320, disconnectAfterPackets: 500 });
    h = harness([band], { options: { quietMs: 150, batchRecords: 200 } });
    await pairDevice(h.ctx, band.id, { skipFirstSync: true });
    const err = await syncDevice(h.ctx, band.id).catch((e) => e);
    expect(err.code).toBe('disconnected');
    // Every complete record before the drop is stored and the cursor points right after the last one.
    const afterDrop = storedMinutes(h, band.id);
    const cursor = h.ctx.store.cursor(band.id, 'activity')!;
    const fullRecords = Math.floor((500 * 19) / 4);
    expect(afterDrop.size).toBe(fullRecords);
    expect(cursor).toBe(NOW - 3 * DAY + fullRecords * 60_000);
    expect(Math.max(...afterDrop.keys())).toBe(cursor - 60_000);

    const before = h.ctx.store.countSamples(band.id);
    const res = await syncDevice(h.ctx, band.id);
    expect(band.fetchRequests.at(-1)).toBe(cursor); // the second session asked from the cursor
    const all = storedMinutes(h, band.id);
    expect(all.size).toBe(3 * 1440);
    for (const [ts, o] of all) expect(o.steps).toBe(expectedMinute(ts / 60_000).steps);
    expect(res.inserted).toBe(h.ctx.store.countSamples(band.id) - before);
  });

  it('aborts a round on a packet-counter gap and resumes from the last full minute', async () => {
    const band = band3({ historyStart: NOW - DAY, counterGapAtPacket: 100 });
    h = harness([band]);
    await pairDevice(h.ctx, band.id, { skipFirstSync: true });
    const err = await syncDevice(h.ctx, band.id).catch((e) => e);
    expect(err.code).toBe('protocol');
    expect(err.message).toMatch(/counter jumped from 100 to 101/);
    expect(storedMinutes(h, band.id).size).toBe(Math.floor((100 * 19) / 4));
    await syncDevice(h.ctx, band.id);
    expect(storedMinutes(h, band.id).size).toBe(1440);
  });

  it('corrects band clock drift and time-zone on history and moves the cursor with the clock', async () => {
    // The band runs 5 minutes fast and is set to UTC+2; the hub is in Berlin (CEST in May = UTC+2).
    const band = band3({ historyStart: NOW - DAY, clockOffsetMs: 5 * 60_000, tzOffsetMin: 120 });
    h = harness([band], { timeZone: 'Europe/Berlin' });
    await pairDevice(h.ctx, band.id);
    const minutes = storedMinutes(h, band.id);
    expect(minutes.size).toBe(1440);
    // Stored in real time: the band's record for band-minute m lands at m − 5 min.
    const first = Math.min(...minutes.keys());
    expect(first).toBe(NOW - DAY);
    expect(minutes.get(first)!.steps).toBe(expectedMinute((NOW - DAY + 5 * 60_000) / 60_000).steps);
    // After the sync the band clock is right and the cursor was moved back by the drift.
    expect(Math.abs(band.clockOffsetMs)).toBeLessThan(1000);
    expect(h.ctx.store.cursor(band.id, 'activity')).toBe(NOW);
  });
});

describe('Mi Band 4 (user-supplied key) and Mi Band 2 / Bip variants', () => {
  it('needs the key, then authenticates with the 0x82/0x83 commands and never sends a key', async () => {
    const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const band = new SimHuamiBand({
      name: 'Mi Smart Band 4',
      address: 'E1:22:33:44:55:66',
      authFlags: 0x00,
      cryptFlags: 0x80,
      key,
      now: () => NOW,
      historyStart: NOW - DAY,
    });
    h = harness([band]);
    const missing = await pairDevice(h.ctx, band.id).catch((e) => e);
    expect(missing.code).toBe('auth_key_required');
    expect(missing.message).toMatch(/huami-token/);

    const wrong = await pairDevice(h.ctx, band.id, { authKey: 'ff'.repeat(16) }).catch((e) => e);
    expect(wrong.code).toBe('auth_failed');
    expect(wrong.message).toMatch(/0x08/);
    expect(h.ctx.store.listDevices()).toEqual([]);

    const ok = await pairDevice(h.ctx, band.id, { authKey: `0x${key.toString('hex')}` });
    expect(ok.definition.id).toBe('huami-miband4');
    const authWrites = band.writes.filter((w) => w.startsWith(`fee1/${SIM_HUAMI.auth}`)).map((w) => w.split(' ')[1]!);
    expect(authWrites.some((w) => w.startsWith('01'))).toBe(false);
    expect(authWrites.slice(-2)[0]).toBe('8200020100');
    expect(storedMinutes(h, band.id).size).toBe(1440);
  });

  it('uses auth flags 0x08 for Mi Band 2 and masks the kind to its low nibble', async () => {
    const band = new SimHuamiBand({
      name: 'MI Band 2',
      address: 'C8:0F:10:00:00:02',
      authFlags: 0x08,
      cryptFlags: 0x00,
      now: () => NOW,
      historyStart: NOW - 60 * 60_000,
    });
    h = harness([band]);
    const res = await pairDevice(h.ctx, band.id);
    expect(res.definition.id).toBe('huami-miband2');
    const authWrites = band.writes.filter((w) => w.startsWith(`fee1/${SIM_HUAMI.auth}`)).map((w) => w.split(' ')[1]!);
    expect(authWrites.map((w) => w.slice(0, 4))).toEqual(['0108', '0208', '0308']);
    const kinds = h.ctx.store.samples({ deviceId: band.id, kinds: ['activity_kind'] });
    expect(kinds).toHaveLength(60);
    for (const k of kinds) expect(k.value).toBe(simActivityRecord(k.ts / 60_000)[0] & 0x0f);
  });
});

describe('live heart rate', () => {
  it('streams heart rate to the subscriber after the continuous-HR command, and stops', async () => {
    const band = band3({ historyStart: NOW - 60_000, hrIntervalMs: 10 });
    h = harness([band]);
    await pairDevice(h.ctx, band.id, { skipFirstSync: true });
    const got: number[] = [];
    const handle = await startLive(h.ctx, band.id, (rs) => {
      for (const r of rs) if (r.kind === 'heart_rate') got.push(r.value);
    });
    await new Promise((r) => setTimeout(r, 120));
    await handle.stop();
    expect(got.length).toBeGreaterThanOrEqual(3);
    expect(got.slice(0, 3)).toEqual([68, 69, 70]);
    expect(band.writes).toContain('180d/2a39 150101');
    expect(band.writes).toContain('180d/2a39 150100');
    expect(band.isConnected).toBe(false);
  });
});

describe('AES answer is the real AES-128-ECB', () => {
  it('matches a known-answer computation', () => {
    // FIPS-197 C.1 known answer: key 000102…0f, plaintext 00112233…ff.
    const c = createCipheriv('aes-128-ecb', Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'), null);
    c.setAutoPadding(false);
    expect(
      Buffer.concat([c.update(Buffer.from('00112233445566778899aabbccddeeff', 'hex')), c.final()]).toString('hex'),
    ).toBe('69c4e0d86a7b0430d8cdb78070b4c55a');
  });
});
