/** Rules: the blocking policy, the generated rules, apply status and last error. */
import { ApiFailure, get, post } from '../api.js';
import type { Page } from '../app.js';
import { append, badge, card, clear, empty, errorText, fmtTime, h, spinner, toast } from '../dom.js';
import * as events from '../events.js';
import { unblock } from './blockFlow.js';
import { firewallLine } from './common.js';
import type { ApplySummary, BlockEntry, Collateral, FirewallStatus } from './types.js';

interface RulesView {
  status: FirewallStatus;
  lastApply: ApplySummary | null;
  plan: {
    hash: string;
    stats: Record<string, number>;
    sets: { name: string; family: number; role: string; client: string | null; entries: number }[];
    v4: string;
    v6: string;
    dnsmasq: string[];
    warnings: string[];
    collateral: Collateral[];
    preview: string;
  };
}

async function render(root: HTMLElement): Promise<void> {
  let view: RulesView;
  let entries: BlockEntry[];
  try {
    [view, entries] = await Promise.all([
      get<RulesView>('/rules'),
      get<{ items: BlockEntry[] }>('/blocks').then((r) => r.items),
    ]);
  } catch (e) {
    clear(root);
    root.append(h('h1', {}, 'Rules'), h('p', { class: 'error' }, errorText(e)));
    return;
  }
  clear(root);
  const applyBtn = h('button', { type: 'button', class: 'primary', id: 'apply' }, 'Apply now');
  applyBtn.addEventListener('click', async () => {
    applyBtn.disabled = true;
    try {
      const r = await post<ApplySummary>('/rules/apply');
      toast(
        r.ok
          ? r.dryRun
            ? 'Rules computed (dry run)'
            : r.changed
              ? 'Rules applied'
              : 'Rules already in force'
          : `Apply failed: ${r.error}`,
        r.ok ? 'ok' : 'error',
      );
      await render(root);
    } catch (e) {
      toast(e instanceof ApiFailure ? e.message : errorText(e), 'error');
      applyBtn.disabled = false;
    }
  });
  const p = view.plan;
  const last = view.lastApply;
  append(
    root,
    h('h1', {}, 'Rules'),
    h(
      'div',
      { class: 'grid' },
      card(
        'Status',
        firewallLine(view.status, last),
        h(
          'dl',
          { class: 'kv' },
          h('dt', {}, 'Mode'),
          h('dd', {}, view.status.dryRun ? 'dry run (commands are recorded, not run)' : 'enforcing'),
          h('dt', {}, 'Applied'),
          h('dd', {}, view.status.appliedAt ? fmtTime(view.status.appliedAt) : 'not yet'),
          h('dt', {}, 'Last apply'),
          h('dd', {}, last ? `${fmtTime(last.at)} · ${last.ok ? 'ok' : 'failed'} · ${last.durationMs} ms` : '—'),
          h('dt', {}, 'Plan'),
          h(
            'dd',
            {},
            h('code', {}, p.hash.slice(0, 12)),
            ` · ${p.stats.rules ?? 0} rules · ${p.stats.names ?? 0} names · ${(p.stats.addresses4 ?? 0) + (p.stats.addresses6 ?? 0)} addresses`,
          ),
        ),
        applyBtn,
      ),
      card(
        'Policy',
        entries.length === 0
          ? empty('Nothing blocked. Block from the Parties page.')
          : h(
              'ul',
              { class: 'list entries' },
              ...entries.map((e) => {
                const rm = h('button', { type: 'button', class: 'secondary small' }, 'Remove');
                rm.addEventListener('click', async () => {
                  if (
                    await unblock(
                      { entryId: e.id, kind: e.kind, target: e.target, scope: e.client ? 'client' : 'all' },
                      e.client,
                    )
                  )
                    await render(root);
                });
                return h(
                  'li',
                  { class: 'entry' },
                  badge(e.action, e.action === 'block' ? 'bad' : 'ok'),
                  ' ',
                  badge(e.kind, 'info'),
                  ' ',
                  h('strong', {}, e.target),
                  h('span', { class: 'muted' }, ` · ${e.client ?? 'every phone'} · ${e.source}`),
                  rm,
                );
              }),
            ),
      ),
    ),
    p.warnings.length + p.collateral.length > 0
      ? card(
          'Warnings',
          ...p.warnings.map((w) => h('p', { class: 'warn-text' }, w)),
          ...p.collateral.map((c) =>
            h(
              'p',
              { class: 'warn-text' },
              `${c.client}: ${c.affectedName} shares ${c.address} with ${c.blockedNames.join(', ')} (${c.effect})`,
            ),
          ),
        )
      : null,
    card(
      'Address sets',
      p.sets.length === 0
        ? empty('No sets yet.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'sets' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ...['Set', 'Family', 'Role', 'Phone', 'Addresses'].map((t) => h('th', { scope: 'col' }, t)),
                ),
              ),
              h(
                'tbody',
                {},
                ...p.sets.map((s) =>
                  h(
                    'tr',
                    {},
                    h('td', { 'data-label': 'Set' }, h('code', {}, s.name)),
                    h('td', { 'data-label': 'Family' }, `IPv${s.family}`),
                    h('td', { 'data-label': 'Role' }, s.role),
                    h('td', { 'data-label': 'Phone' }, s.client ?? 'all'),
                    h('td', { 'data-label': 'Addresses', class: 'num' }, String(s.entries)),
                  ),
                ),
              ),
            ),
          ),
    ),
    h(
      'details',
      { class: 'card' },
      h('summary', {}, 'Generated rules (iptables-restore, IPv4 and IPv6) and dnsmasq lines'),
      h('h3', {}, 'Preview'),
      h('pre', { class: 'code' }, p.preview),
      h('h3', {}, 'IPv4'),
      h('pre', { class: 'code' }, p.v4),
      h('h3', {}, 'IPv6'),
      h('pre', { class: 'code' }, p.v6),
      h('h3', {}, 'dnsmasq'),
      h('pre', { class: 'code' }, p.dnsmasq.join('\n') || '(none)'),
    ),
  );
}

export const rulesPage: Page = {
  title: 'Rules',
  async mount(root) {
    root.append(spinner());
    await render(root);
    return events.on('rules', () => void render(root).catch(() => {}));
  },
};
