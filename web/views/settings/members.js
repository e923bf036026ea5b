// Settings › Members: the team (role, on shift, cap on open items), adding and removing
// members; and API keys (created keys are shown once).
import { h, replaceChildren } from '../../dom.js';
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { loading, failure, toast } from '../../ui.js';
import {
  errorBox, busy, fmtDate, inputField, selectField, actions, confirmAction, secretDialog, sectionHead,
} from './common.js';

const ROLES = ['owner', 'admin', 'marketer', 'agent', 'fulfillment'];

export function mount(container, ctx) {
  const me = ctx.session?.user?.id;
  const iAmOwner = ctx.role === 'owner';
  let members = null; // null until loaded
  let keys = null;
  let alive = true;
  const tableEl = h('div', { class: 'table-wrap', testid: 'members-table' }, loading());
  const keysEl = h('div', { class: 'table-wrap', testid: 'apikeys-table' }, loading());
  const rowError = errorBox('members-error');
  const keyError = errorBox('apikeys-error');

  const roleOptions = (allowOwner) => ROLES.filter((r) => allowOwner || r !== 'owner').map((r) => [r, `settings.role.${r}`]);

  // ── add member form ──
  const email = inputField({ id: 'member-email', label: 'settings.m.email', type: 'email', required: true, testid: 'member-email', autocomplete: 'off' });
  const name = inputField({ id: 'member-name', label: 'settings.m.name', required: true, testid: 'member-name' });
  const password = inputField({ id: 'member-password', label: 'settings.m.password', type: 'password', testid: 'member-password', hint: 'settings.m.password_hint', autocomplete: 'new-password' });
  const role = selectField({ id: 'member-role', label: 'settings.m.role', options: roleOptions(iAmOwner), value: 'agent', testid: 'member-role' });
  const addError = errorBox('member-form-error');
  const addBtn = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'member-add', t: 'settings.m.add' });
  const addForm = h('form', { noValidate: true, class: 'settings-form', testid: 'member-form' },
    h('h3', { t: 'settings.m.add_title' }),
    h('div', { class: 'form-grid' }, email.el, name.el, password.el, role.el), addError.el, actions(addBtn));
  addForm.addEventListener('submit', (e) => {
    e.preventDefault();
    addError.clear();
    const body = { email: email.input.value.trim(), name: name.input.value.trim(), role: role.input.value };
    if (!/^[^\s@]+@[^\s@]+$/.test(body.email)) { addError.show('settings.v.email'); email.input.focus(); return; }
    if (!body.name) { addError.show('settings.v.name'); name.input.focus(); return; }
    const pw = password.input.value;
    if (pw && pw.length < 8) { addError.show('settings.v.password'); password.input.focus(); return; }
    if (pw) body.password = pw;
    busy(addBtn, async () => {
      try {
        await api.post('/members', body);
        addForm.reset();
        role.input.value = 'agent';
        toast(t('settings.m.added'));
        await loadMembers();
      } catch (err) { addError.show(err); }
    });
  });

  // ── API key form ──
  const keyName = inputField({ id: 'apikey-name', label: 'settings.k.name', required: true, testid: 'apikey-name', maxLength: 100 });
  const keyRole = selectField({ id: 'apikey-role', label: 'settings.k.role', options: roleOptions(false), value: 'agent', testid: 'apikey-role' });
  const keyFormError = errorBox('apikey-form-error');
  const keyBtn = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'apikey-create', t: 'settings.k.create' });
  const keyForm = h('form', { noValidate: true, class: 'settings-form', testid: 'apikey-form' },
    h('h3', { t: 'settings.k.new' }),
    h('div', { class: 'form-grid' }, keyName.el, keyRole.el), keyFormError.el, actions(keyBtn));
  keyForm.addEventListener('submit', (e) => {
    e.preventDefault();
    keyFormError.clear();
    const n = keyName.input.value.trim();
    if (!n) { keyFormError.show('settings.v.name'); keyName.input.focus(); return; }
    busy(keyBtn, async () => {
      try {
        const k = await api.post('/api-keys', { name: n, role: keyRole.input.value });
        keyForm.reset();
        keyRole.input.value = 'agent';
        await loadKeys();
        await secretDialog('settings.k.secret_title', k.key);
      } catch (err) { keyFormError.show(err); }
    });
  });

  replaceChildren(container,
    sectionHead('settings.section.members', 'settings.m.lead'),
    h('section', { class: 'panel' }, h('h2', { t: 'settings.m.title' }), rowError.el, tableEl, addForm),
    h('section', { class: 'panel', testid: 'apikeys' }, h('h2', { t: 'settings.k.title' }), h('p', { class: 'muted', t: 'settings.k.lead' }), keyError.el, keysEl, keyForm));

  async function loadMembers() {
    try {
      members = await api.get('/members');
      if (alive) renderMembers();
    } catch (err) {
      if (alive) replaceChildren(tableEl, failure(err, loadMembers));
    }
  }

  async function loadKeys() {
    try {
      keys = await api.get('/api-keys');
      if (alive) renderKeys();
    } catch (err) {
      if (alive) replaceChildren(keysEl, failure(err, loadKeys));
    }
  }

  function renderMembers() {
    if (!members) return;
    if (!members.length) { replaceChildren(tableEl, h('p', { class: 'empty', t: 'common.empty' })); return; }
    replaceChildren(tableEl, h('table', { class: 'table' },
      h('thead', {}, h('tr', {},
        h('th', { t: 'settings.m.name' }), h('th', { t: 'settings.m.role' }), h('th', { t: 'settings.m.on_shift' }),
        h('th', { t: 'settings.m.max_open' }), h('th', {}))),
      h('tbody', {}, members.map(memberRow))));
  }

  function memberRow(m) {
    const locked = m.role === 'owner' && !iAmOwner; // only an owner changes or removes an owner
    const sel = h('select', { class: 'inline-select', testid: 'member-role-select', disabled: locked, 'aria-label': t('settings.m.role_of', { name: m.user?.name || m.user?.email }) },
      roleOptions(iAmOwner || m.role === 'owner').map(([v, k]) => h('option', { value: v, t: k, selected: v === m.role })));
    sel.addEventListener('change', async () => {
      rowError.clear();
      const prev = m.role;
      sel.disabled = true;
      try {
        Object.assign(m, await api.patch(`/members/${m.id}`, { role: sel.value }));
        toast(t('common.saved'));
      } catch (err) {
        sel.value = prev;
        rowError.show(err);
      } finally {
        sel.disabled = locked;
      }
    });
    const cap = h('input', {
      type: 'number', min: 1, max: 1000, class: 'inline-number', testid: 'member-max-open', value: m.max_open ?? '',
      placeholder: t('settings.m.default_cap'), 'aria-label': t('settings.m.max_open_of', { name: m.user?.name || m.user?.email }),
    });
    const capBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', testid: 'member-max-open-save', t: 'common.save' });
    capBtn.addEventListener('click', () => {
      rowError.clear();
      const raw = cap.value.trim();
      const v = raw === '' ? null : Number(raw);
      if (v !== null && (!Number.isInteger(v) || v < 1)) { rowError.show('settings.v.cap'); cap.focus(); return; }
      busy(capBtn, async () => {
        try {
          Object.assign(m, await api.patch(`/members/${m.id}`, { max_open: v }));
          toast(t('common.saved'));
        } catch (err) { rowError.show(err); }
      });
    });
    let remove = null;
    if (m.user?.id !== me && !locked) {
      remove = h('button', { type: 'button', class: 'btn settings-danger btn-sm', testid: 'member-remove', t: 'settings.m.remove' });
      remove.addEventListener('click', async () => {
        if (!(await confirmAction(t('settings.m.remove_confirm', { name: m.user?.name || m.user?.email }), { okKey: 'settings.m.remove' }))) return;
        rowError.clear();
        await busy(remove, async () => {
          try {
            await api.del(`/members/${m.id}`);
            members = members.filter((x) => x.id !== m.id);
            renderMembers();
          } catch (err) { rowError.show(err); }
        });
      });
    }
    return h('tr', { testid: 'member-row', dataset: { id: m.id, userId: m.user?.id || '' } },
      h('td', {}, h('div', { class: 'strong', text: m.user?.name || '' }), h('div', { class: 'muted small', text: m.user?.email || '' })),
      h('td', {}, sel),
      h('td', {}, h('span', { class: m.available ? 'badge badge-ok' : 'badge', testid: 'member-available', text: t(m.available ? 'settings.m.on' : 'settings.m.off') })),
      h('td', {}, h('div', { class: 'inline-edit' }, cap, capBtn)),
      h('td', {}, remove));
  }

  function renderKeys() {
    if (!keys) return;
    if (!keys.length) { replaceChildren(keysEl, h('p', { class: 'muted', testid: 'apikeys-empty', t: 'settings.k.empty' })); return; }
    replaceChildren(keysEl, h('table', { class: 'table' },
      h('thead', {}, h('tr', {},
        h('th', { t: 'settings.k.name' }), h('th', { t: 'settings.k.prefix' }), h('th', { t: 'settings.k.role' }),
        h('th', { t: 'settings.k.created' }), h('th', { t: 'settings.k.last_used' }), h('th', {}))),
      h('tbody', {}, keys.map((k) => {
        const b = h('button', { type: 'button', class: 'btn settings-danger btn-sm', testid: 'apikey-revoke', t: 'settings.k.revoke' });
        b.addEventListener('click', async () => {
          if (!(await confirmAction(t('settings.k.revoke_confirm', { name: k.name }), { okKey: 'settings.k.revoke' }))) return;
          keyError.clear();
          await busy(b, async () => {
            try {
              await api.del(`/api-keys/${k.id}`);
              keys = keys.filter((x) => x.id !== k.id);
              renderKeys();
            } catch (err) { keyError.show(err); }
          });
        });
        return h('tr', { testid: 'apikey-row', dataset: { id: k.id } },
          h('td', { text: k.name }), h('td', {}, h('code', { text: `${k.prefix}…` })),
          h('td', { text: t(`settings.role.${k.role}`) }), h('td', { text: fmtDate(k.created_at) }),
          h('td', { text: fmtDate(k.last_used_at) }), h('td', {}, b));
      }))));
  }

  loadMembers();
  loadKeys();

  return {
    handleEvent(type, data) {
      if (type === 'member.updated') {
        const m = members?.find((x) => x.user?.id === data?.user_id);
        if (!m) return;
        m.available = !!data.available;
        // Only the badge changes, so a cap being typed in another row is kept.
        const badge = tableEl.querySelector(`[data-testid="member-row"][data-id="${CSS.escape(m.id)}"] [data-testid="member-available"]`);
        if (badge) {
          badge.className = m.available ? 'badge badge-ok' : 'badge';
          badge.textContent = t(m.available ? 'settings.m.on' : 'settings.m.off');
        } else renderMembers();
      } else if (type === 'resync') {
        loadMembers();
        loadKeys();
      }
    },
    onLang() {
      rowError.relang(); keyError.relang(); addError.relang(); keyFormError.relang();
      renderMembers();
      renderKeys();
    },
    destroy() { alive = false; },
  };
}
