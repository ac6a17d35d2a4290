import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, generateSecret, Store, TokenError, Tokens, TrainpodError } from '../index.mjs';
import { postgresUrl } from './helpers.mjs';

const require = createRequire(import.meta.url);
const NOW = 1_767_225_600;
const NATIVE = Symbol.for('trainpod.native');
const SECRET = generateSecret();
const make = () => new Tokens({ keys: `k1:active:${SECRET}`, audience: 'https://app.example.com', now: NOW });
const datasetToken = (t) =>
  t.issue({ purpose: 'dataset.read', user: 'u1', job: 'j1', dataset: 'd1', once: true }).token;

test('round trip, tamper, wrong purpose, bearer header', () => {
  const t = make();
  const token = datasetToken(t);
  const claims = t.verify(token, { purpose: 'dataset.read', job: 'j1', dataset: 'd1', user: 'u1' });
  assert.equal(claims.ds, 'd1');
  const i = token.length - 5;
  const tampered = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
  assert.throws(() => t.verify(tampered, { purpose: 'dataset.read' }), { code: 'TOKEN_SIGNATURE_INVALID' });
  assert.throws(() => t.verify(token, { purpose: 'metrics.write' }), { code: 'TOKEN_WRONG_PURPOSE' });
  assert.equal(t.verifyAuthorization(`Bearer ${token}`, { purpose: 'dataset.read' }).jti, claims.jti);
  assert.throws(() => t.verifyAuthorization(undefined, { purpose: 'dataset.read' }), { code: 'TOKEN_MISSING' });
});

test('claims are the token payload, field for field', () => {
  const t = make();
  for (const request of [
    { purpose: 'dataset.read', user: 'u1', job: 'j1', dataset: 'd1', resource: 'f1', once: true },
    { purpose: 'metrics.write', user: 'u1', job: 'j1', epoch: 3 },
    { purpose: 'artifacts.write', user: 'u1', job: 'j1' },
  ]) {
    const { token, claims } = t.issue(request);
    const payload = JSON.parse(Buffer.from(token.split('.')[2], 'base64url').toString('utf8'));
    assert.deepEqual({ ...claims }, payload);
    assert.deepEqual({ ...t.verify(token, { purpose: request.purpose }) }, payload);
    // `index.js` reads the claims back from a flat record: the same object, keys in the same
    // order, as napi builds from the declared type (the native methods).
    const expect = { purpose: request.purpose, job: 'j1', user: 'u1' };
    const bearer = `Bearer ${token}`;
    assert.deepStrictEqual(t.verify(token, expect), t.verify[NATIVE].call(t, token, expect));
    assert.deepStrictEqual(
      t.verifyAuthorization(bearer, expect),
      t.verifyAuthorization[NATIVE].call(t, bearer, expect),
    );
  }
});

test('tokens of every length round trip, across the 512-byte buffer the binding reads them into', () => {
  const t = make();
  const lengths = [];
  for (let n = 1; n <= 128; n++) {
    const user = 'u'.repeat(n);
    const { token } = t.issue({ purpose: 'dataset.read', user, job: 'j1', dataset: 'd'.repeat(60) });
    lengths.push(token.length);
    const expect = { purpose: 'dataset.read', user, dataset: 'd'.repeat(60) };
    assert.equal(t.verify(token, expect).sub, user);
    assert.equal(t.verifyAuthorization(`Bearer ${token}`, expect).sub, user);
    assert.throws(() => t.verify(`${token}é`, expect), { code: 'TOKEN_MALFORMED' });
  }
  // Every length from well inside the buffer to past its end.
  assert.ok(Math.min(...lengths) < 480 && Math.max(...lengths) > 540, String(lengths));
  for (let len = 500; len <= 515; len++) assert.ok(lengths.includes(len) || lengths.includes(len + 1), `near ${len}`);
});

test('a frozen instance still verifies', () => {
  const t = Object.freeze(make());
  const token = datasetToken(t);
  for (let i = 0; i < 2; i++) assert.equal(t.verify(token, { purpose: 'dataset.read' }).sub, 'u1');
});

