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
