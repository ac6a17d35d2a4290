// Job events as signed webhooks from Node: jobs run on the RunPod emulator, and a real HTTP
// server on loopback, the app's webhook route, checks every delivery with the reference
// Standard Webhooks package (`standardwebhooks` from npm), not with trainpod. trainpod's own
// `verifyWebhook` then reads the same deliveries. The clock is fixed at the real time: the
// reference verifier checks each delivery's timestamp against this machine's clock.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import {
  generateSecret,
  generateWebhookSecret,
  httpStatus,
  InvalidInputError,
  Trainpod,
  verifyWebhook,
  WebhookError,
} from '../index.mjs';
import { startEmulator } from '../testing.js';

const CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}';

/** The app's webhook route: 204 when a delivery verifies with the reference verifier under every
 * secret given (one receiver per secret, in effect), else 400. */
async function receiver(t, ...secrets) {
  const verifiers = secrets.map((s) => new Webhook(s));
  const got = [];
  const refused = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        for (const v of verifiers) v.verify(body, req.headers);
        got.push({ headers: req.headers, body });
        res.writeHead(204).end();
      } catch (err) {
        assert.ok(err instanceof WebhookVerificationError, String(err));
        refused.push(err.message);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${server.address().port}/hooks`, got, refused };
}

async function setup(t, options) {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const dir = mkdtempSync(join(tmpdir(), 'trainpod-webhooks-'));
  mkdirSync(join(dir, 'datasets'));
  writeFileSync(join(dir, 'datasets', 'chat'), `${Array(50).fill(CHAT).join('\n')}\n`);
  const now = Math.floor(Date.now() / 1000);
  const tp = await Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: emu.baseUrl, apiKey: emu.accountKey },
    appUrl: 'http://127.0.0.1:9',
    signingKeys: `k1:active:${generateSecret()}`,
    store: 'memory:',
    datasetsDir: join(dir, 'datasets'),
    now,
    ...options,
  });
  return { emu, tp, now };
}

const spec = (jobId) => ({
  jobId,
  user: 'user-1',
  model: 'Qwen/Qwen2.5-0.5B',
  dataset: { kind: 'app', id: 'chat' },
  budgetUsd: 2,
});
const event = (n, ts, type, extra = {}) => ({ n, source: 'bootstrap', type, ts, data: {}, ...extra });

function batch(tp, job, n, events) {
  const { token } = tp.tokens().issue({ purpose: 'metrics.write', user: 'user-1', job, epoch: 1, ttlSecs: 3600 });
  return [`Bearer ${token}`, Buffer.from(JSON.stringify({ job, attempt: 1, batch: n, events }))];
}

test('each change of a job reaches the app, signed as Standard Webhooks', async (t) => {
  const secret = generateWebhookSecret();
  const app = await receiver(t, secret);
  const { emu, tp, now } = await setup(t, { webhookUrl: app.url, webhookSecrets: [secret] });
  await tp.deploy(await tp.plan(spec('run')));
  const training = [
    event(1, now + 1, 'stage', { stage: 'dataset' }),
    event(2, now + 2, 'log', { source: 'trainer', data: { step: 1, max_steps: 2, loss: 2 } }),
  ];
  const final = [event(3, now + 3, 'final', { stage: 'done', data: { status: 'succeeded', exit_code: 0 } })];
  await tp.ingestMetrics('run', ...batch(tp, 'run', 1, training));
  await tp.ingestMetrics('run', ...batch(tp, 'run', 2, final));
  await tp.deploy(await tp.plan(spec('stop')));
  await tp.cancel('stop');
  const report = await tp.deliverWebhooks();
  assert.deepEqual([report.delivered, report.retrying, report.failed], [5, 0, 0]);
  assert.ok(
    report.deliveries.every((d) => d.outcome === 'delivered' && d.status === 204 && d.msgId.startsWith('msg_')),
  );
  // A job whose pod RunPod removed is ended by reconcile, which sends its events at the end.
  const { podId } = await tp.deploy(await tp.plan(spec('lost')));
  await emu.vanish(podId, 'host');
  tp.setNow(now + 90);
  const actions = await tp.reconcile();
  assert.ok(actions.some((a) => a.jobId === 'lost' && a.reason === 'pod_vanished'));

  assert.deepEqual(app.refused, []);
  const events = app.got.map((g) => JSON.parse(g.body));
  // Deliveries of one pass are sent at once: they arrive in any order.
  const seen = events.map((e) => `${e.data.job_id} ${e.type} ${e.data.ended_by ?? ''}`).sort();
  assert.deepEqual(seen, [
    'lost job.deployed ',
    'lost job.failed reconciler',
    'run job.deployed ',
    'run job.succeeded pod',
    'run job.training_started ',
    'stop job.cancelled request',
    'stop job.deployed ',
  ]);
  assert.equal(new Set(app.got.map((g) => g.headers['webhook-id'])).size, 7);
  // trainpod's own helper reads the same deliveries as the reference did, keys camelCased.
  for (const { headers, body } of app.got) {
    const ev = verifyWebhook(secret, headers, Buffer.from(body));
    const sent = JSON.parse(body);
    assert.equal(ev.type, sent.type);
    assert.equal(ev.data.jobId, sent.data.job_id);
    assert.equal(ev.data.endedBy, sent.data.ended_by);
    assert.equal(ev.data.costUsd, sent.data.cost_usd);
  }
  assert.equal((await tp.deliverWebhooks()).delivered, 0, 'each event is delivered once');
});

test('a rotated secret is verified by receivers of either, and refusals are typed', async (t) => {
  const [old, fresh] = [generateWebhookSecret(), generateWebhookSecret()];
  const app = await receiver(t, fresh, old);
  const { tp } = await setup(t, { webhookUrl: app.url, webhookSecrets: [fresh, old] });
  await tp.deploy(await tp.plan(spec('rotate')));
  await tp.cancel('rotate');
  assert.equal((await tp.deliverWebhooks()).delivered, 2);
  assert.deepEqual(app.refused, []);
  const { headers, body } = app.got.find((g) => JSON.parse(g.body).type === 'job.cancelled');
  assert.equal(headers['webhook-signature'].split(' ').length, 2);
  for (const held of [[old], fresh, [fresh, old]])
    assert.equal(verifyWebhook(held, headers, body).type, 'job.cancelled');
  // A web `Headers` object, as a Next.js route has it.
  assert.equal(verifyWebhook(old, new Headers(headers), body).data.jobId, 'rotate');

  const sent = Number(headers['webhook-timestamp']);
  const refusals = [
    [() => verifyWebhook(generateWebhookSecret(), headers, body), 'WEBHOOK_SIGNATURE_INVALID'],
    [() => verifyWebhook(old, headers, body.replace('rotate', 'other')), 'WEBHOOK_SIGNATURE_INVALID'],
    [() => verifyWebhook(old, headers, body, { now: sent + 301 }), 'WEBHOOK_TIMESTAMP_OUT_OF_RANGE'],
    [() => verifyWebhook(old, { ...headers, 'webhook-signature': '' }, body), 'WEBHOOK_MALFORMED'],
  ];
  for (const [call, code] of refusals) {
    assert.throws(call, (err) => {
      assert.ok(err instanceof WebhookError, String(err));
      assert.equal(err.code, code);
      return true;
    });
  }
  assert.equal(httpStatus('WEBHOOK_SIGNATURE_INVALID'), 401);
  assert.ok(verifyWebhook(old, headers, body, { now: sent + 301, toleranceSecs: 600 }));
  assert.throws(
    () => verifyWebhook('whsec_c2hvcnQ=', headers, body),
    (err) => {
      assert.ok(err instanceof InvalidInputError && !err.message.includes('c2hvcnQ'));
      return true;
    },
  );
});

test('webhook settings are checked when built', async (t) => {
  const secret = generateWebhookSecret();
  const refused = [
    { webhookUrl: 'http://127.0.0.1:9/hooks' },
    { webhookSecrets: [secret] },
    { webhookUrl: 'http://app.example.com/hooks', webhookSecrets: [secret] },
    { webhookUrl: 'https://app.example.com/hooks', webhookSecrets: ['whsec_c2hvcnQ='] },
  ];
  for (const options of refused) {
    await assert.rejects(setup(t, options), (err) => {
      assert.equal(err.code, 'INVALID_INPUT');
      assert.ok(!err.message.includes(secret.slice(6)));
      return true;
    });
  }
  const { tp } = await setup(t, {});
  await assert.rejects(tp.deliverWebhooks(), { code: 'INVALID_INPUT' });
  assert.ok(new Webhook(secret), "the reference takes trainpod's secrets");
});
