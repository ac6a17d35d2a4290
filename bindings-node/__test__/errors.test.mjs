import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import * as esm from '../index.mjs';

const require = createRequire(import.meta.url);
const cjs = require('../index.js');

test('ESM and CommonJS entry points are the same module', () => {
  assert.equal(esm.Tokens, cjs.Tokens);
  assert.equal(esm.TrainpodError, cjs.TrainpodError);
  assert.equal(esm.default, cjs);
});

test('every core error code is distinct and becomes a TrainpodError with that code', () => {
  const codes = cjs.errorCodes();
  assert.ok(codes.length >= 30);
  assert.equal(new Set(codes).size, codes.length);
  assert.deepEqual([...cjs.ERROR_CODES], codes);
  for (const code of codes) {
    // The same path a native failure takes: a marked message carrying the fields.
    const native = new Error(
      `TRAINPOD_ERROR ${JSON.stringify({ code, message: 'm', status: 418, requestId: 'r', retryAfter: 2, retryable: true, causes: ['inner'] })}`,
    );
    const err = convertThroughTheBinding(native);
    assert.ok(err instanceof cjs.TrainpodError, code);
    assert.equal(err.code, code);
    assert.equal(err.status, 418);
    assert.equal(err.requestId, 'r');
    assert.equal(err.retryAfter, 2);
    assert.equal(err.cause.message, 'inner');
    assert.equal(err instanceof cjs.TokenError, code.startsWith('TOKEN_'), code);
  }
});

function convertThroughTheBinding(err) {
  return cjs.__convertForTests(err);
}

test('real failures carry their code, never message text', async () => {
  assert.throws(() => new cjs.Tokens({ keys: 'k1:primary:abc', audience: 'https://a' }), { code: 'INVALID_INPUT' });
  assert.throws(() => new cjs.Tokens({ keys: 'k1:primary:abc', audience: 'https://a' }), cjs.InvalidInputError);
  await assert.rejects(cjs.Store.open('sqlite:///nonexistent-dir/a/b.db'), (err) => {
    assert.ok(err instanceof cjs.StoreError);
    assert.equal(err.code, 'STORE_UNAVAILABLE');
    assert.equal(err.retryable, true);
    assert.ok(err.cause instanceof Error);
    return true;
  });
  await assert.rejects(cjs.Store.open('mysql://x'), { code: 'INVALID_INPUT' });
});
