/**
 * Bands: scan and pair (with the auth key where a band needs one), sync now, forget, export, and charts of
 * steps, heart rate, sleep, blood pressure, weight and glucose over a chosen range.
 */
import { ApiFailure, del, get, post, qs } from '../api.js';
import type { Page } from '../app.js';
import { align, chart, sumBuckets, thin } from '../charts.js';
import {
  append,
  badge,
  card,
  clear,
  confirmDialog,
  empty,
  errorText,
  fmtNumber,
  h,
  spinner,
  time,
  toast,
} from '../dom.js';
import * as events from '../events.js';
import type { Candidate, Device } from './types.js';

const RANGES: [string, string, number][] = [
  ['24h', '24 hours', 3_600_000],
  ['7d', '7 days', 86_400_000],
  ['30d', '30 days', 86_400_000],
];

const KINDS = [
  'steps',
  'heart_rate',
  'sleep_kind',
  'systolic',
  'diastolic',
  'pulse_rate',
  'weight',
  'glucose',
  'glucose_molar',
  'spo2',
];

interface Sample {
  kind: string;
  ts: number;
  value: number;
}

function byKind(items: Sample[]): Map<string, Sample[]> {
  const m = new Map<string, Sample[]>();
  for (const s of items) {
    const l = m.get(s.kind);
    if (l) l.push(s);
    else m.set(s.kind, [s]);
  }
  return m;
}

async function charts(host: HTMLElement, device: Device, range: string, cleanups: (() => void)[]): Promise<void> {
  for (const c of cleanups.splice(0)) c();
  clear(host);
  host.append(spinner('Loading samples…'));
  const r = await get<{ items: Sample[]; truncated: boolean }>(
    `/devices/${device.id}/samples${qs({ kinds: KINDS.join(','), since: range, limit: 100_000 })}`,
  );
  clear(host);
  const k = byKind(r.items);
  const bucketMs = RANGES.find((x) => x[0] === range)?.[2] ?? 3_600_000;
  const panels: [string, () => (() => void) | null][] = [];
  const panel = (title: string, id: string, draw: (el: HTMLElement) => () => void) => {
    const el = h('div', { class: 'chart', id: `chart-${id}` });
    const box = h('figure', { class: 'chart-card', 'data-kind': id }, h('figcaption', {}, title), el);
    host.append(box);
    panels.push([id, () => draw(el)]);
  };
  const steps = k.get('steps');
  if (steps) {
    const total = steps.reduce((s, x) => s + x.value, 0);
    panel(`Steps · ${fmtNumber(total)} in ${range}`, 'steps', (el) => {
      const b = sumBuckets(steps, bucketMs);
      return chart(el, {
        xs: b.xs,
        series: [
          { label: bucketMs >= 86_400_000 ? 'Steps per day' : 'Steps per hour', color: '#4f8cff', values: b.ys },
        ],
        unit: 'steps',
        style: 'bars',
      });
    });
  }
  const hr = k.get('heart_rate')?.filter((s) => s.value > 0 && s.value < 250);
  if (hr && hr.length > 0) {
    panel('Heart rate', 'heart_rate', (el) => {
      const t = thin(hr, 600);
      return chart(el, {
        xs: t.xs,
        series: [{ label: 'Heart rate', color: '#ff5d73', values: t.ys }],
        unit: 'bpm',
        style: 'line',
      });
    });
  }
  const sleep = k.get('sleep_kind');
  if (sleep) {
    panel('Sleep (vendor stage code)', 'sleep', (el) => {
      const t = thin(sleep, 800);
      return chart(el, {
        xs: t.xs,
        series: [{ label: 'Sleep stage', color: '#8e7dff', values: t.ys }],
        unit: 'code',
        style: 'steps',
        height: 140,
      });
    });
  }
  const sys = k.get('systolic');
  const dia = k.get('diastolic');
  if (sys || dia) {
    panel('Blood pressure', 'blood_pressure', (el) => {
      const a = align(thin(sys ?? [], 400), thin(dia ?? [], 400));
      return chart(el, {
        xs: a.xs,
        series: [
          { label: 'Systolic', color: '#ff8a3d', values: a.values[0]! },
          { label: 'Diastolic', color: '#2bb3a3', values: a.values[1]! },
        ],
        unit: 'mmHg',
        style: 'line',
      });
    });
  }
  const weight = k.get('weight');
  if (weight) {
    panel('Weight', 'weight', (el) => {
      const t = thin(weight, 400);
      return chart(el, {
        xs: t.xs,
        series: [{ label: 'Weight', color: '#48b06a', values: t.ys }],
        unit: 'kg',
        style: 'line',
      });
    });
  }
  const glucose = k.get('glucose');
  const glucoseMol = k.get('glucose_molar');
  if (glucose || glucoseMol) {
    const mg = glucose ?? glucoseMol!.map((s) => ({ ...s, value: s.value * 18.016 }));
    panel('Glucose', 'glucose', (el) => {
      const t = thin(mg, 400);
      return chart(el, {
        xs: t.xs,
        series: [{ label: 'Glucose', color: '#d6a400', values: t.ys }],
        unit: 'mg/dL',
        style: 'line',
      });
    });
  }
  const spo2 = k.get('spo2');
  if (spo2) {
    panel('Oxygen saturation', 'spo2', (el) => {
      const t = thin(spo2, 400);
      return chart(el, {
        xs: t.xs,
        series: [{ label: 'SpO₂', color: '#3fa7d6', values: t.ys }],
        unit: '%',
        style: 'line',
      });
    });
  }
  if (panels.length === 0) {
    host.append(
      empty(
        `No samples in the last ${RANGES.find((x) => x[0] === range)?.[1] ?? range}. Sync the band, or choose a longer range.`,
      ),
    );
    return;
  }
  // Draw after layout so the charts know their width.
  requestAnimationFrame(() => {
    for (const [, draw] of panels) {
      const c = draw();
      if (c) cleanups.push(c);
    }
  });
}

