// GET /api/training/jobs/:id/follow: the job's status changes and the pod's events as
// server-sent events (`data: {"kind": "status" | "event", ...}`), then `event: end`.
import { ownJob } from '@/lib/user';

export async function GET(req: Request, ctx: RouteContext<'/api/training/jobs/[id]/follow'>) {
  const { id } = await ctx.params;
  const job = await ownJob(req, id); // an unknown job is a 404, not an empty stream
  if (job instanceof Response) return job;
  const follow = job.tp.follow(id);
  const text = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const update = await follow.next();
      if (update === null) {
        controller.enqueue(text.encode('event: end\ndata: {}\n\n'));
        controller.close();
      } else {
        controller.enqueue(text.encode(`data: ${JSON.stringify(update)}\n\n`));
      }
    },
    cancel() {
      follow.close(); // the page went away
    },
  });
  return new Response(body, {
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform' },
  });
}
