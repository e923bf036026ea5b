// Settings › Dead letters (owners and admins): inbound webhooks that failed to apply or name
// an account nobody has connected; each with its error and a Replay button.
import { h, replaceChildren } from '../../dom.js';
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { loading, failure, toast } from '../../ui.js';
import { platformLabel } from '../../format.js';
import { errorBox, busy, fmtDate, selectField, sectionHead } from './common.js';

export function mount(container) {
  let alive = true;
  let events = null;
  const listEl = h('div', { testid: 'events-list' }, loading());
  const listError = errorBox('events-error');
  const status = selectField({ id: 'events-status', label: 'settings.d.status', value: 'failed', testid: 'events-status',
    options: [['failed', 'settings.d.st.failed'], ['unrouted', 'settings.d.st.unrouted']] });
  status.input.addEventListener('change', () => load());

  replaceChildren(container,
    sectionHead('settings.section.events', 'settings.d.lead'),
    h('section', { class: 'panel' },
      h('div', { class: 'toolbar' }, status.el,
        h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'events-refresh', t: 'settings.refresh', on: { click: () => load() } })),
      listError.el, listEl));

  let token = 0;
  async function load() {
    const my = ++token;
    try {
      const r = await api.get('/inbound-events', { status: status.input.value, limit: 100 });
      if (!alive || my !== token) return;
      events = r;
      render();
    } catch (err) {
      if (alive && my === token) replaceChildren(listEl, failure(err, load));
    }
  }

  function render() {
    if (!events) return;
    if (!events.length) { replaceChildren(listEl, h('p', { class: 'muted', testid: 'events-empty', t: 'settings.d.empty' })); return; }
    replaceChildren(listEl, h('ul', { class: 'event-list' }, events.map((ev) => {
      const replay = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'event-replay', t: 'settings.d.replay' });
      replay.addEventListener('click', () => busy(replay, async () => {
        listError.clear();
        try {
          await api.post(`/inbound-events/${ev.id}/replay`);
          toast(t('settings.d.replayed', { id: ev.id }));
          events = events.filter((x) => x.id !== ev.id);
          render();
        } catch (err) { listError.show(err); }
      }));
      return h('li', { class: 'panel event-item', testid: 'event-row', dataset: { id: String(ev.id) } },
        h('div', { class: 'event-head' },
          h('strong', { text: `#${ev.id}` }),
          h('span', { class: 'badge', text: platformLabel(ev.platform) }),
          h('span', { class: 'muted small', text: fmtDate(ev.received_at) }),
          h('span', { class: 'muted small', text: t('settings.d.attempts', { n: ev.attempts ?? 0 }) }),
          replay),
        ev.error ? h('p', { class: 'channel-error-text wrap', testid: 'event-error', text: ev.error }) : null,
        h('details', {},
          h('summary', { t: 'settings.d.body' }),
          h('pre', { class: 'code-block', text: ev.body ?? '' })));
    })));
  }

  load();
  return {
    handleEvent(type) { if (type === 'resync') load(); },
    onLang() { listError.relang(); render(); },
    destroy() { alive = false; },
  };
}