function pairWizard(onPaired: () => void, cleanups: (() => void)[]): HTMLElement {
  const list = h('div', { class: 'candidates' });
  const scanBtn = h('button', { type: 'button', class: 'primary', id: 'scan' }, 'Scan for bands');
  const log = h('p', { class: 'muted', role: 'status', id: 'pair-status' });
  cleanups.push(
    events.on('sync', (d) => {
      const e = d as { message?: string; deviceId?: string };
      if (e.message) log.textContent = `${e.deviceId ?? ''}: ${e.message}`;
    }),
  );
  const scan = async () => {
    scanBtn.disabled = true;
    clear(list);
    list.append(spinner('Scanning for 5 seconds… keep the band close and awake.'));
    try {
      const r = await post<{ items: Candidate[] }>('/devices/scan', { durationMs: 5000 });
      clear(list);
      if (r.items.length === 0) list.append(empty('Nothing found. Wake the band (tap its screen) and scan again.'));
      for (const c of r.items) list.append(candidate(c));
    } catch (e) {
      clear(list);
      list.append(h('p', { class: 'error' }, errorText(e)));
    } finally {
      scanBtn.disabled = false;
    }
  };
  const candidate = (c: Candidate): HTMLElement => {
    const needsKey = c.definition?.pairing === 'user-key';
    const keyInput = h('input', {
      type: 'text',
      class: 'auth-key',
      placeholder: '32 hex digits',
      inputmode: 'text',
      autocomplete: 'off',
      spellcheck: 'false',
      pattern: '(0x)?[0-9A-Fa-f]{32}',
      'aria-label': `Auth key of ${c.name ?? c.id}`,
    });
    const msg = h('p', { class: 'form-error', role: 'alert' });
    const btn = h(
      'button',
      { type: 'button', class: 'primary small', disabled: !c.definition || c.paired },
      c.paired ? 'Paired' : 'Pair',
    );
    btn.addEventListener('click', async () => {
      msg.textContent = '';
      btn.disabled = true;
      btn.textContent = 'Pairing…';
      try {
        const body = needsKey || keyInput.value.trim() ? { authKey: keyInput.value.trim() } : {};
        await post(`/devices/${c.id}/pair`, body);
        toast(`Paired ${c.name ?? c.id}`, 'ok');
        onPaired();
      } catch (e) {
        msg.textContent =
          e instanceof ApiFailure && e.field === 'authKey' ? 'The auth key is 32 hexadecimal digits.' : errorText(e);
        btn.disabled = false;
        btn.textContent = 'Pair';
      }
    });
    return h(
      'div',
      { class: 'candidate', 'data-id': c.id },
      h(
        'div',
        { class: 'cand-head' },
        h('strong', {}, c.name ?? 'Unnamed device'),
        h('span', { class: 'muted' }, ` ${c.address} · ${c.rssi} dBm`),
        c.definition ? badge(`${c.definition.vendor} ${c.definition.model}`, 'info') : badge('not supported', ''),
      ),
      c.definition ? null : h('p', { class: 'muted small' }, c.advertised),
      needsKey ? h('p', { class: 'muted small' }, c.definition?.pairingHint || 'This band needs its auth key.') : null,
      needsKey ? keyInput : null,
      h('div', { class: 'cand-actions' }, btn),
      msg,
    );
  };
  scanBtn.addEventListener('click', () => void scan());
  return card(
    'Add a band',
    h(
      'p',
      { class: 'muted' },
      'Put the band next to the hub, with its phone app closed (a band talks to one phone at a time).',
    ),
    scanBtn,
    list,
    log,
  );
}

/** A button that streams the band's live heart rate (server-sent events) while the page shows it. */
function liveControl(device: Device, cleanups: (() => void)[]): HTMLElement {
  const value = h('span', { class: 'live-value', id: 'live-hr', 'aria-live': 'polite' });
  const btn = h('button', { type: 'button', class: 'secondary small', id: 'live-toggle' }, '♥ Live heart rate');
  let off: (() => void) | null = null;
  const stop = () => {
    off?.();
    off = null;
    events.watchLive(null);
    btn.textContent = '♥ Live heart rate';
    value.textContent = '';
  };
  btn.addEventListener('click', () => {
    if (off) {
      stop();
      return;
    }
    value.textContent = 'connecting…';
    btn.textContent = 'Stop';
    off = events.on('live', (d) => {
      const e = d as { deviceId: string; samples: { kind: string; value: number }[] };
      const hr = e.samples.filter((x) => x.kind === 'heart_rate' && x.value > 0).at(-1);
      if (e.deviceId === device.id && hr) value.textContent = `${Math.round(hr.value)} bpm`;
    });
    events.watchLive(device.id);
  });
  cleanups.push(() => {
    if (off) stop();
  });
  return h('div', { class: 'live' }, btn, value);
}

