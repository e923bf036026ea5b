// Working the inbox in a real browser against `tongdai demo`: filters and search, a private
// note with an @mention (toast in the mentioned owner's own browser), the canned-response
// picker, j/k between conversations and the "?" shortcuts dialog.
// Run: node --test tests/e2e/inbox_work.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startDemoServer, launchBrowser, newPage, login, eventually, tid,
} from './harness.mjs';

let server;
let browser;
let agent; // desktop page signed in as the agent
let owner; // desktop page signed in as the owner (another browser context)

before(async () => {
  server = await startDemoServer({ every: 1 });
  browser = await launchBrowser();
  agent = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  await login(agent, server.baseUrl, server.agent);
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    await server?.stop();
  }
});

const items = (p) => p.locator(`${tid('conversation-list')} ${tid('conversation-item')}`);
const rowIds = (p) => items(p).evaluateAll((els) => els.map((el) => el.dataset.id));

async function apiGet(p, path) {
  const res = await p.request.get(`${server.baseUrl}/api/v1${path}`);
  assert.equal(res.status(), 200, `GET ${path}`);
  return res.json();
}

/** POST as the page's user (session cookie + CSRF header from the csrf cookie). */
async function apiPost(p, path, body) {
  const cookies = await p.context().cookies(server.baseUrl);
  const csrf = cookies.find((c) => c.name === 'tongdai_csrf')?.value ?? '';
  const res = await p.request.post(`${server.baseUrl}/api/v1${path}`, {
    data: body, headers: { 'X-CSRF-Token': decodeURIComponent(csrf) },
  });
  return { status: res.status(), body: await res.json().catch(() => null) };
}

function assertNoPageErrors(p) {
  assert.deepEqual(p.errors, [], 'uncaught errors in the page');
}

/** Open a direct (Messenger) conversation in the agent's page; returns its id. */
async function openDirect() {
  const list = await apiGet(agent, '/conversations?status=open&channel=facebook&limit=100');
  const direct = list.items.find((c) => c.kind === 'direct');
  assert.ok(direct, 'a Messenger conversation in the demo');
  await agent.goto(`${server.baseUrl}/inbox/${direct.id}`);
  await eventually('thread open', async () => {
    assert.equal(await agent.locator(tid('thread')).getAttribute('data-conversation-id'), direct.id);
    assert.ok((await agent.locator(`${tid('thread')} ${tid('message')}`).count()) > 0);
  });
  return direct.id;
}

test('1. search by a customer name and the phone filter narrow the list; counts show', { timeout: 60_000 }, async () => {
  const p = agent;
  await eventually('several conversations listed', async () => assert.ok((await items(p).count()) >= 2));
  const all = await apiGet(p, '/conversations?status=open&limit=100');
  const named = all.items.find((c) => c.contact?.name);
  assert.ok(named, 'a demo customer with a name');
  const name = named.contact.name;
  await eventually('the open count is shown', async () => {
    assert.match((await p.locator(tid('count-open')).textContent()).trim(), /^\d+$/);
  });

  await p.locator(tid('inbox-search')).fill(name);
  await eventually(`only conversations of "${name}" (or mentioning it)`, async () => {
    const ids = await rowIds(p);
    assert.ok(ids.includes(named.id), 'the customer is listed');
    const server = await apiGet(p, `/conversations?status=open&q=${encodeURIComponent(name)}&limit=100`);
    assert.deepEqual(new Set(ids), new Set(server.items.map((c) => c.id)));
    assert.ok(ids.length < all.items.length || all.items.length === 1, 'the list got narrower');
    assert.equal((await p.locator(tid('count-open')).textContent()).trim(), String(server.counts.open));
  });
  // The filters survive a reload.
  await p.reload();
  await p.locator(tid('conversation-list')).waitFor();
  assert.equal(await p.locator(tid('inbox-search')).inputValue(), name);

  await p.locator(tid('inbox-search')).fill('');
  // The other filters sit behind "Bộ lọc".
  assert.equal(await p.locator(tid('filter-has-phone')).isVisible(), false);
  await p.locator(tid('filter-more')).click();
  assert.equal(await p.locator(tid('filter-more')).getAttribute('aria-expanded'), 'true');
  await p.locator(tid('filter-has-phone')).check();
  await eventually('only conversations whose customer has a phone', async () => {
    const ids = await rowIds(p);
    const withPhone = await apiGet(p, '/conversations?status=open&has_phone=true&limit=100');
    assert.deepEqual(new Set(ids), new Set(withPhone.items.map((c) => c.id)));
    for (const c of withPhone.items) assert.ok(c.contact.phone);
  });
  assert.equal((await p.locator(tid('filter-more')).textContent()).trim(), 'Bộ lọc (1)');
  await p.locator(tid('filter-clear')).click();
  await eventually('everything again', async () => assert.ok((await items(p).count()) >= 2));
  assertNoPageErrors(p);
});

