// Tiny DOM helper. Everything goes through textContent / properties, never
// innerHTML, so untrusted text (messages, contact names) can't inject markup.
import { t } from './i18n.js';

/**
 * h('button', {class: 'btn', t: 'login.submit', testid: 'login-submit', on: {click}}, ...children)
 *
 * Special props:
 *   text    – textContent
 *   t       – i18n key: sets textContent and data-i18n (re-translated on language change)
 *   tAttr   – {attr: key}: translated attributes (placeholder, aria-label, title…)
 *   testid  – data-testid
 *   dataset – data-* attributes
 *   on      – {event: handler}
 * Keys containing '-' (aria-*, data-*) and `role`/`for` are set as attributes,
 * anything else as a property. null/undefined/false values are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    switch (key) {
      case 'class': el.className = value; break;
      case 'text': el.textContent = value; break;
      case 't':
        el.dataset.i18n = value;
        el.textContent = t(value);
        break;
      case 'tAttr': {
        const pairs = [];
        for (const [attr, k] of Object.entries(value)) {
          el.setAttribute(attr, t(k));
          pairs.push(`${attr}:${k}`);
        }
        el.dataset.i18nAttr = pairs.join(',');
        break;
      }
      case 'testid': el.dataset.testid = value; break;
      case 'dataset': Object.assign(el.dataset, value); break;
      case 'on':
        for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
        break;
      default:
        if (key.includes('-') || key === 'role' || key === 'for') el.setAttribute(key, value === true ? '' : value);
        else el[key] = value;
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace all children of el. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** Visually hidden text for screen readers. */
export function srOnly(text) {
  return h('span', { class: 'sr-only', text });
}
