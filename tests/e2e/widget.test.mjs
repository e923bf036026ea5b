// The website chat widget, end to end: a shop page on another origin than tongdai (a tiny
// node server here, with a hostile stylesheet) embeds the demo's one script tag; a visitor
// (a 360 px phone) opens the bubble and chats; an agent signed in to the inbox (a second
// browser context) sees it live and answers; the visitor sees the agent typing, the reply
// and "Đã xem"; a reload keeps the history; the visitor leaves name + phone and a lead
// appears for the agent. Run: node --test tests/e2e/widget.test.mjs (after cargo build).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startDemoServer, launchBrowser, newPage, login, eventually, screenshot, tid, freePort,
} from './harness.mjs';

let server;
let browser;
let shop; // { url, close }

// Everything a careless or hostile theme might do to a widget that lives in the page's DOM.
const HOSTILE_CSS = `
* { font-size: 40px !important; color: red !important; font-family: "Comic Sans MS", cursive !important; }
button { display: none !important; }
div, section, ol, li, form, textarea, input { background: yellow !important; border: 5px dashed red !important; }
textarea, input { visibility: hidden !important; }
`;

async function startShop(scriptSrc, websiteToken) {
  const port = await freePort();
  const page = `<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop có CSS khó chịu</title><style>${HOSTILE_CSS}</style></head>
<body><h1>Shop thử nghiệm</h1><p>Áo thun 199.000đ</p><button>Nút của shop</button>
<script src="${scriptSrc}" data-website-token="${websiteToken}" async></script>
</body></html>`;
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => srv.close(r)) };
}

before(async () => {
  server = await startDemoServer({ every: 5 });
  browser = await launchBrowser();
  // The demo's own shop page carries the one tag: take its script URL and website token.
  const demoShop = /Demo shop page: (http\S+)/.exec(server.log())?.[1];
  assert.ok(demoShop, `no "Demo shop page" line in the demo output:\n${server.log()}`);
  assert.notEqual(new URL(demoShop).port, new URL(server.baseUrl).port, 'the shop page is on another port');
  const html = await (await fetch(demoShop)).text();
  const src = /<script src="([^"]+\/widget\.js)" data-website-token="([^"]+)"/.exec(html);
  assert.ok(src, `no widget tag in the demo shop page:\n${html}`);
  shop = await startShop(src[1], src[2]);
});

after(async () => {
  try {
    await browser?.close();
    await shop?.close();
  } finally {
    await server?.stop();
  }
});

