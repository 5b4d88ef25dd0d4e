/**
 * Parties: who the apps on each phone talk to — the table the published studies print — sortable,
 * filterable, searchable, with a block toggle per row and per organization / role (previewed first).
 */
import { get, qs } from '../api.js';
import type { Page } from '../app.js';
import { append, badge, clear, country, empty, fmtBytes, fmtNumber, h, roleClass, spinner, time } from '../dom.js';
import * as events from '../events.js';
import { blockWithPreview, unblock } from './blockFlow.js';
import { uploadControl } from './common.js';
import type { ClientRow, PartiesPage, PartyRow } from './types.js';

const RANGES: [string, string][] = [
  ['', 'All time'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
];

const COLUMNS: [string, string][] = [
  ['name', 'Domain'],
  ['organization', 'Organization'],
  ['role', 'Role'],
  ['party', 'Party'],
  ['country', 'Server'],
  ['lastSeen', 'Seen'],
  ['bytes', 'Traffic'],
  ['leaks', 'Leaks'],
];

const PAGE = 50;

interface State {
  client: string;
  role: string;
  party: string;
  country: string;
  organization: string;
  app: string;
  q: string;
  since: string;
  sort: string;
  order: string;
  offset: number;
}

function stateFrom(p: URLSearchParams): State {
  return {
    client: p.get('client') ?? '',
    role: p.get('role') ?? '',
    party: p.get('party') ?? '',
    country: p.get('country') ?? '',
    organization: p.get('organization') ?? '',
    app: p.get('app') ?? '',
    q: p.get('q') ?? '',
    since: p.get('since') ?? '',
    sort: p.get('sort') ?? 'lastSeen',
    order: p.get('order') ?? '',
    offset: Number(p.get('offset') ?? 0) || 0,
  };
}

function hashOf(s: State): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(s))
    if (v !== '' && v !== 0 && !(k === 'sort' && v === 'lastSeen')) p.set(k, String(v));
  const q = p.toString();
  return `#/parties${q ? `?${q}` : ''}`;
}

function select(
  id: string,
  label: string,
  value: string,
  options: [string, string][],
  onChange: (v: string) => void,
): HTMLElement {
  const sel = h(
    'select',
    { id, 'aria-label': label },
    ...options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
  );
  sel.addEventListener('change', () => onChange(sel.value));
  return h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, label), sel);
}

function blockCell(r: PartyRow, reload: () => void): HTMLElement {
  const blocked = r.blocked !== null && r.blocked.action === 'block';
  const sw = h(
    'button',
    {
      type: 'button',
      class: `switch ${blocked ? 'on' : ''}`,
      role: 'switch',
      'aria-checked': blocked ? 'true' : 'false',
      'aria-label': `${blocked ? 'Unblock' : 'Block'} ${r.name ?? r.serverList?.[0]?.ip ?? 'this contact'} on ${r.clientName ?? r.client}`,
      'data-testid': 'block-toggle',
      disabled: r.name === null,
      title:
        r.name === null
          ? 'A contact without a name cannot be blocked by name'
          : blocked
            ? `Blocked by ${r.blocked?.kind} ${r.blocked?.target}`
            : 'Block',
    },
    h('span', { class: 'knob' }),
  );
  sw.addEventListener('click', async (e) => {
    e.stopPropagation();
    const done =
      blocked && r.blocked
        ? await unblock(r.blocked, r.client)
        : await blockWithPreview({ kind: 'domain', target: r.name!, client: r.client });
    if (done) reload();
  });
  return sw;
}

