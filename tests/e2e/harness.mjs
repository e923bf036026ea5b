// Test harness for the browser end-to-end tests: starts `tongdai demo` on a free loopback
// port in a throw-away directory, launches Debian's Chromium through playwright-core (no
// browser downloads), and offers a small polling helper (playwright-core has no `expect`).
//
// Environment:
//   E2E_TONGDAI_BIN   the tongdai binary (default: <repo>/target/debug/tongdai)
//   E2E_CHROMIUM      the Chromium binary (default: /usr/bin/chromium)
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const ARTIFACTS = path.join(HERE, 'artifacts');

/** Upper bound for every wait inside a test. */
export const WAIT_MS = 15_000;

/** A free TCP port on 127.0.0.1, found by binding port 0. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Retry `fn` (sync or async) until it returns without throwing, then return its value.
 * After `timeout` ms the last error is thrown, prefixed with `what`.
 */
export async function eventually(what, fn, { timeout = WAIT_MS, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(interval);
  }
  const msg = lastErr?.message ?? String(lastErr);
  const err = new Error(`timed out after ${timeout} ms waiting for: ${what}\n  last failure: ${msg}`);
  err.cause = lastErr;
  throw err;
}

// Every server we started, so a crash of the test process still kills them.
const running = new Set();
function killAllSync() {
  for (const pid of running) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  running.clear();
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAllSync(); process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)); });
}

/**
 * Start `tongdai demo --every 1` and wait until GET /healthz answers 200.
 * Returns { baseUrl, owner, agent, log(), stop() }; owner/agent are {email, password} as the
 * demo printed them.
 */
export async function startDemoServer({ every = 1, readyTimeout = 60_000 } = {}) {
  const bin = process.env.E2E_TONGDAI_BIN || path.join(REPO, 'target', 'debug', 'tongdai');
  if (!fs.existsSync(bin)) {
    throw new Error(`tongdai binary not found at ${bin}: run \`cargo build --bin tongdai\` first (or .ci/e2e.sh)`);
  }
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'tongdai-e2e-'));
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const baseUrl = `http://${listen}`;

  // A clean environment: no TONGDAI_* settings leak in from the developer's shell, and the
  // working directory is the temp dir so no ./tongdai.toml is picked up.
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TONGDAI_')) env[k] = v;
  env.TONGDAI_LISTEN = listen;
  env.NO_COLOR = '1';

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const logPath = path.join(ARTIFACTS, 'server.log');
  const logFile = fs.createWriteStream(logPath);
  let output = '';

  const child = spawn(bin, ['demo', '--dir', path.join(tmp, 'demo'), '--every', String(every)], {
    cwd: tmp,
    env,
    detached: true, // own process group, so stop() can kill the group
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child.pid);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child.pid);
      resolve(exited);
    });
  });
  const onData = (chunk) => {
    const s = chunk.toString('utf8');
    logFile.write(s);
    if (output.length < 64_000) output += s;
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      }, 5_000);
      await exitPromise;
      clearTimeout(t);
    }
    // Anything else left in the group (there should be nothing) goes too.
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    running.delete(child.pid);
    await new Promise((r) => logFile.end(r));
    await fsp.rm(tmp, { recursive: true, force: true });
  }

  try {
    const deadline = Date.now() + readyTimeout;
    let healthy = false;
    while (!healthy) {
      if (exited) throw new Error(`tongdai demo exited early (${JSON.stringify(exited)}):\n${output}`);
      if (Date.now() > deadline) throw new Error(`tongdai demo not healthy within ${readyTimeout} ms:\n${output}`);
      try {
        const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
        healthy = res.ok;
      } catch { /* not listening yet */ }
      if (!healthy) await sleep(100);
    }
    // The credentials are printed before the server starts serving; parse them.
    const cred = (who) => {
      const m = new RegExp(`${who}:\\s*(\\S+@\\S+)\\s*/\\s*(\\S+)`).exec(output);
      if (!m) throw new Error(`no "${who}: email / password" line in the demo output:\n${output}`);
      return { email: m[1], password: m[2] };
    };
    const optional = (who) => { try { return cred(who); } catch { return null; } };
    // "Replies you send go to the sandbox (http://127.0.0.1:…)": the Graph sandbox, whose
    // GET /_sandbox/sent lists what it accepted.
    const sandboxUrl = /go to the sandbox \((http[^)\s]+)\)/.exec(output)?.[1] ?? null;
    return { baseUrl, sandboxUrl, owner: cred('owner'), agent: cred('agent'), fulfillment: optional('fulfillment'), log: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Launch Debian's Chromium (headless) through playwright-core. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.E2E_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A new page in a new browser context, with uncaught page errors collected in page.errors
 * (tests assert it stays empty).
 */
export async function newPage(browser, contextOptions = {}) {
  const context = await browser.newContext({ locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh', ...contextOptions });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err?.stack || err)));
  return page;
}

export const tid = (id) => `[data-testid="${id}"]`;

/**
 * Sign in through the login form; resolves once the element with test id `waitFor` is shown
 * (the conversation list by default: where agents land; fulfillment staff land on their board).
 */
export async function login(page, baseUrl, { email, password }, { waitFor = 'conversation-list' } = {}) {
  await page.goto(`${baseUrl}/login`);
  await page.locator(tid('login-email')).fill(email);
  await page.locator(tid('login-password')).fill(password);
  await page.locator(tid('login-submit')).click();
  await page.locator(tid(waitFor)).waitFor({ state: 'visible' });
}

export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file });
  return file;
}

