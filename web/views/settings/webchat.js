// Settings › Website chat: create a chat channel for the shop's own website, copy the one
// script tag to paste into its pages, see the identity-validation secret once, and edit the
// allowed origins, greeting, accent colour and whether only signed-in customers may chat.
import { h, replaceChildren } from '../../dom.js';
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { loading, failure, toast } from '../../ui.js';
import { errorBox, busy, inputField, areaField, checkField, actions, secretDialog, sectionHead } from './common.js';

const COLOR = /^#[0-9a-f]{6}$/i;

function origins(text) {
  return text.split(/[\s,]+/).map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean);
}

export function mount(container) {
  let items = null;
  let alive = true;
  const listEl = h('div', { testid: 'webchat-list' }, loading());
  const name = inputField({ id: 'webchat-name', label: 'settings.w.name', required: true, testid: 'webchat-name', maxLength: 200 });
  const createError = errorBox('webchat-create-error');
  const create = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'webchat-create', t: 'settings.w.create' });
  const form = h('form', { noValidate: true, class: 'settings-form', testid: 'webchat-form' },
    h('h3', { t: 'settings.w.new' }), name.el, createError.el, actions(create));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    createError.clear();
    const n = name.input.value.trim();
    if (!n) { createError.show('settings.w.name_required'); name.input.focus(); return; }
    busy(create, async () => {
      try {
        const ch = await api.post('/webchat-channels', { name: n });
        name.input.value = '';
        items = [...(items || []), ch];
        render();
        await secretDialog('settings.w.secret_title', ch.hmac_token, { hintKey: 'settings.w.secret_once' });
      } catch (err) { createError.show(err); }
    });
  });

  replaceChildren(container,
    sectionHead('settings.section.webchat', 'settings.w.lead'),
    h('section', { class: 'panel' }, listEl),
    h('section', { class: 'panel' }, form));

  function card(ch) {
    const id = ch.id;
    const tag = h('textarea', { id: `webchat-tag-${id}`, readOnly: true, rows: 2, class: 'webchat-tag', testid: 'webchat-script-tag', value: ch.script_tag });
    tag.addEventListener('focus', () => tag.select());
    const copy = h('button', {
      type: 'button', class: 'btn btn-secondary btn-sm', testid: 'webchat-copy', t: 'settings.secret.copy',
      on: {
        click: async () => {
          try { await navigator.clipboard.writeText(ch.script_tag); toast(t('settings.secret.copied')); } catch { tag.select(); }
        },
      },
    });
    const orig = areaField({ id: `webchat-origins-${id}`, label: 'settings.w.origins', hint: 'settings.w.origins_hint', testid: 'webchat-origins', rows: 2, value: ch.allowed_origins.join('\n') });
    const greet = areaField({ id: `webchat-greeting-${id}`, label: 'settings.w.greeting', testid: 'webchat-greeting', rows: 2, maxLength: 500, value: ch.greeting });
    const color = inputField({ id: `webchat-color-${id}`, label: 'settings.w.color', type: 'color', testid: 'webchat-color', value: ch.accent_color });
    const req = checkField({ id: `webchat-require-${id}`, label: 'settings.w.require', hint: 'settings.w.require_hint', testid: 'webchat-require', checked: ch.require_identity });
    const err = errorBox(`webchat-error-${id}`);
    const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'webchat-save', t: 'common.save' });
    const f = h('form', { noValidate: true, class: 'settings-form', testid: 'webchat-edit' },
      orig.el, greet.el, color.el, req.el, err.el, actions(save));
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      err.clear();
      const body = {
        allowed_origins: origins(orig.input.value),
        greeting: greet.input.value.trim(),
        accent_color: COLOR.test(color.input.value) ? color.input.value : ch.accent_color,
        require_identity: req.input.checked,
      };
      busy(save, async () => {
        try {
          const out = await api.patch(`/webchat-channels/${encodeURIComponent(id)}`, body);
          items = items.map((x) => (x.id === out.id ? out : x));
          toast(t('common.saved'));
          render();
        } catch (e2) { err.show(e2); }
      });
    });
    return h('article', { class: 'webchat-channel', testid: 'webchat-row', dataset: { id } },
      h('h3', { text: ch.name }),
      h('label', { for: `webchat-tag-${id}`, t: 'settings.w.script' }),
      h('div', { class: 'secret-row' }, tag, copy),
      h('p', { class: 'hint', t: 'settings.w.script_hint' }),
      f);
  }

  async function load() {
    try {
      items = await api.get('/webchat-channels');
      if (alive) render();
    } catch (err) {
      if (alive) replaceChildren(listEl, failure(err, load));
    }
  }

  function render() {
    if (!items) return;
    if (!items.length) { replaceChildren(listEl, h('p', { class: 'muted', testid: 'webchat-empty', t: 'settings.w.empty' })); return; }
    replaceChildren(listEl, items.map(card));
  }

  load();
  return {
    handleEvent(type) { if (type === 'resync') load(); },
    onLang() { createError.relang(); render(); },
    destroy() { alive = false; },
  };
}
