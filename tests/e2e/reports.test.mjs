// Real-browser tests of the reports screen against `tongdai demo`: the owner opens /reports
// after the demo has produced Messenger traffic; the KPI tiles count conversations; the chart
// SVGs draw bars with tooltips and data tables; the English switch relabels; a phone-sized
// page has no horizontal scroll; the agent has no Reports item. Run:
//   node --test tests/e2e/reports.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemoServer, launchBrowser, newPage, login, eventually, tid } from './harness.mjs';

let server;
let browser;

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

test('the owner sees KPI tiles and SVG charts, relabelled in English', { timeout: 60_000 }, async () => {
  const page = await newPage(browser, { viewport: { width: 1280, height: 900 } });
  await login(page, server.baseUrl, server.owner);
  // Some demo traffic first: the inbox lists conversations.
  await eventually('demo conversations', async () => {
    assert.ok((await page.locator(tid('conversation-item')).count()) > 0);
  });
  await page.locator(tid('nav-reports')).click();
  await page.locator(tid('reports-page')).waitFor({ state: 'visible' });

  const convValue = page.locator(tid('reports-kpi-conversations'));
  await eventually('non-zero conversations', async () => {
    const v = Number(await convValue.getAttribute('data-value'));
    assert.ok(v > 0, `conversations tile: ${v}`);
  });
  for (const k of ['conversations', 'leads', 'conversion', 'response', 'delivered', 'returns']) {
    assert.ok(await page.locator(tid(`reports-kpi-${k}`)).isVisible(), k);
  }
  assert.equal((await page.locator(`${tid('reports-kpi-conversations')} .rc-kpi-label`).textContent()).trim(), 'Hội thoại mới');

  // The conversations chart: an SVG with bars, each with a <title> tooltip, and a data table.
  const chart = page.locator(tid('reports-chart-conversations'));
  const bars = chart.locator('svg rect.rc-bar');
  assert.ok((await bars.count()) > 0, 'conversation bars');
  assert.match(await bars.first().locator('title').textContent(), /: \d/);
  assert.equal((await chart.locator('h2').textContent()).trim(), 'Hội thoại mới theo ngày và kênh');
  assert.ok((await chart.locator('.rc-legend li').count()) > 0, 'a legend');
  const summary = chart.locator('details summary');
  assert.equal((await summary.textContent()).trim(), 'Xem bảng số liệu');
  await summary.click();
  assert.ok((await chart.locator('details table tbody tr').count()) >= 30, 'one row per day');
  // No markup strings or style attributes in the charts.
  assert.equal(await page.locator('.rc-body [style]').count(), 0);

  // Presets reload: 7 days → 7 day columns in the table.
  await page.locator(tid('reports-preset-7')).click();
  await eventually('7-day table', async () => {
    assert.equal(await page.locator(`${tid('reports-chart-conversations')} details table tbody tr`).count(), 7);
  });
  assert.equal(await page.locator(tid('reports-preset-7')).getAttribute('aria-pressed'), 'true');

  // English.
  await page.locator(tid('lang-switch')).click();
  await eventually('English labels', async () => {
    assert.equal((await page.locator(`${tid('reports-kpi-conversations')} .rc-kpi-label`).textContent()).trim(), 'New conversations');
    assert.equal((await page.locator(`${tid('reports-chart-conversations')} h2`).textContent()).trim(), 'New conversations by day and channel');
    assert.equal((await page.locator(tid('reports-preset-7')).textContent()).trim(), '7 days');
  });
  await page.locator(tid('lang-switch')).click(); // back to Vietnamese for the next tests
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('at 360 px the screen fits without horizontal scroll', { timeout: 60_000 }, async () => {
  const page = await newPage(browser, { viewport: { width: 360, height: 740 } });
  await login(page, server.baseUrl, server.owner);
  await page.goto(`${server.baseUrl}/reports`);
  await page.locator(tid('reports-kpis')).waitFor({ state: 'visible' });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 1, `horizontal overflow ${overflow}px`);
  const box = await page.locator(`${tid('reports-chart-conversations')} svg`).first().boundingBox();
  assert.ok(box && box.width <= 360, `chart width ${box?.width}`);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the agent has no Reports item', { timeout: 60_000 }, async () => {
  const page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  await login(page, server.baseUrl, server.agent);
  await page.locator(tid('nav-inbox')).waitFor({ state: 'visible' });
  assert.equal(await page.locator(tid('nav-reports')).count(), 0);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
