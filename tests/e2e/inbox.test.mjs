// Real-browser end-to-end tests of the tongdai inbox against `tongdai demo`.
//
// One demo server (Messenger traffic every second, 5 customers in turn, so every
// conversation hears from its customer about every 5 s) and one headless Chromium serve the
// whole file. Tests 1–4 and 6 share one desktop page, signed in as the agent, in order;
// test 5 uses its own phone-sized context signed in as the owner (login is limited to
// 5 attempts a minute per account). Run: node --test tests/e2e/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startDemoServer, launchBrowser, newPage, login, eventually, screenshot, tid, WAIT_MS,
} from './harness.mjs';

let server;
let browser;
let page; // the desktop page shared by tests 1–4 and 6
let openId = null; // the conversation tests 2–4 work on

before(async () => {
  server = await startDemoServer({ every: 1 });
  browser = await launchBrowser();
});

after(async () => {
  try {
    await browser?.close();
  } finally {
    await server?.stop();
  }
});

// ───────────────────────── helpers ─────────────────────────

const items = (p = page) => p.locator(`${tid('conversation-list')} ${tid('conversation-item')}`);
const item = (id, p = page) => p.locator(`${tid('conversation-list')} ${tid('conversation-item')}[data-id="${id}"]`);
const messages = (p = page) => p.locator(`${tid('thread')} ${tid('message')}`);

/** Ids and directions of the messages shown in the open thread, oldest first. */
const threadMessages = (p = page) => p.locator(`${tid('thread')} ${tid('message')}`).evaluateAll((els) =>
  els.map((el) => ({
    id: el.dataset.id,
    dir: el.classList.contains('out') ? 'out' : 'in',
    status: el.dataset.status,
    text: el.querySelector('.msg-text')?.textContent ?? '',
  })));

/** The desktop page signed in as the agent (signs in again only if an earlier test failed early). */
async function inboxPage() {
  if (!page) page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  if (!(await page.locator(tid('conversation-list')).isVisible())) {
    await login(page, server.baseUrl, server.agent);
  }
  return page;
}

/** Open a conversation from the list (the first one unless one is already open) and wait for its messages. */
async function ensureOpen() {
  const p = await inboxPage();
  if (openId && (await p.locator(tid('thread')).getAttribute('data-conversation-id')) === openId) return openId;
  await p.locator(tid('filter-open')).click();
  await items(p).first().waitFor();
  // A Messenger chat of one of the demo's rotating customers (who write every few seconds);
  // the demo's comment threads and Instagram traffic follow other rhythms.
  const list = await (await p.request.get(`${server.baseUrl}/api/v1/conversations?status=open&channel=facebook&limit=100`)).json();
  const direct = list.items.find((c) => c.kind === 'direct');
  assert.ok(direct, 'a Messenger conversation in the demo');
  openId = direct.id;
  const first = item(openId, p);
  await first.waitFor();
  await first.click();
  await eventually('thread opened', async () => {
    assert.equal(await p.locator(tid('thread')).getAttribute('data-conversation-id'), openId);
    assert.equal(new URL(p.url()).pathname, `/inbox/${openId}`);
  });
  await eventually('messages in the open thread', async () => {
    assert.ok((await messages(p).count()) > 0, 'no message shown');
  });
  return openId;
}

/** Wait until an inbound message that is not in `knownIds` shows up in the open thread; return it. */
async function nextInbound(knownIds, p = page) {
  return eventually('a new inbound message in the open thread (live)', async () => {
    const fresh = (await threadMessages(p)).filter((m) => m.dir === 'in' && !knownIds.has(m.id));
    assert.ok(fresh.length > 0, 'no new inbound message yet');
    return fresh[fresh.length - 1];
  });
}

async function assertNoPageErrors(p = page) {
  assert.deepEqual(p?.errors ?? [], [], 'uncaught errors in the page');
}

// ───────────────────────── tests ─────────────────────────

