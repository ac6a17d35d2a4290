// The Trainpod SDK from Node on the RunPod emulator: typed builder errors, plan → deploy →
// metric batches → status → follow, cancel and retry, reconcile, replayed and conflicting
// batches, refused tokens, dataset grants and artifacts. The clock is fixed (`now`), as in
// tests/e2e/tests/sdk.rs, so that heartbeats and deadlines are exact.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { generateSecret, httpStatus, InvalidInputError, TokenError, Trainpod, TrainpodError } from '../index.mjs';
import { startEmulator } from '../testing.js';
import { assertShape } from './declared.mjs';

const T0 = 1_900_000_000;
const CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}';
const DATA = Buffer.from(`${Array(50).fill(CHAT).join('\n')}\n`);
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

async function setup(t, options = {}) {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const dir = mkdtempSync(join(tmpdir(), 'trainpod-sdk-'));
  const datasetsDir = join(dir, 'datasets');
  mkdirSync(datasetsDir);
  writeFileSync(join(datasetsDir, 'chat'), DATA);
  writeFileSync(join(datasetsDir, 'broken'), `${CHAT}\n{"messages": [\n`);
  const tp = await Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: emu.baseUrl, apiKey: emu.accountKey },
    appUrl: 'http://127.0.0.1:9',
    signingKeys: `k1:active:${generateSecret()}`,
    store: 'memory:',
    datasetsDir,
    artifactsDir: join(dir, 'artifacts'),
    followIntervalMs: 10,
    now: T0,
    ...options,
  });
  return { emu, tp, dir };
}

const spec = (jobId, extra = {}) => ({
  jobId,
  user: 'user-1',
  model: 'Qwen/Qwen2.5-0.5B',
  dataset: { kind: 'app', id: 'chat' },
  budgetUsd: 2,
  ...extra,
});

/** A metrics batch as the pod sends it, with a token for `attempt`. */
function batch(tp, job, attempt, n, events) {
  const { token } = tp.tokens().issue({ purpose: 'metrics.write', user: 'user-1', job, epoch: attempt, ttlSecs: 3600 });
  return [`Bearer ${token}`, Buffer.from(JSON.stringify({ job, attempt, batch: n, events }))];
}

const event = (n, ts, type, extra = {}) => ({ n, source: 'bootstrap', type, ts, data: {}, ...extra });

/** Whether the emulator has terminated the pod (terminated pods are gone from its API). */
async function terminated(emu, podId) {
  const res = await fetch(`${emu.baseUrl}/pods/${podId}`, { headers: { Authorization: `Bearer ${emu.accountKey}` } });
  await res.body?.cancel();
  return res.status === 404;
}

/** The first character of the tag changed: still canonical base64url, so the signature fails. */
function forge(token) {
  const i = token.lastIndexOf('.') + 1;
  return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
}

test('the builder refuses a missing key and an app a pod cannot reach, with their codes', async () => {
  const signingKeys = `k1:active:${generateSecret()}`;
  await assert.rejects(Trainpod.create({ ignoreEnv: true, signingKeys, store: 'memory:' }), (err) => {
    assert.ok(err instanceof TrainpodError);
    assert.equal(err.code, 'AUTH_INVALID');
    return true;
  });
  const loopback = { ignoreEnv: true, runpodApiKey: 'rpa_x', appUrl: 'http://localhost:3000', signingKeys };
  await assert.rejects(Trainpod.create({ ...loopback, store: 'memory:' }), (err) => {
    assert.ok(err instanceof InvalidInputError);
    assert.equal(err.code, 'URL_UNREACHABLE_FROM_POD');
    return true;
  });
  const allowed = await Trainpod.create({ ...loopback, store: 'memory:', allowLoopback: true });
  assert.ok(allowed instanceof Trainpod);
  await assert.rejects(Trainpod.create({ ignoreEnv: true, runpodApiKey: 'rpa_x', store: 'memory:' }), {
    code: 'INVALID_INPUT', // no signing keys
  });
  await assert.rejects(Trainpod.create({ ...loopback, signingKeys: 'k1:primary:x' }), { code: 'INVALID_INPUT' });
  await assert.rejects(Trainpod.create({ ...loopback, allowLoopback: true, followIntervalMs: -1 }), {
    code: 'INVALID_INPUT',
  });
  assert.throws(() => allowed.setNow(5), { code: 'INVALID_INPUT' });
  // podRuntime is laid over core's defaults: a known key is taken, an unknown one or a bad value refused.
  const local = { ...loopback, store: 'memory:', allowLoopback: true };
  assert.ok((await Trainpod.create({ ...local, podRuntime: { minFreeDiskGb: 1, heartbeatS: 2 } })) instanceof Trainpod);
  for (const podRuntime of [{ heartbeat: 2 }, { heartbeatS: 'often' }, { minFreeDiskGb: -1 }, 'fast']) {
    await assert.rejects(
      Trainpod.create({ ...local, podRuntime }),
      { code: 'INVALID_INPUT' },
      JSON.stringify(podRuntime),
    );
  }
  // Core names the field, in core's (snake_case) spelling, as it does for every binding.
  await assert.rejects(Trainpod.create({ ...local, podRuntime: { heartbeat: 2 } }), {
    message: /podRuntime: there is no field `heartbeat`; the fields are/,
  });
});

