/**
 * The dashboard shell: session check (first-run setup or login), navigation between pages (hash routes),
 * the live event stream, and one page module mounted at a time.
 */
import { ApiFailure, login, logout, onLoggedOut, probeSession, setup } from './api.js';
import { clear, errorText, h, toast } from './dom.js';
import * as events from './events.js';
import { bandsPage } from './pages/bands.js';
import { leaksPage } from './pages/leaks.js';
import { overviewPage } from './pages/overview.js';
import { partiesPage } from './pages/parties.js';
import { rulesPage } from './pages/rules.js';
import { settingsPage } from './pages/settings.js';

export interface Page {
  title: string;
  /** Renders into `root`; returns a cleanup function. */
  mount(root: HTMLElement, params: URLSearchParams): Promise<(() => void) | undefined> | (() => void) | undefined;
}

const PAGES: Record<string, Page> = {
  overview: overviewPage,
  bands: bandsPage,
  parties: partiesPage,
  leaks: leaksPage,
  rules: rulesPage,
  settings: settingsPage,
};

const NAV: [string, string, string][] = [
  ['overview', 'Overview', '◉'],
  ['bands', 'Bands', '♥'],
  ['parties', 'Parties', '⇄'],
  ['leaks', 'Leaks', '⚠'],
  ['rules', 'Rules', '⚑'],
  ['settings', 'Settings', '⚙'],
];

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
let cleanup: (() => void) | undefined;
let routeSeq = 0;

function route(): { name: string; params: URLSearchParams } {
  const hash = location.hash.replace(/^#\/?/, '');
  const [name = 'overview', query = ''] = hash.split('?');
  return { name: PAGES[name] ? name : 'overview', params: new URLSearchParams(query) };
}

function renderNav(active: string): void {
  clear(nav);
  for (const [id, label, icon] of NAV) {
    nav.append(
      h(
        'a',
        { href: `#/${id}`, class: id === active ? 'active' : '', 'aria-current': id === active ? 'page' : null },
        h('span', { class: 'icon', 'aria-hidden': 'true' }, icon),
        h('span', { class: 'label' }, label),
      ),
    );
  }
}

async function show(): Promise<void> {
  const seq = ++routeSeq;
  const { name, params } = route();
  const page = PAGES[name]!;
  cleanup?.();
  cleanup = undefined;
  renderNav(name);
  document.title = `${page.title} · bandguard`;
  clear(main);
  const root = h('div', { class: `page page-${name}` });
  main.append(root);
  try {
    const c = await page.mount(root, params);
    if (seq !== routeSeq) c?.();
    else cleanup = c ?? undefined;
  } catch (e) {
    if (e instanceof ApiFailure && e.code === 'unauthenticated') return;
    root.append(h('p', { class: 'error' }, `Could not load this page: ${errorText(e)}`));
  }
}

function loginView(setupRequired: boolean): void {
  document.body.classList.add('logged-out');
  cleanup?.();
  cleanup = undefined;
  events.disconnect();
  clear(nav);
  clear(main);
  const msg = h('p', { class: 'form-error', role: 'alert' });
  const pw = h('input', {
    type: 'password',
    id: 'password',
    name: 'password',
    autocomplete: setupRequired ? 'new-password' : 'current-password',
    required: true,
    minlength: setupRequired ? 10 : 1,
  });
  const code = h('input', {
    type: 'text',
    id: 'setup-code',
    name: 'setupCode',
    autocomplete: 'one-time-code',
    required: true,
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, setupRequired ? 'Set password' : 'Log in');
  const form = h(
    'form',
    { class: 'login card', id: 'login-form' },
    h('h1', {}, h('span', { class: 'logo', 'aria-hidden': 'true' }, '◈'), ' bandguard'),
    h(
      'p',
      { class: 'muted' },
      setupRequired
        ? 'First run: choose the dashboard password (10 characters or more). The setup code is printed on the agent console.'
        : 'Your wearables, your data. Log in to the hub.',
    ),
    setupRequired ? h('label', { for: 'setup-code' }, 'Setup code') : null,
    setupRequired ? code : null,
    h('label', { for: 'password' }, setupRequired ? 'New password' : 'Password'),
    pw,
    msg,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    msg.textContent = '';
    try {
      if (setupRequired) await setup(code.value, pw.value);
      else await login(pw.value);
      document.body.classList.remove('logged-out');
      start();
    } catch (err) {
      msg.textContent = err instanceof ApiFailure && err.code === 'wrong_password' ? 'Wrong password.' : errorText(err);
      pw.select();
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  (setupRequired ? code : pw).focus();
}

function start(): void {
  events.connect(null);
  void show();
}

async function boot(): Promise<void> {
  onLoggedOut(() => loginView(false));
  window.addEventListener('hashchange', () => {
    if (!document.body.classList.contains('logged-out')) void show();
  });
  document.getElementById('logout')?.addEventListener('click', async () => {
    try {
      await logout();
    } catch (e) {
      toast(errorText(e), 'error');
    }
    loginView(false);
  });
  events.on('dropped', () => void show());
  try {
    const s = await probeSession();
    if (s.authenticated) start();
    else loginView(s.setupRequired);
  } catch (e) {
    clear(main);
    main.append(h('p', { class: 'error' }, errorText(e)));
  }
}

void boot();
