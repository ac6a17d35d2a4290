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
