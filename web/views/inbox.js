// The inbox screen: the filterable conversation list, the open thread and the reply box.
import { h, replaceChildren, srOnly } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { errorText, safeUrl, dialog } from '../ui.js';
import { contactName, formatPhone, platformLabel, listTime, clock, fullDateTime, dayLabel, dayKey } from '../format.js';

//// Header, filterable conversation list, open thread, reply box. Rendering is
// keyed: list rows and message bubbles keep their DOM element for the lifetime
// of the item and only their contents are rebuilt, so focus and scroll survive
// live updates and screen readers only hear real additions.

const STATUSES = ['open', 'pending', 'resolved'];
const PAGE = 50;
const NARROW = window.matchMedia('(max-width: 767px)');
const WIDE = window.matchMedia('(min-width: 1100px)');
const SEARCH_DELAY = 300;
/** Filters other than status/unread/q, folded into the "Filters" disclosure on phones. */
const EXTRA_FILTERS = ['channel', 'assignee', 'label', 'has_phone', 'blacklisted'];
/** Keyboard shortcuts (key → i18n key of what it does), shown by "?". */
const SHORTCUTS = [
  ['j', 'inbox.kbd.next'], ['k', 'inbox.kbd.prev'], ['r', 'inbox.kbd.reply'], ['n', 'inbox.kbd.note'],
  ['a', 'inbox.kbd.assign_me'], ['e', 'inbox.kbd.resolve'], ['/', 'inbox.kbd.search'],
  ['c', 'inbox.kbd.contact'], ['?', 'inbox.kbd.help'], ['Esc', 'inbox.kbd.escape'],
];
const PRIVATE_REPLY_DAYS = 7;

/** Whether a key event comes from a place where typing goes (then shortcuts stay off). */
function typing(e) {
  const el = e.target;
  if (!(el instanceof Element)) return false;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName) || !!el.closest('dialog');
}

/** Whether a URL is an http(s) URL with a host. */
function httpUrl(s) {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && !!u.hostname;
  } catch {
    return false;
  }
}

const sortKey = (c) => Date.parse(c.last_message_at || c.created_at) || 0;
const msgKey = (m) => Date.parse(m.sent_at) || 0;


/** The post a comment thread hangs under: its text and a link to it (http(s) only). */
function postLink(post) {
  if (!post) return null;
  const url = safeUrl(post.permalink);
  const label = post.text ? t('thread.post_text', { text: post.text.slice(0, 80) }) : t('thread.post');
  return url
    ? h('a', { class: 'post-link', href: url, target: '_blank', rel: 'noopener noreferrer', testid: 'thread-post', text: label })
    : h('span', { class: 'post-link', testid: 'thread-post', text: label });
}

/** The message key saying why a reply window is closed. */
function closedKey(reply) {
  // Zalo's own reasons (48 h, free replies used and no paid quota) have their own words.
  if (reply.reason_code === 'expired_48h') return 'thread.window_expired_48h';
  if (reply.reason_code === 'quota_spent') return 'thread.window_quota_spent';
  // A window that existed has an end time; none means the customer never wrote.
  return reply.until ? 'thread.window_expired' : 'thread.window_never';
}

/** "Can reply until …", or why not. */
function replyWindow(reply) {
  if (!reply || reply.mode === 'open' || reply.mode === 'comment') return null;
  if (!reply.can_reply) {
    const key = closedKey(reply);
    return h('span', { class: 'reply-window closed', testid: 'reply-window', title: reply.reason ?? '', text: t(key) });
  }
  const until = reply.until ? fullDateTime(reply.until) : '';
  return h('span', { class: `reply-window ${reply.mode}`, testid: 'reply-window', text: t(`thread.window_${reply.mode}`, { until }) });
}


function platformBadge(conv) {
  const badges = [h('span', { class: 'badge badge-platform', dataset: { platform: conv.channel_account?.platform ?? '' }, text: platformLabel(conv.channel_account?.platform) })];
  if (conv.kind === 'comment_thread') badges.push(h('span', { class: 'badge badge-kind', text: t('kind.comment_thread') }));
  return badges;
}

class Inbox {
  /** ctx: see `mount` in app.js (session, navigate, toast, …). */
  constructor(container, ctx) {
    this.container = container;
    this.ctx = ctx;
    this.session = ctx.session;
    this.navigate = ctx.navigate;

    this.filterKey = `tongdai.inbox.filter.${this.session.workspace?.id ?? ''}`;
    this.filter = this.loadFilter();
    this.counts = null;
    this.members = []; // [{user: {id, name, email}, role}]
    this.labels = [];
    this.accounts = [];
    this.canned = null; // loaded on first "/"
    this.mode = 'reply'; // reply | note
    this.replyTo = null; // comment message being answered
    this.picker = null; // {kind: 'canned'|'mention', items, index, start}
    this.contactOpen = WIDE.matches ? localStorage.getItem('tongdai.inbox.contact') !== 'off' : false;
    this.convs = new Map(); // id → Conversation shown in the list
    this.order = []; // ids, newest first
    this.rows = new Map(); // id → <li>
    this.nextCursor = null;
    this.listState = 'loading';
    this.listToken = 0;

    this.openId = null;
    this.openConv = null;
    this.messages = []; // oldest → newest
    this.msgEls = new Map(); // id → <li>
    this.olderCursor = null;
    this.threadState = 'idle'; // idle | loading | ready | error | notfound
    this.threadToken = 0;
    this.drafts = new Map();
    this.sending = false;
    this.readTimer = null;
    this.readPending = false;

    this._onVisible = () => { if (!document.hidden && this.readPending) this.scheduleRead(0); };
    this._onNarrow = () => this.updateLayout();
    this._onKey = (e) => this.onKey(e);
  }

  loadFilter() {
    const base = { status: 'open', unread: false, q: '', channel: '', assignee: '', label: '', has_phone: false, blacklisted: false };
    try {
      const saved = JSON.parse(localStorage.getItem(this.filterKey) || 'null');
      if (saved && typeof saved === 'object') {
        for (const k of Object.keys(base)) if (typeof saved[k] === typeof base[k]) base[k] = saved[k];
      }
    } catch { /* a broken entry is ignored */ }
    if (!STATUSES.includes(base.status)) base.status = 'open';
    return base;
  }

  saveFilter() {
    try { localStorage.setItem(this.filterKey, JSON.stringify(this.filter)); } catch { /* private mode */ }
  }

  /** The query of GET /conversations for the current filters. */
  filterParams(extra = {}) {
    const f = this.filter;
    const params = { status: f.status, unread: f.unread, q: f.q.trim() || null, label: f.label || null, has_phone: f.has_phone, blacklisted: f.blacklisted, assignee: f.assignee || null };
    if (f.channel.startsWith('platform:')) params.channel = f.channel.slice(9);
    else if (f.channel.startsWith('account:')) params.channel_account_id = f.channel.slice(8);
    return { ...params, ...extra };
  }

  // ───────────────────────── mounting ─────────────────────────

