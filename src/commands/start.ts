/**
 * `bandguard start`: the agent. Runs until SIGINT/SIGTERM, then stops gracefully (everything in memory is
 * finalised and written). A bad configuration exits with code 2 before anything is started.
 * `--replay FILE [--speed N]` feeds a capture file through the live path instead of the interface
 * (demonstrations, tests, benchmarks).
 */
import { Agent } from '../agent/agent.js';
import { AgentLockedError } from '../agent/pidFile.js';
import { type RunningApi, startApi } from '../api/compose.js';
import { type Io, parseCommandArgs, UsageError } from '../cli.js';
import { COMMON_FLAGS, configFromFlags } from '../config/flags.js';
import { ConfigError } from '../config/load.js';
import { ReplaySource } from '../net/capture/replaySource.js';

export function parseSpeed(s: string | undefined): number {
  if (s === undefined) return 1;
  const n = Number(s);
  if (!/^\d+(\.\d+)?$/.test(s) || !Number.isFinite(n))
    throw new UsageError(`--speed must be 0 (full speed) or a positive number (got '${s}')`);
  return n;
}

export async function runStart(args: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...COMMON_FLAGS,
    replay: { type: 'string' },
    speed: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`start takes no arguments (got '${positionals[0]}')`);
  let loaded: ReturnType<typeof configFromFlags>;
  try {
    loaded = configFromFlags(values);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
  for (const w of loaded.warnings) io.stderr(`bandguard: warning: ${w}\n`);
  const config = loaded.config;
  const replay = typeof values.replay === 'string' ? values.replay : undefined;
  const source = replay
    ? new ReplaySource(replay, { speed: parseSpeed(values.speed as string | undefined) })
    : undefined;
  // Listen for the stop signals before anything starts: a SIGTERM that arrives while the agent or the
  // dashboard is still starting must stop it gracefully too, never kill it half-way.
  const stopRequested = new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    signal?.addEventListener('abort', done, { once: true });
  });
  let agent: Agent;
  try {
    agent = await Agent.start({ config, ...(source ? { source } : {}) });
  } catch (e) {
    if (e instanceof AgentLockedError) {
      io.stderr(`bandguard: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const st = agent.status();
  io.stderr(
    `bandguard: agent running (pid ${process.pid}), data dir ${config.dataDir}${loaded.file ? `, config ${loaded.file}` : ''}\n` +
      `bandguard: capture ${st.capture.source}: ${st.capture.state}${st.capture.detail ? ` — ${st.capture.detail}` : ''}\n` +
      `bandguard: BLE: ${st.ble.detail}${config.safe ? '\nbandguard: safe mode: no firewall changes, no device writes' : ''}\n`,
  );
  let api: RunningApi | null = null;
  try {
    api = await startApi({
      agent,
      config,
      configFile: loaded.file,
      origins: loaded.origins,
      firewallDryRun: config.safe,
    });
    io.stderr(`bandguard: dashboard at ${api.url}${api.note ? ` (${api.note})` : ''}\n`);
    if (api.setupCode)
      io.stderr(`bandguard: first run: open the dashboard and set a password with the setup code ${api.setupCode}\n`);
  } catch (e) {
    io.stderr(
      `bandguard: the dashboard could not start (the agent keeps running): ${e instanceof Error ? e.message : String(e)}\n`,
    );
  }
  await stopRequested;
  io.stderr('bandguard: stopping (writing what is in memory)\n');
  await api?.close();
  await agent.stop();
  io.stderr('bandguard: stopped\n');
  return 0;
}
