// Each user's RunPod key, kept by this app (trainpod never stores one: it asks `credentials` in
// lib/trainpod.ts when a job's call needs its account's key). The table `provider_secrets` maps a
// user id to the user's key, sealed with AES-256-GCM under PROVIDER_SECRETS_KEY (32 random bytes,
// base64: `openssl rand -base64 32`), the user id bound in as associated data so that a row copied
// to another user does not open. This example keeps the table in a JSON file
// (PROVIDER_SECRETS_FILE, default `provider-secrets.json`); an app with a database keeps it there,
// with the same columns.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';

/** One row: the sealed key (base64 parts) and when it was saved (Unix seconds). */
interface SealedKey {
  iv: string;
  tag: string;
  data: string;
  savedAt: number;
}

interface Table {
  provider_secrets: Record<string, { runpod?: SealedKey }>;
}

/** This app cannot open or seal keys: PROVIDER_SECRETS_KEY is missing or not 32 bytes. */
export class SecretsUnavailable extends Error {}

const file = (env = process.env) => env.PROVIDER_SECRETS_FILE || 'provider-secrets.json';

function secretsKey(env = process.env): Buffer {
  const key = Buffer.from(env.PROVIDER_SECRETS_KEY ?? '', 'base64');
  if (key.length !== 32) {
    throw new SecretsUnavailable(
      'set PROVIDER_SECRETS_KEY to 32 random bytes in base64 (openssl rand -base64 32): it encrypts the users’ RunPod keys',
    );
  }
  return key;
}

const aad = (user: string) => Buffer.from(`provider_secrets:runpod:${user}`);

function seal(user: string, plain: string): SealedKey {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', secretsKey(), iv).setAAD(aad(user));
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  const savedAt = Math.floor(Date.now() / 1000);
  return {
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
    savedAt,
  };
}

function open(user: string, row: SealedKey): string {
  const decipher = createDecipheriv('aes-256-gcm', secretsKey(), Buffer.from(row.iv, 'base64'))
    .setAAD(aad(user))
    .setAuthTag(Buffer.from(row.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(row.data, 'base64')), decipher.final()]).toString('utf8');
}

async function read(): Promise<Table> {
  try {
    return JSON.parse(await readFile(file(), 'utf8')) as Table;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return { provider_secrets: {} };
    throw err;
  }
}

// One write at a time in this process; each replaces the file whole (write, then rename).
let writes: Promise<unknown> = Promise.resolve();
function update(change: (table: Table) => void): Promise<void> {
  const next = writes.then(async () => {
    const table = await read();
    change(table);
    const tmp = `${file()}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(table, null, 2), { mode: 0o600 });
    await rename(tmp, file());
  });
  writes = next.catch(() => {});
  return next;
}

/** The user's sealed key row, without opening it: whether (and since when) one is saved. */
export async function savedRunpodKey(user: string): Promise<{ savedAt: number } | null> {
  const row = (await read()).provider_secrets[user]?.runpod;
  return row ? { savedAt: row.savedAt } : null;
}

/** The user's RunPod key, opened; null when they saved none. */
export async function runpodKeyOf(user: string): Promise<string | null> {
  const row = (await read()).provider_secrets[user]?.runpod;
  return row ? open(user, row) : null;
}

export async function saveRunpodKey(user: string, key: string): Promise<number> {
  const row = seal(user, key);
  await update((table) => {
    table.provider_secrets[user] = { ...table.provider_secrets[user], runpod: row };
  });
  return row.savedAt;
}

export async function deleteRunpodKey(user: string): Promise<void> {
  await update((table) => {
    delete table.provider_secrets[user]?.runpod;
  });
}

/** Whether this app has a RunPod key of its own for users who saved none (or the local provider). */
export function sharedKey(env = process.env): boolean {
  return Boolean(env.RUNPOD_API_KEY || env.TRAINPOD_LOCAL_PROVIDER);
}

/**
 * The RunPod account `user`'s new jobs run on: their own (the account id is the user id) once they
 * saved a key in Settings, else this app's shared key (`undefined`), else none (`null`).
 */
export async function jobAccount(user: string): Promise<string | undefined | null> {
  if (await savedRunpodKey(user)) return user;
  return sharedKey() ? undefined : null;
}

/** The answer when a user has no key and the app none to lend: add yours in Settings. */
export function noRunpodKey(): Response {
  return Response.json(
    {
      code: 'RUNPOD_KEY_MISSING',
      message: 'add your RunPod API key in Settings (/settings) first: your jobs run on your own RunPod account',
    },
    { status: 400 },
  );
}
