// Settings › Feedback: whether and when customers are asked to rate a delivered order, the
// question, the messages sent on order status changes; and the latest answers (live from
// feedback.received). Saving re-reads the stored pipeline settings first so the assignment
// fields are kept.
import { h, replaceChildren } from '../../dom.js';
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { loading, failure, toast } from '../../ui.js';
import { errorBox, busy, fmtDate, inputField, areaField, checkField, actions, sectionHead, debounce } from './common.js';

const STATUS_KEYS = ['shipped', 'delivered'];

export function mount(container) {
  let alive = true;
  let answers = null;
  let lastDelay = 24;
  const formBody = h('div', {}, loading());
  const enabled = checkField({ id: 'feedback-enabled', label: 'settings.f.enabled', testid: 'feedback-enabled' });
  const delay = inputField({ id: 'feedback-delay', label: 'settings.f.delay', type: 'number', min: 1, max: 8760, testid: 'feedback-delay', hint: 'settings.f.delay_hint' });
  const question = areaField({ id: 'feedback-question', label: 'settings.f.question', testid: 'feedback-question', hint: 'settings.f.question_hint', rows: 3, maxLength: 1000 });
  const statusFields = STATUS_KEYS.map((k) => areaField({ id: `status-template-${k}`, label: `settings.f.status.${k}`, testid: `status-template-${k}`, rows: 2, maxLength: 1000 }));
  const err = errorBox('feedback-settings-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'feedback-save', t: 'common.save' });
  enabled.input.addEventListener('change', () => {
    delay.input.disabled = !enabled.input.checked;
    if (enabled.input.checked && !delay.input.value) delay.input.value = lastDelay || 24;
  });
  const form = h('form', { noValidate: true, class: 'settings-form', testid: 'feedback-form' },
    enabled.el, delay.el, question.el,
    h('h3', { t: 'settings.f.status_title' }), h('p', { class: 'hint', t: 'settings.f.status_hint' }),
    statusFields.map((f) => f.el), err.el, actions(save));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.clear();
    let hours = 0;
    if (enabled.input.checked) {
      hours = Number(delay.input.value);
      if (!Number.isInteger(hours) || hours < 1) { err.show('settings.v.delay'); delay.input.focus(); return; }
      if (!question.input.value.trim()) { err.show('settings.v.question'); question.input.focus(); return; }
    }
    busy(save, async () => {
      try {
        const current = await api.get('/pipeline-settings');
        const templates = { ...(current.status_templates || {}) };
        STATUS_KEYS.forEach((k, i) => {
          const v = statusFields[i].input.value.trim();
          if (v) templates[k] = v; else delete templates[k];
        });
        const next = {
          ...current,
          feedback_delay_hours: hours,
          feedback_template: question.input.value.trim() || current.feedback_template,
          status_templates: templates,
        };
        fill(await api.put('/pipeline-settings', next));
        toast(t('common.saved'));
      } catch (e2) { err.show(e2); }
    });
  });

  function fill(s) {
    const hours = s.feedback_delay_hours ?? 0;
    enabled.input.checked = hours > 0;
    if (hours > 0) lastDelay = hours;
    delay.input.value = hours > 0 ? hours : '';
    delay.input.disabled = hours <= 0;
    question.input.value = s.feedback_template ?? '';
    STATUS_KEYS.forEach((k, i) => { statusFields[i].input.value = s.status_templates?.[k] ?? ''; });
  }

  async function loadSettings() {
    try {
      const s = await api.get('/pipeline-settings');
      if (!alive) return;
      fill(s);
      replaceChildren(formBody, form);
    } catch (e) {
      if (alive) replaceChildren(formBody, failure(e, loadSettings));
    }
  }

  // ── latest answers ──
  const complaints = checkField({ id: 'feedback-complaints', label: 'settings.f.only_complaints', testid: 'feedback-complaints' });
  complaints.input.addEventListener('change', () => loadAnswers());
  const answersEl = h('div', { class: 'table-wrap', testid: 'feedback-answers' }, loading());

  async function loadAnswers() {
    try {
      const r = await api.get('/feedback', { limit: 50, rating_lte: complaints.input.checked ? 2 : null });
      if (!alive) return;
      answers = r;
      renderAnswers();
    } catch (e) {
      if (alive) replaceChildren(answersEl, failure(e, loadAnswers));
    }
  }
  const reloadAnswers = debounce(loadAnswers, 400);

  function renderAnswers() {
    if (!answers) return;
    if (!answers.length) { replaceChildren(answersEl, h('p', { class: 'muted', testid: 'feedback-empty', t: 'settings.f.empty' })); return; }
    replaceChildren(answersEl, h('table', { class: 'table' },
      h('thead', {}, h('tr', {},
        h('th', { t: 'settings.f.order' }), h('th', { t: 'settings.f.rating' }), h('th', { t: 'settings.f.comment' }),
        h('th', { t: 'settings.f.category' }), h('th', { t: 'settings.f.answered' }))),
      h('tbody', {}, answers.map((a) => h('tr', { testid: 'feedback-row', dataset: { id: a.id, rating: a.rating ?? '' } },
        h('td', {}, a.conversation_id
          ? h('a', { href: `/inbox/${encodeURIComponent(a.conversation_id)}`, dataset: { nav: '' }, text: a.order_code })
          : h('span', { text: a.order_code })),
        h('td', {}, a.rating != null
          ? h('span', { class: a.rating <= 2 ? 'badge badge-danger' : 'badge badge-ok', 'aria-label': t('settings.f.stars', { n: a.rating }), text: `${'★'.repeat(a.rating)}${'☆'.repeat(Math.max(0, 5 - a.rating))}` })
          : t('common.none')),
        h('td', { class: 'wrap', text: a.comment || t('common.none') }),
        h('td', { text: a.category_label || t('common.none') }),
        h('td', { text: fmtDate(a.answered_at) }))))));
  }

  replaceChildren(container,
    sectionHead('settings.section.feedback', 'settings.f.lead'),
    h('section', { class: 'panel' }, formBody),
    h('section', { class: 'panel' }, h('h2', { t: 'settings.f.answers' }), h('div', { class: 'toolbar' }, complaints.el), answersEl));
  loadSettings();
  loadAnswers();

  return {
    handleEvent(type) {
      if (type === 'feedback.received') reloadAnswers();
      else if (type === 'resync') loadAnswers();
    },
    onLang() { err.relang(); renderAnswers(); },
    destroy() { alive = false; reloadAnswers.cancel(); },
  };
}
