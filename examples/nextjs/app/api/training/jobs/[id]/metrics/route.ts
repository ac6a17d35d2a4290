// POST /api/training/jobs/:id/metrics (pod-facing): a numbered batch of the pod's events,
// checked against the job's metrics token, taken once and folded into the job. A final status
// terminates the pod within the call.
import { bytes, json, logPod, refused } from '@/lib/http';
import { trainpod } from '@/lib/trainpod';

export async function POST(req: Request, ctx: RouteContext<'/api/training/jobs/[id]/metrics'>) {
  const { id } = await ctx.params;
  try {
    const out = await (await trainpod()).ingestMetrics(id, req.headers.get('authorization'), await bytes(req));
    return logPod(req, json(out.body, out.status));
  } catch (err) {
    return logPod(req, refused(err));
  }
}
