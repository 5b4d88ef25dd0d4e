/**
 * Shared pieces of the firewall tests: a fixed policy world (entries, observations, clients), a store on a
 * real SQLite file, the real parties knowledge base, and an executor wrapper that fails a chosen step.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecRequest, ExecResult, Executor } from '../../../src/firewall/executor.js';
import type { BlockEntry, ObservedAddress } from '../../../src/firewall/policy.js';
import { DEFAULT_SETTINGS, type FirewallSettings } from '../../../src/firewall/policy.js';
import { defaultPartiesKnowledgeBase } from '../../../src/net/classify/parties.js';
import { type Db, openDatabase } from '../../../src/store/db.js';

export const NOW = 1_750_000_000_000;
export const PHONE_A = '64:cc:2e:11:22:33';
export const PHONE_B = '3c:28:6d:aa:bb:cc';

export const parties = defaultPartiesKnowledgeBase();

export function tempDb(): { db: Db; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bandguard-fw-'));
  const path = join(dir, 'bandguard.db');
  return { db: openDatabase(path), path };
}

let nextId = 1;
export function entry(partial: Partial<BlockEntry> & Pick<BlockEntry, 'kind' | 'target'>): BlockEntry {
  return {
    id: nextId++,
    client: null,
    action: 'block',
    createdAt: NOW,
    source: 'cli',
    note: null,
    ...partial,
  };
}

export function obs(client: string, name: string, address: string, ttlSec = 600): ObservedAddress {
  return { client, name, address, expiresAt: NOW + ttlSec * 1000 };
}

export function settings(patch: Partial<FirewallSettings> = {}): FirewallSettings {
  return { ...DEFAULT_SETTINGS, ...patch, bypass: { ...DEFAULT_SETTINGS.bypass, ...(patch.bypass ?? {}) } };
}

/** Wraps an executor; `failWhen` picks a request to fail (exit 1, stderr "injected failure") instead of running it. */
export function failingExecutor(
  inner: Executor,
  failWhen: (req: ExecRequest, n: number) => boolean,
): Executor & { calls: ExecRequest[] } {
  const calls: ExecRequest[] = [];
  return {
    dryRun: inner.dryRun,
    calls,
    async run(req: ExecRequest): Promise<ExecResult> {
      calls.push(req);
      if (failWhen(req, calls.length)) {
        return { id: -1, argv: req.argv, code: 1, stdout: '', stderr: 'injected failure', durationMs: 0 };
      }
      return inner.run(req);
    },
  };
}

/** iptables-save / ip6tables-save / ipset save of a namespace, without counters, comments and timeouts. */
export function normalizeSave(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) =>
      l
        .replace(/\[\d+:\d+\]/g, '[0:0]')
        .replace(/ timeout \d+$/, '')
        .replace(/ initval 0x[0-9a-f]+/, ''),
    )
    .join('\n');
}
