// tongdai website chat widget. A shop adds one tag:
//   <script src="https://inbox.example/widget.js" data-website-token="…" async></script>
// Optional logged-in customer (identifier_hash computed on the shop's server):
//   window.tongdai = { identifier, identifier_hash, name, phone }  (before the tag), or
//   data-identifier / data-identifier-hash / data-name / data-phone on the tag.
// Everything lives in a shadow root, so the page's CSS cannot reach it and its CSS cannot
// reach the page. Text from visitors and agents is only ever set with textContent.
(() => {
  'use strict';
  const script = document.currentScript || document.querySelector('script[data-website-token]');
  if (!script || window.__tongdaiWidget) return;
  window.__tongdaiWidget = true;
  const WEBSITE_TOKEN = script.dataset.websiteToken;
  if (!WEBSITE_TOKEN) return;
  const BASE = new URL(script.src, location.href).origin;
  const WS_BASE = BASE.replace(/^http/, 'ws');
  const STORE_KEY = `tongdai:visitor:${WEBSITE_TOKEN}`;
  const given = Object.assign({}, {
    identifier: script.dataset.identifier,
    identifier_hash: script.dataset.identifierHash,
    name: script.dataset.name,
    phone: script.dataset.phone,
  }, window.tongdai || {});

  const LANG = String(navigator.language || 'vi').toLowerCase().startsWith('vi') ? 'vi' : 'en';
  const STRINGS = {
    vi: {
      open: 'Mở khung chat', close: 'Đóng khung chat', title: 'Chat với shop',
      placeholder: 'Nhập tin nhắn…', send: 'Gửi', typing: 'Nhân viên đang nhập…', seen: 'Đã xem',
      sending: 'Đang gửi…', failed: 'Chưa gửi được. Bấm để gửi lại.',
      contact_toggle: 'Để lại số điện thoại', contact_title: 'Để lại tên và số điện thoại, shop sẽ gọi lại cho bạn.',
      name: 'Tên của bạn', phone: 'Số điện thoại', contact_send: 'Gửi thông tin', contact_saved: 'Cảm ơn bạn! Shop sẽ liên hệ sớm.',
      offline: 'Mất kết nối, đang thử lại…', unavailable: 'Chat đang tạm ngưng, bạn thử lại sau nhé.',
      too_long: 'Tin nhắn quá dài.', rate_limited: 'Bạn gửi hơi nhanh, chờ một chút nhé.', invalid_phone: 'Số điện thoại chưa đúng.',
      empty: 'Bạn chưa nhập gì.', error: 'Có lỗi, bạn thử lại nhé.', you: 'Bạn', shop: 'Shop', unread: 'tin mới',
    },
    en: {
      open: 'Open chat', close: 'Close chat', title: 'Chat with us',
      placeholder: 'Type a message…', send: 'Send', typing: 'An agent is typing…', seen: 'Seen',
      sending: 'Sending…', failed: 'Not sent. Click to retry.',
      contact_toggle: 'Leave your phone number', contact_title: 'Leave your name and phone number and we will call you back.',
      name: 'Your name', phone: 'Phone number', contact_send: 'Send details', contact_saved: 'Thank you! We will be in touch soon.',
      offline: 'Connection lost, retrying…', unavailable: 'Chat is unavailable right now, please try later.',
      too_long: 'The message is too long.', rate_limited: 'You are sending too fast, please wait a moment.', invalid_phone: 'That phone number does not look right.',
      empty: 'Nothing to send.', error: 'Something went wrong, please try again.', you: 'You', shop: 'Shop', unread: 'new',
    },
  };
  const T = STRINGS[LANG];

  const CSS = `
:host { all: initial; }
.wrap { position: fixed; right: 16px; bottom: 16px; z-index: 2147483000; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 14px; line-height: 1.4; color: #1d2433; --accent: #0b6bcb; }
/* Zero specificity: every rule below wins over this reset. */
:where(.wrap *) { box-sizing: border-box; font-family: inherit; font-size: inherit; line-height: inherit; color: inherit; letter-spacing: normal; text-transform: none; }
.wrap *::before, .wrap *::after { box-sizing: border-box; }
button, input, textarea { margin: 0; font: inherit; }
.bubble { display: flex; align-items: center; justify-content: center; width: 56px; height: 56px; border-radius: 50%; border: 0; background: var(--accent); color: #fff; cursor: pointer; box-shadow: 0 4px 16px rgba(0,0,0,.25); position: relative; }
.bubble svg { width: 28px; height: 28px; fill: #fff; }
.bubble:focus-visible, .wrap button:focus-visible, .wrap input:focus-visible, .wrap textarea:focus-visible { outline: 3px solid #ffb300; outline-offset: 2px; }
.badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px; background: #d93025; color: #fff; font-size: 12px; line-height: 20px; text-align: center; }
.panel { position: absolute; right: 0; bottom: 68px; width: min(370px, calc(100vw - 24px)); height: min(560px, calc(100vh - 100px)); display: flex; flex-direction: column; background: #fff; border-radius: 12px; box-shadow: 0 8px 32px rgba(0,0,0,.25); overflow: hidden; }
.panel[hidden], .wrap [hidden] { display: none; }
header { display: flex; align-items: center; gap: 8px; padding: 12px 14px; background: var(--accent); color: #fff; }
header h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 600; color: #fff; }
.icon { border: 0; background: transparent; color: #fff; width: 32px; height: 32px; border-radius: 6px; cursor: pointer; font-size: 20px; line-height: 32px; }
.log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px; background: #f5f7fa; list-style: none; margin: 0; }
.msg { max-width: 80%; padding: 8px 12px; border-radius: 14px; white-space: pre-wrap; overflow-wrap: anywhere; }
.msg.agent, .msg.greeting { align-self: flex-start; background: #fff; border: 1px solid #dde3ea; color: #1d2433; }
.msg.visitor { align-self: flex-end; background: var(--accent); color: #fff; }
.msg.visitor.pending { opacity: .7; }
.msg.visitor.failed { background: #fce8e6; color: #a50e0e; cursor: pointer; }
.meta { align-self: flex-end; font-size: 12px; color: #5f6b7a; }
.status { min-height: 20px; padding: 0 12px; font-size: 12px; color: #5f6b7a; background: #f5f7fa; }
.alert { padding: 6px 12px; font-size: 13px; background: #fff4e5; color: #7a4a00; }
form.contact { padding: 10px 12px; border-top: 1px solid #e3e8ee; display: flex; flex-direction: column; gap: 6px; background: #fff; }
form.contact p { margin: 0; font-size: 13px; color: #3c4757; }
.wrap input, .wrap textarea { width: 100%; padding: 8px 10px; border: 1px solid #c5ced8; border-radius: 8px; background: #fff; color: #1d2433; }
.row { display: flex; gap: 8px; align-items: flex-end; padding: 10px 12px; border-top: 1px solid #e3e8ee; background: #fff; }
.row textarea { flex: 1; resize: none; max-height: 120px; min-height: 40px; }
.btn { border: 0; border-radius: 8px; padding: 9px 14px; background: var(--accent); color: #fff; cursor: pointer; font-weight: 600; }
.btn:disabled { opacity: .5; cursor: default; }
.link { border: 0; background: transparent; color: var(--accent); padding: 6px 12px; text-align: left; cursor: pointer; text-decoration: underline; font-size: 13px; }
.thanks { padding: 6px 12px; font-size: 13px; color: #137333; background: #e6f4ea; }
@media (max-width: 400px) { .wrap { right: 8px; bottom: 8px; } .panel { width: calc(100vw - 16px); height: calc(100vh - 84px); } }
`;

  // ───────── DOM helpers (no innerHTML anywhere) ─────────
  function el(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (v === true) e.setAttribute(k, '');
      else if (v !== false && v != null) e.setAttribute(k, String(v));
    }
    for (const kid of kids) if (kid) e.append(kid);
    return e;
  }
  function svgIcon() {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z');
    svg.append(p);
    return svg;
  }

  const host = document.createElement('tongdai-chat');
  const root = host.attachShadow({ mode: 'open' });
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.append(el('style', { text: CSS }));
  }

  const badge = el('span', { class: 'badge', hidden: true, 'data-testid': 'tongdai-unread' });
  const bubble = el('button', {
    type: 'button', class: 'bubble', 'aria-label': T.open, 'aria-expanded': 'false', 'aria-controls': 'tongdai-panel',
    'data-testid': 'tongdai-bubble', onclick: () => toggle(),
  }, svgIcon(), badge);
  const title = el('h2', { id: 'tongdai-title', text: T.title });
  const closeBtn = el('button', { type: 'button', class: 'icon', 'aria-label': T.close, 'data-testid': 'tongdai-close', text: '×', onclick: () => toggle(false) });
  const log = el('ol', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-labelledby': 'tongdai-title', 'data-testid': 'tongdai-log' });
  const status = el('div', { class: 'status', 'aria-live': 'polite', 'data-testid': 'tongdai-status' });
  const alertBox = el('div', { class: 'alert', role: 'alert', hidden: true, 'data-testid': 'tongdai-alert' });
  const thanks = el('div', { class: 'thanks', role: 'status', hidden: true, 'data-testid': 'tongdai-thanks', text: T.contact_saved });
  const nameInput = el('input', { type: 'text', id: 'tongdai-name', autocomplete: 'name', maxlength: 200, 'data-testid': 'tongdai-name' });
  const phoneInput = el('input', { type: 'tel', id: 'tongdai-phone', autocomplete: 'tel', maxlength: 30, required: true, 'data-testid': 'tongdai-phone' });
  const contactForm = el('form', { class: 'contact', hidden: true, 'data-testid': 'tongdai-contact-form', onsubmit: (e) => { e.preventDefault(); sendContact(); } },
    el('p', { text: T.contact_title }),
    el('label', { for: 'tongdai-name', text: T.name }), nameInput,
    el('label', { for: 'tongdai-phone', text: T.phone }), phoneInput,
    el('button', { type: 'submit', class: 'btn', 'data-testid': 'tongdai-contact-send', text: T.contact_send }));
  const contactToggle = el('button', {
    type: 'button', class: 'link', 'aria-expanded': 'false', 'data-testid': 'tongdai-contact-toggle', text: T.contact_toggle,
    onclick: () => {
      contactForm.hidden = !contactForm.hidden;
      contactToggle.setAttribute('aria-expanded', String(!contactForm.hidden));
      if (!contactForm.hidden) (nameInput.value ? phoneInput : nameInput).focus();
    },
  });
  const input = el('textarea', { rows: 1, 'aria-label': T.placeholder, placeholder: T.placeholder, maxlength: 2000, 'data-testid': 'tongdai-input' });
  const sendBtn = el('button', { type: 'submit', class: 'btn', 'data-testid': 'tongdai-send', text: T.send, disabled: true });
  const composer = el('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); sendText(); } }, input, sendBtn);
  const panel = el('section', { class: 'panel', id: 'tongdai-panel', role: 'dialog', 'aria-labelledby': 'tongdai-title', hidden: true, 'data-testid': 'tongdai-panel' },
    el('header', {}, title, closeBtn), alertBox, log, status, thanks, contactToggle, contactForm, composer);
  const wrap = el('div', { class: 'wrap', lang: LANG }, panel, bubble);
  root.append(wrap);

  // ───────── state ─────────
  let visitorToken = null;
  try { visitorToken = localStorage.getItem(STORE_KEY); } catch { /* storage blocked */ }
  let socket = null;
  let connecting = null;
  let retry = 0;
  let open = false;
  let unread = 0;
  let typingTimer = null;
  let lastTypingSent = 0;
  let greeting = null;
  const items = new Map(); // message id or echo id → {li, msg}
  const outbox = new Map(); // echo id → text, not yet acknowledged

  function showAlert(text) {
    alertBox.textContent = text || '';
    alertBox.hidden = !text;
  }

  function setUnread(n) {
    unread = n;
    badge.textContent = String(n);
    badge.hidden = n === 0;
    bubble.setAttribute('aria-label', n ? `${T.open} (${n} ${T.unread})` : T.open);
  }

  function toggle(force) {
    open = force ?? !open;
    panel.hidden = !open;
    bubble.setAttribute('aria-expanded', String(open));
    bubble.setAttribute('aria-label', open ? T.close : T.open);
    if (open) {
      setUnread(0);
      connect();
      input.focus();
      log.scrollTop = log.scrollHeight;
      sendFrame({ type: 'read' });
    } else {
      bubble.focus();
    }
  }

  wrap.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && open) { e.preventDefault(); toggle(false); }
  });

  function markSeen(on) {
    let seen = log.querySelector('.meta.seen');
    if (!on) { seen?.remove(); return; }
    const mine = [...log.querySelectorAll('.msg.visitor:not(.pending):not(.failed)')].pop();
    if (!mine) return;
    if (!seen) seen = el('li', { class: 'meta seen', 'data-testid': 'tongdai-seen', text: T.seen });
    mine.after(seen);
  }

  /** Add or update a message bubble; `m` = {id, echo_id, from, text, status}. */
  function upsert(m, { pending = false, failed = false } = {}) {
    const key = m.echo_id && items.has(m.echo_id) ? m.echo_id : m.id;
    let entry = items.get(key) || (m.id && items.get(m.id));
    if (!entry) {
      const li = el('li', { class: `msg ${m.from}`, 'data-testid': `tongdai-msg-${m.from}` });
      entry = { li, msg: m };
      log.append(li);
      if (m.from === 'agent') markSeen(false);
    }
    entry.msg = { ...entry.msg, ...m };
    entry.li.textContent = m.text ?? '';
    entry.li.classList.toggle('pending', pending);
    entry.li.classList.toggle('failed', failed);
    entry.li.title = failed ? T.failed : (pending ? T.sending : '');
    entry.li.onclick = failed ? () => resend(m.echo_id) : null;
    if (m.id) items.set(m.id, entry);
    if (m.echo_id) items.set(m.echo_id, entry);
    log.scrollTop = log.scrollHeight;
    return entry;
  }

  function renderHistory(messages) {
    for (const [, e] of items) e.li.remove();
    items.clear();
    log.querySelector('.meta.seen')?.remove();
    if (greeting && !log.contains(greeting)) log.prepend(greeting);
    for (const m of messages) upsert(m);
    for (const [echo, text] of outbox) upsert({ echo_id: echo, from: 'visitor', text }, { pending: true });
  }

  async function startSession() {
    const body = { website_token: WEBSITE_TOKEN, visitor_token: visitorToken };
    for (const k of ['identifier', 'identifier_hash', 'name', 'phone']) if (given[k]) body[k] = String(given[k]);
    const res = await fetch(`${BASE}/widget/v1/session`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'omit',
    });
    if (!res.ok) {
      let code = 'error';
      try { code = (await res.json()).code || code; } catch { /* not JSON */ }
      const err = new Error(code);
      err.status = res.status;
      throw err;
    }
    const s = await res.json();
    visitorToken = s.visitor_token;
    try { localStorage.setItem(STORE_KEY, visitorToken); } catch { /* storage blocked */ }
    if (/^#[0-9a-fA-F]{6}$/.test(s.channel.accent_color || '')) wrap.style.setProperty('--accent', s.channel.accent_color);
    title.textContent = s.channel.name || T.title;
    if (!greeting) greeting = el('li', { class: 'msg greeting', 'data-testid': 'tongdai-greeting' });
    greeting.textContent = s.channel.greeting || '';
    if (given.name && !nameInput.value) nameInput.value = String(given.name);
    renderHistory(s.messages || []);
    return s;
  }

  function connect() {
    if (socket || connecting) return connecting;
    connecting = (async () => {
      try {
        await startSession();
        showAlert('');
      } catch (e) {
        connecting = null;
        if (e.status === 401 || e.status === 403 || e.status === 404) { showAlert(T.unavailable); return; }
        showAlert(T.offline);
        setTimeout(connect, Math.min(30000, 1000 * 2 ** retry++));
        return;
      }
      const ws = new WebSocket(`${WS_BASE}/widget/v1/ws?visitor_token=${encodeURIComponent(visitorToken)}`);
      ws.addEventListener('open', () => {
        socket = ws;
        connecting = null;
        retry = 0;
        sendBtn.disabled = !input.value.trim();
        for (const [echo, text] of outbox) ws.send(JSON.stringify({ type: 'message', text, echo_id: echo }));
        if (open) ws.send(JSON.stringify({ type: 'read' }));
      });
      ws.addEventListener('message', (ev) => {
        let f;
        try { f = JSON.parse(ev.data); } catch { return; }
        onFrame(f);
      });
      ws.addEventListener('close', () => {
        if (socket === ws) socket = null;
        connecting = null;
        showAlert(T.offline);
        setTimeout(connect, Math.min(30000, 1000 * 2 ** retry++));
      });
    })();
    return connecting;
  }

  function onFrame(f) {
    switch (f.type) {
      case 'ack':
        outbox.delete(f.echo_id);
        if (items.has(f.echo_id)) upsert({ ...items.get(f.echo_id).msg, echo_id: f.echo_id });
        break;
      case 'message': {
        const m = f.message;
        if (m.echo_id) outbox.delete(m.echo_id);
        upsert(m);
        if (m.from === 'agent') {
          status.textContent = '';
          clearTimeout(typingTimer);
          if (open && document.visibilityState === 'visible') sendFrame({ type: 'read' });
          else setUnread(unread + 1);
        }
        break;
      }
      case 'typing':
        status.textContent = T.typing;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { status.textContent = ''; }, 5000);
        break;
      case 'read':
        markSeen(true);
        break;
      case 'contact_saved':
        contactForm.hidden = true;
        contactToggle.hidden = true;
        thanks.hidden = false;
        break;
      case 'error': {
        const text = T[f.code] || T.error;
        if (f.echo_id && items.has(f.echo_id)) {
          outbox.delete(f.echo_id);
          const e = items.get(f.echo_id);
          upsert(e.msg, { failed: true });
        }
        showAlert(text);
        break;
      }
      case 'resync':
        startSession().catch(() => { /* the socket's own retry covers it */ });
        break;
      default: break; // newer server frames are ignored
    }
  }

  function sendFrame(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function newEchoId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  }

  function sendText() {
    const text = input.value.trim();
    if (!text) return;
    if (text.length > 2000) { showAlert(T.too_long); return; }
    const echo = newEchoId();
    outbox.set(echo, text);
    upsert({ echo_id: echo, from: 'visitor', text }, { pending: true });
    input.value = '';
    sendBtn.disabled = true;
    showAlert('');
    sendFrame({ type: 'message', text, echo_id: echo });
    connect();
    input.focus();
  }

  function resend(echo) {
    const entry = items.get(echo);
    if (!entry) return;
    outbox.set(echo, entry.msg.text);
    upsert(entry.msg, { pending: true });
    sendFrame({ type: 'message', text: entry.msg.text, echo_id: echo });
  }

  function sendContact() {
    const phone = phoneInput.value.trim();
    if (!phone) { phoneInput.focus(); return; }
    sendFrame({ type: 'contact', name: nameInput.value.trim() || null, phone });
  }

  input.addEventListener('input', () => {
    sendBtn.disabled = !input.value.trim();
    const now = Date.now();
    if (input.value.trim() && now - lastTypingSent > 3000) {
      lastTypingSent = now;
      sendFrame({ type: 'typing' });
    }
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendText(); }
  });
  document.addEventListener('visibilitychange', () => {
    if (open && document.visibilityState === 'visible') { setUnread(0); sendFrame({ type: 'read' }); }
  });

  function mount() {
    document.body.append(host);
    // A returning visitor: reconnect at once so replies show up even before the chat is opened.
    if (visitorToken) connect();
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
