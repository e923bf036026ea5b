// Shared pieces of the screens: error wording, safe links, form fields, toasts and dialogs.
// Like dom.js, nothing here ever puts a string into innerHTML.
import { h, replaceChildren } from './dom.js';
import { t, has } from './i18n.js';

/** A human sentence for an ApiError: `${prefix}.${code}` from the catalogue when it exists. */
export function errorText(err, prefix) {
  if (err?.status === 0) return t('error.network');
  if (prefix && has(`${prefix}.${err?.code}`)) return t(`${prefix}.${err.code}`);
  return err?.message || t('error.generic', { code: err?.code ?? '?' });
}

/** Only http(s) links from untrusted URLs (attachments, permalinks, avatars); anything else is null. */
export function safeUrl(url) {
  if (!url) return null;
  try {
    const u = new URL(url, location.href);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** A form control with its <label> (and an optional hint, tied by aria-describedby): the wrapper. */
export function labelled(id, label, control, hint = null) {
  if (hint) control.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' },
    h('label', { for: id, t: label }),
    control,
    hint ? h('p', { class: 'hint', id: `${id}-hint`, t: hint }) : null);
}

/** A labelled input: returns {el, input}. */
export function field({ id, label, type = 'text', autocomplete, testid, hint, minLength, value = '', required = true }) {
  const input = h('input', { id, name: id, type, autocomplete, required, minLength, value, testid });
  return { input, el: labelled(id, label, input, hint) };
}

let toastHost = null;

/**
 * A short notice at the bottom of the screen (role=status, or role=alert when `kind` is
 * 'error'). `action` is {label, onClick}. Stays `ms` milliseconds (0: until dismissed).
 */
export function toast(text, { kind = 'info', action = null, ms = 6000, testid = 'toast' } = {}) {
  if (!toastHost || !toastHost.isConnected) {
    toastHost = h('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.append(toastHost);
  }
  const close = () => el.remove();
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status', testid },
    h('span', { class: 'toast-text', text }),
    action ? h('button', { type: 'button', class: 'btn btn-secondary btn-sm', text: action.label, on: { click: () => { close(); action.onClick(); } } }) : null,
    h('button', { type: 'button', class: 'btn btn-ghost btn-icon btn-sm', tAttr: { 'aria-label': 'toast.close' }, text: '×', on: { click: close } }));
  toastHost.append(el);
  if (ms > 0) setTimeout(close, ms);
  return close;
}

/**
 * A modal <dialog> holding `body` (nodes). Resolves when it closes, with the value passed to
 * the returned `close(value)` (undefined on Escape). `title` is an i18n key.
 */
export function dialog(title, body, { testid = 'dialog', wide = false } = {}) {
  const el = h('dialog', { class: `dialog${wide ? ' dialog-wide' : ''}`, testid, 'aria-labelledby': `${testid}-title` });
  let resolveFn;
  const done = new Promise((r) => { resolveFn = r; });
  let result;
  const close = (value) => { result = value; el.close(); };
  el.addEventListener('close', () => { el.remove(); resolveFn(result); });
  replaceChildren(el,
    h('header', { class: 'dialog-head' },
      h('h2', { id: `${testid}-title`, t: title }),
      h('button', { type: 'button', class: 'btn btn-ghost btn-icon', tAttr: { 'aria-label': 'common.close' }, text: '×', on: { click: () => close(undefined) } })),
    h('div', { class: 'dialog-body' }, body));
  document.body.append(el);
  el.showModal();
  return { el, close, done };
}

/** Money in VND: 1.250.000 ₫ (integers only, as stored). */
export function money(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  return `${Math.round(Number(n)).toLocaleString('vi-VN')} ₫`;
}

/** The screen's placeholder while a request runs, and its failure with a retry. */
export function loading() {
  return h('p', { class: 'muted', role: 'status', t: 'common.loading' });
}

export function failure(err, retry) {
  return h('div', { class: 'failure' },
    h('p', { class: 'alert', role: 'alert', text: `${t('common.load_error')} ${errorText(err, null)}` }),
    retry ? h('button', { type: 'button', class: 'btn btn-secondary btn-sm', t: 'common.retry', on: { click: retry } }) : null);
}
