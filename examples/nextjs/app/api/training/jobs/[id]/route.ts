// GET /api/training/jobs/:id: the job's status (phase, progress, loss, cost so far).
import { refused } from '@/lib/http';
import { trainpod } from '@/lib/trainpod';

export async function GET(_req: Request, ctx: RouteContext<'/api/training/jobs/[id]'>) {
  const { id } = await ctx.params;
  try {
    return Response.json(await (await trainpod()).status(id));
  } catch (err) {
    return refused(err);
  }
}
