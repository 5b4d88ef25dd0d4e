/**
 * Capture sources and the queue behind them: the own-traffic BPF filter, every "unavailable" path of the
 * live source with a clear status (no cap/libpcap, no interface, bad filter), real capture with `cap` on the
 * loopback interface when root, the replay source's pacing and stop, and the packet queue's bounds.
 */
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PacketQueue } from '../../../../src/agent/packetQueue.js';
import {
  buildCaptureFilter,
  capAvailability,
  explainOpenError,
  LIBPCAP_MISSING,
  LiveSource,
} from '../../../../src/net/capture/liveSource.js';
import { ReplaySource } from '../../../../src/net/capture/replaySource.js';
import type { CapturedPacket } from '../../../../src/net/capture/types.js';

const REAL = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'pcap', 'real');

describe('buildCaptureFilter', () => {
  it('leaves out management sessions with the hub, keeps everything else', () => {
    expect(
      buildCaptureFilter({
        hubAddresses: ['192.168.4.1', 'fe80::1'],
        managementPorts: [8080, 22, 22],
        excludeOwnTraffic: true,
        extra: '',
      }),
    ).toBe('not ((host 192.168.4.1 or host fe80::1) and (tcp port 8080 or tcp port 22))');
    expect(
      buildCaptureFilter({
        hubAddresses: ['192.168.4.1'],
        managementPorts: [8080],
        excludeOwnTraffic: true,
        extra: ' not arp ',
      }),
    ).toBe('(not arp) and not ((host 192.168.4.1) and (tcp port 8080))');
    expect(
      buildCaptureFilter({
        hubAddresses: ['192.168.4.1'],
        managementPorts: [8080],
        excludeOwnTraffic: false,
        extra: '',
      }),
    ).toBe('');
    // A bridge without an address yet: nothing can be the hub's own traffic.
    expect(buildCaptureFilter({ hubAddresses: [], managementPorts: [8080], excludeOwnTraffic: true, extra: '' })).toBe(
      '',
    );
  });
});

describe('LiveSource when capture cannot run', () => {
  const accept = () => true;

  it('no cap module / libpcap: "live capture unavailable: install libpcap-dev"', async () => {
    const src = new LiveSource({
      interface: 'lo',
      bufferBytes: 1 << 20,
      filter: '',
      load: () => {
        throw new Error("Cannot find module 'cap'\nRequire stack: ...");
      },
    });
    await src.start(accept);
    await src.done;
    const st = src.status();
    expect(st.state).toBe('unavailable');
    expect(st.detail).toBe(
      `${LIBPCAP_MISSING} (the cap module did not load: Cannot find module 'cap'), then npm rebuild cap`,
    );
  });

  it('a missing interface', async () => {
    const src = new LiveSource({ interface: 'nope0', bufferBytes: 1 << 20, filter: '' });
    await src.start(accept);
    expect(src.status()).toMatchObject({
      state: 'unavailable',
      detail:
        "interface nope0 not found: set capture.interface or --interface to the access point's interface (see 'ip link')",
    });
  });

  it('explains libpcap open errors', () => {
    expect(explainOpenError('wlan0', 'socket: Operation not permitted')).toContain('no capture rights on wlan0');
    expect(explainOpenError('wlan0', 'socket: Operation not permitted')).toContain(
      'setcap cap_net_raw,cap_net_admin+eip',
    );
    expect(explainOpenError('wlan9', 'wlan9: No such device exists (SIOCGIFHWADDR: No such device)')).toMatch(
      /^interface wlan9 not found/,
    );
    expect(explainOpenError('lo', 'syntax error in filter expression')).toMatch(/^bad capture filter/);
  });
});

