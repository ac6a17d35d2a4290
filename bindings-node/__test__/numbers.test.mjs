// Numbers a pod sends reach an app's route as JSON: what a batch may carry is refused at ingest
// when no binding could carry it (an integer beyond 2^53 - 1, a key twice, a time far from the
// app's clock), and whatever the store holds (rows kept before those refusals included), a
// status or a follow update is plain JSON: every number a `number`, never a `BigInt`, so that
// `JSON.stringify` in the app's route never throws.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateSecret, Trainpod } from '../index.mjs';
import { startEmulator } from '../testing.js';

const T0 = 1_900_000_000;
const CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}';

async function setup(t, store = 'memory:') {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const dir = mkdtempSync(join(tmpdir(), 'trainpod-numbers-'));
  const datasetsDir = join(dir, 'datasets');
  mkdirSync(datasetsDir);
  writeFileSync(join(datasetsDir, 'chat'), `${Array(50).fill(CHAT).join('\n')}\n`);
  const tp = await Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: emu.baseUrl, apiKey: emu.accountKey },
    appUrl: 'http://127.0.0.1:9',
    signingKeys: `k1:active:${generateSecret()}`,
    store: typeof store === 'function' ? store(dir) : store,
    datasetsDir,
    artifactsDir: join(dir, 'artifacts'),
    followIntervalMs: 10,
    now: T0,
  });
  return { tp, dir };
}

async function deploy(tp, jobId) {
  const spec = {
    jobId,
    user: 'user-1',
    model: 'Qwen/Qwen2.5-0.5B',
    dataset: { kind: 'app', id: 'chat' },
    budgetUsd: 2,
  };
  return tp.deploy(await tp.plan(spec));
}

function bearer(tp, job) {
  const { token } = tp.tokens().issue({ purpose: 'metrics.write', user: 'user-1', job, epoch: 1, ttlSecs: 3600 });
  return `Bearer ${token}`;
}

/** A batch body written as text: JSON.stringify cannot write an integer beyond 2^53 exactly. */
const body = (job, n, events) => Buffer.from(`{"job":"${job}","attempt":1,"batch":${n},"events":[${events}]}`);
const log = (n, ts, data) => `{"n":${n},"source":"trainer","type":"log","ts":${ts},"data":${data}}`;
const FINAL = `{"n":9,"source":"bootstrap","type":"final","stage":"uploading","ts":${T0 + 40},"data":{"status":"succeeded","exit_code":0}}`;

/** Every update of an ended job's follow, each checked to be plain JSON (no BigInt anywhere). */
async function followed(tp, id) {
  const seen = [];
  for await (const update of tp.follow(id)) {
    assert.deepEqual(JSON.parse(JSON.stringify(update)), update, 'an update is plain JSON');
    seen.push(update);
  }
  return seen;
}

function plainJson(value) {
  assert.doesNotThrow(() => JSON.stringify(value));
  assert.deepEqual(JSON.parse(JSON.stringify(value)), value);
}

test('a batch no binding could carry is refused naming the field; a legitimate one stays JSON', async (t) => {
  const { tp } = await setup(t);
  const id = 'numbers-1';
  await deploy(tp, id);
  const auth = bearer(tp, id);
  tp.setNow(T0 + 30);
  const hostile = [
    [log(1, T0 + 20, '{"step":1,"big":9007199254740993}'), 'data.big is 9007199254740993'],
    [log(1, T0 + 20, '{"m":{"a":[-9007199254740993]}}'), 'data.m.a[0] is -9007199254740993'],
    [log(1, T0 + 20, '{"step":1e300}'), 'data.step is 1e+300'],
    [log('9007199254740993', T0 + 20, '{}'), 'events[0]: n is 9007199254740993'],
    [log(1, T0 + 20, '{"loss":1,"m":{"k":1,"k":2}}'), 'duplicate key "k" in data.m'],
    [log(1, T0 + 20, '{"loss":1,"loss":2}'), 'duplicate key "loss" in data'],
    [log(1, T0 + 3 * 86_400, '{}'), "more than 86400 s ahead of the app's clock"],
    [log(1, 0, '{}'), 'events[0].ts is 0.0, more than 691200 s'],
  ];
  for (const [event, field] of hostile) {
    await assert.rejects(
      tp.ingestMetrics(id, auth, body(id, 1, event)),
      (err) => err.code === 'INVALID_INPUT' && err.message.includes(field),
      field,
    );
  }
  // Nothing was kept: the status is as deployed, and the first good batch is new.
  plainJson(await tp.status(id));
  const out = await tp.ingestMetrics(id, auth, body(id, 1, log(1, T0 + 20, '{"step":2,"max_steps":6}')));
  assert.equal(out.replay, false);
  assert.equal(out.job.step, 2);
});

