// The pages in a real browser: Debian's Chromium, headless, driven by playwright-core. The demo
// user asks for the estimate, deploys, and watches the job to the end on the app's shared key;
// then two users save their own RunPod keys in Settings and run jobs side by side, each on their
// own account. The screenshots are kept.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { APP, api, emulatorPod, sessionFor } from './helpers.mjs';

test('the page shows the estimate, deploys, and follows the job until it succeeds', async (t) => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, headless: true });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 900, height: 1100 } });
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(APP);

  await page.getByRole('button', { name: 'Estimate cost' }).click();
  const estimate = page.getByTestId('estimate');
  await estimate.waitFor();
  assert.match(await estimate.textContent(), /^\$[\d.]+ – \$[\d.]+$/);
  assert.equal(await page.getByRole('row').count(), 7, 'a header and six phases');

  await page.getByRole('button', { name: 'Deploy' }).click();
  const bar = page.getByRole('progressbar');
  await bar.waitFor();
  await page
    .getByTestId('state')
    .filter({ hasText: /^(succeeded|failed|cancelled|timed_out)$/ })
    .waitFor({
      timeout: 150_000,
    });
  assert.equal(await page.getByTestId('state').textContent(), 'succeeded');
  assert.equal(await bar.getAttribute('aria-valuenow'), '100');
  assert.equal(await page.getByTestId('progress').textContent(), '100%');
  assert.match(await page.getByTestId('cost').textContent(), /^\$[\d.]+ of \$0\.5000$/);
  assert.ok((await page.getByTestId('loss-chart').locator('circle').count()) >= 5, 'the loss chart has points');
  assert.match(page.url(), /\?job=/, 'the page can be reopened on the job');
  assert.equal(await page.getByTestId('account').textContent(), 'the app’s', 'no key saved: the shared one');

  mkdirSync(process.env.ARTIFACTS, { recursive: true });
  const shot = join(process.env.ARTIFACTS, 'page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  assert.deepEqual(errors, []);
});

const ENDED = /^(succeeded|failed|cancelled|timed_out|over_budget)$/;

test('two users save their own RunPod keys in Settings and run jobs side by side, each on their account', async (t) => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, headless: true });
  t.after(() => browser.close());
  const errors = [];
  const users = [
    { user: 'alice', key: process.env.RUNPOD_KEY_A, account: 'runpod-a' },
    { user: 'bob', key: process.env.RUNPOD_KEY_B, account: 'runpod-b' },
  ];
  for (const u of users) {
    // Each user in a browser of their own, signed in (the demo signs only one user in itself).
    const context = await browser.newContext({ viewport: { width: 900, height: 1100 } });
    const cookie = sessionFor(u.user);
    const at = cookie.indexOf('=');
    await context.addCookies([{ name: cookie.slice(0, at), value: cookie.slice(at + 1), url: APP }]);
    u.page = await context.newPage();
    u.page.on('pageerror', (err) => errors.push(`${u.user}: ${err.message}`));
    await u.page.goto(`${APP}/settings`);
    await u.page.getByTestId('user').filter({ hasText: u.user }).waitFor();
    await u.page
      .getByTestId('key-status')
      .filter({ hasText: /No key saved/ })
      .waitFor();
  }
  const [alice, bob] = users;

  // Bob first pastes a Read Only key: the check says why, and nothing is saved.
  await bob.page.getByLabel('RunPod API key').fill(process.env.RUNPOD_KEY_READ_ONLY);
  await bob.page.getByRole('button', { name: 'Check and save' }).click();
  await bob.page.getByTestId('check-problem').waitFor();
  assert.equal(await bob.page.getByTestId('check-valid').textContent(), 'yes');
  assert.equal(await bob.page.getByTestId('check-access').textContent(), 'read only');
  assert.equal(await bob.page.getByTestId('check-can-run').textContent(), 'no');
  assert.match(await bob.page.getByTestId('check-problem').textContent(), /Read Only/);
  assert.match(await bob.page.getByTestId('key-status').textContent(), /No key saved/);

  // Each saves a key of their own RunPod account.
  for (const u of users) {
    await u.page.getByLabel('RunPod API key').fill(u.key);
    await u.page.getByRole('button', { name: 'Check and save' }).click();
    await u.page.getByTestId('key-note').waitFor();
    assert.equal(await u.page.getByTestId('check-valid').textContent(), 'yes');
    assert.equal(await u.page.getByTestId('check-access').textContent(), 'read and write');
    assert.equal(await u.page.getByTestId('check-can-run').textContent(), 'yes');
    assert.match(await u.page.getByTestId('check-gpus').textContent(), /^\d+ types, \d+ available now: /);
    assert.equal(await u.page.getByTestId('check-problem').count(), 0);
    assert.match(await u.page.getByTestId('key-status').textContent(), /A key is saved/);
    assert.equal(await u.page.getByLabel('RunPod API key').inputValue(), '', 'the field is cleared');
  }
  mkdirSync(process.env.ARTIFACTS, { recursive: true });
  await bob.page.screenshot({ path: join(process.env.ARTIFACTS, 'settings.png'), fullPage: true });

  // Side by side: each deploys from the training page, and each job's pod is on its user's account.
  for (const u of users) {
    await u.page.goto(APP);
    await u.page.getByRole('button', { name: 'Estimate cost' }).click();
    await u.page.getByTestId('estimate').waitFor();
    await u.page.getByRole('button', { name: 'Deploy' }).click();
    await u.page.waitForURL(/\?job=/);
    u.jobId = new URL(u.page.url()).searchParams.get('job');
  }
  for (const u of users) {
    const job = await api(`/api/training/jobs/${u.jobId}`, { session: sessionFor(u.user) });
    assert.equal(job.status, 200, job.text);
    assert.equal(job.body.account, u.user);
    assert.equal((await emulatorPod(job.body.podId)).account, u.account, `${u.user}'s pod`);
    u.podId = job.body.podId;
    await u.page.getByTestId('account').filter({ hasText: 'yours (Settings)' }).waitFor();
  }
  assert.notEqual(alice.podId, bob.podId);

  // Bob neither sees nor cancels Alice's job, and hers runs on.
  for (const [method, path] of [
    ['GET', `/api/training/jobs/${alice.jobId}`],
    ['GET', `/api/training/jobs/${alice.jobId}/follow`],
    ['POST', `/api/training/jobs/${alice.jobId}/cancel`],
  ]) {
    const res = await api(path, { method, session: sessionFor('bob') });
    assert.equal(res.status, 404, `${method} ${path} as bob: ${res.text}`);
    assert.equal(res.body.code, 'NOT_FOUND');
  }
  const hers = await api(`/api/training/jobs/${alice.jobId}`, { session: sessionFor('alice') });
  assert.notEqual(hers.body.state, 'cancelled');

  // Both jobs run to the end, each pod ended on its own account.
  for (const u of users) {
    await u.page.getByTestId('state').filter({ hasText: ENDED }).waitFor({ timeout: 150_000 });
    assert.equal(await u.page.getByTestId('state').textContent(), 'succeeded', `${u.user}'s job`);
    const pod = await emulatorPod(u.podId);
    assert.deepEqual([pod.account, pod.status], [u.account, 'TERMINATED'], `${u.user}'s pod`);
  }
  await alice.page.screenshot({ path: join(process.env.ARTIFACTS, 'alice.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