test('plan estimates the cost, refuses what would fail, and spends nothing', async (t) => {
  const { emu, tp } = await setup(t);
  const plan = await tp.plan(spec('plan-1'));
  assert.equal(plan.jobId, 'plan-1');
  assert.equal(plan.dataset.rows, 50);
  assert.equal(plan.dataset.format, 'messages');
  assert.equal(plan.dataset.sha256, sha256(DATA));
  assert.equal(plan.paramsB, 0.5);
  assert.deepEqual(
    plan.estimate.lines.map((l) => l.phase),
    ['provisioning', 'dependencies', 'model_download', 'dataset_transfer', 'training', 'upload'],
  );
  assert.ok(plan.estimate.usdLow > 0 && plan.estimate.usdLow < plan.estimate.usdHigh);
  assert.equal(plan.deadlineSecs, Math.floor((2 / plan.gpu.pricePerHour) * 3600));
  assert.equal(plan.createdAt, T0);
  assert.equal(plan.hyperparameters.learningRate, 2e-4);
  assert.equal(plan.spec.gpuCount, 1);
  // Given hyperparameters are laid over the method's defaults.
  const tuned = await tp.plan(spec('plan-2', { method: 'full', hyperparameters: { epochs: 2 } }));
  assert.equal(tuned.hyperparameters.epochs, 2);
  assert.equal(tuned.hyperparameters.learningRate, 2e-5);

  // A public dataset over 4 GiB: its size comes back from JavaScript as a double.
  const sha = 'a'.repeat(64);
  const big = await tp.plan(
    spec('plan-3', { dataset: { kind: 'url', url: 'https://93.184.215.14/d.jsonl', bytes: 5e9, sha256: sha } }),
  );
  assert.equal(big.dataset.bytes, 5e9);
  assert.deepEqual(big.spec.dataset, { kind: 'url', url: 'https://93.184.215.14/d.jsonl', bytes: 5e9, sha256: sha });

  const refused = [
    [spec('p', { budgetUsd: 0 }), 'INVALID_INPUT'],
    [spec('../x'), 'INVALID_INPUT'],
    [spec('p', { gpus: ['NVIDIA Imaginary'] }), 'INVALID_INPUT'],
    [spec('p', { dataset: { kind: 'app', id: 'missing' } }), 'DATASET_NOT_FOUND'],
    [spec('p', { dataset: { kind: 'app', id: 'broken' } }), 'DATASET_INVALID'],
    [spec('p', { image: 'nvidia/cuda:12.4.0-base' }), 'INVALID_INPUT'],
    [spec('p', { budget: 3 }), 'INVALID_INPUT'], // an unknown key
    [spec('p', { hyperparameters: { epoch: 2 } }), 'INVALID_INPUT'],
    [spec('p', { method: 'dora' }), 'INVALID_INPUT'],
    [spec('p', { dataset: { kind: 'ftp' } }), 'INVALID_INPUT'],
    [{ user: 'u', model: 'm', budgetUsd: 1 }, 'INVALID_INPUT'], // no dataset
  ];
  for (const [s, code] of refused) {
    await assert.rejects(tp.plan(s), { code }, JSON.stringify(s));
  }
  await assert.rejects(tp.plan(null), { code: 'INVALID_INPUT' });
  // A refused field is named, in core's snake_case, whatever the value.
  const named = [
    [{ hyperparameters: { learningRate: Number.NaN } }, '`hyperparameters.learning_rate`'],
    [{ hyperparameters: { learningRate: '1e-4' } }, '`hyperparameters.learning_rate`'],
    [{ hyperparameters: { epoch: 2 } }, '`hyperparameters.epoch`'],
    [{ budgetUsd: 'five' }, '`budget_usd`'],
  ];
  for (const [extra, field] of named) {
    await assert.rejects(
      tp.plan(spec('p', extra)),
      (err) => err.code === 'INVALID_INPUT' && err.message.includes(field),
      field,
    );
  }
  assert.equal((await emu.requests()).filter((r) => r.method === 'POST').length, 0, 'nothing was created');
});

/** Seconds a plan's training would take at twice its rule of thumb's throughput. */
function plausible(plan) {
  const { peakTflops, mfu } = plan.estimate.throughput;
  return plan.estimate.trainingFlops / (2 * peakTflops * mfu * 1e12);
}

