/**
 * The on-disk pcap ring: real captures written through it, rotated at the size cap, the oldest files deleted,
 * and the files read back by our own reader and by tshark with equal packet counts and identical packets.
 * Disk errors (a read-only filesystem, a full one) and a full backlog are counted, never thrown.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../../../src/net/capture/pcapFile.js';
import { RingWriter } from '../../../../src/net/capture/ringWriter.js';
import type { CapturedPacket } from '../../../../src/net/capture/types.js';
import { hasTshark } from '../../../helpers/tshark.js';

const REAL = new URL('../../../fixtures/pcap/real/', import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;

interface Kept {
  tsMs: number;
  linkType: number;
  data: Buffer;
  origLen: number;
}

async function packetsOf(path: string): Promise<Kept[]> {
  const out: Kept[] = [];
  await readCaptureFile(path, (p) =>
    out.push({ tsMs: p.tsMs, linkType: p.linkType, data: Buffer.from(p.data), origLen: p.origLen }),
  );
  return out;
}

function ringFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pcap'))
    .sort()
    .map((f) => join(dir, f));
}

function tsharkCount(path: string): number {
  const r = spawnSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.number'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`tshark -r ${path}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

function asCaptured(k: Kept): CapturedPacket {
  return { tsMs: k.tsMs, linkType: k.linkType, data: k.data, origLen: k.origLen, interfaceId: 0 };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-ring-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('RingWriter', () => {
  it('keeps every packet of a real capture exactly (µs timestamps, link type, lengths) when nothing rotates out', async () => {
    const input = [
      ...(await packetsOf(join(REAL, 'apps-phone.pcap'))),
      ...(await packetsOf(join(REAL, 'mixed-phones.pcap'))),
    ];
    const ringDir = join(dir, 'pcap');
    const ring = new RingWriter({ dir: ringDir, fileBytes: 32 * 1024, files: 100, chunkBytes: 8192 });
    await ring.start();
    for (const p of input) ring.write(asCaptured(p));
    await ring.close();
    const st = ring.status();
    expect(st).toMatchObject({ packetsWritten: input.length, dropped: 0, errors: 0, deleted: 0, state: 'stopped' });
    const files = ringFiles(ringDir);
    expect(files.length).toBeGreaterThan(4); // 140 KB in 32 KiB files
    expect(st.rotations).toBe(files.length - 1);
    const back: Kept[] = [];
    for (const f of files) {
      expect(statSync(f).size).toBeLessThanOrEqual(32 * 1024);
      back.push(...(await packetsOf(f)));
    }
    expect(back.length).toBe(input.length);
    for (let i = 0; i < input.length; i++) {
      const a = input[i]!;
      const b = back[i]!;
      expect(b.linkType).toBe(a.linkType);
      expect(b.origLen).toBe(a.origLen);
      expect(Math.abs(b.tsMs - a.tsMs)).toBeLessThan(0.001 + 1e-9);
      expect(b.data.equals(a.data)).toBe(true);
    }
    expect(st.bytesOnDisk).toBe(files.reduce((n, f) => n + statSync(f).size, 0));
  });

  it('rotates at the size cap and deletes the oldest files beyond N; tshark reads the same packet counts', async () => {
    const input: Kept[] = [];
    for (const f of readdirSync(REAL)
      .filter((n) => n.endsWith('.pcap'))
      .sort()) {
      input.push(...(await packetsOf(join(REAL, f))));
    }
    const fileBytes = 16 * 1024;
    const ringDir = join(dir, 'pcap');
    const ring = new RingWriter({ dir: ringDir, fileBytes, files: 3, chunkBytes: 4096 });
    await ring.start();
    // Twice through, with settles in between so that the disk loop rotates and prunes while packets arrive.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < input.length; i++) {
        ring.write(asCaptured(input[i]!));
        if (i % 97 === 0) await ring.settle();
      }
    }
    await ring.close();
    const st = ring.status();
    const files = ringFiles(ringDir);
    expect(files.length).toBe(3);
    expect(st.files).toBe(3);
    expect(st.deleted).toBe(st.rotations + 1 - 3);
    expect(st.deleted).toBeGreaterThan(10);
    let kept = 0;
    for (const f of files) {
      const s = statSync(f);
      expect(s.size).toBeLessThanOrEqual(fileBytes);
      expect(s.mode & 0o777).toBe(0o600);
      const n = (await packetsOf(f)).length;
      expect(n).toBeGreaterThan(0);
      if (hasTshark()) expect(tsharkCount(f)).toBe(n);
      kept += n;
    }
    expect(statSync(ringDir).mode & 0o777).toBe(0o700);
    // What is kept is the tail of what was written, in order.
    const all = [...input, ...input];
    const back: Kept[] = [];
    for (const f of files) back.push(...(await packetsOf(f)));
    const tail = all.slice(all.length - kept);
    expect(back.map((p) => p.data.toString('hex'))).toEqual(tail.map((p) => p.data.toString('hex')));
    expect(st.packetsWritten).toBe(all.length);
    expect(st.dropped).toBe(0);
  });

  it('takes up the numbering of the files already there and keeps the limit across restarts', async () => {
    const input = await packetsOf(join(REAL, 'apps-phone.pcap'));
    const ringDir = join(dir, 'pcap');
    for (let run = 0; run < 2; run++) {
      const ring = new RingWriter({ dir: ringDir, fileBytes: 24 * 1024, files: 4 });
      await ring.start();
      for (const p of input) ring.write(asCaptured(p));
      await ring.close();
    }
    const files = ringFiles(ringDir).map((f) => f.slice(ringDir.length + 1));
    expect(files.length).toBe(4);
    const seqs = files.map((f) => Number(/^bandguard-(\d{8})-/.exec(f)?.[1]));
    // 116 KB in 24 KiB files: 5 per run, so the second run's files are numbered 6..10 and only its last 4 stay.
    expect(seqs).toEqual([7, 8, 9, 10]);
  });

  it('starts a new file when the link type changes', async () => {
    const eth = (await packetsOf(join(REAL, 'dns-dig.pcap'))).slice(0, 3);
    const ring = new RingWriter({ dir, fileBytes: 1 << 20, files: 10 });
    await ring.start();
    for (const p of eth) ring.write(asCaptured(p));
    // The same frames' IP packets as raw IP (LINKTYPE_RAW 101): Ethernet header removed.
    for (const p of eth)
      ring.write(asCaptured({ ...p, linkType: 101, data: p.data.subarray(14), origLen: p.origLen - 14 }));
    await ring.close();
    const files = ringFiles(dir);
    expect(files.length).toBe(2);
    const [a, b] = [await packetsOf(files[0]!), await packetsOf(files[1]!)];
    expect(a.map((p) => p.linkType)).toEqual([1, 1, 1]);
    expect(b.map((p) => p.linkType)).toEqual([101, 101, 101]);
    if (hasTshark()) expect(tsharkCount(files[1]!)).toBe(3);
  });

  it('drops (and counts) packets when the backlog for the disk is full, without blocking', async () => {
    const input = await packetsOf(join(REAL, 'apps-phone.pcap'));
    const ring = new RingWriter({ dir, fileBytes: 1 << 20, files: 2, chunkBytes: 4096, maxPendingBytes: 8192 });
    await ring.start();
    const t0 = performance.now();
    for (const p of input) ring.write(asCaptured(p)); // no await: the disk loop cannot run meanwhile
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(1000);
    await ring.close();
    const st = ring.status();
    expect(st.dropped).toBeGreaterThan(0);
    expect(st.packetsWritten + st.dropped).toBe(input.length);
    expect((await packetsOf(ringFiles(dir)[0]!)).length).toBe(st.packetsWritten);
    expect(st.pendingBytes).toBe(0);
  });

  describe.skipIf(!isRoot)('disk errors (needs root to mount tmpfs)', () => {
    const mounts: string[] = [];
    afterEach(() => {
      for (const m of mounts.splice(0)) spawnSync('umount', ['-l', m]);
    });
    function mountTmpfs(opts: string): string {
      const m = join(dir, `mnt${mounts.length}`);
      mkdirSync(m);
      execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', m]);
      mounts.push(m);
      return m;
    }

    it('a read-only filesystem: every packet counted as dropped, errors in status, nothing thrown', async () => {
      // The directory exists, then its filesystem turns read-only (as an SD card does after I/O errors).
      const ro = mountTmpfs('size=1m,mode=0755');
      mkdirSync(join(ro, 'pcap'), { mode: 0o700 });
      execFileSync('mount', ['-o', 'remount,ro', ro]);
      const input = await packetsOf(join(REAL, 'http-curl.pcap'));
      let t = 1_000_000;
      const ring = new RingWriter({ dir: join(ro, 'pcap'), fileBytes: 64 * 1024, files: 2, retryMs: 50, now: () => t });
      await ring.start();
      for (const p of input) {
        ring.write(asCaptured(p));
        await ring.settle();
        t += 20; // the retry timer passes: new files are tried (and fail) again
      }
      await ring.close();
      const st = ring.status();
      expect(st.packetsWritten).toBe(0);
      expect(st.dropped).toBe(input.length);
      expect(st.errors).toBeGreaterThan(1);
      expect(st.lastError).toMatch(/EROFS/);
      expect(st.state).toBe('stopped');
    });

    it('a full disk: what fits is written and readable, the rest counted as dropped', async () => {
      const small = mountTmpfs('size=64k,mode=0700');
      const input: Kept[] = [];
      for (let i = 0; i < 3; i++) input.push(...(await packetsOf(join(REAL, 'apps-phone.pcap'))));
      const ring = new RingWriter({
        dir: join(small, 'pcap'),
        fileBytes: 1 << 20,
        files: 2,
        chunkBytes: 4096,
        retryMs: 3_600_000,
      });
      await ring.start();
      for (let i = 0; i < input.length; i++) {
        ring.write(asCaptured(input[i]!));
        if (i % 20 === 0) await ring.settle();
      }
      await ring.close();
      const st = ring.status();
      expect(st.errors).toBeGreaterThanOrEqual(1);
      expect(st.lastError).toMatch(/ENOSPC/);
      expect(st.packetsWritten).toBeGreaterThan(0);
      expect(st.packetsWritten + st.dropped).toBe(input.length);
      const [file] = ringFiles(join(small, 'pcap'));
      // The file ends where the disk ran out; the reader delivers the complete packets before it.
      const back = await packetsOf(file!);
      expect(back.length).toBeGreaterThanOrEqual(st.packetsWritten);
    });
  });
});
