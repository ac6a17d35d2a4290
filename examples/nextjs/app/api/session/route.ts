// POST /api/session: the demo's sign-in. A valid session is kept (and renewed); without one, the
// request is signed in as the one user TRAINPOD_DEMO_USER (default `demo-user`). A real app signs
// users in with its own auth and deletes this route.
import { currentUser, sessionCookie } from '@/lib/user';

export function POST(req: Request) {
  const user = currentUser(req) ?? process.env.TRAINPOD_DEMO_USER ?? 'demo-user';
  return Response.json({ user }, { headers: { 'set-cookie': sessionCookie(user) } });
}