  mount() {
    document.title = `${t('nav.inbox')} · ${this.session.workspace?.name ?? ''} · tongdai`;

    // List pane
    this.tabButtons = STATUSES.map((s) => h('button', {
      type: 'button', class: 'tab', testid: `filter-${s}`, 'aria-pressed': String(this.filter.status === s),
      on: { click: () => this.setFilter({ status: s }) },
    }, h('span', { class: 'tab-label', t: `inbox.filter.${s}` }), h('span', { class: 'tab-count', testid: `count-${s}` })));
    this.unreadButton = h('button', {
      type: 'button', class: 'toggle', testid: 'filter-unread', t: 'inbox.filter.unread', 'aria-pressed': String(this.filter.unread),
      on: { click: () => this.setFilter({ unread: !this.filter.unread }) },
    });
    this.searchInput = h('input', {
      type: 'search', id: 'inbox-search', class: 'inbox-search', testid: 'inbox-search', value: this.filter.q, autocomplete: 'off',
      tAttr: { placeholder: 'inbox.search_placeholder' },
      on: {
        input: () => {
          clearTimeout(this.searchTimer);
          this.searchTimer = setTimeout(() => this.setFilter({ q: this.searchInput.value }), SEARCH_DELAY);
        },
        keydown: (e) => {
          if (e.key === 'Escape' && this.searchInput.value) { e.preventDefault(); this.searchInput.value = ''; this.setFilter({ q: '' }); }
          if (e.key === 'Enter') { e.preventDefault(); clearTimeout(this.searchTimer); this.setFilter({ q: this.searchInput.value }); }
        },
      },
    });
    this.moreButton = h('button', {
      type: 'button', class: 'toggle more-filters-toggle', testid: 'filter-more', 'aria-expanded': 'false', 'aria-controls': 'inbox-more-filters',
      on: { click: () => this.toggleMore() },
    });
    this.channelSelect = h('select', { id: 'filter-channel', testid: 'filter-channel', on: { change: () => this.setFilter({ channel: this.channelSelect.value }) } });
    this.assigneeSelect = h('select', { id: 'filter-assignee', testid: 'filter-assignee', on: { change: () => this.setFilter({ assignee: this.assigneeSelect.value }) } });
    this.labelSelect = h('select', { id: 'filter-label', testid: 'filter-label', on: { change: () => this.setFilter({ label: this.labelSelect.value }) } });
    this.phoneCheck = h('input', { type: 'checkbox', id: 'filter-has-phone', testid: 'filter-has-phone', checked: this.filter.has_phone, on: { change: () => this.setFilter({ has_phone: this.phoneCheck.checked }) } });
    this.blacklistCheck = h('input', { type: 'checkbox', id: 'filter-blacklisted', testid: 'filter-blacklisted', checked: this.filter.blacklisted, on: { change: () => this.setFilter({ blacklisted: this.blacklistCheck.checked }) } });
    this.morePanel = h('div', { class: 'more-filters', id: 'inbox-more-filters', testid: 'filter-panel' },
      h('label', { class: 'mini-field' }, h('span', { t: 'inbox.filter.channel' }), this.channelSelect),
      h('label', { class: 'mini-field' }, h('span', { t: 'inbox.filter.assignee' }), this.assigneeSelect),
      h('label', { class: 'mini-field' }, h('span', { t: 'inbox.filter.label' }), this.labelSelect),
      h('label', { class: 'check' }, this.phoneCheck, h('span', { t: 'inbox.filter.has_phone' })),
      h('label', { class: 'check' }, this.blacklistCheck, h('span', { t: 'inbox.filter.blacklisted' })),
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'filter-clear', t: 'inbox.filter.clear', on: { click: () => this.clearFilters() } }));
    this.listEl = h('ul', { class: 'conv-list', testid: 'conversation-list', tAttr: { 'aria-label': 'inbox.list_label' } });
    this.listStatus = h('div', { class: 'list-status' });
    this.loadMoreBtn = h('button', { type: 'button', class: 'btn btn-secondary load-more', testid: 'load-more', t: 'inbox.load_more', hidden: true, on: { click: () => this.loadMore() } });
    this.listPane = h('aside', { class: 'list-pane' },
      h('div', { class: 'filters inbox-filters', role: 'group', tAttr: { 'aria-label': 'inbox.filters' } },
        h('div', { class: 'search-row' },
          h('label', { for: 'inbox-search', class: 'sr-only', t: 'inbox.search_label' }),
          this.searchInput,
          this.moreButton),
        h('div', { class: 'tabs' }, this.tabButtons),
        this.unreadButton,
        this.morePanel),
      h('div', { class: 'list-scroll' }, this.listEl, this.listStatus, this.loadMoreBtn));
    this.renderFilterOptions();

    // Thread pane
    this.threadPane = this.buildThread();

    // Contact pane: a third column on wide screens, a sheet over the thread on narrow ones.
    this.contactBody = h('div', { class: 'contact-pane-body' });
    this.contactPane = h('aside', { class: 'contact-pane', testid: 'contact-pane', id: 'inbox-contact-pane', tAttr: { 'aria-label': 'inbox.contact_pane' } },
      h('div', { class: 'contact-pane-head' },
        h('h2', { class: 'contact-pane-title', t: 'inbox.contact_pane' }),
        h('button', { type: 'button', class: 'btn btn-ghost btn-icon', testid: 'contact-close', tAttr: { 'aria-label': 'common.close', title: 'common.close' }, text: '×', on: { click: () => this.toggleContact(false) } })),
      this.contactBody);

    this.root = h('div', { class: 'inbox' }, h('div', { class: 'panes' }, this.listPane, this.threadPane, this.contactPane));
    replaceChildren(this.container, this.root);
    this.loadContactPanel();

    document.addEventListener('visibilitychange', this._onVisible);
    document.addEventListener('keydown', this._onKey);
    NARROW.addEventListener('change', this._onNarrow);
    WIDE.addEventListener('change', this._onNarrow);
    this.clockTimer = setInterval(() => this.refreshTimes(), 30000);

    this.updateLayout();
    this.reloadList();
    this.loadMeta();
  }

  /** Members, labels and channel accounts for the filters, the assign picker and mentions. */
  async loadMeta() {
    const [members, labels, accounts] = await Promise.allSettled([
      api.get('/members'), api.get('/labels'), api.get('/channel-accounts'),
    ]);
    if (members.status === 'fulfilled') this.members = members.value ?? [];
    if (labels.status === 'fulfilled') this.labels = labels.value ?? [];
    if (accounts.status === 'fulfilled') this.accounts = accounts.value ?? [];
    this.renderFilterOptions();
    this.renderHead();
    for (const m of this.messages) if (m.kind === 'note') this.renderMessage(m);
  }

  memberName(id) {
    const m = this.members.find((x) => x.user?.id === id);
    return m ? (m.user.name || m.user.email) : null;
  }

  renderFilterOptions() {
    const f = this.filter;
    const opt = (value, text, selected) => h('option', { value, text, selected: selected || undefined });
    const platforms = [...new Set(this.accounts.map((a) => a.platform))];
    replaceChildren(this.channelSelect,
      opt('', t('inbox.filter.any_channel'), !f.channel),
      platforms.map((p) => opt(`platform:${p}`, platformLabel(p), f.channel === `platform:${p}`)),
      this.accounts.map((a) => opt(`account:${a.id}`, `${platformLabel(a.platform)} · ${a.name}`, f.channel === `account:${a.id}`)));
    if (f.channel && ![...this.channelSelect.options].some((o) => o.value === f.channel)) {
      this.channelSelect.append(opt(f.channel, f.channel, true));
    }
    replaceChildren(this.assigneeSelect,
      opt('', t('inbox.filter.anyone'), !f.assignee),
      opt('me', t('inbox.filter.me'), f.assignee === 'me'),
      opt('none', t('inbox.filter.unassigned'), f.assignee === 'none'),
      this.members.filter((m) => m.user?.id !== this.session.user?.id)
        .map((m) => opt(m.user.id, m.user.name || m.user.email, f.assignee === m.user.id)));
    replaceChildren(this.labelSelect,
      opt('', t('inbox.filter.any_label'), !f.label),
      this.labels.map((l) => opt(l.name, l.name, f.label === l.name)),
      f.label && !this.labels.some((l) => l.name === f.label) ? opt(f.label, f.label, true) : null);
    this.phoneCheck.checked = f.has_phone;
    this.blacklistCheck.checked = f.blacklisted;
    const active = EXTRA_FILTERS.filter((k) => !!f[k]).length;
    this.moreButton.textContent = active ? t('inbox.filter.more_n', { n: active }) : t('inbox.filter.more');
  }

  toggleMore(open = this.moreButton.getAttribute('aria-expanded') !== 'true') {
    this.moreButton.setAttribute('aria-expanded', String(open));
    this.morePanel.classList.toggle('open', open);
  }

  clearFilters() {
    this.searchInput.value = '';
    this.setFilter({ q: '', channel: '', assignee: '', label: '', has_phone: false, blacklisted: false, unread: false });
  }

  renderCounts() {
    STATUSES.forEach((s, i) => {
      const n = this.counts?.[s];
      const el = this.tabButtons[i].querySelector('.tab-count');
      el.textContent = typeof n === 'number' ? (n > 999 ? '999+' : String(n)) : '';
    });
  }

  /** Refresh the tab counts a little after live changes (one request for a burst). */
  scheduleCounts() {
    if (this.countsTimer) return;
    this.countsTimer = setTimeout(async () => {
      this.countsTimer = null;
      const token = this.listToken;
      try {
        const page = await api.get('/conversations', this.filterParams({ limit: 1 }));
        if (token !== this.listToken) return;
        this.counts = page.counts ?? null;
        this.renderCounts();
      } catch { /* the next change tries again */ }
    }, 1500);
  }

  destroy() {
    document.removeEventListener('visibilitychange', this._onVisible);
    document.removeEventListener('keydown', this._onKey);
    NARROW.removeEventListener('change', this._onNarrow);
    WIDE.removeEventListener('change', this._onNarrow);
    clearTimeout(this.searchTimer);
    clearTimeout(this.countsTimer);
    clearTimeout(this.reloadTimer);
    try { this.contactPanel?.destroy(); } catch { /* the panel's own problem */ }
    clearInterval(this.clockTimer);
    clearTimeout(this.readTimer);
    this.listToken++;
    this.threadToken++;
  }

  buildThread() {
    this.backBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-icon back', testid: 'thread-back', tAttr: { 'aria-label': 'thread.back', title: 'thread.back' }, on: { click: () => this.navigate('/inbox') } },
      h('span', { 'aria-hidden': 'true', text: '←' }));
    this.titleEl = h('h2', { class: 'thread-title', tabIndex: -1, testid: 'thread-title' });
    this.subEl = h('p', { class: 'thread-sub' });
    this.statusBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'status-action', on: { click: () => this.toggleStatus() } });
    this.pendingBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'status-pending', t: 'thread.pending', on: { click: () => this.setStatus('pending') } });
    this.assignSelect = h('select', { id: 'thread-assign', class: 'assign-select', testid: 'thread-assign', on: { change: () => this.assign(this.assignSelect.value) } });
    this.contactBtn = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm contact-toggle', testid: 'contact-toggle', t: 'thread.contact',
      'aria-controls': 'inbox-contact-pane', 'aria-expanded': 'false', on: { click: () => this.toggleContact() },
    });
    this.threadError = h('p', { class: 'alert', role: 'alert', testid: 'thread-error', hidden: true });

    this.olderBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-sm load-older', testid: 'load-older', t: 'thread.load_older', hidden: true, on: { click: () => this.loadOlder() } });
    this.msgList = h('ol', { class: 'messages', testid: 'message-list', 'aria-live': 'polite', 'aria-relevant': 'additions', tAttr: { 'aria-label': 'thread.messages_label' } });
    this.threadStatus = h('div', { class: 'thread-status' });
    this.scroller = h('div', { class: 'msg-scroll', tabIndex: -1 }, this.olderBtn, this.msgList, this.threadStatus);

    this.input = h('textarea', {
      id: 'reply-input', class: 'reply-input', testid: 'reply-input', rows: 1, tAttr: { placeholder: 'reply.placeholder' },
      'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'reply-picker',
      on: {
        input: () => this.onInput(),
        keydown: (e) => this.onInputKey(e),
        blur: () => setTimeout(() => { if (document.activeElement !== this.input) this.closePicker(); }, 150),
      },
    });
    this.sendBtn = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'reply-send', t: 'reply.send', disabled: true });
    this.replyError = h('p', { class: 'alert', role: 'alert', testid: 'reply-error', hidden: true });
    this.modeReply = h('button', { type: 'button', class: 'mode', testid: 'reply-mode-reply', t: 'reply.mode_reply', 'aria-pressed': 'true', on: { click: () => this.setMode('reply', true) } });
    this.modeNote = h('button', { type: 'button', class: 'mode mode-note', testid: 'reply-mode-note', t: 'reply.mode_note', 'aria-pressed': 'false', on: { click: () => this.setMode('note', true) } });
    this.imageBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'reply-image', t: 'reply.image', 'aria-expanded': 'false', 'aria-controls': 'reply-image-row', on: { click: () => this.toggleImage() } });
    this.imageInput = h('input', {
      type: 'url', id: 'reply-image-url', class: 'image-url', testid: 'reply-image-url', inputMode: 'url', autocomplete: 'off', tAttr: { placeholder: 'reply.image_placeholder' },
      on: { input: () => this.onInput(), keydown: (e) => { if (e.key === 'Escape') { e.preventDefault(); this.toggleImage(false); this.input.focus(); } } },
    });
    this.imageRow = h('div', { class: 'image-row', id: 'reply-image-row', hidden: true },
      h('label', { for: 'reply-image-url', t: 'reply.image_label' }), this.imageInput,
      h('button', { type: 'button', class: 'btn btn-ghost btn-icon', tAttr: { 'aria-label': 'reply.image_remove', title: 'reply.image_remove' }, text: '×', on: { click: () => { this.toggleImage(false); this.input.focus(); } } }));
    this.replyToEl = h('div', { class: 'reply-to', testid: 'reply-to', hidden: true });
    this.windowEl = h('p', { class: 'reply-state', testid: 'reply-state' });
    this.pickerEl = h('ul', { class: 'picker', id: 'reply-picker', role: 'listbox', testid: 'reply-picker', hidden: true, tAttr: { 'aria-label': 'reply.picker' } });
    this.replyForm = h('form', { class: 'reply', on: { submit: (e) => { e.preventDefault(); this.send(); } } },
      h('div', { class: 'reply-tools' },
        h('div', { class: 'modes', role: 'group', tAttr: { 'aria-label': 'reply.mode' } }, this.modeReply, this.modeNote),
        this.imageBtn),
      this.replyToEl,
      this.imageRow,
      h('label', { for: 'reply-input', class: 'sr-only', t: 'reply.label' }),
      h('div', { class: 'reply-row' }, this.pickerEl, this.input, this.sendBtn),
      this.windowEl,
      h('p', { class: 'hint', t: 'reply.hint' }),
      this.replyError);

    this.threadBody = h('div', { class: 'thread-body' },
      h('header', { class: 'thread-head' },
        this.backBtn,
        h('div', { class: 'who' }, this.titleEl, this.subEl),
        h('div', { class: 'thread-actions' },
          h('label', { for: 'thread-assign', class: 'sr-only', t: 'thread.assign' }),
          this.assignSelect,
          this.pendingBtn,
          this.statusBtn,
          this.contactBtn)),
      this.threadError,
      this.scroller,
      this.replyForm);
    this.placeholder = h('div', { class: 'thread-placeholder' }, h('p', { t: 'inbox.pick' }));

    return h('section', { class: 'thread-pane', testid: 'thread' }, this.placeholder, this.threadBody);
  }

  /** Narrow screens show either the list or the thread. */
  updateLayout() {
    this.root.classList.toggle('has-open', this.openId !== null);
    this.root.classList.toggle('contact-open', this.contactOpen);
    this.contactPane.hidden = !this.contactOpen;
    this.contactBtn.setAttribute('aria-expanded', String(this.contactOpen));
    this.threadBody.hidden = this.openId === null;
    this.placeholder.hidden = this.openId !== null;
    this.threadPane.dataset.conversationId = this.openId ?? '';
  }

  /** Re-render the dynamic parts after a language change (static parts are re-translated by translateTree). */
  onLang() {
    this.renderFilterOptions();
    this.setMode(this.mode);
    if (this.replyTo) this.setReplyTo(this.replyTo);
    try { this.contactPanel?.onLang(); } catch (err) { console.warn('contact panel', err); }
    for (const id of this.order) this.renderRow(id);
    this.renderListStatus();
    this.renderHead();
    for (const m of this.messages) this.renderMessage(m);
    this.refreshDays();
    this.renderThreadStatus();
  }

  refreshTimes() {
    for (const el of this.listEl.querySelectorAll('time[data-rel]')) el.textContent = listTime(el.dateTime);
    this.refreshDays();
  }

  // ───────────────────────── list ─────────────────────────

  setFilter(change) {
    const before = JSON.stringify(this.filter);
    Object.assign(this.filter, change);
    this.tabButtons.forEach((b, i) => b.setAttribute('aria-pressed', String(STATUSES[i] === this.filter.status)));
    this.unreadButton.setAttribute('aria-pressed', String(this.filter.unread));
    this.renderFilterOptions();
    if (JSON.stringify(this.filter) === before && this.listState !== 'error') return;
    this.saveFilter();
    this.reloadList();
  }

  /**
   * Whether a conversation belongs in the list under the current filters, as far as the
   * browser can tell (the open one stays under "unread"). `null`: cannot tell here (search
   * text, blacklist) — the server decides.
   */
  matches(conv) {
    const f = this.filter;
    const me = this.session.user?.id;
    if (conv.status !== f.status) return false;
    if (f.unread && !(conv.unread_count > 0 || conv.id === this.openId)) return false;
    if (f.channel.startsWith('platform:') && conv.channel_account?.platform !== f.channel.slice(9)) return false;
    if (f.channel.startsWith('account:') && conv.channel_account?.id !== f.channel.slice(8)) return false;
    if (f.assignee === 'me' && conv.assignee_id !== me) return false;
    if (f.assignee === 'none' && conv.assignee_id) return false;
    if (f.assignee && !['me', 'none', 'any'].includes(f.assignee) && conv.assignee_id !== f.assignee) return false;
    if (f.label && !(conv.labels ?? []).includes(f.label)) return false;
    if (f.has_phone && !conv.contact?.phone) return false;
    if (f.q.trim() || f.blacklisted) return null;
    return true;
  }

  /** A filtered list the browser cannot decide for: ask the server again, once per burst. */
  scheduleReload() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.reloadList({ quiet: true }), 1500);
  }

  async reloadList({ quiet = false } = {}) {
    const token = ++this.listToken;
    if (!quiet) {
      this.listState = 'loading';
      this.renderListStatus();
    }
    try {
      const page = await api.get('/conversations', this.filterParams({ limit: PAGE }));
      if (token !== this.listToken) return;
      this.convs.clear();
      this.order = [];
      this.counts = page.counts ?? null;
      this.renderCounts();
      this.addPage(page);
    } catch (err) {
      if (token !== this.listToken) return;
      this.listState = 'error';
      this.listError = err;
      this.convs.clear();
      this.order = [];
      this.syncList();
    }
  }

  async loadMore() {
    if (!this.nextCursor || this.listState === 'loading-more') return;
    const token = this.listToken;
    this.listState = 'loading-more';
    this.loadMoreBtn.disabled = true;
    try {
      const page = await api.get('/conversations', this.filterParams({ limit: PAGE, cursor: this.nextCursor }));
      if (token !== this.listToken) return;
      this.addPage(page);
    } catch (err) {
      if (token !== this.listToken) return;
      this.listState = 'ready';
      this.syncList();
    } finally {
      this.loadMoreBtn.disabled = false;
    }
  }

  addPage(page) {
    for (const c of page.items ?? []) {
      if (!this.convs.has(c.id)) this.order.push(c.id);
      this.convs.set(c.id, c);
      if (c.id === this.openId) this.setOpenConv(c);
    }
    this.nextCursor = page.next_cursor ?? null;
    this.listState = 'ready';
    this.syncList();
  }

  /**
   * Apply a Conversation from the server (event or API response) to the list
   * and the thread header. New conversations are only inserted from live
   * events, and only where they belong in the already loaded range.
   */
  upsertConv(conv, { insert = false } = {}) {
    if (!conv?.id) return;
    if (conv.id === this.openId) this.setOpenConv(conv);
    const present = this.convs.has(conv.id);
    const verdict = this.matches(conv);
    if (insert) this.scheduleCounts();
    if (verdict === null && !present) {
      // Search or blacklist filter: only the server knows whether a new one belongs.
      if (insert) this.scheduleReload();
      return;
    }
    if (verdict !== false) {
      if (!present) {
        if (!insert || (this.listState !== 'ready' && this.listState !== 'loading-more')) return;
        const last = this.convs.get(this.order[this.order.length - 1]);
        if (this.nextCursor && last && sortKey(conv) < sortKey(last)) return; // belongs to an unloaded page
        this.order.push(conv.id);
      }
      this.convs.set(conv.id, conv);
      this.renderRow(conv.id);
    } else if (present) {
      this.convs.delete(conv.id);
      this.order = this.order.filter((id) => id !== conv.id);
    }
    this.syncList();
  }

  /** Sort, then make the DOM rows match this.order with as few moves as possible. */
  syncList() {
    this.order.sort((a, b) => sortKey(this.convs.get(b)) - sortKey(this.convs.get(a)));
    for (const [id, li] of this.rows) {
      if (!this.convs.has(id)) { li.remove(); this.rows.delete(id); }
    }
    this.order.forEach((id, i) => {
      let li = this.rows.get(id);
      if (!li) { li = this.renderRow(id); }
      const at = this.listEl.children[i];
      if (at !== li) this.listEl.insertBefore(li, at ?? null);
    });
    this.renderListStatus();
  }

  renderListStatus() {
    const s = this.listStatus;
    this.loadMoreBtn.hidden = !(this.nextCursor && (this.listState === 'ready' || this.listState === 'loading-more'));
    if (this.listState === 'loading') {
      replaceChildren(s, h('p', { class: 'muted', text: t('common.loading') }));
    } else if (this.listState === 'error') {
      replaceChildren(s,
        h('p', { class: 'alert', role: 'alert', text: errorText(this.listError, null) || t('inbox.load_error') }),
        h('button', { type: 'button', class: 'btn btn-secondary btn-sm', text: t('common.retry'), on: { click: () => this.reloadList() } }));
    } else if (this.order.length === 0) {
      const filtered = this.filter.q.trim() || EXTRA_FILTERS.some((k) => !!this.filter[k]);
      replaceChildren(s, h('p', { class: 'empty', testid: 'list-empty', text: t(filtered ? 'inbox.empty_filtered' : this.filter.unread ? 'inbox.empty_unread' : 'inbox.empty') }));
    } else {
      s.replaceChildren();
    }
  }

  /** Build or refresh the row of a conversation; the <li>/<a> elements are kept. */
  renderRow(id) {
    const conv = this.convs.get(id);
    let li = this.rows.get(id);
    if (!li) {
      const a = h('a', {
        class: 'conv-row', href: `/inbox/${encodeURIComponent(id)}`, testid: 'conversation-item', dataset: { id },
        on: {
          click: (e) => {
            if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return; // let new-tab clicks through
            e.preventDefault();
            this.navigate(`/inbox/${encodeURIComponent(id)}`);
          },
        },
      });
      li = h('li', {}, a);
      this.rows.set(id, li);
    }
    if (!conv) return li;
    const a = li.firstChild;
    const unread = conv.unread_count > 0;
    a.classList.toggle('unread', unread);
    if (id === this.openId) a.setAttribute('aria-current', 'true');
    else a.removeAttribute('aria-current');
    const when = conv.last_message_at || conv.created_at;
    replaceChildren(a,
      h('div', { class: 'row-top' },
        h('span', { class: 'row-name', text: contactName(conv.contact) }),
        h('time', { class: 'row-time', dateTime: when ?? '', title: fullDateTime(when), dataset: { rel: '' }, text: listTime(when) })),
      h('div', { class: 'row-bottom' },
        platformBadge(conv),
        h('span', { class: 'row-preview', text: conv.last_message_preview || t('inbox.no_preview') }),
        unread ? h('span', { class: 'unread-badge', testid: 'unread-badge', 'aria-label': t('inbox.unread_count', { n: conv.unread_count }), text: conv.unread_count > 99 ? '99+' : String(conv.unread_count) }) : null));
    return li;
  }

  markCurrentRow() {
    for (const [id, li] of this.rows) {
      if (id === this.openId) li.firstChild.setAttribute('aria-current', 'true');
      else li.firstChild.removeAttribute('aria-current');
    }
  }

  // ───────────────────────── thread ─────────────────────────

  /** Route entry: open conversation `id`, or none. */
  async open(id) {
    id = id || null;
    if (id === this.openId && this.threadState !== 'error' && this.threadState !== 'notfound') return;
    if (this.openId) this.drafts.set(this.openId, this.input.value);

    const prevId = this.openId;
    this.openId = id;
    const token = ++this.threadToken;
    clearTimeout(this.readTimer);
    this.readPending = false;
    this.updateLayout();
    this.markCurrentRow();

    // Leaving a conversation under the "unread" filter: drop it if it no longer matches.
    if (prevId && this.convs.has(prevId)) this.upsertConv(this.convs.get(prevId));

    if (!id) {
      this.openConv = null;
      // Back on the list (narrow screens): return focus to the row we came from.
      if (prevId && NARROW.matches) this.rows.get(prevId)?.firstChild.focus();
      return;
    }

    this.openConv = this.convs.get(id) ?? null;
    this.messages = [];
    this.msgEls.clear();
    this.msgList.replaceChildren();
    this.olderCursor = null;
    this.threadState = 'loading';
    this.pending = [];
    this.threadError.hidden = true;
    this.replyError.hidden = true;
    this.input.value = this.drafts.get(id) ?? '';
    this.mentionIds = null;
    this.closePicker();
    this.setReplyTo(null);
    if (!this.imageRow.hidden) this.toggleImage(false);
    this.onInput();
    this.renderHead();
    this.renderThreadStatus();
    if (NARROW.matches) this.titleEl.focus();

    const [convRes, pageRes] = await Promise.allSettled([api.conversation(id), api.messages(id, null, PAGE)]);
    if (token !== this.threadToken) return;
    if (convRes.status === 'rejected' && convRes.reason?.status === 404) {
      this.threadState = 'notfound';
      this.openConv = null;
      this.renderHead();
      this.renderThreadStatus();
      return;
    }
    if (convRes.status === 'fulfilled') this.upsertConv(convRes.value, { insert: true });
    if (pageRes.status === 'rejected') {
      this.threadState = 'error';
      this.threadLoadError = pageRes.reason;
      this.renderThreadStatus();
      return;
    }
    this.threadState = 'ready';
    this.setMessages(pageRes.value);
    this.flushPending();
    this.scrollToBottom();
    this.scheduleRead(0);
  }

  /** Apply message events that arrived while the thread was loading (upsert dedupes them). */
  flushPending() {
    const pending = this.pending ?? [];
    this.pending = [];
    for (const [type, data] of pending) this.handleEvent(type, data);
  }

  /** Refetch the open conversation and its latest messages (after "resync"). */
  async reloadThread() {
    const id = this.openId;
    if (!id) return;
    const token = ++this.threadToken;
    const before = this.threadState;
    this.threadState = 'loading'; // buffer message events until the fresh page is in
    this.pending = [];
    try {
      const [conv, page] = await Promise.all([api.conversation(id), api.messages(id, null, PAGE)]);
      if (token !== this.threadToken) return;
      this.upsertConv(conv, { insert: true });
      this.messages = [];
      this.msgEls.clear();
      this.msgList.replaceChildren();
      this.threadState = 'ready';
      this.setMessages(page);
      this.flushPending();
      this.scrollToBottom();
    } catch {
      // Keep what we have; the next resync will try again.
      if (token === this.threadToken) {
        this.threadState = before;
        this.flushPending();
      }
    }
  }

  setOpenConv(conv) {
    this.openConv = conv;
    this.renderHead();
  }

  renderHead() {
    const conv = this.openConv;
    if (!conv) {
      this.titleEl.textContent = this.threadState === 'notfound' ? t('thread.not_found') : t('common.loading');
      this.subEl.replaceChildren();
      this.statusBtn.hidden = true;
      this.pendingBtn.hidden = true;
      this.assignSelect.hidden = true;
      this.replyForm.hidden = this.threadState === 'notfound';
      this.contactPanelShow(null);
      return;
    }
    this.replyForm.hidden = false;
    this.titleEl.textContent = contactName(conv.contact);
    const phone = formatPhone(conv.contact?.phone);
    replaceChildren(this.subEl,
      phone ? h('a', { class: 'phone', href: `tel:${conv.contact.phone}`, testid: 'thread-phone', text: phone }) : null,
      platformBadge(conv),
      conv.channel_account?.name ? h('span', { class: 'via', text: t('thread.via', { name: conv.channel_account.name }) }) : null,
      h('span', { class: `badge badge-status status-${conv.status}`, text: t(`status.${conv.status}`) }),
      (conv.labels ?? []).map((l) => h('span', { class: 'badge badge-label', text: l })),
      conv.kind === 'comment_thread' ? postLink(conv.post) : null,
      replyWindow(conv.reply));
    const resolved = conv.status === 'resolved';
    this.statusBtn.hidden = false;
    this.statusBtn.dataset.action = resolved ? 'reopen' : 'resolve';
    this.statusBtn.textContent = t(resolved ? 'thread.reopen' : 'thread.resolve');
    this.pendingBtn.hidden = conv.status !== 'open' || !this.ctx.can('work_inbox');
    this.statusBtn.disabled = !this.ctx.can('work_inbox');
    this.renderAssign();
    this.renderReplyState();
    this.contactPanelShow(conv);
  }

  renderAssign() {
    const conv = this.openConv;
    const sel = this.assignSelect;
    sel.hidden = !conv;
    if (!conv) return;
    const me = this.session.user?.id;
    const opt = (value, text) => h('option', { value, text, selected: (conv.assignee_id ?? '') === value || undefined });
    const others = this.members.filter((m) => m.user?.id && m.user.id !== me);
    replaceChildren(sel,
      opt('', t('thread.assign_nobody')),
      me ? opt(me, t('thread.assign_me')) : null,
      others.map((m) => opt(m.user.id, m.user.name || m.user.email)),
      conv.assignee_id && conv.assignee_id !== me && !others.some((m) => m.user.id === conv.assignee_id)
        ? opt(conv.assignee_id, t('thread.assign_other')) : null);
    sel.disabled = !this.ctx.can('work_inbox');
    sel.title = t('thread.assign');
  }

  /** The reply window under the reply box, and whether "Send" can work. */
  renderReplyState() {
    const conv = this.openConv;
    const r = conv?.reply;
    const comment = conv?.kind === 'comment_thread';
    this.imageBtn.hidden = comment || this.mode === 'note';
    if ((comment || this.mode === 'note') && !this.imageRow.hidden) this.toggleImage(false);
    let text = '';
    let cls = 'reply-state';
    if (this.mode === 'note') {
      text = t('reply.note_hint');
      cls += ' note';
    } else if (r && !r.can_reply) {
      text = t('reply.closed', { reason: t(closedKey(r)) });
      cls += ' closed';
    }
    // An open window is shown in the thread header (reply-window); here only what blocks sending.
    this.windowEl.className = cls;
    this.windowEl.textContent = text;
    this.windowEl.hidden = !text;
    this.onInput();
  }

  /** Whether a reply (not a note) is allowed now. */
  canReply() {
    const r = this.openConv?.reply;
    return !r || r.can_reply !== false;
  }

  async setStatus(status, { next = false } = {}) {
    const conv = this.openConv;
    if (!conv) return;
    const nextId = next ? this.neighbour(1) : null;
    this.threadError.hidden = true;
    try {
      this.upsertConv(await api.updateConversation(conv.id, { status }));
      if (next && nextId && nextId !== conv.id) this.navigate(`/inbox/${encodeURIComponent(nextId)}`);
    } catch (err) {
      this.showThreadError(err);
    }
  }

  async assign(userId) {
    const conv = this.openConv;
    if (!conv) return;
    this.threadError.hidden = true;
    try {
      this.upsertConv(await api.updateConversation(conv.id, { assignee_id: userId || null }));
    } catch (err) {
      this.showThreadError(err);
      this.renderAssign();
    }
  }

  showThreadError(err, key = 'thread.action_error') {
    this.threadError.textContent = `${t(key)} ${errorText(err, null)}`;
    this.threadError.hidden = false;
  }

  // ───────────────────────── contact panel ─────────────────────────

  /** The contact panel comes from contact.js (another screen's module); the inbox works without it. */
  async loadContactPanel() {
    try {
      const mod = await import('./contact.js');
      if (typeof mod.ContactPanel !== 'function' || !this.contactBody.isConnected) {
        replaceChildren(this.contactBody, h('p', { class: 'muted', t: 'inbox.contact_unavailable' }));
        return;
      }
      this.contactPanel = new mod.ContactPanel(this.contactBody, this.ctx);
      this.contactPanel.show(this.openConv ?? null);
    } catch (err) {
      replaceChildren(this.contactBody, h('p', { class: 'muted', t: 'inbox.contact_unavailable' }));
      console.warn('contact panel', err);
    }
  }

  contactPanelShow(conv) {
    try { this.contactPanel?.show(conv ?? null); } catch (err) { console.warn('contact panel', err); }
  }

  toggleContact(open = !this.contactOpen) {
    this.contactOpen = open;
    if (WIDE.matches) {
      try { localStorage.setItem('tongdai.inbox.contact', open ? 'on' : 'off'); } catch { /* private mode */ }
    }
    this.updateLayout();
    if (open && !WIDE.matches) this.contactPane.querySelector('[data-testid="contact-close"]')?.focus();
    else if (!open) this.contactBtn.focus();
  }

  // ───────────────────────── keyboard ─────────────────────────

  /** The id `step` places after (1) or before (-1) the open conversation in the list. */
  neighbour(step) {
    if (this.order.length === 0) return null;
    const at = this.order.indexOf(this.openId);
    if (at < 0) return this.order[step > 0 ? 0 : this.order.length - 1];
    const i = at + step;
    return i >= 0 && i < this.order.length ? this.order[i] : null;
  }

  onKey(e) {
    // Esc closes the contact sheet on narrow screens (from anywhere inside it).
    if (e.key === 'Escape' && this.contactOpen && !WIDE.matches && !document.querySelector('dialog[open]') &&
        (this.contactPane.contains(e.target) || !typing(e))) {
      e.preventDefault();
      this.toggleContact(false);
      return;
    }
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
    if (document.querySelector('dialog[open]')) return;
    const open = !!this.openConv;
    switch (e.key) {
      case 'j':
      case 'k': {
        const id = this.neighbour(e.key === 'j' ? 1 : -1);
        if (id) {
          e.preventDefault();
          this.navigate(`/inbox/${encodeURIComponent(id)}`);
          this.rows.get(id)?.firstChild.scrollIntoView({ block: 'nearest' });
        }
        break;
      }
      case 'r':
        if (open) { e.preventDefault(); this.setMode('reply', true); }
        break;
      case 'n':
        if (open && this.ctx.can('work_inbox')) { e.preventDefault(); this.setMode('note', true); }
        break;
      case 'a':
        if (open && this.ctx.can('work_inbox')) { e.preventDefault(); this.assign(this.session.user?.id); }
        break;
      case 'e':
        if (open && this.ctx.can('work_inbox') && this.openConv.status !== 'resolved') { e.preventDefault(); this.setStatus('resolved', { next: true }); }
        break;
      case '/':
        e.preventDefault();
        if (NARROW.matches && this.openId) this.navigate('/inbox');
        this.searchInput.focus();
        this.searchInput.select();
        break;
      case 'c':
        if (open) { e.preventDefault(); this.toggleContact(); }
        break;
      case '?':
        e.preventDefault();
        this.showShortcuts();
        break;
      default:
        break;
    }
  }

  showShortcuts() {
    const rows = SHORTCUTS.map(([key, what]) => h('tr', {},
      h('th', { scope: 'row' }, h('kbd', { text: key })),
      h('td', { t: what })));
    dialog('inbox.kbd.title', h('table', { class: 'table shortcuts' }, h('tbody', {}, rows)), { testid: 'shortcuts-dialog' });
  }

  // ───────────────────────── reply box: modes, pickers, image ─────────────────────────

  setMode(mode, focus = false) {
    if (mode === 'note' && !this.ctx.can('work_inbox')) return;
    this.mode = mode;
    this.modeReply.setAttribute('aria-pressed', String(mode === 'reply'));
    this.modeNote.setAttribute('aria-pressed', String(mode === 'note'));
    this.replyForm.classList.toggle('note-mode', mode === 'note');
    this.input.setAttribute('placeholder', t(mode === 'note' ? 'reply.note_placeholder' : 'reply.placeholder'));
    this.sendBtn.textContent = t(mode === 'note' ? 'reply.save_note' : 'reply.send');
    if (mode === 'note') this.setReplyTo(null);
    this.closePicker();
    this.renderReplyState();
    if (focus) this.input.focus();
  }

  toggleImage(open = this.imageRow.hidden) {
    this.imageRow.hidden = !open;
    this.imageBtn.setAttribute('aria-expanded', String(open));
    if (!open) this.imageInput.value = '';
    else this.imageInput.focus();
    this.onInput();
  }

  setReplyTo(msg) {
    this.replyTo = msg;
    if (!msg) {
      this.replyToEl.hidden = true;
      this.replyToEl.replaceChildren();
      return;
    }
    if (this.mode !== 'reply') this.setMode('reply');
    replaceChildren(this.replyToEl,
      h('span', { text: t('reply.replying_to', { name: msg.author_name || t('contact.unknown'), text: (msg.text ?? '').slice(0, 60) }) }),
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'reply-to-cancel', t: 'common.cancel', on: { click: () => { this.setReplyTo(null); this.input.focus(); } } }));
    this.replyToEl.hidden = false;
    this.input.focus();
  }

  /** The picker's trigger before the caret: "/word" at the start (canned), "@word" in a note (mention). */
  pickerQuery() {
    const v = this.input.value;
    const caret = this.input.selectionStart ?? v.length;
    const before = v.slice(0, caret);
    if (this.mode === 'reply' && /^\/[^\s]*$/.test(before)) return { kind: 'canned', start: 0, q: before.slice(1) };
    if (this.mode === 'note') {
      const m = /(^|\s)@([^\s@]{0,30})$/.exec(before);
      if (m) return { kind: 'mention', start: caret - m[2].length - 1, q: m[2] };
    }
    return null;
  }

  async updatePicker() {
    const trig = this.pickerQuery();
    if (!trig) { if (this.picker) this.closePicker(); return; }
    const q = trig.q.toLowerCase();
    let items;
    if (trig.kind === 'canned') {
      if (!this.canned) {
        this.canned = [];
        try { this.canned = (await api.get('/canned-responses')) ?? []; } catch { this.canned = null; return; }
        if (!this.pickerQuery()) return;
      }
      items = this.canned
        .filter((c) => !q || c.shortcut.toLowerCase().includes(q) || c.content.toLowerCase().includes(q))
        .sort((a, b) => (a.category ?? '').localeCompare(b.category ?? '') || a.shortcut.localeCompare(b.shortcut))
        .slice(0, 30)
        .map((c) => ({ id: c.id, group: c.category || t('reply.no_category'), title: `/${c.shortcut}`, detail: c.content, insert: c.content }));
    } else {
      items = this.members
        .filter((m) => m.user?.id && m.user.id !== this.session.user?.id)
        .filter((m) => !q || (m.user.name ?? '').toLowerCase().includes(q) || (m.user.email ?? '').toLowerCase().includes(q))
        .slice(0, 10)
        .map((m) => ({ id: m.user.id, group: null, title: m.user.name || m.user.email, detail: m.user.email, insert: `@${m.user.name || m.user.email.split('@')[0]} ` }));
    }
    const keep = this.picker?.kind === trig.kind ? this.picker.index : 0;
    this.picker = { ...trig, items, index: Math.min(keep, Math.max(items.length - 1, 0)) };
    this.renderPicker();
  }

  renderPicker() {
    const p = this.picker;
    if (!p) return;
    const rows = [];
    let group;
    p.items.forEach((it, i) => {
      if (it.group && it.group !== group) {
        group = it.group;
        rows.push(h('li', { class: 'picker-group', role: 'presentation', text: group }));
      }
      rows.push(h('li', {
        id: `reply-picker-${i}`, class: 'picker-item', role: 'option', testid: 'picker-item', 'aria-selected': String(i === p.index),
        on: { mousedown: (e) => { e.preventDefault(); this.choose(i); } },
      }, h('span', { class: 'picker-title', text: it.title }), h('span', { class: 'picker-detail', text: it.detail ?? '' })));
    });
    if (!p.items.length) rows.push(h('li', { class: 'picker-empty', role: 'presentation', text: t(p.kind === 'canned' ? 'reply.no_canned' : 'reply.no_member') }));
    replaceChildren(this.pickerEl, rows);
    this.pickerEl.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    if (p.items.length) this.input.setAttribute('aria-activedescendant', `reply-picker-${p.index}`);
    else this.input.removeAttribute('aria-activedescendant');
    this.pickerEl.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  }

  closePicker() {
    this.picker = null;
    this.pickerEl.hidden = true;
    this.pickerEl.replaceChildren();
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  choose(i) {
    const p = this.picker;
    const it = p?.items[i];
    if (!it) return;
    const v = this.input.value;
    const caret = this.input.selectionStart ?? v.length;
    this.input.value = v.slice(0, p.start) + it.insert + v.slice(caret);
    const at = p.start + it.insert.length;
    this.input.setSelectionRange(at, at);
    if (p.kind === 'mention') (this.mentionIds ??= new Set()).add(it.id);
    this.closePicker();
    this.input.focus();
    this.onInput();
  }

  onInputKey(e) {
    if (this.picker) {
      const n = this.picker.items.length;
      if (e.key === 'ArrowDown' && n) { e.preventDefault(); this.picker.index = (this.picker.index + 1) % n; this.renderPicker(); return; }
      if (e.key === 'ArrowUp' && n) { e.preventDefault(); this.picker.index = (this.picker.index - 1 + n) % n; this.renderPicker(); return; }
      if ((e.key === 'Enter' || e.key === 'Tab') && n && !e.isComposing) { e.preventDefault(); this.choose(this.picker.index); return; }
      if (e.key === 'Escape') { e.preventDefault(); this.closePicker(); return; }
    }
    if (e.key === 'Escape') {
      e.preventDefault();
      this.input.blur();
      this.scroller.focus({ preventScroll: true });
      return;
    }
    // Enter sends; Shift+Enter inserts a newline. Never while an IME
    // (e.g. Vietnamese Telex on macOS) is composing a character.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      this.send();
    }
  }

  // ───────────────────────── comment actions ─────────────────────────

  /** Whether the one private reply to this comment is still possible (not used, within 7 days). */
  canPrivateReply(msg) {
    if (msg.private_replied_at || msg.removed_at) return false;
    const age = Date.now() - (Date.parse(msg.sent_at) || 0);
    return age < PRIVATE_REPLY_DAYS * 24 * 3600 * 1000;
  }

  commentActions(msg) {
    if (msg.kind !== 'comment' || msg.direction !== 'in' || !this.ctx.can('work_inbox')) return null;
    return h('div', { class: 'comment-actions' },
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'comment-reply', t: 'thread.comment_reply', on: { click: () => this.setReplyTo(msg) } }),
      this.canPrivateReply(msg)
        ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'comment-private', t: 'thread.comment_private', on: { click: () => this.privateReply(msg) } })
        : null,
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', testid: 'comment-hide', t: msg.hidden ? 'thread.comment_show' : 'thread.comment_hide', on: { click: (e) => this.setHidden(msg, !msg.hidden, e.currentTarget) } }));
  }

  async setHidden(msg, hidden, btn) {
    btn.disabled = true;
    this.threadError.hidden = true;
    try {
      const out = await api.post(`/messages/${encodeURIComponent(msg.id)}/hide`, { hidden });
      if (out?.id) this.upsertMessage(out);
    } catch (err) {
      this.showThreadError(err, 'thread.platform_error');
      btn.disabled = false;
    }
  }

  privateReply(msg) {
    const area = h('textarea', { id: 'private-reply-text', class: 'reply-input', rows: 3, testid: 'private-reply-text' });
    const err = h('p', { class: 'alert', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'private-reply-send', t: 'reply.send' });
    const d = dialog('thread.private_title', h('form', {
      class: 'private-reply',
      on: {
        submit: async (e) => {
          e.preventDefault();
          const text = area.value.trim();
          if (!text) return;
          submit.disabled = true;
          err.hidden = true;
          try {
            const out = await api.post(`/messages/${encodeURIComponent(msg.id)}/private-reply`, { text });
            if (out?.id && out.conversation_id === this.openId) this.upsertMessage(out);
            d.close(true);
            this.refreshMessage(msg.id);
          } catch (ex) {
            err.textContent = `${t('thread.platform_error')} ${errorText(ex, null)}`;
            err.hidden = false;
            submit.disabled = false;
          }
        },
      },
    },
    h('p', { class: 'muted', text: t('thread.private_hint', { name: msg.author_name || t('contact.unknown') }) }),
    h('label', { for: 'private-reply-text', t: 'thread.private_label' }), area, err,
    h('div', { class: 'dialog-actions' }, submit)), { testid: 'private-reply-dialog' });
    area.focus();
  }

  /** Fetch one message's current state again (after a private reply marks its comment). */
  async refreshMessage(id) {
    const conv = this.openId;
    try {
      const page = await api.messages(conv, null, PAGE);
      if (conv !== this.openId) return;
      const m = (page.items ?? []).find((x) => x.id === id);
      if (m) this.upsertMessage(m);
    } catch { /* a later frame or resync brings it */ }
  }

  /** A note's text with its @mentions highlighted. */
  noteText(msg) {
    const text = msg.text ?? '';
    const ids = Array.isArray(msg.meta?.mentions) ? msg.meta.mentions : [];
    const handles = [];
    for (const id of ids) {
      const m = this.members.find((x) => x.user?.id === id);
      if (!m) continue;
      if (m.user.name) handles.push(`@${m.user.name}`);
      if (m.user.email) handles.push(`@${m.user.email.split('@')[0]}`);
    }
    handles.sort((a, b) => b.length - a.length);
    const parts = [];
    let rest = text;
    while (rest) {
      const low = rest.toLowerCase();
      let best = -1;
      let len = 0;
      for (const hd of handles) {
        const i = low.indexOf(hd.toLowerCase());
        if (i >= 0 && (best < 0 || i < best)) { best = i; len = hd.length; }
      }
      if (best < 0) { parts.push(rest); break; }
      if (best > 0) parts.push(rest.slice(0, best));
      parts.push(h('mark', { class: 'mention', testid: 'mention', text: rest.slice(best, best + len) }));
      rest = rest.slice(best + len);
    }
    return h('p', { class: 'msg-text' }, parts);
  }

  async toggleStatus() {
    const conv = this.openConv;
    if (!conv) return;
    const status = conv.status === 'resolved' ? 'open' : 'resolved';
    this.statusBtn.disabled = true;
    this.threadError.hidden = true;
    try {
      this.upsertConv(await api.updateConversation(conv.id, { status }));
    } catch (err) {
      this.threadError.textContent = `${t('thread.action_error')} ${errorText(err, null)}`;
      this.threadError.hidden = false;
    } finally {
      this.statusBtn.disabled = false;
    }
  }

  renderThreadStatus() {
    const s = this.threadStatus;
    if (this.threadState === 'loading') {
      replaceChildren(s, h('p', { class: 'muted', text: t('common.loading') }));
    } else if (this.threadState === 'error') {
      replaceChildren(s,
        h('p', { class: 'alert', role: 'alert', text: `${t('thread.load_error')} ${errorText(this.threadLoadError, null)}` }),
        h('button', { type: 'button', class: 'btn btn-secondary btn-sm', text: t('common.retry'), on: { click: () => this.retryOpen() } }));
    } else if (this.threadState === 'notfound') {
      replaceChildren(s, h('p', { class: 'empty', text: t('thread.not_found') }));
    } else if (this.threadState === 'ready' && this.messages.length === 0) {
      replaceChildren(s, h('p', { class: 'empty', text: t('thread.empty') }));
    } else {
      s.replaceChildren();
    }
    this.olderBtn.hidden = !(this.threadState === 'ready' && this.olderCursor);
  }

  retryOpen() {
    const id = this.openId;
    this.threadState = 'error';
    this.openId = null;
    this.open(id);
  }

  setMessages(page) {
    this.olderCursor = page.next_cursor ?? null;
    this.msgList.setAttribute('aria-busy', 'true'); // don't read out the whole history
    for (const m of page.items ?? []) this.upsertMessage(m);
    this.msgList.removeAttribute('aria-busy');
    this.renderThreadStatus();
  }

  async loadOlder() {
    const id = this.openId;
    const cursor = this.olderCursor;
    if (!id || !cursor) return;
    const token = this.threadToken;
    const hadFocus = document.activeElement === this.olderBtn; // disabling the button blurs it
    this.olderBtn.disabled = true;
    try {
      const page = await api.messages(id, cursor, PAGE);
      if (token !== this.threadToken) return;
      // Keep the visible messages where they are while older ones are added above.
      const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
      this.msgList.setAttribute('aria-busy', 'true');
      for (const m of page.items ?? []) this.upsertMessage(m);
      this.msgList.removeAttribute('aria-busy');
      this.olderCursor = page.next_cursor ?? null;
      this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
      this.renderThreadStatus();
    } catch (err) {
      this.threadError.textContent = `${t('thread.load_error')} ${errorText(err, null)}`;
      this.threadError.hidden = false;
    } finally {
      this.olderBtn.disabled = false;
      // Keep keyboard focus in the thread (the button is gone after the last page).
      if (hadFocus) (this.olderBtn.hidden ? this.scroller : this.olderBtn).focus({ preventScroll: true });
    }
  }

  /**
   * Insert or update a message in the open thread (deduped by id).
   * A "queued" copy (e.g. the late 202 reply to our POST) never overwrites a
   * status the websocket has already advanced.
   */
  upsertMessage(msg) {
    const i = this.messages.findIndex((m) => m.id === msg.id);
    if (i >= 0) {
      const old = this.messages[i];
      const merged = msg.status === 'queued' && old.status !== 'queued'
        ? { ...msg, status: old.status, error: old.error }
        : msg;
      this.messages[i] = merged;
      this.renderMessage(merged);
      return false;
    }
    // Insert in time order; new messages normally go at the end.
    let at = this.messages.length;
    while (at > 0 && msgKey(this.messages[at - 1]) > msgKey(msg)) at--;
    this.messages.splice(at, 0, msg);
    const li = this.renderMessage(msg);
    this.msgList.insertBefore(li, this.msgEls.get(this.messages[at + 1]?.id) ?? null);
    this.refreshDays();
    return true;
  }

  /** Build or refresh a message bubble; the <li> is kept. */
  renderMessage(msg) {
    let li = this.msgEls.get(msg.id);
    if (!li) {
      li = h('li', { testid: 'message', dataset: { id: msg.id } });
      this.msgEls.set(msg.id, li);
    }
    const out = msg.direction === 'out';
    const note = msg.kind === 'note';
    li.className = `msg ${out ? 'out' : 'in'}${note ? ' note' : ''}${msg.status === 'failed' ? ' failed' : ''}`;
    li.dataset.status = msg.status;
    li.dataset.kind = msg.kind ?? '';
    if (note) {
      const author = this.memberName(msg.author_user_id) || t('thread.someone');
      replaceChildren(li,
        h('div', { class: 'bubble note-bubble', testid: 'note' },
          h('p', { class: 'note-head' },
            h('span', { class: 'note-label', text: t('thread.note') }),
            h('span', { class: 'note-author', testid: 'note-author', text: author })),
          this.noteText(msg)),
        h('div', { class: 'meta' }, h('time', { dateTime: msg.sent_at ?? '', title: fullDateTime(msg.sent_at), text: clock(msg.sent_at) })));
      return li;
    }

    const attachments = (msg.attachments ?? []).map((a) => {
      const url = safeUrl(a.url);
      if ((a.kind === 'image' || a.kind === 'sticker') && url) {
        return h('a', { class: 'att att-image', href: url, target: '_blank', rel: 'noopener noreferrer' },
          h('img', { src: url, alt: t('thread.image'), loading: 'lazy' }));
      }
      const label = t('thread.attachment', { kind: a.kind ?? '?' });
      return url
        ? h('a', { class: 'att att-file', href: url, target: '_blank', rel: 'noopener noreferrer', text: label })
        : h('span', { class: 'att att-file', text: label });
    });

    const meta = [h('time', { dateTime: msg.sent_at ?? '', title: fullDateTime(msg.sent_at), text: clock(msg.sent_at) })];
    // Comments name their author (a thread can hold several people) and their moderation state.
    if (msg.kind === 'comment' && !out && msg.author_name) meta.unshift(h('span', { class: 'author', text: msg.author_name }));
    if (msg.kind === 'private_reply') meta.push(h('span', { class: 'badge', testid: 'badge-private', text: t('thread.private_reply') }));
    if (msg.hidden) meta.push(h('span', { class: 'badge', testid: 'badge-hidden', text: t('thread.hidden') }));
    if (msg.edited_at) meta.push(h('span', { class: 'badge', testid: 'badge-edited', text: t('thread.edited') }));
    if (msg.removed_at) meta.push(h('span', { class: 'badge', testid: 'badge-removed', text: t(msg.kind === 'comment' ? 'thread.removed' : 'thread.unsent') }));
    const reactions = Object.values(msg.reactions ?? {}).filter((r) => typeof r === 'string');
    if (reactions.length) meta.push(h('span', { class: 'reactions', text: reactions.join(' ') }));
    if (out) {
      if (msg.sender_kind === 'page') meta.push(h('span', { class: 'from-page', text: t('thread.from_page') }));
      if (msg.sender_kind === 'system') meta.push(h('span', { class: 'from-page', text: t('thread.automatic') }));
      const ticks = { queued: '◷', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' }[msg.status] ?? '';
      meta.push(h('span', { class: `msg-status st-${msg.status}`, testid: 'message-status' },
        h('span', { class: 'tick', 'aria-hidden': 'true', text: ticks }),
        ` ${t(`msg.${msg.status}`)}`));
    }

    replaceChildren(li,
      h('div', { class: 'bubble' },
        srOnly(`${t(out ? 'thread.you_said' : 'thread.contact_said')}: `),
        msg.text ? h('p', { class: 'msg-text', text: msg.text }) : null,
        attachments.length ? h('div', { class: 'atts' }, attachments) : null),
      h('div', { class: 'meta' }, meta),
      this.commentActions(msg),
      // The platform's own error text, e.g. "(#551) This person isn't available right now."
      msg.status === 'failed' && msg.error
        ? h('p', { class: 'msg-error', testid: 'message-error', text: msg.error })
        : null);
    return li;
  }

  /** Mark the first message of each calendar day with a separator label (drawn by CSS). */
  refreshDays() {
    let prev = null;
    for (const m of this.messages) {
      const li = this.msgEls.get(m.id);
      const key = dayKey(m.sent_at);
      if (key !== prev) li.dataset.day = dayLabel(m.sent_at);
      else delete li.dataset.day;
      prev = key;
    }
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  // ───────────────────────── reading ─────────────────────────

  /** POST /read for the open conversation, debounced, only while the page is visible. */
  scheduleRead(delay = 400) {
    if (!this.openId) return;
    if (document.hidden) { this.readPending = true; return; }
    this.readPending = false;
    clearTimeout(this.readTimer);
    const id = this.openId;
    this.readTimer = setTimeout(async () => {
      try {
        const conv = await api.markRead(id);
        if (conv) this.upsertConv(conv);
      } catch { /* not critical */ }
    }, delay);
  }

  // ───────────────────────── replying ─────────────────────────

  onInput() {
    const text = this.input.value.trim();
    const image = !this.imageRow.hidden ? this.imageInput.value.trim() : '';
    const imageOk = !image || httpUrl(image);
    this.imageInput.setAttribute('aria-invalid', String(!imageOk));
    const empty = this.mode === 'note' ? !text : (!text && !image);
    const closed = this.mode === 'reply' && !this.canReply();
    this.sendBtn.disabled = this.sending || empty || !imageOk || closed;
    this.sendBtn.title = closed ? this.windowEl.textContent : '';
    if (document.activeElement === this.input) this.updatePicker();
    // Grow with the text up to the CSS max-height.
    this.input.style.height = 'auto';
    this.input.style.height = `${this.input.scrollHeight}px`;
    if (!this.replyError.hidden && this.input.value === '') this.replyError.hidden = true;
    if (this.mode === 'reply' && text) this.sendTyping();
  }

  /** Tell a website chat visitor the agent is typing: at most once every 3 s. */
  sendTyping() {
    const conv = this.openConv;
    if (!conv || conv.channel_account?.platform !== 'webchat') return;
    const now = Date.now();
    if (this.typingSentAt && now - this.typingSentAt < 3000 && this.typingFor === conv.id) return;
    this.typingSentAt = now;
    this.typingFor = conv.id;
    api.post(`/conversations/${encodeURIComponent(conv.id)}/typing`, {}).catch(() => { /* not critical */ });
  }

  async send() {
    const id = this.openId;
    const text = this.input.value.trim();
    const note = this.mode === 'note';
    const image = !note && !this.imageRow.hidden ? this.imageInput.value.trim() : '';
    if (!id || this.sending || this.sendBtn.disabled) return;
    if (!text && !image) return;
    if (image && !httpUrl(image)) {
      this.replyError.textContent = t('reply.image_invalid');
      this.replyError.hidden = false;
      return;
    }
    this.sending = true;
    this.input.readOnly = true;
    this.onInput();
    this.replyError.hidden = true;
    try {
      let msg;
      if (note) {
        const mentions = [...(this.mentionIds ?? [])];
        msg = await api.post(`/conversations/${encodeURIComponent(id)}/notes`, { text, mentions });
      } else {
        const body = { text };
        if (image) body.attachment = { kind: 'image', url: image };
        if (this.replyTo && this.openConv?.kind === 'comment_thread') body.reply_to = this.replyTo.id;
        msg = await api.post(`/conversations/${encodeURIComponent(id)}/messages`, body);
      }
      this.drafts.delete(id);
      this.mentionIds = null;
      if (this.openId === id) {
        this.input.value = '';
        if (!note) {
          this.toggleImage(false);
          this.setReplyTo(null);
        }
        if (msg?.id) {
          this.upsertMessage(msg);
          this.renderThreadStatus();
        }
        this.scrollToBottom();
      }
    } catch (err) {
      if (this.openId === id) {
        this.replyError.textContent = t(note ? 'reply.note_error' : 'reply.error', { message: errorText(err, null) });
        this.replyError.hidden = false;
      }
    } finally {
      this.sending = false;
      this.input.readOnly = false;
      this.onInput();
      if (this.openId === id) this.input.focus();
    }
  }

  // ───────────────────────── live events ─────────────────────────

  handleEvent(type, data) {
    try { this.contactPanel?.handleEvent(type, data); } catch (err) { console.warn('contact panel', err); }
    // Message events for a thread that is still loading are kept and applied after the load.
    if ((type === 'message.created' || type === 'message.updated') && this.threadState === 'loading' &&
        data.message && data.message.conversation_id === this.openId) {
      (this.pending ??= []).push([type, data]);
      if (type === 'message.updated') return;
    }
    switch (type) {
      case 'message.created': {
        const { message, conversation } = data;
        if (conversation) this.upsertConv(conversation, { insert: true });
        if (message && message.conversation_id === this.openId && this.threadState === 'ready') {
          const stick = this.nearBottom();
          const added = this.upsertMessage(message);
          this.renderThreadStatus();
          if (added && (stick || message.direction === 'out')) this.scrollToBottom();
          if (added && message.direction === 'in') this.scheduleRead();
        }
        break;
      }
      case 'message.updated': {
        const { message } = data;
        if (!message || message.conversation_id !== this.openId || this.threadState !== 'ready') break;
        // Unknown id: add it only if it falls inside the loaded range (it may
        // be the status update racing our own POST's 202 response).
        const oldest = this.messages[0];
        if (this.msgEls.has(message.id) || !this.olderCursor || (oldest && msgKey(message) >= msgKey(oldest))) {
          const stick = this.nearBottom();
          if (this.upsertMessage(message) && stick) this.scrollToBottom();
          this.renderThreadStatus();
        }
        break;
      }
      case 'conversation.updated':
        if (data.conversation) this.upsertConv(data.conversation, { insert: true });
        break;
      case 'resync':
        this.reloadList({ quiet: true });
        this.reloadThread();
        break;
      case 'conversation.created':
        if (data.conversation) this.upsertConv(data.conversation, { insert: true });
        break;
      case 'contact.updated':
        // A phone found or a merge: the filters on phone / blacklist may change.
        if (this.filter.has_phone || this.filter.blacklisted || this.filter.q.trim()) this.scheduleReload();
        break;
      case 'blacklist.updated':
        if (this.filter.blacklisted) this.scheduleReload();
        break;
      default:
        // Unknown event types are ignored on purpose (forward compatibility).
        break;
    }
  }
}

/** The view contract (see app.js): mount, then route(params) on every URL change. */
export function mount(container, ctx) {
  const inbox = new Inbox(container, ctx);
  inbox.mount();
  return {
    route: (params) => inbox.open(params[0] ?? null),
    handleEvent: (type, data) => inbox.handleEvent(type, data),
    onLang: () => inbox.onLang(),
    destroy: () => inbox.destroy(),
    /** The open conversation, so a sign-in after expiry comes back to it. */
    returnPath: () => (inbox.openId ? `/inbox/${encodeURIComponent(inbox.openId)}` : null),
  };
}
