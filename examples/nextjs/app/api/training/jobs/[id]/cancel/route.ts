// POST /api/training/jobs/:id/cancel: the pod is terminated; cancelling twice is harmless.
import { refused } from '@/lib/http';
import { trainpod } from '@/lib/trainpod';

export async function POST(_req: Request, ctx: RouteContext<'/api/training/jobs/[id]/cancel'>) {
  const { id } = await ctx.params;
  try {
    return Response.json(await (await trainpod()).cancel(id));
  } catch (err) {
    return refused(err);
  }
}
