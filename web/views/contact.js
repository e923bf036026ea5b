// The contact panel beside a conversation: who the customer is (name, avatar, phone, identities
// across channels), whether the phone is trusted (delivered vs returned orders, the blacklist),
// their open lead and orders, the staff note, the conversation's labels, and merging.
//
//   const panel = new ContactPanel(container, ctx);
//   panel.show(conversation);   // a ConversationOut, or null
//   panel.handleEvent(type, data); panel.onLang(); panel.destroy();
import { api } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { t } from '../i18n.js';
import { errorText, dialog, toast, loading, failure, safeUrl, money } from '../ui.js';
import { formatPhone, contactName, platformLabel, listTime, fullDateTime } from '../format.js';

const OPEN = ['new', 'contacted', 'qualified'];

export class ContactPanel {
  constructor(container, ctx) {
    this.ctx = ctx;
    this.conv = null;
    this.data = null; // {contact, lead, orders, record}
    this.labels = null; // workspace labels [{id, name, color}]
    this.members = null; // workspace members, for the lead's assignee
    this.token = 0;
    this.editingName = false;
    this.root = h('aside', { class: 'contact-panel', testid: 'contact-panel', 'aria-labelledby': 'contact-panel-title' });
    container.append(this.root);
    this.render();
  }

  get canWork() { return this.ctx.can('work_inbox'); }

  show(conversation) {
    const same = conversation && this.conv && conversation.id === this.conv.id
      && conversation.contact?.id === this.conv.contact?.id;
    this.conv = conversation || null;
    if (!same) {
      this.data = null;
      this.editingName = false;
    }
    this.render();
    if (!same && this.conv) this.load();
  }

  async load() {
    const conv = this.conv;
    if (!conv?.contact?.id) return;
    const token = ++this.token;
    const cid = conv.contact.id;
    try {
      const contact = await api.get(`/contacts/${encodeURIComponent(cid)}`);
      const phone = contact.phone || conv.contact.phone;
      const canOrders = this.ctx.can('read_orders');
      const [leads, orders, record, labels, members] = await Promise.all([
        this.ctx.can('leads') ? api.get('/leads', { contact_id: cid, limit: 20 }).catch(() => null) : null,
        canOrders ? api.get('/orders', { contact_id: cid, limit: 10 }).catch(() => null) : null,
        canOrders && phone ? api.get('/orders/phone-record', { phone }).catch(() => null) : null,
        this.labels ? this.labels : api.get('/labels').catch(() => []),
        this.members ? this.members : api.get('/members').catch(() => null),
      ]);
      this.members = members;
      if (token !== this.token || this.conv?.id !== conv.id) return;
      this.labels = labels;
      const items = leads?.items || [];
      const lead = items.find((l) => OPEN.includes(l.stage)) || items[0] || null;
      this.data = { contact, lead, orders: orders?.items || null, record, error: null };
    } catch (err) {
      if (token !== this.token) return;
      this.data = { error: err };
    }
    this.render();
  }

  handleEvent(type, data) {
    if (!this.conv) return;
    const cid = this.conv.contact?.id;
    if (type === 'contact.updated' && data?.contact_id === cid) this.load();
    else if (type.startsWith('lead.') && data?.lead?.contact?.id === cid) this.load();
    else if (type.startsWith('order.') && data?.order?.contact_id === cid) this.load();
    else if (type === 'blacklist.updated' || type === 'resync') this.load();
    else if (type === 'conversation.updated' && data?.conversation?.id === this.conv.id) {
      this.conv = { ...this.conv, ...data.conversation };
      this.render();
    }
  }

  onLang() { this.render(); }

  destroy() {
    this.token += 1;
    this.root.remove();
  }

  // ── rendering ──

