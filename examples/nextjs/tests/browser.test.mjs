// The page in a real browser: Debian's Chromium, headless, driven by playwright-core. It asks for
// the estimate, deploys, and watches the job to the end; the screenshot is kept.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { APP } from './helpers.mjs';

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

  mkdirSync(process.env.ARTIFACTS, { recursive: true });
  const shot = join(process.env.ARTIFACTS, 'page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  assert.deepEqual(errors, []);
});
