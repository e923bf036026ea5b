// The fulfillment board (/fulfillment): three columns — waiting to be packed (confirmed and
// pushed), packed, shipped — with packing-slip cards, live from order.* frames, printable.
import { h, replaceChildren } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { errorText, money, toast } from '../ui.js';
import { formatPhone, fullDateTime } from '../format.js';
import { orderCode } from './orders.js';

const COLUMNS = [
  { key: 'waiting', statuses: ['confirmed', 'pushed'] },
  { key: 'packed', statuses: ['packed'] },
  { key: 'shipped', statuses: ['shipped'] },
];
const columnOf = (status) => COLUMNS.find((c) => c.statuses.includes(status))?.key ?? null;
const HIGHLIGHT_MS = 8000;

class Board {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.orders = new Map(); // id → order on the board
    this.fresh = new Map(); // id → highlight timer
    this.status = h('p', { class: 'muted', role: 'status', testid: 'fulfillment-status' });
    this.cols = {};
    for (const c of COLUMNS) {
      this.cols[c.key] = {
        count: h('span', { class: 'badge', testid: `fulfillment-count-${c.key}` }),
        list: h('ul', { class: 'board-list', testid: `fulfillment-col-${c.key}` }),
      };
    }
    replaceChildren(root, h('section', { class: 'page fulfillment-page', testid: 'fulfillment-board' },
      h('header', { class: 'page-head' },
        h('h1', { t: 'fulfillment.title' }),
        h('button', { type: 'button', class: 'btn btn-secondary no-print', t: 'fulfillment.print', testid: 'fulfillment-print', on: { click: () => window.print() } })),
      this.status,
      h('div', { class: 'board' }, COLUMNS.map((c) => h('section', { class: `board-col board-col-${c.key}`, 'aria-labelledby': `fcol-${c.key}` },
        h('h2', { id: `fcol-${c.key}` }, h('span', { t: `fulfillment.col.${c.key}` }), ' ', this.cols[c.key].count),
        this.cols[c.key].list)))));
    this.load();
  }

  async load() {
    this.status.textContent = t('common.loading');
    try {
      const pages = await Promise.all(['confirmed', 'pushed', 'packed', 'shipped'].map((status) => api.get('/orders', { status, limit: 100 })));
      this.orders.clear();
      for (const p of pages) for (const o of p.items) this.orders.set(o.id, o);
      this.status.textContent = '';
      this.render();
    } catch (err) {
      this.status.textContent = `${t('common.load_error')} ${errorText(err, 'fulfillment.error')}`;
    }
  }

  render() {
    for (const c of COLUMNS) {
      const list = [...this.orders.values()].filter((o) => columnOf(o.status) === c.key)
        .sort((a, b) => Date.parse(b.confirmed_at || b.created_at) - Date.parse(a.confirmed_at || a.created_at));
      this.cols[c.key].count.textContent = String(list.length);
      const focused = document.activeElement?.closest?.('[data-testid="fulfillment-card"]')?.dataset.id;
      replaceChildren(this.cols[c.key].list, list.length ? list.map((o) => this.card(o)) : h('li', { class: 'muted board-empty', t: 'fulfillment.empty' }));
      if (focused) this.root.querySelector(`[data-id="${CSS.escape(focused)}"] button`)?.focus();
    }
  }

  card(o) {
    const r = o.recipient ?? {};
    const a = r.address ?? {};
    const addr = [a.street, a.ward, a.district, a.province].filter(Boolean).join(', ');
    let action = null;
    if (['confirmed', 'pushed'].includes(o.status)) {
      action = h('button', { type: 'button', class: 'btn btn-primary btn-big', t: 'fulfillment.pack', testid: 'fulfillment-pack', on: { click: (e) => this.move(o, { status: 'packed' }, e.target) } });
    } else if (o.status === 'packed') {
      const code = h('input', { id: `trk-${o.id}`, class: 'input', testid: 'fulfillment-tracking', autocomplete: 'off' });
      const carrier = h('input', { id: `car-${o.id}`, class: 'input', testid: 'fulfillment-carrier', autocomplete: 'off' });
      action = h('div', { class: 'ship-form no-print' },
        h('div', { class: 'field' }, h('label', { for: `trk-${o.id}`, t: 'fulfillment.tracking_code' }), code),
        h('div', { class: 'field' }, h('label', { for: `car-${o.id}`, t: 'fulfillment.carrier' }), carrier),
        h('button', { type: 'button', class: 'btn btn-primary btn-big', t: 'fulfillment.ship', testid: 'fulfillment-ship',
          on: { click: (e) => this.move(o, { status: 'shipped', tracking_code: code.value.trim() || null, carrier: carrier.value.trim() || null }, e.target) } }));
    }
    return h('li', { class: `board-card${this.fresh.has(o.id) ? ' board-card-new' : ''}`, testid: 'fulfillment-card', dataset: { id: o.id, status: o.status } },
      h('header', { class: 'card-head' },
        h('strong', { class: 'card-code', text: orderCode(o) }),
        h('span', { class: 'muted', text: fullDateTime(o.confirmed_at || o.created_at) })),
      h('p', { class: 'card-who' }, h('strong', { text: r.name ?? '—' }), ' · ', h('span', { class: 'phone', text: formatPhone(r.phone) })),
      h('p', { class: 'card-addr', text: addr }),
      h('ul', { class: 'card-items' }, o.items.map((i) => h('li', {}, h('span', { class: 'qty', text: `${i.quantity} ×` }), ' ', h('span', { text: i.name }), i.sku ? h('span', { class: 'muted', text: ` (${i.sku})` }) : null))),
      h('p', { class: 'card-cod', testid: 'fulfillment-cod', text: o.cod_amount > 0 ? t('fulfillment.cod', { amount: money(o.cod_amount) }) : t('fulfillment.prepaid') }),
      o.note ? h('p', { class: 'card-note', text: t('fulfillment.note', { note: o.note }) }) : null,
      o.tracking_code || o.carrier ? h('p', { class: 'muted', text: t('fulfillment.tracking', { code: o.tracking_code ?? '—', carrier: o.carrier ?? '—' }) }) : null,
      action);
  }

  async move(o, body, btn) {
    btn.disabled = true;
    try {
      const v = await api.post(`/orders/${o.id}/status`, body);
      this.upsert(v, false);
    } catch (err) {
      btn.disabled = false;
      toast(errorText(err, 'fulfillment.error'), { kind: 'error' });
    }
  }

  upsert(o, live) {
    const before = this.orders.get(o.id);
    if (columnOf(o.status)) {
      if (live && o.status === 'confirmed' && before?.status !== 'confirmed') this.highlight(o.id);
      this.orders.set(o.id, o);
    } else if (before) {
      this.orders.delete(o.id);
    } else return;
    this.render();
  }

  highlight(id) {
    clearTimeout(this.fresh.get(id));
    this.fresh.set(id, setTimeout(() => {
      this.fresh.delete(id);
      this.root.querySelector(`[data-testid="fulfillment-card"][data-id="${CSS.escape(id)}"]`)?.classList.remove('board-card-new');
    }, HIGHLIGHT_MS));
  }

  handleEvent(type, data) {
    if (type === 'resync') { this.load(); return; }
    if ((type === 'order.created' || type === 'order.updated') && data?.order) this.upsert(data.order, true);
  }

  destroy() { for (const tm of this.fresh.values()) clearTimeout(tm); }
}

export function mount(container, ctx) {
  let board = null;
  return {
    route() { if (!board) board = new Board(container, ctx); },
    handleEvent: (type, data) => board?.handleEvent(type, data),
    onLang: () => board?.render(),
    destroy: () => board?.destroy(),
  };
}
