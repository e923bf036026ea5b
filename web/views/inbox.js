// The inbox screen: the filterable conversation list, the open thread and the reply box.
import { h, replaceChildren, srOnly } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { errorText, safeUrl } from '../ui.js';
import { contactName, formatPhone, platformLabel, listTime, clock, fullDateTime, dayLabel, dayKey } from '../format.js';

//// Header, filterable conversation list, open thread, reply box. Rendering is
// keyed: list rows and message bubbles keep their DOM element for the lifetime
// of the item and only their contents are rebuilt, so focus and scroll survive
// live updates and screen readers only hear real additions.

const STATUSES = ['open', 'pending', 'resolved'];
const PAGE = 50;
const NARROW = window.matchMedia('(max-width: 767px)');

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

/** "Can reply until …", or why not. */
function replyWindow(reply) {
  if (!reply || reply.mode === 'open' || reply.mode === 'comment') return null;
  if (!reply.can_reply) {
    // A window that existed has an end time; none means the customer never wrote.
    const key = reply.until ? 'thread.window_expired' : 'thread.window_never';
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

    this.filter = { status: 'open', unread: false };
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
  }

  // ───────────────────────── mounting ─────────────────────────

  mount() {
    document.title = `${t('nav.inbox')} · ${this.session.workspace?.name ?? ''} · tongdai`;

    // List pane
    this.tabButtons = STATUSES.map((s) => h('button', {
      type: 'button', class: 'tab', testid: `filter-${s}`, t: `inbox.filter.${s}`, 'aria-pressed': String(this.filter.status === s),
      on: { click: () => this.setFilter({ status: s }) },
    }));
    this.unreadButton = h('button', {
      type: 'button', class: 'toggle', testid: 'filter-unread', t: 'inbox.filter.unread', 'aria-pressed': 'false',
      on: { click: () => this.setFilter({ unread: !this.filter.unread }) },
    });
    this.listEl = h('ul', { class: 'conv-list', testid: 'conversation-list', tAttr: { 'aria-label': 'inbox.list_label' } });
    this.listStatus = h('div', { class: 'list-status' });
    this.loadMoreBtn = h('button', { type: 'button', class: 'btn btn-secondary load-more', testid: 'load-more', t: 'inbox.load_more', hidden: true, on: { click: () => this.loadMore() } });
    this.listPane = h('aside', { class: 'list-pane' },
      h('div', { class: 'filters', role: 'group', tAttr: { 'aria-label': 'inbox.filters' } },
        h('div', { class: 'tabs' }, this.tabButtons),
        this.unreadButton),
      h('div', { class: 'list-scroll' }, this.listEl, this.listStatus, this.loadMoreBtn));

    // Thread pane
    this.threadPane = this.buildThread();

    this.root = h('div', { class: 'inbox' }, h('div', { class: 'panes' }, this.listPane, this.threadPane));
    replaceChildren(this.container, this.root);

    document.addEventListener('visibilitychange', this._onVisible);
    NARROW.addEventListener('change', this._onNarrow);
    this.clockTimer = setInterval(() => this.refreshTimes(), 30000);

    this.updateLayout();
    this.reloadList();
  }

  destroy() {
    document.removeEventListener('visibilitychange', this._onVisible);
    NARROW.removeEventListener('change', this._onNarrow);
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
    this.threadError = h('p', { class: 'alert', role: 'alert', hidden: true });

    this.olderBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-sm load-older', testid: 'load-older', t: 'thread.load_older', hidden: true, on: { click: () => this.loadOlder() } });
    this.msgList = h('ol', { class: 'messages', testid: 'message-list', 'aria-live': 'polite', 'aria-relevant': 'additions', tAttr: { 'aria-label': 'thread.messages_label' } });
    this.threadStatus = h('div', { class: 'thread-status' });
    this.scroller = h('div', { class: 'msg-scroll', tabIndex: -1 }, this.olderBtn, this.msgList, this.threadStatus);

    this.input = h('textarea', {
      id: 'reply-input', class: 'reply-input', testid: 'reply-input', rows: 1, tAttr: { placeholder: 'reply.placeholder' },
      on: {
        input: () => this.onInput(),
        keydown: (e) => {
          // Enter sends; Shift+Enter inserts a newline. Never while an IME
          // (e.g. Vietnamese Telex on macOS) is composing a character.
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
            e.preventDefault();
            this.send();
          }
        },
      },
    });
    this.sendBtn = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'reply-send', t: 'reply.send', disabled: true });
    this.replyError = h('p', { class: 'alert', role: 'alert', testid: 'reply-error', hidden: true });
    this.replyForm = h('form', { class: 'reply', on: { submit: (e) => { e.preventDefault(); this.send(); } } },
      h('label', { for: 'reply-input', class: 'sr-only', t: 'reply.label' }),
      h('div', { class: 'reply-row' }, this.input, this.sendBtn),
      h('p', { class: 'hint', t: 'reply.hint' }),
      this.replyError);

    this.threadBody = h('div', { class: 'thread-body' },
      h('header', { class: 'thread-head' },
        this.backBtn,
        h('div', { class: 'who' }, this.titleEl, this.subEl),
        this.statusBtn),
      this.threadError,
      this.scroller,
      this.replyForm);
    this.placeholder = h('div', { class: 'thread-placeholder' }, h('p', { t: 'inbox.pick' }));

    return h('section', { class: 'thread-pane', testid: 'thread' }, this.placeholder, this.threadBody);
  }

  /** Narrow screens show either the list or the thread. */
  updateLayout() {
    this.root.classList.toggle('has-open', this.openId !== null);
    this.threadBody.hidden = this.openId === null;
    this.placeholder.hidden = this.openId !== null;
    this.threadPane.dataset.conversationId = this.openId ?? '';
  }

  /** Re-render the dynamic parts after a language change (static parts are re-translated by translateTree). */
  onLang() {
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
    Object.assign(this.filter, change);
    this.tabButtons.forEach((b, i) => b.setAttribute('aria-pressed', String(STATUSES[i] === this.filter.status)));
    this.unreadButton.setAttribute('aria-pressed', String(this.filter.unread));
    this.reloadList();
  }

  matches(conv) {
    return conv.status === this.filter.status &&
      (!this.filter.unread || conv.unread_count > 0 || conv.id === this.openId);
  }

  async reloadList() {
    const token = ++this.listToken;
    this.listState = 'loading';
    this.renderListStatus();
    try {
      const page = await api.conversations(this.filter, null, PAGE);
      if (token !== this.listToken) return;
      this.convs.clear();
      this.order = [];
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
      const page = await api.conversations(this.filter, this.nextCursor, PAGE);
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
    if (this.matches(conv)) {
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
      replaceChildren(s, h('p', { class: 'empty', testid: 'list-empty', text: t(this.filter.unread ? 'inbox.empty_unread' : 'inbox.empty') }));
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
      this.replyForm.hidden = this.threadState === 'notfound';
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
    li.className = `msg ${out ? 'out' : 'in'}${msg.status === 'failed' ? ' failed' : ''}`;
    li.dataset.status = msg.status;

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
    this.sendBtn.disabled = this.sending || this.input.value.trim() === '';
    // Grow with the text up to the CSS max-height.
    this.input.style.height = 'auto';
    this.input.style.height = `${this.input.scrollHeight}px`;
    if (!this.replyError.hidden && this.input.value === '') this.replyError.hidden = true;
  }

  async send() {
    const id = this.openId;
    const text = this.input.value.trim();
    if (!id || !text || this.sending) return;
    this.sending = true;
    this.input.readOnly = true;
    this.onInput();
    this.replyError.hidden = true;
    try {
      const msg = await api.sendMessage(id, text);
      this.drafts.delete(id);
      if (this.openId === id) {
        this.input.value = '';
        if (msg?.id) {
          this.upsertMessage(msg);
          this.renderThreadStatus();
        }
        this.scrollToBottom();
      }
    } catch (err) {
      if (this.openId === id) {
        this.replyError.textContent = t('reply.error', { message: errorText(err, null) });
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
        this.reloadList();
        this.reloadThread();
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