test('a job runs to succeeded through its metric batches, and follow sees it all', async (t) => {
  const { emu, tp } = await setup(t);
  const id = 'life-1';
  const plan = await tp.plan(spec(id));
  const job = await tp.deploy(plan);
  assert.equal(job.state, 'provisioning');
  assert.equal(job.attempt, 1);
  assert.equal(job.deadlineUnix, T0 + plan.deadlineSecs);
  const again = await tp.deploy(plan);
  assert.equal(again.podId, job.podId, 'deploying again changes nothing');
  const follow = tp.follow(id);

  const stages = ['preflight', 'dataset', 'training'].map((stage, i) => event(i + 1, T0 + 10, 'stage', { stage }));
  const log = event(4, T0 + 20, 'log', { source: 'trainer', data: { step: 3, max_steps: 6, loss: 2.0 } });
  tp.setNow(T0 + 30);
  const first = batch(tp, id, 1, 1, [...stages, log]);
  let out = await tp.ingestMetrics(id, ...first);
  assert.equal(out.status, 200);
  assert.equal(out.replay, false);
  assert.equal(out.terminatePod, false);
  assert.equal(out.job.state, 'training');
  assert.equal(out.job.step, 3);
  assert.deepEqual(JSON.parse(out.body).ok, true);
  // `index.js` rebuilds the outcome from a flat record: the same object, keys in the same order,
  // as napi builds from the declared type (the native method, here on a replay of the batch).
  const replayed = await tp.ingestMetrics(id, ...first);
  const declared = await tp.ingestMetrics[Symbol.for('trainpod.native')].call(tp, id, ...first);
  assert.equal(replayed.replay, true);
  assert.deepStrictEqual(replayed, declared);
  assert.deepEqual(Object.keys(replayed), Object.keys(declared));
  assert.deepEqual(Object.keys(replayed.job), Object.keys(declared.job));
  const status = await tp.status(id);
  assert.equal(status.step, 3);
  assert.equal(status.totalSteps, 6);
  assert.equal(status.progress, 0.5);
  assert.equal(status.etaSecs, 30);
  assert.equal(status.loss, 2);
  assert.ok(Math.abs(status.costUsd - (plan.gpu.pricePerHour * 30) / 3600) < 1e-9);
  // The estimate comes back from the job's stored plan: JSON text in the store, within an ulp.
  const [low, high] = status.estimateUsd;
  assert.ok(Math.abs(low / plan.estimate.usdLow - 1) < 1e-12 && Math.abs(high / plan.estimate.usdHigh - 1) < 1e-12);

  const done = [
    // A run at twice the rule of thumb's throughput: plausible, so later plans use it.
    event(5, T0 + 40, 'result', { source: 'trainer', data: { runtime_s: plausible(plan), train_loss: 1.2 } }),
    event(6, T0 + 41, 'final', { stage: 'done', data: { status: 'succeeded', exit_code: 0 } }),
  ];
  out = await tp.ingestMetrics(id, ...batch(tp, id, 1, 2, done));
  assert.equal(out.terminatePod, true);
  assert.equal(out.job.state, 'succeeded');
  assert.ok(await terminated(emu, job.podId), 'the final status terminated the pod within the call');

  const seen = [];
  for await (const update of follow) seen.push(update);
  const last = seen.at(-1);
  assert.equal(last.kind, 'status');
  assert.equal(last.status.state, 'succeeded');
  assert.equal(last.status.progress, 1);
  const events = seen.filter((u) => u.kind === 'event').map((u) => u.event);
  assert.deepEqual(
    events.map((e) => e.n),
    [1, 2, 3, 4, 5, 6],
  );
  assert.equal(events[3].data.max_steps, 6, 'events keep the keys the pod sent');
  assert.equal(await follow.next(), null, 'an ended follow stays ended');
  // The measured throughput now drives the next plan's estimate.
  const next = await tp.plan(spec(`${id}-next`, { gpus: [plan.gpu.gpuId] }));
  assert.deepEqual(next.estimate.throughput, { kind: 'measured', samples: 1 });
});

