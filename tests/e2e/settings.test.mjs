// Real-browser end-to-end tests of the settings screen against `tongdai demo`.
//
// One demo server and one headless Chromium for the whole file. Tests 1–7 share one desktop
// page signed in as the owner, in order (login is limited to 5 attempts a minute per account);
// test 8 signs the agent in on its own context. Run: node --test tests/e2e/settings.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startDemoServer, launchBrowser, newPage, login, eventually, tid } from './harness.mjs';

let server;
let browser;
let page; // the owner's desktop page

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

async function ownerPage() {
  if (!page) {
    page = await newPage(browser, { viewport: { width: 1280, height: 860 } });
    await login(page, server.baseUrl, server.owner);
  }
  return page;
}

/** Open a settings section from the menu and wait for it to render. */
async function openSection(p, name) {
  if (!(await p.locator(tid('settings-menu')).isVisible())) {
    await p.locator(tid('nav-settings')).click();
    await p.locator(tid('settings-menu')).waitFor();
  }
  await p.locator(tid(`settings-nav-${name}`)).click();
  await p.locator(tid(`settings-${name}`)).waitFor();
  assert.equal(new URL(p.url()).pathname, `/settings/${name}`);
}

const noErrors = (p) => assert.deepEqual(p.errors, [], `uncaught page errors:\n${p.errors.join('\n')}`);

test('1. /settings opens the channels section; the demo Page is active; the owner sees every section', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  await p.locator(tid('nav-settings')).click();
  await p.locator(tid('settings-channels')).waitFor();
  assert.equal(new URL(p.url()).pathname, '/settings/channels');
  const row = p.locator(`${tid('channel-row')}:has-text("Shop Demo Fanpage")`);
  await row.waitFor();
  assert.equal(await row.locator(tid('channel-status')).getAttribute('data-status'), 'active');
  assert.equal(await row.locator(tid('channel-status')).textContent(), 'Đang hoạt động');
  assert.equal(await row.locator(tid('channel-hide-phone')).count(), 1, 'lead settings of the Page');
  assert.equal(await p.locator(tid('channels-connect')).getAttribute('href'), '/api/v1/channels/facebook/connect');
  for (const s of ['channels', 'members', 'labels', 'canned', 'fulfillment', 'blacklist', 'assignment', 'feedback', 'events']) {
    assert.ok(await p.locator(tid(`settings-nav-${s}`)).isVisible(), `menu entry ${s}`);
  }
  noErrors(p);
});

test('2. a label is created and listed with its colour (an empty name is refused in the form)', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  await openSection(p, 'labels');
  await p.locator(`${tid('label-list')}, ${tid('label-empty')}`).first().waitFor();
  await p.locator(tid('label-add')).click();
  await p.locator(tid('label-form-error')).waitFor();
  await p.locator(tid('label-name')).fill('Khách VIP');
  await p.locator(tid('label-color')).fill('#d97706');
  await p.locator(tid('label-add')).click();
  const row = p.locator(`${tid('label-row')}[data-name="Khách VIP"]`);
  await row.waitFor();
  assert.ok(await p.locator(tid('label-form-error')).isHidden());
  const bg = await row.locator('.swatch').evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.equal(bg, 'rgb(217, 119, 6)');
  // The same name again: the server's conflict is shown next to the form.
  await p.locator(tid('label-name')).fill('Khách VIP');
  await p.locator(tid('label-add')).click();
  await p.locator(tid('label-form-error')).waitFor();
  assert.equal(await p.locator(`${tid('label-row')}[data-name="Khách VIP"]`).count(), 1);
  noErrors(p);
});