test('1. wrong password shows an error; the agent signs in to the inbox', { timeout: 60_000 }, async () => {
  page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  await page.goto(`${server.baseUrl}/`);
  // Not signed in: the app sends us to /login.
  await page.locator(tid('login-email')).waitFor({ state: 'visible' });
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(await page.locator(tid('login-error')).isVisible(), false, 'error shown before any attempt');

  await page.locator(tid('login-email')).fill(server.agent.email);
  await page.locator(tid('login-password')).fill('sai-mat-khau-123');
  await page.locator(tid('login-submit')).click();
  const error = page.locator(tid('login-error'));
  await error.waitFor({ state: 'visible' });
  assert.equal((await error.textContent()).trim(), 'Email hoặc mật khẩu không đúng.');
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(await page.locator(tid('conversation-list')).count(), 0, 'inbox shown after a wrong password');
  // The form is usable again (button re-enabled, original label).
  await eventually('submit button re-enabled', async () => {
    assert.equal(await page.locator(tid('login-submit')).isEnabled(), true);
    assert.equal((await page.locator(tid('login-submit')).textContent()).trim(), 'Đăng nhập');
  });

  await page.locator(tid('login-password')).fill(server.agent.password);
  await page.locator(tid('login-submit')).click();
  await page.locator(tid('conversation-list')).waitFor({ state: 'visible' });
  assert.equal(new URL(page.url()).pathname, '/inbox');
  assert.equal(await page.locator(tid('login-error')).count(), 0);
  assert.equal((await page.locator(tid('user-name')).textContent()).trim(), 'Nhân viên tư vấn');
  assert.equal(await page.locator(tid('filter-open')).getAttribute('aria-pressed'), 'true');
  await eventually('live connection online', async () => {
    assert.equal(await page.locator(tid('conn-status')).getAttribute('data-state'), 'online');
  });
  await eventually('at least one conversation listed', async () => {
    assert.ok((await items().count()) >= 1);
  });
  // Rows carry the demo's customers and their channel's badge (Messenger first to write, but
  // the demo's Zalo and YouTube customers may be newer by now).
  const firstRow = items().first();
  assert.match(await firstRow.locator('.row-name').textContent(), /\S/);
  assert.match((await firstRow.locator('.badge-platform').textContent()).trim(), /^(Messenger|Instagram|Zalo|YouTube)$/);
  assert.ok(await items().locator('.badge-platform', { hasText: 'Messenger' }).count() >= 1, 'a Messenger row is listed');
  await assertNoPageErrors();
});

test('2. new traffic shows up live, without reloading', { timeout: 60_000 }, async () => {
  const p = await inboxPage();
  await p.evaluate(() => { window.__e2eNoReload = 'still-here'; });
  const countBefore = await items(p).count();
  assert.ok(countBefore >= 1);

  const id = await ensureOpen();
  const known = new Set((await threadMessages(p)).map((m) => m.id));
  assert.ok([...known].length >= 1);
  assert.ok((await threadMessages(p)).some((m) => m.dir === 'in'), 'the open thread shows inbound messages');

  // The demo customer of this conversation writes again within ~5 s.
  const fresh = await nextInbound(known, p);
  assert.ok(fresh.text.length > 0, 'the new inbound message has text');
  // The list row follows: its preview becomes the newest message of the thread.
  await eventually('list row preview follows the thread', async () => {
    const all = await threadMessages(p);
    const newest = all[all.length - 1];
    const preview = (await item(id, p).locator('.row-preview').textContent()).trim();
    assert.equal(preview, newest.text);
  });
  assert.ok((await items(p).count()) >= countBefore, 'conversations disappeared from the list');
  assert.equal(await p.evaluate(() => window.__e2eNoReload), 'still-here', 'the page was reloaded');
  await assertNoPageErrors(p);
});

