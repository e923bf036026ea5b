// tongdai web app: the shell. Session, routing, the top navigation, the live connection, and
// the screens that need no session (login, setup) or stand alone (choosing Facebook Pages).
//
// Routes (the server serves index.html for all of them):
//   /setup?token=…          create the first owner
//   /login                  sign in
//   /, /inbox[/<id>]        inbox (views/inbox.js)
//   /leads[/<id>]           leads board (views/leads.js)
//   /orders[/<id>|/new]     orders (views/orders.js)
//   /fulfillment            the fulfillment board (views/fulfillment.js)
//   /reports                reports (views/reports.js)
//   /settings[/<section>]   settings (views/settings.js)
//   /channels/connect/<id>  choose the Pages of a Facebook Login
//
// A view module exports `mount(container, ctx)` and returns
//   { route(params), handleEvent(type, data), onLang(), destroy(), returnPath?() }.
// `ctx` is { session, role, can(permission), navigate(path, opts), live: {state} }.
// Every websocket frame goes to the mounted view; reminders and mentions are also shown by
// the shell as toasts wherever the user is.
//
// Modules: i18n.js (+ i18n/vi.js, i18n/en.js), api.js (HTTP + CSRF), live.js (websocket +
// resume), format.js (phones, names, dates), dom.js (h()), ui.js (errors, toasts, dialogs).
import { h, replaceChildren } from './dom.js';
import { t, toggleLang, onLangChange, translateTree } from './i18n.js';
import { api, setSession, clearSession, setUnauthorizedHandler } from './api.js';
import { LiveConnection } from './live.js';
import { errorText, field, toast } from './ui.js';

const app = document.getElementById('app');

let session = null; // login / me response
let live = null; // LiveConnection while signed in
let liveState = 'connecting';
let returnTo = null; // a deep link asked for before signing in
let loginNotice = null; // i18n key shown above the login form

// ───────────────────────── roles ─────────────────────────

// What each role may do, mirroring src/domain/role.rs (the server enforces it; the UI only
// hides what would be refused).
const PERMISSIONS = {
  owner: '*',
  admin: '*',
  marketer: ['channels', 'read_inbox', 'inbox_settings', 'read_orders', 'reports'],
  agent: ['read_inbox', 'work_inbox', 'leads', 'read_orders', 'work_orders'],
  fulfillment: ['read_orders', 'fulfill_orders'],
};

function can(permission, role = session?.role) {
  const p = PERMISSIONS[role];
  return p === '*' || (Array.isArray(p) && p.includes(permission));
}

// The screens, in navigation order: path pattern, module, who sees it.
const VIEWS = [
  { name: 'inbox', re: /^\/(?:inbox(?:\/([^/]+))?)?\/?$/, load: () => import('./views/inbox.js'), allowed: () => can('read_inbox') },
  { name: 'leads', re: /^\/leads(?:\/([^/]+))?\/?$/, load: () => import('./views/leads.js'), allowed: () => can('leads') },
  { name: 'orders', re: /^\/orders(?:\/([^/]+))?\/?$/, load: () => import('./views/orders.js'), allowed: () => can('read_orders') },
  { name: 'fulfillment', re: /^\/fulfillment\/?$/, load: () => import('./views/fulfillment.js'), allowed: () => can('fulfill_orders') },
  { name: 'reports', re: /^\/reports\/?$/, load: () => import('./views/reports.js'), allowed: () => can('reports') },
  { name: 'settings', re: /^\/settings(?:\/([^/]+))?\/?$/, load: () => import('./views/settings.js'), allowed: () => can('channels') || can('inbox_settings') || can('members') },
];

/** The first screen a role may see: the inbox for most, the board for fulfillment staff. */
function homePath() {
  if (session?.role === 'fulfillment') return '/fulfillment';
  const v = VIEWS.find((x) => x.allowed());
  return v ? `/${v.name}` : '/inbox';
}

// ───────────────────────── routing ─────────────────────────

