// Settings › Fulfillment endpoints: where confirmed orders are pushed (Standard Webhooks).
// List, create (the secret is shown once), edit, enable / disable, delete; an endpoint's
// delivery log, a message's detail (body and every attempt) and Redeliver. Live from the
// webhook.* and webhook_endpoint.disabled frames.
import { h, replaceChildren } from '../../dom.js';
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { loading, failure, toast, dialog } from '../../ui.js';
import {
  errorBox, busy, fmtDate, inputField, checkField, selectField, actions, confirmAction,
  secretDialog, sectionHead, debounce,
} from './common.js';

const EVENT_TYPES = ['order.confirmed', 'order.updated', 'order.cancelled', 'order.status_changed'];

export function mount(container, ctx) {
  const manage = ctx.can('pipeline');
  let endpoints = null;
  let editing = null;
  let selected = null; // endpoint id whose log is shown
  let messages = null;
  let alive = true;
  const listEl = h('div', { class: 'table-wrap', testid: 'endpoint-list' }, loading());
  const listError = errorBox('endpoints-error');

  // ── create / edit form ──
  const url = inputField({ id: 'endpoint-url', label: 'settings.e.url', type: 'url', required: true, testid: 'endpoint-url', placeholder: 'https://', maxLength: 2048 });
  const desc = inputField({ id: 'endpoint-description', label: 'settings.e.description', testid: 'endpoint-description', maxLength: 500 });
  const types = EVENT_TYPES.map((ev) => checkField({ id: `endpoint-ev-${ev.replace(/\W/g, '-')}`, label: `settings.e.ev.${ev}`, testid: `endpoint-ev-${ev}` }));
  const typesBox = h('fieldset', { class: 'checks' }, h('legend', { t: 'settings.e.events' }), types.map((x) => x.el), h('p', { class: 'hint', t: 'settings.e.events_hint' }));
  const formTitle = h('h3', { t: 'settings.e.new' });
  const formError = errorBox('endpoint-form-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'endpoint-save', t: 'settings.e.add' });
  const cancelEdit = h('button', { type: 'button', class: 'btn btn-secondary', t: 'common.cancel', hidden: true, on: { click: () => startEdit(null) } });
  const form = h('form', { noValidate: true, class: 'settings-form', testid: 'endpoint-form' },
    formTitle, h('div', { class: 'form-grid' }, url.el, desc.el), typesBox, formError.el, actions(cancelEdit, save));

  function setKey(el, key) { el.dataset.i18n = key; el.textContent = t(key); }

  function startEdit(ep) {
    editing = ep;
    formError.clear();
    url.input.value = ep?.url ?? '';
    desc.input.value = ep?.description ?? '';
    const chosen = new Set(ep?.event_types ?? []);
    EVENT_TYPES.forEach((ev, i) => { types[i].input.checked = chosen.has(ev); });
    setKey(formTitle, ep ? 'settings.e.edit' : 'settings.e.new');
    setKey(save, ep ? 'common.save' : 'settings.e.add');
    cancelEdit.hidden = !ep;
    if (ep) url.input.focus();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    formError.clear();
    const u = url.input.value.trim();
    let ok = false;
    try { ok = ['http:', 'https:'].includes(new URL(u).protocol); } catch { ok = false; }
    if (!ok) { formError.show('settings.v.url'); url.input.focus(); return; }
    const body = { url: u, description: desc.input.value.trim() || null, event_types: EVENT_TYPES.filter((_, i) => types[i].input.checked) };
    busy(save, async () => {
      try {
        if (editing) {
          const r = await api.patch(`/webhook-endpoints/${editing.id}`, body);
          endpoints = endpoints.map((x) => (x.id === r.id ? r : x));
          startEdit(null);
          renderList();
          toast(t('common.saved'));
        } else {
          const r = await api.post('/webhook-endpoints', body);
          const { secret, ...ep } = r;
          endpoints = [...(endpoints || []), ep];
          startEdit(null);
          renderList();
          selectEndpoint(ep.id);
          await secretDialog('settings.e.secret_title', secret);
        }
      } catch (err) { formError.show(err); }
    });
  });

  // ── delivery log ──
  const logStatus = selectField({ id: 'endpoint-log-status', label: 'settings.e.log_status', value: '', testid: 'endpoint-log-status',
    options: [['', 'settings.e.st.all'], ['pending', 'settings.e.st.pending'], ['delivered', 'settings.e.st.delivered'], ['failed', 'settings.e.st.failed']] });
  logStatus.input.addEventListener('change', () => loadLog());
  const logTitle = h('h2', {});
  const logBody = h('div', { class: 'table-wrap' });
  const logError = errorBox('endpoint-log-error');
  const logPanel = h('section', { class: 'panel', testid: 'endpoint-log', hidden: true },
    logTitle,
    h('div', { class: 'toolbar' }, logStatus.el,
      h('button', { type: 'button', class: 'btn btn-secondary btn-sm', t: 'settings.refresh', on: { click: () => loadLog() } })),
    logError.el, logBody);

  replaceChildren(container,
    sectionHead('settings.section.fulfillment', 'settings.e.lead'),
    h('section', { class: 'panel' }, listError.el, listEl),
    logPanel,
    manage ? h('section', { class: 'panel' }, form) : null);

  async function load() {
    try {
      endpoints = await api.get('/webhook-endpoints');
      if (!alive) return;
      renderList();
      if (selected && !endpoints.some((x) => x.id === selected)) selectEndpoint(null);
    } catch (err) {
      if (alive) replaceChildren(listEl, failure(err, load));
    }
  }

  function renderList() {
    if (!endpoints) return;
    if (!endpoints.length) { replaceChildren(listEl, h('p', { class: 'muted', testid: 'endpoint-empty', t: 'settings.e.empty' })); return; }
    replaceChildren(listEl, h('table', { class: 'table' },
      h('thead', {}, h('tr', {},
        h('th', { t: 'settings.e.url' }), h('th', { t: 'settings.e.state' }), h('th', { t: 'settings.e.last_success' }),
        h('th', { t: 'settings.e.failing_since' }), h('th', {}))),
      h('tbody', {}, endpoints.map(row))));
  }

  function row(ep) {
    const state = ep.enabled ? (ep.failing_since ? 'failing' : 'enabled') : 'disabled';
    const cls = state === 'enabled' ? 'badge badge-ok' : state === 'failing' ? 'badge badge-warn' : 'badge badge-danger';
    const log = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'endpoint-log-open', t: 'settings.e.log', 'aria-pressed': String(selected === ep.id), on: { click: () => selectEndpoint(ep.id) } });
    const btns = [log];
    if (manage) {
      const edit = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'endpoint-edit', t: 'common.edit', on: { click: () => startEdit(ep) } });
      const toggle = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'endpoint-toggle', t: ep.enabled ? 'settings.e.disable' : 'settings.e.enable' });
      toggle.addEventListener('click', async () => {
        if (ep.enabled && !(await confirmAction(t('settings.e.disable_confirm', { url: ep.url }), { okKey: 'settings.e.disable' }))) return;
        listError.clear();
        await busy(toggle, async () => {
          try {
            const r = await api.patch(`/webhook-endpoints/${ep.id}`, { enabled: !ep.enabled });
            endpoints = endpoints.map((x) => (x.id === r.id ? r : x));
            renderList();
          } catch (err) { listError.show(err); }
        });
      });
      const del = h('button', { type: 'button', class: 'btn settings-danger btn-sm', testid: 'endpoint-delete', t: 'common.delete' });
      del.addEventListener('click', async () => {
        if (!(await confirmAction(t('settings.e.delete_confirm', { url: ep.url })))) return;
        listError.clear();
        await busy(del, async () => {
          try {
            await api.del(`/webhook-endpoints/${ep.id}`);
            endpoints = endpoints.filter((x) => x.id !== ep.id);
            if (selected === ep.id) selectEndpoint(null);
            if (editing?.id === ep.id) startEdit(null);
            renderList();
          } catch (err) { listError.show(err); }
        });
      });
      btns.push(edit, toggle, del);
    }
    return h('tr', { testid: 'endpoint-row', dataset: { id: ep.id, state } },
      h('td', {},
        h('div', { class: 'wrap strong', text: ep.url }),
        ep.description ? h('div', { class: 'muted small', text: ep.description }) : null,
        h('div', { class: 'muted small', text: (ep.event_types?.length ? ep.event_types : ['*']).join(', ') })),
      h('td', {},
        h('span', { class: cls, testid: 'endpoint-state', text: t(`settings.e.state.${state}`) }),
        ep.disabled_reason ? h('div', { class: 'small channel-error-text', text: ep.disabled_reason }) : null),
      h('td', { text: fmtDate(ep.last_success_at) }),
      h('td', { text: fmtDate(ep.failing_since) }),
      h('td', {}, h('div', { class: 'toolbar' }, btns)));
  }

  function selectEndpoint(id) {
    selected = id;
    messages = null;
    logPanel.hidden = !id;
    renderList();
    if (id) {
      renderLogTitle();
      loadLog();
      logPanel.scrollIntoView?.({ block: 'nearest' });
    }
  }

  function renderLogTitle() {
    const ep = endpoints?.find((x) => x.id === selected);
    logTitle.textContent = t('settings.e.log_title', { url: ep?.url ?? '' });
  }

  let logToken = 0;
  async function loadLog() {
    if (!selected) return;
    const my = ++logToken;
    logError.clear();
    if (!messages) replaceChildren(logBody, loading());
    try {
      const r = await api.get(`/webhook-endpoints/${selected}/messages`, { status: logStatus.input.value || null, limit: 100 });
      if (!alive || my !== logToken) return;
      messages = r;
      renderLog();
    } catch (err) {
      if (alive && my === logToken) replaceChildren(logBody, failure(err, loadLog));
    }
  }
  const reloadLog = debounce(loadLog, 400);
  const reloadList = debounce(load, 400);

  function renderLog() {
    if (!messages) return;
    if (!messages.length) { replaceChildren(logBody, h('p', { class: 'muted', testid: 'endpoint-log-empty', t: 'settings.e.log_empty' })); return; }
    replaceChildren(logBody, h('table', { class: 'table' },
      h('thead', {}, h('tr', {},
        h('th', { t: 'settings.e.msg.event' }), h('th', { t: 'settings.e.msg.status' }), h('th', { class: 'num', t: 'settings.e.msg.attempts' }),
        h('th', { t: 'settings.e.msg.code' }), h('th', { t: 'settings.e.msg.created' }), h('th', {}))),
      h('tbody', {}, messages.map((m) => h('tr', { testid: 'endpoint-message', dataset: { id: m.id, status: m.status } },
        h('td', {}, h('code', { text: m.event_type })),
        h('td', {}, h('span', { class: m.status === 'delivered' ? 'badge badge-ok' : m.status === 'failed' ? 'badge badge-danger' : 'badge badge-warn', text: t(`settings.e.st.${m.status}`) })),
        h('td', { class: 'num', text: String(m.attempts ?? 0) }),
        h('td', { text: m.last_status_code ?? t('common.none') }),
        h('td', { text: fmtDate(m.created_at) }),
        h('td', {}, h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'endpoint-message-open', t: 'settings.e.msg.open', on: { click: () => openMessage(m.id) } })))))));
  }

  async function openMessage(id) {
    const body = h('div', { class: 'message-detail', testid: 'endpoint-message-detail' }, loading());
    const d = dialog('settings.e.msg.title', body, { testid: 'message-dialog', wide: true });
    const err = errorBox('message-error');
    const paint = (m) => {
      const redeliver = manage ? h('button', { type: 'button', class: 'btn btn-primary', testid: 'endpoint-redeliver', t: 'settings.e.redeliver' }) : null;
      redeliver?.addEventListener('click', () => busy(redeliver, async () => {
        err.clear();
        try {
          await api.post(`/webhook-messages/${encodeURIComponent(id)}/redeliver`);
          toast(t('settings.e.redelivered'));
          d.close();
          loadLog();
        } catch (e) { err.show(e.status === 409 ? 'settings.e.redeliver_conflict' : e); }
      }));
      replaceChildren(body,
        h('dl', { class: 'facts' },
          h('dt', { t: 'settings.e.msg.id' }), h('dd', {}, h('code', { class: 'wrap', text: m.id })),
          h('dt', { t: 'settings.e.msg.event' }), h('dd', { text: m.event_type }),
          h('dt', { t: 'settings.e.msg.status' }), h('dd', { text: t(`settings.e.st.${m.status}`) }),
          h('dt', { t: 'settings.e.msg.attempts' }), h('dd', { text: String(m.attempts ?? 0) })),
        h('h3', { t: 'settings.e.msg.body' }),
        h('pre', { class: 'code-block', testid: 'endpoint-message-body', text: prettyBody(m) }),
        h('h3', { t: 'settings.e.msg.deliveries' }),
        m.deliveries?.length
          ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
            h('thead', {}, h('tr', {},
              h('th', { class: 'num', text: '#' }), h('th', { t: 'settings.e.msg.code' }), h('th', { class: 'num', t: 'settings.e.msg.duration' }),
              h('th', { t: 'settings.e.msg.result' }), h('th', { t: 'settings.e.msg.when' }))),
            h('tbody', {}, m.deliveries.map((x) => h('tr', { testid: 'endpoint-delivery' },
              h('td', { class: 'num', text: String(x.attempt) }),
              h('td', { text: x.status_code ?? t('common.none') }),
              h('td', { class: 'num', text: x.duration_ms != null ? `${x.duration_ms} ms` : t('common.none') }),
              h('td', {}, x.error ? h('div', { class: 'channel-error-text wrap', text: x.error }) : null,
                x.response ? h('pre', { class: 'code-block small', text: x.response }) : null),
              h('td', { text: fmtDate(x.created_at) }))))))
          : h('p', { class: 'muted', t: 'settings.e.msg.no_deliveries' }),
        err.el,
        actions(h('button', { type: 'button', class: 'btn btn-secondary', t: 'common.close', on: { click: () => d.close() } }), redeliver));
    };
    try {
      paint(await api.get(`/webhook-messages/${encodeURIComponent(id)}`));
    } catch (e) {
      replaceChildren(body, failure(e, null));
    }
  }

  function prettyBody(m) {
    if (m.payload !== undefined && m.payload !== null) {
      try { return JSON.stringify(m.payload, null, 2); } catch { /* fall through */ }
    }
    return m.body ?? '';
  }

  load();

  return {
    handleEvent(type, data) {
      if (type.startsWith('webhook.')) {
        if (data?.endpoint_id && data.endpoint_id === selected) reloadLog();
        reloadList();
      } else if (type === 'order.created' || type === 'order.updated') {
        // A confirmed order queues a message for the endpoints: show it as pending.
        if (selected) reloadLog();
      } else if (type === 'webhook_endpoint.disabled') {
        toast(t('settings.e.disabled_toast', { url: data?.url ?? '' }), { kind: 'warn', ms: 0 });
        load();
      } else if (type === 'resync') {
        load();
        loadLog();
      }
    },
    onLang() {
      listError.relang(); formError.relang(); logError.relang();
      renderList();
      if (selected) { renderLogTitle(); renderLog(); }
    },
    destroy() { alive = false; reloadLog.cancel(); reloadList.cancel(); },
  };
}