test('worker threads verify beside the main thread, and after earlier workers ended', async () => {
  const index = require.resolve('../index.js');
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { Tokens } = require(workerData.index);
    const t = new Tokens({ keys: workerData.keys, audience: 'https://w.example', now: workerData.now });
    const subs = [];
    for (let i = 0; i < 200; i++) {
      const user = 'w' + workerData.n + '-' + i;
      const { token } = t.issue({ purpose: 'dataset.read', user, job: 'j1', dataset: 'd1' });
      subs.push(t.verify(token, { purpose: 'dataset.read', user }).sub === user);
    }
    parentPort.postMessage(subs.every(Boolean));
  `;
  const main = make();
  const token = datasetToken(main);
  for (const round of [0, 1]) {
    const workers = [1, 2].map(
      (n) => new Worker(source, { eval: true, workerData: { index, keys: `k1:active:${SECRET}`, now: NOW, n } }),
    );
    const results = workers.map((w) => once(w, 'message'));
    const exits = workers.map((w) => once(w, 'exit'));
    for (let i = 0; i < 200; i++) assert.equal(main.verify(token, { purpose: 'dataset.read' }).sub, 'u1');
    assert.deepEqual((await Promise.all(results)).flat(), [true, true], `round ${round}`);
    assert.deepEqual((await Promise.all(exits)).flat(), [0, 0], `round ${round}`);
  }
  assert.equal(main.verify(token, { purpose: 'dataset.read' }).ds, 'd1');
});

test('expiry follows the fixed clock', () => {
  const t = make();
  const { token } = t.issue({ purpose: 'metrics.write', user: 'u1', job: 'j1', ttlSecs: 100 });
  t.setNow(NOW + 159);
  t.verify(token, { purpose: 'metrics.write' });
  t.setNow(NOW + 160);
  assert.throws(() => t.verify(token, { purpose: 'metrics.write' }), { code: 'TOKEN_EXPIRED' });
  const system = new Tokens({ keys: `k1:active:${SECRET}`, audience: 'https://app.example.com' });
  assert.throws(() => system.setNow(NOW), { code: 'INVALID_INPUT' });
});

test('the secret never shows through inspect or JSON', () => {
  const t = make();
  const shown = `${inspect(t, { showHidden: true, depth: 5 })} ${JSON.stringify(t)} ${String(t)}`;
  assert.ok(!shown.includes(SECRET), shown);
  assert.deepEqual(Object.keys(t), []);
  // The issued token is the caller's own value: showing it is fine.
  const issued = t.issue({ purpose: 'metrics.write', user: 'u1', job: 'j1' });
  assert.ok(inspect(issued).includes(issued.token));
  assert.ok(!inspect(issued).includes(SECRET));
});

const backends = [
  ['memory', () => 'memory:'],
  ['sqlite', () => `sqlite://${join(mkdtempSync(join(tmpdir(), 'trainpod-')), 'ledger.db')}`],
  ['postgres', postgresUrl],
];

for (const [backend, url] of backends) {
  test(`single use on ${backend}: ten concurrent redemptions, one winner`, async (t) => {
    const u = url();
    if (u === null) return t.skip('set TRAINPOD_TEST_DATABASE_URL to run Postgres tests');
    const store = await Store.open(u);
    assert.equal(store.backend, backend);
    const tokens = make();
    const token = datasetToken(tokens);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => tokens.verifyAndRedeem(token, { purpose: 'dataset.read' }, store)),
    );
    const codes = outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : o.reason.code)).sort();
    assert.deepEqual(codes, [...Array(9).fill('TOKEN_ALREADY_USED'), 'ok']);
    const again = datasetToken(tokens);
    assert.equal((await tokens.verifyAndRedeem(again, { purpose: 'dataset.read' }, store)).once, true);
    await assert.rejects(tokens.verifyAndRedeem(again, { purpose: 'dataset.read' }, store), (err) => {
      assert.ok(err instanceof TokenError);
      assert.equal(err.code, 'TOKEN_ALREADY_USED');
      return true;
    });
  });
}

