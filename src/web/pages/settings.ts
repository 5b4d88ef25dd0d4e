/** Settings: interfaces, retention and schedules (saved to the agent's config file), firewall switches, password. */
import { ApiFailure, changePassword, get, patch } from '../api.js';
import type { Page } from '../app.js';
import { card, clear, errorText, h, spinner, toast } from '../dom.js';

interface Leaf {
  path: string;
  type: 'string' | 'integer' | 'number' | 'boolean';
  default: unknown;
  description: string;
  values?: unknown[];
  minimum?: number;
  maximum?: number;
}

interface SettingsView {
  config: Record<string, unknown>;
  origins: Record<string, string>;
  file: string | null;
  keys: Leaf[];
  firewall: {
    dnsMode: 'ipset' | 'sinkhole';
    hubResolver: boolean;
    bypass: Record<string, boolean>;
    ttlFloorSec: number;
  } | null;
}

const GROUPS: [string, string[]][] = [
  ['Interfaces', ['capture.interface', 'api.listen', 'capture.enabled', 'capture.filter']],
  ['Retention', ['retention.detailDays', 'retention.aggregateDays', 'retention.eventsDays', 'retention.auditDays']],
  ['Schedules', ['retention.schedule', 'ble.syncSchedule']],
];

const BYPASS: [string, string][] = [
  ['dot', 'Block DNS over TLS / QUIC (port 853)'],
  ['doh', 'Block known DNS-over-HTTPS resolvers'],
  ['quic', 'Block QUIC (apps fall back to TLS, whose names are visible)'],
  ['foreignDns', 'Force phones to use the hub’s DNS'],
  ['canary', 'Tell browsers not to use their own DoH (canary domain)'],
];

function valueAt(obj: Record<string, unknown>, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

function configForm(v: SettingsView, reload: () => void): HTMLElement {
  const byPath = new Map(v.keys.map((k) => [k.path, k]));
  const inputs = new Map<string, HTMLInputElement>();
  const groups = GROUPS.map(([title, paths]) =>
    h(
      'fieldset',
      { disabled: v.file === null },
      h('legend', {}, title),
      ...paths.map((p) => {
        const leaf = byPath.get(p);
        if (!leaf) return null;
        const cur = valueAt(v.config, p);
        const id = `cfg-${p.replace(/\./g, '-')}`;
        const input =
          leaf.type === 'boolean'
            ? h('input', { type: 'checkbox', id, checked: cur === true })
            : h('input', {
                type: leaf.type === 'string' ? 'text' : 'number',
                id,
                value: String(cur ?? ''),
                min: leaf.minimum,
                max: leaf.maximum,
                step: leaf.type === 'integer' ? 1 : null,
              });
        inputs.set(p, input);
        const origin = v.origins[p];
        return h(
          'div',
          { class: `field ${leaf.type === 'boolean' ? 'check' : ''}` },
          h('label', { for: id }, p),
          input,
          h(
            'p',
            { class: 'hint' },
            leaf.description,
            origin && !origin.startsWith('config file') ? ` (set by ${origin}: it wins over the file)` : '',
          ),
        );
      }),
    ),
  );
  const save = h('button', { type: 'submit', class: 'primary', disabled: v.file === null }, 'Save');
  const form = h(
    'form',
    { class: 'settings-form' },
    v.file === null
      ? h(
          'p',
          { class: 'warn-text' },
          'The agent was started without a config file (--config FILE): these settings are shown, and cannot be saved from here.',
        )
      : h('p', { class: 'muted' }, `Saved to ${v.file}; the agent uses them from its next start.`),
    ...groups,
    save,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const changes: Record<string, string | number | boolean> = {};
    for (const [p, input] of inputs) {
      const leaf = byPath.get(p)!;
      const cur = valueAt(v.config, p);
      const next = leaf.type === 'boolean' ? input.checked : leaf.type === 'string' ? input.value : Number(input.value);
      if (next !== cur) changes[p] = next;
    }
    if (Object.keys(changes).length === 0) {
      toast('Nothing changed', 'info');
      return;
    }
    save.disabled = true;
    try {
      const r = await patch<{ saved: string[]; overridden: string[] }>('/settings', { config: changes });
      toast(
        `Saved ${r.saved.join(', ')}. Restart the agent to apply.${r.overridden.length ? ` Overridden by the environment or flags: ${r.overridden.join(', ')}.` : ''}`,
        'ok',
      );
      reload();
    } catch (err) {
      toast(err instanceof ApiFailure ? err.message : errorText(err), 'error');
      save.disabled = false;
    }
  });
  return form;
}

