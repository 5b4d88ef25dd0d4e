#!/usr/bin/env node
/**
 * `bandguard` command line. Each command is a thin layer: parse and validate arguments, call a service,
 * print. Exit codes: 0 success, 2 bad input (unreadable capture, bad arguments), 1 any other failure.
 */
import { writeFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const HELP = `bandguard — take back control of your wearables

Usage: bandguard <command> [options]

Commands:
  analyze FILE...     analyze pcap/pcapng(.gz) captures: who each phone contacts, and what leaks
                      --format table|json|csv   --out FILE   --partial (accept a file cut short)
  band scan|pair|sync|list|forget|export
                      the BLE side: scan, pair and sync bands locally (--simulate: simulated devices)
  start               the agent: live capture on the AP interface into SQLite, BLE sync, retention
                      --config FILE --data-dir DIR --interface IF --listen HOST:PORT --safe
                      (--replay FILE [--speed N]: feed a capture file through the live path instead)
  report              what the agent has stored, in the analyze JSON contract
                      --since DURATION|ISO --until ISO --client MAC|IP --format table|json|csv --out FILE
  status              the agent's health: capture, packets, drops, database, BLE   --format table|json
  doctor              check BLE adapter, capture rights, interface, libpcap, iptables/ipset, AP, database,
                      free disk, and say what to fix
  setup-ap            write hostapd, dnsmasq and systemd configuration for a Raspberry Pi access point
                      --ssid NAME --passphrase TEXT --country CC [--channel N] [--target DIR] [--dry-run]
  backup FILE         a consistent copy of the database (safe while the agent runs)   --force
  restore FILE        replace the database with a backup (the agent must be stopped)
  block add DOMAIN | --org NAME | --role ROLE [--client MAC|IP] [--allow] [--apply]
  block list [--format table|json] | block remove ID
                      per-phone blocking of domains (and subdomains), organizations and roles
  firewall off|on|apply|restore|status|set KEY VALUE   [--dry-run] [--netns NAME]
                      the kernel side: off removes everything bandguard added
  rules               print the rule plan (ipset, iptables, dnsmasq lines, collateral)  --format text|json
  demo                the agent on a throwaway data dir, fed the bundled capture; simulated bands
                      --serve (keep running) --speed N (replay pace, 0 = full speed) --keep
  help                this text

Every command takes --config FILE and --data-dir DIR (default ~/.bandguard or $BANDGUARD_DATA_DIR).
`;

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  // Each command's module is loaded only when it runs: `analyze` must not pay for express, SQLite or BLE.
  try {
    switch (command) {
      case 'analyze':
        return await (await import('./commands/analyze.js')).runAnalyze(rest, io);
      case 'band':
        return await (await import('./commands/band.js')).runBand(rest, io);
      case 'block':
        return await (await import('./commands/block.js')).runBlock(rest, io);
      case 'firewall':
        return await (await import('./commands/firewall.js')).runFirewall(rest, io);
      case 'rules':
        return await (await import('./commands/rules.js')).runRules(rest, io);
      case 'demo':
        return await (await import('./commands/demo.js')).runDemo(rest, io);
      case 'start':
        return await (await import('./commands/start.js')).runStart(rest, io);
      case 'report':
        return await (await import('./commands/report.js')).runReport(rest, io);
      case 'status':
        return await (await import('./commands/status.js')).runStatus(rest, io);
      case 'doctor':
        return await (await import('./commands/doctor.js')).runDoctor(rest, io);
      case 'setup-ap':
        return await (await import('./commands/setupAp.js')).runSetupAp(rest, io);
      case 'backup':
        return await (await import('./commands/backup.js')).runBackup(rest, io);
      case 'restore':
        return await (await import('./commands/restore.js')).runRestore(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(HELP);
        return 0;
      case '--version':
      case 'version':
        io.stdout('bandguard 0.1.0\n');
        return 0;
      default:
        throw new UsageError(`unknown command '${command}' (try 'bandguard help')`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`bandguard: ${err.message}\n`);
      return 2;
    }
    io.stderr(`bandguard: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.BANDGUARD_DEBUG && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    return 1;
  }
}

/** parseArgs with our error type, so that a bad flag is exit code 2 with one line. */
export function parseCommandArgs(
  args: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | string[] | undefined>, positionals: r.positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export function writeOutput(out: string | undefined, text: string, io: Io): void {
  if (out) writeFileSync(out, text);
  else io.stdout(text);
}

/** Run the command line on this process's arguments and set its exit code (the executable's whole job). */
export function runCli(): void {
  main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`bandguard: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

// `node dist/src/cli.js ...` still works; the installed executable is the bundle (src/bin/bandguard.ts).
const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) runCli();
