// Starts the local provider the platform package carries (through `trainpod/testing`; the caller
// leaves $TRAINPOD_EMULATOR unset and no emulator on PATH, so only the packaged one can start),
// then `next start` with its URL, calls the route once and checks the plan it answers. Prints one
// JSON line: the answer and the call's time.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { startEmulator } = require('trainpod/testing');

// Thrown, so that `finally` stops next and the emulator; an uncaught throw exits with 1.
function fail(message) {
  throw new Error(`nextjs app: ${message}`);
}

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

if (process.env.TRAINPOD_EMULATOR) fail('TRAINPOD_EMULATOR is set: the packaged local provider would not be the one tested');
const emu = await startEmulator();
const port = await freePort();
const next = spawn(process.execPath, ['node_modules/next/dist/bin/next', 'start', '-H', '127.0.0.1', '-p', String(port)], {
  env: { ...process.env, TRAINPOD_LOCAL_PROVIDER: emu.baseUrl, TRAINPOD_LOCAL_PROVIDER_KEY: emu.accountKey },
  // Its output to stderr: stdout carries this script's one JSON line.
  stdio: ['ignore', 2, 2],
});
try {
  const root = `http://127.0.0.1:${port}`;
  let up = false;
  for (let i = 0; i < 300 && !up; i++) {
    up = await fetch(root).then(
      () => true,
      () => new Promise((r) => setTimeout(() => r(false), 100)),
    );
  }
  if (!up) fail('next start did not answer');
  const started = performance.now();
  const res = await fetch(`${root}/api/plan`);
  const body = await res.json();
  const ms = Math.round(performance.now() - started);
  if (res.status !== 200) fail(`the route answered ${res.status}: ${JSON.stringify(body)}`);
  if (!(body.usdLow > 0 && body.usdLow <= body.usdHigh)) fail(`the plan's estimate is not a range: ${JSON.stringify(body)}`);
  const asked = (await emu.requests()).filter((r) => r.uri.startsWith('/v2/'));
  if (asked.length === 0) fail('the route asked the local provider nothing');
  console.log(JSON.stringify({ plan: body, routeMs: ms }));
} finally {
  next.kill();
  await emu.stop();
}
