import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { ERROR_CODES, generateSecret, Store, TokenError, Tokens, TrainpodError } from '../index.mjs';
import { postgresUrl } from './helpers.mjs';

const NOW = 1_767_225_600;
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
  assert.throws(() => t.verify('v1.a.b.c', null), TrainpodError);
  assert.throws(() => new Tokens({ keys: `k1:active:${SECRET}`, audience: 'https://a', now: -1 }), {
    code: 'INVALID_INPUT',
  });
  await assert.rejects(async () => t.verifyAndRedeem('x', { purpose: 'dataset.read' }, {}), TrainpodError);
});
