// POST /api/training/jobs/:id/artifacts (pod-facing): the pod's artifact manifest, answered with
// the uploads still needed, then `{"complete": true}` once every file is stored (docs/pod-protocol.md).
// GET lists the stored artifacts of the job's current attempt (for the page, its user's session).
import { bytes, json, logPod, refused } from '@/lib/http';
import { trainpod } from '@/lib/trainpod';
import { ownJob } from '@/lib/user';

type Ctx = RouteContext<'/api/training/jobs/[id]/artifacts'>;

export async function POST(req: Request, ctx: Ctx) {
  const { id } = await ctx.params;
  try {
    const answer = await (await trainpod()).artifactManifest(id, req.headers.get('authorization'), await bytes(req));
    return logPod(req, json(answer.body, answer.status));
  } catch (err) {
    return logPod(req, refused(err));
  }
}

export async function GET(req: Request, ctx: Ctx) {
  const { id } = await ctx.params;
  const job = await ownJob(req, id);
  if (job instanceof Response) return job;
  try {
    return Response.json(await job.tp.artifacts(id));
  } catch (err) {
    return refused(err);
  }
}
