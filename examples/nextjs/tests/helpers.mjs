// What the tests share: the running app and local provider (started by test.sh), and calls to them.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const APP = process.env.APP_URL;
export const EMULATOR = process.env.EMULATOR_URL;
if (!APP || !EMULATOR) throw new Error('run these tests through examples/nextjs/test.sh');

let demo = null;
/** The demo user's session cookie, from the app's own sign-in route (once). */
export function demoSession() {
  demo ??= fetch(`${APP}/api/session`, { method: 'POST' }).then((res) => {
    assert.equal(res.status, 200);
    return res.headers.get('set-cookie').split(';')[0];
  });
  return demo;
}

/** A session cookie for `user` signed with `secret`, as lib/user.ts signs them. */
export const sessionFor = (user, secret = process.env.SESSION_SECRET) =>
  `trainpod_session=${encodeURIComponent(user)}.${createHmac('sha256', secret).update(`session:${user}`).digest('base64url')}`;

/**
 * The app's route `path`: `{status, body}` with the body parsed when it is JSON. Requests carry the
 * demo user's session cookie unless `session` is given (a cookie, or null for none).
 */
export async function api(path, { method = 'GET', body, headers = {}, session } = {}) {
  const cookie = session === undefined ? await demoSession() : session;
  if (cookie) headers = { cookie, ...headers };
  const res = await fetch(`${APP}${path}`, {
    method,
    headers:
      body === undefined || body instanceof Uint8Array ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const json = res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : undefined;
  return { status: res.status, headers: res.headers, text, body: json };
}

/** The spec the page starts with (TRAINPOD_EXAMPLE_SPEC): the tiny model on the local provider. */
export function tinySpec() {
  const { extra, ...fields } = JSON.parse(process.env.TRAINPOD_EXAMPLE_SPEC);
  return { ...fields, ...extra };
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);

/** Poll the job's status route until the job has ended; every status seen, in order. */
export async function untilEnded(jobId, timeoutMs = 150_000) {
  const seen = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { status, body } = await api(`/api/training/jobs/${jobId}`);
    assert.equal(status, 200);
    seen.push(body);
    if (FINAL.has(body.state)) return seen;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail(`job ${jobId} did not end within ${timeoutMs / 1000} s: ${JSON.stringify(seen.at(-1))}`);
}

/** Whether the local provider has the pod (a terminated pod is gone from its API). */
export async function podExists(podId) {
  const res = await fetch(`${EMULATOR}/pods/${podId}`, {
    headers: { authorization: `Bearer ${process.env.EMULATOR_KEY}` },
  });
  await res.body?.cancel();
  return res.status !== 404;
}

/** What the emulator knows of a pod, whichever account it is on: `account`, `status`, ... */
export async function emulatorPod(podId) {
  const res = await fetch(`${EMULATOR.replace(/\/v2$/, '')}/_emulator/pods/${podId}`);
  assert.equal(res.status, 200, `the emulator has no pod ${podId}`);
  return res.json();
}

/** The lines the app logged for requests from pods (`trainpod: METHOD PATH STATUS`). */
export function podRequests() {
  return readFileSync(process.env.NEXT_LOG, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('trainpod: '))
    .map((l) => l.slice('trainpod: '.length));
}
