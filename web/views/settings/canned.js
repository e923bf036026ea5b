// Settings › Canned responses: replies typed as /shortcut, grouped by category (sales
// scripts, FAQ, …); add, edit, delete, filter by category.
import { h, replaceChildren } from '../../dom.js';
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { loading, failure, toast } from '../../ui.js';
import { errorBox, busy, inputField, areaField, actions, confirmAction, sectionHead } from './common.js';

export function mount(container) {
  let items = null;
  let editing = null; // the response being edited, or null for a new one
  let alive = true;
  const listEl = h('div', { testid: 'canned-list' }, loading());
  const listError = errorBox('canned-error');
  const filter = h('select', { id: 'canned-filter', testid: 'canned-filter', on: { change: () => render() } });
  const categories = h('datalist', { id: 'canned-categories' });

  const shortcut = inputField({ id: 'canned-shortcut', label: 'settings.c.shortcut', required: true, testid: 'canned-shortcut', hint: 'settings.c.shortcut_hint', maxLength: 50 });
  const category = inputField({ id: 'canned-category', label: 'settings.c.category', testid: 'canned-category', hint: 'settings.c.category_hint', maxLength: 100 });
  category.input.setAttribute('list', 'canned-categories');
  const content = areaField({ id: 'canned-content', label: 'settings.c.content', required: true, testid: 'canned-content', rows: 4, maxLength: 2000 });
  const formTitle = h('h3', { t: 'settings.c.new' });
  const formError = errorBox('canned-form-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'canned-save', t: 'settings.c.add' });
  const cancelEdit = h('button', { type: 'button', class: 'btn btn-secondary', testid: 'canned-cancel', t: 'common.cancel', hidden: true, on: { click: () => startEdit(null) } });
  const form = h('form', { noValidate: true, class: 'settings-form', testid: 'canned-form' },
    formTitle, h('div', { class: 'form-grid' }, shortcut.el, category.el), content.el, categories, formError.el, actions(cancelEdit, save));

  function setKey(el, key) { el.dataset.i18n = key; el.textContent = t(key); }

  function startEdit(item) {
    editing = item;
    formError.clear();
    shortcut.input.value = item?.shortcut ?? '';
    category.input.value = item?.category ?? '';
    content.input.value = item?.content ?? '';
    setKey(formTitle, item ? 'settings.c.edit' : 'settings.c.new');
    setKey(save, item ? 'common.save' : 'settings.c.add');
    cancelEdit.hidden = !item;
    if (item) { form.scrollIntoView?.({ block: 'nearest' }); shortcut.input.focus(); }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    formError.clear();
    const body = {
      shortcut: shortcut.input.value.trim().replace(/^\//, ''),
      content: content.input.value.trim(),
      category: category.input.value.trim() || null,
    };
    if (!body.shortcut || /\s/.test(body.shortcut) || new TextEncoder().encode(body.shortcut).length > 50) {
      formError.show('settings.v.shortcut'); shortcut.input.focus(); return;
    }
    if (!body.content) { formError.show('settings.v.content'); content.input.focus(); return; }
    busy(save, async () => {
      try {
        if (editing) {
          const r = await api.put(`/canned-responses/${editing.id}`, body);
          items = items.map((x) => (x.id === r.id ? r : x));
          toast(t('common.saved'));
        } else {
          const r = await api.post('/canned-responses', body);
          items = [...(items || []), r];
        }
        startEdit(null);
        render();
      } catch (err) { formError.show(err); }
    });
  });

  replaceChildren(container,
    sectionHead('settings.section.canned', 'settings.c.lead'),
    h('section', { class: 'panel' },
      h('div', { class: 'toolbar' }, h('label', { for: 'canned-filter', t: 'settings.c.filter' }), filter),
      listError.el, listEl),
    h('section', { class: 'panel' }, form));

  async function load() {
    try {
      items = await api.get('/canned-responses');
      if (alive) render();
    } catch (err) {
      if (alive) replaceChildren(listEl, failure(err, load));
    }
  }

  function render() {
    if (!items) return;
    const cats = [...new Set(items.map((x) => x.category || ''))].sort((a, b) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)));
    // Option values: '*' for all, '~' for no category, else '=' + the category.
    const val = (c) => (c === '' ? '~' : `=${c}`);
    const chosen = filter.value;
    replaceChildren(filter,
      h('option', { value: '*', text: t('settings.c.all') }),
      cats.map((c) => h('option', { value: val(c), text: c || t('settings.c.uncategorized') })));
    filter.value = cats.some((c) => val(c) === chosen) ? chosen : '*';
    replaceChildren(categories, cats.filter(Boolean).map((c) => h('option', { value: c })));
    const shown = filter.value === '*' ? cats : cats.filter((c) => val(c) === filter.value);
    if (!items.length) { replaceChildren(listEl, h('p', { class: 'muted', testid: 'canned-empty', t: 'settings.c.empty' })); return; }
    replaceChildren(listEl, shown.map((c) => h('div', { class: 'canned-group', testid: 'canned-group', dataset: { category: c } },
      h('h3', { text: c || t('settings.c.uncategorized') }),
      h('ul', { class: 'canned-items' }, items.filter((x) => (x.category || '') === c)
        .sort((a, b) => a.shortcut.localeCompare(b.shortcut))
        .map((x) => {
          const edit = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'canned-edit', t: 'common.edit', on: { click: () => startEdit(x) } });
          const del = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'canned-delete', t: 'common.delete' });
          del.addEventListener('click', async () => {
            if (!(await confirmAction(t('settings.c.delete_confirm', { shortcut: x.shortcut })))) return;
            listError.clear();
            await busy(del, async () => {
              try {
                await api.del(`/canned-responses/${x.id}`);
                items = items.filter((y) => y.id !== x.id);
                if (editing?.id === x.id) startEdit(null);
                render();
              } catch (err) { listError.show(err); }
            });
          });
          return h('li', { class: 'canned-item', testid: 'canned-row', dataset: { id: x.id, shortcut: x.shortcut } },
            h('div', { class: 'canned-main' },
              h('code', { class: 'canned-shortcut', text: `/${x.shortcut}` }),
              h('p', { class: 'canned-content', text: x.content })),
            h('div', { class: 'toolbar' }, edit, del));
        })))));
  }

  load();
  return {
    handleEvent(type) { if (type === 'resync') load(); },
    onLang() { listError.relang(); formError.relang(); render(); },
    destroy() { alive = false; },
  };
}
