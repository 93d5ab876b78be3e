// The operator console in a real browser: Debian's headless Chromium driven by
// playwright-core, against the real certbroker binary on a loopback port. An officer signs
// in, approves one request and rejects another; an admin reads the certificate's timeline
// from the audit trail and verifies the chain. A screenshot is written for a person to look
// at (target/ui-screenshot.png, or $UI_SCREENSHOT).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import https from 'node:https';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');
const BIN = process.env.CERTBROKER_BIN || join(ROOT, 'target', 'debug', 'certbroker');
const SCREENSHOT = process.env.UI_SCREENSHOT || join(ROOT, 'target', 'ui-screenshot.png');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ADMIN = 'console-admin-token';

let dataDir;
let server;
let base;
let ca;
let officerToken;
let browser;

function call(method, path, body, token = ADMIN) {
  const sep = path.includes('?') ? '&' : '?';
  const url = new URL(base + path + sep + 'api-version=7.5');
  const payload = body === undefined ? null : JSON.stringify(body);
  return new Promise((ok, fail) => {
    const req = https.request(url, {
      method,
      ca,
      headers: {
        Authorization: 'Bearer ' + token,
        ...(payload ? { 'Content-Type': 'application/json' } : {}),
      },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => ok({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', fail);
    if (payload) req.write(payload);
    req.end();
  });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'certbroker-ui-'));
  server = spawn(BIN, ['serve'], {
    env: {
      PATH: process.env.PATH,
      CERTBROKER__STORAGE__DATA_DIR: dataDir,
      CERTBROKER__SERVER__LISTEN: '127.0.0.1:0',
      CERTBROKER__SERVER__WORKERS: '2',
      CERTBROKER__AUTH__TOKEN: ADMIN,
      CERTBROKER__WORKER__INTERVAL_MS: '50',
      CERTBROKER__LOG__LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  base = await new Promise((ok, fail) => {
    const lines = readline.createInterface({ input: server.stdout });
    const timer = setTimeout(() => fail(new Error('certbroker never printed its ready line')), 120000);
    lines.on('line', (line) => {
      const m = line.match(/^certbroker ready on (\S+)/);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    server.on('exit', (code) => fail(new Error('certbroker exited with ' + code)));
  });
  ca = readFileSync(join(dataDir, 'tls', 'ca.pem'));
  officerToken = execFileSync(BIN, ['token', 'create', '--name', 'alice', '--role', 'officer'], {
    env: { PATH: process.env.PATH, CERTBROKER__STORAGE__DATA_DIR: dataDir, CERTBROKER__LOG__LEVEL: 'error' },
  }).toString().trim();

  // A vault in a known state: an issuer that needs an officer, two requests through it,
  // and two self-signed certificates of different lifetimes.
  let r = await call('PUT', '/certificates/issuers/approvals', { provider: 'local-ca-approval' });
  assert.equal(r.status, 200);
  for (const name of ['web-approve', 'web-reject']) {
    r = await call('POST', `/certificates/${name}/create`, {
      policy: { key_props: { kty: 'EC' }, x509_props: { subject: `CN=${name}.example.com` }, issuer: { name: 'approvals' } },
    });
    assert.equal(r.status, 202);
  }
  for (const [name, months] of [['api-long', 24], ['api-short', 1]]) {
    r = await call('POST', `/certificates/${name}/create`, {
      policy: { key_props: { kty: 'EC' }, x509_props: { subject: `CN=${name}`, validity_months: months }, issuer: { name: 'Self' } },
    });
    assert.equal(r.status, 202);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) {
    server.kill('SIGKILL');
    await new Promise((ok) => (server.exitCode !== null ? ok() : server.on('exit', ok)));
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function signIn(page, token) {
  await page.goto(base + '/ui/');
  await page.locator('#token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#console').waitFor({ state: 'visible' });
}

test('an officer approves and rejects, an admin reads the timeline and verifies the chain', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1200, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));

  // A wrong token is refused on the sign-in form.
  await page.goto(base + '/ui/');
  await page.locator('#token').fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#signin-error').getByText('That token is not accepted.').waitFor();
  problems.length = 0; // the browser logs the refused fetch (401) as an error

  // --- the officer ---
  await signIn(page, officerToken);
  assert.equal(await page.locator('#who').textContent(), 'alice (officer) · vault default');
  assert.equal(await page.locator('#audit-section').isVisible(), false, 'the chain is for admins');
  // The token sits in this tab's session storage, never in a cookie.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('certbroker.token')), officerToken);
  assert.equal(await page.evaluate(() => document.cookie), '');

  const pending = page.locator('#pending tbody tr');
  assert.equal(await pending.count(), 2);
  const row = page.locator('#pending tbody tr[data-name="web-approve"]');
  assert.match(await row.textContent(), /approvals.*local-ca-approval.*inProgress.*awaiting approval/);
  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-officer.png'), fullPage: true });
  await page.getByRole('button', { name: 'Approve web-approve' }).click();
  await page.locator('#message').getByText('Approved web-approve.').waitFor();

  // Reject needs a reason.
  await page.getByRole('button', { name: 'Reject web-reject' }).click();
  assert.equal(await page.locator('#message').textContent(), 'Approved web-approve.');
  await page.getByRole('textbox', { name: 'Reason to reject web-reject' }).fill('not a name we own');
  await page.getByRole('button', { name: 'Reject web-reject' }).click();
  await page.locator('#message').getByText('Rejected web-reject.').waitFor();

  // The worker issues the approved one: refresh until it is a certificate with a version.
  const approvedCert = page.locator('#certs tbody tr[data-name="web-approve"]');
  for (let i = 0; i < 100; i += 1) {
    await page.getByRole('button', { name: 'Refresh' }).click();
    const text = (await approvedCert.count()) ? await approvedCert.textContent() : '';
    if (/ UTC/.test(text)) break;
    await page.waitForTimeout(100);
  }
  assert.match(await approvedCert.textContent(), /UTC.*approvals1yes/);
  assert.equal(await pending.count(), 0, 'nothing left in progress');
  await page.locator('#pending-all').check();
  await page.locator('#pending tbody tr[data-name="web-reject"]').getByText('failed').waitFor();
  assert.match(await page.locator('#pending tbody tr[data-name="web-reject"]').textContent(), /not a name we own/);

  // Certificates: soonest expiry first, filterable; the timeline is for admins.
  const names = await page.locator('#certs tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.name));
  assert.deepEqual(names.slice(0, 2), ['api-short', 'web-approve']);
  assert.equal(names.at(-1), 'web-reject', 'no version yet: last');
  await page.locator('#cert-filter').fill('api-');
  assert.deepEqual(
    await page.locator('#certs tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.name)),
    ['api-short', 'api-long'],
  );
  await page.locator('#cert-filter').fill('');
  await page.locator('#certs tbody').getByRole('button', { name: 'api-short' }).click();
  await page.locator('#history-error').getByText('needs the admin role').waitFor();

  // --- the admin ---
  await page.getByRole('button', { name: 'Sign out' }).click();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('certbroker.token')), null);
  await signIn(page, ADMIN);
  assert.equal(await page.locator('#who').textContent(), 'static (admin) · vault default');
  await page.locator('#certs tbody').getByRole('button', { name: 'web-approve' }).click();
  const timeline = page.locator('#timeline li');
  await timeline.first().waitFor();
  const entries = await timeline.allTextContents();
  const kinds = entries.map((t) => t.match(/^[A-Za-z]+/)[0]);
  assert.deepEqual(kinds, ['PendingCreated', 'IssuanceApproved', 'IssuanceCompleted']);
  assert.match(entries[0], /by static · from 127\.0\.0\.1:\d+/);
  assert.match(entries[1], /by alice · from 127\.0\.0\.1:\d+.*officer: alice/);
  assert.match(entries[2], /by worker/);

  await page.locator('#head-position').filter({ hasText: /^[1-9]\d*$/ }).waitFor();
  await page.getByRole('button', { name: 'Verify now' }).click();
  await page.locator('#verify-result').getByText(/^Verified \d+ events; head position \d+\.$/).waitFor();

  assert.deepEqual(problems, [], 'no console errors and no policy violations');
  // The policy holds: an injected inline script does not run, and the browser says why.
  const violation = page.waitForEvent('console', {
    predicate: (m) => /Content Security Policy/.test(m.text()),
  });
  const ran = await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.inlineRan = true';
    document.body.append(s);
    return window.inlineRan === true;
  });
  assert.equal(ran, false);
  assert.match((await violation).text(), /script-src 'self'/);

  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  await context.close();
});
