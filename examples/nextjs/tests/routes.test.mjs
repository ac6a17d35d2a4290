// The app's routes against the local provider: refused requests first, then whole jobs.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { generateSecret, generateWebhookSecret, Tokens } from 'trainpod';
import {
  APP,
  api,
  demoSession,
  emulatorPod,
  podExists,
  podRequests,
  sessionFor,
  tinySpec,
  untilEnded,
} from './helpers.mjs';

const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const DATA = readFileSync(new URL('../../data/chat.jsonl', import.meta.url));
const keys = process.env.TRAINPOD_SIGNING_KEYS;
const tokens = new Tokens({ keys, audience: APP });
// Same key id, another secret: well formed, but not signed by the app.
const forger = new Tokens({ keys: `k1:active:${generateSecret()}`, audience: APP });
const issue = (t, purpose, job, extra = {}) => t.issue({ purpose, user: 'demo-user', job, ...extra }).token;

const JOB = 'refused-job';
const batch = (job, n, events) => new TextEncoder().encode(JSON.stringify({ job, attempt: 1, batch: n, events }));
const manifest = new TextEncoder().encode(JSON.stringify({ job: JOB, attempt: 1, files: [] }));

/** Each pod-facing route, and a token of each purpose scoped to it (or to something else). */
const ROUTES = [
  {
    name: 'dataset download',
    request: { path: '/api/datasets/chat/download' },
    purpose: 'dataset.read',
    token: (t) => issue(t, 'dataset.read', JOB, { dataset: 'chat' }),
    elsewhere: (t) => issue(t, 'dataset.read', JOB, { dataset: 'other' }),
  },
  {
    name: 'metrics',
    request: { path: `/api/training/jobs/${JOB}/metrics`, method: 'POST', body: batch(JOB, 1, []) },
    token: (t) => issue(t, 'metrics.write', JOB, { epoch: 1 }),
    elsewhere: (t) => issue(t, 'metrics.write', 'another-job', { epoch: 1 }),
  },
  {
    name: 'artifact manifest',
    request: { path: `/api/training/jobs/${JOB}/artifacts`, method: 'POST', body: manifest },
    token: (t) => issue(t, 'artifacts.write', JOB),
    elsewhere: (t) => issue(t, 'artifacts.write', 'another-job'),
  },
  {
    name: 'artifact upload',
    request: { path: `/api/training/jobs/${JOB}/artifacts/files/adapter.bin`, method: 'PUT', body: DATA },
    token: (t) => issue(t, 'artifacts.write', JOB),
    elsewhere: (t) => issue(t, 'artifacts.write', 'another-job'),
  },
];
const otherPurpose = (route) =>
  route.name === 'metrics' ? issue(tokens, 'artifacts.write', JOB) : issue(tokens, 'metrics.write', JOB, { epoch: 1 });

/** A refusal: the status, the JSON `{code, message}` and nothing else (no file, no ETag). */
function assertRefused(res, status, code, what) {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  assert.equal(res.body?.code, code, `${what}: ${res.text}`);
  assert.deepEqual(Object.keys(res.body).sort(), ['code', 'message'], what);
  for (const header of ['etag', 'content-range', 'accept-ranges']) assert.equal(res.headers.get(header), null, what);
}

test('pod-facing routes refuse missing, malformed, forged and misused tokens with 401/403 and their code', async () => {
  for (const route of ROUTES) {
    const cases = [
      [undefined, 401, 'TOKEN_MISSING'],
      ['Bearer not-a-token', 401, 'TOKEN_MALFORMED'],
      [`Bearer ${route.token(forger)}`, 401, 'TOKEN_SIGNATURE_INVALID'],
      [`Bearer ${otherPurpose(route)}`, 403, 'TOKEN_WRONG_PURPOSE'],
      [`Bearer ${route.elsewhere(tokens)}`, 403, 'TOKEN_SCOPE_MISMATCH'],
    ];
    for (const [authorization, status, code] of cases) {
      const headers = authorization ? { authorization } : {};
      const res = await api(route.request.path, { ...route.request, headers });
      assertRefused(res, status, code, `${route.name} with ${authorization ?? 'no token'}`);
    }
  }
  // A forged token in the query string (for tools that cannot set headers) is refused too.
  const forged = issue(forger, 'dataset.read', JOB, { dataset: 'chat' });
  assertRefused(await api(`/api/datasets/chat/download?token=${forged}`), 401, 'TOKEN_SIGNATURE_INVALID', 'query');
  const head = await fetch(`${APP}/api/datasets/chat/download`, { method: 'HEAD' });
  assert.equal(head.status, 401);
  assert.equal(head.headers.get('etag'), null);
  // Nothing was taken: no job, no artifact.
  assert.equal((await api(`/api/training/jobs/${JOB}`)).status, 404);
});

