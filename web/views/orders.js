// The orders screen: the list (/orders), the form (/orders/new?conversation=|lead=, and a
// draft at /orders/<id>) and the detail of a confirmed order (/orders/<id>) with its timeline
// and its deliveries to fulfillment. Live from order.* and webhook.* frames.
import { h, replaceChildren } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { errorText, money, loading, failure, dialog, toast } from '../ui.js';
import { formatPhone, fullDateTime, shortId } from '../format.js';
import { PROVINCES } from '../data/provinces.js';

const STATUSES = ['draft', 'confirmed', 'pushed', 'packed', 'shipped', 'delivered', 'returned', 'cancelled'];
const SOURCES = ['manual', 'conversation', 'lead', 'shop'];
const RANK = { draft: 0, confirmed: 1, pushed: 2, packed: 3, shipped: 4, delivered: 5, returned: 5, cancelled: 6 };
const FINAL = new Set(['delivered', 'returned', 'cancelled']);

/** Mirror of OrderStatus::can_move_to (src/domain/order.rs). */
export function canMoveTo(from, to) {
  if (from === to || FINAL.has(from)) return false;
  switch (to) {
    case 'draft': return false;
    case 'confirmed': return from === 'draft';
    case 'cancelled': return RANK[from] < RANK.shipped;
    case 'delivered': case 'returned': return RANK[from] >= RANK.pushed;
    default: return from !== 'draft' && RANK[to] > RANK[from];
  }
}

/** Mirror of domain::order::totals: subtotal of the lines, + fee − discount, never negative. */
export function totals(items, fee, discount) {
  const subtotal = items.reduce((acc, i) => acc + (Number(i.quantity) || 0) * (Number(i.unit_price) || 0), 0);
  return { subtotal, total: Math.max(0, subtotal + (Number(fee) || 0) - (Number(discount) || 0)) };
}

export function orderCode(o) {
  return o.external_id || `#${shortId(o.id).toUpperCase()}`;
}

const BADGE = { draft: '', confirmed: 'badge-warn', pushed: 'badge-warn', packed: 'badge-ok', shipped: 'badge-ok', delivered: 'badge-ok', returned: 'badge-danger', cancelled: 'badge-danger' };
export function statusBadge(status, testid) {
  return h('span', { class: `badge order-status ${BADGE[status] ?? ''}`, testid, dataset: { status }, text: t(`orders.status.${status}`) });
}

const int = (v) => {
  const n = parseInt(String(v ?? '').replace(/[^\d-]/g, ''), 10);
  return Number.isFinite(n) ? n : 0;
};
/** The later of two views of one order (frames may arrive before an HTTP answer). */
const newer = (a, b) => (!a ? b : !b ? a : Date.parse(b.updated_at) >= Date.parse(a.updated_at) ? b : a);
const canManage = (ctx) => ctx.role === 'owner' || ctx.role === 'admin';

// ─────────────────────────────────────────────────────────────────────────────── list

