/**
 * `bandguard rules [--format text|json] [--dnsmasq]` — print the rule plan that the agent would apply for
 * the stored policy and what has been learnt so far: ipset and iptables/ip6tables restore text, dnsmasq
 * lines, collateral (blocked names sharing an address with a name a phone uses) and warnings. Read-only.
 */
import { type Io, parseCommandArgs, UsageError } from '../cli.js';
import { dnsmasqConf } from '../firewall/feed.js';
import { renderIpsetRestore, renderIptablesRestore, renderPreview } from '../firewall/plan.js';
import { FIREWALL_FLAGS, firewallErrorCode, openFirewall } from './firewall.js';

export async function runRules(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    ...FIREWALL_FLAGS,
    format: { type: 'string', default: 'text' },
    dnsmasq: { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError(`rules takes no arguments (got '${positionals[0]}')`);
  if (values.format !== 'text' && values.format !== 'json') throw new UsageError('--format must be text or json');
  const ctx = openFirewall(values, io);
  try {
    const plan = ctx.service.preview();
    if (values.dnsmasq === true) io.stdout(dnsmasqConf(plan));
    else if (values.format === 'json') {
      io.stdout(
        `${JSON.stringify(
          {
            hash: plan.hash,
            stats: plan.stats,
            warnings: plan.warnings,
            collateral: plan.collateral,
            sets: plan.sets.map((s) => ({
              name: s.name,
              family: s.family,
              role: s.role,
              client: s.client,
              entries: s.entries.length,
            })),
            ipset: renderIpsetRestore(plan),
            iptables: renderIptablesRestore(plan.v4),
            ip6tables: renderIptablesRestore(plan.v6),
            dnsmasq: plan.dnsmasq,
          },
          null,
          2,
        )}\n`,
      );
    } else io.stdout(renderPreview(plan));
    return 0;
  } catch (err) {
    return firewallErrorCode(err, io);
  } finally {
    ctx.close();
  }
}
