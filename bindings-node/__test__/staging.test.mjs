import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
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

/** How many of this process's descriptors have `path` open. */
function openCount(path) {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed while listed
    }
  }
  return n;
}

const urlOf = (staging, baseUrl = 'https://app.example.com') =>
  staging.signedDownloadUrl({ baseUrl, job: 'job-1', user: 'user-1', dataset: 'ds-1' });

test('signed URLs carry size and digest', async () => {
  const { staging } = setup();
  const dl = await urlOf(staging, 'https://app.example.com/api/');
  assert.equal(dl.url, 'https://app.example.com/api/datasets/ds-1');
  assert.equal(dl.urlWithToken, `${dl.url}?token=${dl.token}`);
  assert.equal(dl.size, DATA.length);
  assert.equal(dl.sha256, sha256(DATA));
  assert.equal(await staging.digest('ds-1'), dl.sha256);
  assert.equal(dl.expiresAt, NOW + 900);
});

test('grants stream the whole file, a range, or nothing for 416', async () => {
  const { staging } = setup();
  const authorization = `Bearer ${(await urlOf(staging)).token}`;
  const full = await staging.authorizeDatasetDownload({ authorization, datasetId: 'ds-1' });
  assert.equal(full.status, 200);
  assert.equal(full.headers['content-length'], String(DATA.length));
  assert.equal(full.claims.job, 'job-1');
  assert.deepEqual(await buffer(full.stream()), DATA);
  const part = await staging.authorizeDatasetDownload({ authorization, datasetId: 'ds-1', range: 'bytes=10-19' });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 10-19/${DATA.length}`);
  assert.deepEqual(await buffer(part.stream()), DATA.subarray(10, 20));
  const none = await staging.authorizeDatasetDownload({
    authorization,
    datasetId: 'ds-1',
    range: `bytes=${DATA.length}-`,
  });
  assert.equal(none.status, 416);
  assert.equal(await none.read(), null, 'a 416 has no body');
  assert.equal((await buffer(none.stream())).length, 0);
  const head = await staging.authorizeDatasetDownload({ authorization, datasetId: 'ds-1', range: null, ifRange: null });
  head.close();
  assert.equal((await buffer(head.stream())).length, 0, 'closed grants have no body');
  // A web stream for `new Response(...)` in a Next.js route.
  const web = await staging.authorizeDatasetDownload({ authorization, datasetId: 'ds-1', range: 'bytes=-5' });
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
  assert.deepEqual(await body(await grant(null)), big);
  assert.deepEqual(await body(await grant('bytes=4194300-8388620')), big.subarray(4194300, 8388621));
  assert.equal(openCount(join(root, 'big')), 0, 'a body sent to its end closes the file');

  const cancelled = await grant(null);
  assert.equal(openCount(join(root, 'big')), 1, 'the grant holds the file open');
  const reader = cancelled.webStream().getReader();
  assert.equal((await reader.read()).value.length, 256 << 10, 'one chunk of at most 256 KiB');
  await reader.cancel();
  assert.equal(openCount(join(root, 'big')), 0, 'cancel closes the file');
  assert.equal(await cancelled.read(), null, 'a closed grant reads nothing');

  const shortened = await grant(null);
  truncateSync(join(root, 'big'), 5 << 20);
  await assert.rejects(body(shortened), /ended \d+ bytes early/);
});

test('refusals are typed and carry their HTTP status', async () => {
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
    await assert.rejects(
      staging.authorizeDatasetDownload({ authorization, datasetId }),
      (err) => err instanceof Class && err.code === code && httpStatus(err.code) === status,
      datasetId,
    );
  }
  await assert.rejects(
    staging.authorizeDatasetDownload({ authorization: bearer('ds-1'), datasetId: 'ds-1', job: 'x' }),
    {
      code: 'TOKEN_SCOPE_MISMATCH',
    },
  );
  assert.throws(() => staging.authorizeDatasetDownload(null), { code: 'INVALID_INPUT' });
  assert.throws(() => staging.authorizeDatasetDownload({ datasetId: 7 }), { code: 'INVALID_INPUT' });
  await assert.rejects(
    staging.signedDownloadUrl({ baseUrl: 'x', job: 'j', user: 'u', dataset: 'ds-1', ttlSecs: 1.5 }),
    {
      code: 'INVALID_INPUT',
      message: /ttlSecs must be a whole number/,
    },
  );
  assert.throws(() => new AppStaging('/nonexistent/trainpod', tokens), { code: 'INVALID_INPUT' });
  const strict = new AppStaging(staging.root, tokens, { allowQueryToken: false });
  const token = bearer('ds-1').slice(7);
  await assert.rejects(strict.authorizeDatasetDownload({ queryToken: token, datasetId: 'ds-1' }), {
    code: 'TOKEN_MISSING',
  });
  assert.equal((await staging.authorizeDatasetDownload({ queryToken: token, datasetId: 'ds-1' })).status, 200);
});

test('a Node route of a few lines serves downloads over HTTP', async (t) => {
  const { staging } = setup();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    let grant;
    try {
      grant = await staging.authorizeDatasetDownload({
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
  const dl = await urlOf(staging, base);
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
