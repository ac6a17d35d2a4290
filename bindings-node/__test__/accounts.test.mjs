// Jobs on many RunPod accounts from Node, on one emulator serving two accounts: a `credentials`
// resolver gives each account's key, each job's pod is made, listed and ended with its own
// account's key, reconcile goes on past an account whose key was revoked, checkRunpodKey tells
// what a key can do, and a failing resolver is CREDENTIALS_UNAVAILABLE.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateSecret, Trainpod, TrainpodError } from '../index.mjs';
import { startEmulator } from '../testing.js';
import { assertShape } from './declared.mjs';

const T0 = 1_900_000_000;
const KEY_A = 'rpa_emulator_alice_key';
const KEY_B = 'rpa_emulator_bob_key';
const KEY_READ = 'rpa_emulator_alice_read_only';
const CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}';

async function setup(t, credentials, options = {}) {
  const emu = await startEmulator({
    args: ['--account', `alice:${KEY_A}`, '--account', `bob:${KEY_B}`, '--account', `alice:${KEY_READ}:read_only`],
  });
  t.after(() => emu.stop());
  const dir = mkdtempSync(join(tmpdir(), 'trainpod-accounts-'));
  mkdirSync(join(dir, 'datasets'));
  writeFileSync(join(dir, 'datasets', 'chat'), `${Array(50).fill(CHAT).join('\n')}\n`);
  // No RunPod key of its own: every job names its account.
  const tp = await Trainpod.create({
    ignoreEnv: true,
    runpodBaseUrl: emu.baseUrl,
    allowLoopback: true,
    expectGpu: false,
    credentials,
    appUrl: 'http://127.0.0.1:9',
    signingKeys: `k1:active:${generateSecret()}`,
    store: 'memory:',
    datasetsDir: join(dir, 'datasets'),
    now: T0,
    ...options,
  });
  return { emu, tp };
}

/** A resolver over a Map, which records the accounts it was asked for. */
function fromMap(keys) {
  const asked = new Set();
  const resolve = async (account) => {
    asked.add(account);
    return keys.get(account) ?? null;
  };
  return { resolve, asked };
}

const spec = (jobId, user, account) => ({
  jobId,
  user,
  account,
  model: 'Qwen/Qwen2.5-0.5B',
  dataset: { kind: 'app', id: 'chat' },
  budgetUsd: 2,
});

/** The ids of the pods `key`'s account lists. */
async function listed(emu, key) {
  const res = await fetch(`${emu.baseUrl}/pods`, { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  return (await res.json()).pods.map((p) => p.id);
}

/** Whether the emulator terminated the pod (it is gone from the v2 API, even to its own account). */
async function gone(emu, key, podId) {
  const res = await fetch(`${emu.baseUrl}/pods/${podId}`, { headers: { Authorization: `Bearer ${key}` } });
  await res.body?.cancel();
  return res.status === 404;
}

test("each user's job runs on the user's own account, and cancel ends that account's pod", async (t) => {
  const { resolve, asked } = fromMap(
    new Map([
      ['alice', KEY_A],
      ['bob', KEY_B],
    ]),
  );
  const { emu, tp } = await setup(t, resolve);
  const alice = await tp.deploy(await tp.plan(spec('job-alice', 'alice', 'alice')));
  const bob = await tp.deploy(await tp.plan(spec('job-bob', 'bob', 'bob')));
  assert.equal(alice.account, 'alice');
  assert.equal(bob.account, 'bob');
  assert.equal((await tp.status('job-alice')).account, 'alice');
  assert.equal((await emu.pod(alice.podId)).account, 'alice');
  assert.equal((await emu.pod(bob.podId)).account, 'bob');
  assert.deepEqual(await listed(emu, KEY_A), [alice.podId]);
  assert.deepEqual(await listed(emu, KEY_B), [bob.podId]);
  assert.deepEqual([...asked].sort(), ['alice', 'bob']);

  const cancelled = await tp.cancel('job-alice');
  assert.equal(cancelled.state, 'cancelled');
  assert.ok(await gone(emu, KEY_A, alice.podId), "alice's pod is ended");
  assert.ok(!(await gone(emu, KEY_B, bob.podId)), "bob's pod still runs");
  assert.deepEqual(await listed(emu, KEY_B), [bob.podId]);
  assert.equal((await tp.cancel('job-bob')).state, 'cancelled');
  assert.ok(await gone(emu, KEY_B, bob.podId));

  // Without a key of its own, a job must name its account (core's rule, its code kept).
  await assert.rejects(tp.plan(spec('job-nobody', 'carol', undefined)), { code: 'INVALID_INPUT' });
  // An account whose user saved no key: the resolver's null.
  await assert.rejects(tp.plan(spec('job-carol', 'carol', 'carol')), (err) => {
    assert.equal(err.code, 'AUTH_INVALID');
    assert.match(err.message, /account "carol" has no RunPod key/);
    return true;
  });
});

test("reconcile reports an account whose key was revoked and still reconciles the other's pods", async (t) => {
  const keys = new Map([
    ['alice', KEY_A],
    ['bob', KEY_B],
  ]);
  const { emu, tp } = await setup(t, fromMap(keys).resolve);
  const alice = await tp.deploy(await tp.plan(spec('rec-alice', 'alice', 'alice')));
  const bob = await tp.deploy(await tp.plan(spec('rec-bob', 'bob', 'bob')));
  // A trainpod pod on alice's account that no job owns: the orphan reconcile ends.
  const created = await fetch(`${emu.baseUrl}/pods`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'trainpod-ghost', image: 'runpod/pytorch:1', gpu: { id: 'NVIDIA A40', count: 1 } }),
  });
  const ghost = await created.json();
  assert.equal((await emu.revokeKey(KEY_B)).account, 'bob');

  tp.setNow(T0 + 700);
  const actions = await tp.reconcile();
  const unavailable = actions.filter((a) => a.reason === 'account_unavailable');
  assert.equal(unavailable.length, 1, JSON.stringify(actions));
  assert.equal(unavailable[0].jobId, 'rec-bob');
  assert.equal(unavailable[0].podId, bob.podId);
  assert.equal(unavailable[0].error.code, 'AUTH_INVALID');
  assert.match(unavailable[0].error.message, /RunPod account "bob" could not be reconciled/);
  const orphan = actions.find((a) => a.reason === 'orphan');
  assert.ok(orphan, JSON.stringify(actions));
  assert.equal(orphan.podId, ghost.id);
  assert.ok(!orphan.error, JSON.stringify(orphan));
  assert.ok(await gone(emu, KEY_A, ghost.id), "alice's orphan is ended");
  const left = await emu.pod(bob.podId);
  assert.ok(!['TERMINATED', 'EXITED'].includes(left.status), `bob's pod is left to end itself: ${left.status}`);
  assert.equal((await tp.status('rec-alice')).state, alice.state, "alice's live job is untouched");
  assert.ok(
    actions.every((a) => a.jobId !== 'rec-alice'),
    JSON.stringify(actions),
  );
});

