// Test helpers: the in-tree RunPod v2 emulator, started, controlled and stopped from Node.
//   const emu = await startEmulator();   // emu.baseUrl, emu.accountKey; { realTime: true } too
//   await emu.faults({ noCapacity: ['NVIDIA A40'], rateLimits: [2] });
//   await emu.faults({ profile: 'pull-backoff' });   // RunPod's own failures, by name or one by one
//   await emu.advance(5); await emu.pushLog(podId, 'epoch 1'); await emu.requests();
//   await emu.vanish(podId, 'host'); await emu.pod(podId); await emu.runpodctlCalls();
//   await emu.addAccount('alice', 'rpa_alice', 'read_only'); await emu.revokeKey('rpa_alice');
//   await emu.stop();
// `args` go to the binary: { args: ['--run-pods'] } makes it the local provider, running each
// pod it creates as a local process group (with `runpodctl` on its PATH); { args: ['--account',
// 'alice:rpa_alice'] } adds an account with its key (`ID:KEY[:PERMISSION]`, repeatable).
// The binary is found through `binary`, then $TRAINPOD_EMULATOR, then the local provider the
// platform package carries (`trainpod-<platform>/bin/`, native-bin.js), then PATH (from a clone,
// build it with `cargo build -p trainpod-emulator`).

const { spawn } = require('node:child_process');
const { once } = require('node:events');
const { createInterface } = require('node:readline');
const { InvalidInputError } = require('./index.js');
const { localProvider } = require('./native-bin.js');

const ACCOUNT_KEY = 'rpa_emulator_account_key';

async function startEmulator({ binary, realTime = false, args = [] } = {}) {
  const chosen = binary ?? process.env.TRAINPOD_EMULATOR;
  const given = [...(realTime ? ['--real-time'] : []), ...args];
  const [command, ...argv] = chosen ? [chosen, ...given] : (localProvider(given) ?? ['trainpod-emulator', ...given]);
  const child = spawn(command, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  const failed = once(child, 'error').then(([err]) => {
    throw new InvalidInputError(
      `the trainpod-emulator binary could not be started (${err.code}); build it with ` +
        '`cargo build -p trainpod-emulator` and set TRAINPOD_EMULATOR to its path',
      { code: 'INVALID_INPUT', cause: err },
    );
  });
  const lines = createInterface({ input: child.stdout });
  const [line] = await Promise.race([once(lines, 'line'), failed]);
  lines.close();
  if (!line.startsWith('http://127.0.0.1:')) {
    child.kill();
    throw new InvalidInputError(`the emulator did not start (it printed ${JSON.stringify(line)})`, {
      code: 'INVALID_INPUT',
    });
  }
  const exited = once(child, 'exit');
  const root = line.replace(/\/v2$/, '');
  // The emulator's test-control endpoints, /_emulator/<path> (not part of RunPod's API).
  async function control(method, path, body) {
    const res = await fetch(`${root}/_emulator/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) {
      throw new InvalidInputError(`the emulator refused ${path}: ${json.error}`, { code: 'INVALID_INPUT' });
    }
    return json;
  }
  return {
    baseUrl: line,
    accountKey: ACCOUNT_KEY,
    /**
     * Inject faults into the next requests (the keys are documented in testing.d.ts,
     * EmulatorFaults): `reset` clears first, then `profile` applies, then the other keys; lists
     * add to what is set, other values replace it, `null` clears.
     */
    async faults(faults) {
      await control('POST', 'faults', faults);
    },
    /** Make a pod vanish now ('console', 'host' or 'balance'); resolves to its record. */
    async vanish(podId, cause = 'console') {
      return control('POST', `pods/${encodeURIComponent(podId)}/vanish`, { cause });
    },
    /** What the emulator knows of a pod, gone ones included. */
    async pod(podId) {
      return control('GET', `pods/${encodeURIComponent(podId)}`);
    },
    /** Add a key to an account, creating it; `permission` 'all' (default), 'read_only' or 'none'. */
    async addAccount(account, key, permission = 'all') {
      return control('POST', 'accounts', { account, key, permission });
    },
    /** Revoke an account's or a pod's key: RunPod answers it 401 from then on. */
    async revokeKey(key) {
      return control('DELETE', `keys/${encodeURIComponent(key)}`);
    },
    /** Every call of a pod's runpodctl so far (local provider). */
    async runpodctlCalls() {
      return (await control('GET', 'runpodctl')).calls;
    },
    /** Move the clock forward; resolves to the emulator's time (seconds since the epoch). */
    async advance(secs) {
      return (await control('POST', 'advance', { secs })).now;
    },
    /** Append a line to a pod's log ('container' or 'system'). */
    async pushLog(podId, line, source = 'container') {
      await control('POST', `pods/${encodeURIComponent(podId)}/logs`, { line, source });
    },
    /** Every RunPod request received so far: { method, uri, status }. */
    async requests() {
      return (await control('GET', 'requests')).requests;
    },
    /** Stop it: closing its stdin ends it; it is killed if it lingers. */
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

module.exports = { ACCOUNT_KEY, startEmulator };
