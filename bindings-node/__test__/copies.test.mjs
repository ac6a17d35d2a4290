// Its own file, so its own process: the second copy of the package decorates the native classes
// again, with error classes of its own, which other tests' \`instanceof\` checks would then miss.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const NOW = 1_767_225_600;
const SECRET = require('../index.js').generateSecret();

test('two copies of the package in one process read their own calls', () => {
  // A bundler or test runner may load the package twice. Both copies read the native module's
  // one numbers array for this environment, each right after its own call.
  const path = require.resolve('../index.js');
  const first = require(path);
  // The first copy's own `verify`: the second decorates the same native class again.
  const firstVerify = first.Tokens.prototype.verify;
  delete require.cache[path];
  const second = require(path);
  assert.notEqual(first, second);
  assert.notEqual(second.Tokens.prototype.verify, firstVerify);
  const a = new first.Tokens({ keys: `k1:active:${SECRET}`, audience: 'https://a.example', now: NOW });
  const b = new second.Tokens({ keys: `k1:active:${SECRET}`, audience: 'https://b.example', now: NOW + 7 });
  const ta = a.issue({ purpose: 'metrics.write', user: 'ua', job: 'ja', epoch: 1 }).token;
  const tb = b.issue({ purpose: 'dataset.read', user: 'ub', job: 'jb', dataset: 'db' }).token;
  for (let i = 0; i < 3; i++) {
    const ca = firstVerify.call(a, ta, { purpose: 'metrics.write' });
    const cb = b.verify(tb, { purpose: 'dataset.read' });
    assert.deepEqual([ca.sub, ca.aud, ca.iat, ca.ep, ca.ds], ['ua', 'https://a.example', NOW, 1, undefined]);
    assert.deepEqual([cb.sub, cb.aud, cb.iat, cb.ep, cb.ds], ['ub', 'https://b.example', NOW + 7, undefined, 'db']);
  }
});