// A memory store finishes within the call, and `index.js` reads the outcome from the shared
// array; a SQLite store waits, and the outcome comes through a promise with numbers of its own.
for (const [name, store] of [
  ['memory', () => 'memory:'],
  ['sqlite', () => `sqlite://${join(mkdtempSync(join(tmpdir(), 'trainpod-')), 'jobs.db')}`],
]) {
  test(`on a ${name} store, the outcome is the declared object, text beyond ASCII included`, async (t) => {
    const { tp } = await setup(t, { store: store() });
    const id = `flat-${name}`;
    await tp.deploy(await tp.plan(spec(id)));
    const log = event(1, T0 + 5, 'log', { source: 'trainer', data: { step: 2, max_steps: 4, loss: 1.5 } });
    const first = batch(tp, id, 1, 1, [log]);
    const out = await tp.ingestMetrics(id, ...first);
    assert.equal(out.job.step, 2);
    assert.equal(out.job.loss, 1.5);
    const declared = tp.ingestMetrics[Symbol.for('trainpod.native')];
    assert.deepStrictEqual(await tp.ingestMetrics(id, ...first), await declared.call(tp, id, ...first));
    // A reason beyond ASCII (its length in UTF-16 units is not its length in bytes) is no code
    // a pod gives: it is kept as `unknown`, and the fields after it are read where they are.
    const reason = 'réseau coupé 😀';
    const end = event(2, T0 + 6, 'final', { stage: 'train', data: { status: 'failed', reason, exit_code: 1 } });
    const last = batch(tp, id, 1, 2, [end]);
    const ended = await tp.ingestMetrics(id, ...last);
    assert.equal(ended.job.state, 'failed');
    assert.equal(ended.job.reason, 'unknown');
    assert.equal(ended.job.podId, out.job.podId, 'the fields after the reason are read where they are');
    const replayed = await tp.ingestMetrics(id, ...last);
    assert.deepStrictEqual(replayed, await declared.call(tp, id, ...last));
    assert.deepEqual(Object.keys(replayed.job), Object.keys(ended.job));
  });
}

test('replayed batches are taken once, a conflicting one is refused, and bad tokens get their codes', async (t) => {
  const { tp } = await setup(t);
  const id = 'replay-1';
  await tp.deploy(await tp.plan(spec(id)));
  const [auth, body] = batch(tp, id, 1, 1, [event(1, T0, 'heartbeat')]);
  assert.equal((await tp.ingestMetrics(id, auth, body)).replay, false);
  const replayed = await tp.ingestMetrics(id, auth, body);
  assert.equal(replayed.replay, true);
  // A job with no steps yet: its absent options are no keys, as in the object napi builds.
  const declared = await tp.ingestMetrics[Symbol.for('trainpod.native')].call(tp, id, auth, body);
  assert.equal('step' in replayed.job, false);
  assert.deepStrictEqual(replayed, declared);
  assert.deepEqual(Object.keys(replayed.job), Object.keys(declared.job));
  const [, other] = batch(tp, id, 1, 1, [event(1, T0 + 1, 'heartbeat')]);
  await assert.rejects(tp.ingestMetrics(id, auth, other), { code: 'SEQUENCE_CONFLICT' });
  await assert.rejects(tp.ingestMetrics(id, auth, Buffer.from('{')), { code: 'INVALID_INPUT' });
  await assert.rejects(tp.ingestMetrics('nope', auth, body), (err) => err instanceof TokenError);

  const token = auth.slice('Bearer '.length);
  const refusals = [
    [undefined, 'TOKEN_MISSING'],
    [null, 'TOKEN_MISSING'],
    ['Bearer nope', 'TOKEN_MALFORMED'],
    [`Bearer ${forge(token)}`, 'TOKEN_SIGNATURE_INVALID'],
  ];
  for (const [authorization, code] of refusals) {
    await assert.rejects(tp.ingestMetrics(id, authorization, body), { code }, String(authorization));
    await assert.rejects(tp.artifactManifest(id, authorization, Buffer.from('{}')), { code });
    await assert.rejects(tp.putArtifact(id, authorization, 'a.bin', Buffer.from('x')), { code });
    await assert.rejects(tp.authorizeDatasetDownload(authorization, null, 'chat', null), { code });
  }
  // A metrics token is not an artifacts or a dataset token.
  await assert.rejects(tp.artifactManifest(id, auth, Buffer.from('{}')), { code: 'TOKEN_WRONG_PURPOSE' });
  await assert.rejects(tp.authorizeDatasetDownload(auth, null, 'chat', null), { code: 'TOKEN_WRONG_PURPOSE' });
});

/** A dataset token for `chat`, as `deploy` issues it when `epoch` is given. */
function datasetToken(tp, user, job, epoch) {
  return tp.tokens().issue({ purpose: 'dataset.read', user, job, dataset: 'chat', ttlSecs: 3600, epoch }).token;
}