class OrderList {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.filter = { status: '', source: '', q: '' };
    this.rows = [];
    this.cursor = null;
    this.status = h('p', { class: 'muted', role: 'status' });
    this.body = h('tbody', { testid: 'orders-rows' });
    this.more = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', t: 'orders.load_more', testid: 'orders-more', hidden: true, on: { click: () => this.load(true) } });
    const statusSel = h('select', { id: 'orders-status', testid: 'orders-filter-status', on: { change: (e) => { this.filter.status = e.target.value; this.load(false); } } },
      h('option', { value: '', t: 'orders.all_statuses' }),
      STATUSES.map((s) => h('option', { value: s, t: `orders.status.${s}` })));
    const sourceSel = h('select', { id: 'orders-source', testid: 'orders-filter-source', on: { change: (e) => { this.filter.source = e.target.value; this.load(false); } } },
      h('option', { value: '', t: 'orders.all_sources' }),
      SOURCES.map((s) => h('option', { value: s, t: `orders.source.${s}` })));
    let timer = null;
    const search = h('input', { id: 'orders-q', type: 'search', class: 'input', testid: 'orders-search', tAttr: { placeholder: 'orders.search_hint' },
      on: { input: (e) => { clearTimeout(timer); timer = setTimeout(() => { this.filter.q = e.target.value.trim(); this.load(false); }, 300); } } });
    replaceChildren(root, h('section', { class: 'page orders-page' },
      h('header', { class: 'page-head' },
        h('h1', { t: 'orders.title' }),
        ctx.can('work_orders') ? h('a', { class: 'btn btn-primary', href: '/orders/new', t: 'orders.new', testid: 'orders-new', on: { click: (e) => { e.preventDefault(); ctx.navigate('/orders/new'); } } }) : null),
      h('div', { class: 'toolbar orders-filters' },
        h('label', { for: 'orders-status', class: 'sr-only', t: 'orders.filter_status' }), statusSel,
        h('label', { for: 'orders-source', class: 'sr-only', t: 'orders.filter_source' }), sourceSel,
        h('label', { for: 'orders-q', class: 'sr-only', t: 'orders.search' }), search),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'table orders-table', testid: 'orders-list' },
          h('thead', {}, h('tr', {},
            ['code', 'customer', 'phone', 'total', 'cod', 'status', 'platform_status', 'created'].map((c) => h('th', { scope: 'col', class: ['total', 'cod'].includes(c) ? 'num' : null, t: `orders.col.${c}` })))),
          this.body)),
      this.status, this.more));
    this.load(false);
  }

  async load(append) {
    if (!append) { this.cursor = null; }
    const seq = (this.seq = (this.seq ?? 0) + 1);
    this.status.textContent = t('common.loading');
    try {
      const page = await api.get('/orders', { status: this.filter.status || null, source: this.filter.source || null, q: this.filter.q || null, limit: 30, cursor: append ? this.cursor : null });
      if (seq !== this.seq) return;
      this.rows = append ? this.rows.concat(page.items) : page.items;
      this.cursor = page.next_cursor;
      this.status.textContent = this.rows.length ? '' : t('orders.empty');
      this.more.hidden = !this.cursor;
      this.render();
    } catch (err) {
      if (seq !== this.seq) return;
      this.status.textContent = `${t('common.load_error')} ${errorText(err, 'orders.error')}`;
    }
  }

  matches(o) {
    return (!this.filter.status || o.status === this.filter.status) && (!this.filter.source || o.source === this.filter.source) && !this.filter.q;
  }

  render() {
    replaceChildren(this.body, this.rows.map((o) => h('tr', { testid: 'orders-row', dataset: { id: o.id } },
      h('td', {}, h('a', { href: `/orders/${o.id}`, text: orderCode(o), on: { click: (e) => { e.preventDefault(); this.ctx.navigate(`/orders/${o.id}`); } } })),
      h('td', { text: o.recipient?.name ?? '—' }),
      h('td', { class: 'phone', text: formatPhone(o.recipient?.phone) || '—' }),
      h('td', { class: 'num', text: money(o.totals?.total) }),
      h('td', { class: 'num', text: money(o.cod_amount) }),
      h('td', {}, statusBadge(o.status), o.blacklisted ? h('span', { class: 'badge badge-danger', t: 'orders.blacklisted_short' }) : null),
      h('td', { text: o.platform_status ?? '—' }),
      h('td', { text: fullDateTime(o.created_at) }))));
  }

  handleEvent(type, data) {
    if (type === 'resync') return this.load(false);
    const o = data?.order;
    if (!o || !type.startsWith('order.')) return;
    const i = this.rows.findIndex((r) => r.id === o.id);
    if (i >= 0) this.rows[i] = o;
    else if (type === 'order.created' || this.matches(o)) {
      if (!this.matches(o)) return;
      this.rows.unshift(o);
      this.status.textContent = '';
    } else return;
    this.render();
  }

  onLang() { this.render(); }
}

// ─────────────────────────────────────────────────────────────────────────────── form

const PROBLEM_FIELDS = ['recipient_name', 'phone', 'address.street', 'address.ward', 'address.province', 'items', 'cod_amount'];

class OrderForm {
  /** order: the draft being edited, or null for a new one (source from the query string). */
  constructor(root, ctx, order) {
    this.root = root;
    this.ctx = ctx;
    this.order = order;
    this.codTouched = order ? order.cod_amount !== order.totals.total : false;
    this.errors = {};
    this.build();
    if (order) this.fill(order);
    else this.prefill();
  }

  input(id, label, props = {}, tag = 'input') {
    const el = h(tag, { id, name: id, class: tag === 'select' || tag === 'textarea' ? 'input' : null, testid: id, 'aria-describedby': `${id}-err`, ...props });
    const err = h('p', { class: 'field-error', id: `${id}-err`, role: 'alert', testid: `${id}-error` });
    return { el, err, wrap: h('div', { class: 'field' }, h('label', { for: id, t: label }), el, err) };
  }

