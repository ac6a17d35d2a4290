// The programs a platform package (`trainpod-<platform>`) carries in bin/: `startEmulator` starts
// the packaged local provider when neither `binary` nor $TRAINPOD_EMULATOR names one, as the
// emulator itself or as `trainpod local`; the `trainpod` bin (cli.js) runs the packaged command
// line. Each case runs in a child process whose NODE_PATH holds a platform package made here.
// scripts/packages.sh checks the same from the real tarballs in a fresh Next.js app.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repo } from './helpers.mjs';

const here = join(repo, 'bindings-node');
const emulator = process.env.TRAINPOD_EMULATOR;
assert.ok(emulator && existsSync(emulator), 'set TRAINPOD_EMULATOR to the built trainpod-emulator');
// The command line, built beside the emulator (`cargo build -p trainpod-cli`).
const commandLine = join(emulator, '..', 'trainpod');
assert.ok(existsSync(commandLine), `build the trainpod command line: ${commandLine} is missing`);
const { platformPackage } = await import('../native-bin.js');

/** A node_modules holding this machine's platform package, with `programs` in its bin/. */
function platformPackageWith(programs) {
  const modules = join(mkdtempSync(join(tmpdir(), 'trainpod-packaged-')), 'node_modules');
  const dir = join(modules, platformPackage());
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: platformPackage(), version: '0.0.0' }));
  for (const [name, text] of Object.entries(programs)) {
    writeFileSync(join(dir, 'bin', name), text);
    chmodSync(join(dir, 'bin', name), 0o755);
  }
  return { modules, marker: join(modules, 'ran') };
}

/** Starts the emulator through testing.js in a child process; what it answered, as JSON. */
function startIn(modules, extraEnv = {}) {
  const script = `
    const { startEmulator } = require(${JSON.stringify(join(here, 'testing.js'))});
    startEmulator().then(async (emu) => {
      const res = await fetch(emu.baseUrl + '/pods', { headers: { Authorization: 'Bearer ' + emu.accountKey } });
      await emu.stop();
      console.log(JSON.stringify({ status: res.status }));
    });`;
  const env = { ...process.env, NODE_PATH: modules };
  delete env.TRAINPOD_EMULATOR;
  Object.assign(env, extraEnv);
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' }));
}

test('the packaged emulator is started when nothing else names one', () => {
  // A wrapper of the real emulator that leaves a mark when it runs.
  const { modules, marker } = platformPackageWith({});
  const wrapper = `#!/bin/sh\necho emulator > "${marker}"\nexec "${emulator}" "$@"\n`;
  writeFileSync(join(modules, platformPackage(), 'bin', 'trainpod-emulator'), wrapper);
  chmodSync(join(modules, platformPackage(), 'bin', 'trainpod-emulator'), 0o755);
  assert.deepEqual(startIn(modules), { status: 200 });
  assert.equal(readFileSync(marker, 'utf8'), 'emulator\n');
});

test('the packaged command line serves as `trainpod local`', () => {
  const { modules, marker } = platformPackageWith({});
  // The real command line, leaving a mark: the plain emulator's behaviour (no pods) is asked of
  // `trainpod local` with --no-pods.
  const cli = `#!/bin/sh\n[ "$1 $2" = "local --no-pods" ] || exit 64\necho local > "${marker}"\nexec "${commandLine}" "$@"\n`;
  writeFileSync(join(modules, platformPackage(), 'bin', 'trainpod'), cli);
  chmodSync(join(modules, platformPackage(), 'bin', 'trainpod'), 0o755);
  assert.deepEqual(startIn(modules), { status: 200 });
  assert.equal(readFileSync(marker, 'utf8'), 'local\n');
});

test('$TRAINPOD_EMULATOR comes before the platform package', () => {
  const { modules, marker } = platformPackageWith({ 'trainpod-emulator': '#!/bin/sh\nexit 3\n' });
  assert.deepEqual(startIn(modules, { TRAINPOD_EMULATOR: emulator }), { status: 200 });
  assert.equal(existsSync(marker), false);
});

test('the trainpod bin runs the packaged command line with its arguments and exit code', () => {
  const { modules } = platformPackageWith({ trainpod: '#!/bin/sh\necho "cli $*"\nexit 7\n' });
  const run = spawnSync(process.execPath, [join(here, 'cli.js'), 'doctor', '--runpod'], {
    env: { ...process.env, NODE_PATH: modules },
    encoding: 'utf8',
  });
  assert.equal(run.status, 7);
  assert.equal(run.stdout, 'cli doctor --runpod\n');
});

test('the trainpod bin without a platform package says what is missing', () => {
  const { modules } = platformPackageWith({});
  const run = spawnSync(process.execPath, [join(here, 'cli.js')], {
    env: { ...process.env, NODE_PATH: modules },
    encoding: 'utf8',
  });
  assert.equal(run.status, 1);
  assert.match(run.stderr, new RegExp(`${platformPackage()} is not installed or carries none`));
});
