// POST /api/training/jobs/:id/retry: a new attempt of an ended job, with fresh tokens.
import { refused } from '@/lib/http';
import { trainpod } from '@/lib/trainpod';

export async function POST(_req: Request, ctx: RouteContext<'/api/training/jobs/[id]/retry'>) {
  const { id } = await ctx.params;
  try {
    return Response.json(await (await trainpod()).retry(id));
  } catch (err) {
    return refused(err);
  }
}