test('a dataset grant streams the file, a range of it, or nothing', async (t) => {
  const { tp } = await setup(t);
  await tp.deploy(await tp.plan(spec('job-1')));
  const token = datasetToken(tp, 'user-1', 'job-1', 1);
  const pending = tp.authorizeDatasetDownload(`Bearer ${token}`, undefined, 'chat', undefined);
  assert.ok(pending instanceof Promise);
  const full = await pending;
  assert.equal(full.status, 200);
  assert.equal(full.headers['content-length'], String(DATA.length));
  assert.equal(full.claims.job, 'job-1');
  assert.deepEqual(await buffer(full.stream()), DATA);
  const part = await tp.authorizeDatasetDownload(null, token, 'chat', 'bytes=10-19');
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 10-19/${DATA.length}`);
  assert.equal(part.offset, 10);
  assert.equal(part.length, 10);
  const res = new Response(part.webStream(), { status: part.status, headers: part.headers });
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), DATA.subarray(10, 20));
  const none = await tp.authorizeDatasetDownload(`Bearer ${token}`, null, 'chat', `bytes=${DATA.length}-`);
  assert.equal(none.status, 416);
  assert.equal(await none.read(), null, 'a 416 has no body');
  await assert.rejects(tp.authorizeDatasetDownload(`Bearer ${token}`, null, 'other', null), {
    code: 'TOKEN_SCOPE_MISMATCH',
  });
});

test("the dataset route refuses a job that is gone, ended, or not the token's", async (t) => {
  const { tp } = await setup(t);
  const id = 'ds-ends';
  await tp.deploy(await tp.plan(spec(id)));
  const refused = async (token, code, status) => {
    await assert.rejects(tp.authorizeDatasetDownload(`Bearer ${token}`, null, 'chat', null), (err) => {
      assert.ok(err instanceof TrainpodError, String(err));
      assert.equal(err.code, code);
      assert.equal(httpStatus(err.code), status);
      assert.ok(!err.message.includes(token), err.message);
      return true;
    });
  };
  const first = datasetToken(tp, 'user-1', id, 1);
  const grant = await tp.authorizeDatasetDownload(`Bearer ${first}`, null, 'chat', null);
  assert.equal(grant.status, 200);
  grant.close();
  await refused(datasetToken(tp, 'user-1', 'no-such-job'), 'NOT_FOUND', 404);
  await refused(datasetToken(tp, 'user-2', id), 'TOKEN_SCOPE_MISMATCH', 403);
  await tp.cancel(id);
  await refused(first, 'INVALID_STATE', 409);
  // A new attempt: the first attempt's token stays refused, the new attempt's is served.
  tp.setNow(T0 + 60);
  await tp.retry(id);
  await refused(first, 'TOKEN_SCOPE_MISMATCH', 403);
  const second = await tp.authorizeDatasetDownload(`Bearer ${datasetToken(tp, 'user-1', id, 2)}`, null, 'chat', null);
  assert.equal(second.status, 200);
  second.close();
});

test('artifacts are taken until a grace period after the job ended', async (t) => {
  const { tp } = await setup(t);
  const id = 'arts-late';
  await tp.deploy(await tp.plan(spec(id)));
  const data = Buffer.from('weights');
  const manifest = Buffer.from(
    JSON.stringify({ job: id, attempt: 1, files: [{ path: 'model.bin', size: data.length, sha256: sha256(data) }] }),
  );
  const { token } = tp.tokens().issue({ purpose: 'artifacts.write', user: 'user-1', job: id, epoch: 1 });
  const auth = `Bearer ${token}`;
  assert.equal((await tp.artifactManifest(id, auth, manifest)).status, 200);
  await tp.cancel(id);
  // The core's ARTIFACT_UPLOAD_GRACE_SECS: 600 s after the job's end.
  tp.setNow(T0 + 599);
  assert.equal((await tp.artifactManifest(id, auth, manifest)).status, 200);
  assert.equal((await tp.putArtifact(id, auth, 'model.bin', data)).path, 'model.bin');
  tp.setNow(T0 + 600);
  await assert.rejects(tp.artifactManifest(id, auth, manifest), { code: 'INVALID_STATE' });
  await assert.rejects(tp.putArtifact(id, auth, 'model.bin', data), { code: 'INVALID_STATE' });
  const other = tp.tokens().issue({ purpose: 'artifacts.write', user: 'user-2', job: id }).token;
  await assert.rejects(tp.artifactManifest(id, `Bearer ${other}`, manifest), { code: 'TOKEN_SCOPE_MISMATCH' });
});

test('cancel, then retry starts a new attempt that old tokens cannot touch', async (t) => {
  const { emu, tp } = await setup(t);
  const id = 'retry-1';
  const plan = await tp.plan(spec(id));
  const first = await tp.deploy(plan);
  await assert.rejects(tp.retry(id), { code: 'INVALID_STATE' }, 'a live job is cancelled first');
  const cancelled = await tp.cancel(id);
  assert.equal(cancelled.state, 'cancelled');
  assert.ok(await terminated(emu, first.podId));
  assert.equal((await tp.cancel(id)).state, 'cancelled', 'cancel is idempotent');

  tp.setNow(T0 + 60);
  const second = await tp.retry(id);
  assert.equal(second.attempt, 2);
  assert.equal(second.state, 'provisioning');
  assert.notEqual(second.podId, first.podId);
  assert.equal(second.deadlineUnix, T0 + 60 + plan.deadlineSecs);
  await assert.rejects(tp.ingestMetrics(id, ...batch(tp, id, 1, 1, [event(1, T0, 'heartbeat')])), {
    code: 'TOKEN_SCOPE_MISMATCH',
  });
  const out = await tp.ingestMetrics(id, ...batch(tp, id, 2, 1, [event(1, T0 + 61, 'heartbeat')]));
  assert.equal(out.job.attempt, 2);
  await assert.rejects(tp.status('nope'), { code: 'NOT_FOUND' });
  await assert.rejects(tp.cancel('../etc'), { code: 'INVALID_INPUT' });
});

test('reconcile ends stale, late and orphan pods with their reasons', async (t) => {
  const { emu, tp } = await setup(t);
  const jobs = [];
  for (const id of ['stale', 'late']) jobs.push(await tp.deploy(await tp.plan(spec(id, { maxHours: 1 }))));
  const headers = { Authorization: `Bearer ${emu.accountKey}`, 'content-type': 'application/json' };
  const body = JSON.stringify({
    name: 'trainpod-ghost',
    image: 'runpod/pytorch:1',
    gpu: { id: 'NVIDIA A40', count: 1 },
  });
  const ghost = await (await fetch(`${emu.baseUrl}/pods`, { method: 'POST', headers, body })).json();
  for (const [id, n, at] of [
    ['stale', 1, T0 + 10],
    ['late', 1, T0 + 10],
    ['late', 2, T0 + 650],
  ]) {
    tp.setNow(at);
    await tp.ingestMetrics(id, ...batch(tp, id, 1, n, [event(1, at, 'heartbeat')]));
  }
  tp.setNow(T0 + 700);
  const actions = await tp.reconcile();
  tp.setNow(T0 + 3601);
  actions.push(...(await tp.reconcile()));
  const reasons = actions.filter((a) => a.reason !== 'billed').map((a) => [a.jobId, a.reason, a.jobState]);
  assert.equal(reasons.length, 3, JSON.stringify(reasons));
  // RunPod's bill of a job that ended is read once, billAfterSecs (600) after its end.
  assert.deepEqual(
    actions.filter((a) => a.reason === 'billed').map((a) => a.jobId),
    ['stale'],
  );
  const stale = await tp.status('stale');
  assert.equal(typeof stale.billedUsd, 'number');
  assert.equal(stale.costUsd, stale.billedUsd);
  for (const expected of [
    ['stale', 'stale_heartbeat', 'failed'],
    [null, 'orphan', null],
    ['late', 'deadline', 'timed_out'],
  ]) {
    assert.ok(
      reasons.some((r) => JSON.stringify(r) === JSON.stringify(expected)),
      JSON.stringify(reasons),
    );
  }
  for (const podId of [ghost.id, ...jobs.map((j) => j.podId)]) assert.ok(await terminated(emu, podId), podId);
  assert.equal((await tp.status('late')).state, 'timed_out');
  assert.deepEqual(await tp.reconcile(), [], 'each pod is acted on once');
});

test('artifacts: manifest, uploads from a Buffer and a stream, completion, download', async (t) => {
  const { tp, dir } = await setup(t);
  const id = 'art-1';
  await tp.deploy(await tp.plan(spec(id)));
  const { token } = tp.tokens().issue({ purpose: 'artifacts.write', user: 'user-1', job: id, epoch: 1 });
  const auth = `Bearer ${token}`;
  const small = Buffer.from('{"r": 16}');
  const large = Buffer.alloc(3 * 65536 + 17, 7);
  const files = [
    { path: 'adapter/adapter_config.json', size: small.length, sha256: sha256(small) },
    { path: 'adapter/adapter_model.safetensors', size: large.length, sha256: sha256(large) },
  ];
  const manifest = (complete) => Buffer.from(JSON.stringify({ job: id, attempt: 1, files, complete }));
  const answer = await tp.artifactManifest(id, auth, manifest(false));
  assert.equal(answer.status, 200);
  const uploads = JSON.parse(answer.body).uploads;
  assert.deepEqual(
    uploads.map((u) => u.url),
    files.map((f) => `http://127.0.0.1:9/trainpod/jobs/${id}/artifacts/files/${f.path}`),
  );
  assert.deepEqual(await tp.putArtifact(id, auth, files[0].path, small), files[0]);
  // A body that arrives in chunks, as a web ReadableStream.
  const chunks = [large.subarray(0, 65536), large.subarray(65536, 100000), large.subarray(100000)];
  const stream = new ReadableStream({
    pull(controller) {
      const chunk = chunks.shift();
      if (chunk) controller.enqueue(new Uint8Array(chunk));
      else controller.close();
    },
  });
  assert.deepEqual(await tp.putArtifact(id, auth, files[1].path, stream), files[1]);
  await assert.rejects(tp.putArtifact(id, auth, files[0].path, Buffer.from('{"r": 17}')), { code: 'INVALID_INPUT' });
  await assert.rejects(tp.putArtifact(id, auth, 'not/listed.bin', small), { code: 'NOT_FOUND' });
  await assert.rejects(tp.putArtifact(id, auth, '../escape', small), { code: 'INVALID_INPUT' });
  assert.deepEqual(await tp.artifacts(id), [], 'nothing is listed before the pod confirms');
  const confirmed = await tp.artifactManifest(id, auth, manifest(true));
  assert.deepEqual(JSON.parse(confirmed.body), { complete: true });
  assert.deepEqual(await tp.artifacts(id), files);
  const dest = join(dir, 'out');
  assert.deepEqual(await tp.downloadArtifacts(id, dest), files);
  assert.deepEqual(readFileSync(join(dest, files[1].path)), large);
  await assert.rejects(tp.downloadArtifacts('nope', dest), { code: 'NOT_FOUND' });
});

