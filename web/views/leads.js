// The leads screen: a board with one column per stage (/leads) and a lead's detail in a side
// panel (/leads/<id>): phone and its record, the call log with the call form, the audit trail.
// Cards move by drag and drop, by the "Chuyển sang…" select, or with [ and ] on a focused card.
import { api } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { t } from '../i18n.js';
import { errorText, dialog, toast, loading, failure, safeUrl } from '../ui.js';
import { formatPhone, contactName, platformLabel, listTime, fullDateTime } from '../format.js';

export const STAGES = ['new', 'contacted', 'qualified', 'won', 'lost'];
export const OUTCOMES = ['no_answer', 'busy', 'wrong_number', 'call_back', 'interested', 'confirmed_order', 'refused'];
const HOUR = 3600000;
const isManager = (role) => role === 'owner' || role === 'admin';
const isOpen = (stage) => stage !== 'won' && stage !== 'lost';

/** "Cần gọi lại": open, mine, next call due or within the hour. */
export function dueSoon(lead, me, now = Date.now()) {
  if (!lead.next_call_at || lead.assignee_id !== me || !isOpen(lead.stage)) return false;
  return new Date(lead.next_call_at).getTime() <= now + HOUR;
}

/** "12:30" / "5" / "5.5" → seconds; empty → null; anything else → NaN. */
export function parseDuration(text) {
  const s = String(text ?? '').trim();
  if (!s) return null;
  let m = /^(\d{1,3}):([0-5]\d)$/.exec(s);
  if (m) return Number(m[1]) * 60 + Number(m[2]);
  m = /^\d+(?:[.,]\d+)?$/.exec(s);
  if (m) return Math.round(Number(s.replace(',', '.')) * 60);
  return NaN;
}

function durationText(sec) {
  if (sec === null || sec === undefined) return '';
  return `${Math.floor(sec / 60)}:${String(sec % 60).padStart(2, '0')}`;
}

/** A datetime-local value (the user's wall clock) → ISO with the user's offset. */
export function localToIso(value) {
  if (!value) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return null;
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  const y = d.getFullYear();
  return `${y}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:00${sign}${pad(off / 60)}:${pad(off % 60)}`;
}

function sourceText(lead) {
  const src = t(`leads.source.${lead.source}`);
  if (!lead.platform) return src;
  // A comment under a Facebook Page post is not Messenger.
  const channel = lead.source === 'comment' && lead.platform === 'facebook' ? 'Facebook' : platformLabel(lead.platform);
  return `${src} · ${channel}`;
}