test('after a refused batch and a legitimate one at the edge, status and follow updates are plain JSON', async (t) => {
  const { tp } = await setup(t);
  const id = 'numbers-2';
  await deploy(tp, id);
  const auth = bearer(tp, id);
  tp.setNow(T0 + 30);
  await assert.rejects(tp.ingestMetrics(id, auth, body(id, 1, log(1, T0 + 20, '{"step":1,"big":9007199254740993}'))), {
    code: 'INVALID_INPUT',
  });
  await assert.rejects(
    tp.ingestMetrics(id, auth, body(id, '9007199254740993', log(1, T0 + 20, '{}'))),
    (err) => err.code === 'INVALID_INPUT' && err.message.includes('batch is 9007199254740993'),
  );
  plainJson(await tp.status(id));
  // The largest integers every binding carries, and a pace that would put the ETA past 2^53.
  const max = Number.MAX_SAFE_INTEGER;
  const edge = `{"step":1,"max_steps":${max},"tokens":${max},"m":[{"low":-${max}}],"loss":1.5}`;
  const out = await tp.ingestMetrics(id, auth, body(id, 1, log(1, T0 + 20, edge)));
  assert.equal(out.job.step, 1);
  assert.equal(out.job.maxSteps, max);
  const status = await tp.status(id);
  plainJson(status);
  assert.equal(typeof status.etaSecs, 'number');
  assert.equal(status.etaSecs, max, 'an ETA beyond what a double holds exactly is held there');
  assert.equal(status.totalSteps, max);
  // A number far from the attempt's others: refused, and its events are never followed.
  await assert.rejects(tp.ingestMetrics(id, auth, body(id, 1000, log(5, T0 + 25, '{"loss":0.1}'))), {
    code: 'SEQUENCE_CONFLICT',
  });
  await tp.ingestMetrics(id, auth, body(id, 2, FINAL));
  const seen = await followed(tp, id);
  const events = seen.filter((u) => u.kind === 'event').map((u) => u.event);
  assert.deepEqual(
    events.map((e) => e.n),
    [1, 9],
  );
  assert.equal(events[0].data.tokens, max);
  assert.equal(events[0].data.m[0].low, -max);
  assert.equal(seen.at(-1).status.state, 'succeeded');
});

test('integers a store kept beyond 2^53 come back as numbers, never BigInt', async (t) => {
  const { tp, dir } = await setup(t, (d) => `sqlite://${join(d, 'store.db')}`);
  const id = 'numbers-3';
  await deploy(tp, id);
  const auth = bearer(tp, id);
  tp.setNow(T0 + 30);
  await tp.ingestMetrics(id, auth, body(id, 1, log(1, T0 + 20, '{"step":1,"max_steps":6}')));
  // Rows as an earlier version could keep them, before ingest refused such integers.
  const legacy = `[${log(2, T0 + 21, '{"big":18446744073709551615,"low":-9223372036854775808,"deep":[{"x":9007199254740993}]}')}]`;
  const script = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("update trainpod_jobs set step = ?, max_steps = ? where job_id = ?", (2**54, 2**60, sys.argv[2]))
db.execute("insert into trainpod_job_events (job_id, attempt, batch, received_at, events) values (?, 1, 2, 0, ?)", (sys.argv[2], sys.argv[3]))
db.commit()
`;
  execFileSync('python3', ['-c', script, join(dir, 'store.db'), id, legacy]);
  const status = await tp.status(id);
  plainJson(status);
  assert.equal(typeof status.step, 'number');
  assert.equal(status.step, 2 ** 54);
  assert.equal(status.totalSteps, 2 ** 60);
  assert.equal(typeof status.etaSecs, 'number');
  await tp.ingestMetrics(id, auth, body(id, 3, FINAL));
  const events = (await followed(tp, id)).filter((u) => u.kind === 'event').map((u) => u.event);
  const kept = events.find((e) => e.n === 2);
  assert.equal(typeof kept.data.big, 'number');
  assert.equal(kept.data.big, 2 ** 64);
  assert.equal(kept.data.low, -(2 ** 63));
  assert.equal(kept.data.deep[0].x, 9007199254740992);
});