test('3. a canned response is created and listed under its category', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  await openSection(p, 'canned');
  await p.locator(tid('canned-shortcut')).fill('chaohang');
  await p.locator(tid('canned-category')).fill('Kịch bản bán hàng');
  await p.locator(tid('canned-content')).fill('Dạ shop chào anh/chị, anh/chị cần tư vấn mẫu nào ạ?');
  await p.locator(tid('canned-save')).click();
  const row = p.locator(`${tid('canned-group')}[data-category="Kịch bản bán hàng"] ${tid('canned-row')}[data-shortcut="chaohang"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /\/chaohang/);
  // Stored: a reload shows it again.
  await p.reload();
  await row.waitFor();
  noErrors(p);
});

test('4. a fulfillment endpoint is added, its secret shown once, and its log is empty', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  await openSection(p, 'fulfillment');
  await p.locator(tid('endpoint-url')).fill('https://kho.example.com/tongdai');
  await p.locator(tid('endpoint-description')).fill('Kho Hà Nội');
  await p.locator(tid('endpoint-ev-order.confirmed')).check();
  await p.locator(tid('endpoint-save')).click();
  const secretDialog = p.locator(tid('secret-dialog'));
  await secretDialog.waitFor();
  const secret = await p.locator(tid('secret-value')).inputValue();
  assert.match(secret, /^whsec_/);
  await p.locator(tid('secret-done')).click();
  await secretDialog.waitFor({ state: 'detached' });
  const row = p.locator(`${tid('endpoint-row')}:has-text("https://kho.example.com/tongdai")`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-state'), 'enabled');
  await p.locator(tid('endpoint-log-empty')).waitFor();
  // Never shown again.
  await p.reload();
  await row.waitFor();
  await row.locator(tid('endpoint-log-open')).click();
  await p.locator(tid('endpoint-log-empty')).waitFor();
  assert.ok(!(await p.content()).includes(secret), 'the secret is not on the page any more');
  noErrors(p);
});

test('5. a phone is added to the blacklist, found by search, and lifted with a reason', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  await openSection(p, 'blacklist');
  await p.locator(tid('blacklist-phone')).fill('0912 345 678');
  await p.locator(tid('blacklist-reason')).fill('Bom hàng 3 lần');
  await p.locator(tid('blacklist-add')).click();
  const row = p.locator(`${tid('blacklist-row')}[data-phone="+84912345678"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /0912 345 678/);
  assert.match(await row.textContent(), /Bom hàng 3 lần/);
  // Search narrows the list.
  await p.locator(tid('blacklist-search')).fill('0999999999');
  await p.locator(tid('blacklist-empty')).waitFor();
  await p.locator(tid('blacklist-search')).fill('345678');
  await row.waitFor();
  // Lift: a reason is required.
  await row.locator(tid('blacklist-lift')).click();
  await p.locator(tid('reason-dialog')).waitFor();
  await p.locator(tid('reason-ok')).click();
  await p.locator(tid('reason-error')).waitFor();
  await p.locator(tid('reason-input')).fill('Khách đã thanh toán trước');
  await p.locator(tid('reason-ok')).click();
  await p.locator(tid('reason-dialog')).waitFor({ state: 'detached' });
  await row.waitFor({ state: 'detached' });
  await p.locator(tid('blacklist-include-lifted')).check();
  const lifted = p.locator(`${tid('blacklist-row')}[data-phone="+84912345678"][data-lifted="true"]`);
  await lifted.waitFor();
  assert.match(await lifted.textContent(), /Khách đã thanh toán trước/);
  noErrors(p);
});

test('6. an assignment rule is changed and still saved after a reload', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  await openSection(p, 'assignment');
  await p.locator(tid('rules-form')).waitFor();
  await p.locator(tid('rule-max-open')).fill('0');
  await p.locator(tid('rules-save')).click();
  await p.locator(tid('rules-error')).waitFor();
  await p.locator(tid('rule-max-open')).fill('17');
  await p.locator(tid('rule-distribute-conversations')).check();
  await p.locator(tid('rules-save')).click();
  await eventually('settings stored', async () => {
    const s = await (await p.request.get(`${server.baseUrl}/api/v1/pipeline-settings`)).json();
    assert.equal(s.max_open_per_agent, 17);
    assert.equal(s.distribute_conversations, true);
  });
  await p.reload();
  await p.locator(tid('rules-form')).waitFor();
  assert.equal(await p.locator(tid('rule-max-open')).inputValue(), '17');
  assert.equal(await p.locator(tid('rule-distribute-conversations')).isChecked(), true);
  noErrors(p);
});

