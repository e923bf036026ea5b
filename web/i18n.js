// The language engine: Vietnamese by default, English on request; the choice is remembered in
// localStorage. The strings live in one catalogue per language: web/i18n/vi.js and en.js.
//
// Static parts of the DOM are marked with data-i18n / data-i18n-attr (see dom.js) and
// re-translated in place by translateTree() when the language changes; dynamic parts (list
// rows, messages) are re-rendered by the screen.
import vi from './i18n/vi.js';
import en from './i18n/en.js';

export const catalogue = { vi, en };

const STORAGE_KEY = 'tongdai.lang';
const LOCALES = { vi: 'vi-VN', en: 'en-GB' };

function initialLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && saved in catalogue) return saved;
  } catch { /* storage may be disabled */ }
  return 'vi';
}

let lang = initialLang();
const listeners = new Set();

export function getLang() { return lang; }

/** BCP 47 locale for Intl formatters: vi-VN or en-GB. */
export function getLocale() { return LOCALES[lang]; }

export function setLang(next) {
  if (!(next in catalogue) || next === lang) return;
  lang = next;
  try { localStorage.setItem(STORAGE_KEY, next); } catch { /* ignore */ }
  document.documentElement.lang = next;
  for (const fn of listeners) fn(next);
}

export function toggleLang() { setLang(lang === 'vi' ? 'en' : 'vi'); }

/** Subscribe to language changes; returns an unsubscribe function. */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Translate a key, replacing {name} placeholders from params. */
export function t(key, params) {
  let s = catalogue[lang][key] ?? catalogue.vi[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

/** Does the catalogue have this key? (Used to translate server error codes.) */
export function has(key) { return key in catalogue[lang]; }

/** Re-apply translations to every element marked by dom.js under root. */
export function translateTree(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(',')) {
      const [attr, key] = pair.split(':');
      el.setAttribute(attr, t(key));
    }
  }
}

document.documentElement.lang = lang;
