// Safe by construction (issue 6, part 8): whatever a customer writes — in a message, in a
// comment, in their display name — is shown as text. No markup is interpreted, no script runs,
// no dialog opens; the page is served with a CSP that forbids inline script anyway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startDemoServer, launchBrowser, newPage, login, eventually, tid, apiClient,
  customerMessage, customerComment,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startDemoServer({ every: 5 });
  browser = await launchBrowser();
});

after(async () => {
  try { await browser?.close(); } finally { await server?.stop(); }
});

const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '<script>window.__pwned = 1; alert(2)</script>';

test('every page is served with a CSP that allows no inline script', async () => {
  for (const path of ['/', '/inbox', '/leads', '/app.js']) {
    const res = await fetch(`${server.baseUrl}${path}`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/, path);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
  }
});

test('a message and a comment full of markup are displayed as text, and nothing runs', async () => {
  const psid = `e2e-xss-${Date.now()}`;
  assert.equal(await customerMessage(server.baseUrl, { psid, text: `Xin chào ${IMG} ${SCRIPT}` }), 200);
  assert.equal(await customerComment(server.baseUrl, {
    uid: `e2e-xss-c-${Date.now()}`, name: `<b>Khách</b>${IMG}`, text: `Giá bao nhiêu? ${SCRIPT}`,
  }), 200);

  // Find both conversations over the API.
  const agent = await apiClient(server.baseUrl, server.agent);
  const find = (needle, kind) => eventually(`a ${kind} conversation whose preview holds ${needle}`, async () => {
    const page = await agent.get('/conversations?status=open&limit=100');
    const c = page.items.find((x) => x.kind === kind && (x.last_message_preview ?? '').includes(needle));
    assert.ok(c, 'not yet');
    return c;
  });
  const dm = await find('onerror=alert(1)', 'direct');
  const thread = await find('Giá bao nhiêu?', 'comment_thread');

  const page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  await login(page, server.baseUrl, server.agent);

  // The list row previews are text too.
  const row = page.locator(`${tid('conversation-item')}[data-id="${dm.id}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /onerror=alert\(1\)/);

  for (const conv of [dm, thread]) {
    await page.goto(`${server.baseUrl}/inbox/${conv.id}`);
    const msgs = page.locator(`${tid('thread')} ${tid('message')}`);
    await eventually('the thread shows the customer text', async () => {
      const texts = await msgs.evaluateAll((els) => els.map((e) => e.textContent));
      assert.ok(texts.some((x) => x.includes('<script>window.__pwned = 1; alert(2)</script>') || x.includes(IMG)), texts.join(' | '));
    });
    // No element was made from the customer's markup.
    const injected = await page.evaluate(() => ({
      imgs: [...document.querySelectorAll('[data-testid="message-list"] img')].filter((i) => i.getAttribute('src') === 'x').length,
      scripts: [...document.querySelectorAll('[data-testid="message-list"] script, [data-testid="conversation-list"] script')].length,
      bold: [...document.querySelectorAll('[data-testid="message-list"] b, [data-testid="thread"] b')].length,
      pwned: window.__pwned ?? null,
    }));
    assert.deepEqual(injected, { imgs: 0, scripts: 0, bold: 0, pwned: null });
  }
  // The comment author's name, markup included, is shown literally.
  const author = await page.locator(`${tid('thread')} .author`).first().textContent();
  assert.equal(author, `<b>Khách</b>${IMG}`);

  await new Promise((r) => setTimeout(r, 500)); // an onerror handler would have fired by now
  assert.deepEqual(dialogs, []);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