test('7. at 360 px the section menu is a select', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  await p.setViewportSize({ width: 360, height: 740 });
  try {
    assert.ok(await p.locator(tid('settings-select')).isVisible());
    assert.ok(await p.locator(tid('settings-menu')).isHidden());
    await p.locator(tid('settings-select')).selectOption('members');
    await p.locator(tid('settings-members')).waitFor();
    assert.equal(new URL(p.url()).pathname, '/settings/members');
    await p.locator(tid('member-row')).first().waitFor();
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scroll of the page (${overflow}px)`);
  } finally {
    await p.setViewportSize({ width: 1280, height: 860 });
  }
  noErrors(p);
});

test('8. the agent role sees neither the settings nor the members section', { timeout: 60_000 }, async () => {
  const p = await newPage(browser, { viewport: { width: 1280, height: 860 } });
  try {
    await login(p, server.baseUrl, server.agent);
    assert.equal(await p.locator(tid('nav-settings')).count(), 0);
    await p.goto(`${server.baseUrl}/settings/members`);
    await p.locator(tid('conversation-list')).waitFor();
    assert.ok(!new URL(p.url()).pathname.startsWith('/settings'));
    assert.equal(await p.locator(tid('settings-members')).count(), 0);
    noErrors(p);
  } finally {
    await p.context().close();
  }
});

test('9. a shop channel is created (secret once); its confirmed order shows in the endpoint log, with details and redeliver', { timeout: 90_000 }, async () => {
  const p = await ownerPage();
  await openSection(p, 'channels');
  await p.locator(tid('shop-name')).fill('Website shop');
  await p.locator(tid('shop-create')).click();
  await p.locator(tid('secret-dialog')).waitFor();
  const secret = await p.locator(tid('secret-value')).inputValue();
  assert.match(secret, /^whsec_/);
  const hook = await p.locator(tid('shop-webhook-url')).textContent();
  const channelId = hook.split('/').pop();
  await p.locator(tid('secret-done')).click();
  await p.locator(`${tid('shop-row')}[data-id="${channelId}"]`).waitFor();

  // The log of the endpoint made in test 4 is open while the shop pushes a confirmed order.
  await openSection(p, 'fulfillment');
  const row = p.locator(`${tid('endpoint-row')}:has-text("https://kho.example.com/tongdai")`);
  await row.locator(tid('endpoint-log-open')).click();
  await p.locator(tid('endpoint-log-empty')).waitFor();

  const body = JSON.stringify({
    type: 'order.created',
    data: {
      id: 'WEB-1001',
      items: [{ sku: 'POLO-M', name: 'Áo Polo M', quantity: 1, unit_price: 250000 }],
      recipient: { name: 'Nguyễn Văn A', phone: '0912345678', address: { street: '72 Thành Thái', ward: 'Phường 14', province: 'TP. Hồ Chí Minh' } },
      shipping_fee: 30000,
    },
  });
  const msgId = `msg_${crypto.randomUUID()}`;
  const ts = String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const sig = `v1,${crypto.createHmac('sha256', key).update(`${msgId}.${ts}.${body}`).digest('base64')}`;
  const res = await fetch(`${server.baseUrl}/webhooks/shop/${channelId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': msgId, 'webhook-timestamp': ts, 'webhook-signature': sig },
    body,
  });
  assert.equal(res.status, 200, await res.text());

  // Live: the order.confirmed message appears without a reload.
  const message = p.locator(`${tid('endpoint-message')}`).first();
  await message.waitFor({ timeout: 20_000 });
  assert.match(await message.textContent(), /order\.confirmed/);
  // kho.example.com does not answer here: the first attempt and the retry 5 s later fail,
  // and the log follows live (webhook.attempt_failed frames). The next retry is minutes away.
  await eventually('two failed attempts shown', async () => {
    const attempts = Number(await message.locator('td.num').textContent());
    assert.ok(attempts >= 2, `attempts ${attempts}`);
  }, { timeout: 30_000 });
  await message.locator(tid('endpoint-message-open')).click();
  await p.locator(tid('message-dialog')).waitFor();
  assert.match(await p.locator(tid('endpoint-message-body')).textContent(), /WEB-1001/);
  assert.ok((await p.locator(tid('endpoint-delivery')).count()) >= 2, 'every attempt listed');
  await p.locator(tid('endpoint-redeliver')).click();
  await p.locator(tid('message-dialog')).waitFor({ state: 'detached' });
  noErrors(p);
});

test('10. a marketer added in Members sees only the channel, website chat, label and canned-response sections', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  await openSection(p, 'members');
  await p.locator(tid('member-row')).first().waitFor();
  await p.locator(tid('member-email')).fill('marketing@demo.tongdai.vn');
  await p.locator(tid('member-name')).fill('Trần Thị Marketing');
  await p.locator(tid('member-password')).fill('short');
  await p.locator(tid('member-role')).selectOption('marketer');
  await p.locator(tid('member-add')).click();
  await p.locator(tid('member-form-error')).waitFor(); // the password is too short
  await p.locator(tid('member-password')).fill('matkhau-dai-hon');
  await p.locator(tid('member-add')).click();
  const row = p.locator(`${tid('member-row')}:has-text("marketing@demo.tongdai.vn")`);
  await row.waitFor();
  assert.equal(await row.locator(tid('member-role-select')).inputValue(), 'marketer');

  const m = await newPage(browser, { viewport: { width: 1280, height: 860 } });
  try {
    await login(m, server.baseUrl, { email: 'marketing@demo.tongdai.vn', password: 'matkhau-dai-hon' });
    await m.locator(tid('nav-settings')).click();
    await m.locator(tid('settings-channels')).waitFor();
    const shown = await m.locator(`${tid('settings-menu')} a`).evaluateAll((as) => as.map((a) => a.dataset.testid));
    assert.deepEqual(shown, ['settings-nav-channels', 'settings-nav-webchat', 'settings-nav-labels', 'settings-nav-canned']);
    // A section the role may not use sends it to its first section.
    await m.goto(`${server.baseUrl}/settings/members`);
    await m.locator(tid('settings-channels')).waitFor();
    assert.equal(new URL(m.url()).pathname, '/settings/channels');
    noErrors(m);
  } finally {
    await m.context().close();
  }
  noErrors(p);
});

