// The whole story of issue 6 in two real browsers against `tongdai demo`:
//
//   a customer writes on Messenger → the message appears live in the agent's open inbox → the
//   agent's reply reaches the (sandboxed) Graph API → a customer comments under the Page's post
//   with a phone number → a lead appears on the agent's board → the agent logs a call → makes
//   the order from the lead and confirms it → it appears live on the fulfillment board in a
//   second browser context (a phone-sized one) → packed there → the agent sees it packed and
//   the lead won.
//
// The demo's own traffic is slowed down (every 20 s) so this test's customers stand out.
// Run: node --test tests/e2e/pipeline.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startDemoServer, launchBrowser, newPage, login, eventually, tid, screenshot,
  customerMessage, customerComment, sandboxSent,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startDemoServer({ every: 20 });
  browser = await launchBrowser();
});

after(async () => {
  try { await browser?.close(); } finally { await server?.stop(); }
});

test('message → reply → comment with a phone → lead → call → order → fulfillment board', { timeout: 120_000 }, async () => {
  const run = Date.now().toString(36);
  // A fresh mobile number per run: 09xx xxx xxx.
  const digits = String(Date.now()).slice(-7);
  const phone = `098${digits}`;
  const phoneShown = `${phone.slice(0, 4)} ${phone.slice(4, 7)} ${phone.slice(7)}`;

  // ── the fulfillment board is open on a phone in another browser context ──
  const board = await newPage(browser, { viewport: { width: 360, height: 780 } });
  await login(board, server.baseUrl, server.fulfillment, { waitFor: 'fulfillment-board' });

  // ── the agent's inbox is open ──
  const agent = await newPage(browser, { viewport: { width: 1366, height: 860 } });
  await login(agent, server.baseUrl, server.agent);
  await agent.evaluate(() => { window.__sameDocument = true; });

  // 1. A Messenger message appears live.
  const psid = `e2e-psid-${run}`;
  const hello = `Shop ơi còn áo polo size L không ạ? (${run})`;
  assert.equal(await customerMessage(server.baseUrl, { psid, text: hello }), 200);
  const row = agent.locator(tid('conversation-item'), { hasText: run });
  await row.waitFor({ timeout: 15_000 });
  await row.click();
  await eventually('the message in the open thread', async () => {
    const texts = await agent.locator(`${tid('thread')} ${tid('message')} .msg-text`).allTextContents();
    assert.ok(texts.includes(hello), texts.join(' | '));
  });

  // 2. The agent's reply reaches the platform (the Graph sandbox records the Send API call).
  const reply = `Dạ còn ạ, chị cho em xin SĐT để em lên đơn nhé (${run})`;
  await agent.locator(tid('reply-input')).fill(reply);
  await agent.locator(tid('reply-input')).press('Enter');
  await eventually('the reply accepted by the sandbox and marked sent', async () => {
    const sent = await sandboxSent(server);
    assert.ok(sent.some((m) => m.recipient_id === psid && m.text === reply), `sandbox has ${sent.length} sends`);
    const out = agent.locator(`${tid('thread')} ${tid('message')}.out`, { hasText: run });
    assert.equal(await out.last().getAttribute('data-status'), 'sent');
  });

  // 3. A comment with a phone number becomes a lead on the agent's board, live.
  await agent.locator(tid('nav-leads')).click();
  await agent.locator(tid('leads-board')).waitFor();
  const commenter = `Chị Hạnh ${run}`;
  assert.equal(await customerComment(server.baseUrl, {
    uid: `e2e-uid-${run}`, name: commenter, text: `Lấy mình 2 áo polo size L, sđt ${phoneShown} nhé shop`,
  }), 200);
  const card = agent.locator(`${tid('leads-board')} ${tid('lead-card')}`, { hasText: phoneShown });
  await card.waitFor({ timeout: 20_000 });
  assert.equal(await card.getAttribute('data-stage'), 'new');
  const leadId = await card.getAttribute('data-id');

  // 4. The agent opens it and logs a call: interested → the lead is qualified.
  await card.locator(tid('lead-open')).click();
  await agent.locator(tid('lead-detail')).waitFor();
  assert.equal(await agent.locator(tid('lead-detail-phone')).getAttribute('href'), `tel:+84${phone.slice(1)}`);
  await agent.locator(tid('call-outcome')).selectOption('interested');
  await agent.locator(tid('call-duration')).fill('1:45');
  await agent.locator(tid('call-note')).fill('Khách lấy 2 áo, giao giờ hành chính');
  await agent.locator(tid('call-submit')).click();
  await eventually('the call logged and the lead qualified', async () => {
    assert.equal(await agent.locator(`${tid('call-log')} ${tid('call-item')}`).count(), 1);
    assert.equal(await agent.locator(tid('lead-detail-stage')).getAttribute('data-stage'), 'qualified');
  });

  // 5. The order, from the lead: recipient prefilled, items, address, totals; confirmed.
  await agent.locator(tid('lead-create-order')).click();
  await agent.locator(tid('order-form')).waitFor();
  await eventually('recipient prefilled from the lead', async () => {
    assert.equal((await agent.locator(tid('order-phone')).inputValue()).replace(/\D/g, '').slice(-9), phone.slice(1));
  });
  await agent.locator(tid('order-name')).fill(commenter);
  await agent.locator(tid('order-item-name')).first().fill('Áo polo nam size L');
  await agent.locator(tid('order-item-quantity')).first().fill('2');
  await agent.locator(tid('order-item-unit_price')).first().fill('250000');
  await agent.locator(tid('order-fee')).fill('30000');
  await agent.locator(tid('order-street')).fill('72 Thành Thái');
  await agent.locator(tid('order-province')).selectOption('Thành phố Hồ Chí Minh');
  await agent.locator(tid('order-ward')).fill('Phường Diên Hồng');
  await eventually('totals', async () => {
    assert.match(await agent.locator(tid('order-total')).textContent(), /530\.000/);
  });
  await agent.locator(tid('order-confirm')).click();
  await agent.locator(tid('order-confirm-dialog')).waitFor();
  await agent.locator(tid('order-confirm-go')).click();
  await agent.locator(tid('order-detail')).waitFor();
  const orderId = new URL(agent.url()).pathname.split('/')[2];

  // 6. It appears live on the fulfillment board in the other context; packed there.
  const onBoard = board.locator(`${tid('fulfillment-card')}[data-id="${orderId}"]`);
  await onBoard.waitFor({ timeout: 15_000 });
  assert.match(await onBoard.textContent(), /Áo polo nam size L/);
  assert.match(await onBoard.textContent(), /530\.000/);
  await onBoard.locator(tid('fulfillment-pack')).click();
  await eventually('packed on the board', async () => {
    assert.equal(await board.locator(`${tid('fulfillment-col-packed')} ${tid('fulfillment-card')}[data-id="${orderId}"]`).count(), 1);
  });
  await eventually('the agent sees it packed, live', async () => {
    assert.equal(await agent.locator(tid('order-status')).getAttribute('data-status'), 'packed');
  });

  // 7. Confirming the order won the lead.
  await agent.goto(`${server.baseUrl}/leads/${leadId}`);
  await eventually('the lead won', async () => {
    assert.equal(await agent.locator(tid('lead-detail-stage')).getAttribute('data-stage'), 'won');
  });

  assert.deepEqual(agent.errors, []);
  assert.deepEqual(board.errors, []);
  if (process.env.E2E_SCREENSHOTS) await screenshot(board, 'pipeline-board.png');
});