test('2. a note with an @mention shows as a note, toasts the owner, never goes out', { timeout: 60_000 }, async () => {
  owner = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  await login(owner, server.baseUrl, server.owner);
  const id = await openDirect();
  const p = agent;
  await p.locator(tid('reply-mode-note')).click();
  assert.equal(await p.locator(tid('reply-mode-note')).getAttribute('aria-pressed'), 'true');
  const input = p.locator(tid('reply-input'));
  await input.click();
  await input.pressSequentially('Nhờ @Ch');
  const option = p.locator(`${tid('reply-picker')} ${tid('picker-item')}`).first();
  await option.waitFor();
  assert.match(await option.textContent(), /Chủ shop/);
  await input.press('Enter'); // picks the member
  const stamp = `gọi lại khách ${Date.now()}`;
  await input.pressSequentially(stamp);
  assert.match(await input.inputValue(), /^Nhờ @Chủ shop gọi lại/);
  await input.press('Enter');

  const note = p.locator(`${tid('thread')} ${tid('message')}[data-kind="note"]`).filter({ hasText: stamp });
  await note.waitFor();
  assert.match(await note.locator(tid('mention')).textContent(), /@Chủ shop/);
  await eventually('the mention toast in the owner\'s browser', async () => {
    assert.ok(await owner.locator(tid('toast-mention')).isVisible());
  });

  // Stored as a note, sent to nobody: no platform id, and it stays that way.
  await new Promise((r) => setTimeout(r, 2000));
  const thread = await apiGet(p, `/conversations/${id}/messages?limit=50`);
  const stored = thread.items.filter((m) => m.text?.includes(stamp));
  assert.equal(stored.length, 1);
  assert.equal(stored[0].kind, 'note');
  assert.equal(stored[0].status, 'sent');
  assert.equal(stored[0].external_id, null);
  assert.equal(stored[0].meta.mentions.length, 1);
  const conv = await apiGet(p, `/conversations/${id}`);
  assert.ok(!(conv.last_message_preview ?? '').includes(stamp), 'a note is not the last message');
  assertNoPageErrors(p);
  assertNoPageErrors(owner);
});

test('3. "/" opens the canned responses; Enter inserts one', { timeout: 60_000 }, async () => {
  const shortcut = `gia${Date.now() % 100000}`;
  const content = 'Dạ áo này giá 250.000đ, freeship đơn từ 2 áo ạ';
  const made = await apiPost(owner, '/canned-responses', { shortcut, content, category: 'Báo giá' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  await openDirect();
  const p = agent;
  await p.locator(tid('reply-mode-reply')).click();
  const input = p.locator(tid('reply-input'));
  await input.fill('');
  await input.click();
  await input.pressSequentially(`/${shortcut.slice(0, 5)}`);
  const option = p.locator(`${tid('reply-picker')} ${tid('picker-item')}`).filter({ hasText: `/${shortcut}` });
  await option.waitFor();
  // Move the selection onto it with the arrow keys, then insert.
  for (let i = 0; i < 30 && (await option.getAttribute('aria-selected')) !== 'true'; i++) await input.press('ArrowDown');
  await input.press('Enter');
  assert.equal(await input.inputValue(), content);
  assert.equal(await p.locator(tid('reply-picker')).isVisible(), false);
  await input.fill('');
  assertNoPageErrors(p);
});

test('4. j / k move between conversations; ? lists the shortcuts', { timeout: 60_000 }, async () => {
  const p = agent;
  await openDirect();
  await p.locator(tid('reply-input')).click();
  await p.locator(tid('reply-input')).press('Escape'); // leave the box: shortcuts work again
  const thread = p.locator(tid('thread'));
  const ids = await rowIds(p);
  assert.ok(ids.length >= 2, 'at least two conversations');
  // The demo's customers keep writing, so the order moves: expect the neighbour in the order
  // the list had at the moment of the key press.
  const press = async (key, step) => {
    const from = await thread.getAttribute('data-conversation-id');
    const snap = await rowIds(p);
    const expected = snap[snap.indexOf(from) + step];
    await p.keyboard.press(key);
    if (!expected) return from;
    await eventually(`${key} opens the ${step > 0 ? 'next' : 'previous'} conversation`, async () => {
      assert.equal(await thread.getAttribute('data-conversation-id'), expected);
      assert.equal(new URL(p.url()).pathname, `/inbox/${expected}`);
    });
    return expected;
  };
  const start = await thread.getAttribute('data-conversation-id');
  const first = (await rowIds(p)).indexOf(start) === ids.length - 1 ? await press('k', -1) : start;
  const next = await press('j', 1);
  assert.notEqual(next, first, 'j moved');
  const back = await press('k', -1);
  assert.notEqual(back, next, 'k moved');
  await eventually('the open row is marked', async () => {
    assert.equal(await p.locator(`${tid('conversation-item')}[aria-current="true"]`).getAttribute('data-id'), back);
  });

  await p.keyboard.press('?');
  const dlg = p.locator(tid('shortcuts-dialog'));
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /Phím tắt/);
  assert.ok((await dlg.locator('kbd').count()) >= 9);
  await p.keyboard.press('Escape');
  await dlg.waitFor({ state: 'detached' });
  assertNoPageErrors(p);
});