test('checkRunpodKey tells what a key can do, before it is saved', async (t) => {
  const { emu, tp } = await setup(t, async () => null);
  const all = await tp.checkRunpodKey(KEY_A);
  assertShape(all, 'KeyCheck');
  assert.equal(all.valid, true);
  assert.equal(all.access, 'read_write');
  assert.equal(all.canRunJobs, true);
  assert.equal(all.problem, '');
  assert.ok(all.gpus.length > 0);
  assertShape(all.gpus[0], 'GpuSeen');

  const readOnly = await tp.checkRunpodKey(KEY_READ);
  assert.equal(readOnly.valid, true);
  assert.equal(readOnly.access, 'read_only');
  assert.equal(readOnly.canRunJobs, false);
  assert.match(readOnly.problem, /Read Only/);

  await emu.revokeKey(KEY_B);
  for (const key of [KEY_B, 'rpa_nobody_has_this_key', 'not a key']) {
    const refused = await tp.checkRunpodKey(key);
    assert.equal(refused.valid, false, key);
    assert.equal(refused.access, 'refused', key);
    assert.equal(refused.canRunJobs, false, key);
    assert.deepEqual(refused.gpus, [], key);
    assert.notEqual(refused.problem, '', key);
  }
  // Nothing was created by the checks.
  assert.deepEqual(await listed(emu, KEY_A), []);
});

test('a resolver that fails is CREDENTIALS_UNAVAILABLE, and one with a trainpod code keeps it', async (t) => {
  let fail = async () => {
    throw new Error('the secrets store is down');
  };
  const { tp } = await setup(t, (account) => fail(account));
  await assert.rejects(tp.plan(spec('fails-1', 'alice', 'alice')), (err) => {
    assert.ok(err instanceof TrainpodError);
    assert.equal(err.code, 'CREDENTIALS_UNAVAILABLE');
    assert.equal(err.retryable, true);
    assert.match(err.message, /account "alice": it threw Error: the secrets store is down/);
    return true;
  });
  const cases = [
    [
      () => {
        throw new TypeError('sync');
      },
      'CREDENTIALS_UNAVAILABLE',
      /it threw TypeError: sync/,
    ],
    [async () => 42, 'CREDENTIALS_UNAVAILABLE', /returned a value of type number, not a string or null/],
    [() => Promise.reject('plain text'), 'CREDENTIALS_UNAVAILABLE', /it threw "plain text"/],
    [
      async () => {
        throw Object.assign(new Error('this key was disabled'), { code: 'AUTH_INVALID' });
      },
      'AUTH_INVALID',
      /^this key was disabled$/,
    ],
    [
      // A trainpod code that means nothing here is the secrets store failing, like any other.
      async () => {
        throw Object.assign(new Error('no such row'), { code: 'NOT_FOUND' });
      },
      'CREDENTIALS_UNAVAILABLE',
      /account "alice": no such row/,
    ],
  ];
  for (const [resolver, code, message] of cases) {
    fail = resolver;
    await assert.rejects(tp.plan(spec('fails-2', 'alice', 'alice')), { code, message }, String(message));
  }
  // A sync resolver that returns the key works as well as an async one.
  fail = () => KEY_A;
  assert.equal((await tp.plan(spec('fails-3', 'alice', 'alice'))).spec.account, 'alice');
});
