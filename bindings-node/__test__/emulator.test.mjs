import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidInputError } from '../index.mjs';
import { startEmulator } from '../testing.js';

test('the emulator starts, serves the v2 API with its key, and stops', async () => {
  const emu = await startEmulator();
  try {
    assert.match(emu.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v2$/);
    const headers = { Authorization: `Bearer ${emu.accountKey}` };
    const pods = await fetch(`${emu.baseUrl}/pods`, { headers });
    assert.equal(pods.status, 200);
    assert.deepEqual(await pods.json(), { pods: [] });
    const refused = await fetch(`${emu.baseUrl}/pods`, { headers: { Authorization: 'Bearer wrong' } });
    assert.equal(refused.status, 401);
  } finally {
    await emu.stop();
  }
  await assert.rejects(fetch(`${emu.baseUrl}/pods`));
});

test('a missing binary is a typed error', async () => {
  await assert.rejects(startEmulator({ binary: '/nonexistent/trainpod-emulator' }), InvalidInputError);
});

test('faults, the clock and pod logs can be driven from Node', async () => {
  const emu = await startEmulator();
  try {
    const headers = { Authorization: `Bearer ${emu.accountKey}`, 'content-type': 'application/json' };
    await emu.faults({ statuses: [402] });
    assert.equal((await fetch(`${emu.baseUrl}/pods`, { headers })).status, 402);
    await emu.faults({ noCapacity: ['NVIDIA A40'] });
    const body = JSON.stringify({ name: 'trainpod-n', image: 'runpod/pytorch:1', gpu: { id: 'NVIDIA A40', count: 1 } });
    assert.equal((await fetch(`${emu.baseUrl}/pods`, { method: 'POST', headers, body })).status, 400);
    await emu.faults({ reset: true });
    const pod = await (await fetch(`${emu.baseUrl}/pods`, { method: 'POST', headers, body })).json();
    const now = await emu.advance(3);
    assert.ok(now > 0);
    const running = await (await fetch(`${emu.baseUrl}/pods/${pod.id}`, { headers })).json();
    assert.equal(running.status, 'RUNNING');
    await emu.pushLog(pod.id, 'epoch 1');
    await fetch(`${emu.baseUrl}/pods/${pod.id}/action`, { method: 'POST', headers, body: '{"action":"terminate"}' });
    const logs = await (await fetch(`${emu.baseUrl}/pods/${pod.id}/logs?source=container`, { headers })).status;
    assert.equal(logs, 404); // terminated pods are gone
    const seen = await emu.requests();
    assert.ok(seen.some((r) => r.method === 'POST' && r.uri === '/v2/pods' && r.status === 201));
    await assert.rejects(emu.faults({ bogus: 1 }), InvalidInputError);
  } finally {
    await emu.stop();
  }
});

const IMAGE = 'runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404';

/** A v2 call with the account key: status and JSON body (null when there is none). */
async function call(emu, method, path, body) {
  const res = await fetch(`${emu.baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${emu.accountKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function createPod(emu, fields = {}) {
  const body = { name: 'trainpod-node', image: IMAGE, gpu: { id: 'NVIDIA A40' }, ...fields };
  const { status, json } = await call(emu, 'POST', '/pods', body);
  assert.equal(status, 201, JSON.stringify(json));
  return json;
}

/** Polls `probe` until it gives a value; the bound is generous, for loaded machines. */
async function eventually(what, probe, withinMs = 30_000) {
  const end = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    assert.ok(Date.now() < end, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The first system-log line containing `wanted`, from the live log stream (open while the pod lives). */
async function systemLine(emu, podId, wanted) {
  const controller = new AbortController();
  const res = await fetch(`${emu.baseUrl}/pods/${podId}/logs?source=system&tail=5000`, {
    headers: { Authorization: `Bearer ${emu.accountKey}` },
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  const decoder = new TextDecoder();
  let text = '';
  try {
    for await (const chunk of res.body) {
      text += decoder.decode(chunk, { stream: true });
      const line = text
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => JSON.parse(l.slice('data: '.length)).line)
        .find((l) => l.includes(wanted));
      if (line) return line;
    }
  } finally {
    controller.abort();
  }
  assert.fail(`the stream ended before a line with ${wanted}`);
}

test('a profile applies by name, and a pull-backoff pod reads RUNNING with no container', async () => {
  const emu = await startEmulator();
  try {
    await emu.faults({ profile: 'pull-backoff' });
    const pod = await createPod(emu);
    await emu.advance(3);
    const { json: got } = await call(emu, 'GET', `/pods/${pod.id}`);
    assert.equal(got.status, 'RUNNING');
    assert.equal(got.runtime, null);
    assert.match(await systemLine(emu, pod.id, 'toomanyrequests'), /You have reached your pull rate limit/);
    const record = await emu.pod(pod.id);
    assert.deepEqual([record.containerRunning, record.waitingFor], [false, 'pull']);
    await assert.rejects(emu.faults({ profile: 'meteor' }), /pod-key-refused/);
  } finally {
    await emu.stop();
  }
});

test('a vanished pod is listed no more, answers 404, and its billing stays', async () => {
  const emu = await startEmulator();
  try {
    const pod = await createPod(emu);
    await emu.advance(10);
    const record = await emu.vanish(pod.id, 'console');
    assert.deepEqual([record.status, record.vanished], ['TERMINATED', 'console']);
    const { json: listed } = await call(emu, 'GET', '/pods');
    assert.ok(listed.pods.every((p) => p.id !== pod.id));
    assert.equal((await call(emu, 'GET', `/pods/${pod.id}`)).status, 404);
    assert.equal((await call(emu, 'DELETE', `/pods/${pod.id}`)).status, 404);
    const { status, json: bill } = await call(emu, 'GET', `/billing/pods?podId=${pod.id}`);
    assert.equal(status, 200);
    assert.ok(Math.abs(bill.records[0].totalAmount - (0.4 * 10) / 3600) < 1e-12);
    await emu.faults({ reset: true, vanish: { afterSecs: 2, cause: 'host' } });
    const later = await createPod(emu);
    await emu.advance(2);
    assert.equal((await emu.pod(later.id)).vanished, 'host');
  } finally {
    await emu.stop();
  }
});

test("a pod's runpodctl call is recorded", async () => {
  const emu = await startEmulator({ args: ['--run-pods'] });
  try {
    await emu.faults({ podKeyRefused: true });
    const script = 'runpodctl remove pod "$RUNPOD_POD_ID"; exec sleep 600';
    const pod = await createPod(emu, { args: 'sh -c "$SCRIPT"', env: { SCRIPT: script } });
    const calls = await eventually('the runpodctl call', async () => {
      const seen = await emu.runpodctlCalls();
      return seen.length > 0 ? seen : null;
    });
    assert.deepEqual(calls[0].args, ['remove', 'pod', pod.id]);
    assert.deepEqual([calls[0].exitCode, calls[0].caller], [0, pod.id]);
    assert.match(calls[0].stderr, /deprecated/);
    await eventually('the pod to terminate', async () => (await emu.pod(pod.id)).status === 'TERMINATED');
  } finally {
    await emu.stop();
  }
});
