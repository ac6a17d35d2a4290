// GET or POST /api/cron/reconcile, for a scheduler (Vercel Cron sends GET with
// `Authorization: Bearer $CRON_SECRET`; vercel.json runs it every minute): terminates every
// trainpod pod nobody should pay for (stale heartbeat, past its deadline, over budget, stopped,
// never started, or orphaned), ends every job whose pod RunPod no longer has, and answers what
// it did. An action that failed carries its error; the next run tries it again.
import { cronAuthorized, refused } from '@/lib/http';
import { trainpod } from '@/lib/trainpod';

async function reconcile(req: Request) {
  if (!cronAuthorized(req)) {
    return Response.json(
      { code: 'CRON_UNAUTHORIZED', message: 'send Authorization: Bearer <CRON_SECRET>' },
      { status: 401 },
    );
  }
  try {
    return Response.json({ actions: await (await trainpod()).reconcile() });
  } catch (err) {
    return refused(err);
  }
}

export const GET = reconcile;
export const POST = reconcile;
