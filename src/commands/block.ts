/**
 * `bandguard block add DOMAIN | --org NAME | --role ROLE [--client MAC|IP] [--allow] [--note TEXT]`,
 * `bandguard block list [--format table|json]`, `bandguard block remove ID` — the same policy the dashboard
 * edits. They change the store and print what changed; a running agent applies the change within seconds
 * (it polls the policy revision), otherwise `bandguard firewall apply` (or `--apply` here) does it now.
 */
import { type Io, parseCommandArgs, UsageError } from '../cli.js';
import type { BlockEntry, BlockKind } from '../firewall/policy.js';
import { FIREWALL_FLAGS, firewallErrorCode, openFirewall } from './firewall.js';

const USAGE =
  'usage: bandguard block add DOMAIN | --org NAME | --role ROLE [--client MAC|IP] [--allow] [--apply]\n' +
  '       bandguard block list [--format table|json]\n' +
  '       bandguard block remove ID [--apply]';

function describe(e: BlockEntry): string {
  const what = e.kind === 'domain' ? `${e.target} (and its subdomains)` : `${e.kind} ${JSON.stringify(e.target)}`;
  return `#${e.id} ${e.action} ${what} for ${e.client ?? 'every client'}`;
}

/** The `block list --format json` row (design.md: id, kind, target, client). */
export function entryJson(e: BlockEntry): Record<string, unknown> {
  return {
    id: e.id,
    kind: e.kind,
    target: e.target,
    client: e.client,
    action: e.action,
    createdAt: new Date(e.createdAt).toISOString(),
    source: e.source,
    note: e.note,
  };
}

export async function runBlock(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...FIREWALL_FLAGS,
    org: { type: 'string' },
    role: { type: 'string' },
    client: { type: 'string' },
    allow: { type: 'boolean' },
    note: { type: 'string' },
    apply: { type: 'boolean' },
    format: { type: 'string', default: 'table' },
  });
  const [sub, ...rest] = positionals;
  if (sub !== 'add' && sub !== 'list' && sub !== 'remove') throw new UsageError(USAGE);
  let kind: BlockKind | null = null;
  let target: string | undefined;
  if (sub === 'add') {
    const given = [rest.length > 0, values.org !== undefined, values.role !== undefined].filter(Boolean).length;
    if (given !== 1 || rest.length > 1)
      throw new UsageError(`block add takes exactly one of DOMAIN, --org NAME, --role ROLE\n${USAGE}`);
    if (rest.length === 1) [kind, target] = ['domain', rest[0]];
    else if (values.org !== undefined) [kind, target] = ['organization', values.org as string];
    else [kind, target] = ['role', values.role as string];
  } else if (sub === 'remove') {
    if (rest.length !== 1 || !/^[1-9][0-9]{0,15}$/.test(rest[0]!))
      throw new UsageError(`block remove takes one entry id\n${USAGE}`);
  } else if (rest.length > 0) throw new UsageError(`block list takes no arguments\n${USAGE}`);
  if (values.format !== 'table' && values.format !== 'json') throw new UsageError('--format must be table or json');

  const ctx = openFirewall(values, io);
  try {
    const { service } = ctx;
    let changed = false;
    if (sub === 'list') {
      const list = service.list();
      if (values.format === 'json') io.stdout(`${JSON.stringify(list.map(entryJson), null, 2)}\n`);
      else if (list.length === 0) io.stdout('no block entries\n');
      else for (const e of list) io.stdout(`${describe(e)}${e.note ? ` — ${e.note}` : ''}\n`);
      return 0;
    }
    if (sub === 'add') {
      const r = service.add(
        {
          kind: kind!,
          target: target!,
          client: (values.client as string | undefined) ?? null,
          action: values.allow === true ? 'allow' : 'block',
          note: (values.note as string | undefined) ?? null,
        },
        'cli',
      );
      if (r.resolvedClient) io.stdout(`client ${r.resolvedClient.ip} is the phone ${r.resolvedClient.mac}\n`);
      else if (r.entry.client !== null && !r.entry.client.includes(':')) {
        io.stdout(`note: no phone has been seen with ${r.entry.client} yet; the entry applies once it shows up\n`);
      }
      io.stdout(r.created ? `added ${describe(r.entry)}\n` : `already there: ${describe(r.entry)}\n`);
      changed = r.created;
    } else {
      const removed = service.remove(Number(rest[0]), 'cli');
      if (!removed) {
        io.stderr(`bandguard: no block entry #${rest[0]} (see \`bandguard block list\`)\n`);
        return 1;
      }
      io.stdout(`removed ${describe(removed)}\n`);
      changed = true;
    }
    if (values.apply === true) {
      const r = await service.apply('cli');
      io.stdout(
        r.dryRun
          ? 'dry-run: nothing applied\n'
          : r.changed
            ? `applied plan ${r.hash.slice(0, 12)}\n`
            : 'already in force\n',
      );
    } else if (changed) {
      io.stdout(
        ctx.agentRunning
          ? 'the running agent applies the change within seconds\n'
          : 'the agent is not running: `bandguard firewall apply` applies the change now\n',
      );
    }
    return 0;
  } catch (err) {
    return firewallErrorCode(err, io);
  } finally {
    await ctx.service.drain().catch(() => undefined);
    ctx.close();
  }
}