test('the pod log streams through the RunPod logs API', async (t) => {
  const { emu, tp } = await setup(t);
  const id = 'logs-1';
  await assert.rejects(tp.logs(id), { code: 'NOT_FOUND' });
  const job = await tp.deploy(await tp.plan(spec(id)));
  await emu.pushLog(job.podId, 'epoch 1');
  await emu.pushLog(job.podId, 'epoch 2');
  const lines = [];
  for await (const line of await tp.logs(id, 10)) {
    if (line.source !== 'container') continue;
    lines.push(line.line);
    if (lines.length === 2) break;
  }
  assert.deepEqual(lines, ['epoch 1', 'epoch 2']);
  await assert.rejects(tp.logs(id, -1), { code: 'INVALID_INPUT' });
});

test('inspectDataset reports rows and errors; renderScript shows the bundle without its tokens', async (t) => {
  const { tp, dir } = await setup(t);
  const good = join(dir, 'good.jsonl');
  writeFileSync(good, `${CHAT}\n`.repeat(3));
  const report = await tp.inspectDataset(good);
  assert.equal(report.container, 'jsonl');
  assert.equal(report.format, 'messages');
  assert.equal(report.rows, 3);
  assert.equal(report.errorCount, 0);
  assert.equal(report.sha256, sha256(readFileSync(good)));
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, `${CHAT}\nnot json\n${CHAT}\n{}\n`);
  const refused = await tp.inspectDataset(bad, { maxErrors: 1 });
  assert.deepEqual([refused.rows, refused.errorCount], [2, 2]);
  assert.deepEqual(
    refused.errors.map((e) => e.line),
    [2],
  );
  await assert.rejects(tp.inspectDataset(join(dir, 'missing.jsonl')), (err) => err.code === 'DATASET_NOT_FOUND');

  const plan = await tp.plan(spec('render-1'));
  const rendered = await tp.renderScript(plan);
  assert.deepEqual(rendered.env, ['TRAINPOD_BUNDLE']);
  assert.match(rendered.startCommand, /base64 -d/);
  const config = JSON.parse(rendered.files.find((f) => f.name === 'config.json').text);
  assert.equal(config.job_id, 'render-1');
  assert.equal(config.telemetry.token, '<redacted>');
  // No token of these keys is in any file: they all start alike (version, key id, claims).
  const [version, kid, claims] = tp
    .tokens()
    .issue({ purpose: 'metrics.write', user: 'u', job: 'render-1' })
    .token.split('.');
  const prefix = `${version}.${kid}.${claims.slice(0, 8)}`;
  for (const f of rendered.files) assert.ok(!f.text.includes(prefix), f.name);
  await assert.rejects(tp.renderScript({ jobId: 'x' }), (err) => err.code === 'INVALID_INPUT');
  // Rendering creates nothing: the job is as plan left it, queued with its plan and no pod.
  const planned = await tp.status('render-1');
  assert.equal(planned.state, 'queued');
  assert.equal(planned.podId ?? null, null);
  assert.deepEqual(await tp.storedPlan('render-1'), plan);
});