test('the page routes refuse a missing or forged session with 401, and another user’s job is unknown', async () => {
  const jobId = `owned-${Date.now()}`;
  const spec = { ...tinySpec(), jobId };
  const owned = await api('/api/training/deploy', { method: 'POST', body: spec });
  assert.equal(owned.status, 201, owned.text);
  const routes = [
    ['POST', '/api/training/plan', spec],
    ['POST', '/api/training/deploy', spec],
    ['GET', `/api/training/jobs/${jobId}`],
    ['GET', `/api/training/jobs/${jobId}/follow`],
    ['POST', `/api/training/jobs/${jobId}/cancel`, {}],
    ['POST', `/api/training/jobs/${jobId}/retry`, {}],
    ['GET', `/api/training/jobs/${jobId}/artifacts`],
  ];
  const demo = await demoSession();
  const [name, value] = demo.split('=');
  const dot = value.lastIndexOf('.');
  const sessions = [
    [null, 'no session'],
    [sessionFor('demo-user', generateSecret()), 'signed with another secret'],
    [`${name}=mallory${value.slice(dot)}`, "the demo's signature on another user"],
    [`${name}=${value.slice(0, dot)}`, 'no signature'],
    [`${demo.slice(0, -2)}${demo.at(-2) === 'A' ? 'B' : 'A'}${demo.at(-1)}`, 'a changed signature'],
  ];
  for (const [method, path, body] of routes) {
    for (const [session, what] of sessions) {
      assertRefused(await api(path, { method, body, session }), 401, 'SESSION_INVALID', `${method} ${path}, ${what}`);
    }
    if (path.includes(jobId)) {
      const other = await api(path, { method, body, session: sessionFor('mallory') });
      assertRefused(other, 404, 'NOT_FOUND', `${method} ${path} as another user`);
    }
  }
  // Redeploying the job id as another user neither shows nor touches the owner's job.
  const taken = await api('/api/training/deploy', { method: 'POST', body: spec, session: sessionFor('mallory') });
  assertRefused(taken, 404, 'NOT_FOUND', 'deploying another user’s job id');
  const mine = await api(`/api/training/jobs/${jobId}`);
  assert.equal(mine.body.user, 'demo-user');
  assert.equal(mine.body.podId, owned.body.job.podId, 'still the one pod');
  assert.equal((await api(`/api/training/jobs/${jobId}/cancel`, { method: 'POST' })).body.state, 'cancelled');
});