  render() {
    const conv = this.conv;
    if (!conv) {
      replaceChildren(this.root, h('p', { class: 'muted contact-empty', t: 'contact.none' }));
      return;
    }
    if (this.data?.error) {
      replaceChildren(this.root, failure(this.data.error, () => this.load()));
      return;
    }
    const c = this.data?.contact || { ...conv.contact, identities: [] };
    const focusedId = document.activeElement && this.root.contains(document.activeElement) ? document.activeElement.id : null;
    replaceChildren(this.root,
      this.header(c, conv),
      this.phoneSection(c),
      this.data ? [this.leadSection(), this.ordersSection(conv), this.noteSection(c)] : loading(),
      this.labelsSection(conv),
      this.data ? [this.identitiesSection(c), this.mergeSection(c)] : null);
    if (focusedId) this.root.querySelector(`#${CSS.escape(focusedId)}`)?.focus();
  }

  header(c, conv) {
    const avatar = safeUrl(conv.contact?.avatar_url || c.identities?.find((i) => i.avatar_url)?.avatar_url);
    const name = contactName(c);
    let nameEl;
    if (this.editingName) {
      const typed = this.root.querySelector('#contact-name-input')?.value;
      const input = h('input', { id: 'contact-name-input', testid: 'contact-name-input', value: typed ?? c.name ?? '', maxLength: 200, tAttr: { 'aria-label': 'contact.name' } });
      const save = async () => {
        const v = input.value.trim();
        this.editingName = false;
        if (v !== (c.name || '')) await this.patchContact({ name: v });
        else this.render();
      };
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') { e.preventDefault(); save(); }
        if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); this.editingName = false; this.render(); }
      });
      nameEl = h('form', { class: 'contact-name-form', on: { submit: (e) => { e.preventDefault(); save(); } } },
        input,
        h('button', { type: 'submit', class: 'btn btn-primary btn-sm', testid: 'contact-name-save', t: 'common.save' }));
      if (typed === undefined) queueMicrotask(() => input.focus());
    } else {
      nameEl = h('div', { class: 'contact-name-row' },
        h('h2', { id: 'contact-panel-title', class: 'contact-name', testid: 'contact-name', text: name }),
        this.canWork && this.data ? h('button', {
          type: 'button', class: 'btn btn-ghost btn-sm', testid: 'contact-name-edit', t: 'common.edit',
          on: { click: () => { this.editingName = true; this.render(); } },
        }) : null);
    }
    return h('header', { class: 'contact-head' },
      avatar
        ? h('img', { class: 'contact-avatar', src: avatar, alt: '', referrerPolicy: 'no-referrer', loading: 'lazy' })
        : h('span', { class: 'contact-avatar contact-avatar-blank', 'aria-hidden': 'true', text: name.trim().charAt(0).toUpperCase() }),
      nameEl);
  }

  phoneSection(c) {
    const rec = this.data?.record;
    const bl = rec?.blacklist || this.data?.lead?.blacklist;
    const phone = c.phone;
    const copy = async () => {
      try {
        await navigator.clipboard.writeText(formatPhone(phone).replace(/\s/g, ''));
        toast(t('contact.copied'), { ms: 2000 });
      } catch { toast(t('contact.copy_failed'), { kind: 'error' }); }
    };
    return h('section', { class: 'contact-section contact-phone' },
      bl ? h('p', { class: 'alert contact-bom', role: 'alert', testid: 'contact-blacklist' },
        h('strong', { t: 'contact.bom_hang' }), ` ${bl.reason || ''}`) : null,
      phone
        ? h('div', { class: 'contact-phone-row' },
          h('a', { class: 'phone', href: /^\+?\d{6,15}$/.test(phone) ? `tel:${phone}` : null, testid: 'contact-phone', text: formatPhone(phone) }),
          h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'contact-copy', t: 'contact.copy', on: { click: copy } }))
        : h('p', { class: 'muted', t: 'contact.no_phone' }),
      rec ? h('p', { class: 'contact-record', testid: 'contact-record' },
        h('span', { class: 'badge badge-ok', text: t('contact.delivered', { n: rec.delivered }) }), ' ',
        h('span', { class: `badge ${rec.returned ? 'badge-danger' : 'badge-ok'}`, text: t('contact.returned', { n: rec.returned }) })) : null);
  }

  leadSection() {
    if (!this.ctx.can('leads')) return null;
    const l = this.data.lead;
    return h('section', { class: 'contact-section', 'aria-labelledby': 'contact-lead-title' },
      h('h3', { id: 'contact-lead-title', t: 'contact.lead' }),
      l ? h('a', { class: 'contact-lead', href: `/leads/${encodeURIComponent(l.id)}`, 'data-nav': '', testid: 'contact-lead' },
        h('span', { class: `badge lead-stage-${l.stage}`, text: t(`leads.stage.${l.stage}`) }),
        l.next_call_at ? h('span', {
          class: new Date(l.next_call_at).getTime() <= Date.now() ? 'overdue' : 'muted',
          title: fullDateTime(l.next_call_at), text: `${t('leads.next_call')}: ${listTime(l.next_call_at)}`,
        }) : null,
        h('span', { class: 'muted', testid: 'contact-lead-assignee', text: this.assigneeName(l.assignee_id) }))
        : h('p', { class: 'muted', t: 'contact.no_lead' }));
  }

  assigneeName(uid) {
    if (!uid) return t('leads.unassigned');
    const m = this.members?.find((x) => x.user.id === uid);
    return m ? (m.user.name || m.user.email) : t('contact.lead_assigned');
  }

  ordersSection(conv) {
    if (!this.ctx.can('read_orders')) return null;
    const orders = this.data.orders || [];
    return h('section', { class: 'contact-section', 'aria-labelledby': 'contact-orders-title' },
      h('div', { class: 'contact-section-head' },
        h('h3', { id: 'contact-orders-title', t: 'contact.orders' }),
        this.ctx.can('work_orders') ? h('a', {
          class: 'btn btn-primary btn-sm', href: `/orders/new?conversation=${encodeURIComponent(conv.id)}`,
          'data-nav': '', testid: 'contact-create-order', t: 'contact.create_order',
        }) : null),
      orders.length
        ? h('ul', { class: 'contact-orders', testid: 'contact-orders' }, orders.map((o) => h('li', {},
          h('a', { href: `/orders/${encodeURIComponent(o.id)}`, 'data-nav': '' },
            h('span', { class: 'badge', text: t(`contact.order_status.${o.status}`) }),
            h('span', { class: 'num', text: money(o.totals?.total) }),
            h('time', { class: 'muted', dateTime: o.created_at, text: listTime(o.created_at) })))))
        : h('p', { class: 'muted', t: 'contact.no_orders' }));
  }

  noteSection(c) {
    // A note being typed survives a re-render (a frame about this contact may arrive meanwhile).
    const old = this.root.querySelector('#contact-note');
    const dirty = old && old.dataset.contact === c.id && old.value !== old.dataset.saved;
    const ta = h('textarea', {
      id: 'contact-note', testid: 'contact-note', rows: 3, maxLength: 5000, value: dirty ? old.value : (c.note || ''),
      disabled: !this.canWork, tAttr: { placeholder: 'contact.note_placeholder' },
      dataset: { contact: c.id, saved: c.note || '' },
    });
    const state = h('span', { class: 'muted contact-note-state', role: 'status', testid: 'contact-note-state' });
    let saving = null;
    const save = async () => {
      if (saving) await saving;
      if (ta.value.trim() === (this.data?.contact?.note || '')) return;
      state.textContent = t('common.saving');
      saving = this.patchContact({ note: ta.value }, false);
      const ok = await saving;
      saving = null;
      if (ok) ta.dataset.saved = this.data?.contact?.note || '';
      state.textContent = ok ? t('common.saved') : '';
    };
    ta.addEventListener('blur', save);
    return h('section', { class: 'contact-section' },
      h('label', { for: 'contact-note', class: 'contact-label', t: 'contact.note' }),
      ta,
      this.canWork ? h('div', { class: 'toolbar' },
        h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'contact-note-save', t: 'common.save', on: { click: save } }),
        state) : null);
  }

  labelsSection(conv) {
    const current = conv.labels || [];
    const listId = 'contact-label-options';
    const input = h('input', {
      id: 'contact-label-input', testid: 'contact-label-input', maxLength: 50,
      tAttr: { placeholder: 'contact.label_placeholder' },
    });
    input.setAttribute('list', listId); // `list` is read-only as a property
    const add = () => {
      const v = input.value.trim();
      if (!v || current.includes(v)) { input.value = ''; return; }
      this.setLabels([...current, v]);
    };
    return h('section', { class: 'contact-section', 'aria-labelledby': 'contact-labels-title' },
      h('h3', { id: 'contact-labels-title', t: 'contact.labels' }),
      h('ul', { class: 'contact-labels', testid: 'contact-labels' }, current.map((name) => {
        const color = this.labels?.find((l) => l.name === name)?.color;
        const chip = h('li', { class: 'contact-label-chip' },
          h('span', { class: 'contact-label-dot', 'aria-hidden': 'true' }),
          h('span', { text: name }),
          this.canWork ? h('button', {
            type: 'button', class: 'btn btn-ghost btn-icon btn-sm', testid: 'contact-label-remove',
            'aria-label': t('contact.remove_label', { name }), text: '×',
            on: { click: () => this.setLabels(current.filter((x) => x !== name)) },
          }) : null);
        if (color && /^#[0-9a-fA-F]{3,8}$/.test(color)) chip.firstChild.style.background = color;
        return chip;
      })),
      this.canWork ? h('form', { class: 'contact-label-form', on: { submit: (e) => { e.preventDefault(); add(); } } },
        h('label', { class: 'sr-only', for: 'contact-label-input', t: 'contact.add_label' }),
        input,
        h('datalist', { id: listId }, (this.labels || []).filter((l) => !current.includes(l.name)).map((l) => h('option', { value: l.name }))),
        h('button', { type: 'submit', class: 'btn btn-secondary btn-sm', testid: 'contact-label-add', t: 'common.add' })) : null);
  }

  identitiesSection(c) {
    const ids = c.identities || [];
    if (!ids.length) return null;
    return h('section', { class: 'contact-section', 'aria-labelledby': 'contact-ids-title' },
      h('h3', { id: 'contact-ids-title', t: 'contact.identities' }),
      h('ul', { class: 'contact-identities', testid: 'contact-identities' }, ids.map((i) => h('li', {},
        h('span', { class: 'badge badge-platform', dataset: { platform: i.platform }, text: platformLabel(i.platform) }),
        h('span', { text: i.display_name || i.external_id })))));
  }

  mergeSection(c) {
    if (!this.canWork) return null;
    if (c.merged_into) {
      return h('section', { class: 'contact-section' },
        h('p', { class: 'muted', t: 'contact.merged' }),
        h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'contact-unmerge', t: 'contact.unmerge', on: { click: () => this.unmerge(c) } }));
    }
    const merged = (c.identities || []).filter((i) => i.original_contact_id && i.original_contact_id !== c.id);
    const origins = [...new Set(merged.map((i) => i.original_contact_id))];
    return h('section', { class: 'contact-section' },
      h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'contact-merge', t: 'contact.merge', on: { click: () => this.mergeDialog(c) } }),
      origins.map((oid) => h('button', {
        type: 'button', class: 'btn btn-ghost btn-sm', testid: 'contact-unmerge',
        text: t('contact.unmerge_one', { name: merged.find((i) => i.original_contact_id === oid)?.display_name || `#${oid.slice(-6)}` }),
        on: { click: () => this.unmerge({ id: oid }) },
      })));
  }

  // ── actions ──

  async patchContact(body, rerender = true) {
    const cid = this.conv?.contact?.id;
    try {
      const c = await api.patch(`/contacts/${encodeURIComponent(cid)}`, body);
      if (this.data && this.conv?.contact?.id === cid) this.data.contact = c;
      if (rerender) this.render();
      return true;
    } catch (err) {
      toast(errorText(err, 'contact.error'), { kind: 'error' });
      if (rerender) this.render();
      return false;
    }
  }

  async setLabels(labels) {
    const id = this.conv.id;
    try {
      const conv = await api.patch(`/conversations/${encodeURIComponent(id)}`, { labels });
      if (this.conv?.id === id) this.conv = { ...this.conv, ...conv };
      if (labels.some((n) => !this.labels?.some((l) => l.name === n))) this.labels = await api.get('/labels').catch(() => this.labels);
      this.render();
      this.root.querySelector('#contact-label-input')?.focus();
    } catch (err) {
      toast(errorText(err, 'contact.error'), { kind: 'error' });
    }
  }

  async mergeDialog(c) {
    const input = h('input', { id: 'merge-search', type: 'search', testid: 'merge-search', autocomplete: 'off' });
    const results = h('ul', { class: 'merge-results', testid: 'merge-results', 'aria-live': 'polite' });
    let timer = null;
    let d = null;
    const pick = async (other) => {
      const ok = await confirmMerge(c, other);
      if (!ok) return;
      try {
        await api.post(`/contacts/${encodeURIComponent(c.id)}/merge`, { into_id: other.id });
        d.close(true);
        toast(t('contact.merged_done'), { ms: 3000 });
        if (this.conv) this.conv = { ...this.conv, contact: { ...this.conv.contact, id: other.id } };
        this.data = null;
        this.render();
        this.load();
      } catch (err) {
        toast(errorText(err, 'contact.error'), { kind: 'error' });
      }
    };
    const searchNow = async () => {
      const q = input.value.trim();
      if (!q) { replaceChildren(results); return; }
      try {
        const found = (await api.get('/contacts', { q, limit: 10 })).filter((x) => x.id !== c.id);
        replaceChildren(results, found.length ? found.map((x) => h('li', {},
          h('button', { type: 'button', class: 'btn btn-ghost merge-pick', testid: 'merge-pick', on: { click: () => pick(x) } },
            h('strong', { text: contactName(x) }), ' ',
            h('span', { class: 'muted', text: formatPhone(x.phone) || '' }), ' ',
            h('span', { class: 'muted', text: x.identities.map((i) => platformLabel(i.platform)).join(', ') }))))
          : h('li', { class: 'muted', t: 'contact.merge_none' }));
      } catch (err) {
        replaceChildren(results, h('li', { class: 'alert', text: errorText(err, 'contact.error') }));
      }
    };
    input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(searchNow, 250); });
    d = dialog('contact.merge_title', [
      h('p', { class: 'hint', t: 'contact.merge_hint' }),
      h('div', { class: 'field' }, h('label', { for: 'merge-search', t: 'contact.merge_search' }), input),
      results,
    ], { testid: 'merge-dialog' });
    input.focus();
  }

  async unmerge(c) {
    try {
      await api.post(`/contacts/${encodeURIComponent(c.id)}/unmerge`);
      toast(t('contact.unmerged'), { ms: 3000 });
      this.load();
    } catch (err) {
      toast(errorText(err, 'contact.error'), { kind: 'error' });
    }
  }
}

function confirmMerge(from, into) {
  let closeFn;
  const d = dialog('contact.merge_confirm_title', [
    h('p', { text: t('contact.merge_confirm', { from: contactName(from), into: contactName(into) }) }),
    h('div', { class: 'toolbar' },
      h('button', { type: 'button', class: 'btn btn-primary', testid: 'merge-confirm', t: 'contact.merge', on: { click: () => closeFn(true) } }),
      h('button', { type: 'button', class: 'btn btn-secondary', t: 'common.cancel', on: { click: () => closeFn(false) } })),
  ], { testid: 'merge-confirm-dialog' });
  closeFn = d.close;
  return d.done;
}
