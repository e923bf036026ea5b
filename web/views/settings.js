// The settings screen: /settings and /settings/<section>. A section menu on the left (a select
// on narrow screens); each section is a module under views/settings/ exporting
// mount(container, ctx) → { handleEvent(type, data), onLang(), destroy() }. A section is shown
// only to the roles whose permission it needs (the API enforces the same).
import { h, replaceChildren } from '../dom.js';
import { t } from '../i18n.js';
import { failure } from '../ui.js';

const SECTIONS = [
  { name: 'channels', perm: 'channels', load: () => import('./settings/channels.js') },
  { name: 'webchat', perm: 'channels', load: () => import('./settings/webchat.js') },
  { name: 'members', perm: 'members', load: () => import('./settings/members.js') },
  { name: 'labels', perm: 'inbox_settings', load: () => import('./settings/labels.js') },
  { name: 'canned', perm: 'inbox_settings', load: () => import('./settings/canned.js') },
  { name: 'fulfillment', perm: 'pipeline', load: () => import('./settings/endpoints.js') },
  { name: 'blacklist', perm: 'pipeline', load: () => import('./settings/blacklist.js') },
  { name: 'assignment', perm: 'pipeline', load: () => import('./settings/assignment.js') },
  { name: 'feedback', perm: 'pipeline', load: () => import('./settings/feedback.js') },
  { name: 'events', perm: 'events', load: () => import('./settings/events.js') },
];

export function mount(container, ctx) {
  const allowed = SECTIONS.filter((s) => ctx.can(s.perm));
  const links = new Map();
  const menu = h('nav', { class: 'settings-menu', tAttr: { 'aria-label': 'settings.menu' }, testid: 'settings-menu' },
    allowed.map((s) => {
      const a = h('a', { href: `/settings/${s.name}`, class: 'settings-link', dataset: { nav: '' }, testid: `settings-nav-${s.name}`, t: `settings.section.${s.name}` });
      links.set(s.name, a);
      return a;
    }));
  const select = h('select', {
    id: 'settings-section-select', class: 'settings-select', testid: 'settings-select',
    on: { change: () => ctx.navigate(`/settings/${select.value}`) },
  }, allowed.map((s) => h('option', { value: s.name, t: `settings.section.${s.name}` })));
  const body = h('div', { class: 'settings-body', testid: 'settings-body' });
  const root = h('section', { class: 'page settings', testid: 'settings' },
    h('div', { class: 'page-head' }, h('h1', { t: 'nav.settings' })),
    h('div', { class: 'settings-picker' },
      h('label', { for: 'settings-section-select', class: 'sr-only', t: 'settings.menu' }),
      select),
    h('div', { class: 'settings-layout' }, menu, body));
  replaceChildren(container, root);

  let current = null; // {name, view}
  let token = 0;

  async function show(name) {
    if (current?.name === name) return;
    const def = allowed.find((s) => s.name === name);
    const my = ++token;
    current?.view?.destroy?.();
    current = { name, view: null };
    for (const [n, a] of links) {
      if (n === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    select.value = name;
    document.title = `${t(`settings.section.${name}`)} · ${t('nav.settings')} · ${t('app.name')}`;
    replaceChildren(body, h('p', { class: 'muted', role: 'status', t: 'common.loading' }));
    body.dataset.section = name;
    try {
      const mod = await def.load();
      if (my !== token) return;
      const el = h('div', { class: 'settings-section', testid: `settings-${name}` });
      replaceChildren(body, el);
      current.view = mod.mount(el, ctx);
    } catch (err) {
      if (my !== token) return;
      replaceChildren(body, failure(err, () => { current = null; show(name); }));
    }
  }

  return {
    route(params) {
      const name = params?.[0];
      if (!allowed.length) {
        replaceChildren(body, h('p', { class: 'alert', t: 'common.forbidden' }));
        return;
      }
      if (!name || !allowed.some((s) => s.name === name)) {
        ctx.navigate(`/settings/${allowed[0].name}`, { replace: true });
        return;
      }
      show(name);
    },
    handleEvent(type, data) { current?.view?.handleEvent?.(type, data); },
    onLang() {
      if (current) document.title = `${t(`settings.section.${current.name}`)} · ${t('nav.settings')} · ${t('app.name')}`;
      current?.view?.onLang?.();
    },
    destroy() {
      token++;
      current?.view?.destroy?.();
      current = null;
    },
    returnPath() { return location.pathname; },
  };
}
