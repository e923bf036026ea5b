// Settings › Channels: every channel account with its status, health, webhook activity and
// history import (live from channel.updated / channel.backfill), its lead settings, disable /
// disconnect / import history; and the shop channels (external shops pushing orders).
import { h, replaceChildren } from '../../dom.js';
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { loading, failure, toast } from '../../ui.js';
import { platformLabel } from '../../format.js';
import {
  errorBox, busy, fmtDate, inputField, selectField, checkField, actions, confirmAction,
  secretDialog, sectionHead,
} from './common.js';

const META = new Set(['facebook', 'instagram']);
const CONNECT_URL = '/api/v1/channels/facebook/connect';

/** Accounts connected by OAuth 2 (Zalo OA, YouTube …) reconnect through their own consent page. */
const viaOAuth = (a) => a.settings?.connected_via === 'oauth';
const connectUrl = (a) => (viaOAuth(a) ? `/api/v1/channels/${encodeURIComponent(a.platform)}/oauth/connect` : CONNECT_URL);
const canReconnect = (a) => META.has(a.platform) || viaOAuth(a);

export function mount(container, ctx) {
  const manage = ctx.can('channels');
  const pipeline = ctx.can('pipeline');
  let accounts = [];
  const backfillFrames = new Map(); // account id → channel.backfill frames seen
  const cards = new Map(); // id → {root, parts…}
  const listEl = h('div', { class: 'channel-list', testid: 'channel-list' }, loading());
  const shopList = h('div', { class: 'table-wrap' });
  const topError = errorBox('channels-error');
  const connectBar = h('div', { class: 'toolbar', testid: 'channels-connect-bar' });
  let alive = true;

  replaceChildren(container,
    sectionHead('settings.section.channels', 'settings.ch.lead', manage ? connectBar : null),
    topError.el,
    listEl,
    h('section', { class: 'panel', testid: 'shop-channels' },
      h('h2', { t: 'settings.shop.title' }),
      h('p', { class: 'muted', t: 'settings.shop.lead' }),
      shopList,
      pipeline ? shopForm() : null));

  // Coming back from a platform's consent page (`?connected=zalo` / `?connect_error=code`).
  const back = new URLSearchParams(window.location.search);
  if (back.get('connected')) toast(t('settings.ch.connected', { platform: platformLabel(back.get('connected')) }));
  if (back.get('connect_error')) {
    const code = back.get('connect_error');
    toast(t('settings.ch.connect_failed', { code }), { kind: 'warn', ms: 0 });
  }

  async function loadConnectable() {
    if (!manage) return;
    let list = [];
    try { list = await api.get('/channels/connectable'); } catch { list = []; }
    if (!alive) return;
    // A full navigation each: the server redirects to the platform's consent page.
    replaceChildren(connectBar, list.length
      ? list.map((c) => h('a', {
        class: 'btn btn-primary',
        href: c.connect_url,
        testid: c.platform === 'facebook' ? 'channels-connect' : `channels-connect-${c.platform}`,
        text: c.platform === 'facebook' ? t('settings.ch.connect') : t('settings.ch.connect_platform', { platform: platformLabel(c.platform) }),
      }))
      : h('p', { class: 'muted', testid: 'channels-none-configured', t: 'settings.ch.none_configured' }));
  }

  async function load() {
    try {
      accounts = await api.get('/channel-accounts');
      if (!alive) return;
      render();
    } catch (err) {
      if (!alive) return;
      replaceChildren(listEl, failure(err, load));
    }
  }

  function render() {
    const social = accounts.filter((a) => a.platform !== 'shop');
    if (!social.length) {
      cards.clear();
      replaceChildren(listEl, h('p', { class: 'empty', t: 'settings.ch.empty' }));
    } else {
      const seen = new Set();
      const nodes = social.map((a) => {
        seen.add(a.id);
        let c = cards.get(a.id);
        if (!c) { c = card(a); cards.set(a.id, c); }
        c.update(a);
        return c.root;
      });
      for (const id of [...cards.keys()]) if (!seen.has(id)) cards.delete(id);
      replaceChildren(listEl, nodes);
    }
    renderShops();
  }

  function statusBadge(a) {
    const cls = a.status === 'active' ? 'badge badge-ok' : a.status === 'needs_reauth' ? 'badge badge-danger' : 'badge';
    return h('span', { class: cls, testid: 'channel-status', dataset: { status: a.status }, text: t(`settings.ch.status.${a.status}`) });
  }

  function card(initial) {
    const id = initial.id;
    const head = h('div', { class: 'channel-head' });
    const health = h('div', { class: 'channel-health' });
    const backfill = h('div', { class: 'channel-backfill', testid: 'channel-backfill' });
    const acts = h('div', { class: 'toolbar' });
    const err = errorBox('channel-error');
    let form = null;
    const root = h('article', { class: 'panel channel', testid: 'channel-row', dataset: { id } }, head, health, backfill);
    if (manage && META.has(initial.platform)) {
      form = settingsForm(initial);
      root.append(form.el);
    }
    root.append(err.el, acts);

    function update(a) {
      root.dataset.status = a.status;
      replaceChildren(head,
        h('span', { class: 'badge badge-platform', dataset: { platform: a.platform }, text: platformLabel(a.platform) }),
        h('h3', { class: 'channel-name', testid: 'channel-name', text: a.name || a.external_id }),
        statusBadge(a));
      const hl = a.health || {};
      replaceChildren(health,
        a.status === 'needs_reauth'
          ? h('div', { class: 'alert channel-reauth', testid: 'channel-reauth' },
            h('p', { text: t('settings.ch.reauth', { platform: platformLabel(a.platform) }) }),
            hl.last_error ? h('p', { class: 'channel-error-text', text: hl.last_error }) : null,
            manage && canReconnect(a) ? h('a', { class: 'btn btn-primary btn-sm', href: connectUrl(a), testid: 'channel-reconnect', t: 'settings.ch.reconnect' }) : null)
          : null,
        h('dl', { class: 'facts' },
          h('dt', { t: 'settings.ch.health' }),
          h('dd', {}, h('span', { class: `badge health-${hl.state}`, testid: 'channel-health', dataset: { state: hl.state || '' }, text: t(`settings.ch.health.${hl.state || 'ok'}`) })),
          h('dt', { t: 'settings.ch.last_event' }),
          h('dd', { text: fmtDate(hl.last_event_at) }),
          a.token_expires_at ? [h('dt', { t: 'settings.ch.token_expires' }), h('dd', { testid: 'channel-token-expires', text: t('settings.ch.token_expires_at', { at: fmtDate(a.token_expires_at) }) })] : null,
          hl.last_error && a.status !== 'needs_reauth' ? [h('dt', { t: 'settings.ch.last_error' }), h('dd', { class: 'channel-error-text', text: `${hl.last_error} · ${fmtDate(hl.last_error_at)}` })] : null),
        hl.state === 'quiet' ? h('p', { class: 'notice', t: 'settings.ch.quiet' }) : null);
      renderBackfill(a);
      replaceChildren(acts, manage ? actionButtons(a) : null);
    }

    function renderBackfill(a) {
      const b = a.backfill;
      if (!b || !META.has(a.platform)) { replaceChildren(backfill); return; }
      backfill.dataset.state = b.state || '';
      const cls = b.state === 'done' ? 'badge badge-ok' : b.state === 'failed' ? 'badge badge-danger' : 'badge badge-warn';
      replaceChildren(backfill,
        h('span', { class: 'backfill-label', t: 'settings.ch.backfill' }),
        h('span', { class: cls, text: t(`settings.ch.backfill.${b.state}`) }),
        h('span', { class: 'muted', text: t('settings.ch.backfill.counts', { messages: b.messages ?? 0, comments: b.comments ?? 0 }) }),
        b.finished_at ? h('span', { class: 'muted', text: t('settings.ch.backfill.finished', { at: fmtDate(b.finished_at) }) })
          : b.started_at ? h('span', { class: 'muted', text: t('settings.ch.backfill.started', { at: fmtDate(b.started_at) }) }) : null,
        b.error ? h('span', { class: 'channel-error-text', text: b.error }) : null,
        b.retry_at ? h('span', { class: 'muted', text: t('settings.ch.backfill.retry', { at: fmtDate(b.retry_at) }) }) : null);
    }

    function actionButtons(a) {
      const out = [];
      const running = a.backfill && (a.backfill.state === 'queued' || a.backfill.state === 'running');
      if (META.has(a.platform) && a.status === 'active' && !running) {
        const b = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'channel-backfill-start', t: 'settings.ch.import' });
        b.addEventListener('click', () => busy(b, async () => {
          err.clear();
          try {
            // The import may start, run and finish (live frames) before this answer arrives:
            // then its "queued" is older than what the frames said and must not win.
            const seen = backfillFrames.get(id) ?? 0;
            const answer = await api.post(`/channel-accounts/${id}/backfill`);
            if ((backfillFrames.get(id) ?? 0) !== seen) {
              answer.backfill = accounts.find((x) => x.id === id)?.backfill ?? answer.backfill;
            }
            replace(answer);
            toast(t('settings.ch.import_started'));
          } catch (e) { err.show(e); }
        }));
        out.push(b);
      }
      if (a.status !== 'disabled') {
        const b = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'channel-disable', t: 'settings.ch.disable' });
        b.addEventListener('click', async () => {
          if (!(await confirmAction(t('settings.ch.disable_confirm', { name: a.name }), { okKey: 'settings.ch.disable' }))) return;
          await busy(b, async () => {
            err.clear();
            try { replace(await api.post(`/channel-accounts/${id}/disable`)); } catch (e) { err.show(e); }
          });
        });
        out.push(b);
      }
      if (canReconnect(a) && (a.has_access_token || a.status !== 'disabled')) {
        const b = h('button', { type: 'button', class: 'btn settings-danger btn-sm', testid: 'channel-disconnect', t: 'settings.ch.disconnect' });
        b.addEventListener('click', async () => {
          if (!(await confirmAction(t('settings.ch.disconnect_confirm', { name: a.name }), { okKey: 'settings.ch.disconnect' }))) return;
          await busy(b, async () => {
            err.clear();
            try {
              const r = await api.post(`/channel-accounts/${id}/disconnect`);
              if (r?.account) replace(r.account);
              if (r?.error) toast(t('settings.ch.disconnect_partial', { error: r.error }), { kind: 'warn', ms: 0 });
              else toast(t('settings.ch.disconnected'));
            } catch (e) { err.show(e); }
          });
        });
        out.push(b);
      }
      if (a.status === 'disabled' && canReconnect(a)) {
        out.push(h('a', { class: 'btn btn-secondary btn-sm', href: connectUrl(a), t: 'settings.ch.reconnect' }));
      }
      return out;
    }

    return { root, update, renderBackfill };
  }

  function settingsForm(a) {
    const s = a.settings || {};
    const hide = checkField({ id: `ch-hide-${a.id}`, label: 'settings.ch.hide_phone', checked: !!s.hide_phone_comments, testid: 'channel-hide-phone', hint: 'settings.ch.hide_phone_hint' });
    const reply = inputField({ id: `ch-reply-${a.id}`, label: 'settings.ch.private_reply', value: s.phone_private_reply || '', testid: 'channel-private-reply', hint: 'settings.ch.private_reply_hint', maxLength: 1000 });
    const err = errorBox('channel-settings-error');
    const save = h('button', { type: 'submit', class: 'btn btn-secondary btn-sm', testid: 'channel-settings-save', t: 'common.save' });
    const el = h('form', { noValidate: true, class: 'channel-settings' },
      h('h4', { t: 'settings.ch.lead_settings' }), hide.el, reply.el, err.el, actions(save));
    el.addEventListener('submit', (e) => {
      e.preventDefault();
      err.clear();
      busy(save, async () => {
        const acc = accounts.find((x) => x.id === a.id) || a;
        const text = reply.input.value.trim();
        const settings = { ...(acc.settings || {}), hide_phone_comments: hide.input.checked, phone_private_reply: text || null };
        try {
          replace(await api.patch(`/channel-accounts/${a.id}`, { settings }));
          toast(t('common.saved'));
        } catch (e2) { err.show(e2); }
      });
    });
    return { el, relang: () => err.relang() };
  }

  function replace(acc) {
    if (!acc?.id) return;
    const i = accounts.findIndex((x) => x.id === acc.id);
    if (i >= 0) accounts[i] = acc; else accounts.push(acc);
    render();
  }

  function renderShops() {
    const shops = accounts.filter((a) => a.platform === 'shop');
    if (!shops.length) {
      replaceChildren(shopList, h('p', { class: 'muted', testid: 'shop-empty', t: 'settings.shop.empty' }));
      return;
    }
    replaceChildren(shopList, h('table', { class: 'table' },
      h('thead', {}, h('tr', {},
        h('th', { t: 'settings.shop.name' }), h('th', { t: 'settings.shop.lands_as' }),
        h('th', { t: 'settings.shop.webhook' }), h('th', { t: 'settings.ch.status' }), h('th', {}))),
      h('tbody', {}, shops.map((a) => {
        const err = errorBox('shop-error');
        let dis = null;
        if (manage && a.status !== 'disabled') {
          dis = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'shop-disable', t: 'settings.ch.disable' });
          dis.addEventListener('click', async () => {
            if (!(await confirmAction(t('settings.ch.disable_confirm', { name: a.name }), { okKey: 'settings.ch.disable' }))) return;
            await busy(dis, async () => {
              try { replace(await api.post(`/channel-accounts/${a.id}/disable`)); } catch (e) { err.show(e); }
            });
          });
        }
        return h('tr', { testid: 'shop-row', dataset: { id: a.id } },
          h('td', { text: a.name }),
          h('td', { text: t(`settings.shop.lands.${a.settings?.orders_land_as || 'confirmed'}`) }),
          h('td', {}, h('code', { class: 'wrap', text: `${location.origin}/webhooks/shop/${a.id}` })),
          h('td', {}, statusBadge(a)),
          h('td', {}, dis, err.el));
      }))));
  }

  function shopForm() {
    const name = inputField({ id: 'shop-name', label: 'settings.shop.name', required: true, testid: 'shop-name', maxLength: 200 });
    const land = selectField({ id: 'shop-land', label: 'settings.shop.lands_as', value: 'confirmed', testid: 'shop-land',
      options: [['confirmed', 'settings.shop.lands.confirmed'], ['draft', 'settings.shop.lands.draft']] });
    const err = errorBox('shop-form-error');
    const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'shop-create', t: 'settings.shop.create' });
    const form = h('form', { noValidate: true, class: 'settings-form', testid: 'shop-form' },
      h('h3', { t: 'settings.shop.new' }), h('div', { class: 'form-grid' }, name.el, land.el), err.el, actions(save));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      err.clear();
      const n = name.input.value.trim();
      if (!n) { err.show('settings.v.name'); name.input.focus(); return; }
      busy(save, async () => {
        try {
          const r = await api.post('/shop-channels', { name: n, orders_land_as: land.input.value });
          form.reset();
          await load();
          await secretDialog('settings.shop.secret_title', r.secret, {
            extra: h('div', { class: 'field' },
              h('span', { class: 'hint', t: 'settings.shop.webhook' }),
              h('code', { class: 'wrap', testid: 'shop-webhook-url', text: `${location.origin}${r.webhook_path}` })),
          });
        } catch (e2) { err.show(e2); }
      });
    });
    return form;
  }

  load();
  loadConnectable();

  return {
    handleEvent(type, data) {
      if (type === 'channel.backfill') {
        const a = accounts.find((x) => x.id === data?.channel_account_id);
        if (!a) { load(); return; }
        backfillFrames.set(a.id, (backfillFrames.get(a.id) ?? 0) + 1);
        a.backfill = data.backfill;
        const c = cards.get(a.id);
        if (c) c.update(a);
      } else if (type === 'channel.updated' || type === 'resync') {
        load();
      }
    },
    onLang() {
      topError.relang();
      if (accounts.length) render();
    },
    destroy() { alive = false; },
  };
}
