/** Overview: phones, bands, parties by role and country, leaks, rule status, capture health. */
import { get } from '../api.js';
import type { Page } from '../app.js';
import { badge, card, clear, empty, fmtBytes, fmtNumber, h, roleClass, spinner, time } from '../dom.js';
import * as events from '../events.js';
import { barList, countryLabel, firewallLine, uploadControl } from './common.js';
import type { ClientRow, Device, Status } from './types.js';

async function render(root: HTMLElement): Promise<void> {
  const [status, clients, devices] = await Promise.all([
    get<Status>('/status'),
    get<{ items: ClientRow[] }>('/clients'),
    get<{ items: Device[] }>('/devices').catch(() => ({ items: [] as Device[] })),
  ]);
  clear(root);
  const o = status.overview;
  const stats = h(
    'div',
    { class: 'stats' },
    stat('Phones', o.clients, '#/parties'),
    stat('Bands', devices.items.length, '#/bands'),
    stat('Parties', o.parties, '#/parties'),
    stat('Third parties', o.thirdParties, '#/parties?party=third'),
    stat('Leaks', o.leaks, '#/leaks', o.leaks > 0 ? 'bad' : ''),
  );
  const phones = card(
    'Phones on the hub',
    clients.items.length === 0
      ? empty('No phone seen yet. Connect a phone to the hub’s Wi-Fi, or import a capture.')
      : h(
          'ul',
          { class: 'list' },
          ...clients.items.map((c) =>
            h(
              'li',
              {},
              h(
                'a',
                { href: `#/parties?client=${encodeURIComponent(c.id)}`, class: 'row-link' },
                h('strong', {}, c.hostname ?? c.vendor ?? c.id),
                h('span', { class: 'muted' }, ` ${c.id}`),
              ),
              h(
                'div',
                { class: 'chips' },
                ...c.apps.map((a) => badge(a, 'app')),
                badge(`${c.thirdParties} third parties`, c.thirdParties > 0 ? 'warn' : ''),
                c.leaks > 0 ? badge(`${c.leaks} leaks`, 'bad') : null,
                h('span', { class: 'muted' }, ` ↑${fmtBytes(c.bytesOut)} ↓${fmtBytes(c.bytesIn)} · `, time(c.lastSeen)),
              ),
            ),
          ),
        ),
  );
  const bands = card(
    'Bands',
    devices.items.length === 0
      ? h('p', { class: 'empty' }, 'No band paired. ', h('a', { href: '#/bands' }, 'Pair one'))
      : h(
          'ul',
          { class: 'list' },
          ...devices.items.map((d) =>
            h(
              'li',
              {},
              h('a', { href: `#/bands?device=${d.id}`, class: 'row-link' }, h('strong', {}, d.name ?? d.model ?? d.id)),
              h(
                'div',
                { class: 'chips' },
                h(
                  'span',
                  { class: 'muted' },
                  `${d.vendor ?? ''} ${d.model ?? ''} · ${fmtNumber(d.samples)} samples · synced `,
                  time(d.lastSyncAt),
                ),
                d.lastError ? badge('sync error', 'bad') : null,
              ),
            ),
          ),
        ),
  );
  const roles = card(
    'Parties by role',
    barList(o.byRole, (v) => badge(v, roleClass(v)), roleClass),
  );
  const countries = card(
    'Where the servers are',
    o.byCountry.length === 0
      ? empty('No server with a known country yet (private and documentation addresses have none).')
      : barList(o.byCountry.slice(0, 12), (v) => countryLabel(v)),
  );
  const leaks = card(
    'Leaks in plain text',
    o.leaks === 0
      ? empty('Nothing seen leaving in plain text.')
      : barList(
          o.leaksByKind,
          (v) => badge(v, `leak-${v}`),
          (v) => `leak-${v}`,
        ),
    o.leaks > 0 ? h('a', { href: '#/leaks', class: 'more' }, 'See the evidence →') : null,
  );
  const rules = card(
    'Blocking',
    firewallLine(status.firewall, status.lastApply),
    h('a', { href: '#/rules', class: 'more' }, 'Rules →'),
  );
  const cap = status.agent?.capture;
  const health = card(
    'Capture',
    cap
      ? h(
          'div',
          { class: 'health' },
          h(
            'p',
            {},
            h('span', {
              class: `dot ${cap.state === 'running' || cap.state === 'done' ? 'ok' : cap.state === 'failed' ? 'bad' : 'warn'}`,
            }),
            h('strong', { class: 'source' }, ` ${cap.source.replace(/(^|[,:])\/[^,]*\//g, '$1')}: ${cap.state}`),
          ),
          cap.detail ? h('p', { class: 'muted' }, cap.detail.replace(/\/[^,\s]*\//g, '')) : null,
          h(
            'p',
            { class: 'muted' },
            `${fmtNumber(cap.packets)} packets · ${fmtBytes(cap.bytes)} · queue drops ${fmtNumber(cap.queueDrops)}${cap.interfaceDrops !== null ? ` · interface drops ${fmtNumber(cap.interfaceDrops)}` : ''} · malformed ${fmtNumber(cap.malformed)}`,
          ),
        )
      : empty('No agent status.'),
    status.captures.length > 0
      ? h(
          'ul',
          { class: 'list compact' },
          ...status.captures
            .slice(0, 3)
            .map((c) =>
              h(
                'li',
                {},
                h('span', {}, `${c.ok ? '✓' : '✗'} ${c.name}: `),
                h(
                  'span',
                  { class: 'muted' },
                  c.ok ? `${fmtNumber(c.packets)} packets, ${c.names} names, ${c.leaks} leaks` : (c.error ?? ''),
                ),
              ),
            ),
        )
      : null,
    uploadControl(() => void render(root)),
  );
  root.append(
    h('h1', {}, 'Overview'),
    stats,
    h('div', { class: 'grid' }, phones, bands, roles, countries, leaks, rules, health),
  );
}

function stat(label: string, n: number, href: string, cls = ''): HTMLElement {
  return h(
    'a',
    { class: `stat ${cls}`, href },
    h('span', { class: 'stat-n' }, fmtNumber(n)),
    h('span', { class: 'stat-label' }, label),
  );
}

export const overviewPage: Page = {
  title: 'Overview',
  async mount(root) {
    root.append(spinner());
    await render(root);
    let pending: number | null = null;
    const refresh = () => {
      if (pending !== null) return;
      pending = window.setTimeout(() => {
        pending = null;
        void render(root).catch(() => {});
      }, 1500);
    };
    const offs = ['party', 'leak', 'rules', 'capture'].map((t) => events.on(t, refresh));
    return () => {
      for (const off of offs) off();
      if (pending !== null) clearTimeout(pending);
    };
  },
};