function detailRow(r: PartyRow, reload: () => void, cols: number): HTMLElement {
  const actions: HTMLElement[] = [];
  const act = (label: string, kind: 'domain' | 'organization' | 'role', target: string, client: string | null) =>
    h(
      'button',
      {
        type: 'button',
        class: 'secondary small',
        onclick: async () => {
          if (await blockWithPreview({ kind, target, client })) reload();
        },
      },
      label,
    );
  if (r.name) actions.push(act(`Block ${r.name} on every phone`, 'domain', r.name, null));
  if (r.organization) {
    actions.push(act(`Block all of ${r.organization} on this phone`, 'organization', r.organization, r.client));
    actions.push(act(`… on every phone`, 'organization', r.organization, null));
  }
  if (r.role !== 'unknown' && r.role !== 'local' && r.role !== 'api') {
    actions.push(act(`Block every ${r.role} party on this phone`, 'role', r.role, r.client));
  }
  return h(
    'tr',
    { class: 'detail' },
    h(
      'td',
      { colspan: cols },
      h(
        'div',
        { class: 'detail-grid' },
        h(
          'div',
          {},
          h('h3', {}, 'Servers'),
          h(
            'ul',
            { class: 'servers' },
            ...(r.serverList ?? []).map((s) =>
              h(
                'li',
                {},
                h('code', {}, `${s.ip}:${s.port}`),
                ' ',
                country(s.country),
                s.asn ? h('span', { class: 'muted' }, ` AS${s.asn}`) : null,
                h('span', { class: 'muted' }, ` · ${fmtBytes(s.bytes)}`),
              ),
            ),
          ),
        ),
        h(
          'div',
          {},
          h('h3', {}, 'Details'),
          h(
            'p',
            { class: 'muted' },
            `${r.protocol.toUpperCase()}${r.encrypted ? ' (encrypted)' : ' (clear text)'} · ${fmtNumber(r.flows)} connections · first seen `,
            time(r.firstSeen),
            r.ownerCountry ? ` · owner based in ${r.ownerCountry}` : '',
            r.asOrganization ? ` · network ${r.asOrganization}` : '',
          ),
          r.leaks.count > 0
            ? h(
                'p',
                {},
                h(
                  'a',
                  { href: `#/leaks?client=${encodeURIComponent(r.client)}` },
                  `${r.leaks.count} leak(s): ${r.leaks.kinds.join(', ')} →`,
                ),
              )
            : null,
        ),
        h('div', { class: 'detail-actions' }, h('h3', {}, 'Block more'), ...actions),
      ),
    ),
  );
}

