/** Pieces several pages share: the capture upload control, the firewall status line, bar lists. */
import { ApiFailure, uploadCapture } from '../api.js';
import { countryName, errorText, flag, fmtNumber, h, toast } from '../dom.js';
import type { ApplySummary, Facet, FirewallStatus, ImportResult } from './types.js';

export function uploadControl(onDone: (r: ImportResult) => void): HTMLElement {
  const input = h('input', {
    type: 'file',
    id: 'capture-file',
    accept: '.pcap,.pcapng,.cap,.gz,application/vnd.tcpdump.pcap',
    class: 'visually-hidden',
  });
  const label = h('label', { for: 'capture-file', class: 'button secondary' }, 'Import a capture (.pcap)');
  const status = h('span', { class: 'muted upload-status', role: 'status' });
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (!file) return;
    status.textContent = `Importing ${file.name}…`;
    label.classList.add('disabled');
    try {
      const r = await uploadCapture<ImportResult>(file);
      status.textContent = `${r.name}: ${fmtNumber(r.packets)} packets, ${r.clients} phone(s), ${r.names} names, ${r.leaks} leak(s)`;
      toast(`Imported ${r.name}`, 'ok');
      onDone(r);
    } catch (e) {
      status.textContent = '';
      toast(e instanceof ApiFailure ? e.message : errorText(e), 'error');
    } finally {
      label.classList.remove('disabled');
      input.value = '';
    }
  });
  return h('div', { class: 'upload' }, input, label, status);
}

export function firewallLine(fw: FirewallStatus | null, last: ApplySummary | null): HTMLElement {
  if (!fw) return h('p', { class: 'muted' }, 'No firewall in this agent.');
  let state: string;
  let cls: string;
  if (!fw.enabled) {
    state = 'Off';
    cls = 'warn';
  } else if (last && !last.ok) {
    state = 'Last apply failed';
    cls = 'bad';
  } else if (fw.dryRun) {
    state = last ? 'Dry run: rules computed, not applied' : 'Dry run';
    cls = 'info';
  } else if (fw.upToDate) {
    state = 'Applied';
    cls = 'ok';
  } else {
    state = 'Pending';
    cls = 'warn';
  }
  return h(
    'div',
    { class: 'fw-line', id: 'rule-status' },
    h('span', { class: `dot ${cls}`, 'aria-hidden': 'true' }),
    h('strong', { class: 'fw-state' }, state),
    h(
      'span',
      { class: 'muted' },
      ` · ${fw.entries} entr${fw.entries === 1 ? 'y' : 'ies'} · policy revision ${fw.revision}`,
    ),
    last ? h('span', { class: 'muted' }, ` · last apply ${last.cause}${last.changed ? ', changed' : ''}`) : null,
    fw.lastError || last?.error ? h('p', { class: 'error' }, last?.error ?? fw.lastError ?? '') : null,
  );
}

/** Horizontal bars: label, count, a bar scaled to the largest. */
export function barList(
  items: Facet[],
  label: (v: string) => Node | string,
  cls: (v: string) => string = () => '',
): HTMLElement {
  if (items.length === 0) return h('p', { class: 'empty' }, 'Nothing yet.');
  const max = Math.max(...items.map((i) => i.count));
  return h(
    'ul',
    { class: 'bars' },
    ...items.map((i) =>
      h(
        'li',
        { class: 'bar-row' },
        h('span', { class: 'bar-label' }, label(i.value)),
        h(
          'span',
          { class: 'bar-track' },
          h('span', { class: `bar ${cls(i.value)}`, style: `width:${Math.max(4, (i.count / max) * 100)}%` }),
        ),
        h('span', { class: 'bar-count' }, fmtNumber(i.count)),
      ),
    ),
  );
}

export function countryLabel(cc: string): HTMLElement {
  return h(
    'span',
    { title: countryName(cc) },
    h('span', { class: 'flag', 'aria-hidden': 'true' }, flag(cc)),
    ` ${countryName(cc)}`,
  );
}