test('hostile inputs throw coded errors and never crash the process', async () => {
  const t = make();
  const hostileIssues = [
    { ttlSecs: -1 },
    { ttlSecs: Number.NaN },
    { ttlSecs: Number.POSITIVE_INFINITY },
    { ttlSecs: 1.5 },
    { ttlSecs: 2 ** 60 },
    { epoch: 2 ** 32 },
    { jti: 'nope' },
    { dataset: 'nul\u0000byte' },
    { dataset: 'has space' },
    { purpose: 'admin.all' },
    { purpose: 42 },
    { user: null },
    { user: 'u'.repeat(1_000_000) },
    { once: 'yes' },
    { notBeforeDelaySecs: -5 },
    { resource: Symbol('r') },
  ];
  for (const extra of hostileIssues) {
    assert.throws(
      () => t.issue({ purpose: 'dataset.read', user: 'u1', job: 'j1', dataset: 'd1', ...extra }),
      (err) => err instanceof TrainpodError && ERROR_CODES.includes(err.code),
      JSON.stringify(extra),
    );
  }
  const hostileTokens = ['', 'x'.repeat(1_000_000), 'v1.'.repeat(1000), '\u0000', 'v1.k1..', '💥'.repeat(100)];
  for (const token of hostileTokens) {
    assert.throws(() => t.verify(token, { purpose: 'dataset.read' }), TokenError);
  }
  for (const bad of [undefined, null, 5, {}, [], Buffer.from('v1.k1.a.b')]) {
    assert.throws(
      () => t.verify(bad, { purpose: 'dataset.read' }),
      (err) => err instanceof TrainpodError && ERROR_CODES.includes(err.code),
    );
  }
  for (const expect of [null, {}, { purpose: 42 }, { purpose: 'dataset.read', job: 7 }, { purpose: 'x\u0000' }]) {
    assert.throws(
      () => t.verify('v1.a.b.c', expect),
      (err) => err instanceof TrainpodError && ERROR_CODES.includes(err.code),
      JSON.stringify(expect),
    );
  }
  for (const header of [5, 'Bearer', `Bearer ${'x'.repeat(1_000_000)}`, 'Basic abc', 'Bearer a\u0000b']) {
    assert.throws(
      () => t.verifyAuthorization(header, { purpose: 'dataset.read' }),
      (err) => err instanceof TrainpodError && ERROR_CODES.includes(err.code),
      String(header).slice(0, 20),
    );
  }
  const keys = `k1:active:${SECRET}`;
  const hostileOptions = [
    { keys, audience: 'https://a', now: -1 },
    { keys, audience: 'https://a', now: 2 ** 53 },
    { keys, audience: 'https://a', now: Number.NaN },
    { keys, audience: 'https://a', leewaySecs: -1 },
    { keys, audience: 'https://a\u0000' },
    { keys: `${keys}\u0000`, audience: 'https://a' },
    { keys: 'k'.repeat(1_000_000), audience: 'https://a' },
    { keys: '', audience: 'https://a' },
    { keys, audience: 42 },
  ];
  for (const options of hostileOptions) {
    assert.throws(
      () => new Tokens(options),
      (err) => err instanceof TrainpodError && ERROR_CODES.includes(err.code),
      String(JSON.stringify(options)).slice(0, 80),
    );
  }
  for (const now of [-1, Number.NaN, 2 ** 60, 'soon']) {
    assert.throws(() => t.setNow(now), { code: 'INVALID_INPUT' }, String(now));
  }
  // A getter that throws is the caller's own error: it passes through unchanged.
  const trap = new Proxy(
    {},
    {
      get: () => {
        throw new RangeError('trap');
      },
    },
  );
  assert.throws(() => t.issue(trap), RangeError);
  const store = await Store.open('memory:');
  for (const bad of [{}, null, t, 'memory:']) {
    await assert.rejects(async () => t.verifyAndRedeem(datasetToken(t), { purpose: 'dataset.read' }, bad), {
      code: 'INVALID_INPUT',
    });
  }
  await assert.rejects(t.verifyAndRedeem('x'.repeat(1_000_000), { purpose: 'dataset.read' }, store), TokenError);
});