async function render(root: HTMLElement, s: State): Promise<void> {
  const range = s.since;
  const [page, clients] = await Promise.all([
    get<PartiesPage>(
      `/parties${qs({
        client: s.client,
        role: s.role,
        party: s.party,
        country: s.country,
        organization: s.organization,
        app: s.app,
        q: s.q,
        since: range,
        sort: s.sort,
        order: s.order,
        offset: s.offset,
        limit: PAGE,
      })}`,
    ),
    get<{ items: ClientRow[] }>('/clients'),
  ]);
  clear(root);
  const go = (patch: Partial<State>) => {
    location.hash = hashOf({ ...s, offset: 0, ...patch });
  };
  const nameOf = new Map(clients.items.map((c) => [c.id, c.hostname ?? c.vendor ?? c.id]));
  const search = h('input', {
    type: 'search',
    id: 'party-search',
    placeholder: 'Search domain, organization, app…',
    value: s.q,
    'aria-label': 'Search',
  });
  let t: number | undefined;
  search.addEventListener('input', () => {
    clearTimeout(t);
    t = window.setTimeout(() => go({ q: search.value.trim() }), 350);
  });
  const filters = h(
    'div',
    { class: 'filters' },
    h('div', { class: 'search' }, search),
    select(
      'f-client',
      'Phone',
      s.client,
      [
        ['', 'All phones'],
        ...clients.items.map((c): [string, string] => [
          c.id,
          `${nameOf.get(c.id)} (${c.apps.join(', ') || 'no app known'})`,
        ]),
      ],
      (v) => go({ client: v }),
    ),
    select(
      'f-role',
      'Role',
      s.role,
      [['', 'All roles'], ...page.facets.role.map((f): [string, string] => [f.value, `${f.value} (${f.count})`])],
      (v) => go({ role: v }),
    ),
    select(
      'f-party',
      'Party',
      s.party,
      [['', 'All parties'], ...page.facets.party.map((f): [string, string] => [f.value, `${f.value} (${f.count})`])],
      (v) => go({ party: v }),
    ),
    select(
      'f-country',
      'Server country',
      s.country,
      [
        ['', 'All countries'],
        ...page.facets.country.map((f): [string, string] => [f.value, `${f.value} (${f.count})`]),
      ],
      (v) => go({ country: v }),
    ),
    select('f-range', 'When', s.since, RANGES, (v) => go({ since: v })),
  );
  const active = [s.organization && `organization ${s.organization}`, s.app && `app ${s.app}`].filter(
    Boolean,
  ) as string[];
  const reload = () => void render(root, s).catch(() => {});
  const head = h(
    'tr',
    {},
    ...COLUMNS.map(([key, label]) => {
      const sorted = s.sort === key;
      const dir = sorted ? s.order || (key === 'name' || key === 'organization' ? 'asc' : 'desc') : '';
      const btn = h(
        'button',
        {
          type: 'button',
          class: 'sort',
          onclick: () => go({ sort: key, order: sorted && dir === 'desc' ? 'asc' : sorted ? 'desc' : '' }),
        },
        label,
        sorted ? (dir === 'asc' ? ' ▲' : ' ▼') : '',
      );
      return h('th', { scope: 'col', 'aria-sort': sorted ? (dir === 'asc' ? 'ascending' : 'descending') : null }, btn);
    }),
    h('th', { scope: 'col' }, 'Block'),
  );
  const body = h('tbody', {});
  for (const r of page.items) {
    const tr = h(
      'tr',
      {
        class: `party-row ${r.blocked?.action === 'block' ? 'is-blocked' : ''}`,
        'data-name': r.name ?? '',
        tabindex: 0,
      },
      h(
        'td',
        { 'data-label': 'Domain', class: 'name-cell' },
        h(
          'span',
          { class: r.name ? 'name' : 'name ip', title: r.name ? null : 'No name seen for this server: its address' },
          r.name ?? r.serverList?.[0]?.ip ?? 'no name',
        ),
        h(
          'span',
          { class: 'sub muted' },
          `${r.clientName ?? r.client}${r.app ? ` · ${r.app}` : ''}${r.name ? '' : ' · no name seen'}`,
        ),
      ),
      h('td', { 'data-label': 'Organization' }, r.organization ?? h('span', { class: 'muted' }, 'unknown')),
      h('td', { 'data-label': 'Role' }, badge(r.role, roleClass(r.role))),
      h('td', { 'data-label': 'Party' }, badge(r.party, `party-${r.party}`)),
      h(
        'td',
        { 'data-label': 'Server' },
        !r.country && r.serverNote
          ? h('span', { class: 'muted note', title: r.serverNote }, r.serverNote.replace(/\s*\(.*$/, ''))
          : country(r.country),
        r.asn ? h('span', { class: 'muted asn' }, ` AS${r.asn}`) : null,
        r.servers > 1 ? h('span', { class: 'muted' }, ` +${r.servers - 1}`) : null,
      ),
      h('td', { 'data-label': 'Seen' }, time(r.lastSeen)),
      h('td', { 'data-label': 'Traffic', class: 'num' }, `↑${fmtBytes(r.bytesOut)} ↓${fmtBytes(r.bytesIn)}`),
      h(
        'td',
        { 'data-label': 'Leaks' },
        r.leaks.count > 0
          ? badge(`${r.leaks.count} ${r.leaks.kinds.join('/')}`, 'bad')
          : h('span', { class: 'muted' }, '—'),
      ),
      h('td', { 'data-label': 'Block', class: 'block-cell' }, blockCell(r, reload)),
    );
    let open: HTMLElement | null = null;
    const toggle = () => {
      if (open) {
        open.remove();
        open = null;
        tr.classList.remove('open');
      } else {
        open = detailRow(r, reload, COLUMNS.length + 1);
        tr.after(open);
        tr.classList.add('open');
      }
    };
    tr.addEventListener('click', toggle);
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        toggle();
      }
    });
    body.append(tr);
  }
  const pager = h(
    'div',
    { class: 'pager' },
    h(
      'span',
      { class: 'muted' },
      page.total === 0
        ? 'No rows'
        : `${s.offset + 1}–${Math.min(s.offset + PAGE, page.total)} of ${fmtNumber(page.total)}`,
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary small',
        disabled: s.offset === 0,
        onclick: () => go({ offset: Math.max(0, s.offset - PAGE) }),
      },
      '← Previous',
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'secondary small',
        disabled: s.offset + PAGE >= page.total,
        onclick: () => go({ offset: s.offset + PAGE }),
      },
      'Next →',
    ),
  );
  append(
    root,
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Parties'),
      uploadControl(() => reload()),
    ),
    h(
      'p',
      { class: 'muted intro' },
      'Every name the apps on each phone contacted: who runs it, what for, where its server is. Tap a row for its servers and to block a whole organization or role.',
    ),
    filters,
    active.length > 0
      ? h(
          'p',
          { class: 'active-filters' },
          `Filtered by ${active.join(', ')} `,
          h('a', { href: hashOf({ ...s, organization: '', app: '' }) }, 'clear'),
        )
      : null,
    page.items.length === 0
      ? empty(
          page.total === 0 && !s.q && !s.client
            ? 'No traffic seen yet. Import a capture or connect a phone to the hub.'
            : 'Nothing matches these filters.',
        )
      : h('div', { class: 'table-wrap' }, h('table', { class: 'parties' }, h('thead', {}, head), body)),
    pager,
  );
}

export const partiesPage: Page = {
  title: 'Parties',
  async mount(root, params) {
    root.append(spinner());
    const s = stateFrom(params);
    await render(root, s);
    let pending: number | null = null;
    const refresh = () => {
      if (pending !== null || document.querySelector('dialog[open]')) return;
      pending = window.setTimeout(() => {
        pending = null;
        void render(root, s).catch(() => {});
      }, 2000);
    };
    const offs = [events.on('party', refresh), events.on('capture', refresh)];
    return () => {
      for (const off of offs) off();
      if (pending !== null) clearTimeout(pending);
    };
  },
};