async function render(root: HTMLElement, params: URLSearchParams, cleanups: (() => void)[]): Promise<void> {
  let devices: Device[];
  try {
    devices = (await get<{ items: Device[] }>('/devices')).items;
  } catch (e) {
    clear(root);
    root.append(h('h1', {}, 'Bands'), h('p', { class: 'error' }, errorText(e)));
    return;
  }
  clear(root);
  for (const c of cleanups.splice(0)) c();
  const reload = () => void render(root, params, cleanups);
  const selected = devices.find((d) => d.id === params.get('device')) ?? devices[0] ?? null;
  const range = RANGES.some((r) => r[0] === params.get('range')) ? params.get('range')! : '7d';
  const rows = devices.map((d) => {
    const sync = h('button', { type: 'button', class: 'secondary small', 'data-testid': 'sync' }, 'Sync now');
    sync.addEventListener('click', async () => {
      sync.disabled = true;
      sync.textContent = 'Syncing…';
      try {
        const r = await post<{ ok: boolean; error?: { message: string }; result?: { stored?: number } }>(
          `/devices/${d.id}/sync`,
        );
        if (r.ok) toast(`Synced ${d.name ?? d.id}`, 'ok');
        else toast(`Sync failed: ${r.error?.message ?? 'unknown error'}`, 'error');
        reload();
      } catch (e) {
        toast(errorText(e), 'error');
        sync.disabled = false;
        sync.textContent = 'Sync now';
      }
    });
    const forget = h('button', { type: 'button', class: 'danger small' }, 'Forget');
    forget.addEventListener('click', async () => {
      if (
        !(await confirmDialog(
          `Forget ${d.name ?? d.id}?`,
          [h('p', {}, 'Its bond and every stored sample are deleted.')],
          'Forget',
          true,
        ))
      )
        return;
      try {
        await del(`/devices/${d.id}`);
        toast(`Forgot ${d.name ?? d.id}`, 'ok');
        location.hash = '#/bands';
        reload();
      } catch (e) {
        toast(errorText(e), 'error');
      }
    });
    const exp = (fmt: string, label: string) =>
      h(
        'a',
        { class: 'button secondary small', href: `/api/v1/devices/${d.id}/export?format=${fmt}`, download: '' },
        label,
      );
    return h(
      'div',
      { class: `device ${selected?.id === d.id ? 'selected' : ''}`, 'data-id': d.id },
      h(
        'a',
        { href: `#/bands?device=${d.id}&range=${range}`, class: 'device-name' },
        h('strong', {}, d.name ?? d.model ?? d.id),
        h('span', { class: 'muted' }, ` ${d.vendor ?? ''} ${d.model ?? ''}`),
      ),
      h(
        'p',
        { class: 'muted small' },
        `${fmtNumber(d.samples)} samples · last sync `,
        time(d.lastSyncAt),
        d.lastError ? h('span', { class: 'error' }, ` · ${d.lastError}`) : '',
      ),
      h('div', { class: 'device-actions' }, sync, exp('csv', 'CSV'), exp('json', 'JSON'), exp('fhir', 'FHIR'), forget),
    );
  });
  const chartsHost = h('div', { class: 'charts', id: 'charts' });
  const live = selected ? liveControl(selected, cleanups) : null;
  const rangeSel = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Range' },
    ...RANGES.map(([v, label]) =>
      h(
        'a',
        {
          href: `#/bands?device=${selected?.id ?? ''}&range=${v}`,
          class: v === range ? 'active' : '',
          'aria-pressed': v === range ? 'true' : 'false',
        },
        label,
      ),
    ),
  );
  append(
    root,
    h('h1', {}, 'Bands'),
    h(
      'div',
      { class: 'grid bands-grid' },
      card('Paired', devices.length === 0 ? empty('No band paired yet.') : h('div', { class: 'devices' }, ...rows)),
      pairWizard(reload, cleanups),
    ),
    selected
      ? h(
          'section',
          { class: 'card wide' },
          h('div', { class: 'card-head' }, h('h2', {}, `${selected.name ?? selected.id}: history`), live, rangeSel),
          chartsHost,
        )
      : null,
  );
  if (selected) await charts(chartsHost, selected, range, cleanups);
}

export const bandsPage: Page = {
  title: 'Bands',
  async mount(root, params) {
    root.append(spinner());
    const cleanups: (() => void)[] = [];
    await render(root, params, cleanups);
    return () => {
      for (const c of cleanups.splice(0)) c();
    };
  },
};
