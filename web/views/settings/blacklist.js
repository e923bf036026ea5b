// Settings › Blacklist: phones that returned COD orders (added automatically) or were added by
// hand; add with a reason, lift with a reason, search.
import { h, replaceChildren } from '../../dom.js';
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { loading, failure, toast } from '../../ui.js';
import { formatPhone, shortId } from '../../format.js';
import { errorBox, busy, fmtDate, inputField, checkField, actions, reasonDialog, sectionHead, debounce } from './common.js';

export function mount(container, ctx) {
  const manage = ctx.can('pipeline');
  let entries = null;
  let names = new Map(); // user id → name
  let alive = true;
  const listEl = h('div', { class: 'table-wrap', testid: 'blacklist-table' }, loading());
  const listError = errorBox('blacklist-error');

  const search = h('input', { id: 'blacklist-search', type: 'search', testid: 'blacklist-search', tAttr: { placeholder: 'settings.b.search_hint' } });
  const lifted = checkField({ id: 'blacklist-lifted', label: 'settings.b.include_lifted', testid: 'blacklist-include-lifted' });
  const reload = debounce(() => load(), 300);
  search.addEventListener('input', reload);
  lifted.input.addEventListener('change', () => load());

  const phone = inputField({ id: 'blacklist-phone', label: 'settings.b.phone', type: 'tel', required: true, testid: 'blacklist-phone', placeholder: '0912 345 678', autocomplete: 'off' });
  const reason = inputField({ id: 'blacklist-reason', label: 'settings.b.reason', required: true, testid: 'blacklist-reason', maxLength: 500 });
  const formError = errorBox('blacklist-form-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'blacklist-add', t: 'settings.b.add' });
  const form = h('form', { noValidate: true, class: 'settings-form', testid: 'blacklist-form' },
    h('h3', { t: 'settings.b.new' }), h('div', { class: 'form-grid' }, phone.el, reason.el), formError.el, actions(save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    formError.clear();
    const p = phone.input.value.trim();
    const r = reason.input.value.trim();
    if (p.replace(/\D/g, '').length < 9) { formError.show('settings.v.phone'); phone.input.focus(); return; }
    if (!r) { formError.show('settings.v.reason'); reason.input.focus(); return; }
    busy(save, async () => {
      try {
        await api.post('/blacklist', { phone: p, reason: r });
        form.reset();
        toast(t('settings.b.added'));
        await load();
      } catch (err) { formError.show(err); }
    });
  });

  replaceChildren(container,
    sectionHead('settings.section.blacklist', 'settings.b.lead'),
    h('section', { class: 'panel' },
      h('div', { class: 'toolbar' },
        h('label', { for: 'blacklist-search', class: 'sr-only', t: 'common.search' }), search, lifted.el),
      listError.el, listEl),
    manage ? h('section', { class: 'panel' }, form) : null);

  let token = 0;
  async function load() {
    const my = ++token;
    try {
      const r = await api.get('/blacklist', { q: search.value.trim() || null, include_lifted: lifted.input.checked ? 'true' : null });
      if (!alive || my !== token) return;
      entries = r;
      render();
    } catch (err) {
      if (alive && my === token) replaceChildren(listEl, failure(err, load));
    }
  }

  async function loadNames() {
    try {
      const ms = await api.get('/members');
      names = new Map(ms.map((m) => [m.user?.id, m.user?.name || m.user?.email]));
      if (alive) render();
    } catch { /* names are a nicety */ }
  }
  const who = (id) => (id ? names.get(id) || `#${shortId(id)}` : t('settings.b.system'));

  function render() {
    if (!entries) return;
    if (!entries.length) {
      replaceChildren(listEl, h('p', { class: 'muted', testid: 'blacklist-empty', t: search.value.trim() ? 'settings.b.no_match' : 'settings.b.empty' }));
      return;
    }
    replaceChildren(listEl, h('table', { class: 'table' },
      h('thead', {}, h('tr', {},
        h('th', { t: 'settings.b.phone' }), h('th', { t: 'settings.b.reason' }), h('th', { t: 'settings.b.source' }),
        h('th', { t: 'settings.b.by' }), h('th', { t: 'settings.b.when' }), h('th', {}))),
      h('tbody', {}, entries.map((x) => {
        let lift = null;
        if (manage && !x.lifted_at) {
          lift = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'blacklist-lift', t: 'settings.b.lift' });
          lift.addEventListener('click', async () => {
            listError.clear();
            const r = await reasonDialog('settings.b.lift_title', t('settings.b.lift_text', { phone: formatPhone(x.phone) }),
              (reasonText) => api.post(`/blacklist/${x.id}/lift`, { reason: reasonText }), { okKey: 'settings.b.lift' });
            if (r) { toast(t('settings.b.lifted_toast')); load(); }
          });
        }
        return h('tr', { testid: 'blacklist-row', dataset: { id: x.id, phone: x.phone, lifted: x.lifted_at ? 'true' : 'false' } },
          h('td', {}, h('span', { class: 'phone', text: formatPhone(x.phone) })),
          h('td', { class: 'wrap', text: x.reason }),
          h('td', {}, h('span', { class: x.source === 'automatic' ? 'badge badge-warn' : 'badge', text: t(`settings.b.source.${x.source}`) })),
          h('td', { text: who(x.created_by) }),
          h('td', { text: fmtDate(x.created_at) }),
          h('td', {},
            x.lifted_at
              ? h('div', { class: 'small muted', testid: 'blacklist-lifted', text: t('settings.b.lifted_info', { who: who(x.lifted_by), when: fmtDate(x.lifted_at), reason: x.lift_reason || '' }) })
              : lift));
      }))));
  }

  load();
  loadNames();

  return {
    handleEvent(type) { if (type === 'blacklist.updated' || type === 'resync') load(); },
    onLang() { listError.relang(); formError.relang(); render(); },
    destroy() { alive = false; reload.cancel(); },
  };
}
