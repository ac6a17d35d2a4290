// RunPod as it fails, through the Node SDK on the local provider with the real generated pod
// script (the bindings' counterpart of tests/e2e/tests/platform_faults.rs): a pod RunPod removes
// by itself ends its job at the next reconcile, and a pod that never starts ends at the provision
// timeout. The SDK's clock is fixed (`now`) at the real time and moved with `setNow`, so that the
// reconciler's limits are crossed without waiting; the pods keep the real clock.
//
// A pod that starts stays in its dataset stage, alive and reporting: its dataset is served by a
// socket that accepts and never answers. The vanished pod needs the pod side's Python
// (TRAINPOD_TRAIN_PYTHON, `bash scripts/train-venv.sh`: its preflight imports torch); it is
// skipped without it unless TRAINPOD_REQUIRE_TRAINING is set (as in CI).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { generateSecret, Trainpod } from '../index.mjs';
import { startEmulator } from '../testing.js';
import { assertShape } from './declared.mjs';

const GPU = 'NVIDIA GeForce RTX 4090';
// Restarts and stops quickly, so that a test never waits on the emulator's defaults.
const LOCAL_PROVIDER = ['--run-pods', '--restart-delay-ms', '300', '--stop-grace-ms', '1000'];
const trainPython = process.env.TRAINPOD_TRAIN_PYTHON ?? '';
const needsTrainPython =
  trainPython || process.env.TRAINPOD_REQUIRE_TRAINING
    ? false
    : 'set TRAINPOD_TRAIN_PYTHON (bash scripts/train-venv.sh) for a pod that runs';

/** Polls `probe` until it gives a truthy value; the bound is generous, for loaded machines. */
async function eventually(what, probe, withinMs = 60_000) {
  const end = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Listens on a free loopback port until the test ends; resolves to the port. */
async function listen(t, server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections?.();
    server.close();
  });
  return server.address().port;
}

/** A dataset URL whose server accepts connections and never answers. */
async function stalledDataset(t) {
  const held = new Set();
  const server = createTcpServer((socket) => {
    held.add(socket);
    socket.on('close', () => held.delete(socket));
  });
  t.after(() => {
    for (const socket of held) socket.destroy();
  });
  const port = await listen(t, server);
  return { kind: 'url', url: `http://127.0.0.1:${port}/dataset.jsonl`, bytes: 100, sha256: '0'.repeat(64) };
}

/** The app's metrics route (the pod checks in on it, then reports), one call of `app.tp`. */
async function serveMetrics(t, app) {
  const server = createServer(async (req, res) => {
    const match = /^\/trainpod\/jobs\/([^/]+)\/metrics$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = new Uint8Array(await buffer(req));
      const out = await app.tp.ingestMetrics(decodeURIComponent(match[1]), req.headers.authorization ?? null, body);
      // Its status and body as they are: a restarted container's check-in is answered 409.
      res.writeHead(out.status, { 'content-type': 'application/json' }).end(out.body);
    } catch (err) {
      res.writeHead(500).end(JSON.stringify({ error: err.code }));
    }
  });
  return `http://127.0.0.1:${await listen(t, server)}`;
}

async function setup(t, { python, appUrl, ...options }) {
  const now = Math.floor(Date.now() / 1000);
  const emu = await startEmulator({ args: LOCAL_PROVIDER });
  t.after(() => emu.stop());
  const tp = await Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: emu.baseUrl, apiKey: emu.accountKey },
    appUrl,
    signingKeys: `k1:active:${generateSecret()}`,
    store: 'memory:',
    followIntervalMs: 100,
    now,
    podRuntime: {
      python,
      expectGpu: false,
      minFreeDiskGb: 0,
      heartbeatS: 1,
      flushS: 1,
      requirements: [],
      // A pod whose check-in goes unanswered runs anyway after this long.
      checkinBudgetS: 5,
    },
    ...options,
  });
  return { emu, tp, now };
}

const spec = (jobId, dataset) => ({
  jobId,
  user: 'user-1',
  model: 'Qwen/Qwen2.5-0.5B',
  dataset,
  budgetUsd: 5,
  gpus: [GPU],
});

