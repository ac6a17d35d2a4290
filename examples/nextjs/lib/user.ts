// Who is asking. This example has one user; a real app returns its session's user id here (for
// instance Supabase's `auth.getUser()`), refuses anonymous requests with 401, and checks that a
// job belongs to that user before showing, cancelling or retrying it.
export function currentUser(_req: Request): string {
  return process.env.TRAINPOD_DEMO_USER ?? 'demo-user';
}
