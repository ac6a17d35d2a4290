import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fstatSync, mkdirSync, mkdtempSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { AppStaging, DatasetError, httpStatus, TokenError, Tokens } from '../index.mjs';

const NOW = 1_767_225_600;
const KEYS = 'k1:active:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
const DATA = Buffer.from(Array.from({ length: 5000 }, (_, i) => `{"text":"row ${i}"}\n`).join(''));
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

function setup() {
  const base = mkdtempSync(join(tmpdir(), 'trainpod-staging-'));
  const root = join(base, 'root');
  mkdirSync(root);
  writeFileSync(join(root, 'ds-1'), DATA);
  writeFileSync(join(base, 'canary'), 'never served');
  symlinkSync(join(base, 'canary'), join(root, 'link-out'));
  const tokens = new Tokens({ keys: KEYS, audience: 'https://app.example.com', now: NOW });
  return { root, tokens, staging: new AppStaging(root, tokens) };
}

const urlOf = (staging, baseUrl = 'https://app.example.com') =>
  staging.signedDownloadUrl({ baseUrl, job: 'job-1', user: 'user-1', dataset: 'ds-1' });

test('signed URLs carry size and digest', () => {
  const { staging } = setup();
  const dl = urlOf(staging, 'https://app.example.com/api/');
  assert.equal(dl.url, 'https://app.example.com/api/datasets/ds-1');
  assert.equal(dl.urlWithToken, `${dl.url}?token=${dl.token}`);
  assert.equal(dl.size, DATA.length);
  assert.equal(dl.sha256, sha256(DATA));
  assert.equal(staging.digest('ds-1'), dl.sha256);
  assert.equal(dl.expiresAt, NOW + 900);
});

