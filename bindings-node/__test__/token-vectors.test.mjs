import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store, TokenError, Tokens, TrainpodError } from '../index.mjs';
import { fixture } from './helpers.mjs';

const vectors = fixture('token-vectors.json');
const config = vectors.config;

function tokens(now) {
  return new Tokens({
    keys: config.keys,
    audience: config.audience,
    issuer: config.issuer,
    leewaySecs: config.leeway_secs,
    now,
  });
}

function expectOf(e) {
  return { purpose: e.purpose, job: e.job ?? undefined, dataset: e.dataset ?? undefined, user: e.user ?? undefined };
}

test('issue vectors', () => {
  for (const c of vectors.issue) {
    const r = c.request;
    const issue = () =>
      tokens(c.now).issue({
        purpose: r.purpose,
        user: r.user,
        job: r.job,
        dataset: r.dataset ?? undefined,
        resource: r.resource ?? undefined,
        ttlSecs: r.ttl_secs ?? undefined,
        notBeforeDelaySecs: r.not_before_delay_secs,
        once: r.once,
        epoch: r.epoch ?? undefined,
        jti: r.jti ?? undefined,
      });
    if (c.error) {
      assert.throws(issue, (err) => err instanceof TrainpodError && err.code === c.error, c.name);
    } else {
      const issued = issue();
      assert.equal(issued.token, c.token, c.name);
      assert.deepEqual({ ...issued.claims }, c.claims, c.name);
    }
  }
});

test('verify vectors', () => {
  let refused = 0;
  for (const c of vectors.verify) {
    const verify = () => tokens(c.now).verify(c.token, expectOf(c.expect));
    if (c.error) {
      assert.throws(verify, (err) => err instanceof TokenError && err.code === c.error, c.name);
      refused += 1;
    } else {
      assert.deepEqual({ ...verify() }, c.claims, c.name);
    }
  }
  assert.ok(refused >= 30);
});

test('redeem vectors', async () => {
  for (const c of vectors.redeem) {
    const store = await Store.open('memory:');
    const t = tokens(c.now);
    const results = [];
    for (let i = 0; i < c.attempts; i++) {
      try {
        await t.verifyAndRedeem(c.token, expectOf(c.expect), store);
        results.push('ok');
      } catch (err) {
        results.push(err.code);
      }
    }
    assert.deepEqual(results, c.results, c.name);
  }
});