test('11. switching the language re-labels the menu and the rows without errors', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  await openSection(p, 'labels');
  const del = p.locator(`${tid('label-row')}[data-name="Khách VIP"] ${tid('label-delete')}`);
  await del.waitFor();
  assert.equal(await del.textContent(), 'Xóa');
  await p.locator(tid('lang-switch')).click();
  try {
    await eventually('English labels', async () => {
      assert.equal(await p.locator(tid('settings-nav-labels')).textContent(), 'Labels');
      assert.equal(await del.textContent(), 'Delete');
    });
  } finally {
    await p.locator(tid('lang-switch')).click();
  }
  await eventually('Vietnamese again', async () => {
    assert.equal(await p.locator(tid('settings-nav-labels')).textContent(), 'Nhãn');
  });
  // Deleting asks first; cancelling keeps the label.
  await del.click();
  await p.locator(tid('confirm-dialog')).waitFor();
  await p.locator(tid('confirm-cancel')).click();
  assert.equal(await p.locator(`${tid('label-row')}[data-name="Khách VIP"]`).count(), 1);
  await del.click();
  await p.locator(tid('confirm-ok')).click();
  await p.locator(`${tid('label-row')}[data-name="Khách VIP"]`).waitFor({ state: 'detached' });
  noErrors(p);
});

test('12. live: a member going off shift and a history import update the screen without a reload', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  const csrf = (await p.context().cookies()).find((c) => c.name === 'tongdai_csrf').value;
  const setAvailable = async (available) => {
    const r = await p.request.put(`${server.baseUrl}/api/v1/me/availability`, { data: { available }, headers: { 'X-CSRF-Token': csrf } });
    assert.equal(r.status(), 200);
  };
  await openSection(p, 'members');
  const mine = p.locator(`${tid('member-row')}:has-text("${server.owner.email}") ${tid('member-available')}`);
  await mine.waitFor();
  await setAvailable(false);
  await eventually('off shift', async () => assert.equal(await mine.textContent(), 'Ngoài ca'));
  await setAvailable(true);
  await eventually('on shift', async () => assert.equal(await mine.textContent(), 'Đang trong ca'));

  await openSection(p, 'channels');
  const page = p.locator(`${tid('channel-row')}:has-text("Shop Demo Fanpage")`);
  await page.locator(tid('channel-backfill-start')).click();
  await eventually('the import runs and finishes', async () => {
    assert.equal(await page.locator(tid('channel-backfill')).getAttribute('data-state'), 'done');
  }, { timeout: 30_000 });
  assert.match(await page.locator(tid('channel-backfill')).textContent(), /Hoàn tất/);
  // While it ran the button was gone; it is back now.
  await page.locator(tid('channel-backfill-start')).waitFor();
  noErrors(p);
});

test('13. a canned response is edited; the feedback and dead-letter sections render their data', { timeout: 60_000 }, async () => {
  const p = await ownerPage();
  await openSection(p, 'canned');
  const row = p.locator(`${tid('canned-row')}[data-shortcut="chaohang"]`);
  await row.locator(tid('canned-edit')).click();
  assert.equal(await p.locator(tid('canned-shortcut')).inputValue(), 'chaohang');
  await p.locator(tid('canned-content')).fill('Dạ em chào anh/chị ạ!');
  await p.locator(tid('canned-save')).click();
  await eventually('edited text shown', async () => assert.match(await row.textContent(), /Dạ em chào anh\/chị ạ!/));

  await openSection(p, 'feedback');
  await p.locator(tid('feedback-form')).waitFor();
  assert.equal(await p.locator(tid('feedback-enabled')).isChecked(), true);
  assert.equal(await p.locator(tid('feedback-delay')).inputValue(), '24');
  await p.locator(tid('feedback-delay')).fill('48');
  await p.locator(tid('feedback-save')).click();
  await eventually('feedback delay stored, assignment rules kept', async () => {
    const s = await (await p.request.get(`${server.baseUrl}/api/v1/pipeline-settings`)).json();
    assert.equal(s.feedback_delay_hours, 48);
    assert.equal(s.max_open_per_agent, 17, 'the rule saved in test 6 is kept');
  });
  await p.locator(`${tid('feedback-empty')}, ${tid('feedback-row')}`).first().waitFor();

  await openSection(p, 'events');
  await p.locator(`${tid('events-empty')}, ${tid('event-row')}`).first().waitFor();
  await p.locator(tid('events-status')).selectOption('unrouted');
  await p.locator(`${tid('events-empty')}, ${tid('event-row')}`).first().waitFor();
  noErrors(p);
});