test('grants stream the whole file, a range, or nothing for 416', async () => {
  const { staging } = setup();
  const authorization = `Bearer ${urlOf(staging).token}`;
  const full = staging.authorizeDatasetDownload({ authorization, datasetId: 'ds-1' });
  assert.equal(full.status, 200);
  assert.equal(full.headers['content-length'], String(DATA.length));
  assert.equal(full.claims.job, 'job-1');
  assert.deepEqual(await buffer(full.stream()), DATA);
  const part = staging.authorizeDatasetDownload({ authorization, datasetId: 'ds-1', range: 'bytes=10-19' });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 10-19/${DATA.length}`);
  assert.deepEqual(await buffer(part.stream()), DATA.subarray(10, 20));
  const none = staging.authorizeDatasetDownload({ authorization, datasetId: 'ds-1', range: `bytes=${DATA.length}-` });
  assert.equal(none.status, 416);
  assert.equal(none.fd, null);
  assert.equal((await buffer(none.stream())).length, 0);
  const head = staging.authorizeDatasetDownload({ authorization, datasetId: 'ds-1', range: null, ifRange: null });
  head.close();
  assert.equal((await buffer(head.stream())).length, 0, 'closed grants have no body');
  // A web stream for `new Response(...)` in a Next.js route.
  const web = staging.authorizeDatasetDownload({ authorization, datasetId: 'ds-1', range: 'bytes=-5' });
  const res = new Response(web.webStream(), { status: web.status, headers: web.headers });
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), DATA.subarray(DATA.length - 5));
});

test('web bodies cross chunk boundaries, close the file when cancelled, and fail on a shortened file', async () => {
  const { root, staging } = setup();
  const big = Buffer.alloc((9 << 20) + 3);
  for (let i = 0; i + 4 <= big.length; i += 4096) big.writeUInt32LE(i, i);
  writeFileSync(join(root, 'big'), big);
  const tokens = new Tokens({ keys: KEYS, audience: 'https://app.example.com', now: NOW });
  const authorization = `Bearer ${tokens.issue({ purpose: 'dataset.read', user: 'user-1', job: 'job-1', dataset: 'big' }).token}`;
  const grant = (range) => staging.authorizeDatasetDownload({ authorization, datasetId: 'big', range });
  const body = async (g) => Buffer.from(await new Response(g.webStream()).arrayBuffer());
  assert.deepEqual(await body(grant(null)), big);
  assert.deepEqual(await body(grant('bytes=4194300-8388620')), big.subarray(4194300, 8388621));

  const cancelled = grant(null);
  const reader = cancelled.webStream().getReader();
  assert.equal((await reader.read()).value.length, 4 << 20);
  await reader.cancel();
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.throws(() => fstatSync(cancelled.fd), { code: 'EBADF' }, 'cancel closes the file');

  const shortened = grant(null);
  truncateSync(join(root, 'big'), 5 << 20);
  await assert.rejects(body(shortened), /ended \d+ bytes early/);
});

test('refusals are typed and carry their HTTP status', () => {
  const { staging, tokens } = setup();
  const bearer = (dataset) =>
    `Bearer ${tokens.issue({ purpose: 'dataset.read', user: 'user-1', job: 'job-1', dataset }).token}`;
  const cases = [
    [bearer('ds-1'), '../canary', 'TOKEN_SCOPE_MISMATCH', 403, TokenError],
    [bearer('ds-1'), '%2e%2e%2fcanary', 'TOKEN_SCOPE_MISMATCH', 403, TokenError],
    [bearer('..'), '..', 'INVALID_INPUT', 400, Error],
    [bearer('link-out'), 'link-out', 'DATASET_PATH_UNSAFE', 403, DatasetError],
    [bearer('gone'), 'gone', 'DATASET_NOT_FOUND', 404, DatasetError],
    [undefined, 'ds-1', 'TOKEN_MISSING', 401, TokenError],
    ['Bearer nope', 'ds-1', 'TOKEN_MALFORMED', 401, TokenError],
  ];
  for (const [authorization, datasetId, code, status, Class] of cases) {
    assert.throws(
      () => staging.authorizeDatasetDownload({ authorization, datasetId }),
      (err) => err instanceof Class && err.code === code && httpStatus(err.code) === status,
      datasetId,
    );
  }
  assert.throws(
    () => staging.authorizeDatasetDownload({ authorization: bearer('ds-1'), datasetId: 'ds-1', job: 'x' }),
    {
      code: 'TOKEN_SCOPE_MISMATCH',
    },
  );
  assert.throws(() => staging.authorizeDatasetDownload(null), { code: 'INVALID_INPUT' });
  assert.throws(() => staging.authorizeDatasetDownload({ datasetId: 7 }), { code: 'INVALID_INPUT' });
  assert.throws(() => new AppStaging('/nonexistent/trainpod', tokens), { code: 'INVALID_INPUT' });
  const strict = new AppStaging(staging.root, tokens, { allowQueryToken: false });
  const token = bearer('ds-1').slice(7);
  assert.throws(() => strict.authorizeDatasetDownload({ queryToken: token, datasetId: 'ds-1' }), {
    code: 'TOKEN_MISSING',
  });
  assert.equal(staging.authorizeDatasetDownload({ queryToken: token, datasetId: 'ds-1' }).status, 200);
});

test('a Node route of a few lines serves downloads over HTTP', async (t) => {
  const { staging } = setup();
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let grant;
    try {
      grant = staging.authorizeDatasetDownload({
        authorization: req.headers.authorization,
        queryToken: url.searchParams.get('token'),
        datasetId: decodeURIComponent(url.pathname.replace(/^\/datasets\//, '')),
        range: req.headers.range,
        ifRange: req.headers['if-range'],
      });
    } catch (err) {
      res.writeHead(httpStatus(err.code)).end();
      return;
    }
    res.writeHead(grant.status, grant.headers);
    grant.stream().pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;
  const dl = urlOf(staging, base);
  const get = (url, headers = {}) => fetch(url, { headers });
  const auth = { authorization: `Bearer ${dl.token}` };
  let res = await get(dl.url, auth);
  assert.equal(res.status, 200);
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), dl.sha256);
  res = await get(dl.url, { ...auth, range: 'bytes=1000-' });
  assert.equal(res.status, 206);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), DATA.subarray(1000));
  res = await get(dl.urlWithToken);
  assert.equal(sha256(Buffer.from(await res.arrayBuffer())), dl.sha256);
  assert.equal((await get(dl.url)).status, 401);
  assert.equal((await get(`${base}/datasets/..%2fcanary`, auth)).status, 403);
});