export function mount(container, ctx) {
  const me = ctx.session.user.id;
  const manager = isManager(ctx.role);
  const state = {
    scope: manager ? 'all' : 'me',
    q: '',
    leads: new Map(), // id → LeadOut shown on the board
    counts: {},
    mine: new Map(), // my open leads (for the reminders strip)
    members: [],
    available: null,
    detailId: null,
    detail: null,
    highlight: new Set(),
    loadToken: 0,
  };
  let destroyed = false;
  let countsTimer = null;
  let searchTimer = null;
  let dragId = null;

  // ── skeleton ──
  const availBtn = h('button', {
    type: 'button', class: 'toggle', testid: 'leads-availability', 'aria-pressed': 'false',
    on: { click: () => toggleAvailability() },
  });
  const tabs = h('div', { class: 'tabs leads-tabs', role: 'group', tAttr: { 'aria-label': 'leads.scope' } });
  const search = h('input', {
    type: 'search', id: 'leads-search', testid: 'leads-search', class: 'leads-search',
    tAttr: { placeholder: 'leads.search_placeholder', 'aria-label': 'common.search' },
    on: { input: () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => { state.q = search.value.trim(); loadBoard(); }, 300); } },
  });
  const strip = h('section', { class: 'leads-reminders', testid: 'leads-reminders', 'aria-live': 'polite', hidden: true });
  const board = h('div', { class: 'leads-board', testid: 'leads-board' });
  const status = h('div', { class: 'leads-status' });
  const side = h('aside', {
    class: 'lead-detail', testid: 'lead-detail', hidden: true, tabIndex: -1, 'aria-labelledby': 'lead-detail-title',
    on: { keydown: (e) => { if (e.key === 'Escape' && !e.defaultPrevented && e.target.tagName !== 'SELECT') ctx.navigate('/leads'); } },
  });
  const page = h('section', { class: 'page leads-page' },
    h('div', { class: 'page-head' },
      h('h1', { t: 'nav.leads' }),
      availBtn),
    h('div', { class: 'toolbar' }, tabs, search),
    strip, status, board);
  replaceChildren(container, h('div', { class: 'leads-layout' }, page, side));

  const columns = {};
  for (const st of STAGES) {
    const list = h('div', { class: 'lead-cards', role: 'list' });
    const count = h('span', { class: 'badge lead-count', testid: `leads-count-${st}`, text: '0' });
    const col = h('section', {
      class: `lead-col lead-col-${st}`, testid: `leads-col-${st}`, dataset: { stage: st },
      'aria-labelledby': `leads-col-${st}-title`,
      on: {
        dragover: (e) => { if (dragId) { e.preventDefault(); col.classList.add('drop'); } },
        dragleave: () => col.classList.remove('drop'),
        drop: (e) => {
          e.preventDefault();
          col.classList.remove('drop');
          const id = dragId || e.dataTransfer?.getData('text/plain');
          dragId = null;
          const lead = state.leads.get(id);
          if (lead && lead.stage !== st) move(lead, st);
        },
      },
    },
    h('header', { class: 'lead-col-head' },
      h('h2', { id: `leads-col-${st}-title`, t: `leads.stage.${st}` }), count),
    list);
    columns[st] = { col, list, count };
    board.append(col);
  }

  function renderTabs() {
    const defs = [['me', 'leads.scope.me'], ['none', 'leads.scope.none']];
    if (manager) defs.push(['all', 'leads.scope.all']);
    replaceChildren(tabs, defs.map(([k, key]) => h('button', {
      type: 'button', class: 'tab', t: key, testid: `leads-scope-${k}`, 'aria-pressed': String(state.scope === k),
      on: { click: () => { if (state.scope !== k) { state.scope = k; renderTabs(); loadBoard(); } } },
    })));
  }

  function renderAvailability() {
    availBtn.hidden = state.available === null;
    availBtn.setAttribute('aria-pressed', String(!!state.available));
    availBtn.textContent = t(state.available ? 'leads.on_shift' : 'leads.off_shift');
  }

  async function toggleAvailability() {
    const next = !state.available;
    availBtn.disabled = true;
    try {
      await api.put('/me/availability', { available: next });
      state.available = next;
      renderAvailability();
    } catch (err) {
      toast(errorText(err, 'leads.error'), { kind: 'error' });
    } finally {
      availBtn.disabled = false;
    }
  }

  const memberName = (uid) => {
    const m = state.members.find((x) => x.user.id === uid);
    return m ? (m.user.name || m.user.email) : t('leads.someone');
  };

  // ── data ──
  const scopeParam = () => (state.scope === 'all' ? undefined : state.scope);
  const inScope = (lead) => (state.scope === 'all' ? true : state.scope === 'me' ? lead.assignee_id === me : !lead.assignee_id);
  const matchesQuery = (lead) => {
    if (!state.q) return true;
    const q = state.q.toLowerCase();
    const digits = q.replace(/\D/g, '');
    return (lead.text || '').toLowerCase().includes(q) || (lead.contact?.name || '').toLowerCase().includes(q)
      || (digits && (lead.phone.includes(digits) || lead.phone_display.replace(/\D/g, '').includes(digits)));
  };

  async function loadBoard() {
    const token = ++state.loadToken;
    replaceChildren(status, loading());
    try {
      const pages = await Promise.all(STAGES.map((stage) =>
        api.get('/leads', { stage, assignee: scopeParam(), q: state.q || undefined, limit: 100 })));
      if (token !== state.loadToken || destroyed) return;
      state.leads.clear();
      for (const p of pages) for (const l of p.items) state.leads.set(l.id, l);
      state.counts = pages[0]?.counts || {};
      replaceChildren(status);
      renderBoard();
    } catch (err) {
      if (token !== state.loadToken || destroyed) return;
      replaceChildren(status, failure(err, loadBoard));
    }
  }

  async function loadMine() {
    try {
      const pages = await Promise.all(['new', 'contacted', 'qualified'].map((stage) =>
        api.get('/leads', { stage, assignee: 'me', limit: 100 })));
      state.mine.clear();
      for (const p of pages) for (const l of p.items) state.mine.set(l.id, l);
      renderStrip();
    } catch { /* the strip is a convenience: the board shows its own error */ }
  }

  async function loadMembers() {
    try {
      state.members = await api.get('/members');
      const mine = state.members.find((m) => m.user.id === me);
      state.available = mine ? mine.available : null;
      renderAvailability();
      renderBoard();
      if (state.detail) renderDetail();
    } catch { /* names fall back to "someone" */ }
  }

  function refreshCounts() {
    clearTimeout(countsTimer);
    countsTimer = setTimeout(async () => {
      try {
        const p = await api.get('/leads', { assignee: scopeParam(), q: state.q || undefined, limit: 1 });
        if (destroyed) return;
        state.counts = p.counts;
        for (const st of STAGES) columns[st].count.textContent = String(state.counts[st] ?? 0);
      } catch { /* keep the old counts */ }
    }, 250);
  }

  // ── board ──
  function renderBoard() {
    const byStage = Object.fromEntries(STAGES.map((s) => [s, []]));
    for (const l of state.leads.values()) byStage[l.stage]?.push(l);
    const active = document.activeElement;
    const focusedCard = active?.closest?.('.lead-card');
    const focusedId = board.contains(active) ? focusedCard?.dataset.id : null;
    const focusedOnCard = focusedCard === active;
    for (const st of STAGES) {
      byStage[st].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
      const { list, count } = columns[st];
      count.textContent = String(state.counts[st] ?? byStage[st].length);
      replaceChildren(list, byStage[st].length
        ? byStage[st].map(card)
        : h('p', { class: 'muted lead-empty', t: 'leads.empty_column' }));
    }
    if (focusedId) {
      const again = board.querySelector(`.lead-card[data-id="${CSS.escape(focusedId)}"]`);
      (focusedOnCard ? again : again?.querySelector('.lead-move'))?.focus();
    }
    renderStrip();
  }

  function card(lead) {
    const overdue = lead.next_call_at && new Date(lead.next_call_at).getTime() <= Date.now();
    const idx = STAGES.indexOf(lead.stage);
    const select = h('select', {
      class: 'lead-move', testid: 'lead-move', tAttr: { 'aria-label': 'leads.move_to' },
      on: {
        change: () => { const to = select.value; select.value = ''; if (to) move(lead, to); },
        keydown: (e) => e.stopPropagation(),
      },
    },
    h('option', { value: '', t: 'leads.move_to' }),
    STAGES.filter((s) => s !== lead.stage).map((s) => h('option', { value: s, t: `leads.stage.${s}` })));
    const el = h('article', {
      class: `lead-card${state.highlight.has(lead.id) ? ' highlight' : ''}${state.detailId === lead.id ? ' current' : ''}`,
      role: 'listitem', tabIndex: 0, draggable: true, testid: 'lead-card',
      dataset: { id: lead.id, stage: lead.stage },
      'aria-label': `${contactName(lead.contact)}, ${lead.phone_display}, ${t(`leads.stage.${lead.stage}`)}`,
      'aria-keyshortcuts': '[ ]',
      on: {
        dragstart: (e) => { dragId = lead.id; e.dataTransfer.effectAllowed = 'move'; e.dataTransfer.setData('text/plain', lead.id); el.classList.add('dragging'); },
        dragend: () => { dragId = null; el.classList.remove('dragging'); },
        keydown: (e) => {
          if (e.target !== el) return;
          if (e.key === '[' && idx > 0) { e.preventDefault(); move(lead, STAGES[idx - 1]); }
          else if (e.key === ']' && idx < STAGES.length - 1) { e.preventDefault(); move(lead, STAGES[idx + 1]); }
          else if (e.key === 'Enter') { e.preventDefault(); ctx.navigate(`/leads/${encodeURIComponent(lead.id)}`); }
        },
      },
    },
    h('div', { class: 'lead-card-top' },
      h('a', { href: `/leads/${encodeURIComponent(lead.id)}`, 'data-nav': '', class: 'lead-name', testid: 'lead-open', text: contactName(lead.contact), tabIndex: -1 }),
      lead.blacklist ? h('span', { class: 'badge badge-danger', testid: 'lead-blacklisted', t: 'leads.blacklisted', title: lead.blacklist.reason }) : null),
    h('div', { class: 'lead-card-phone phone', text: lead.phone_display || formatPhone(lead.phone) }),
    h('div', { class: 'lead-card-meta' },
      h('span', { class: 'badge badge-platform', dataset: { platform: lead.platform || '' }, text: sourceText(lead) }),
      h('time', { dateTime: lead.created_at, title: fullDateTime(lead.created_at), text: listTime(lead.created_at) })),
    lead.text ? h('p', { class: 'lead-card-text', text: lead.text }) : null,
    h('div', { class: 'lead-card-meta' },
      h('span', { class: 'lead-assignee', text: lead.assignee_id ? memberName(lead.assignee_id) : t('leads.unassigned') }),
      lead.next_call_at ? h('span', {
        class: `lead-next${overdue ? ' overdue' : ''}`, testid: 'lead-next-call', title: fullDateTime(lead.next_call_at),
        text: `${t('leads.next_call')}: ${listTime(lead.next_call_at)}`,
      }) : null),
    h('div', { class: 'lead-card-actions' },
      select,
      !lead.assignee_id && isOpen(lead.stage)
        ? h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'lead-take', t: 'leads.take', on: { click: () => take(lead) } })
        : null));
    return el;
  }

  function renderStrip() {
    const now = Date.now();
    const due = [...state.mine.values()].filter((l) => dueSoon(l, me, now))
      .sort((a, b) => (a.next_call_at < b.next_call_at ? -1 : 1));
    strip.hidden = due.length === 0;
    replaceChildren(strip,
      h('h2', { t: 'leads.reminders' }),
      h('ul', { class: 'leads-reminder-list' }, due.map((l) => {
        const overdue = new Date(l.next_call_at).getTime() <= now;
        return h('li', { testid: 'leads-reminder', class: state.highlight.has(l.id) ? 'highlight' : '' },
          h('a', { href: `/leads/${encodeURIComponent(l.id)}`, 'data-nav': '', text: contactName(l.contact) }),
          h('span', { class: 'phone', text: l.phone_display }),
          h('time', { class: overdue ? 'overdue' : '', dateTime: l.next_call_at, title: fullDateTime(l.next_call_at), text: listTime(l.next_call_at) }));
      })));
  }

  /** Apply a lead from a frame or an answer everywhere it is shown. */
  function upsert(lead) {
    const shown = inScope(lead) && matchesQuery(lead);
    if (shown) state.leads.set(lead.id, lead);
    else state.leads.delete(lead.id);
    if (lead.assignee_id === me && isOpen(lead.stage)) state.mine.set(lead.id, lead);
    else state.mine.delete(lead.id);
    if (state.detail?.lead.id === lead.id) {
      state.detail.lead = lead;
      renderDetail();
    }
    renderBoard();
    refreshCounts();
  }

  async function askReason() {
    const input = h('textarea', { id: 'lost-reason', testid: 'lost-reason', rows: 3, required: true, maxLength: 500 });
    const err = h('p', { class: 'alert', role: 'alert', hidden: true, t: 'leads.lost_reason_required' });
    let closeFn;
    const form = h('form', {
      class: 'form', on: {
        submit: (e) => {
          e.preventDefault();
          if (!input.value.trim()) { err.hidden = false; input.focus(); return; }
          closeFn(input.value.trim());
        },
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'lost-reason', t: 'leads.lost_reason' }), input),
    err,
    h('div', { class: 'toolbar' },
      h('button', { type: 'submit', class: 'btn btn-primary', testid: 'lost-submit', t: 'leads.mark_lost' }),
      h('button', { type: 'button', class: 'btn btn-secondary', t: 'common.cancel', on: { click: () => closeFn(undefined) } })));
    const d = dialog('leads.lost_title', form, { testid: 'lost-dialog' });
    closeFn = d.close;
    input.focus();
    return d.done;
  }

  async function move(lead, to) {
    const body = { stage: to };
    if (to === 'lost') {
      const reason = await askReason();
      if (!reason) return;
      body.lost_reason = reason;
    }
    try {
      upsert(await api.patch(`/leads/${encodeURIComponent(lead.id)}`, body));
      toast(t('leads.moved', { stage: t(`leads.stage.${to}`) }), { ms: 2500 });
      if (state.detailId === lead.id) loadDetail();
    } catch (err) {
      toast(errorText(err, 'leads.error'), { kind: 'error', testid: 'leads-error' });
    }
  }

  async function take(lead) {
    try {
      upsert(await api.post(`/leads/${encodeURIComponent(lead.id)}/assign`, { assignee_id: me }));
      if (state.detailId === lead.id) loadDetail();
    } catch (err) {
      toast(errorText(err, 'leads.error'), { kind: 'error', testid: 'leads-error' });
    }
  }

  async function assignTo(lead, uid) {
    try {
      upsert(await api.post(`/leads/${encodeURIComponent(lead.id)}/assign`, { assignee_id: uid || null }));
      loadDetail();
    } catch (err) {
      toast(errorText(err, 'leads.error'), { kind: 'error', testid: 'leads-error' });
    }
  }

  // ── detail ──
  async function loadDetail() {
    const id = state.detailId;
    if (!id) return;
    if (!state.detail || state.detail.lead.id !== id) replaceChildren(side, loading());
    try {
      const d = await api.get(`/leads/${encodeURIComponent(id)}`);
      if (destroyed || state.detailId !== id) return;
      state.detail = d;
      renderDetail();
    } catch (err) {
      if (destroyed || state.detailId !== id) return;
      replaceChildren(side, closeButton(), failure(err, loadDetail));
    }
  }

  function closeButton() {
    return h('button', {
      type: 'button', class: 'btn btn-ghost btn-icon lead-detail-close', testid: 'lead-detail-close',
      tAttr: { 'aria-label': 'common.close' }, text: '×', on: { click: () => ctx.navigate('/leads') },
    });
  }

  function auditText(a) {
    const d = a.data || a.details || {};
    switch (a.action || a.kind) {
      case 'lead.stage_changed':
        return t('leads.audit.stage', { from: t(`leads.stage.${d.from}`), to: t(`leads.stage.${d.to}`) })
          + (d.reason ? ` (${d.reason})` : '');
      case 'lead.assigned':
        return d.to ? t('leads.audit.assigned', { name: memberName(d.to) }) : t('leads.audit.unassigned');
      case 'lead.returned_to_queue':
        return t('leads.audit.returned');
      default:
        return a.action || a.kind || '';
    }
  }

  function renderDetail() {
    const d = state.detail;
    if (!d) return;
    const focusedId = side.contains(document.activeElement) ? document.activeElement.id : null;
    drawDetail(d);
    if (focusedId && !side.contains(document.activeElement)) side.querySelector(`#${CSS.escape(focusedId)}`)?.focus();
  }

  function drawDetail(d) {
    const lead = d.lead;
    const rec = d.phone_record || {};
    const bl = rec.blacklist || lead.blacklist;
    const tel = safeTel(lead.phone);
    const idx = STAGES.indexOf(lead.stage);
    const stageSelect = h('select', {
      id: 'lead-detail-stage', testid: 'lead-detail-move',
      on: { change: () => { const to = stageSelect.value; stageSelect.value = ''; if (to) move(lead, to); } },
    },
    h('option', { value: '', t: 'leads.move_to' }),
    STAGES.filter((s) => s !== lead.stage).map((s) => h('option', { value: s, t: `leads.stage.${s}` })));
    let assign = null;
    if (manager) {
      const sel = h('select', { id: 'lead-detail-assign', testid: 'lead-assign', on: { change: () => assignTo(lead, sel.value) } },
        h('option', { value: '', t: 'leads.unassigned' }),
        state.members.filter((m) => ['owner', 'admin', 'agent'].includes(m.role))
          .map((m) => h('option', { value: m.user.id, text: m.user.name || m.user.email, selected: m.user.id === lead.assignee_id })));
      assign = h('div', { class: 'field' }, h('label', { for: 'lead-detail-assign', t: 'leads.assignee' }), sel);
    } else {
      assign = h('p', {},
        h('span', { class: 'muted', text: `${t('leads.assignee')}: ` }),
        h('span', { text: lead.assignee_id ? memberName(lead.assignee_id) : t('leads.unassigned') }),
        !lead.assignee_id && isOpen(lead.stage)
          ? h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'lead-detail-take', t: 'leads.take', on: { click: () => take(lead) } })
          : null);
    }
    replaceChildren(side,
      h('header', { class: 'lead-detail-head' },
        h('h2', { id: 'lead-detail-title', testid: 'lead-detail-name', text: contactName(lead.contact), tabIndex: -1 }),
        closeButton()),
      bl ? h('p', { class: 'alert lead-blacklist', role: 'alert', testid: 'lead-detail-blacklist' },
        h('strong', { t: 'leads.bom_hang' }), ` ${bl.reason || ''}`) : null,
      h('div', { class: 'lead-detail-phone' },
        tel ? h('a', { class: 'phone', href: tel, testid: 'lead-detail-phone', text: lead.phone_display })
          : h('span', { class: 'phone', text: lead.phone_display }),
        h('span', { class: 'muted', testid: 'lead-detail-record', text: t('leads.phone_record', { delivered: rec.delivered ?? 0, returned: rec.returned ?? 0 }) })),
      h('dl', { class: 'lead-facts' },
        h('dt', { t: 'leads.stage' }), h('dd', { testid: 'lead-detail-stage', dataset: { stage: lead.stage }, text: t(`leads.stage.${lead.stage}`) + (lead.lost_reason ? ` — ${lead.lost_reason}` : '') }),
        h('dt', { t: 'leads.source' }), h('dd', { text: sourceText(lead) }),
        h('dt', { t: 'leads.created' }), h('dd', { text: fullDateTime(lead.created_at) }),
        lead.next_call_at ? [h('dt', { t: 'leads.next_call' }), h('dd', { testid: 'lead-detail-next', text: fullDateTime(lead.next_call_at) })] : null),
      lead.text ? h('blockquote', { class: 'lead-source-text', testid: 'lead-detail-text', text: lead.text }) : null,
      h('div', { class: 'toolbar' },
        lead.conversation_id ? h('a', { class: 'btn btn-secondary btn-sm', href: `/inbox/${encodeURIComponent(lead.conversation_id)}`, 'data-nav': '', testid: 'lead-detail-conversation', t: 'leads.open_conversation' }) : null,
        ctx.can('work_orders') && lead.stage !== 'lost'
          ? h('a', { class: 'btn btn-primary btn-sm', href: `/orders/new?lead=${encodeURIComponent(lead.id)}`, 'data-nav': '', testid: 'lead-create-order', t: 'leads.create_order' })
          : null),
      h('div', { class: 'form-grid' },
        h('div', { class: 'field' }, h('label', { for: 'lead-detail-stage', t: 'leads.move_to' }), stageSelect),
        assign),
      idx >= 0 ? keptCallForm(lead) : null,
      h('section', { class: 'lead-calls' },
        h('h3', { t: 'leads.calls' }),
        d.calls.length
          ? h('ol', { class: 'call-log', testid: 'call-log' }, d.calls.map((c) => h('li', { testid: 'call-item', dataset: { outcome: c.outcome } },
            h('div', { class: 'call-head' },
              h('strong', { text: t(`leads.outcome.${c.outcome}`) }),
              h('time', { dateTime: c.created_at, title: fullDateTime(c.created_at), text: listTime(c.created_at) }),
              c.user_id ? h('span', { class: 'muted', text: memberName(c.user_id) }) : null,
              c.duration_seconds != null ? h('span', { class: 'muted', text: durationText(c.duration_seconds) }) : null),
            c.note ? h('p', { class: 'call-note', text: c.note }) : null,
            c.next_call_at ? h('p', { class: 'muted', text: `${t('leads.next_call')}: ${fullDateTime(c.next_call_at)}` }) : null)))
          : h('p', { class: 'muted', testid: 'call-log-empty', t: 'leads.no_calls' })),
      h('section', { class: 'lead-audit' },
        h('h3', { t: 'leads.history' }),
        h('ol', { class: 'timeline', testid: 'lead-audit' }, (d.audit || []).map((a) => h('li', {},
          h('time', { dateTime: a.created_at, title: fullDateTime(a.created_at), text: listTime(a.created_at) }),
          h('span', { text: auditText(a) }))))));
  }

  function safeTel(phone) {
    return /^\+?\d{6,15}$/.test(phone || '') ? `tel:${phone}` : null;
  }

  // The call form survives re-renders of the detail (frames about the lead arrive while the
  // agent is typing); a new one is made per lead and after a call is saved.
  let callFormFor = null;
  let callFormEl = null;
  function keptCallForm(lead) {
    if (callFormFor !== lead.id || !callFormEl) {
      callFormFor = lead.id;
      callFormEl = callForm(lead);
    }
    return callFormEl;
  }

  function callForm(lead) {
    const outcome = h('select', { id: 'call-outcome', testid: 'call-outcome', required: true },
      OUTCOMES.map((o) => h('option', { value: o, t: `leads.outcome.${o}` })));
    const note = h('textarea', { id: 'call-note', testid: 'call-note', rows: 2, maxLength: 2000 });
    const duration = h('input', { id: 'call-duration', testid: 'call-duration', inputMode: 'numeric', tAttr: { placeholder: 'leads.duration_placeholder' }, 'aria-describedby': 'call-duration-hint' });
    const next = h('input', { id: 'call-next', testid: 'call-next', type: 'datetime-local' });
    const nextField = h('div', { class: 'field' }, h('label', { for: 'call-next', t: 'leads.next_call' }), next);
    const err = h('p', { class: 'alert', role: 'alert', testid: 'call-error', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'call-submit', t: 'leads.log_call' });
    const sync = () => { next.required = outcome.value === 'call_back'; nextField.classList.toggle('required', next.required); };
    outcome.addEventListener('change', sync);
    sync();
    const showErr = (text) => { err.textContent = text; err.hidden = false; };
    const form = h('form', {
      class: 'call-form panel', testid: 'call-form', noValidate: true,
      on: {
        submit: async (e) => {
          e.preventDefault();
          err.hidden = true;
          const secs = parseDuration(duration.value);
          if (Number.isNaN(secs)) { showErr(t('leads.duration_invalid')); duration.focus(); return; }
          const nextIso = localToIso(next.value);
          if (outcome.value === 'call_back' && !nextIso) { showErr(t('leads.next_call_required')); next.focus(); return; }
          submit.disabled = true;
          try {
            const res = await api.post(`/leads/${encodeURIComponent(lead.id)}/calls`, {
              outcome: outcome.value, note: note.value.trim() || null, duration_seconds: secs, next_call_at: nextIso,
            });
            toast(t('leads.call_logged'), { ms: 2500 });
            callFormEl = null;
            upsert(res.lead);
            await loadDetail();
          } catch (error) {
            showErr(errorText(error, 'leads.error'));
          } finally {
            submit.disabled = false;
          }
        },
      },
    },
    h('h3', { t: 'leads.call_form' }),
    h('div', { class: 'form-grid' },
      h('div', { class: 'field' }, h('label', { for: 'call-outcome', t: 'leads.outcome' }), outcome),
      h('div', { class: 'field' }, h('label', { for: 'call-duration', t: 'leads.duration' }), duration,
        h('p', { class: 'hint', id: 'call-duration-hint', t: 'leads.duration_hint' })),
      nextField),
    h('div', { class: 'field' }, h('label', { for: 'call-note', t: 'leads.note' }), note),
    err,
    h('div', { class: 'toolbar' }, submit));
    return form;
  }

  function openDetail(id) {
    const changed = state.detailId !== id;
    state.detailId = id;
    side.hidden = !id;
    container.querySelector('.leads-layout')?.classList.toggle('with-detail', !!id);
    if (!id) {
      const prev = state.detail?.lead.id;
      state.detail = null;
      replaceChildren(side);
      renderBoard();
      if (prev) board.querySelector(`.lead-card[data-id="${CSS.escape(prev)}"]`)?.focus();
      return;
    }
    if (changed) { state.detail = null; loadDetail().then(() => side.querySelector('#lead-detail-title')?.focus()); }
    renderBoard();
  }

  // ── init ──
  const tick = setInterval(() => { renderStrip(); }, 60000);
  renderTabs();
  renderAvailability();
  loadBoard();
  loadMine();
  loadMembers();

  return {
    route(params) { openDetail(params?.[0] || null); },
    handleEvent(type, data) {
      if ((type === 'lead.created' || type === 'lead.updated' || type === 'lead.assigned') && data?.lead) {
        upsert(data.lead);
        if (data.call && state.detailId === data.lead.id) loadDetail();
      } else if (type === 'lead.callback_due' && data?.lead) {
        state.highlight.add(data.lead.id);
        upsert(data.lead);
      } else if (type === 'member.updated' && data?.user_id === me) {
        state.available = !!data.available;
        renderAvailability();
      } else if (type === 'blacklist.updated') {
        loadBoard();
        if (state.detailId) loadDetail();
      } else if (type === 'resync') {
        loadBoard();
        loadMine();
        loadMembers();
        if (state.detailId) loadDetail();
      }
    },
    onLang() {
      renderTabs();
      renderAvailability();
      renderBoard();
      if (state.detail) renderDetail();
    },
    returnPath() { return state.detailId ? `/leads/${state.detailId}` : '/leads'; },
    destroy() {
      destroyed = true;
      clearInterval(tick);
      clearTimeout(countsTimer);
      clearTimeout(searchTimer);
    },
  };
}
