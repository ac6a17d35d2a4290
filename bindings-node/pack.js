// Packs the npm packages a release publishes (docs/packaging.md), each from a staged copy:
//   node pack.js OUT_DIR
//     `trainpod`: the JavaScript and its declarations, with no native module and no install
//     script (the prebuilt module comes from the platform package, so installing compiles
//     nothing); its optionalDependencies name every platform package.
//   node pack.js OUT_DIR --platform linux-x64-gnu --addon FILE.node [--bin FILE]...
//     `trainpod-<platform>` (npm/<platform>/): the native module built for that platform and
//     the programs given, in bin/ (the local provider: today `trainpod-emulator`).
// Prints the path of the tarball it wrote.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const here = __dirname;

function parseArgs(argv) {
  const args = { out: argv[0], platform: null, addon: null, bins: [] };
  for (let i = 1; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) fail(`${flag} needs a value`);
    if (flag === '--platform') args.platform = value;
    else if (flag === '--addon') args.addon = value;
    else if (flag === '--bin') args.bins.push(value);
    else fail(`unknown argument ${flag}`);
  }
  if (!args.out) fail('usage: node pack.js OUT_DIR [--platform P --addon FILE.node [--bin FILE]...]');
  if (args.platform && !args.addon) fail('--platform needs --addon');
  return args;
}

/** `trainpod` as published: package.json without what builds from sources, and its files. */
function stageMain(stage) {
  const pkg = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));
  const fromSources = new Set(['*.node', 'build-native.js']);
  pkg.files = pkg.files.filter((f) => !fromSources.has(f));
  delete pkg.scripts;
  delete pkg.devDependencies;
  // Every platform package at this version, added here as napi-rs's prepublish adds them: in
  // the repository they would be unresolvable (unpublished) entries that `npm ci` refuses.
  pkg.optionalDependencies = {};
  for (const platform of fs.readdirSync(path.join(here, 'npm')).sort()) {
    const manifest = JSON.parse(fs.readFileSync(path.join(here, 'npm', platform, 'package.json'), 'utf8'));
    pkg.optionalDependencies[manifest.name] = pkg.version;
  }
  for (const file of [...pkg.files, 'README.md']) {
    if (file.includes('*')) fail(`package.json files: ${file} is a glob; list the files`);
    fs.copyFileSync(path.join(here, file), path.join(stage, file));
  }
  fs.chmodSync(path.join(stage, pkg.bin.trainpod), 0o755);
  return pkg;
}

/** `trainpod-<platform>`: npm/<platform>/package.json, the module under its napi-rs name, bin/. */
function stagePlatform(stage, { platform, addon, bins }) {
  const dir = path.join(here, 'npm', platform);
  if (!fs.existsSync(path.join(dir, 'package.json'))) fail(`no npm/${platform}/package.json`);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  fs.copyFileSync(path.join(dir, 'README.md'), path.join(stage, 'README.md'));
  fs.copyFileSync(addon, path.join(stage, pkg.main));
  fs.mkdirSync(path.join(stage, 'bin'));
  for (const bin of bins) {
    const target = path.join(stage, 'bin', path.basename(bin));
    fs.copyFileSync(bin, target);
    fs.chmodSync(target, 0o755);
  }
  return pkg;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'trainpod-pack-'));
  try {
    const pkg = args.platform ? stagePlatform(stage, args) : stageMain(stage);
    fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    fs.mkdirSync(args.out, { recursive: true });
    const out = path.resolve(args.out);
    const json = execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: stage, encoding: 'utf8' });
    console.log(path.join(out, JSON.parse(json)[0].filename));
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

function fail(message) {
  console.error(`pack.js: ${message}`);
  process.exit(2);
}

main();
