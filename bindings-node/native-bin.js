// The native programs a platform package (`trainpod-<platform>`, an optional dependency of
// `trainpod`) carries in its `bin/`: the local provider (for now the `trainpod-emulator` binary;
// the `trainpod` command line's `trainpod local` once the package carries it). A copy built from
// a clone has no platform package; the lookups then answer null and the callers fall back to
// $TRAINPOD_EMULATOR and PATH. docs/packaging.md lists what each package holds.
const fs = require('node:fs');
const path = require('node:path');

/** napi-rs's name of this machine's platform package (its npm/<platform>/ directory). */
function platformPackage() {
  const abi = process.platform === 'linux' ? '-gnu' : '';
  return `trainpod-${process.platform}-${process.arch}${abi}`;
}

/** The path of the program `name` this machine's platform package carries, or null. */
function packaged(name) {
  let dir;
  try {
    dir = path.dirname(require.resolve(`${platformPackage()}/package.json`));
  } catch {
    return null;
  }
  const file = path.join(dir, 'bin', name);
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return file;
  } catch {
    return null;
  }
}

/**
 * The command that starts the packaged local provider, before its own arguments: the emulator
 * binary itself, or `trainpod local` when the package carries the command line instead (both
 * take the same arguments). Null when no platform package carries one.
 */
// The command that starts the packaged emulator with the emulator's `args`: the emulator itself,
// or `trainpod local`, which runs pods unless told not to (it is the local provider at a
// terminal), where the emulator runs them only with --run-pods.
function localProvider(args) {
  const emulator = packaged('trainpod-emulator');
  if (emulator) return [emulator, ...args];
  const cli = packaged('trainpod');
  if (!cli) return null;
  return [cli, 'local', ...(args.includes('--run-pods') ? [] : ['--no-pods']), ...args];
}

module.exports = { localProvider, packaged, platformPackage };