test('3. a Vietnamese reply sent with Enter appears and becomes "sent"', { timeout: 60_000 }, async () => {
  const p = await inboxPage();
  const id = await ensureOpen();
  const marker = `e2e-${Date.now().toString(36)}`;
  const text = `Dạ shop còn size M ạ, anh/chị đặt hàng giúp em nhé 🌸 ${marker}`;

  // The customer wrote just now: the header says until when a reply is possible.
  const windowLabel = p.locator(`${tid('thread')} ${tid('reply-window')}`);
  await eventually('the reply window in the header', async () => {
    assert.match(await windowLabel.textContent(), /^Trả lời được đến /);
  });

  const input = p.locator(tid('reply-input'));
  const send = p.locator(tid('reply-send'));
  assert.equal(await send.isDisabled(), true, 'send enabled with an empty box');
  await input.click();
  await input.pressSequentially(text.slice(0, 12));
  await input.fill(text); // the rest at once (typing emoji/diacritics key by key adds nothing)
  assert.equal(await send.isEnabled(), true, 'send disabled with text in the box');
  await input.press('Enter');

  const mine = p.locator(`${tid('thread')} ${tid('message')}`, { hasText: marker });
  await eventually('the reply in the thread', async () => assert.equal(await mine.count(), 1));
  assert.match(await mine.getAttribute('class'), /\bout\b/, 'the reply is drawn as outgoing');
  assert.equal((await mine.locator('.msg-text').textContent()), text);
  await eventually('input cleared and focused again', async () => {
    assert.equal(await input.inputValue(), '');
    assert.equal(await input.evaluate((el) => el === document.activeElement), true);
  });
  await eventually('the reply reaches status "sent"', async () => {
    assert.equal(await mine.getAttribute('data-status'), 'sent');
  });
  assert.equal((await mine.locator(tid('message-status')).textContent()).trim(), '✓ Đã gửi');
  assert.equal(await mine.locator(tid('message-error')).count(), 0);
  // Exactly one bubble, also after further live events (no duplicate from the POST/websocket race).
  assert.equal(await mine.count(), 1);

  // The server agrees.
  const res = await p.request.get(`${server.baseUrl}/api/v1/conversations/${id}/messages?limit=50`);
  assert.equal(res.status(), 200);
  const stored = (await res.json()).items.filter((m) => m.text === text);
  assert.equal(stored.length, 1, 'the reply is stored once');
  assert.equal(stored[0].direction, 'out');
  assert.equal(stored[0].status, 'sent');

  // The inbox with a conversation open, for a human to look at.
  await screenshot(p, 'inbox-desktop.png');
  await assertNoPageErrors(p);
});

test('4. resolve moves the conversation out of "Open"; reopen brings it back', { timeout: 90_000 }, async () => {
  const p = await inboxPage();
  const id = await ensureOpen();
  const action = p.locator(tid('status-action'));
  const openTab = p.locator(tid('filter-open'));
  const resolvedTab = p.locator(tid('filter-resolved'));
  const headBadge = p.locator(`${tid('thread')} .thread-head .badge-status`);

  // Every inbound message reopens a resolved conversation (server rule), and this customer
  // writes about every 5 s: start right after one of their messages to have that window.
  await nextInbound(new Set((await threadMessages(p)).map((m) => m.id)), p);

  assert.equal(await openTab.getAttribute('aria-pressed'), 'true');
  assert.equal(await action.getAttribute('data-action'), 'resolve');
  assert.equal((await action.textContent()).trim(), 'Đánh dấu đã xong');
  await item(id, p).waitFor();
  const openCount = await items(p).count();

  await action.click();
  await eventually('resolved: button offers reopen, row leaves "Open"', async () => {
    assert.equal(await action.getAttribute('data-action'), 'reopen');
    assert.equal((await action.textContent()).trim(), 'Mở lại');
    assert.equal((await headBadge.textContent()).trim(), 'Đã xong');
    assert.equal(await item(id, p).count(), 0);
    // Other demo conversations (new comment threads, Instagram) may arrive meanwhile.
    assert.ok(await items(p).count() >= openCount - 1);
  });
  // The thread stays open while the list moves on.
  assert.equal(await p.locator(tid('thread')).getAttribute('data-conversation-id'), id);

  await resolvedTab.click();
  assert.equal(await resolvedTab.getAttribute('aria-pressed'), 'true');
  await eventually('the conversation is listed under "Resolved"', async () => {
    assert.equal(await item(id, p).count(), 1);
  });

  await action.click(); // reopen
  await eventually('reopened: button offers resolve, row leaves "Resolved"', async () => {
    assert.equal(await action.getAttribute('data-action'), 'resolve');
    assert.equal((await headBadge.textContent()).trim(), 'Đang mở');
    assert.equal(await item(id, p).count(), 0);
  });
  await openTab.click();
  await eventually('the conversation is back under "Open"', async () => {
    assert.equal(await item(id, p).count(), 1);
  });
  const conv = await (await p.request.get(`${server.baseUrl}/api/v1/conversations/${id}`)).json();
  assert.equal(conv.status, 'open');

  // Resolve again and let the customer write: the conversation comes back to "Open" by
  // itself, live (the list count goes from N-1 back to N without a reload).
  await action.click();
  await eventually('resolved again', async () => {
    assert.equal(await action.getAttribute('data-action'), 'reopen');
    assert.equal(await item(id, p).count(), 0);
  });
  const countResolved = await items(p).count();
  await eventually('a new customer message reopens it live', async () => {
    assert.equal(await item(id, p).count(), 1);
    assert.equal(await action.getAttribute('data-action'), 'resolve');
    assert.equal((await headBadge.textContent()).trim(), 'Đang mở');
    assert.ok(await items(p).count() >= countResolved + 1);
  });
  await assertNoPageErrors(p);
});