  build() {
    const f = (this.f = {});
    f.name = this.input('order-name', 'orders.f.name', { autocomplete: 'name' });
    f.phone = this.input('order-phone', 'orders.f.phone', { type: 'tel', autocomplete: 'tel', inputMode: 'tel' });
    f.street = this.input('order-street', 'orders.f.street', { autocomplete: 'street-address' });
    f.province = this.input('order-province', 'orders.f.province', { on: { change: () => this.loadWards() } }, 'select');
    f.province.el.append(h('option', { value: '', t: 'orders.f.province_pick' }), ...PROVINCES.map((p) => h('option', { value: p.name, text: p.name })));
    this.wardList = h('datalist', { id: 'order-ward-list', testid: 'order-ward-list' });
    f.ward = this.input('order-ward', 'orders.f.ward', { autocomplete: 'off' });
    f.ward.el.setAttribute('list', 'order-ward-list');
    f.ward.wrap.append(this.wardList, h('p', { class: 'hint', t: 'orders.f.ward_hint' }));
    f.district = this.input('order-district', 'orders.f.district');
    f.fee = this.input('order-fee', 'orders.f.shipping_fee', { type: 'number', min: 0, step: 1000, value: '0', on: { input: () => this.recompute() } });
    f.discount = this.input('order-discount', 'orders.f.discount', { type: 'number', min: 0, step: 1000, value: '0', on: { input: () => this.recompute() } });
    this.codOn = h('input', { type: 'checkbox', id: 'order-cod-on', testid: 'order-cod-on', checked: true, on: { change: () => { this.codTouched = false; this.recompute(); } } });
    f.cod = this.input('order-cod', 'orders.f.cod', { type: 'number', min: 0, step: 1000, on: { input: () => { this.codTouched = true; this.recompute(); } } });
    f.note = this.input('order-note', 'orders.f.note', { rows: 2 }, 'textarea');
    this.itemsBody = h('tbody', { testid: 'order-items' });
    this.itemsErr = h('p', { class: 'field-error', role: 'alert', testid: 'order-items-error' });
    this.subtotalEl = h('output', { testid: 'order-subtotal', class: 'num' });
    this.totalEl = h('output', { testid: 'order-total', class: 'num' });
    this.formErr = h('p', { class: 'alert', role: 'alert', testid: 'order-form-error', hidden: true });
    this.saveBtn = h('button', { type: 'submit', class: 'btn btn-secondary', t: 'orders.save_draft', testid: 'order-save' });
    this.confirmBtn = h('button', { type: 'button', class: 'btn btn-primary', t: 'orders.confirm', testid: 'order-confirm', on: { click: () => this.confirm() } });
    const form = h('form', { class: 'order-form', testid: 'order-form', novalidate: true, on: { submit: (e) => { e.preventDefault(); this.save(); } } },
      h('section', { class: 'panel' }, h('h2', { t: 'orders.recipient' }),
        h('div', { class: 'form-grid' }, f.name.wrap, f.phone.wrap)),
      h('section', { class: 'panel' }, h('h2', { t: 'orders.address' }),
        h('div', { class: 'form-grid' }, f.street.wrap, f.province.wrap, f.ward.wrap, f.district.wrap)),
      h('section', { class: 'panel' }, h('h2', { t: 'orders.items' }),
        h('div', { class: 'table-wrap' }, h('table', { class: 'table order-items' },
          h('thead', {}, h('tr', {}, ['name', 'sku', 'quantity', 'unit_price', 'line', 'remove'].map((c) => h('th', { scope: 'col', t: `orders.item.${c}` })))),
          this.itemsBody)),
        this.itemsErr,
        h('button', { type: 'button', class: 'btn btn-secondary btn-sm', t: 'orders.add_item', testid: 'order-add-item', on: { click: () => { const r = this.addRow(); r.name.focus(); } } })),
      h('section', { class: 'panel' }, h('h2', { t: 'orders.money' }),
        h('div', { class: 'form-grid' }, f.fee.wrap, f.discount.wrap,
          h('div', { class: 'field' }, h('label', { class: 'check' }, this.codOn, h('span', { t: 'orders.f.cod_on' })), f.cod.wrap)),
        h('dl', { class: 'order-totals' },
          h('dt', { t: 'orders.subtotal' }), h('dd', {}, this.subtotalEl),
          h('dt', { t: 'orders.total' }), h('dd', {}, this.totalEl)),
        f.note.wrap),
      this.formErr,
      h('div', { class: 'toolbar order-actions' }, this.saveBtn, this.confirmBtn));
    this.form = form;
    this.recordEl = h('div', { class: 'order-record', testid: 'order-phone-record' });
    const title = this.order ? `${t('orders.draft_title')} ${orderCode(this.order)}` : t('orders.new_title');
    this.titleEl = h('h1', { text: title });
    replaceChildren(this.root, h('section', { class: 'page order-page' },
      h('header', { class: 'page-head' }, h('a', { href: '/orders', class: 'back', t: 'orders.back', on: { click: (e) => { e.preventDefault(); this.ctx.navigate('/orders'); } } }), this.titleEl,
        this.order ? statusBadge(this.order.status, 'order-status') : null),
      form));
  }