/** What RunPod's billing says the pod has cost, USD. */
async function billed(emu, podId) {
  const res = await fetch(`${emu.baseUrl}/billing/pods?podId=${podId}`, {
    headers: { Authorization: `Bearer ${emu.accountKey}` },
  });
  assert.equal(res.status, 200);
  return (await res.json()).records.reduce((sum, r) => sum + r.totalAmount, 0);
}

test('a vanished pod ends its job at the next reconcile', { skip: needsTrainPython }, async (t) => {
  const dataset = await stalledDataset(t);
  // The app is up before the SDK that knows its URL; it serves that SDK.
  const app = { tp: null };
  const appUrl = await serveMetrics(t, app);
  const { emu, tp, now } = await setup(t, { python: trainPython, appUrl });
  app.tp = tp;
  const job = await tp.deploy(await tp.plan(spec('gone', dataset)));
  const pod = job.podId;
  assert.ok(pod);
  await eventually('the pod to report', async () => (await tp.status('gone')).lastHeartbeat);
  // Billed for at least a second, so that the settled cost below is RunPod's own.
  await eventually('RunPod to bill the pod', () => billed(emu, pod));
  await emu.vanish(pod);
  await eventually("the pod's processes to end", async () => (await emu.pod(pod)).pid === null);
  // A pod created within the last minute may not be listed yet, so a job is judged gone only
  // past that grace: one reconcile interval later it ends, its cost settled from RunPod's billing.
  tp.setNow(now + 120);
  const actions = await tp.reconcile();
  assert.deepEqual(
    actions.map((a) => [a.podId, a.jobId, a.reason, a.jobState, a.error ?? null]),
    [[pod, 'gone', 'pod_vanished', 'failed', null]],
  );
  const ended = await tp.status('gone');
  assertShape(ended, 'JobStatus');
  assert.deepEqual([ended.state, ended.reason], ['failed', 'pod_vanished']);
  assert.ok(ended.cause.includes(pod), ended.cause);
  assert.ok(Math.abs(ended.costUsd - (await billed(emu, pod))) < 1e-9);
  assert.ok(ended.costUsd > 0);
  // RunPod's billing stopped when the pod went: the clock moves on, the cost does not.
  tp.setNow(now + 120 + 3600);
  assert.ok(Math.abs((await tp.status('gone')).costUsd - ended.costUsd) < 1e-9);
  // Past RunPod's billing delay the bill is final: it is recorded once.
  const settled = await tp.reconcile();
  assert.deepEqual(
    settled.map((a) => [a.jobId, a.reason]),
    [['gone', 'billed']],
  );
  assert.ok(Math.abs((await tp.status('gone')).billedUsd - ended.costUsd) < 1e-9);
  assert.deepEqual(await tp.reconcile(), [], 'nothing is left to do');
});

test('a pod that never starts ends at the provision timeout', async (t) => {
  const dataset = await stalledDataset(t);
  // Nothing runs on the pod: any Python does, and no app answers.
  const { emu, tp, now } = await setup(t, {
    python: trainPython || 'python3',
    appUrl: 'http://127.0.0.1:9',
    reconcile: { provisionTimeoutSecs: 300 },
  });
  await emu.faults({ profile: 'stuck-host' });
  const job = await tp.deploy(await tp.plan(spec('stuck', dataset)));
  const pod = job.podId;
  assert.ok(pod);
  await eventually('the pod to read RUNNING', async () => (await emu.pod(pod)).status === 'RUNNING');
  // Before the timeout it is left alone: a slow host may still start it.
  assert.deepEqual(await tp.reconcile(), []);
  tp.setNow(now + 301);
  const actions = await tp.reconcile();
  assert.deepEqual(
    actions.map((a) => [a.podId, a.reason, a.jobState, a.error ?? null]),
    [[pod, 'no_container', 'failed', null]],
  );
  assert.equal((await emu.pod(pod)).status, 'TERMINATED');
  const ended = await tp.status('stuck');
  assert.deepEqual([ended.state, ended.reason], ['failed', 'no_container']);
  assert.match(ended.cause, /no container ran/);
});

