// POST /api/training/jobs/:id/retry: a new attempt of an ended job, with fresh tokens.
import { refused } from '@/lib/http';
import { ownJob } from '@/lib/user';

export async function POST(req: Request, ctx: RouteContext<'/api/training/jobs/[id]/retry'>) {
  const { id } = await ctx.params;
  const job = await ownJob(req, id);
  if (job instanceof Response) return job;
  try {
    return Response.json(await job.tp.retry(id));
  } catch (err) {
    return refused(err);
  }
}