function firewallForm(v: SettingsView): HTMLElement {
  const fw = v.firewall;
  if (!fw) return h('p', { class: 'muted' }, 'No firewall in this agent.');
  const sw = (label: string, checked: boolean, send: (on: boolean) => Record<string, unknown>) => {
    const id = `fw-${label.replace(/\W+/g, '-').toLowerCase()}`;
    const input = h('input', { type: 'checkbox', id, checked });
    input.addEventListener('change', async () => {
      try {
        await patch('/settings', { firewall: send(input.checked) });
        toast(`${label}: ${input.checked ? 'on' : 'off'}. The rules follow on the next apply.`, 'ok');
      } catch (err) {
        input.checked = !input.checked;
        toast(errorText(err), 'error');
      }
    });
    return h('div', { class: 'field check' }, input, h('label', { for: id }, label));
  };
  const mode = h(
    'select',
    { id: 'fw-dns-mode' },
    h('option', { value: 'ipset', selected: fw.dnsMode === 'ipset' }, 'ipset (block by address)'),
    h('option', { value: 'sinkhole', selected: fw.dnsMode === 'sinkhole' }, 'sinkhole (also answer 0.0.0.0)'),
  );
  mode.addEventListener('change', async () => {
    try {
      await patch('/settings', { firewall: { dnsMode: mode.value } });
      toast(`DNS mode: ${mode.value}`, 'ok');
    } catch (err) {
      toast(errorText(err), 'error');
    }
  });
  return h(
    'div',
    { class: 'settings-form' },
    h('div', { class: 'field' }, h('label', { for: 'fw-dns-mode' }, 'DNS mode'), mode),
    sw('The hub answers DNS for the phones', fw.hubResolver, (on) => ({ hubResolver: on })),
    ...BYPASS.map(([k, label]) => sw(label, fw.bypass[k] === true, (on) => ({ bypass: { [k]: on } }))),
  );
}

function passwordForm(): HTMLElement {
  const cur = h('input', { type: 'password', id: 'pw-current', autocomplete: 'current-password', required: true });
  const next = h('input', {
    type: 'password',
    id: 'pw-new',
    autocomplete: 'new-password',
    minlength: 10,
    required: true,
  });
  const btn = h('button', { type: 'submit', class: 'primary' }, 'Change password');
  const form = h(
    'form',
    { class: 'settings-form' },
    h('div', { class: 'field' }, h('label', { for: 'pw-current' }, 'Current password'), cur),
    h('div', { class: 'field' }, h('label', { for: 'pw-new' }, 'New password (10 characters or more)'), next),
    btn,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    btn.disabled = true;
    try {
      await changePassword(cur.value, next.value);
      toast('Password changed; other sessions were logged out', 'ok');
      form.reset();
    } catch (err) {
      toast(
        err instanceof ApiFailure && err.code === 'wrong_password' ? 'The current password is wrong.' : errorText(err),
        'error',
      );
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

async function render(root: HTMLElement): Promise<void> {
  const v = await get<SettingsView>('/settings');
  clear(root);
  root.append(
    h('h1', {}, 'Settings'),
    h(
      'div',
      { class: 'grid' },
      card(
        'Agent',
        configForm(v, () => void render(root)),
      ),
      card('Firewall', firewallForm(v)),
      card('Dashboard password', passwordForm()),
    ),
  );
}

export const settingsPage: Page = {
  title: 'Settings',
  async mount(root) {
    root.append(spinner());
    await render(root);
    return undefined;
  },
};