test('a visitor chats with an agent through the widget on a hostile shop page', async () => {
  const visitor = await newPage(browser, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const agent = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  await login(agent, server.baseUrl, server.agent);

  await visitor.goto(shop.url);
  const w = (id) => visitor.getByTestId(id); // getByTestId pierces the widget's open shadow root
  const bubble = w('tongdai-bubble');
  await bubble.waitFor({ state: 'visible' });
  assert.equal(await bubble.getAttribute('aria-label'), 'Mở khung chat');
  // The page's `button { display: none }` hides the shop's own button, not ours.
  assert.equal(await visitor.locator('body > button').isVisible(), false);
  await bubble.click();
  const input = w('tongdai-input');
  await input.waitFor({ state: 'visible' });
  assert.equal(await bubble.getAttribute('aria-expanded'), 'true');
  // Focus moved into the panel; the page's styles do not reach inside.
  assert.equal(await input.evaluate((el) => el.getRootNode().activeElement === el), true);
  const look = await input.evaluate((el) => {
    const cs = getComputedStyle(el);
    return { fontSize: cs.fontSize, color: cs.color, visibility: cs.visibility };
  });
  assert.equal(look.fontSize, '14px');
  assert.notEqual(look.color, 'rgb(255, 0, 0)');
  assert.equal(look.visibility, 'visible');
  await eventually('the greeting', async () => {
    assert.match(await w('tongdai-greeting').textContent(), /Shop Demo có thể giúp gì/);
  });
  // It fits a 360 px screen.
  const box = await w('tongdai-panel').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 360, `panel inside the screen: ${JSON.stringify(box)}`);

  const question = `Áo thun còn size M không ạ? #${Date.now()}`;
  await input.fill(question);
  await input.press('Enter');
  await eventually('the visitor bubble is confirmed', async () => {
    const mine = w('tongdai-msg-visitor').last();
    assert.equal(await mine.textContent(), question);
    assert.equal(await mine.evaluate((el) => el.classList.contains('pending')), false);
  });

  // The agent sees it live in the conversation list, and opens it.
  const row = agent.locator(`${tid('conversation-list')} ${tid('conversation-item')}`, { hasText: question });
  await row.waitFor({ state: 'visible' });
  await row.click();
  await eventually('the visitor message in the thread', async () => {
    const texts = await agent.locator(`${tid('thread')} .msg-text`).allTextContents();
    assert.ok(texts.includes(question), JSON.stringify(texts));
  });
  // Opening the thread marks it read: the visitor sees "Đã xem".
  await w('tongdai-seen').waitFor({ state: 'visible' });
  assert.equal(await w('tongdai-seen').textContent(), 'Đã xem');

  // The agent types: the visitor sees it; then the reply arrives live.
  const reply = 'Dạ còn ạ, bạn cao bao nhiêu để shop tư vấn size?';
  await agent.locator(tid('reply-input')).pressSequentially('Dạ còn ạ', { delay: 20 });
  await eventually('the typing indicator', async () => {
    assert.equal(await w('tongdai-status').textContent(), 'Nhân viên đang nhập…');
  });
  await agent.locator(tid('reply-input')).fill(reply);
  await agent.locator(tid('reply-send')).click();
  await eventually('the agent reply in the widget', async () => {
    assert.deepEqual(await w('tongdai-msg-agent').allTextContents(), [reply]);
  });
  assert.equal(await w('tongdai-status').textContent(), '');

  // A reload keeps the conversation.
  await visitor.reload();
  await w('tongdai-bubble').click();
  await eventually('the history after a reload', async () => {
    assert.deepEqual(await w('tongdai-msg-visitor').allTextContents(), [question]);
    assert.deepEqual(await w('tongdai-msg-agent').allTextContents(), [reply]);
  });

  // Name and phone through the form → a lead for the agent.
  const name = `Chị Lan Anh ${Date.now() % 10000}`;
  await w('tongdai-contact-toggle').click();
  await w('tongdai-name').fill(name);
  await w('tongdai-phone').fill('0912 345 678');
  await w('tongdai-contact-send').click();
  await w('tongdai-thanks').waitFor({ state: 'visible' });
  await agent.goto(`${server.baseUrl}/leads`);
  await eventually('the lead on the board', async () => {
    const names = await agent.locator(tid('lead-open')).allTextContents();
    assert.ok(names.some((n) => n.includes(name)), JSON.stringify(names));
  });

  await screenshot(visitor, 'widget-open.png');
  // Esc closes the panel and gives focus back to the bubble.
  await w('tongdai-input').focus();
  await visitor.keyboard.press('Escape');
  await w('tongdai-panel').waitFor({ state: 'hidden' });
  assert.equal(await w('tongdai-bubble').evaluate((el) => el.getRootNode().activeElement === el), true);

  await screenshot(visitor, 'widget-visitor.png');
  assert.deepEqual(visitor.errors, []);
  assert.deepEqual(agent.errors, []);
});

test('the owner creates a website chat in settings: the secret once, the script tag, origins and colour', async () => {
  const p = await newPage(browser, { viewport: { width: 1280, height: 860 } });
  await login(p, server.baseUrl, server.owner);
  await p.goto(`${server.baseUrl}/settings/webchat`);
  await p.locator(tid('settings-webchat')).waitFor();
  // The demo's channel is listed with its tag, never its secret.
  await p.locator(tid('webchat-row')).first().waitFor();
  assert.match(await p.locator(tid('webchat-script-tag')).first().inputValue(), /widget\.js" data-website-token="/);

  await p.locator(tid('webchat-name')).fill('Website mới');
  await p.locator(tid('webchat-create')).click();
  await p.locator(tid('secret-dialog')).waitFor();
  const secret = await p.locator(tid('secret-value')).inputValue();
  assert.ok(secret.length >= 32, secret);
  await p.locator(tid('secret-done')).click();
  const row = p.locator(tid('webchat-row'), { hasText: 'Website mới' });
  await row.waitFor();
  const tag = await row.locator(tid('webchat-script-tag')).inputValue();
  assert.ok(tag.startsWith(`<script src="${server.baseUrl}/widget.js" data-website-token="`), tag);
  assert.ok(!tag.includes(secret));

  await row.locator(tid('webchat-origins')).fill('https://shop.example\nhttp://127.0.0.1:8081/');
  await row.locator(tid('webchat-color')).fill('#228833');
  await row.locator(tid('webchat-save')).click();
  await eventually('the saved settings', async () => {
    const list = await (await p.request.get(`${server.baseUrl}/api/v1/webchat-channels`)).json();
    const ch = list.find((c) => c.name === 'Website mới');
    assert.deepEqual(ch.allowed_origins, ['https://shop.example', 'http://127.0.0.1:8081']);
    assert.equal(ch.accent_color, '#228833');
    assert.equal(ch.hmac_token, undefined);
  });
  // A bad origin is refused with the server's reason.
  await row.locator(tid('webchat-origins')).fill('shop.example/path');
  await row.locator(tid('webchat-save')).click();
  await p.locator(tid(`webchat-error-${await row.getAttribute('data-id')}`)).waitFor({ state: 'visible' });
  assert.deepEqual(p.errors, []);
});