const canCapture = process.getuid?.() === 0 && capAvailability().ok;
describe.skipIf(!canCapture)(
  `LiveSource with cap on lo${canCapture ? '' : ' (skipped: needs root and libpcap)'}`,
  () => {
    it('captures real packets with a wall-clock stamp, and refuses a bad filter clearly', async () => {
      const got: { ts: number; len: number; linkType: number; udp: boolean }[] = [];
      const src = new LiveSource({ interface: 'lo', bufferBytes: 1 << 20, filter: 'udp port 39999' });
      await src.start((p: CapturedPacket) => {
        got.push({ ts: p.tsMs, len: p.data.length, linkType: p.linkType, udp: p.data[23] === 17 });
        return true;
      });
      expect(src.status().state).toBe('capturing');
      const sock = createSocket('udp4');
      const t0 = Date.now();
      for (let i = 0; i < 5; i++)
        await new Promise<void>((r) => sock.send(Buffer.from(`ping ${i}`), 39999, '127.0.0.1', () => r()));
      const deadline = Date.now() + 5_000;
      while (got.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      sock.close();
      await src.stop();
      expect(got.length).toBe(5);
      for (const g of got) {
        expect(g.linkType).toBe(1);
        expect(g.udp).toBe(true);
        expect(g.ts).toBeGreaterThanOrEqual(t0);
        expect(g.ts - t0).toBeLessThan(5_000);
      }
      expect(src.status()).toMatchObject({ state: 'stopped', packets: 5 });

      const bad = new LiveSource({ interface: 'lo', bufferBytes: 1 << 20, filter: 'this is not bpf' });
      await bad.start(() => true);
      expect(bad.status().state).toBe('unavailable');
      expect(bad.status().detail).toMatch(/^bad capture filter/);
    });
  },
);

describe('ReplaySource', () => {
  it('replays at the chosen pace and can retime to now', async () => {
    const file = join(REAL, 'dns-dig.pcap');
    const stamps: number[] = [];
    const fast = new ReplaySource(file, { speed: 0 });
    await fast.start((p) => {
      stamps.push(p.tsMs);
      return true;
    });
    await fast.done;
    expect(fast.status()).toMatchObject({ state: 'done' });
    const spanMs = (stamps.at(-1) ?? 0) - (stamps[0] ?? 0);
    expect(spanMs).toBeGreaterThan(200);

    const t0 = Date.now();
    const paced: number[] = [];
    const slow = new ReplaySource(file, { speed: 2, retime: true });
    await slow.start((p) => {
      paced.push(p.tsMs);
      return true;
    });
    await slow.done;
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(spanMs / 2 - 50);
    expect(took).toBeLessThan(spanMs / 2 + 3_000);
    expect(paced[0]).toBeGreaterThanOrEqual(t0 - 1);
    expect((paced.at(-1) ?? 0) - (paced[0] ?? 0)).toBeCloseTo(spanMs, 3);
  });

  it('waits while the consumer has no room (never drops) and stops on request', async () => {
    const file = join(REAL, 'mixed-phones.pcap');
    let refusals = 0;
    let n = 0;
    const src = new ReplaySource(file, { speed: 0 });
    await src.start(() => {
      if (refusals < 3) {
        refusals++;
        return false;
      }
      n++;
      return true;
    });
    await src.done;
    expect(n).toBe(114);
    expect(src.status().packets).toBe(114);

    const slow = new ReplaySource(file, { speed: 0.001 });
    await slow.start(() => true);
    await new Promise((r) => setTimeout(r, 50));
    await slow.stop();
    expect(slow.status().state).toBe('stopped');
  });

  it('a file that is not a capture fails with the reader message', async () => {
    const src = new ReplaySource(join(REAL, 'README.md'), { speed: 0 });
    await src.start(() => true);
    await src.done;
    expect(src.status().state).toBe('failed');
    expect(src.status().detail).toMatch(/not a pcap or pcapng capture/);
  });
});

describe('PacketQueue', () => {
  const pkt = (len: number, ts = 1): CapturedPacket => ({
    tsMs: ts,
    linkType: 1,
    data: new Uint8Array(len),
    origLen: len,
    interfaceId: 0,
  });

  it('is bounded by packets and bytes; live overflow is counted, offer is not', () => {
    const q = new PacketQueue(3, 250);
    expect(q.push(pkt(100, 1))).toBe(true);
    expect(q.push(pkt(100, 2))).toBe(true);
    expect(q.push(pkt(100, 3))).toBe(false); // bytes
    expect(q.push(pkt(10, 4))).toBe(true);
    expect(q.push(pkt(10, 5))).toBe(false); // packets
    expect(q.offer(pkt(10, 6))).toBe(false);
    expect(q.stats).toEqual({ enqueued: 3, drops: 2, highWater: 3 });
    expect([q.shift()?.tsMs, q.shift()?.tsMs, q.shift()?.tsMs, q.shift()]).toEqual([1, 2, 4, undefined]);
    expect(q.bufferedBytes).toBe(0);
  });

  it('copies the packet: the capture may reuse its buffer', () => {
    const q = new PacketQueue(4);
    const p = pkt(4);
    p.data.set([1, 2, 3, 4]);
    q.push(p);
    p.data.fill(9);
    expect([...(q.shift()?.data ?? [])]).toEqual([1, 2, 3, 4]);
  });
});
