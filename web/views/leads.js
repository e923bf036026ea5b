// The leads screen. (Being built: replaced in this change series before it lands.)
import { h, replaceChildren } from '../dom.js';

export function mount(container) {
  replaceChildren(container, h('section', { class: 'page' }, h('h1', { t: 'nav.leads' })));
  return { route() {}, handleEvent() {}, onLang() {}, destroy() {} };
}