function navigate(path, { replace = false } = {}) {
  if (path !== location.pathname + location.search) {
    history[replace ? 'replaceState' : 'pushState'](null, '', path);
  }
  route();
}

let current = null; // {def, view, container}
let routeToken = 0;

function route() {
  const path = location.pathname;
  if (path === '/setup') return showSetup();
  if (!session) {
    if (path !== '/' && path !== '/login') returnTo = location.pathname + location.search;
    if (path !== '/login') history.replaceState(null, '', '/login');
    return showLogin();
  }
  const c = /^\/channels\/connect\/([^/]+)\/?$/.exec(path);
  if (c) return showConnect(decodeURIComponent(c[1]));
  for (const def of VIEWS) {
    const m = def.re.exec(path);
    if (!m) continue;
    if (!def.allowed()) return navigate(homePath(), { replace: true });
    return showView(def, m.slice(1).filter((x) => x !== undefined).map(decodeURIComponent));
  }
  navigate(homePath(), { replace: true });
}

window.addEventListener('popstate', route);

// Intercept same-origin links marked data-nav (in-app navigation without a reload).
document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[data-nav]');
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});

// ───────────────────────── language ─────────────────────────

onLangChange(() => {
  translateTree(document.body);
  current?.view?.onLang?.();
  if (!current) document.title = t('app.name');
});

function langButton() {
  return h('button', {
    type: 'button', class: 'btn btn-ghost btn-sm lang-switch', testid: 'lang-switch',
    t: 'lang.switch', tAttr: { 'aria-label': 'lang.switch.label' }, on: { click: toggleLang },
  });
}

// ───────────────────────── session ─────────────────────────

function signedIn(data) {
  session = data;
  setSession(data);
  loginNotice = null;
}

function signedOut(notice = null) {
  stopLive();
  unmountView();
  session = null;
  clearSession();
  loginNotice = notice;
}

async function logout() {
  try { await api.logout(); } catch { /* signing out locally anyway */ }
  signedOut();
  navigate('/login', { replace: true });
}

// Any authenticated request answered 401: the session expired.
setUnauthorizedHandler(() => {
  if (!session) return;
  returnTo = current?.view?.returnPath?.() ?? (location.pathname + location.search);
  signedOut('error.session_expired');
  navigate('/login', { replace: true });
});

// ───────────────────────── the signed-in frame ─────────────────────────

let frame = null; // {root, nav links, conn, main}

function buildFrame() {
  const { user, workspace } = session;
  const conn = h('div', { class: 'conn', testid: 'conn-status', role: 'status', dataset: { state: liveState } },
    h('span', { class: 'conn-dot', 'aria-hidden': 'true' }),
    h('span', { class: 'conn-text', t: `conn.${liveState}` }));
  const links = new Map();
  const nav = h('nav', { class: 'mainnav', tAttr: { 'aria-label': 'nav.menu' } },
    VIEWS.filter((v) => v.allowed()).map((v) => {
      const a = h('a', { href: `/${v.name}`, class: 'navlink', dataset: { nav: '' }, testid: `nav-${v.name}`, t: `nav.${v.name}` });
      links.set(v.name, a);
      return a;
    }));
  const main = h('main', { class: 'view', id: 'view' });
  const root = h('div', { class: 'frame' },
    h('header', { class: 'topbar' },
      h('div', { class: 'brand' },
        h('span', { class: 'logo', 'aria-hidden': 'true', text: 'td' }),
        h('span', { class: 'workspace', testid: 'workspace-name', text: workspace?.name ?? '' })),
      nav,
      conn,
      h('div', { class: 'user' },
        h('span', { class: 'user-name', testid: 'user-name', text: user?.name || user?.email || '' }),
        can('channels')
          // A full navigation: the server answers with a redirect to Facebook's login dialog.
          ? h('a', { class: 'btn btn-ghost btn-sm', href: '/api/v1/channels/facebook/connect', testid: 'connect-facebook', t: 'connect.facebook' })
          : null,
        langButton(),
        h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'logout', t: 'inbox.logout', on: { click: logout } }))),
    main);
  frame = { root, links, conn, main };
  replaceChildren(app, root);
}

