// Real-browser end-to-end tests of the leads board against `tongdai demo`.
//
// The demo's comments and Instagram messages carry phone numbers, so leads keep arriving in
// the first minute; distribution hands them to the demo's agent (on shift by default). One
// desktop page signed in as the agent runs the tests in order: a lead appears live, its
// detail opens, a "call back" call is logged (the lead becomes contacted, the call is in the
// log), the card moves by keyboard (and an invalid move shows the server's reason), and
// marking it lost asks for a reason. The inbox does not mount the contact panel on this branch
// yet, so the last test mounts `ContactPanel` by hand in the signed-in page (the real module,
// API and websocket) beside a demo conversation. Run: node --test tests/e2e/leads.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startDemoServer, launchBrowser, newPage, login, eventually, screenshot, tid,
} from './harness.mjs';

let server;
let browser;
let page;
let leadId = null;

before(async () => {
  server = await startDemoServer({ every: 1 });
  browser = await launchBrowser();
  page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
});

after(async () => {
  try {
    if (page && process.env.E2E_SCREENSHOTS) await screenshot(page, 'leads.png');
    await browser?.close();
  } finally {
    await server?.stop();
  }
});

const cards = () => page.locator(`${tid('leads-board')} ${tid('lead-card')}`);
const card = (id) => page.locator(`${tid('leads-board')} ${tid('lead-card')}[data-id="${id}"]`);
const cardIds = () => cards().evaluateAll((els) => els.map((el) => el.dataset.id));

function noErrors() {
  assert.deepEqual(page.errors, [], 'uncaught errors in the page');
}

test('a lead from a demo comment appears live on the agent board', async () => {
  await login(page, server.baseUrl, server.agent);
  await page.goto(`${server.baseUrl}/leads`);
  await page.locator(tid('leads-board')).waitFor({ state: 'visible' });
  assert.equal(await page.locator(tid('leads-scope-me')).getAttribute('aria-pressed'), 'true');
  // No "Tất cả" tab for an agent.
  assert.equal(await page.locator(tid('leads-scope-all')).count(), 0);
  await page.evaluate(() => { window.__noReload = true; });
  // Let the first load settle, then wait for a card that was not there.
  await page.waitForTimeout(500);
  const before = new Set(await cardIds());
  const fresh = await eventually('a new lead card on the board', async () => {
    const ids = await cardIds();
    const id = ids.find((x) => !before.has(x));
    assert.ok(id, `no new card yet (${ids.length} shown)`);
    return id;
  }, { timeout: 40_000 });
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');
  const c = card(fresh);
  assert.equal(await c.getAttribute('data-stage'), 'new');
  assert.match(await c.locator('.phone').textContent(), /^0\d{3} \d{3} \d{3}$/);
  const count = Number(await page.locator(tid('leads-count-new')).textContent());
  assert.ok(count >= 1);
  leadId = fresh;
  noErrors();
});

