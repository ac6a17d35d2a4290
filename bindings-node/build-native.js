// Builds the native module when the package has none: what makes `npm install ./bindings-node`
// from a clone work (npm runs this as the package's `install` and `prepare` scripts). A package
// that already carries its `.node` file (a packed copy, or one built with `npm run build`) is
// left as it is, and so is a copy whose platform package (`trainpod-<platform>`, an optional
// dependency carrying the prebuilt module) is installed: the published `trainpod` has no install
// script at all (bindings-node/pack.js drops it), this only guards a copy packed by hand.
// Needs Rust (cargo); `TRAINPOD_BUILD_PROFILE=dev` builds without optimizations.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const addon = path.join(here, 'trainpod.linux-x64-gnu.node');

function main() {
  if (fs.existsSync(addon)) return;
  const sources = fs.existsSync(path.join(here, 'Cargo.toml'));
  if (!sources && prebuilt()) return;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail(`trainpod builds for linux-x64 only, not ${process.platform}-${process.arch}`);
  }
  if (!sources) {
    fail('this copy of the package has neither its native module nor the Rust sources to build it');
  }
  const profile = process.env.TRAINPOD_BUILD_PROFILE || 'release';
  const args = ['build', '--locked', '-p', 'trainpod-node', '--message-format', 'json-render-diagnostics'];
  args.push('--profile', profile);
  console.error(`trainpod: building the native module (cargo, ${profile} profile)...`);
  let out;
  try {
    out = execFileSync('cargo', args, { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (err) {
    fail(err.code === 'ENOENT' ? 'cargo was not found: install Rust (https://rustup.rs)' : 'cargo build failed');
  }
  fs.copyFileSync(builtLibrary(out), addon);
}

/** Whether this machine's platform package, with its prebuilt module, is installed. */
function prebuilt() {
  try {
    require.resolve(require('./native-bin.js').platformPackage());
    return true;
  } catch {
    return false;
  }
}

/** The cdylib cargo reported building (its JSON messages name every artifact). */
function builtLibrary(messages) {
  for (const line of messages.split('\n')) {
    if (!line.startsWith('{')) continue;
    const msg = JSON.parse(line);
    if (msg.reason !== 'compiler-artifact' || msg.target?.name !== 'trainpod_node') continue;
    const lib = msg.filenames.find((f) => f.endsWith('.so'));
    if (lib) return lib;
  }
  fail('cargo built no trainpod_node library');
}

function fail(message) {
  console.error(`trainpod: ${message}`);
  process.exit(1);
}

main();
