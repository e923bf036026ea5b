// Takes the screenshots of the main screens shown in the README (docs/screenshots/*.png),
// against `tongdai demo` with a minute of its traffic plus a few orders. Not a test: run it
// by hand after a visible change to the UI:
//
//   cargo build --bin tongdai && node tests/e2e/screenshots.mjs
import path from 'node:path';
import fs from 'node:fs';
import {
  REPO, startDemoServer, launchBrowser, newPage, login, eventually, tid, apiClient,
  customerComment,
} from './harness.mjs';

const OUT = path.join(REPO, 'docs', 'screenshots');
fs.mkdirSync(OUT, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const server = await startDemoServer({ every: 1 });
const browser = await launchBrowser();
try {
  const agentApi = await apiClient(server.baseUrl, server.agent);
  const ownerApi = await apiClient(server.baseUrl, server.owner);
  // Labels and canned responses a shop would have.
  for (const [name, color] of [['Khách sỉ', '#7c3aed'], ['Đổi size', '#0891b2'], ['Gấp', '#dc2626']]) {
    await ownerApi.post('/labels', { name, color }).catch(() => {});
  }
  await ownerApi.post('/canned-responses', { shortcut: 'gia', category: 'FAQ', content: 'Dạ áo polo giá 250.000đ, freeship đơn từ 2 áo ạ.' }).catch(() => {});
  await ownerApi.post('/canned-responses', { shortcut: 'chao', category: 'Kịch bản', content: 'Dạ shop chào chị, chị cần tư vấn mẫu nào ạ?' }).catch(() => {});
  // Comments with phone numbers → leads; let the demo traffic run a while.
  const people = [['Trần Thu Hà', '0912 345 678'], ['Lê Minh Tuấn', '0903 111 222'], ['Phạm Ngọc Ánh', '0987 222 333']];
  for (const [i, [name, phone]] of people.entries()) {
    await customerComment(server.baseUrl, { uid: `shot-${i}`, name, text: `Mình lấy 1 cái nhé, sđt ${phone}` });
  }
  await sleep(25_000);

  // A few orders in different states.
  const leads = (await agentApi.get('/leads?assignee=me&limit=20')).items;
  const addr = [['72 Thành Thái', 'Phường Diên Hồng', 'Thành phố Hồ Chí Minh'], ['15 Bạch Đằng', 'Phường Hải Châu', 'Thành phố Đà Nẵng'], ['8 Tràng Tiền', 'Phường Hoàn Kiếm', 'Thành phố Hà Nội']];
  const made = [];
  for (const [i, lead] of leads.slice(0, 3).entries()) {
    const o = await agentApi.post('/orders', {
      lead_id: lead.id,
      items: [{ name: 'Áo polo nam', sku: 'POLO-L', quantity: 2, unit_price: 250000 }, { name: 'Túi vải canvas', quantity: 1, unit_price: 50000 }],
      recipient: { name: lead.contact?.name ?? 'Khách', phone: lead.phone, address: { street: addr[i][0], ward: addr[i][1], province: addr[i][2] } },
      shipping_fee: 30000, discount: 0,
    });
    await agentApi.post(`/orders/${o.id}/confirm`, {});
    made.push(o.id);
  }
  if (made[1]) await ownerApi.post(`/orders/${made[1]}/status`, { status: 'packed' }).catch(() => {});

  // The inbox, a conversation open with the contact panel.
  const agent = await newPage(browser, { viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  await login(agent, server.baseUrl, server.agent);
  const conv = (await agentApi.get('/conversations?limit=50')).items.find((c) => c.kind === 'direct' && c.contact?.phone) ?? (await agentApi.get('/conversations?limit=1')).items[0];
  await agent.goto(`${server.baseUrl}/inbox/${conv.id}`);
  await agent.locator(`${tid('thread')} ${tid('message')}`).first().waitFor();
  if (!(await agent.locator(tid('contact-pane')).isVisible())) await agent.locator(tid('contact-toggle')).click();
  await agent.locator(tid('contact-panel')).waitFor();
  await sleep(800);
  await agent.screenshot({ path: path.join(OUT, 'inbox.png') });

  // The leads board with a lead open.
  await agent.goto(`${server.baseUrl}/leads`);
  await agent.locator(tid('lead-card')).first().waitFor();
  await sleep(500);
  await agent.screenshot({ path: path.join(OUT, 'leads.png') });

  // An order being made.
  const lead = leads[3] ?? leads[0];
  await agent.goto(`${server.baseUrl}/orders/new?lead=${lead.id}`);
  await agent.locator(tid('order-form')).waitFor();
  await agent.locator(tid('order-item-name')).first().fill('Áo polo nam size L');
  await agent.locator(tid('order-item-quantity')).first().fill('2');
  await agent.locator(tid('order-item-unit_price')).first().fill('250000');
  await agent.locator(tid('order-fee')).fill('30000');
  await agent.locator(tid('order-street')).fill('72 Thành Thái');
  await agent.locator(tid('order-province')).selectOption('Thành phố Hồ Chí Minh');
  await agent.locator(tid('order-ward')).fill('Phường Diên Hồng');
  await sleep(300);
  await agent.screenshot({ path: path.join(OUT, 'order-form.png') });

  // The fulfillment board on a phone.
  const board = await newPage(browser, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  await login(board, server.baseUrl, server.fulfillment, { waitFor: 'fulfillment-board' });
  await board.locator(tid('fulfillment-card')).first().waitFor();
  await sleep(300);
  await board.screenshot({ path: path.join(OUT, 'fulfillment-phone.png') });

  // Reports and settings, as the owner; reports in English.
  const owner = await newPage(browser, { viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
  await login(owner, server.baseUrl, server.owner);
  await owner.goto(`${server.baseUrl}/settings/channels`);
  await owner.locator(tid('channel-row')).first().waitFor();
  await sleep(300);
  await owner.screenshot({ path: path.join(OUT, 'settings.png') });
  await owner.goto(`${server.baseUrl}/reports`);
  await owner.locator('svg').first().waitFor();
  await owner.locator(tid('lang-switch')).click();
  await sleep(800);
  await owner.screenshot({ path: path.join(OUT, 'reports-en.png') });
  await owner.locator(tid('lang-switch')).click();

  // The inbox on a phone.
  const phone = await newPage(browser, { viewport: { width: 360, height: 740 }, deviceScaleFactor: 1 });
  await login(phone, server.baseUrl, server.agent);
  await sleep(300);
  await phone.screenshot({ path: path.join(OUT, 'inbox-phone.png') });

  for (const p of [agent, board, owner, phone]) {
    if (p.errors.length) throw new Error(`page errors: ${p.errors.join('\n')}`);
  }
  console.log(`screenshots written to ${path.relative(REPO, OUT)}/`);
} finally {
  await browser.close();
  await server.stop();
}
