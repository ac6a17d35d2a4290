// GET /api/training/jobs/:id: the job's status (phase, progress, loss, cost so far), for its user.
import { ownJob } from '@/lib/user';

export async function GET(req: Request, ctx: RouteContext<'/api/training/jobs/[id]'>) {
  const job = await ownJob(req, (await ctx.params).id);
  return job instanceof Response ? job : Response.json(job.status);
}
