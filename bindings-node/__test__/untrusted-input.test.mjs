// What errors and stored fields repeat, from Node: a key ring's secret never, what a pod sent
// only escaped and bounded, and a final status's reason only as a known code, the pod's own words
// staying in `cause` as plain data.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { generateSecret, InvalidInputError, Tokens, Trainpod } from '../index.mjs';
import { startEmulator } from '../testing.js';

const T0 = 1_900_000_000;
const CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}';
const HIDDEN = generateSecret();
const GOOD = generateSecret();

async function setup(t) {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const dir = mkdtempSync(join(tmpdir(), 'trainpod-untrusted-'));
  mkdirSync(join(dir, 'datasets'));
  writeFileSync(join(dir, 'datasets', 'chat'), `${Array(50).fill(CHAT).join('\n')}\n`);
  const tp = await Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: emu.baseUrl, apiKey: emu.accountKey },
    appUrl: 'http://127.0.0.1:9',
    signingKeys: `k1:active:${GOOD}`,
    store: 'memory:',
    datasetsDir: join(dir, 'datasets'),
    artifactsDir: join(dir, 'artifacts'),
    now: T0,
  });
  return tp;
}

const spec = (jobId) => ({
  jobId,
  user: 'user-1',
  model: 'Qwen/Qwen2.5-0.5B',
  dataset: { kind: 'app', id: 'chat' },
  budgetUsd: 2,
});

const event = (n, ts, type, extra = {}) => ({ n, source: 'bootstrap', type, ts, data: {}, ...extra });

function metricsAuth(tp, job) {
  const { token } = tp.tokens().issue({ purpose: 'metrics.write', user: 'user-1', job, epoch: 1, ttlSecs: 3600 });
  return `Bearer ${token}`;
}

const everythingShown = (err) => [err.message, String(err), inspect(err), JSON.stringify(err), err.stack ?? ''];

for (const [entry, why] of [
  [`k1:${HIDDEN}:active`, 'the status must be'],
  [`${HIDDEN}:active:k1`, 'the key id must be'],
  [`k1:active:${HIDDEN}!`, 'not valid base64'],
]) {
  test(`a key ring entry out of order is refused without its secret (${why})`, () => {
    let caught;
    try {
      new Tokens({ keys: `k0:active:${GOOD},${entry}`, audience: 'https://app.example.com' });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof InvalidInputError, String(caught));
    assert.match(caught.message, /^entry 2 of the key ring: /);
    assert.ok(caught.message.includes(why) && caught.message.includes('kid:status:secret'), caught.message);
    for (const shown of everythingShown(caught)) {
      for (const piece of [HIDDEN.slice(0, 8), HIDDEN.slice(17, 29), GOOD.slice(0, 8)]) {
        assert.ok(!shown.includes(piece), shown);
      }
    }
  });
}

test('a job id a pod sent comes back escaped and bounded', async (t) => {
  const tp = await setup(t);
  const forged = `job-q\nINFO all good\u001b[2J${'x'.repeat(4000)}`;
  const body = Buffer.from(JSON.stringify({ job: forged, attempt: 1, batch: 1, events: [event(1, T0, 'heartbeat')] }));
  let caught;
  try {
    await tp.ingestMetrics('job-q', metricsAuth(tp, 'job-q'), body);
  } catch (err) {
    caught = err;
  }
  assert.equal(caught?.code, 'TOKEN_SCOPE_MISMATCH', String(caught));
  for (const shown of [caught.message, String(caught), inspect(caught)]) {
    assert.ok(!shown.includes('\n job-q') && !shown.includes('\u001b'), shown);
    assert.ok(!shown.includes('x'.repeat(100)), shown);
  }
  assert.ok(!caught.message.includes('\n'), caught.message);
  assert.ok(caught.message.includes('"job-q\\nINFO all good\\u{1b}[2J'), caught.message);
});

test("a final status's reason is a known code, and the pod's words stay in the cause as text", async (t) => {
  const tp = await setup(t);
  const job = await tp.deploy(await tp.plan(spec('reason-1')));
  const cause = '<script>alert(1)</script>\u001b[31m broke\u0007down\nsecond line';
  const final = event(1, T0 + 5, 'final', {
    stage: 'training',
    data: {
      status: 'failed',
      reason: '<img src=x onerror=alert(1)>\n\u001b[2J',
      exit_code: 3,
      cause_b64: Buffer.from(cause).toString('base64'),
      log_tail_b64: '',
    },
  });
  const body = Buffer.from(JSON.stringify({ job: job.jobId, attempt: 1, batch: 1, events: [final] }));
  const out = await tp.ingestMetrics(job.jobId, metricsAuth(tp, job.jobId), body);
  assert.equal(out.job.reason, 'unknown');
  const status = await tp.status(job.jobId);
  assert.deepEqual(
    [status.state, status.reason, status.cause],
    ['failed', 'unknown', '<script>alert(1)</script> [31m broke down'],
  );
});
