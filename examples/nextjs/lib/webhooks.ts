// The job events trainpod sends this app as signed Standard Webhooks (docs/webhooks.md): the
// secret they are signed with, and the events received, kept once each.
//
//   TRAINPOD_WEBHOOK_SECRET  `whsec_...` (`generateWebhookSecret()`); two separated by a space
//                            while rotating, the new one first. Unset: no webhooks are sent, and
//                            the route refuses every call.
//   WEBHOOK_EVENTS_FILE      the table of received events (default `webhook-events.json`)
//
// Delivery is at least once: the same event may arrive again (an answer lost, a retry), always
// with the same `webhook-id`, so the table is keyed on it and a second copy changes nothing. This
// example keeps the table in a JSON file; an app with a database keeps it there, with a unique key
// on the id (an insert that conflicts is the duplicate).
import { readFile, rename, writeFile } from 'node:fs/promises';

/** The receiver route, under TRAINPOD_APP_URL (where trainpod sends the webhooks). */
export const WEBHOOK_ROUTE = '/api/trainpod/webhooks';

/** The secrets deliveries are signed with, the newest first; none when webhooks are off. */
export function webhookSecrets(env = process.env): string[] {
  return (env.TRAINPOD_WEBHOOK_SECRET ?? '').split(/[\s,]+/).filter(Boolean);
}

/** One event as received: its `webhook-id`, and the payload's fields (`data` as sent, snake_case). */
export interface ReceivedEvent {
  id: string;
  type: string;
  timestamp: string;
  receivedAt: string;
  data: Record<string, unknown>;
}

interface Table {
  trainpod_webhooks: Record<string, ReceivedEvent & { jobId: string }>;
}

const file = (env = process.env) => env.WEBHOOK_EVENTS_FILE || 'webhook-events.json';

async function read(): Promise<Table> {
  try {
    return JSON.parse(await readFile(file(), 'utf8')) as Table;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return { trainpod_webhooks: {} };
    throw err;
  }
}

// One write at a time in this process (deliveries of one pass arrive at once); each replaces the
// file whole (write, then rename).
let writes: Promise<unknown> = Promise.resolve();
function update<T>(change: (table: Table) => T): Promise<T> {
  const next = writes.then(async () => {
    const table = await read();
    const out = change(table);
    const tmp = `${file()}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(table), { mode: 0o600 });
    await rename(tmp, file());
    return out;
  });
  writes = next.catch(() => {});
  return next;
}

/** Keeps a verified event under its `webhook-id`; false when that id was already received. */
export function recordEvent(event: Omit<ReceivedEvent, 'receivedAt'>): Promise<boolean> {
  const jobId = typeof event.data.job_id === 'string' ? event.data.job_id : '';
  return update((table) => {
    if (table.trainpod_webhooks[event.id]) return false;
    table.trainpod_webhooks[event.id] = { ...event, jobId, receivedAt: new Date().toISOString() };
    return true;
  });
}

// Deliveries of one pass arrive in any order, and events of the same second share a timestamp:
// within a second, an attempt's deployment comes first and its end last.
const attempt = (e: ReceivedEvent) => (typeof e.data.attempt === 'number' ? e.data.attempt : 0);
const rank = (e: ReceivedEvent) => (e.type === 'job.deployed' ? 0 : e.type === 'job.training_started' ? 1 : 2);

/** The events received for a job, in the order they happened. */
export async function jobEvents(jobId: string): Promise<ReceivedEvent[]> {
  return Object.values((await read()).trainpod_webhooks)
    .filter((e) => e.jobId === jobId)
    .map(({ jobId: _, ...event }) => event)
    .sort((a, b) => attempt(a) - attempt(b) || a.timestamp.localeCompare(b.timestamp) || rank(a) - rank(b));
}