test('Settings: a RunPod key is checked before it is saved, kept encrypted, and its user’s jobs run on it', async () => {
  const path = '/api/settings/runpod-key';
  const { RUNPOD_KEY_C: key, RUNPOD_KEY_READ_ONLY: readOnlyKey } = process.env;
  const carol = sessionFor('carol');
  const mallory = sessionFor('mallory');
  for (const [method, body] of [['GET'], ['POST', { key }], ['DELETE']]) {
    assertRefused(await api(path, { method, body, session: null }), 401, 'SESSION_INVALID', `${method} ${path}`);
  }
  assert.deepEqual((await api(path, { session: carol })).body, { saved: false, savedAt: null });
  assertRefused(await api(path, { method: 'POST', body: {}, session: carol }), 400, 'INVALID_INPUT', 'no key');

  // A Read Only key and one RunPod does not know: the check says why, and nothing is saved.
  const readOnly = await api(path, { method: 'POST', body: { key: readOnlyKey }, session: carol });
  assert.equal(readOnly.status, 400, readOnly.text);
  assert.equal(readOnly.body.code, 'RUNPOD_KEY_UNUSABLE');
  assert.equal(readOnly.body.saved, false);
  assert.deepEqual(
    [readOnly.body.check.valid, readOnly.body.check.access, readOnly.body.check.canRunJobs],
    [true, 'read_only', false],
  );
  assert.match(readOnly.body.message, /Read Only/);
  const unknown = await api(path, { method: 'POST', body: { key: 'rpa_nobody_has_this_key' }, session: carol });
  assert.equal(unknown.status, 400, unknown.text);
  assert.deepEqual([unknown.body.check.valid, unknown.body.check.access], [false, 'refused']);
  assert.equal((await api(path, { session: carol })).body.saved, false);

  // A key that can run jobs is saved (pasted with spaces around it), never sent back, and
  // encrypted at rest.
  const saved = await api(path, { method: 'POST', body: { key: `  ${key}\n` }, session: carol });
  assert.equal(saved.status, 200, saved.text);
  assert.equal(saved.body.saved, true);
  assert.equal(saved.body.check.canRunJobs, true);
  assert.ok(saved.body.check.gpus.length > 0);
  const seen = await api(path, { session: carol });
  assert.equal(seen.body.saved, true);
  assert.equal(typeof seen.body.savedAt, 'number');
  for (const answer of [saved, seen]) assert.ok(!answer.text.includes(key), 'the key is never sent back');
  const stored = readFileSync(process.env.PROVIDER_SECRETS_FILE, 'utf8');
  assert.ok(!stored.includes(key), 'the key is encrypted at rest');
  assert.deepEqual(Object.keys(JSON.parse(stored).provider_secrets.carol.runpod).sort(), [
    'data',
    'iv',
    'savedAt',
    'tag',
  ]);
  assert.equal((await api(path, { session: mallory })).body.saved, false, 'each user has their own');

  // Carol's job runs on her RunPod account; another user neither sees nor cancels it.
  const spec = { ...tinySpec(), jobId: `carol-${process.pid}` };
  const deploy = await api('/api/training/deploy', { method: 'POST', body: spec, session: carol });
  assert.equal(deploy.status, 201, deploy.text);
  const { job } = deploy.body;
  assert.equal(job.account, 'carol');
  assert.equal((await emulatorPod(job.podId)).account, 'runpod-c');
  assert.equal(await podExists(job.podId), false, 'the shared account does not see it');
  for (const [method, route] of [
    ['GET', `/api/training/jobs/${spec.jobId}`],
    ['POST', `/api/training/jobs/${spec.jobId}/cancel`],
  ]) {
    assertRefused(await api(route, { method, session: mallory }), 404, 'NOT_FOUND', `${method} ${route} as mallory`);
  }
  assert.notEqual((await emulatorPod(job.podId)).status, 'TERMINATED');
  const cancel = await api(`/api/training/jobs/${spec.jobId}/cancel`, { method: 'POST', session: carol });
  assert.equal(cancel.body.state, 'cancelled', cancel.text);
  assert.equal((await emulatorPod(job.podId)).status, 'TERMINATED', 'ended with her key');

  // Removed: her next jobs run on the app's shared key again.
  assert.equal((await api(path, { method: 'DELETE', session: carol })).body.saved, false);
  assert.equal((await api(path, { session: carol })).body.saved, false);
  const shared = await api('/api/training/deploy', {
    method: 'POST',
    body: { ...tinySpec(), jobId: `carol-shared-${process.pid}` },
    session: carol,
  });
  assert.equal(shared.status, 201, shared.text);
  assert.equal(shared.body.job.account, '');
  assert.equal(await podExists(shared.body.job.podId), true, 'on the shared account');
  const done = await api(`/api/training/jobs/${shared.body.job.jobId}/cancel`, { method: 'POST', session: carol });
  assert.equal(done.body.state, 'cancelled');
});

test('the reconcile route needs the cron secret', async () => {
  for (const [method, authorization] of [
    ['GET', undefined],
    ['POST', undefined],
    ['GET', 'Bearer wrong-secret'],
    ['GET', process.env.CRON_SECRET], // without "Bearer "
  ]) {
    const res = await api('/api/cron/reconcile', { method, headers: authorization ? { authorization } : {} });
    assertRefused(res, 401, 'CRON_UNAUTHORIZED', `${method} ${authorization}`);
  }
  const ok = await api('/api/cron/reconcile', { headers: { authorization: `Bearer ${process.env.CRON_SECRET}` } });
  assert.equal(ok.status, 200, ok.text);
  assert.ok(Array.isArray(ok.body.actions));
});

