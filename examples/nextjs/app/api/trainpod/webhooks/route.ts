// POST /api/trainpod/webhooks (trainpod-facing): a job event as a Standard Webhook. The raw body
// is verified with the reference `standardwebhooks` package under TRAINPOD_WEBHOOK_SECRET (each
// `v1` signature, compared in constant time; a `webhook-timestamp` over 5 minutes from this
// clock is refused), then kept once per `webhook-id` (lib/webhooks.ts) and answered at once:
// 200 for a new event and for one received before (delivery is at least once), 400 without the
// three headers, 401 for a signature or timestamp that does not verify. trainpod tries again
// anything but a 2xx (or 410), so the work an event starts belongs after the answer, keyed on its id.
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { bytes } from '@/lib/http';
import { recordEvent, webhookSecrets } from '@/lib/webhooks';

const HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

function refuse(status: number, code: string, message: string): Response {
  console.info(`trainpod webhook: refused ${status} ${code}`);
  return Response.json({ code, message }, { status });
}

/** The event the body holds, when one of the secrets verifies it; else why not. */
function verify(secrets: string[], body: string, headers: Record<string, string>): unknown {
  let why: unknown;
  for (const secret of secrets) {
    try {
      return new Webhook(secret).verify(body, headers);
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      why = err;
    }
  }
  throw why;
}

export async function POST(req: Request) {
  const secrets = webhookSecrets();
  if (secrets.length === 0) {
    return refuse(401, 'WEBHOOK_UNVERIFIED', 'webhooks are off here: TRAINPOD_WEBHOOK_SECRET is not set');
  }
  const headers = Object.fromEntries(req.headers);
  if (HEADERS.some((h) => !headers[h])) {
    return refuse(400, 'WEBHOOK_MALFORMED', `send ${HEADERS.join(', ')}`);
  }
  // The body as it was signed, never parsed and serialized again. Reading stops past 256 KiB (an
  // event is a few hundred bytes), which fails the signature: no sender makes this route buffer more.
  const body = new TextDecoder().decode(await bytes(req));
  let event: unknown;
  try {
    event = verify(secrets, body, headers);
  } catch (err) {
    if (err instanceof SyntaxError) return refuse(400, 'WEBHOOK_MALFORMED', 'the body is not JSON');
    if (!(err instanceof WebhookVerificationError)) throw err;
    return refuse(401, 'WEBHOOK_UNVERIFIED', err.message);
  }
  const { type, timestamp, data } = (event ?? {}) as { type?: unknown; timestamp?: unknown; data?: unknown };
  if (typeof type !== 'string' || typeof timestamp !== 'string' || data === null || typeof data !== 'object') {
    return refuse(400, 'WEBHOOK_MALFORMED', 'the body is not a trainpod event');
  }
  // A type this app does not know (a later trainpod's) is kept like the others, and ignored.
  const id = headers['webhook-id'];
  const fresh = await recordEvent({ id, type, timestamp, data: data as Record<string, unknown> });
  console.info(`trainpod webhook: ${type} ${String((data as { job_id?: unknown }).job_id)} ${fresh ? 'new' : 'again'}`);
  return Response.json({ id, duplicate: !fresh });
}