function setConnState(state) {
  liveState = state;
  if (!frame) return;
  frame.conn.dataset.state = state;
  const text = frame.conn.querySelector('.conn-text');
  text.dataset.i18n = `conn.${state}`;
  text.textContent = t(`conn.${state}`);
}

function unmountView() {
  current?.view?.destroy?.();
  current = null;
  frame = null;
}

async function showView(def, params) {
  if (!frame || !frame.root.isConnected) {
    current?.view?.destroy?.();
    current = null;
    buildFrame();
  }
  if (!live) startLive();
  for (const [name, a] of frame.links) {
    if (name === def.name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (current?.def === def) return current.view.route?.(params);
  const token = ++routeToken;
  current?.view?.destroy?.();
  current = null;
  frame.main.dataset.view = def.name;
  replaceChildren(frame.main, h('p', { class: 'muted', t: 'common.loading' }));
  const mod = await def.load();
  if (token !== routeToken || !session) return;
  replaceChildren(frame.main);
  const view = mod.mount(frame.main, ctx());
  current = { def, view };
  view.route?.(params);
}

function ctx() {
  return {
    session,
    role: session.role,
    can: (p) => can(p),
    navigate: (path, opts) => navigate(path, opts),
    get liveState() { return liveState; },
  };
}

// ───────────────────────── live ─────────────────────────

function startLive() {
  stopLive();
  live = new LiveConnection({
    onEvent: (type, data) => {
      notifyGlobally(type, data);
      current?.view?.handleEvent?.(type, data);
    },
    onState: setConnState,
    onRetry: (attempt) => {
      // A socket that keeps failing may mean the session is gone: check once
      // in a while (a 401 here sends us to the login screen).
      if (attempt % 3 === 2) {
        api.me().catch((err) => {
          if (err.status === 401 && session) {
            signedOut('error.session_expired');
            navigate('/login', { replace: true });
          }
        });
      }
    },
  });
  live.start();
}

function stopLive() {
  live?.stop();
  live = null;
}

/** Frames worth telling the user about wherever they are. */
function notifyGlobally(type, data) {
  const me = session?.user?.id;
  if (type === 'lead.callback_due' && data?.assignee_id === me && data?.lead) {
    const lead = data.lead;
    toast(t('notify.callback_due', { name: lead.contact?.name || lead.phone_display || '' }), {
      kind: 'warn', ms: 0, testid: 'toast-callback',
      action: { label: t('notify.open'), onClick: () => navigate(`/leads/${encodeURIComponent(lead.id)}`) },
    });
  } else if (type === 'mention' && data?.user_id === me) {
    toast(t('notify.mention', { name: data.by_name || '' }), {
      kind: 'info', ms: 0, testid: 'toast-mention',
      action: { label: t('notify.open'), onClick: () => navigate(`/inbox/${encodeURIComponent(data.conversation_id)}`) },
    });
  }
}

// ───────────────────────── shared form bits ─────────────────────────


function authLayout(titleKey, subtitleKey, ...body) {
  return h('main', { class: 'auth' },
    h('div', { class: 'auth-top' }, langButton()),
    h('div', { class: 'card' },
      h('div', { class: 'brand brand-lg' },
        h('span', { class: 'logo', 'aria-hidden': 'true', text: 'td' }),
        h('span', { t: 'app.name' })),
      h('h1', { t: titleKey }),
      subtitleKey ? h('p', { class: 'muted', t: subtitleKey }) : null,
      ...body));
}


// ───────────────────────── login ─────────────────────────

function showLogin() {
  unmountView();
  document.title = t('app.name');
  const email = field({ id: 'login-email', label: 'login.email', type: 'email', autocomplete: 'username', testid: 'login-email' });
  const password = field({ id: 'login-password', label: 'login.password', type: 'password', autocomplete: 'current-password', testid: 'login-password' });
  const error = h('p', { class: 'alert', role: 'alert', testid: 'login-error', hidden: true });
  const notice = h('p', { class: 'notice', role: 'status', hidden: !loginNotice, t: loginNotice || null });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'login-submit', t: 'login.submit' });

  // Keep the error so a language switch re-words it (it has no data-i18n key of its own).
  let lastError = null;
  const unlisten = onLangChange(() => {
    if (!error.isConnected) return unlisten();
    if (lastError && !error.hidden) error.textContent = errorText(lastError, 'login');
  });

  const form = h('form', {
    class: 'form', noValidate: false,
    on: {
      submit: async (e) => {
        e.preventDefault();
        error.hidden = true;
        submit.disabled = true;
        submit.textContent = t('login.submitting');
        try {
          signedIn(await api.login(email.input.value.trim(), password.input.value));
          const to = returnTo || homePath();
          returnTo = null;
          navigate(to, { replace: true });
        } catch (err) {
          lastError = err;
          error.textContent = errorText(err, 'login');
          error.hidden = false;
          password.input.select();
          submit.disabled = false;
          submit.textContent = t('login.submit');
        }
      },
    },
  }, email.el, password.el, error, submit);

  replaceChildren(app, authLayout('login.title', 'login.subtitle', notice, form));
  email.input.focus();

  // Tell the operator when the server still needs its first owner.
  api.setupStatus().then((s) => {
    if (s?.needed && !loginNotice) {
      notice.dataset.i18n = 'login.setup_needed';
      notice.textContent = t('login.setup_needed');
      notice.hidden = false;
    }
  }).catch(() => {});
}

