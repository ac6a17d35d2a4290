// GET /api/training/jobs/:id/webhooks: the job's events this app received as webhooks
// (`job.deployed`, `job.training_started`, `job.succeeded`, ...), each once, in the order they
// happened, for its user. They arrive when the cron route runs (reconcile delivers them).
import { ownJob } from '@/lib/user';
import { jobEvents } from '@/lib/webhooks';

export async function GET(req: Request, ctx: RouteContext<'/api/training/jobs/[id]/webhooks'>) {
  const { id } = await ctx.params;
  const job = await ownJob(req, id);
  return job instanceof Response ? job : Response.json(await jobEvents(id));
}
