// The shared webhook vectors (tests/fixtures/webhook-vectors.json): each signature is the
// reference package's (`standardwebhooks`), and `verifyWebhook` gives each case its code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook, WebhookError } from '../index.mjs';
import { fixture } from './helpers.mjs';

const vectors = fixture('webhook-vectors.json');

for (const c of vectors.sign) {
  test(`sign: ${c.name}`, () => {
    assert.equal(new Webhook(c.secret).sign(c.id, new Date(c.timestamp * 1000), c.body), c.signature);
    const headers = { 'webhook-id': c.id, 'webhook-timestamp': String(c.timestamp), 'webhook-signature': c.signature };
    // trainpod checks the signature first: a body that is no trainpod event passes it and is
    // refused as malformed after.
    try {
      verifyWebhook(c.secret, headers, c.body, { now: c.timestamp });
    } catch (err) {
      assert.equal(err.code, 'WEBHOOK_MALFORMED');
      assert.match(err.message, /not a trainpod event/);
    }
  });
}

test('rotation: one signature per secret, in order', () => {
  const r = vectors.rotation;
  const signed = r.secrets.map((s) => new Webhook(s).sign(r.id, new Date(r.timestamp * 1000), r.body));
  assert.equal(signed.join(' '), r.signature);
});

for (const c of vectors.verify) {
  test(`verify: ${c.name}`, () => {
    const call = () =>
      verifyWebhook(c.secrets, c.headers, Buffer.from(c.body), { now: c.now, toleranceSecs: c.tolerance_secs });
    if (c.expect === 'ok') {
      assert.equal(call().type, 'job.succeeded');
    } else {
      assert.throws(call, (err) => err instanceof WebhookError && err.code === c.expect);
    }
  });
}
