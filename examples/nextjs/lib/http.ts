// What every route answers when trainpod refuses: the status its code maps to and `{code, message}`.
import { createHash, timingSafeEqual } from 'node:crypto';
import { httpStatus, TrainpodError } from 'trainpod';

/** One line per answer to a pod (who downloaded what, which batch was refused), for the operator. */
export function logPod(req: Request, res: Response): Response {
  console.info(`trainpod: ${req.method} ${new URL(req.url).pathname} ${res.status}`);
  return res;
}

export function refused(err: unknown): Response {
  if (!(err instanceof TrainpodError)) throw err; // a bug: Next.js logs it and answers 500
  const headers: Record<string, string> = {};
  if (err.retryAfter != null) headers['retry-after'] = String(Math.ceil(err.retryAfter));
  return Response.json({ code: err.code, message: err.message }, { status: httpStatus(err.code), headers });
}

/** A JSON answer trainpod already serialized (`ingestMetrics`, `artifactManifest`). */
export function json(body: string, status: number): Response {
  return new Response(body, { status, headers: { 'content-type': 'application/json' } });
}

/**
 * The request body as bytes, for the calls that take the pod's JSON as it was sent. Reading stops
 * one byte past `max` (trainpod's own cap on a metrics batch or a manifest, which it then refuses):
 * an unauthenticated sender cannot make the route buffer more.
 */
export async function bytes(req: Request, max = 256 * 1024): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body ?? []) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > max) break; // cancels the rest of the body
  }
  return Buffer.concat(chunks);
}

/** The request's JSON object, or null. */
export async function object(req: Request): Promise<Record<string, unknown> | null> {
  try {
    const value: unknown = await req.json();
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

export function invalid(message: string): Response {
  return Response.json({ code: 'INVALID_INPUT', message }, { status: 400 });
}

/**
 * Whether the request carries `Authorization: Bearer <CRON_SECRET>` (what Vercel Cron sends).
 * Digests are compared, in constant time; with no secret configured nothing is accepted.
 */
export function cronAuthorized(req: Request, secret = process.env.CRON_SECRET): boolean {
  const given = req.headers.get('authorization');
  if (!secret || !given) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(`Bearer ${secret}`));
}
