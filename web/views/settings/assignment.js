// Settings › Assignment rules: how new leads and conversations are handed out (the pipeline
// settings' distribution fields and the automatic blacklist threshold). Saving re-reads the
// stored settings first so the feedback fields, edited elsewhere, are kept.
import { h, replaceChildren } from '../../dom.js';
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { loading, failure, toast } from '../../ui.js';
import { errorBox, busy, inputField, checkField, actions, sectionHead } from './common.js';

export function mount(container, ctx) {
  let alive = true;
  const body = h('div', {}, loading());
  const leads = checkField({ id: 'rule-distribute-leads', label: 'settings.a.distribute_leads', testid: 'rule-distribute-leads', hint: 'settings.a.distribute_leads_hint' });
  const convs = checkField({ id: 'rule-distribute-conversations', label: 'settings.a.distribute_conversations', testid: 'rule-distribute-conversations', hint: 'settings.a.distribute_conversations_hint' });
  const cap = inputField({ id: 'rule-max-open', label: 'settings.a.max_open', type: 'number', min: 1, max: 10000, required: true, testid: 'rule-max-open', hint: 'settings.a.max_open_hint' });
  const untouched = inputField({ id: 'rule-untouched', label: 'settings.a.untouched', type: 'number', min: 0, max: 100000, required: true, testid: 'rule-untouched', hint: 'settings.a.untouched_hint' });
  const returns = inputField({ id: 'rule-blacklist-after', label: 'settings.a.blacklist_after', type: 'number', min: 0, max: 1000, required: true, testid: 'rule-blacklist-after', hint: 'settings.a.blacklist_after_hint' });
  const err = errorBox('rules-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'rules-save', t: 'common.save' });
  const form = h('form', { noValidate: true, class: 'settings-form', testid: 'rules-form' },
    leads.el, convs.el, h('div', { class: 'form-grid' }, cap.el, untouched.el, returns.el),
    ctx.can('members') ? h('p', { class: 'hint' }, h('span', { t: 'settings.a.per_member' }), ' ',
      h('a', { href: '/settings/members', dataset: { nav: '' }, testid: 'rules-members-link', t: 'settings.a.per_member_link' })) : null,
    err.el, actions(save));

  const intOf = (input, min) => {
    const v = Number(input.value);
    return input.value.trim() !== '' && Number.isInteger(v) && v >= min ? v : null;
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.clear();
    const mine = {
      distribute_leads: leads.input.checked,
      distribute_conversations: convs.input.checked,
      max_open_per_agent: intOf(cap.input, 1),
      lead_untouched_minutes: intOf(untouched.input, 0),
      blacklist_after_returns: intOf(returns.input, 0),
    };
    if (mine.max_open_per_agent === null) { err.show('settings.v.cap'); cap.input.focus(); return; }
    if (mine.lead_untouched_minutes === null) { err.show('settings.v.non_negative'); untouched.input.focus(); return; }
    if (mine.blacklist_after_returns === null) { err.show('settings.v.non_negative'); returns.input.focus(); return; }
    busy(save, async () => {
      try {
        const current = await api.get('/pipeline-settings');
        fill(await api.put('/pipeline-settings', { ...current, ...mine }));
        toast(t('common.saved'));
      } catch (e2) { err.show(e2); }
    });
  });

  function fill(s) {
    leads.input.checked = !!s.distribute_leads;
    convs.input.checked = !!s.distribute_conversations;
    cap.input.value = s.max_open_per_agent ?? '';
    untouched.input.value = s.lead_untouched_minutes ?? '';
    returns.input.value = s.blacklist_after_returns ?? '';
  }

  async function load() {
    try {
      const s = await api.get('/pipeline-settings');
      if (!alive) return;
      fill(s);
      replaceChildren(body, form);
    } catch (e) {
      if (alive) replaceChildren(body, failure(e, load));
    }
  }

  replaceChildren(container, sectionHead('settings.section.assignment', 'settings.a.lead'), h('section', { class: 'panel' }, body));
  load();
  return {
    handleEvent() {},
    onLang() { err.relang(); },
    destroy() { alive = false; },
  };
}