test('reconcile options are checked when the SDK is built', async (t) => {
  const base = {
    ignoreEnv: true,
    runpodApiKey: 'rpa_x',
    appUrl: 'http://127.0.0.1:9',
    allowLoopback: true,
    signingKeys: `k1:active:${generateSecret()}`,
    store: 'memory:',
  };
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const local = { ...base, runpodBaseUrl: emu.baseUrl, runpodApiKey: emu.accountKey };
  for (const reconcile of [{ provisionTimeoutSecs: -1 }, { leaseSecs: 1.5 }, { retryUnstarted: 'yes' }]) {
    await assert.rejects(
      // A wrong type throws at once, a bad value rejects: both are refused.
      async () => Trainpod.create({ ...local, reconcile }),
      { code: 'INVALID_INPUT' },
      JSON.stringify(reconcile),
    );
  }
  const tp = await Trainpod.create({ ...local, reconcile: { retryUnstarted: true, provisionTimeoutSecs: 300 } });
  assert.deepEqual(await tp.reconcile(), []);
});

test("a failed job's cause, stage and log outlive its pod", async (t) => {
  const dataset = await stalledDataset(t);
  const app = { tp: null };
  const appUrl = await serveMetrics(t, app);
  // The pod's Python has no torch: it fails its preflight, reports why and ends itself.
  const { emu, tp } = await setup(t, { python: 'python3', appUrl });
  app.tp = tp;
  const job = await tp.deploy(await tp.plan(spec('broken', dataset)));
  const pod = job.podId;
  await eventually('the job to fail', async () => (await tp.status('broken')).state === 'failed');
  await eventually('the pod to end', async () => (await emu.pod(pod)).status === 'TERMINATED');
  // Read once the pod is gone: the job kept what it said.
  const status = await tp.status('broken');
  assertShape(status, 'JobStatus');
  assert.deepEqual([status.reason, status.stage], ['preflight', 'preflight']);
  assert.ok(status.exitCode !== null && status.exitCode !== 0, String(status.exitCode));
  assert.match(status.cause, /torch is not installed/);
  assert.match(status.logTail, /preflight failed/);
});

test('a cluster that loses a node ends whole with its job at the next reconcile', {
  skip: needsTrainPython,
}, async (t) => {
  const dataset = await stalledDataset(t);
  const app = { tp: null };
  const appUrl = await serveMetrics(t, app);
  const { emu, tp, now } = await setup(t, { python: trainPython, appUrl });
  app.tp = tp;
  const get = async (path) =>
    (await fetch(`${emu.baseUrl}${path}`, { headers: { authorization: `Bearer ${emu.accountKey}` } })).json();
  const job = await tp.deploy(await tp.plan({ ...spec('pair', dataset), nodes: 2 }));
  const [cluster, ...others] = (await get('/clusters')).clusters;
  assert.deepEqual(others, []);
  assert.equal(cluster.compute.podCount, 2);
  const { pods } = await get(`/clusters/${cluster.id}/pods`);
  const rank = (r) => pods.find((p) => p.cluster.rank === r).id;
  assert.equal(job.podId, rank(0), "the job's pod is the primary");
  // Every node runs its own copy of the bundle; only the primary reports.
  await eventually('the primary to report', async () => (await tp.status('pair')).lastHeartbeat);
  await emu.vanish(rank(1));
  await eventually("the worker's processes to end", async () => (await emu.pod(rank(1))).pid === null);
  tp.setNow(now + 120);
  const actions = (await tp.reconcile()).filter((a) => a.reason !== 'billed');
  assert.deepEqual(
    actions.map((a) => [a.podId, a.jobId, a.reason, a.jobState]),
    [[cluster.id, 'pair', 'pod_vanished', 'failed']],
  );
  const ended = await tp.status('pair');
  assert.ok(ended.cause.includes(cluster.id) && ended.cause.includes('1 of its 2'), ended.cause);
  assert.deepEqual((await get('/clusters')).clusters, [], 'the primary went with the cluster');
});