test('the dataset route answers ranges from the file while the job is live, and refuses it after', async () => {
  // The route serves only a job the store has, of the token's user, until it ends.
  const jobId = `range-${process.pid}`;
  const deploy = await api('/api/training/deploy', { method: 'POST', body: { ...tinySpec(), jobId } });
  assert.equal(deploy.status, 201, deploy.text);
  const authorization = `Bearer ${issue(tokens, 'dataset.read', jobId, { dataset: 'chat', epoch: 1 })}`;
  const full = await api('/api/datasets/chat/download', { headers: { authorization } });
  assert.equal(full.status, 200);
  assert.equal(sha256(full.text), sha256(DATA));
  assert.equal(full.headers.get('repr-digest'), `sha-256=:${createHash('sha256').update(DATA).digest('base64')}:`);
  const part = await api('/api/datasets/chat/download', { headers: { authorization, range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 10-19/${DATA.length}`);
  assert.equal(part.text, DATA.subarray(10, 20).toString());
  const past = await api('/api/datasets/chat/download', { headers: { authorization, range: `bytes=${DATA.length}-` } });
  assert.equal(past.status, 416);
  const missing = await api('/api/datasets/nope/download', {
    headers: { authorization: `Bearer ${issue(tokens, 'dataset.read', jobId, { dataset: 'nope' })}` },
  });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 'DATASET_NOT_FOUND');

  const ghost = `Bearer ${issue(tokens, 'dataset.read', 'no-such-job', { dataset: 'chat' })}`;
  const gone = await api('/api/datasets/chat/download', { headers: { authorization: ghost } });
  assertRefused(gone, 404, 'NOT_FOUND', 'no job');
  const other = `Bearer ${tokens.issue({ purpose: 'dataset.read', user: 'mallory', job: jobId, dataset: 'chat' }).token}`;
  const stolen = await api('/api/datasets/chat/download', { headers: { authorization: other } });
  assertRefused(stolen, 403, 'TOKEN_SCOPE_MISMATCH', 'another user');
  assert.equal((await api(`/api/training/jobs/${jobId}/cancel`, { method: 'POST' })).body.state, 'cancelled');
  const ended = await api('/api/datasets/chat/download', { headers: { authorization } });
  assertRefused(ended, 409, 'INVALID_STATE', 'a cancelled job');
  assert.ok(!ended.text.includes(authorization.slice('Bearer '.length)), ended.text);
});

/**
 * The events of `jobId` the app's webhook route received, in order, after the cron route ran
 * (reconcile delivers the events due at the end of its pass); a second run delivers none again.
 */
async function deliveredEvents(jobId) {
  const cron = { authorization: `Bearer ${process.env.CRON_SECRET}` };
  const run = await api('/api/cron/reconcile', { headers: cron });
  assert.equal(run.status, 200, run.text);
  const first = await api(`/api/training/jobs/${jobId}/webhooks`);
  assert.equal(first.status, 200, first.text);
  assert.equal((await api('/api/cron/reconcile', { headers: cron })).status, 200);
  assert.deepEqual((await api(`/api/training/jobs/${jobId}/webhooks`)).body, first.body, 'each event once');
  return first.body;
}

/** The job's updates from the follow route (server-sent events), until `event: end`. */
async function followed(jobId) {
  const res = await fetch(`${APP}/api/training/jobs/${jobId}/follow`, { headers: { cookie: await demoSession() } });
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const updates = [];
  let text = '';
  for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    let end = text.indexOf('\n\n');
    while (end >= 0) {
      const message = text.slice(0, end);
      text = text.slice(end + 2);
      if (message.startsWith('event: end')) return updates;
      updates.push(JSON.parse(message.slice('data: '.length)));
      end = text.indexOf('\n\n');
    }
  }
  assert.fail('the follow stream ended without `event: end`');
}

test('a job runs through the routes: dataset, metrics and adapter through Next.js, and it succeeds', async () => {
  const spec = tinySpec();
  const plan = await api('/api/training/plan', { method: 'POST', body: spec });
  assert.equal(plan.status, 200, plan.text);
  const { jobId, estimate } = plan.body;
  assert.ok(estimate.usdLow > 0 && estimate.usdLow <= estimate.usdHigh, plan.text);
  assert.ok(plan.body.deadlineSecs > 0);
  assert.equal(plan.body.gpu.gpuId, 'NVIDIA GeForce RTX 4090');
  assert.equal(plan.body.dataset.sha256, sha256(DATA));

  const deploy = await api('/api/training/deploy', { method: 'POST', body: { ...spec, jobId } });
  assert.equal(deploy.status, 201, deploy.text);
  const { job } = deploy.body;
  assert.equal(job.jobId, jobId);
  assert.ok(job.podId);
  assert.deepEqual(
    deploy.body.estimate.lines.map((l) => l.phase),
    estimate.lines.map((l) => l.phase),
  );
  const again = await api('/api/training/deploy', { method: 'POST', body: { ...spec, jobId } });
  assert.equal(again.body.job.podId, job.podId, 'deploying the same job again creates no second pod');

  const [updates, statuses] = await Promise.all([followed(jobId), untilEnded(jobId)]);
  const last = statuses.at(-1);
  assert.equal(last.state, 'succeeded', JSON.stringify(last));
  assert.equal(last.progress, 1);
  assert.equal(last.step, 30);
  assert.equal(typeof last.loss, 'number');
  assert.ok(last.costUsd > 0 && last.costUsd < spec.budgetUsd, JSON.stringify(last));
  const events = updates.filter((u) => u.kind === 'event').map((u) => u.event);
  const stages = events.filter((e) => e.type === 'stage').map((e) => e.stage);
  for (const stage of ['preflight', 'dataset', 'training', 'uploading']) assert.ok(stages.includes(stage), stage);
  assert.ok(events.filter((e) => e.type === 'log' && typeof e.data.loss === 'number').length >= 5, 'losses');
  assert.equal(updates.at(-1).status.state, 'succeeded');

  // The pod used the app's routes, each with its token.
  const requests = podRequests();
  for (const line of [
    'GET /api/datasets/chat/download 200',
    `POST /api/training/jobs/${jobId}/metrics 200`,
    `POST /api/training/jobs/${jobId}/artifacts 200`,
  ]) {
    assert.ok(requests.includes(line), `${line} in ${requests.join(', ')}`);
  }
  assert.ok(
    requests.some((l) => l.startsWith(`PUT /api/training/jobs/${jobId}/artifacts/files/`) && l.endsWith(' 200')),
  );

  // The adapter is stored, sha256 checked, and the pod is gone.
  const artifacts = await api(`/api/training/jobs/${jobId}/artifacts`);
  assert.equal(artifacts.status, 200);
  const adapter = artifacts.body.find((f) => f.path.endsWith('adapter_model.safetensors'));
  assert.ok(adapter, artifacts.text);
  const stored = readFileSync(join(process.env.TRAINPOD_ARTIFACTS_DIR, jobId, '1', 'files', adapter.path));
  assert.equal(sha256(stored), adapter.sha256);
  assert.equal(await podExists(job.podId), false, 'the final status terminated the pod');

  // A forged final batch changes nothing.
  const forged = await api(`/api/training/jobs/${jobId}/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${issue(forger, 'metrics.write', jobId, { epoch: 1 })}` },
    body: batch(jobId, 99, [{ n: 999, source: 'bootstrap', type: 'final', ts: 0, data: { status: 'failed' } }]),
  });
  assertRefused(forged, 401, 'TOKEN_SIGNATURE_INVALID', 'forged final batch');
  assert.equal((await api(`/api/training/jobs/${jobId}`)).body.state, 'succeeded');

  // Its events reach the app's webhook route when the cron route runs (reconcile delivers at the
  // end of its pass), each verified there with the reference Standard Webhooks package.
  const hooks = await deliveredEvents(jobId);
  assert.deepEqual(
    hooks.map((e) => e.type),
    ['job.deployed', 'job.training_started', 'job.succeeded'],
  );
  assert.equal(new Set(hooks.map((e) => e.id)).size, 3);
  const succeeded = hooks.at(-1).data;
  assert.equal(succeeded.job_id, jobId);
  assert.equal(succeeded.user, 'demo-user');
  assert.equal(succeeded.state, 'succeeded');
  assert.equal(succeeded.ended_by, 'pod');
  assert.equal(succeeded.pod_id, job.podId);
  assert.ok(succeeded.cost_usd > 0, JSON.stringify(succeeded));
});

/** A webhook delivery to the app's route: `body` signed with `secret` as of `at` (a Date). */
function deliver(
  body,
  { id = `msg_${randomUUID()}`, secret = process.env.TRAINPOD_WEBHOOK_SECRET, at = new Date() } = {},
) {
  const headers = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
  return { headers, body };
}

const postHook = ({ headers, body }) =>
  api('/api/trainpod/webhooks', { method: 'POST', headers, body: new TextEncoder().encode(body), session: null });

test('the webhook route keeps each verified event once, and refuses forged, tampered and stale ones', async () => {
  const jobId = `hooks-${process.pid}`;
  const deploy = await api('/api/training/deploy', { method: 'POST', body: { ...tinySpec(), jobId } });
  assert.equal(deploy.status, 201, deploy.text);
  assert.equal((await api(`/api/training/jobs/${jobId}/cancel`, { method: 'POST' })).body.state, 'cancelled');
  const hooks = await deliveredEvents(jobId);
  // Deployed and cancelled within a second, delivered at once: listed in the order they happened.
  assert.deepEqual(
    hooks.map((e) => e.type),
    ['job.deployed', 'job.cancelled'],
  );
  const cancelled = hooks[1];
  assert.equal(cancelled.data.ended_by, 'request');

  // What someone without the secret might send: a failure of the same job.
  const lie = JSON.stringify({
    type: 'job.failed',
    timestamp: new Date().toISOString(),
    data: { job_id: jobId, user: 'demo-user', attempt: 1, state: 'failed', reason: 'forged' },
  });
  const forged = await postHook(deliver(lie, { secret: generateWebhookSecret() }));
  assert.equal(forged.status, 401, forged.text);
  assert.equal(forged.body.code, 'WEBHOOK_UNVERIFIED');
  const signed = deliver(lie);
  const tampered = await postHook({ ...signed, body: signed.body.replace('forged', 'tampered') });
  assert.equal(tampered.status, 401, tampered.text);
  const stale = await postHook(deliver(lie, { at: new Date(Date.now() - 10 * 60_000) }));
  assert.equal(stale.status, 401, stale.text);
  const ahead = await postHook(deliver(lie, { at: new Date(Date.now() + 10 * 60_000) }));
  assert.equal(ahead.status, 401, ahead.text);
  const unsigned = await postHook({ headers: { 'content-type': 'application/json' }, body: lie });
  assert.equal(unsigned.status, 400, unsigned.text);
  assert.equal(unsigned.body.code, 'WEBHOOK_MALFORMED');

  // A delivery again (at least once): the same webhook-id is answered 2xx and kept once.
  const again = await postHook(deliver(lie, { id: cancelled.id }));
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.body, { id: cancelled.id, duplicate: true });
  const after = await api(`/api/training/jobs/${jobId}/webhooks`);
  assert.deepEqual(after.body, hooks, 'nothing forged, tampered, stale or repeated was kept');
  // Another user sees none of them.
  const other = await api(`/api/training/jobs/${jobId}/webhooks`, { session: sessionFor('mallory') });
  assert.equal(other.status, 404);
});

test('cancel ends a job and its pod; retry starts a new attempt', async () => {
  const spec = { ...tinySpec(), jobId: `cancel-${process.pid}` };
  const deploy = await api('/api/training/deploy', { method: 'POST', body: spec });
  assert.equal(deploy.status, 201, deploy.text);
  const cancel = await api(`/api/training/jobs/${spec.jobId}/cancel`, { method: 'POST' });
  assert.equal(cancel.status, 200, cancel.text);
  assert.equal(cancel.body.state, 'cancelled');
  assert.equal(await podExists(deploy.body.job.podId), false);
  const retry = await api(`/api/training/jobs/${spec.jobId}/retry`, { method: 'POST' });
  assert.equal(retry.status, 200, retry.text);
  assert.equal(retry.body.attempt, 2);
  assert.notEqual(retry.body.podId, deploy.body.job.podId);
  const again = await api(`/api/training/jobs/${spec.jobId}/cancel`, { method: 'POST' });
  assert.equal(again.body.state, 'cancelled');
  assert.equal(await podExists(retry.body.podId), false);
  const unknown = await api('/api/training/jobs/no-such-job/cancel', { method: 'POST' });
  assert.equal(unknown.status, 404);
});