  addRow(item = { name: '', sku: '', quantity: 1, unit_price: 0 }) {
    const r = {};
    const n = this.itemsBody.children.length + 1;
    const cell = (key, props) => {
      const el = h('input', { class: 'input', testid: `order-item-${key}`, 'aria-label': `${t(`orders.item.${key}`)} ${n}`, placeholder: t(`orders.item.${key}`), ...props, on: { input: () => this.recompute() } });
      r[key] = el;
      return h('td', {}, el);
    };
    r.line = h('td', { class: 'num', testid: 'order-item-line' });
    r.tr = h('tr', { testid: 'order-item' },
      cell('name', { value: item.name ?? '' }),
      cell('sku', { value: item.sku ?? '' }),
      cell('quantity', { type: 'number', min: 1, step: 1, value: String(item.quantity ?? 1), class: 'input qty' }),
      cell('unit_price', { type: 'number', min: 0, step: 1000, value: String(item.unit_price ?? 0), class: 'input price' }),
      r.line,
      h('td', {}, h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'order-item-remove', 'aria-label': `${t('orders.item.remove')} ${n}`, text: '×',
        on: { click: () => { const i = this.rowsOf().indexOf(r); r.tr.remove(); this.rows.splice(i, 1); this.recompute(); this.rows[Math.max(0, i - 1)]?.name.focus(); } } })));
    this.rows = this.rows ?? [];
    this.rows.push(r);
    this.itemsBody.append(r.tr);
    this.recompute();
    return r;
  }

  rowsOf() { return this.rows ?? []; }

  /** Frames about this order while the form is shown (the push may beat the confirm's answer). */
  handleEvent(type, data) {
    if (type.startsWith('order.') && this.order && data?.order?.id === this.order.id) this.latest = data.order;
  }

  items() {
    return this.rowsOf().map((r) => ({ name: r.name.value.trim(), sku: r.sku.value.trim() || null, quantity: int(r.quantity.value), unit_price: int(r.unit_price.value) }))
      .filter((i) => i.name || i.sku || i.unit_price);
  }

  recompute() {
    for (const r of this.rowsOf()) r.line.textContent = money(int(r.quantity.value) * int(r.unit_price.value));
    const tt = totals(this.items(), int(this.f.fee.el.value), int(this.f.discount.el.value));
    this.subtotalEl.textContent = money(tt.subtotal);
    this.totalEl.textContent = money(tt.total);
    this.f.cod.el.disabled = !this.codOn.checked;
    if (!this.codOn.checked) this.f.cod.el.value = '0';
    else if (!this.codTouched || this.f.cod.el.value === '') this.f.cod.el.value = String(tt.total);
    this.total = tt.total;
  }

  fill(o) {
    const r = o.recipient ?? {};
    const a = r.address ?? {};
    this.f.name.el.value = r.name ?? '';
    this.f.phone.el.value = r.phone ? formatPhone(r.phone) : '';
    this.f.street.el.value = a.street ?? '';
    if (a.province && !PROVINCES.some((p) => p.name === a.province)) this.f.province.el.append(h('option', { value: a.province, text: a.province }));
    this.f.province.el.value = a.province ?? '';
    this.f.ward.el.value = a.ward ?? '';
    this.f.district.el.value = a.district ?? '';
    this.f.fee.el.value = String(o.totals.shipping_fee ?? 0);
    this.f.discount.el.value = String(o.totals.discount ?? 0);
    this.f.note.el.value = o.note ?? '';
    this.rows = [];
    replaceChildren(this.itemsBody);
    for (const i of o.items) this.addRow(i);
    if (!o.items.length) this.addRow();
    this.codOn.checked = o.cod_amount > 0 || o.totals.total === 0;
    this.f.cod.el.value = String(o.cod_amount);
    this.recompute();
    this.loadWards();
  }

  async prefill() {
    this.addRow();
    const q = new URLSearchParams(location.search);
    this.source = { conversation_id: q.get('conversation') || null, lead_id: q.get('lead') || null };
    try {
      if (this.source.lead_id) {
        const d = await api.get(`/leads/${encodeURIComponent(this.source.lead_id)}`);
        const l = d.lead ?? d; // LeadDetail: {lead, calls, audit, phone_record}
        this.source.conversation_id = this.source.conversation_id || l.conversation_id || null;
        if (!this.f.name.el.value) this.f.name.el.value = l.contact?.name ?? '';
        if (!this.f.phone.el.value) this.f.phone.el.value = formatPhone(l.phone || l.contact?.phone);
      } else if (this.source.conversation_id) {
        const c = await api.get(`/conversations/${encodeURIComponent(this.source.conversation_id)}`);
        if (!this.f.name.el.value) this.f.name.el.value = c.contact?.name ?? '';
        if (!this.f.phone.el.value) this.f.phone.el.value = formatPhone(c.contact?.phone);
      }
    } catch (err) {
      this.showError(err);
    }
  }

  async loadWards() {
    const province = this.f.province.el.value;
    replaceChildren(this.wardList);
    if (!province) return;
    try {
      const list = await api.get('/orders/address-suggestions', { province });
      if (this.f.province.el.value !== province) return;
      replaceChildren(this.wardList, list.map((w) => h('option', { value: w.ward })));
    } catch { /* suggestions are optional */ }
  }

  body() {
    const tt = totals(this.items(), int(this.f.fee.el.value), int(this.f.discount.el.value));
    const v = (x) => x.el.value.trim() || null;
    return {
      items: this.items(),
      recipient: { name: v(this.f.name), phone: v(this.f.phone), address: { street: v(this.f.street), ward: v(this.f.ward), district: v(this.f.district), province: v(this.f.province) } },
      shipping_fee: int(this.f.fee.el.value),
      discount: int(this.f.discount.el.value),
      cod_amount: this.codOn.checked ? Math.min(int(this.f.cod.el.value), tt.total) : 0,
      note: this.f.note.el.value.trim() || null,
    };
  }

  clearErrors() {
    for (const x of Object.values(this.f)) x.err.textContent = '';
    this.itemsErr.textContent = '';
    this.formErr.hidden = true;
    for (const x of Object.values(this.f)) x.el.removeAttribute('aria-invalid');
  }

  showError(err) {
    const problems = err?.details?.problems;
    if (Array.isArray(problems) && problems.length) {
      const map = { recipient_name: this.f.name, phone: this.f.phone, 'address.street': this.f.street, 'address.ward': this.f.ward, 'address.province': this.f.province, cod_amount: this.f.cod };
      let first = null;
      for (const p of problems) {
        const text = PROBLEM_FIELDS.includes(p.field) ? t(`orders.problem.${p.field}`) : p.message;
        if (p.field === 'items') { this.itemsErr.textContent = text; first = first ?? this.rowsOf()[0]?.name; continue; }
        const x = map[p.field];
        if (x) { x.err.textContent = text; x.el.setAttribute('aria-invalid', 'true'); first = first ?? x.el; }
      }
      this.formErr.textContent = t('orders.not_confirmable');
      this.formErr.hidden = false;
      first?.focus();
      return;
    }
    this.formErr.textContent = errorText(err, 'orders.error');
    this.formErr.hidden = false;
  }

  busy(on) { this.saveBtn.disabled = on; this.confirmBtn.disabled = on; }

  /** Save the draft; returns the saved view (or null on failure). */
  async save({ quiet = false } = {}) {
    this.clearErrors();
    this.busy(true);
    try {
      let v;
      if (this.order) {
        v = await api.patch(`/orders/${this.order.id}`, this.body());
      } else {
        v = await api.post('/orders', { ...this.body(), ...this.source });
        this.order = v;
        this.ctx.navigate(`/orders/${v.id}`, { replace: true });
      }
      this.order = v;
      this.titleEl.textContent = `${t('orders.draft_title')} ${orderCode(v)}`;
      if (!quiet) toast(t('orders.saved'), { testid: 'order-saved' });
      return v;
    } catch (err) {
      this.showError(err);
      return null;
    } finally {
      this.busy(false);
    }
  }

  async confirm() {
    const v = await this.save({ quiet: true });
    if (!v) return;
    let record = null;
    if (v.recipient?.phone) {
      try { record = await api.get('/orders/phone-record', { phone: v.recipient.phone }); } catch { record = null; }
    }
    const reasonIn = h('textarea', { id: 'order-override-reason', class: 'input', rows: 2, testid: 'order-override-reason' });
    const reasonErr = h('p', { class: 'field-error', role: 'alert', testid: 'order-override-error' });
    const bl = record?.blacklist;
    const go = h('button', { type: 'button', class: `btn ${bl ? 'btn-danger' : 'btn-primary'}`, t: bl ? 'orders.confirm_anyway' : 'orders.confirm', testid: 'order-confirm-go' });
    const body = [
      h('p', { text: t('orders.confirm_summary', { total: money(v.totals.total), cod: money(v.cod_amount) }) }),
      record ? h('p', { testid: 'order-record', class: 'order-record', text: t('orders.record', { phone: formatPhone(record.phone), delivered: record.delivered, returned: record.returned }) }) : null,
      bl ? h('div', { class: 'blacklist-warning', role: 'alert', testid: 'order-blacklist-warning' },
        h('strong', { t: 'orders.blacklisted' }), h('p', { text: t('orders.blacklist_reason', { reason: bl.reason }) }),
        h('div', { class: 'field' }, h('label', { for: 'order-override-reason', t: 'orders.override_reason' }), reasonIn, reasonErr)) : null,
      h('div', { class: 'toolbar' }, go, h('button', { type: 'button', class: 'btn btn-secondary', t: 'common.cancel', on: { click: () => d.close() } })),
    ];
    const d = dialog('orders.confirm_title', body, { testid: 'order-confirm-dialog' });
    go.addEventListener('click', async () => {
      const reason = reasonIn.value.trim();
      if (bl && !reason) { reasonErr.textContent = t('orders.override_required'); reasonIn.focus(); return; }
      go.disabled = true;
      try {
        const done = await api.post(`/orders/${v.id}/confirm`, bl ? { blacklist_override_reason: reason } : {});
        d.close();
        toast(t('orders.confirmed'), { testid: 'order-confirmed' });
        this.onConfirmed?.(newer(this.latest, done));
      } catch (err) {
        go.disabled = false;
        if (err.code === 'blacklisted') { reasonErr.textContent = t('orders.override_required'); return; }
        d.close();
        this.showError(err);
      }
    });
  }
}

