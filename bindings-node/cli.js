#!/usr/bin/env node
// The `trainpod` command: runs the `trainpod` command-line binary this machine's platform package
// carries (`trainpod-<platform>/bin/trainpod`) with the same arguments, and exits as it does.
const { spawnSync } = require('node:child_process');
const { packaged, platformPackage } = require('./native-bin.js');

const cli = packaged('trainpod');
if (!cli) {
  console.error(
    `trainpod: no \`trainpod\` command-line binary here: the package ${platformPackage()} is not ` +
      'installed or carries none (a copy built from a clone has none; build it with ' +
      '`cargo build -p trainpod-cli`)',
  );
  process.exit(1);
}
const run = spawnSync(cli, process.argv.slice(2), { stdio: 'inherit' });
if (run.error) {
  console.error(`trainpod: could not run ${cli}: ${run.error.message}`);
  process.exit(1);
}
// Ended by a signal: end this process by the same one, as a shell would report it.
if (run.signal) process.kill(process.pid, run.signal);
process.exit(run.status ?? 1);
