// `podEnv` from Node: a name that changes how the pod's processes load, or that trainpod or
// RunPod set, is refused when the SDK is created (the Hub's settings stay allowed); the pod's
// whole environment, its script with podEnv, is bounded at plan, with the sizes in the message.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { generateSecret, InvalidInputError, Trainpod } from '../index.mjs';
import { startEmulator } from '../testing.js';

const CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}';

async function create(t, podEnv) {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const dir = mkdtempSync(join(tmpdir(), 'trainpod-pod-env-'));
  mkdirSync(join(dir, 'datasets'));
  writeFileSync(join(dir, 'datasets', 'chat'), `${Array(50).fill(CHAT).join('\n')}\n`);
  return Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: emu.baseUrl, apiKey: emu.accountKey },
    appUrl: 'http://127.0.0.1:9',
    signingKeys: `k1:active:${generateSecret()}`,
    store: 'memory:',
    datasetsDir: join(dir, 'datasets'),
    artifactsDir: join(dir, 'artifacts'),
    now: 1_900_000_000,
    podEnv,
  });
}

for (const name of ['TRAINPOD_BUNDLE', 'RUNPOD_API_KEY', 'LD_PRELOAD', 'BASH_ENV', 'PATH', 'PYTHONPATH', 'HOME']) {
  test(`podEnv may not set ${name}`, async (t) => {
    await assert.rejects(create(t, { [name]: 'value-never-shown' }), (err) => {
      assert.ok(err instanceof InvalidInputError, String(err));
      assert.ok(err.message.includes(`pod_env may not set ${name}: `), err.message);
      assert.ok(!inspect(err).includes('value-never-shown'));
      return true;
    });
  });
}

test("the Hub's settings stay allowed", async (t) => {
  await create(t, { HF_TOKEN: 'hf_abc', HUGGING_FACE_HUB_TOKEN: 'hf_abc', HF_HOME: '/workspace/hf' });
});

test('forty values of 30 KiB are refused with the numbers', async (t) => {
  const big = Object.fromEntries(
    Array.from({ length: 40 }, (_, i) => [`BIG_${String(i).padStart(2, '0')}`, 'v'.repeat(30 * 1024)]),
  );
  await assert.rejects(create(t, big), (err) => {
    assert.equal(err.code, 'INVALID_INPUT');
    assert.ok(err.message.includes(`${40 * (6 + 30 * 1024)} bytes`), err.message);
    assert.ok(err.message.includes('131072-byte'), err.message);
    return true;
  });
});

test("the pod's whole environment is bounded at plan", async (t) => {
  // podEnv alone fits; with the pod's script it does not.
  const big = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`BIG_${i}`, 'v'.repeat(30 * 1024)]));
  const tp = await create(t, big);
  const spec = {
    jobId: 'env-plan',
    user: 'user-1',
    model: 'Qwen/Qwen2.5-0.5B',
    dataset: { kind: 'app', id: 'chat' },
    budgetUsd: 2,
  };
  await assert.rejects(tp.plan(spec), (err) => {
    assert.equal(err.code, 'INVALID_INPUT');
    assert.ok(err.message.includes("the pod's environment would hold"), err.message);
    assert.ok(err.message.includes(`${4 * (5 + 30 * 1024)} pod_env's`), err.message);
    return true;
  });
});