test('an Alpaca dataset: the plan says how the trainer reads it, and convertAlpaca writes those rows', async (t) => {
  const { tp, dir } = await setup(t);
  const source = join(dir, 'datasets', 'alpaca');
  writeFileSync(source, '{"instruction":"Translate","input":"chat","output":"cat"}\n'.repeat(20));
  const plan = await tp.plan(spec('alpaca-1', { dataset: { kind: 'app', id: 'alpaca' } }));
  assert.equal(plan.dataset.format, 'alpaca');
  assert.equal(plan.warnings.filter((w) => w.includes('Alpaca format')).length, 1, plan.warnings.join('\n'));
  const config = JSON.parse((await tp.renderScript(plan)).files.find((f) => f.name === 'config.json').text);
  assert.equal(config.training.dataset_format, 'alpaca');

  const converted = join(dir, 'converted.jsonl');
  const report = await tp.convertAlpaca(source, converted);
  assert.deepEqual([report.format, report.rows, report.errorCount], ['prompt_completion', 20, 0]);
  assertShape(report, 'DatasetReport');
  const [first] = readFileSync(converted, 'utf8').split('\n');
  assert.deepEqual(JSON.parse(first), { prompt: 'Translate\n\nchat', completion: 'cat' });
  await assert.rejects(tp.convertAlpaca(join(dir, 'datasets', 'chat'), join(dir, 'nope.jsonl')), (err) => {
    assert.equal(err.code, 'INVALID_INPUT');
    assert.match(err.message, /not in the Alpaca format/);
    return true;
  });
  await assert.rejects(tp.convertAlpaca(join(dir, 'missing.jsonl'), join(dir, 'nope.jsonl')), {
    code: 'DATASET_NOT_FOUND',
  });
});

