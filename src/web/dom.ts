/** Small DOM helpers: elements from data (text only, never HTML), formatting, badges. */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = String(v);
    // Through the CSSOM: the Content-Security-Policy forbids style attributes, not style properties.
    else if (k === 'style') el.style.cssText = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function fmtNumber(n: number): string {
  return new Intl.NumberFormat().format(n);
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function fmtAgo(iso: string | number | null): string {
  if (iso === null) return 'never';
  const t = typeof iso === 'number' ? iso : Date.parse(iso);
  const s = Math.round((t - Date.now()) / 1000);
  const a = Math.abs(s);
  if (a < 60) return rtf.format(s, 'second');
  if (a < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 86_400) return rtf.format(Math.round(s / 3600), 'hour');
  if (a < 86_400 * 60) return rtf.format(Math.round(s / 86_400), 'day');
  return new Date(t).toLocaleDateString();
}

export function fmtTime(iso: string | number | null): string {
  if (iso === null) return '—';
  return new Date(typeof iso === 'number' ? iso : Date.parse(iso)).toLocaleString(undefined, {
    dateStyle: 'medium',
    timeStyle: 'short',
  });
}

/** A time element: relative text, the exact time on hover. */
export function time(iso: string | null): HTMLElement {
  return h('time', { datetime: iso ?? '', title: fmtTime(iso) }, fmtAgo(iso));
}

/** 🇩🇪 from "DE". */
export function flag(cc: string | null): string {
  if (!cc || !/^[A-Za-z]{2}$/.test(cc)) return '';
  const up = cc.toUpperCase();
  return String.fromCodePoint(0x1f1e6 + up.charCodeAt(0) - 65, 0x1f1e6 + up.charCodeAt(1) - 65);
}

const regionNames = (() => {
  try {
    return new Intl.DisplayNames(undefined, { type: 'region' });
  } catch {
    return null;
  }
})();

export function countryName(cc: string | null): string {
  if (!cc) return 'unknown';
  try {
    return regionNames?.of(cc.toUpperCase()) ?? cc;
  } catch {
    return cc;
  }
}

export function country(cc: string | null): HTMLElement {
  if (!cc) return h('span', { class: 'muted' }, '—');
  return h(
    'span',
    { class: 'country', title: countryName(cc) },
    h('span', { class: 'flag', 'aria-hidden': 'true' }, flag(cc)),
    ` ${cc}`,
  );
}

export function badge(text: string, kind = ''): HTMLElement {
  return h('span', { class: `badge ${kind}`.trim() }, text);
}

/** The colour class of a role / party / leak kind. */
export function roleClass(role: string): string {
  return `role-${role.replace(/[^a-z]/g, '')}`;
}

export function card(title: string, ...body: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...body);
}

export function empty(text: string): HTMLElement {
  return h('p', { class: 'empty' }, text);
}

export function spinner(text = 'Loading…'): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, text);
}

let toastBox: HTMLElement | null = null;

export function toast(text: string, kind: 'ok' | 'error' | 'info' = 'info'): void {
  if (!toastBox) {
    toastBox = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastBox);
  }
  const t = h('div', { class: `toast ${kind}` }, text);
  toastBox.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** A modal dialog; resolves true when confirmed. */
export function confirmDialog(title: string, body: Child[], confirmText: string, danger = false): Promise<boolean> {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'dialog', 'aria-label': title });
    const done = (v: boolean) => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => done(false) }, 'Cancel');
    const ok = h(
      'button',
      { type: 'button', class: danger ? 'danger' : 'primary', onclick: () => done(true) },
      confirmText,
    );
    append(
      dlg,
      h('h2', {}, title),
      h('div', { class: 'dialog-body' }, ...body),
      h('div', { class: 'dialog-actions' }, cancel, ok),
    );
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    ok.focus();
  });
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
