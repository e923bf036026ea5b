// Real-browser tests of the order form, the order page and the fulfillment board against
// `tongdai demo` (which registers a loopback fulfillment receiver that verifies each push's
// Standard Webhooks signature and answers 204). The agent makes an order from a demo
// conversation and confirms it; the fulfillment user sees it arrive live on the board and
// packs it; the agent's order page follows live, with the delivery to the receiver listed.
// Run: node --test tests/e2e/orders.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemoServer, launchBrowser, newPage, login, eventually, screenshot, tid } from './harness.mjs';

let server;
let browser;
let agent; // the agent's page
let orderId = null;

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

/** A demo conversation whose contact has a phone (waits for the traffic to bring one). */
async function conversationWithPhone(page) {
  return eventually('a demo conversation with a phone', async () => {
    const list = await (await page.request.get(`${server.baseUrl}/api/v1/conversations?limit=100`)).json();
    // Named too: the order form takes the recipient's name from the contact (a Zalo customer
    // has none until the profile lookup has run).
    const c = list.items.find((x) => x.contact?.phone && x.contact?.name);
    assert.ok(c, 'no conversation with a named contact and a phone yet');
    return c;
  }, { timeout: 30_000, interval: 500 });
}

async function fillOrder(page, { ward = 'Phường Hải Châu' } = {}) {
  await page.locator(tid('order-item-name')).first().fill('Áo thun cotton trắng');
  await page.locator(tid('order-item-sku')).first().fill('TEE-W-M');
  await page.locator(tid('order-item-quantity')).first().fill('2');
  await page.locator(tid('order-item-unit_price')).first().fill('199000');
  await page.locator(tid('order-add-item')).click();
  await page.locator(tid('order-item-name')).nth(1).fill('Túi vải');
  await page.locator(tid('order-item-unit_price')).nth(1).fill('50000');
  await page.locator(tid('order-fee')).fill('30000');
  await page.locator(tid('order-discount')).fill('20000');
  await page.locator(tid('order-street')).fill('72 Bạch Đằng');
  await page.locator(tid('order-province')).selectOption('Thành phố Đà Nẵng');
  await page.locator(tid('order-ward')).fill(ward);
}

test('the agent makes an order from a conversation, totals are right, and confirms it', async () => {
  agent = await newPage(browser, { viewport: { width: 1280, height: 900 } });
  await login(agent, server.baseUrl, server.agent);
  const conv = await conversationWithPhone(agent);
  await agent.goto(`${server.baseUrl}/orders/new?conversation=${conv.id}`);
  await agent.locator(tid('order-form')).waitFor();
  // Name and phone come from the contact.
  await eventually('recipient prefilled', async () => {
    assert.equal(await agent.locator(tid('order-name')).inputValue(), conv.contact.name ?? '');
    assert.notEqual(await agent.locator(tid('order-phone')).inputValue(), '');
  });
  await fillOrder(agent);
  // 2 × 199.000 + 50.000 = 448.000; + 30.000 − 20.000 = 458.000; COD follows the total.
  await eventually('live totals', async () => {
    assert.match(await agent.locator(tid('order-subtotal')).textContent(), /448\.000/);
    assert.match(await agent.locator(tid('order-total')).textContent(), /458\.000/);
    assert.equal(await agent.locator(tid('order-cod')).inputValue(), '458000');
  });
  // Confirm without a ward first: the server's problem shows next to the field.
  await agent.locator(tid('order-ward')).fill('');
  await agent.locator(tid('order-confirm')).click();
  await agent.locator(tid('order-confirm-go')).click();
  await eventually('ward problem shown', async () => {
    assert.match(await agent.locator(tid('order-ward-error')).textContent(), /phường/i);
  });
  assert.match(new URL(agent.url()).pathname, /^\/orders\/[0-9a-f-]{36}$/);
  orderId = new URL(agent.url()).pathname.split('/')[2];
  await agent.locator(tid('order-ward')).fill('Phường Hải Châu');
  await agent.locator(tid('order-confirm')).click();
  await agent.locator(tid('order-confirm-dialog')).waitFor();
  await eventually('phone record shown', async () => {
    assert.match(await agent.locator(`${tid('order-confirm-dialog')} ${tid('order-record')}`).textContent(), /0 /);
  });
  await agent.locator(tid('order-confirm-go')).click();
  await agent.locator(tid('order-detail')).waitFor();
  const order = await (await agent.request.get(`${server.baseUrl}/api/v1/orders/${orderId}`)).json();
  assert.equal(order.totals.total, 458000);
  assert.equal(order.cod_amount, 458000);
  assert.equal(order.conversation_id, conv.id);
  assert.equal(order.recipient.address.province, 'Thành phố Đà Nẵng');
  assert.ok(['confirmed', 'pushed'].includes(order.status), order.status);
  assert.deepEqual(agent.errors, []);
});