// ─────────────────────────────────────────────────────────────────────────────── detail

class OrderDetail {
  constructor(root, ctx, view) {
    this.root = root;
    this.ctx = ctx;
    this.attempts = new Map(); // message id → attempts shown
    this.render(view);
  }

  render(v) {
    this.v = v;
    const o = v;
    const r = o.recipient ?? {};
    const a = r.address ?? {};
    const actions = [];
    if (this.ctx.can('work_orders') && canMoveTo(o.status, 'cancelled')) {
      actions.push(h('button', { type: 'button', class: 'btn btn-secondary', t: 'orders.cancel', testid: 'order-cancel', on: { click: () => this.cancel() } }));
    }
    if (this.ctx.can('fulfill_orders')) {
      for (const s of ['packed', 'shipped', 'delivered', 'returned']) {
        if (canMoveTo(o.status, s)) actions.push(h('button', { type: 'button', class: 'btn btn-primary', t: `orders.to.${s}`, testid: `order-to-${s}`, on: { click: () => this.step(s) } }));
      }
    }
    const addr = [a.street, a.ward, a.district, a.province].filter(Boolean).join(', ');
    replaceChildren(this.root, h('section', { class: 'page order-page', testid: 'order-detail', dataset: { id: o.id } },
      h('header', { class: 'page-head' },
        h('a', { href: '/orders', class: 'back', t: 'orders.back', on: { click: (e) => { e.preventDefault(); this.ctx.navigate('/orders'); } } }),
        h('h1', { text: `${t('orders.order')} ${orderCode(o)}` }),
        statusBadge(o.status, 'order-status')),
      o.blacklisted ? h('p', { class: 'alert blacklist-warning', role: 'alert', text: t('orders.blacklist_reason', { reason: o.blacklisted.reason }) }) : null,
      o.blacklist_override ? h('p', { class: 'notice', text: t('orders.override_was', { reason: o.blacklist_override }) }) : null,
      actions.length ? h('div', { class: 'toolbar order-actions', testid: 'order-actions' }, actions) : null,
      h('div', { class: 'order-grid' },
        h('section', { class: 'panel' }, h('h2', { t: 'orders.recipient' }),
          h('p', { testid: 'order-recipient', text: r.name ?? '—' }),
          h('p', { class: 'phone', text: formatPhone(r.phone) || '—' }),
          h('p', { testid: 'order-address', text: addr || '—' }),
          v.phone_record ? h('p', { class: 'muted', testid: 'order-record', text: t('orders.record', { phone: formatPhone(v.phone_record.phone), delivered: v.phone_record.delivered, returned: v.phone_record.returned }) }) : null,
          o.tracking_code || o.carrier ? h('p', { text: t('orders.tracking', { code: o.tracking_code ?? '—', carrier: o.carrier ?? '—' }) }) : null,
          o.note ? h('p', { class: 'muted', text: o.note }) : null),
        h('section', { class: 'panel' }, h('h2', { t: 'orders.items' }),
          h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
            h('tbody', {}, o.items.map((i) => h('tr', {},
              h('td', { text: i.name }), h('td', { class: 'muted', text: i.sku ?? '' }),
              h('td', { class: 'num', text: `× ${i.quantity}` }), h('td', { class: 'num', text: money(i.quantity * i.unit_price) })))))),
          h('dl', { class: 'order-totals' },
            h('dt', { t: 'orders.subtotal' }), h('dd', { class: 'num', text: money(o.totals.subtotal) }),
            h('dt', { t: 'orders.f.shipping_fee' }), h('dd', { class: 'num', text: money(o.totals.shipping_fee) }),
            h('dt', { t: 'orders.f.discount' }), h('dd', { class: 'num', text: `− ${money(o.totals.discount)}` }),
            h('dt', { t: 'orders.total' }), h('dd', { class: 'num', testid: 'order-total', text: money(o.totals.total) }),
            h('dt', { t: 'orders.f.cod' }), h('dd', { class: 'num', testid: 'order-cod', text: money(o.cod_amount) })))),
      h('section', { class: 'panel' }, h('h2', { t: 'orders.timeline' }),
        h('ol', { class: 'order-timeline', testid: 'order-timeline' }, (v.timeline ?? []).map((e) => h('li', { testid: 'order-event', dataset: { kind: e.kind, to: e.to_status ?? '' } },
          h('time', { datetime: e.created_at, text: fullDateTime(e.created_at) }), ' ',
          h('span', { text: e.to_status ? t('orders.event_status', { from: e.from_status ? t(`orders.status.${e.from_status}`) : '—', to: t(`orders.status.${e.to_status}`) }) : t(`orders.event.${e.kind}`) }),
          ' ', h('span', { class: 'muted', text: `(${t(`orders.by.${e.source}`)})` }))))),
      h('section', { class: 'panel' }, h('h2', { t: 'orders.deliveries' }),
        (v.deliveries ?? []).length === 0 ? h('p', { class: 'muted', t: 'orders.no_deliveries' }) : null,
        h('ul', { class: 'order-deliveries', testid: 'order-deliveries' }, (v.deliveries ?? []).map((m) => this.delivery(m))))));
  }

  delivery(m) {
    const attempts = h('ol', { class: 'attempts', testid: 'delivery-attempts' });
    const shown = this.attempts.get(m.id);
    if (shown) this.fillAttempts(attempts, shown);
    const badge = { delivered: 'badge-ok', failed: 'badge-danger', pending: 'badge-warn' }[m.status] ?? '';
    return h('li', { class: 'delivery', testid: 'order-delivery', dataset: { id: m.id, status: m.status } },
      h('div', { class: 'delivery-head' },
        h('code', { text: m.event_type }), ' ',
        h('span', { class: `badge ${badge}`, testid: 'delivery-status', text: t(`orders.delivery.${m.status}`) }), ' ',
        h('span', { class: 'muted', text: t('orders.delivery_meta', { attempts: m.attempts, code: m.last_status_code ?? '—', at: fullDateTime(m.updated_at) }) })),
      h('div', { class: 'toolbar' },
        h('button', { type: 'button', class: 'btn btn-ghost btn-sm', t: 'orders.show_attempts', testid: 'delivery-show', on: { click: () => this.loadAttempts(m.id, attempts) } }),
        canManage(this.ctx) ? h('button', { type: 'button', class: 'btn btn-secondary btn-sm', t: 'orders.redeliver', testid: 'delivery-redeliver', on: { click: (e) => this.redeliver(m.id, e.target) } }) : null),
      attempts);
  }

  fillAttempts(el, list) {
    replaceChildren(el, list.length ? list.map((x) => h('li', { testid: 'delivery-attempt' },
      h('time', { datetime: x.created_at, text: fullDateTime(x.created_at) }), ' ',
      h('span', { text: t('orders.attempt', { n: x.attempt, code: x.status_code ?? '—' }) }),
      x.error ? h('span', { class: 'field-error', text: ` ${x.error}` }) : null)) : h('li', { class: 'muted', t: 'orders.no_attempts' }));
  }

  async loadAttempts(id, el) {
    try {
      const d = await api.get(`/webhook-messages/${encodeURIComponent(id)}`);
      this.attempts.set(id, d.deliveries);
      this.fillAttempts(el, d.deliveries);
    } catch (err) {
      replaceChildren(el, h('li', { class: 'field-error', text: errorText(err, 'orders.error') }));
    }
  }

  async redeliver(id, btn) {
    btn.disabled = true;
    try {
      await api.post(`/webhook-messages/${encodeURIComponent(id)}/redeliver`);
      toast(t('orders.redelivering'));
      await this.refresh();
    } catch (err) {
      toast(errorText(err, 'orders.error'), { kind: 'error' });
      btn.disabled = false;
    }
  }

  async refresh() {
    const v = await api.get(`/orders/${this.v.id}`);
    for (const id of this.attempts.keys()) {
      try { this.attempts.set(id, (await api.get(`/webhook-messages/${encodeURIComponent(id)}`)).deliveries); } catch { /* keep */ }
    }
    this.render(newer(this.v, v));
  }

  async cancel() {
    const reason = h('textarea', { id: 'order-cancel-reason', class: 'input', rows: 2, testid: 'order-cancel-reason' });
    const go = h('button', { type: 'button', class: 'btn btn-danger', t: 'orders.cancel', testid: 'order-cancel-go' });
    const d = dialog('orders.cancel_title', [h('div', { class: 'field' }, h('label', { for: 'order-cancel-reason', t: 'orders.cancel_reason' }), reason), h('div', { class: 'toolbar' }, go)], { testid: 'order-cancel-dialog' });
    go.addEventListener('click', async () => {
      go.disabled = true;
      try {
        this.render(await api.post(`/orders/${this.v.id}/cancel`, { reason: reason.value.trim() || null }));
        d.close();
      } catch (err) { go.disabled = false; toast(errorText(err, 'orders.error'), { kind: 'error' }); }
    });
  }

  async step(status) {
    let body = { status };
    if (status === 'shipped') {
      const code = h('input', { id: 'order-tracking', class: 'input', testid: 'order-tracking' });
      const carrier = h('input', { id: 'order-carrier', class: 'input', testid: 'order-carrier' });
      const go = h('button', { type: 'button', class: 'btn btn-primary', t: 'orders.to.shipped', testid: 'order-ship-go' });
      const d = dialog('orders.ship_title', [
        h('div', { class: 'field' }, h('label', { for: 'order-tracking', t: 'orders.tracking_code' }), code),
        h('div', { class: 'field' }, h('label', { for: 'order-carrier', t: 'orders.carrier' }), carrier),
        h('div', { class: 'toolbar' }, go)], { testid: 'order-ship-dialog' });
      go.addEventListener('click', () => d.close({ tracking_code: code.value.trim() || null, carrier: carrier.value.trim() || null }));
      const extra = await d.done;
      if (!extra) return;
      body = { ...body, ...extra };
    }
    try {
      this.render(await api.post(`/orders/${this.v.id}/status`, body));
    } catch (err) {
      toast(errorText(err, 'orders.error'), { kind: 'error' });
    }
  }

  handleEvent(type, data) {
    if (type === 'resync') return this.refresh().catch(() => {});
    if (type.startsWith('order.') && data?.order?.id === this.v.id) return this.render(newer(this.v, data.order));
    if (type.startsWith('webhook.') && (this.v.deliveries ?? []).some((m) => m.id === data?.message_id)) this.refresh().catch(() => {});
    return undefined;
  }

  onLang() { this.render(this.v); }
}