test('5. phone size 360×740: no horizontal scroll, login and inbox usable', { timeout: 60_000 }, async () => {
  const phone = await newPage(browser, {
    viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  try {
    const noHScroll = async (where) => {
      const { sw, cw } = await phone.evaluate(() => ({
        sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth,
      }));
      assert.ok(sw <= 360, `${where}: horizontal scroll (scrollWidth ${sw} > 360, clientWidth ${cw})`);
    };
    const inViewport = async (selector, where) => {
      const box = await phone.locator(selector).boundingBox();
      assert.ok(box, `${where}: ${selector} has no box`);
      assert.ok(box.x >= 0 && box.x + box.width <= 360 + 0.5, `${where}: ${selector} sticks out (${JSON.stringify(box)})`);
    };

    await phone.goto(`${server.baseUrl}/login`);
    await phone.locator(tid('login-email')).waitFor();
    await noHScroll('login');
    for (const s of ['login-email', 'login-password', 'login-submit', 'lang-switch']) await inViewport(tid(s), 'login');

    await phone.locator(tid('login-email')).fill(server.owner.email);
    await phone.locator(tid('login-password')).fill(server.owner.password);
    await phone.locator(tid('login-submit')).tap();
    await phone.locator(tid('conversation-list')).waitFor({ state: 'visible' });
    await eventually('conversations listed', async () => assert.ok((await items(phone).count()) >= 1));
    // Narrow layout: the list alone, no thread pane.
    assert.equal(await phone.locator(tid('thread')).isVisible(), false, 'thread pane shown next to the list on a phone');
    await noHScroll('inbox list');
    for (const s of ['logout', 'lang-switch', 'filter-open', 'filter-resolved', 'filter-unread']) await inViewport(tid(s), 'inbox list');
    await inViewport(`${tid('conversation-item')} >> nth=0`, 'inbox list');
    await screenshot(phone, 'inbox-phone-list.png');

    const first = items(phone).first();
    const id = await first.getAttribute('data-id');
    await first.tap();
    await phone.locator(tid('thread')).waitFor({ state: 'visible' });
    assert.equal(await phone.locator(tid('thread')).getAttribute('data-conversation-id'), id);
    await eventually('messages shown in the thread', async () => assert.ok((await messages(phone).count()) >= 1));
    assert.equal(await phone.locator(tid('conversation-list')).isVisible(), false, 'list still shown over the thread');
    await phone.locator(tid('reply-input')).waitFor({ state: 'visible' });
    await noHScroll('thread');
    for (const s of ['reply-input', 'reply-send', 'status-action', 'thread-back']) await inViewport(tid(s), 'thread');
    await screenshot(phone, 'inbox-phone-thread.png');

    // Back to the list.
    await phone.locator(tid('thread-back')).tap();
    await phone.locator(tid('conversation-list')).waitFor({ state: 'visible' });
    assert.equal(new URL(phone.url()).pathname, '/inbox');
    await noHScroll('back on the list');
    await assertNoPageErrors(phone);
  } finally {
    await phone.context().close();
  }
});

test('6. the language switch turns labels English and back', { timeout: 60_000 }, async () => {
  const p = await inboxPage();
  const sw = p.locator(tid('lang-switch'));
  const openTab = p.locator(tid('filter-open'));
  const logout = p.locator(tid('logout'));

  assert.equal((await openTab.locator('.tab-label').textContent()).trim(), 'Mở');
  assert.equal((await sw.textContent()).trim(), 'English');
  assert.equal(await p.evaluate(() => document.documentElement.lang), 'vi');

  await sw.click();
  await eventually('labels in English', async () => {
    assert.equal((await openTab.locator('.tab-label').textContent()).trim(), 'Open');
    assert.equal((await logout.textContent()).trim(), 'Sign out');
    assert.equal((await sw.textContent()).trim(), 'Tiếng Việt');
    assert.equal(await p.locator(tid('reply-input')).getAttribute('placeholder'), 'Type a message…');
  });
  assert.equal(await p.evaluate(() => document.documentElement.lang), 'en');
  // Dynamic parts follow too: the status button of the open thread.
  if (await p.locator(tid('status-action')).isVisible()) {
    assert.match((await p.locator(tid('status-action')).textContent()).trim(), /^(Mark resolved|Reopen)$/);
  }

  // The choice survives a reload.
  await p.reload();
  await p.locator(tid('conversation-list')).waitFor({ state: 'visible' });
  await eventually('still English after reload', async () => {
    assert.equal((await p.locator(`${tid('filter-open')} .tab-label`).textContent()).trim(), 'Open');
  });

  await p.locator(tid('lang-switch')).click();
  await eventually('labels back in Vietnamese', async () => {
    assert.equal((await p.locator(`${tid('filter-open')} .tab-label`).textContent()).trim(), 'Mở');
    assert.equal((await p.locator(tid('logout')).textContent()).trim(), 'Đăng xuất');
    assert.equal((await p.locator(tid('lang-switch')).textContent()).trim(), 'English');
  });
  assert.equal(await p.evaluate(() => document.documentElement.lang), 'vi');
  await assertNoPageErrors(p);
});

test('7. the owner connects a Page and its Instagram account through Facebook Login', { timeout: 60_000 }, async () => {
  const p = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  await login(p, server.baseUrl, server.owner);
  // Agents do not see the button; owners do. It goes to the (sandbox) login dialog and back.
  const connect = p.locator(tid('connect-facebook'));
  await connect.click();
  await eventually('back from the login dialog on the connect screen', async () => {
    assert.match(new URL(p.url()).pathname, /^\/channels\/connect\/[0-9a-f-]+$/);
  });
  const pages = p.locator(`${tid('connect-pages')} li`);
  await eventually('the Page and its Instagram account are offered', async () => {
    assert.equal(await pages.count(), 1);
    assert.match(await pages.first().textContent(), /Shop Demo Fanpage/);
    assert.match(await pages.first().textContent(), /Instagram: shopdemo\.vn/);
  });
  // The demo connected both already: offered unchecked, marked as connected.
  const pageBox = p.locator(tid('connect-page'));
  const igBox = p.locator(tid('connect-instagram'));
  assert.equal(await pageBox.isChecked(), false);
  assert.equal(await p.locator(tid('connect-submit')).isDisabled(), true);
  await pageBox.check();
  await igBox.check();
  await p.locator(tid('connect-submit')).click();
  await eventually('connected', async () => {
    assert.match(await p.locator(tid('connect-done')).textContent(), /Đã kết nối 2 tài khoản/);
  });
  // The server agrees: both accounts are active (next to the demo's Zalo OA and YouTube
  // channel; the demo's website chat is another kind of channel).
  const accounts = (await (await p.request.get(`${server.baseUrl}/api/v1/channel-accounts`)).json())
    .filter((a) => a.platform !== 'webchat');
  assert.deepEqual(accounts.map((a) => [a.platform, a.status]).sort(), [['facebook', 'active'], ['instagram', 'active'], ['youtube', 'active'], ['zalo', 'active']]);
  await p.locator(tid('connect-back')).click();
  await p.locator(tid('conversation-list')).waitFor({ state: 'visible' });
  await assertNoPageErrors(p);
  await p.close();
});

test('8. agents are not offered to connect channels', { timeout: 30_000 }, async () => {
  const p = await inboxPage();
  assert.equal(await p.locator(tid('connect-facebook')).count(), 0);
});