test('the fulfillment board gets the order live, packs it, and the agent sees it and the delivery', async () => {
  assert.ok(server.fulfillment, 'the demo prints a fulfillment user');
  const board = await newPage(browser, { viewport: { width: 360, height: 780 } });
  // Fulfillment staff land on their board.
  await login(board, server.baseUrl, server.fulfillment, { waitFor: 'fulfillment-board' });
  assert.equal(new URL(board.url()).pathname, '/fulfillment');
  // A second order, confirmed while the board is open, arrives live.
  await agent.goto(`${server.baseUrl}/orders/new?conversation=${(await conversationWithPhone(agent)).id}`);
  await agent.locator(tid('order-form')).waitFor();
  await fillOrder(agent, { ward: 'Phường Thanh Khê' });
  await agent.locator(tid('order-save')).click();
  await eventually('draft saved', async () => assert.match(new URL(agent.url()).pathname, /^\/orders\/[0-9a-f-]{36}$/));
  const second = new URL(agent.url()).pathname.split('/')[2];
  await agent.locator(tid('order-confirm')).click();
  await agent.locator(tid('order-confirm-go')).click();
  await agent.locator(tid('order-detail')).waitFor();
  const card = board.locator(`${tid('fulfillment-card')}[data-id="${second}"]`);
  await card.waitFor();
  assert.equal(await card.evaluate((el) => el.closest('[data-testid^="fulfillment-col-"]').dataset.testid), 'fulfillment-col-waiting');
  assert.match(await card.textContent(), /Áo thun cotton trắng/);
  assert.match(await card.textContent(), /458\.000/);
  // The agent's page follows the status live: open it before packing.
  await agent.locator(tid('order-status')).waitFor();
  await eventually('pushed to the demo receiver', async () => {
    assert.deepEqual(agent.errors, []);
    assert.equal(await agent.locator(tid('order-status')).getAttribute('data-status'), 'pushed');
  }, { timeout: 20_000 });
  await card.locator(tid('fulfillment-pack')).click();
  await eventually('card moved to packed', async () => {
    const moved = board.locator(`${tid('fulfillment-col-packed')} ${tid('fulfillment-card')}[data-id="${second}"]`);
    assert.equal(await moved.count(), 1);
  });
  await eventually('agent sees packed live', async () => {
    assert.equal(await agent.locator(tid('order-status')).getAttribute('data-status'), 'packed');
  });
  await eventually('delivery listed as delivered', async () => {
    const d = agent.locator(`${tid('order-deliveries')} ${tid('order-delivery')}`).first();
    assert.equal(await d.getAttribute('data-status'), 'delivered');
  });
  await agent.locator(tid('delivery-show')).first().click();
  await eventually('attempt with 204 shown', async () => {
    assert.match(await agent.locator(tid('delivery-attempt')).first().textContent(), /204/);
  });
  await screenshot(board, 'fulfillment-board-360.png');
  assert.deepEqual(board.errors, []);
  assert.deepEqual(agent.errors, []);
  await board.context().close();
});

test('a blacklisted phone needs an override reason to confirm', async () => {
  // The owner blacklists a phone (through the API), the agent then orders to it.
  const res = await fetch(`${server.baseUrl}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(server.owner),
  });
  assert.equal(res.status, 200);
  const me = await res.json();
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const add = await fetch(`${server.baseUrl}/api/v1/blacklist`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': me.csrf_token },
    body: JSON.stringify({ phone: '0909 888 777', reason: 'Bom hàng 2 lần' }),
  });
  assert.equal(add.status, 201, await add.text());

  await agent.goto(`${server.baseUrl}/orders/new`);
  await agent.locator(tid('order-form')).waitFor();
  await agent.locator(tid('order-name')).fill('Khách bom hàng');
  await agent.locator(tid('order-phone')).fill('0909888777');
  await fillOrder(agent);
  await agent.locator(tid('order-confirm')).click();
  await agent.locator(tid('order-blacklist-warning')).waitFor();
  assert.match(await agent.locator(tid('order-blacklist-warning')).textContent(), /Bom hàng 2 lần/);
  await agent.locator(tid('order-confirm-go')).click();
  await eventually('reason required', async () => {
    assert.notEqual((await agent.locator(tid('order-override-error')).textContent()).trim(), '');
  });
  assert.equal(await agent.locator(tid('order-confirm-dialog')).count(), 1);
  await agent.locator(tid('order-override-reason')).fill('Khách đã chuyển khoản trước');
  await agent.locator(tid('order-confirm-go')).click();
  await agent.locator(tid('order-detail')).waitFor();
  const id = await agent.locator(tid('order-detail')).getAttribute('data-id');
  const order = await (await agent.request.get(`${server.baseUrl}/api/v1/orders/${id}`)).json();
  assert.equal(order.blacklist_override, 'Khách đã chuyển khoản trước');
  assert.notEqual(order.status, 'draft');
  assert.deepEqual(agent.errors, []);
});

test('an order from a lead starts with the lead\'s name and phone', async () => {
  const lead = await eventually('a demo lead', async () => {
    const list = await (await agent.request.get(`${server.baseUrl}/api/v1/leads?limit=20`)).json();
    const l = (list.items ?? list).find((x) => x.phone);
    assert.ok(l, 'no lead yet');
    return l;
  }, { timeout: 30_000, interval: 500 });
  await agent.goto(`${server.baseUrl}/orders/new?lead=${lead.id}`);
  await agent.locator(tid('order-form')).waitFor();
  await eventually('phone prefilled from the lead', async () => {
    const typed = (await agent.locator(tid('order-phone')).inputValue()).replace(/\s/g, '');
    assert.equal(typed, lead.phone.replace(/^\+84/, '0'));
  });
  assert.deepEqual(agent.errors, []);
});
