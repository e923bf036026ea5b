// Pieces shared by the settings sections: labelled inputs, error boxes, busy buttons,
// confirmations, reason prompts and the one-time secret dialog. Nothing here uses innerHTML.
import { h } from '../../dom.js';
import { t, has, getLocale } from '../../i18n.js';
import { errorText, dialog, labelled } from '../../ui.js';

// Server error codes whose message carries a useful detail (shown after our sentence).
const DETAIL = new Set(['invalid_body', 'invalid_url', 'endpoint_not_public', 'invalid_settings', 'invalid_name', 'invalid_setting']);

/** A sentence for an ApiError: `settings.err.<code>` when we have one, else the server's message. */
export function errText(err) {
  if (err?.status === 0) return t('error.network');
  const key = `settings.err.${err?.code}`;
  if (has(key)) return DETAIL.has(err.code) && err.message ? `${t(key)} (${err.message})` : t(key);
  return errorText(err, null);
}

/** An alert paragraph next to a form: show(err | i18n key), clear(), relang(). */
export function errorBox(testid) {
  const el = h('p', { class: 'alert', role: 'alert', hidden: true, testid });
  let last = null;
  const paint = () => { el.textContent = typeof last === 'string' ? t(last) : errText(last); };
  return {
    el,
    show(err) { last = err; paint(); el.hidden = false; },
    clear() { last = null; el.textContent = ''; el.hidden = true; },
    relang() { if (last) paint(); },
  };
}

/** Run fn with the button disabled (and marked busy); always re-enabled. */
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** Date and time, short, in the UI's language; '—' for nothing. */
export function fmtDate(iso) {
  if (!iso) return t('common.none');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(getLocale(), { dateStyle: 'short', timeStyle: 'short' }).format(d);
}

/** A labelled <input>: {el, input}. */
export function inputField({ id, label, type = 'text', value = '', required = false, testid, hint, min, max, maxLength, placeholder, autocomplete = 'off' }) {
  const input = h('input', {
    id, name: id, type, value: value ?? '', required, testid, min, max, maxLength, autocomplete,
    placeholder: placeholder ?? null,
  });
  return { input, el: labelled(id, label, input, hint) };
}

/** A labelled <textarea>: {el, input}. */
export function areaField({ id, label, value = '', required = false, testid, hint, rows = 3, maxLength }) {
  const input = h('textarea', { id, name: id, required, testid, rows, maxLength });
  input.value = value ?? '';
  return { input, el: labelled(id, label, input, hint) };
}

/** A labelled <select>; options are [value, i18n key] (or [value, null, literal text]). */
export function selectField({ id, label, options, value, testid }) {
  const input = h('select', { id, name: id, testid },
    options.map(([v, key, text]) => h('option', { value: v, t: key || null, text: key ? null : text, selected: v === value })));
  return { input, el: h('div', { class: 'field' }, h('label', { for: id, t: label }), input) };
}

/** A checkbox with its label on the right: {el, input}. */
export function checkField({ id, label, checked = false, testid, hint }) {
  const input = h('input', { id, name: id, type: 'checkbox', checked, testid, 'aria-describedby': hint ? `${id}-hint` : null });
  return {
    input,
    el: h('div', { class: 'field field-check' },
      h('label', { for: id, class: 'check' }, input, h('span', { t: label })),
      hint ? h('p', { class: 'hint', id: `${id}-hint`, t: hint }) : null),
  };
}

/** Buttons row at the end of a form or dialog. */
export function actions(...buttons) {
  return h('div', { class: 'settings-actions' }, ...buttons);
}

/** Ask before something destructive; resolves true when confirmed. */
export async function confirmAction(message, { okKey = 'common.delete' } = {}) {
  const ok = h('button', { type: 'button', class: 'btn settings-danger', testid: 'confirm-ok', t: okKey });
  const cancel = h('button', { type: 'button', class: 'btn btn-secondary', testid: 'confirm-cancel', t: 'common.cancel' });
  const d = dialog('settings.confirm.title', [h('p', { class: 'confirm-text', text: message }), actions(cancel, ok)], { testid: 'confirm-dialog' });
  ok.addEventListener('click', () => d.close(true));
  cancel.addEventListener('click', () => d.close(false));
  cancel.focus();
  return (await d.done) === true;
}

/**
 * Ask for a reason (lifting a blacklist entry…). `run(reason)` does the call; its error is
 * shown in the dialog, which stays open. Resolves with run's result, or undefined when cancelled.
 */
export function reasonDialog(titleKey, message, run, { okKey = 'common.save' } = {}) {
  const f = areaField({ id: 'reason-input', label: 'settings.reason', required: true, testid: 'reason-input', rows: 2, maxLength: 500 });
  const err = errorBox('reason-error');
  const ok = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'reason-ok', t: okKey });
  const cancel = h('button', { type: 'button', class: 'btn btn-secondary', t: 'common.cancel' });
  let result;
  const form = h('form', { noValidate: true, class: 'form' }, message ? h('p', { text: message }) : null, f.el, err.el, actions(cancel, ok));
  const d = dialog(titleKey, form, { testid: 'reason-dialog' });
  cancel.addEventListener('click', () => d.close());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.clear();
    const reason = f.input.value.trim();
    if (!reason) { err.show('settings.v.reason'); f.input.focus(); return; }
    await busy(ok, async () => {
      try {
        result = await run(reason);
        d.close(true);
      } catch (e2) {
        err.show(e2);
      }
    });
  });
  f.input.focus();
  return d.done.then((v) => (v ? result : undefined));
}

/** Show a secret once, with a copy button. `extra` are nodes shown under it. */
export function secretDialog(titleKey, secret, { extra = null, hintKey = 'settings.secret.once' } = {}) {
  const input = h('input', { type: 'text', readOnly: true, value: secret, class: 'secret-value', testid: 'secret-value', tAttr: { 'aria-label': 'settings.secret.label' } });
  const status = h('span', { class: 'hint', role: 'status', testid: 'secret-copied' });
  const copy = h('button', {
    type: 'button', class: 'btn btn-secondary', testid: 'secret-copy', t: 'settings.secret.copy',
    on: {
      click: async () => {
        try {
          await navigator.clipboard.writeText(secret);
          status.textContent = t('settings.secret.copied');
        } catch {
          input.select();
          status.textContent = t('settings.secret.select');
        }
      },
    },
  });
  const done = h('button', { type: 'button', class: 'btn btn-primary', testid: 'secret-done', t: 'settings.secret.done' });
  const d = dialog(titleKey, [
    h('p', { class: 'notice', t: hintKey }),
    h('div', { class: 'secret-row' }, input, copy),
    status,
    extra,
    actions(done),
  ], { testid: 'secret-dialog' });
  done.addEventListener('click', () => d.close());
  input.addEventListener('focus', () => input.select());
  copy.focus();
  return d.done;
}

/** A section's heading and optional lead text. */
export function sectionHead(titleKey, leadKey, ...extra) {
  return h('div', { class: 'settings-head' },
    h('h2', { t: titleKey, tabIndex: -1, class: 'settings-title' }),
    leadKey ? h('p', { class: 'muted', t: leadKey }) : null,
    ...extra);
}

/** Debounce fn by ms. */
export function debounce(fn, ms = 300) {
  let timer = null;
  const d = (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  d.cancel = () => clearTimeout(timer);
  return d;
}

/** Accept only CSS colours we can safely paint (#rgb, #rrggbb, #rrggbbaa). */
export function safeColor(c) {
  return typeof c === 'string' && /^#(?:[0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.test(c) ? c : '#6b7280';
}