// ─────────────────────────────────────────────────────────────────────────────── screen

export function mount(container, ctx) {
  let screen = null;
  let seq = 0;
  async function route(params) {
    const id = params?.[0];
    const mine = ++seq;
    if (!id) { screen = new OrderList(container, ctx); return; }
    if (id === 'new') {
      if (!ctx.can('work_orders')) { ctx.navigate('/orders', { replace: true }); return; }
      screen = new OrderForm(container, ctx, null);
      screen.onConfirmed = (v) => { screen = new OrderDetail(container, ctx, v); };
      return;
    }
    if (screen instanceof OrderForm && screen.order?.id === id) return; // the draft just saved
    screen = null;
    replaceChildren(container, h('section', { class: 'page' }, loading()));
    try {
      const v = await api.get(`/orders/${encodeURIComponent(id)}`);
      if (mine !== seq) return;
      if (v.status === 'draft' && ctx.can('work_orders')) {
        screen = new OrderForm(container, ctx, v);
        screen.onConfirmed = (done) => { screen = new OrderDetail(container, ctx, done); };
      } else {
        screen = new OrderDetail(container, ctx, v);
      }
    } catch (err) {
      if (mine !== seq) return;
      replaceChildren(container, h('section', { class: 'page' }, failure(err, () => route(params))));
    }
  }
  return {
    route,
    handleEvent: (type, data) => screen?.handleEvent?.(type, data),
    onLang: () => screen?.onLang?.(),
    destroy: () => { seq += 1; screen = null; },
  };
}
