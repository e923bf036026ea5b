// Settings › Labels: the workspace's conversation labels with their colours; add and delete.
import { h, replaceChildren } from '../../dom.js';
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { loading, failure } from '../../ui.js';
import { errorBox, busy, inputField, actions, confirmAction, sectionHead, safeColor } from './common.js';

export function mount(container) {
  let labels = null;
  let alive = true;
  const listEl = h('div', { testid: 'label-list-wrap' }, loading());
  const listError = errorBox('labels-error');

  const name = inputField({ id: 'label-name', label: 'settings.l.name', required: true, testid: 'label-name', maxLength: 50 });
  const color = inputField({ id: 'label-color', label: 'settings.l.color', type: 'color', value: '#6b7280', testid: 'label-color' });
  const formError = errorBox('label-form-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'label-add', t: 'settings.l.add' });
  const form = h('form', { noValidate: true, class: 'settings-form', testid: 'label-form' },
    h('h3', { t: 'settings.l.new' }), h('div', { class: 'form-grid' }, name.el, color.el), formError.el, actions(save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    formError.clear();
    const n = name.input.value.trim();
    if (!n || n.length > 50) { formError.show('settings.v.label_name'); name.input.focus(); return; }
    busy(save, async () => {
      try {
        const l = await api.post('/labels', { name: n, color: color.input.value });
        labels = [...(labels || []), l];
        name.input.value = '';
        render();
        name.input.focus();
      } catch (err) { formError.show(err); }
    });
  });

  replaceChildren(container,
    sectionHead('settings.section.labels', 'settings.l.lead'),
    h('section', { class: 'panel' }, listError.el, listEl, form));

  async function load() {
    try {
      labels = await api.get('/labels');
      if (alive) render();
    } catch (err) {
      if (alive) replaceChildren(listEl, failure(err, load));
    }
  }

  function render() {
    if (!labels) return;
    if (!labels.length) { replaceChildren(listEl, h('p', { class: 'muted', testid: 'label-empty', t: 'settings.l.empty' })); return; }
    const sorted = [...labels].sort((a, b) => a.name.localeCompare(b.name));
    replaceChildren(listEl, h('ul', { class: 'label-list', testid: 'label-list' }, sorted.map((l) => {
      const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.backgroundColor = safeColor(l.color);
      const del = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'label-delete', t: 'common.delete', 'aria-label': t('settings.l.delete_named', { name: l.name }) });
      del.addEventListener('click', async () => {
        if (!(await confirmAction(t('settings.l.delete_confirm', { name: l.name })))) return;
        listError.clear();
        await busy(del, async () => {
          try {
            await api.del(`/labels/${l.id}`);
            labels = labels.filter((x) => x.id !== l.id);
            render();
          } catch (err) { listError.show(err); }
        });
      });
      return h('li', { class: 'label-item', testid: 'label-row', dataset: { id: l.id, name: l.name } },
        sw, h('span', { class: 'label-name', text: l.name }), h('code', { class: 'muted small', text: l.color }), del);
    })));
  }

  load();
  return {
    handleEvent(type) { if (type === 'resync') load(); },
    onLang() { listError.relang(); formError.relang(); render(); },
    destroy() { alive = false; },
  };
}
