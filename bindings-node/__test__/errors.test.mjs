import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import * as esm from '../index.mjs';

const require = createRequire(import.meta.url);
const cjs = require('../index.js');
const raw = require('../binding.js');

test('ESM and CommonJS entry points export the same objects', async () => {
  const byName = await import('../index.mjs');
  assert.equal(byName.default, cjs);
  const names = Object.keys(cjs);
  assert.ok(names.length >= 10);
  for (const name of names) assert.equal(byName[name], cjs[name], name);
});

test('every core error code is distinct and becomes a TrainpodError with that code', () => {
  const codes = cjs.errorCodes();
  assert.ok(codes.length >= 30);
  assert.equal(new Set(codes).size, codes.length);
  assert.deepEqual([...cjs.ERROR_CODES], codes);
  for (const code of codes) {
    // The shape src/errors.rs gives a native failure: the code in `code`, the rest as JSON.
    const fields = { message: 'm', status: 418, requestId: 'r', retryAfter: 2, retryable: true, causes: ['a', 'b'] };
    const native = Object.assign(new Error(JSON.stringify(fields)), { code });
    const err = cjs.__convertForTests(native);
    assert.ok(err instanceof cjs.TrainpodError, code);
    assert.ok(err instanceof Error, code);
    assert.equal(err.code, code);
    assert.equal(err.message, 'm');
    assert.equal(err.status, 418);
    assert.equal(err.requestId, 'r');
    assert.equal(err.retryAfter, 2);
    assert.equal(err.retryable, true);
    assert.equal(err.cause.message, 'a');
    assert.equal(err.cause.cause.message, 'b');
    assert.equal(err instanceof cjs.TokenError, code.startsWith('TOKEN_'), code);
    assert.equal(err instanceof cjs.StoreError, code.startsWith('STORE_'), code);
    assert.equal(err instanceof cjs.DatasetError, ['DATASET_NOT_FOUND', 'DATASET_PATH_UNSAFE'].includes(code), code);
  }
});

test('every core error code is thrown as the class of its group', () => {
  // errors.js is generated from the core's groups (`ErrorKind::group`): every code the native
  // module knows is in its table, and is thrown as that class and no other group's.
  const errors = require('../errors.js');
  const codes = cjs.errorCodes();
  assert.deepEqual([...errors.CLASS_BY_CODE.keys()].sort(), [...codes].sort(), 'errors.js is stale');
  const groups = new Set(errors.CLASS_BY_CODE.values());
  for (const code of codes) {
    const Class = cjs.errorClass(code);
    assert.equal(Class, errors.CLASS_BY_CODE.get(code), code);
    assert.equal(Object.getPrototypeOf(Class), cjs.TrainpodError, code);
    const err = cjs.__convertForTests(Object.assign(new Error('{"message":"m"}'), { code }));
    assert.ok(err instanceof Class, code);
    assert.equal(err.name, Class.name);
    for (const other of groups) assert.equal(err instanceof other, other === Class, `${code} ${other.name}`);
  }
  assert.equal(cjs.errorClass('DATASET_INVALID'), cjs.InvalidInputError);
  assert.equal(cjs.errorClass('SEQUENCE_CONFLICT'), cjs.SequenceConflictError);
  assert.equal(cjs.errorClass('INTERNAL'), cjs.InternalError);
  assert.equal(cjs.errorClass('NO_SUCH_CODE'), cjs.TrainpodError);
});

test('errors that are not trainpod failures keep their own code', () => {
  const other = Object.assign(new Error('boom'), { code: 'GenericFailure' });
  assert.equal(cjs.__convertForTests(other), other);
  assert.ok(!cjs.ERROR_CODES.includes(other.code));
});

test('the raw native module already reports the stable code, sync and async', async () => {
  assert.throws(() => new raw.Tokens({ keys: 'k1:primary:abc', audience: 'https://a' }), { code: 'INVALID_INPUT' });
  await assert.rejects(raw.Store.open('mysql://x'), (err) => {
    assert.equal(err.code, 'INVALID_INPUT');
    assert.equal(JSON.parse(err.message).retryable, false);
    return true;
  });
});

test('real failures carry their code, never message text', async () => {
  assert.throws(() => new cjs.Tokens({ keys: 'k1:primary:abc', audience: 'https://a' }), { code: 'INVALID_INPUT' });
  assert.throws(() => new esm.Tokens({ keys: 'k1:primary:abc', audience: 'https://a' }), esm.InvalidInputError);
  await assert.rejects(cjs.Store.open('sqlite:///nonexistent-dir/a/b.db'), (err) => {
    assert.ok(err instanceof cjs.StoreError);
    assert.equal(err.code, 'STORE_UNAVAILABLE');
    assert.equal(err.retryable, true);
    assert.ok(err.cause instanceof Error);
    return true;
  });
  await assert.rejects(esm.Store.open('mysql://x'), { name: 'InvalidInputError', code: 'INVALID_INPUT' });
});

test('wrong argument types are INVALID_INPUT, with napi’s error as the cause', () => {
  assert.throws(
    () => new cjs.Tokens({ keys: 5, audience: 'https://a' }),
    (err) =>
      err instanceof cjs.InvalidInputError && err.code === 'INVALID_INPUT' && err.cause.code === 'StringExpected',
  );
  assert.throws(() => new cjs.Tokens(null), { code: 'INVALID_INPUT' });
  assert.throws(() => new cjs.Tokens(), { code: 'INVALID_INPUT' });
  assert.throws(() => cjs.Tokens({}), TypeError);
});
