// POST /api/session: the demo's sign-in, as the one user TRAINPOD_DEMO_USER (default
// `demo-user`). A real app signs users in with its own auth and deletes this route.
import { sessionCookie } from '@/lib/user';

export function POST() {
  const user = process.env.TRAINPOD_DEMO_USER ?? 'demo-user';
  return Response.json({ user }, { headers: { 'set-cookie': sessionCookie(user) } });
}
