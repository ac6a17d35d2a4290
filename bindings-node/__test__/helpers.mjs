import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function fixture(name) {
  return JSON.parse(readFileSync(join(repo, 'tests', 'fixtures', name), 'utf8'));
}

/** The test Postgres URL; `null` skips, unless TRAINPOD_REQUIRE_POSTGRES=1 makes it a failure. */
export function postgresUrl() {
  const url = process.env.TRAINPOD_TEST_DATABASE_URL;
  if (url) return url;
  if (process.env.TRAINPOD_REQUIRE_POSTGRES === '1') {
    throw new Error('TRAINPOD_TEST_DATABASE_URL is not set but TRAINPOD_REQUIRE_POSTGRES=1');
  }
  return null;
}
