// `plan` checks the job's model before anything is spent: a model the Hugging Face Hub does not
// have is refused before any pod exists, a gated one needs a token (`HF_TOKEN` in `podEnv`) that
// was granted access, and a Hub that cannot be asked gives a warning, not a refusal. The Hub is
// a stand-in on loopback answering as the Hub's model API does.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateSecret, InvalidInputError, Trainpod } from '../index.mjs';
import { startEmulator } from '../testing.js';

const CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}';
const PUBLIC = 'Qwen/Qwen2.5-0.5B';
const GATED = 'meta-llama/Llama-3.2-1B';
const GRANTED = 'hf_granted_read_token';

/** `GET /api/models/{id}` and `/api/models/{id}/auth-check` with the Hub's status codes: an
 * anonymous request for a missing repository gets 401, as for a private one; a gated
 * repository's metadata is public, and `auth-check` says whether the token was granted. */
async function startHub(t) {
  const seen = [];
  const server = createServer((req, res) => {
    const auth = req.headers.authorization ?? null;
    seen.push([req.url, auth]);
    const answer = (status, body, code) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(code ? { 'x-error-code': code } : {}) });
      res.end(JSON.stringify(body));
    };
    const path = req.url.replace(/^\/api\/models\//, '');
    const check = path.endsWith('/auth-check');
    const repo = path.replace(/\/auth-check$/, '');
    if (repo !== PUBLIC && repo !== GATED) {
      return answer(auth ? 404 : 401, { error: 'Repository not found' }, 'RepoNotFound');
    }
    if (check) {
      if (repo === GATED && auth !== `Bearer ${GRANTED}`) {
        return answer(auth ? 403 : 401, { error: 'restricted' }, 'GatedRepo');
      }
      return answer(200, {});
    }
    const siblings = [{ rfilename: 'config.json' }, { rfilename: 'model.safetensors' }];
    return answer(200, { id: repo, private: false, gated: repo === GATED ? 'manual' : false, siblings });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  // The SDK keeps its connections alive: close them too, or the process waits them out.
  t.after(() => {
    server.close();
    server.closeAllConnections();
  });
  return { url: `http://127.0.0.1:${server.address().port}`, seen };
}

/** A loopback URL nothing listens on: connections to it are refused. */
async function closedUrl() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return `http://127.0.0.1:${port}`;
}

async function setup(t) {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const dir = mkdtempSync(join(tmpdir(), 'trainpod-model-check-'));
  const datasetsDir = join(dir, 'datasets');
  mkdirSync(datasetsDir);
  writeFileSync(join(datasetsDir, 'chat'), `${Array(20).fill(CHAT).join('\n')}\n`);
  const sdk = (options) =>
    Trainpod.create({
      ignoreEnv: true,
      localProvider: { baseUrl: emu.baseUrl, apiKey: emu.accountKey },
      appUrl: 'http://127.0.0.1:9',
      signingKeys: `k1:active:${generateSecret()}`,
      store: 'memory:',
      datasetsDir,
      ...options,
    });
  return { emu, sdk };
}

const spec = (jobId, model) => ({ jobId, user: 'user-1', model, dataset: { kind: 'app', id: 'chat' }, budgetUsd: 2 });
const modelWarnings = (plan) => plan.warnings.filter((w) => w.startsWith('model '));

test('a missing model is refused before any pod exists', async (t) => {
  const { emu, sdk } = await setup(t);
  const hub = await startHub(t);
  const tp = await sdk({ hubUrl: hub.url });
  await assert.rejects(tp.plan(spec('missing-1', 'Qwen/Qwen2.5-0.5B-Typo')), (err) => {
    assert.ok(err instanceof InvalidInputError);
    assert.equal(err.code, 'INVALID_INPUT');
    assert.match(err.message, /model "Qwen\/Qwen2\.5-0\.5B-Typo"/);
    assert.match(err.message, /no such model on the Hugging Face Hub/);
    assert.match(err.message, /e\.g\. Qwen\/Qwen2\.5-0\.5B/);
    return true;
  });
  // Nothing reached RunPod: no pod, not even the plan's RunPod calls.
  assert.deepEqual(await emu.requests(), []);
  // A model the Hub has plans without a warning, asked anonymously (no token configured).
  assert.deepEqual(modelWarnings(await tp.plan(spec('exists-1', PUBLIC))), []);
  assert.deepEqual(hub.seen.at(-1), [`/api/models/${PUBLIC}`, null]);
});

test('an unreachable Hub gives a warning, not a refusal', async (t) => {
  const { sdk } = await setup(t);
  const tp = await sdk({ hubUrl: await closedUrl() });
  const warnings = modelWarnings(await tp.plan(spec('unreachable-1', PUBLIC)));
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.match(warnings[0], /was not checked/);
  assert.match(warnings[0], /could not be reached/);
});

test('a gated model needs a token in podEnv that was granted access', async (t) => {
  const { sdk } = await setup(t);
  const hub = await startHub(t);
  const anonymous = await sdk({ hubUrl: hub.url });
  await assert.rejects(anonymous.plan(spec('gated-1', GATED)), (err) => {
    assert.equal(err.code, 'INVALID_INPUT');
    assert.match(err.message, /gated/);
    assert.ok(err.message.includes(`${hub.url}/${GATED}`), 'links the model terms');
    return true;
  });
  const granted = await sdk({ hubUrl: hub.url, podEnv: { HF_TOKEN: GRANTED } });
  assert.deepEqual(modelWarnings(await granted.plan(spec('gated-2', GATED))), []);
  assert.ok(hub.seen.some(([url, auth]) => url === `/api/models/${GATED}/auth-check` && auth === `Bearer ${GRANTED}`));
});

test('hubUrl is checked when the SDK is built', async (t) => {
  const { sdk } = await setup(t);
  await assert.rejects(sdk({ hubUrl: 'http://hub.example.com' }), (err) => {
    assert.equal(err.code, 'INVALID_INPUT');
    assert.match(err.message, /hub_url/);
    return true;
  });
});