// ───────────────────────── setup ─────────────────────────

async function showSetup() {
  unmountView();
  document.title = t('app.name');
  const token = new URLSearchParams(location.search).get('token');
  const body = h('div', {}, h('p', { class: 'muted', t: 'common.loading' }));
  replaceChildren(app, authLayout('setup.title', 'setup.subtitle', body));

  let needed = true;
  try {
    needed = (await api.setupStatus())?.needed !== false;
  } catch { /* show the form anyway; the POST will tell */ }
  if (location.pathname !== '/setup') return; // navigated away meanwhile

  const goLogin = h('a', { href: '/login', class: 'btn btn-secondary', dataset: { nav: '' }, t: 'setup.go_login' });
  if (!needed) {
    replaceChildren(body, h('p', { class: 'notice', t: 'setup.done' }), goLogin);
    return;
  }
  if (!token) {
    replaceChildren(body, h('p', { class: 'alert', t: 'setup.missing_token' }));
    return;
  }

  const name = field({ id: 'setup-name', label: 'setup.name', autocomplete: 'name', testid: 'setup-name' });
  const email = field({ id: 'setup-email', label: 'setup.email', type: 'email', autocomplete: 'username', testid: 'setup-email' });
  const password = field({ id: 'setup-password', label: 'setup.password', type: 'password', autocomplete: 'new-password', testid: 'setup-password', hint: 'setup.password_hint', minLength: 8 });
  const workspace = field({ id: 'setup-workspace', label: 'setup.workspace', autocomplete: 'organization', testid: 'setup-workspace' });
  const error = h('p', { class: 'alert', role: 'alert', testid: 'setup-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', testid: 'setup-submit', t: 'setup.submit' });

  const form = h('form', {
    class: 'form', noValidate: true,
    on: {
      submit: async (e) => {
        e.preventDefault();
        error.hidden = true;
        if (!form.checkValidity()) {
          // Let the browser point at the first missing field; explain the password rule ourselves.
          if (password.input.value.length > 0 && password.input.value.length < 8) {
            error.textContent = t('setup.password_short');
            error.hidden = false;
            password.input.focus();
          } else {
            form.reportValidity();
          }
          return;
        }
        submit.disabled = true;
        submit.textContent = t('setup.submitting');
        try {
          signedIn(await api.setup({
            token,
            name: name.input.value.trim(),
            email: email.input.value.trim(),
            password: password.input.value,
            workspace_name: workspace.input.value.trim(),
          }));
          navigate(homePath(), { replace: true }); // also drops ?token= from the address bar
        } catch (err) {
          error.textContent = errorText(err, 'setup');
          error.hidden = false;
          submit.disabled = false;
          submit.textContent = t('setup.submit');
        }
      },
    },
  }, name.el, email.el, password.el, workspace.el, error, submit);

  replaceChildren(body, form);
  name.input.focus();
}

