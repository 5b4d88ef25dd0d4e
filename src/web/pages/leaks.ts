/** Leaks: what left a phone in plain text — kind, term, party, when — evidence redacted until revealed. */
import { get, qs } from '../api.js';
import type { Page } from '../app.js';
import { badge, clear, empty, errorText, fmtNumber, h, spinner, time, toast } from '../dom.js';
import * as events from '../events.js';
import type { Leak } from './types.js';

const KINDS = ['', 'health', 'identity', 'device', 'location', 'network', 'credential', 'other'];
const PAGE = 50;

async function render(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const kind = params.get('kind') ?? '';
  const client = params.get('client') ?? '';
  const offset = Number(params.get('offset') ?? 0) || 0;
  const r = await get<{ items: Leak[]; total: number }>(`/leaks${qs({ kind, client, offset, limit: PAGE })}`);
  clear(root);
  const go = (p: Record<string, string | number>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ kind, client, ...p })) if (v !== '' && String(v) !== '0') q.set(k, String(v));
    location.hash = `#/leaks${q.toString() ? `?${q}` : ''}`;
  };
  const kindSel = h(
    'select',
    { id: 'f-kind', 'aria-label': 'Kind' },
    ...KINDS.map((k) => h('option', { value: k, selected: k === kind }, k || 'All kinds')),
  );
  kindSel.addEventListener('change', () => go({ kind: kindSel.value, offset: 0 }));
  const rows = r.items.map((l) => {
    const ev = h('code', { class: `evidence ${l.redacted ? 'redacted' : ''}` }, l.evidence);
    const reveal = h('button', { type: 'button', class: 'secondary small' }, 'Reveal');
    reveal.addEventListener('click', async (e) => {
      e.stopPropagation();
      if (!ev.classList.contains('redacted')) {
        ev.textContent = l.evidence;
        ev.classList.add('redacted');
        reveal.textContent = 'Reveal';
        return;
      }
      try {
        const full = await get<Leak>(`/leaks/${l.id}?reveal=true`);
        ev.textContent = full.evidence;
        ev.classList.remove('redacted');
        reveal.textContent = 'Hide';
      } catch (err) {
        toast(errorText(err), 'error');
      }
    });
    return h(
      'tr',
      { class: 'leak-row' },
      h(
        'td',
        { 'data-label': 'When' },
        time(l.lastSeen),
        l.count > 1 ? h('span', { class: 'muted' }, ` ×${fmtNumber(l.count)}`) : null,
      ),
      h('td', { 'data-label': 'Kind' }, badge(l.kind, `leak-${l.kind}`), ' ', h('strong', {}, l.term)),
      h(
        'td',
        { 'data-label': 'To' },
        h('span', {}, l.name ?? l.serverIp),
        h(
          'span',
          { class: 'sub muted' },
          `${l.organization ?? 'unknown organization'} · ${l.party} party · ${l.protocol}${l.encoding !== 'plain' ? ` · ${l.encoding}` : ''}`,
        ),
      ),
      h('td', { 'data-label': 'Phone' }, l.client),
      h('td', { 'data-label': 'Evidence', class: 'evidence-cell' }, ev, reveal),
    );
  });
  root.append(
    h('h1', {}, 'Leaks'),
    h(
      'p',
      { class: 'muted intro' },
      'Health and personal data that left a phone unencrypted, as seen on the hub. Evidence is masked until you reveal it; reveals are recorded in the audit log.',
    ),
    h(
      'div',
      { class: 'filters' },
      h('label', { class: 'filter' }, h('span', { class: 'filter-label' }, 'Kind'), kindSel),
      client ? h('p', {}, `Phone ${client} `, h('a', { href: '#/leaks' }, 'all phones')) : null,
    ),
    r.items.length === 0
      ? empty('No leak seen. Good: everything these phones sent was encrypted or held nothing sensitive.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'leaks' },
            h(
              'thead',
              {},
              h('tr', {}, ...['When', 'Kind', 'To', 'Phone', 'Evidence'].map((t) => h('th', { scope: 'col' }, t))),
            ),
            h('tbody', {}, ...rows),
          ),
        ),
    h(
      'div',
      { class: 'pager' },
      h(
        'span',
        { class: 'muted' },
        r.total === 0 ? '' : `${offset + 1}–${Math.min(offset + PAGE, r.total)} of ${fmtNumber(r.total)}`,
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary small',
          disabled: offset === 0,
          onclick: () => go({ offset: Math.max(0, offset - PAGE) }),
        },
        '← Previous',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary small',
          disabled: offset + PAGE >= r.total,
          onclick: () => go({ offset: offset + PAGE }),
        },
        'Next →',
      ),
    ),
  );
}

export const leaksPage: Page = {
  title: 'Leaks',
  async mount(root, params) {
    root.append(spinner());
    await render(root, params);
    const off = events.on('leak', () => void render(root, params).catch(() => {}));
    return off;
  },
};