test('the agent opens the lead and logs a call back: stage and call log follow', async () => {
  assert.ok(leadId, 'needs the first test');
  await card(leadId).locator(tid('lead-open')).click();
  await eventually('the detail of the lead', async () => {
    assert.ok(page.url().endsWith(`/leads/${leadId}`));
    assert.equal(await page.locator(tid('lead-detail-stage')).getAttribute('data-stage'), 'new');
  });
  const tel = await page.locator(tid('lead-detail-phone')).getAttribute('href');
  assert.match(tel, /^tel:\+84\d{9}$/);
  assert.equal(await page.locator(tid('call-log-empty')).count(), 1);

  // "Call back" without a time is refused in the form.
  await page.locator(tid('call-outcome')).selectOption('call_back');
  await page.locator(tid('call-submit')).click();
  await page.locator(tid('call-error')).waitFor({ state: 'visible' });

  const next = await page.evaluate(() => {
    const d = new Date(Date.now() + 2 * 3600_000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  });
  await page.locator(tid('call-next')).fill(next);
  await page.locator(tid('call-duration')).fill('2:30');
  await page.locator(tid('call-note')).fill('Khách hẹn 2 tiếng nữa gọi lại');
  await page.locator(tid('call-submit')).click();

  await eventually('the call in the log and the lead contacted', async () => {
    const items = page.locator(`${tid('call-log')} ${tid('call-item')}`);
    assert.equal(await items.count(), 1);
    assert.equal(await items.first().getAttribute('data-outcome'), 'call_back');
    assert.match(await items.first().textContent(), /Khách hẹn 2 tiếng nữa gọi lại/);
    assert.match(await items.first().textContent(), /2:30/);
    assert.equal(await page.locator(tid('lead-detail-stage')).getAttribute('data-stage'), 'contacted');
    assert.equal(await card(leadId).getAttribute('data-stage'), 'contacted');
    assert.equal(await page.locator(`${tid('leads-col-contacted')} ${tid('lead-card')}[data-id="${leadId}"]`).count(), 1);
    assert.equal(await card(leadId).locator(tid('lead-next-call')).count(), 1);
  });
  // The audit trail shows the stage change.
  assert.match(await page.locator(tid('lead-audit')).textContent(), /Đã liên hệ/);
  // The call back falls within the next … no: 2 h away, so it is not in the "Cần gọi lại" strip.
  const strip = await page.locator(`${tid('leads-reminders')} a[href="/leads/${leadId}"]`).count();
  assert.equal(strip, 0);
  noErrors();
});

test('a card moves by keyboard; an invalid move shows the server reason', async () => {
  assert.ok(leadId, 'needs the first test');
  await card(leadId).focus();
  await page.keyboard.press(']');
  await eventually('the card in qualified', async () => {
    assert.equal(await page.locator(`${tid('leads-col-qualified')} ${tid('lead-card')}[data-id="${leadId}"]`).count(), 1);
  });
  // Focus stays on the moved card, so the next key works on it: back is not allowed.
  await eventually('focus on the moved card', async () => {
    assert.equal(await page.evaluate(() => document.activeElement?.dataset?.id), leadId);
  });
  await page.keyboard.press('[');
  await page.locator(tid('leads-error')).first().waitFor({ state: 'visible' });
  assert.equal(await card(leadId).getAttribute('data-stage'), 'qualified');
  noErrors();
});

test('marking a lead lost asks for a reason', async () => {
  assert.ok(leadId, 'needs the first test');
  await card(leadId).locator(tid('lead-move')).selectOption('lost');
  const dlg = page.locator(tid('lost-dialog'));
  await dlg.waitFor({ state: 'visible' });
  await dlg.locator(tid('lost-submit')).click();
  assert.ok(await dlg.isVisible(), 'the dialog needs a reason');
  assert.equal(await card(leadId).getAttribute('data-stage'), 'qualified');
  await dlg.locator(tid('lost-reason')).fill('Khách đã mua ở shop khác');
  await dlg.locator(tid('lost-submit')).click();
  await eventually('the card in lost', async () => {
    assert.equal(await page.locator(`${tid('leads-col-lost')} ${tid('lead-card')}[data-id="${leadId}"]`).count(), 1);
    assert.match(await page.locator(tid('lead-detail-stage')).textContent(), /Khách đã mua ở shop khác/);
  });
  noErrors();
});

test('a card moves by drag and drop', async () => {
  const other = await eventually('another new lead', async () => {
    const ids = await page.locator(`${tid('leads-col-new')} ${tid('lead-card')}`).evaluateAll((els) => els.map((el) => el.dataset.id));
    const id = ids.find((x) => x !== leadId);
    assert.ok(id, 'no other new lead yet');
    return id;
  }, { timeout: 30_000 });
  await card(other).dragTo(page.locator(tid('leads-col-contacted')));
  await eventually('the dragged card in contacted', async () => {
    assert.equal(await page.locator(`${tid('leads-col-contacted')} ${tid('lead-card')}[data-id="${other}"]`).count(), 1);
  });
  noErrors();
});

test('on a phone the board and the detail fit 360 px', async () => {
  const ctxPage = await newPage(browser, { viewport: { width: 360, height: 740 } });
  try {
    // Reuse the agent's session cookie rather than signing in again (login is rate limited).
    await ctxPage.context().addCookies(await page.context().cookies());
    await ctxPage.goto(`${server.baseUrl}/leads/${leadId}`);
    await ctxPage.locator(tid('lead-detail-stage')).waitFor({ state: 'visible' });
    const overflow = await ctxPage.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page wider than the screen by ${overflow}px`);
    const h = await ctxPage.locator(tid('call-submit')).evaluate((el) => el.getBoundingClientRect().height);
    assert.ok(h >= 34, `button ${h}px high`);
    await ctxPage.locator(tid('lead-detail-close')).click();
    await ctxPage.locator(tid('leads-board')).waitFor({ state: 'visible' });
    assert.deepEqual(ctxPage.errors, []);
  } finally {
    await ctxPage.context().close();
  }
});

test('the contact panel shows a demo customer, saves the note and labels', async () => {
  await page.goto(`${server.baseUrl}/leads`);
  await page.locator(tid('leads-board')).waitFor({ state: 'visible' });
  // A demo conversation whose customer gave a phone number (leads exist for those).
  const convId = await eventually('a conversation with a phone', async () => {
    const id = await page.evaluate(async () => {
      const { api } = await import('/api.js');
      const page1 = await api.get('/conversations', { limit: 100 });
      return page1.items.find((c) => c.contact?.phone)?.id ?? null;
    });
    assert.ok(id);
    return id;
  }, { timeout: 30_000 });
  await page.evaluate(async (id) => {
    const { api } = await import('/api.js');
    const { ContactPanel } = await import('/views/contact.js');
    const perms = ['read_inbox', 'work_inbox', 'leads', 'read_orders', 'work_orders'];
    const host = document.createElement('div');
    host.className = 'e2e-contact-host';
    document.querySelector('main, body').append(host);
    const conv = await api.get(`/conversations/${id}`);
    window.__panel = new ContactPanel(host, { can: (p) => perms.includes(p), navigate: () => {}, role: 'agent' });
    window.__panel.show(conv);
  }, convId);
  const panel = page.locator(tid('contact-panel'));
  await panel.locator(tid('contact-note')).waitFor({ state: 'visible' });
  assert.match(await panel.locator(tid('contact-phone')).getAttribute('href'), /^tel:\+84\d{9}$/);
  assert.equal(await panel.locator(tid('contact-lead')).count(), 1, 'the open lead of the customer');
  assert.match(await panel.locator(tid('contact-lead')).getAttribute('href'), /^\/leads\//);
  assert.equal(await panel.locator(tid('contact-create-order')).getAttribute('href'), `/orders/new?conversation=${convId}`);
  assert.equal(await panel.locator(tid('contact-record')).count(), 1);

  // The note is saved on the button (and on blur) and is there after a fresh read.
  await panel.locator(tid('contact-note')).fill('Khách quen, giao giờ hành chính');
  await panel.locator(tid('contact-note-save')).click();
  await eventually('the note saved', async () => {
    assert.match(await panel.locator(tid('contact-note-state')).textContent(), /Đã lưu/);
  });
  const stored = await page.evaluate(async (id) => {
    const { api } = await import('/api.js');
    const conv = await api.get(`/conversations/${id}`);
    return (await api.get(`/contacts/${conv.contact.id}`)).note;
  }, convId);
  assert.equal(stored, 'Khách quen, giao giờ hành chính');

  // A new label typed in, then removed.
  await panel.locator(tid('contact-label-input')).fill('Khách VIP');
  await panel.locator(tid('contact-label-add')).click();
  await eventually('the label on the conversation', async () => {
    assert.match(await panel.locator(tid('contact-labels')).textContent(), /Khách VIP/);
  });
  await panel.locator(`${tid('contact-labels')} ${tid('contact-label-remove')}`).last().click();
  await eventually('the label removed', async () => {
    assert.doesNotMatch(await panel.locator(tid('contact-labels')).textContent(), /Khách VIP/);
  });

  // Renaming publishes contact.updated; the panel shows the new name.
  await panel.locator(tid('contact-name-edit')).click();
  await panel.locator(tid('contact-name-input')).fill('Chị Hương Q10');
  await panel.locator(tid('contact-name-input')).press('Enter');
  await eventually('the new name', async () => {
    assert.equal(await panel.locator(tid('contact-name')).textContent(), 'Chị Hương Q10');
  });
  await page.evaluate(() => window.__panel.destroy());
  assert.equal(await page.locator(tid('contact-panel')).count(), 0);
  noErrors();
});

test('an owner sees every lead by default and can assign from the detail', async () => {
  const op = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  try {
    await login(op, server.baseUrl, server.owner);
    await op.goto(`${server.baseUrl}/leads`);
    await op.locator(tid('leads-board')).waitFor({ state: 'visible' });
    assert.equal(await op.locator(tid('leads-scope-all')).getAttribute('aria-pressed'), 'true');
    await eventually('cards on the owner board', async () => {
      assert.ok((await op.locator(tid('lead-card')).count()) > 0);
    });
    await op.locator(tid('leads-scope-none')).click();
    assert.equal(await op.locator(tid('leads-scope-none')).getAttribute('aria-pressed'), 'true');
    await op.locator(tid('leads-scope-all')).click();
    await op.locator(`${tid('lead-card')}[data-id="${leadId}"] ${tid('lead-open')}`).click();
    const sel = op.locator(tid('lead-assign'));
    await sel.waitFor({ state: 'visible' });
    // Back to the queue, then the card shows as unassigned.
    await sel.selectOption('');
    await eventually('the lead unassigned', async () => {
      assert.match(await op.locator(`${tid('lead-card')}[data-id="${leadId}"] .lead-assignee`).textContent(), /Chưa giao/);
      assert.match(await op.locator(tid('lead-audit')).textContent(), /Trả về hàng đợi/);
    });
    assert.deepEqual(op.errors, []);
  } finally {
    await op.context().close();
  }
});