// ───────────────────────── connecting pages ─────────────────────────

/**
 * After Facebook Login: the Pages (and their Instagram accounts) the marketer manages, with
 * checkboxes; "Connect" connects the chosen ones.
 */
async function showConnect(attempt) {
  stopLive();
  unmountView();
  document.title = `${t('connect.title')} · tongdai`;
  const list = h('ul', { class: 'connect-list', testid: 'connect-pages' });
  const error = h('p', { class: 'alert', role: 'alert', testid: 'connect-error', hidden: true });
  const done = h('p', { class: 'notice', role: 'status', testid: 'connect-done', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'connect-submit', t: 'connect.submit', disabled: true });
  const boxes = [];
  const form = h('form', {
    class: 'card connect',
    on: {
      submit: async (e) => {
        e.preventDefault();
        const chosen = (kind) => boxes.filter((b) => b.checked && b.dataset.kind === kind).map((b) => b.value);
        error.hidden = true;
        submit.disabled = true;
        try {
          const accounts = await api.connectChosen(attempt, chosen('page'), chosen('instagram'));
          done.textContent = t('connect.done', { n: accounts.length, names: accounts.map((a) => a.name).join(', ') });
          done.hidden = false;
          for (const b of boxes) b.disabled = true;
        } catch (err) {
          error.textContent = errorText(err, null);
          error.hidden = false;
          submit.disabled = false;
        }
      },
    },
  },
  h('h1', { t: 'connect.title' }),
  h('p', { class: 'hint', t: 'connect.hint' }),
  list, error, submit, done,
  h('p', {}, h('a', { href: '/inbox', 'data-nav': '', testid: 'connect-back', t: 'connect.back' })));
  replaceChildren(app, h('main', { class: 'auth' }, h('div', { class: 'auth-top' }, langButton()), form));

  const box = (kind, id, label, already) => {
    const input = h('input', { type: 'checkbox', value: id, dataset: { kind }, checked: !already, testid: `connect-${kind}` });
    input.addEventListener('change', () => { submit.disabled = !boxes.some((b) => b.checked); });
    boxes.push(input);
    return h('label', { class: 'connect-item' }, input, ` ${label}`,
      already ? h('span', { class: 'badge', text: t('connect.already') }) : null);
  };
  try {
    const pages = await api.connectPages(attempt);
    if (!pages.length) list.append(h('li', { class: 'empty', t: 'connect.none' }));
    for (const p of pages) {
      list.append(h('li', {},
        box('page', p.id, p.name ?? p.id, p.already_connected),
        p.instagram
          ? h('div', { class: 'connect-ig' },
            box('instagram', p.instagram.id, t('connect.instagram', { name: p.instagram.username ?? p.instagram.name ?? p.instagram.id }), p.instagram.already_connected))
          : null));
    }
    submit.disabled = !boxes.some((b) => b.checked);
  } catch (err) {
    error.textContent = `${t('connect.load_error')} ${errorText(err, null)}`;
    error.hidden = false;
  }
}

// ───────────────────────── boot ─────────────────────────

async function boot() {
  document.title = t('app.name');
  if (location.pathname === '/setup') return route();
  try {
    signedIn(await api.me());
  } catch (err) {
    if (err.status !== 401) {
      // Server unreachable or broken: offer a retry instead of a login form that can't work.
      replaceChildren(app, h('main', { class: 'auth' },
        h('div', { class: 'auth-top' }, langButton()),
        h('div', { class: 'card' },
          h('p', { class: 'alert', role: 'alert', text: errorText(err, null) }),
          h('button', { type: 'button', class: 'btn btn-primary', t: 'common.retry', on: { click: boot } }))));
      return;
    }
  }
  route();
}

boot();
