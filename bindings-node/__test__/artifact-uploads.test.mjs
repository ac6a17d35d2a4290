// Two artifact uploads of one job at once, whose names differ only in extension: each is kept
// whole, checked on disk, and no temporary file is left behind.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateSecret, Trainpod } from '../index.mjs';
import { startEmulator } from '../testing.js';

const CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}';
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

test('two uploads whose names differ only in extension are kept whole', async (t) => {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const dir = mkdtempSync(join(tmpdir(), 'trainpod-arts-'));
  mkdirSync(join(dir, 'datasets'));
  writeFileSync(join(dir, 'datasets', 'chat'), `${Array(50).fill(CHAT).join('\n')}\n`);
  const tp = await Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: emu.baseUrl, apiKey: emu.accountKey },
    appUrl: 'http://127.0.0.1:9',
    signingKeys: `k1:active:${generateSecret()}`,
    store: 'memory:',
    datasetsDir: join(dir, 'datasets'),
    artifactsDir: join(dir, 'artifacts'),
    now: 1_900_000_000,
  });
  const id = 'arts-ext';
  await tp.deploy(
    await tp.plan({
      jobId: id,
      user: 'user-1',
      model: 'Qwen/Qwen2.5-0.5B',
      dataset: { kind: 'app', id: 'chat' },
      budgetUsd: 2,
    }),
  );
  const bin = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
  const json = Buffer.from('{"r": 16}'.repeat(5000));
  const files = [
    { path: 'adapter.bin', body: bin },
    { path: 'adapter.json', body: json },
  ];
  const { token } = tp.tokens().issue({ purpose: 'artifacts.write', user: 'user-1', job: id, epoch: 1, ttlSecs: 600 });
  const auth = `Bearer ${token}`;
  const manifest = (complete) =>
    Buffer.from(
      JSON.stringify({
        job: id,
        attempt: 1,
        complete,
        files: files.map((f) => ({ path: f.path, size: f.body.length, sha256: sha256(f.body) })),
      }),
    );
  assert.equal((await tp.artifactManifest(id, auth, manifest(false))).status, 200);
  // Both uploads are open at once and their chunks arrive in turns.
  const a = await tp.beginArtifact(id, auth, 'adapter.bin');
  const b = await tp.beginArtifact(id, auth, 'adapter.json');
  for (let at = 0; at < Math.max(bin.length, json.length); at += 4096) {
    if (at < bin.length) await a.write(bin.subarray(at, at + 4096));
    if (at < json.length) await b.write(json.subarray(at, at + 4096));
  }
  await b.finish();
  await a.finish();
  assert.deepEqual(JSON.parse((await tp.artifactManifest(id, auth, manifest(true))).body), { complete: true });
  const out = join(dir, 'out');
  await tp.downloadArtifacts(id, out);
  assert.deepEqual(readFileSync(join(out, 'adapter.bin')), bin);
  assert.deepEqual(readFileSync(join(out, 'adapter.json')), json);
  const left = readdirSync(join(dir, 'artifacts'), { recursive: true }).filter((p) => String(p).includes('part'));
  assert.deepEqual(left, []);
});

test('a checkpoint sent by one attempt is served to the next', async (t) => {
  const emu = await startEmulator();
  t.after(() => emu.stop());
  const dir = mkdtempSync(join(tmpdir(), 'trainpod-ckpt-'));
  mkdirSync(join(dir, 'datasets'));
  writeFileSync(join(dir, 'datasets', 'chat'), `${Array(50).fill(CHAT).join('\n')}\n`);
  const tp = await Trainpod.create({
    ignoreEnv: true,
    localProvider: { baseUrl: emu.baseUrl, apiKey: emu.accountKey },
    appUrl: 'http://127.0.0.1:9',
    signingKeys: `k1:active:${generateSecret()}`,
    store: 'memory:',
    datasetsDir: join(dir, 'datasets'),
    artifactsDir: join(dir, 'artifacts'),
    now: 1_900_000_000,
  });
  const id = 'ckpt-node';
  const spec = {
    jobId: id,
    user: 'user-1',
    model: 'Qwen/Qwen2.5-0.5B',
    dataset: { kind: 'app', id: 'chat' },
    budgetUsd: 2,
  };
  const plan = await tp.plan(spec);
  assert.equal(plan.training.checkpoints, 'app');
  await tp.deploy(plan);
  const body = Buffer.from('optimizer state'.repeat(100));
  const files = [{ path: 'optimizer.pt', size: body.length, sha256: sha256(body) }];
  const auth = (epoch) =>
    `Bearer ${tp.tokens().issue({ purpose: 'artifacts.write', user: 'user-1', job: id, epoch, ttlSecs: 600 }).token}`;
  const manifest = (complete) => Buffer.from(JSON.stringify({ job: id, attempt: 1, files, checkpoint: 10, complete }));
  const uploads = JSON.parse((await tp.artifactManifest(id, auth(1), manifest(false))).body).uploads;
  assert.deepEqual(
    uploads.map((u) => u.url.split('/files/')[1]),
    ['checkpoints/1/10/optimizer.pt'],
  );
  await tp.putArtifact(id, auth(1), 'checkpoints/1/10/optimizer.pt', body);
  assert.deepEqual(JSON.parse((await tp.artifactManifest(id, auth(1), manifest(true))).body), { complete: true });
  await assert.rejects(tp.checkpointFile(id, auth(1), 'checkpoints/1/10/optimizer.pt'), { code: 'NOT_FOUND' });
  await tp.cancel(id);
  await tp.retry(id);
  const found = await tp.checkpointFile(id, auth(2), 'checkpoints/1/10/optimizer.pt');
  assert.deepEqual(readFileSync(found.path), body);
  assert.equal(found.size, body.length);
});
