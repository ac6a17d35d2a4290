// Test helpers: the in-tree RunPod v2 emulator, started and stopped from Node.
//   const emu = await startEmulator();   // emu.baseUrl, emu.accountKey
//   await emu.stop();
// The binary is found through `binary`, then $TRAINPOD_EMULATOR, then PATH
// (build it with `cargo build -p trainpod-emulator`).

const { spawn } = require('node:child_process');
const { once } = require('node:events');
const { createInterface } = require('node:readline');
const { InvalidInputError } = require('./index.js');

const ACCOUNT_KEY = 'rpa_emulator_account_key';

async function startEmulator({ binary } = {}) {
  const command = binary ?? process.env.TRAINPOD_EMULATOR ?? 'trainpod-emulator';
  const child = spawn(command, [], { stdio: ['pipe', 'pipe', 'inherit'] });
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
  return {
    baseUrl: line,
    accountKey: ACCOUNT_KEY,
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
