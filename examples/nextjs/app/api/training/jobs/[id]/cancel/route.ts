// POST /api/training/jobs/:id/cancel: the pod is terminated; cancelling twice is harmless.
import { refused } from '@/lib/http';
import { ownJob } from '@/lib/user';

export async function POST(req: Request, ctx: RouteContext<'/api/training/jobs/[id]/cancel'>) {
  const { id } = await ctx.params;
  const job = await ownJob(req, id);
  if (job instanceof Response) return job;
  try {
    return Response.json(await job.tp.cancel(id));
  } catch (err) {
    return refused(err);
  }
}
