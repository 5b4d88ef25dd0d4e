/**
 * The agent as a whole (in process): it keeps running when live capture is unavailable and says why; one
 * agent per data dir (a live pid file refuses a second, a stale one is taken over); `--safe` and the status;
 * the demo runs the agent through the live path on a throwaway dir.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent/agent.js';
import { AgentLockedError, PID_FILE, readPidFile } from '../../../src/agent/pidFile.js';
import { main } from '../../../src/cli.js';
import { loadConfig } from '../../../src/config/load.js';
import { FakeCron } from './fakeCron.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-agent-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(flags: Record<string, string | boolean | number> = {}) {
  return loadConfig({ env: {}, flags: { dataDir: dir, 'ble.enabled': false, ...flags } }).config;
}

describe('Agent', () => {
  it('keeps running without a capture interface, and says so in the status and the store', async () => {
    const agent = await Agent.start({
      config: config({ 'capture.interface': 'nope0', safe: true }),
      cron: new FakeCron(),
    });
    try {
      const st = agent.status();
      expect(st.capture).toMatchObject({ source: 'live:nope0', state: 'unavailable', enabled: true });
      expect(st.capture.detail).toContain('interface nope0 not found');
      expect(st.safe).toBe(true);
      expect(agent.store.captureStatus()).toMatchObject([{ source: 'live:nope0', state: 'unavailable' }]);
      expect(readPidFile(dir)?.pid).toBe(process.pid);
    } finally {
      await agent.stop();
    }
    expect(existsSync(join(dir, PID_FILE))).toBe(false);
    const published = JSON.parse(readFileSync(join(dir, 'agent-status.json'), 'utf8')) as { stoppedAt?: string };
    expect(published.stoppedAt).toBeDefined();
  });

  it('one agent per data dir; a stale pid file is taken over', async () => {
    // Another live process (our parent) holds the data dir.
    writeFileSync(join(dir, PID_FILE), JSON.stringify({ pid: process.ppid, startedAt: '2025-01-01T00:00:00.000Z' }));
    await expect(Agent.start({ config: config({ 'capture.enabled': false }), cron: new FakeCron() })).rejects.toThrow(
      new AgentLockedError(
        `another agent (pid ${process.ppid}, since 2025-01-01T00:00:00.000Z) is running on ${dir}; stop it first or use another --data-dir`,
      ),
    );
    expect(existsSync(join(dir, 'bandguard.db'))).toBe(false);
    // A pid that cannot be alive (beyond pid_max) left by a crash.
    writeFileSync(join(dir, PID_FILE), JSON.stringify({ pid: 2 ** 22 + 7, startedAt: 'x' }));
    const b = await Agent.start({ config: config({ 'capture.enabled': false }), cron: new FakeCron() });
    expect(readPidFile(dir)?.pid).toBe(process.pid);
    await b.stop();
  });

  it('opens the BLE side (simulated radio) and schedules sync, except in safe mode', async () => {
    for (const safe of [false, true]) {
      const cron = new FakeCron();
      const c = loadConfig({
        env: {},
        flags: { dataDir: dir, 'capture.enabled': false, 'ble.simulate': true, safe },
      }).config;
      const agent = await Agent.start({ config: c, cron });
      try {
        expect(agent.status().ble).toMatchObject({ enabled: true, state: 'poweredOn', kind: 'simulated' });
        const scheduled = cron.tasks.map((t) => t.expression);
        expect(scheduled).toContain(c.retention.schedule);
        expect(scheduled.includes(c.ble.syncSchedule)).toBe(!safe);
      } finally {
        await agent.stop();
      }
    }
  });

  it('demo: the agent fed the bundled capture, then simulated bands', async () => {
    const out: string[] = [];
    const code = await main(['demo'], { stdout: (s) => out.push(s), stderr: () => {} });
    const text = out.join('');
    expect(code).toBe(0);
    expect(text).toContain('through its live path');
    expect(text).toMatch(/Clients \(\d+\)/);
    expect(text).toContain('Galaxy-S23');
    expect(text).toContain('$ bandguard status');
    expect(text).toMatch(/capture: {2}replay:.*: done/);
    expect(text).toContain('drops: queue 0');
    expect(text).toContain('$ bandguard band sync --simulate');
    const tmp = /throwaway data dir (\S+)/.exec(text)?.[1] ?? '';
    expect(tmp).not.toBe('');
    expect(existsSync(tmp)).toBe(false);
  });
});