test('loraTargetModules: all-linear by default, a list of names, or refused by name', async (t) => {
  const { tp } = await setup(t);
  assert.equal((await tp.plan(spec('targets-0'))).hyperparameters.loraTargetModules, 'all-linear');
  const plan = await tp.plan(spec('targets-1', { hyperparameters: { loraTargetModules: ['q_proj', 'v_proj'] } }));
  assert.deepEqual(plan.hyperparameters.loraTargetModules, ['q_proj', 'v_proj']);
  assertShape(plan, 'Plan');
  const config = JSON.parse((await tp.renderScript(plan)).files.find((f) => f.name === 'config.json').text);
  assert.deepEqual(config.training.hyperparameters.lora_target_modules, ['q_proj', 'v_proj']);
  for (const bad of [[], ['q-proj'], 'q_proj', [5]]) {
    await assert.rejects(tp.plan(spec('targets-bad', { hyperparameters: { loraTargetModules: bad } })), (err) => {
      assert.equal(err.code, 'INVALID_INPUT');
      assert.match(err.message, /lora_target_modules/);
      return true;
    });
  }
});

test('a key RunPod refuses is AUTH_INVALID at plan, with the upstream status and request id', async (t) => {
  const { emu, dir } = await setup(t);
  const wrong = await Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: emu.baseUrl, apiKey: 'rpa_not_a_key' },
    appUrl: 'http://127.0.0.1:9',
    signingKeys: `k1:active:${generateSecret()}`,
    store: 'memory:',
    datasetsDir: join(dir, 'datasets'),
  });
  await assert.rejects(wrong.plan(spec('wrong-key')), (err) => {
    assert.ok(err instanceof TrainpodError);
    assert.equal(err.code, 'AUTH_INVALID');
    assert.equal(err.status, 401);
    assert.equal(err.requestId, 'emu-req');
    assert.ok(!err.message.includes(emu.accountKey));
    return true;
  });
});

test('plans, statuses, reports and rendered scripts have exactly the keys types.d.ts declares', async (t) => {
  const { tp, dir } = await setup(t);
  const plan = await tp.plan(spec('shape-1', { hyperparameters: { maxSteps: 6 } }));
  assertShape(plan, 'Plan');
  assert.ok(plan.fallbacks.length > 0, 'fallbacks are checked too');
  const job = await tp.deploy(plan);
  assertShape(job, 'JobStatus');
  tp.setNow(T0 + 30);
  const [auth, body] = batch(tp, 'shape-1', 1, 1, [
    event(1, T0 + 1, 'stage', { stage: 'training' }),
    event(2, T0 + 29, 'log', { source: 'trainer', data: { step: 3, max_steps: 6, loss: 2.5 } }),
  ]);
  await tp.ingestMetrics('shape-1', auth, body);
  const training = await tp.status('shape-1');
  assert.equal(training.step, 3, 'the optional fields are filled in, and checked');
  assertShape(training, 'JobStatus');
  const bad = join(dir, 'shape.jsonl');
  writeFileSync(bad, `${CHAT}\nnot json\n`);
  const report = await tp.inspectDataset(bad);
  assert.equal(report.errors.length, 1);
  assertShape(report, 'DatasetReport');
  assertShape(await tp.renderScript(plan), 'RenderedScript');
  // The check itself fails on an undeclared key, a missing one, or one deep inside.
  assert.throws(() => assertShape({ ...training, extra: 1 }, 'JobStatus'), /extra is not declared/);
  const { user: _, ...noUser } = training;
  assert.throws(() => assertShape(noUser, 'JobStatus'), /user is declared but missing/);
  const deep = { ...plan, gpu: { ...plan.gpu, estimate: { ...plan.estimate, lines: [{ phase: 'x' }] } } };
  assert.throws(() => assertShape(deep, 'Plan'), /Plan\.gpu\.estimate\.lines\[0\]\.secondsLow/);
});
