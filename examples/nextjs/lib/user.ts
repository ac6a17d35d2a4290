// Who is asking: the user of the request's signed session cookie, or nobody. This example signs
// its own demo sessions (`POST /api/session`); a real app asks its auth here instead (for
// instance Supabase's `auth.getUser()`), with the same answers: 401 for no or a forged session,
// and a job that belongs to someone else is as unknown as a job that does not exist.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { JobStatus, Trainpod } from 'trainpod';
import { refused } from './http';
import { trainpod } from './trainpod';

const COOKIE = 'trainpod_session';
const DAY = 24 * 3600;

function tag(user: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(`session:${user}`).digest();
}

/** The `Set-Cookie` value that signs `user` in for a day (SESSION_SECRET signs it). */
export function sessionCookie(user: string, secret = process.env.SESSION_SECRET): string {
  if (!secret) throw new Error('set SESSION_SECRET: it signs the users’ session cookies');
  const value = `${encodeURIComponent(user)}.${tag(user, secret).toString('base64url')}`;
  return `${COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${DAY}`;
}

/** The signed-in user, or null: no cookie, a forged one, or no SESSION_SECRET configured. */
export function currentUser(req: Request, secret = process.env.SESSION_SECRET): string | null {
  const cookie = req.headers
    .get('cookie')
    ?.split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${COOKIE}=`));
  if (!secret || !cookie) return null;
  const value = cookie.slice(COOKIE.length + 1);
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return null;
  let user: string;
  try {
    user = decodeURIComponent(value.slice(0, dot));
  } catch {
    return null;
  }
  const given = Buffer.from(value.slice(dot + 1), 'base64url');
  const expected = tag(user, secret);
  return given.length === expected.length && timingSafeEqual(given, expected) ? user : null;
}

/** The answer to a request without a valid session. */
export function unauthenticated(): Response {
  return Response.json({ code: 'SESSION_INVALID', message: 'sign in first (POST /api/session)' }, { status: 401 });
}

/** The answer for a job that is not this user's: the same as for a job that does not exist. */
export function notYours(jobId: string): Response {
  return Response.json({ code: 'NOT_FOUND', message: `no job ${jobId}` }, { status: 404 });
}

/** Whether `status` is `user`'s job. */
export function owns(user: string, status: JobStatus): boolean {
  return status.user === user;
}

/**
 * The signed-in user's job `id` (its status, and the SDK to act on it), or the answer to give
 * instead: 401 without a valid session, 404 for an unknown job or another user's.
 */
export async function ownJob(req: Request, id: string): Promise<{ tp: Trainpod; status: JobStatus } | Response> {
  const user = currentUser(req);
  if (!user) return unauthenticated();
  try {
    const tp = await trainpod();
    const status = await tp.status(id);
    return owns(user, status) ? { tp, status } : notYours(id);
  } catch (err) {
    return refused(err);
  }
}
