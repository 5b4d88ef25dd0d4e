/**
 * Fault injection: devices that never answer, never connect, send malformed notifications; adapters that
 * are off, forbidden or missing. Every case ends in a clear typed error and nothing half-written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { definitions } from '../../../devices/index.js';
import { AdapterUnavailableError, createNobleAdapter, stateForError } from '../../../src/ble/adapter.js';
import { pairDevice, scanCandidates } from '../../../src/ble/pairing.js';
import { loadRegistry } from '../../../src/ble/registry.js';
import { SimBindings } from '../../../src/ble/simulator/bindings.js';
import { SimHuamiBand } from '../../../src/ble/simulator/huamiBand.js';
import { SimGlucoseMeter, SimUnknownDevice } from '../../../src/ble/simulator/standardDevices.js';
import { syncDevice } from '../../../src/ble/sync.js';
import { DeviceError, defineDevice } from '../../../src/sdk/index.js';
import { type Harness, harness, NOW } from './harness.js';

let h: Harness | undefined;
afterEach(() => h?.close());

const band = (over: Partial<ConstructorParameters<typeof SimHuamiBand>[0]> = {}) =>
  new SimHuamiBand({
    name: 'Mi Band 3',
    address: 'C8:0F:10:00:00:42',
    authFlags: 0,
    cryptFlags: 0,
    now: () => NOW,
    historyStart: NOW - 86_400_000,
    ...over,
  });

describe('devices that never answer', () => {
  it('a connected device that answers nothing times out in discovery; nothing is stored', async () => {
    const meter = new SimGlucoseMeter({ address: 'D0:00:00:00:00:01', records: [] });
    meter.faults.silent = true;
    h = harness([meter]);
    const err = await pairDevice(h.ctx, meter.id).catch((e) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect(err.code).toBe('timeout');
    expect(err.message).toBe('service discovery timed out after 500 ms');
    expect(h.ctx.store.listDevices()).toEqual([]);
  });

  it('a connection that never completes times out', async () => {
    const b = band();
    b.faults.neverConnect = true;
    h = harness([b]);
    const err = await pairDevice(h.ctx, b.id).catch((e) => e);
    expect(err.code).toBe('timeout');
    expect(err.message).toBe(`connect to ${b.id} timed out after 1000 ms`);
  });

  it('a band that stops answering the history protocol: clear timeout, no activity, no cursor', async () => {
    const b = band();
    h = harness([b]);
    await pairDevice(h.ctx, b.id, { skipFirstSync: true });
    b.opts.fetchSilent = true;
    const err = await syncDevice(h.ctx, b.id).catch((e) => e);
    expect(err.code).toBe('timeout');
    expect(err.message).toBe('sync (activity): Mi Band 3 sent nothing on Fetch control for 500 ms');
    expect(h.ctx.store.samples({ deviceId: b.id, kinds: ['steps', 'activity_kind'] })).toEqual([]);
    expect(h.ctx.store.cursor(b.id, 'activity')).toBeNull();
    expect(h.ctx.store.getDevice(b.id)).toMatchObject({ failures: 1, lastError: err.message });
  });

  it('a device that is not around is reported as not found', async () => {
    h = harness([]);
    const err = await pairDevice(h.ctx, 'aabbccddeeff').catch((e) => e);
    expect(err.code).toBe('not_found');
    expect(err.message).toMatch(/was not seen nearby/);
  });

  it('an unknown device cannot be paired and the error says what it advertises', async () => {
    const u = new SimUnknownDevice('11:22:33:44:55:66', true, -80);
    h = harness([u]);
    const err = await pairDevice(h.ctx, u.id).catch((e) => e);
    expect(err.code).toBe('unsupported');
    expect(err.message).toContain('name "JBL Flip 5"');
  });
});

describe('malformed notifications', () => {
  it('an empty history notification is counted and skipped; the transfer completes', async () => {
    const b = band({ emptyPacketAt: 10 });
    h = harness([b]);
    const res = await pairDevice(h.ctx, b.id);
    expect(res.firstSync && 'dropped' in res.firstSync && res.firstSync.dropped).toEqual({ empty: 1 });
    expect(h.ctx.store.samples({ deviceId: b.id, kinds: ['steps'] })).toHaveLength(1440);
  });
});

describe('adapter states', () => {
  it.each(['poweredOff', 'unauthorized', 'unsupported'] as const)(
    '%s: scanning fails with a clear error',
    async (state) => {
      const adapter = createNobleAdapter({ bindings: new SimBindings({ peripherals: [], state }) });
      expect(await adapter.waitReady(500)).toBe(state);
      const err = await adapter.scan({ durationMs: 50 }, () => {}).catch((e) => e);
      expect(err).toBeInstanceOf(AdapterUnavailableError);
      expect(err.state).toBe(state);
      expect(err.message).toMatch(new RegExp(`not available \\(${state}\\)`));
    },
  );

  it('the real noble on a machine without Bluetooth reports a state instead of crashing', async () => {
    const adapter = createNobleAdapter();
    const state = adapter.state();
    // This CI box has no AF_BLUETOOTH (EAFNOSUPPORT) and cannot open the HCI socket: never "poweredOn".
    expect(['unsupported', 'unauthorized', 'poweredOff']).toContain(state);
    await expect(adapter.scan({ durationMs: 10 }, () => {})).rejects.toBeInstanceOf(AdapterUnavailableError);
  });

  it('maps load errors to states', () => {
    expect(stateForError(Object.assign(new Error('socket'), { code: 'EAFNOSUPPORT' }))).toBe('unsupported');
    expect(stateForError(Object.assign(new Error('socket'), { code: 'EPERM' }))).toBe('unauthorized');
    expect(stateForError(Object.assign(new Error('open'), { code: 'EACCES' }))).toBe('unauthorized');
    expect(stateForError(new Error('Cannot find module'))).toBe('unsupported');
  });
});

describe('registry', () => {
  it('quarantines an invalid definition with one clear message and keeps the rest', () => {
    const bad = defineDevice({
      id: 'acme-broken',
      vendor: 'Acme',
      model: 'Broken',
      description: 'no matchers',
      match: [],
      readings: ['steps'],
      pairing: 'none',
      advert: { decode: () => null },
    });
    const warnings: string[] = [];
    const reg = loadRegistry([...definitions, bad, definitions[0]!], (m) => warnings.push(m));
    expect(reg.definitions).toHaveLength(definitions.length);
    expect(reg.quarantined.map((q) => q.id)).toEqual(['acme-broken', definitions[0]!.id]);
    expect(warnings[0]).toBe(
      'device definition acme-broken quarantined: acme-broken: at least one matcher is required',
    );
    expect(warnings[1]).toMatch(/duplicate id/);
  });

  it('scan of an empty neighbourhood is an empty list', async () => {
    h = harness([]);
    expect(await scanCandidates(h.ctx, 30)).toEqual([]);
  });
});