// ───────────────────────── the demo's Facebook, from the outside ─────────────────────────
//
// `tongdai demo` wires a demo Page to its Graph sandbox with a fixed app secret, so a test can
// post its own signed webhooks (exactly as Meta would: X-Hub-Signature-256 over the raw body).

export const DEMO_APP_SECRET = 'tongdai-demo-app-secret';
export const DEMO_PAGE_ID = '105000000000001';
export const DEMO_POST_ID = '105000000000001_900000000000001';

/** POST a signed Meta webhook body (an object) to /webhooks/facebook; resolves to the HTTP status. */
export async function postMetaWebhook(baseUrl, body) {
  const raw = Buffer.from(JSON.stringify(body), 'utf8');
  const sig = `sha256=${crypto.createHmac('sha256', DEMO_APP_SECRET).update(raw).digest('hex')}`;
  const res = await fetch(`${baseUrl}/webhooks/facebook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig },
    body: raw,
  });
  return res.status;
}

/** A Messenger text from customer `psid` to the demo Page. */
export function customerMessage(baseUrl, { psid, text, mid = `m_e2e_${Date.now()}_${Math.random().toString(36).slice(2)}` }) {
  const ts = Date.now();
  return postMetaWebhook(baseUrl, {
    object: 'page',
    entry: [{ id: DEMO_PAGE_ID, time: ts, messaging: [{ sender: { id: psid }, recipient: { id: DEMO_PAGE_ID }, timestamp: ts, message: { mid, text } }] }],
  });
}

/** A top-level comment by `uid` (`name`) under the demo Page's post. */
export function customerComment(baseUrl, { uid, name, text, id = `${DEMO_POST_ID.split('_')[1]}_${Date.now()}${Math.floor(Math.random() * 1000)}` }) {
  const secs = Math.floor(Date.now() / 1000);
  return postMetaWebhook(baseUrl, {
    object: 'page',
    entry: [{ id: DEMO_PAGE_ID, time: secs, changes: [{ field: 'feed', value: {
      item: 'comment', verb: 'add', post_id: DEMO_POST_ID, comment_id: id, parent_id: DEMO_POST_ID,
      from: { id: uid, name }, created_time: secs, message: text,
    } }] }],
  });
}

/** Sign in over the API (no browser) and return a tiny client: get/post with the CSRF header. */
export async function apiClient(baseUrl, { email, password }) {
  const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new Error(`API login failed: ${res.status} ${await res.text()}`);
  const me = await res.json();
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const call = async (method, path, body) => {
    const r = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers: { cookie, 'x-csrf-token': me.csrf_token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    const data = text ? JSON.parse(text) : null;
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return data;
  };
  return { me, get: (p) => call('GET', p), post: (p, b = {}) => call('POST', p, b), patch: (p, b = {}) => call('PATCH', p, b), put: (p, b = {}) => call('PUT', p, b) };
}

/** The Send API calls the demo's Graph sandbox accepted: [{recipient_id, text, message_id, …}]. */
export async function sandboxSent(server) {
  if (!server.sandboxUrl) throw new Error('the demo did not print its sandbox URL');
  const res = await fetch(`${server.sandboxUrl.replace(/\/$/, '')}/_sandbox/sent`);
  if (!res.ok) throw new Error(`GET /_sandbox/sent: ${res.status}`);
  return (await res.json()).data;
}
