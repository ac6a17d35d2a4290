import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { version } from '../index.mjs';
import { repo } from './helpers.mjs';

test('package, crate and native module share one version', () => {
  const pkg = JSON.parse(readFileSync(join(repo, 'bindings-node', 'package.json'), 'utf8'));
  const cargo = readFileSync(join(repo, 'Cargo.toml'), 'utf8');
  const workspace = cargo.match(/\[workspace\.package\][^[]*?version = "([^"]+)"/);
  assert.ok(workspace);
  assert.equal(pkg.version, workspace[1]);
  assert.equal(version(), pkg.version);
});
