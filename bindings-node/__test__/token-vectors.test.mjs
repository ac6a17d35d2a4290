// The shared token vectors (tests/fixtures/token-vectors.json), which Rust and Python also run:
// the same tokens, claims and error codes from every language.
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

/** JSON `null` means "not given", which is `undefined` in JavaScript. */
const given = (value) => value ?? undefined;

function expectOf(e) {
  return { purpose: e.purpose, job: given(e.job), dataset: given(e.dataset), user: given(e.user) };
}

test('the fixture has vectors of every kind', () => {
  for (const kind of ['issue', 'verify', 'redeem']) assert.ok(vectors[kind].length > 0, kind);
  assert.ok(vectors.verify.some((c) => c.error));
});

test('issue vectors', async (t) => {
  for (const c of vectors.issue) {
    await t.test(c.name, () => {
      const r = c.request;
      const issue = () =>
        tokens(c.now).issue({
          purpose: r.purpose,
          user: r.user,
          job: r.job,
          dataset: given(r.dataset),
          resource: given(r.resource),
          ttlSecs: given(r.ttl_secs),
          notBeforeDelaySecs: given(r.not_before_delay_secs),
          once: given(r.once),
          epoch: given(r.epoch),
          jti: given(r.jti),
        });
      if (c.error) {
        assert.throws(issue, (err) => err instanceof TrainpodError && err.code === c.error);
      } else {
        const issued = issue();
        assert.equal(issued.token, c.token);
        assert.deepEqual({ ...issued.claims }, c.claims);
      }
    });
  }
});

test('verify vectors', async (t) => {
  for (const c of vectors.verify) {
    await t.test(c.name, () => {
      const verify = () => tokens(c.now).verify(c.token, expectOf(c.expect));
      if (c.error) {
        assert.throws(verify, (err) => err instanceof TokenError && err.code === c.error);
      } else {
        assert.deepEqual({ ...verify() }, c.claims);
      }
    });
  }
});

test('redeem vectors, each against a fresh memory store', async (t) => {
  for (const c of vectors.redeem) {
    await t.test(c.name, async () => {
      const store = await Store.open('memory:');
      const verifier = tokens(c.now);
      const results = [];
      for (let i = 0; i < c.attempts; i++) {
        try {
          await verifier.verifyAndRedeem(c.token, expectOf(c.expect), store);
          results.push('ok');
        } catch (err) {
          assert.ok(err instanceof TrainpodError, String(err));
          results.push(err.code);
        }
      }
      assert.deepEqual(results, c.results);
    });
  }
});
